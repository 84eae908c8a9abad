"""Backtest plumbing (origins, folds, seeds, scoring tables) and no look-ahead with a real fit."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import ROOT

from clashcast_testing.simulate import Truth, simulate_panel
from model.backtesting import backtest as bt
from model.config import read_params

FEATURES = ("clash_decay_hl1", "clash_decay_hl4", "since_clash")


def test_origins_run_from_start_to_the_last_with_outcomes_after_them():
    periods = pd.date_range("2020-01-06", periods=10, freq="W-MON")
    # last usable origin: index 10 - 1 - H(2) = 7; from index 3, every second: 3, 5, 7
    got = bt.backtest_origins(periods, periods[3], stride=2, horizon=2)
    assert got == [periods[3], periods[5], periods[7]]
    assert bt.backtest_origins(periods, periods[3], 1, 2, end=periods[5]) == list(periods[3:6])
    with pytest.raises(ValueError, match="no origin"):
        bt.backtest_origins(periods, periods[8], stride=1, horizon=2)


def test_default_start_leaves_burn_in_and_a_year_of_training():
    periods = pd.date_range("2010-01-04", periods=300, freq="W-MON")
    assert bt.default_start(periods, burn_in=104, horizon=4, periods_per_year=52) == periods[156]
    months = pd.date_range("2010-01-01", periods=80, freq="MS")
    assert bt.default_start(months, burn_in=24, horizon=3, periods_per_year=12) == months[24 + 39]
    with pytest.raises(ValueError, match="too few"):
        bt.default_start(periods[:120], burn_in=104, horizon=4, periods_per_year=52)


def test_windows_split_at_test_start_or_keep_the_last_third_for_test():
    origins = list(pd.date_range("2015-01-05", periods=9, freq="W-MON"))
    w = bt.split_windows(origins, origins[4])
    assert w["dev"] == origins[:4] and w["test"] == origins[4:]
    default = bt.split_windows(origins, None)
    assert default["test"] == origins[-3:] and default["dev"] == origins[:-3]
    assert bt.split_windows(origins, "2030-01-01") == {"dev": origins}  # a dev-only run
    with pytest.raises(ValueError, match="dev window"):
        bt.split_windows(origins, "2000-01-01")


def test_folds_group_origins_and_fit_at_the_first():
    origins = list(pd.date_range("2020-01-06", periods=5, freq="W-MON"))
    folds = bt.make_folds(origins[::-1], refit_every=2, seed=11)
    assert [f.cutoff for f in folds] == [origins[0], origins[2], origins[4]]
    assert [len(f.origins) for f in folds] == [2, 2, 1]
    assert all(f.origins[0] == f.cutoff for f in folds)
    # a fold's seed depends on the run's seed and its cutoff only
    again = bt.make_folds(origins[2:], refit_every=3, seed=11)
    assert again[0].seed == folds[1].seed
    assert len({f.seed for f in folds}) == 3
    assert bt.make_folds(origins, 2, seed=12)[0].seed != folds[0].seed


def test_outcomes_after_origin():
    panel = simulate_panel(1, 2, 12, list(FEATURES), seed=3)
    origin = panel["period"].values[5]
    y = bt.outcomes_after(panel, origin, 3)
    np.testing.assert_array_equal(y.values, panel["clash_any"].values[:, 6:9])
    assert list(y["target_period"].values) == list(panel["period"].values[6:9])


def poison_after(panel: xr.Dataset, origin: pd.Timestamp) -> xr.Dataset:
    """Garbage in every variable after ``origin``: outcomes flipped, everything else inflated."""
    out = panel.copy(deep=True)
    later = out["period"] > np.datetime64(origin)
    for name, var in out.data_vars.items():
        if "period" not in var.dims:
            continue
        if name == "clash_any":
            out[name] = xr.where(later, 1 - var, var).astype(var.dtype)
        else:
            out[name] = xr.where(later, var * 10 + 7, var).astype(var.dtype)
    return out


def test_no_look_ahead_real_fit_poisoned_future_changes_nothing():
    """Everything after an origin turned to garbage changes neither the fit nor the forecasts.

    The fit's whole input (the design) is shown identical field by field, so one real NUTS fit
    serves both panels; the forecasts from that posterior and the baselines are then computed
    from the clean and the poisoned panel and compared.
    """
    params = read_params(ROOT / "params.yaml")
    panel = simulate_panel(2, 2, 30, list(FEATURES), Truth(beta={"clash_decay_hl1": 1.0}), seed=4)
    periods = panel["period"].values
    fold = bt.make_folds([periods[22], periods[24]], refit_every=2, seed=5)[0]
    panel["level"] = panel["clash_decay_hl4"] - 2.0
    model = params.model.model_copy(
        update={"features": list(FEATURES), "horizon": 2, "burn_in": 4, "offset": "level",
                "region_effects": True, "country_varying": [], "parameterisation": "auto"}
    )  # fmt: skip
    budget = {"draws": 40, "tune": 40, "chains": 1}
    config = bt.FoldConfig(model=model, fit=params.fit.model_copy(update=budget))
    poisoned = poison_after(panel, fold.cutoff)
    assert not poisoned["clash_any"].equals(panel["clash_any"])

    clean_design = bt.fold_design(panel, fold, config)
    dirty_design = bt.fold_design(poisoned, fold, config)
    for name, value in vars(clean_design).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(vars(dirty_design)[name]))
    assert clean_design.cutoff == fold.cutoff

    idata = bt.fit_fold_model(panel, fold, config)
    clean, clean_w = bt.forecast_fold(idata, panel, fold, config)
    dirty, dirty_w = bt.forecast_fold(idata, poisoned, fold, config)
    at_cutoff = clean["origin"] == fold.cutoff
    cols = ["region", "horizon", *bt.FORECASTERS]
    pd.testing.assert_frame_equal(clean.loc[at_cutoff, cols], dirty.loc[at_cutoff, cols])
    w_cut = clean_w["origin"] == fold.cutoff
    w_cols = ["region", *bt.WITHIN_FORECASTERS]
    pd.testing.assert_frame_equal(clean_w.loc[w_cut, w_cols], dirty_w.loc[w_cut, w_cols])
    # the leak detector works: the second origin's features lie after the poison line
    later = ~at_cutoff
    assert not np.allclose(clean.loc[later, "model"], dirty.loc[later, "model"])
    assert not np.allclose(clean_w.loc[~w_cut, "model"], dirty_w.loc[~w_cut, "model"])
    assert clean[list(bt.FORECASTERS)].apply(lambda c: c.between(0, 1)).all().all()
    # within H: the observed event is "any clash in the H steps", and never below a step
    steps = clean.groupby(["origin", "region"])["y"].max().reset_index()
    merged = clean_w.merge(steps, on=["origin", "region"], suffixes=("", "_steps"))
    np.testing.assert_array_equal(merged["y"], merged["y_steps"])
    top = clean.groupby(["origin", "region"])["model"].max().reset_index()
    merged = clean_w.merge(top, on=["origin", "region"], suffixes=("", "_step"))
    assert (merged["model"] >= merged["model_step"] - 1e-12).all()


@pytest.mark.slow
def test_a_comparison_fold_scores_the_model_with_and_without_its_proximity_block():
    """The shipped model does without the block: a comparison fold fits both variants with the
    fold's seed and budget, so its "without" column is the model's own forecast at that fold."""
    from model.backtesting.evaluation import proximity_worth

    params = read_params(ROOT / "params.yaml")
    feats = [*FEATURES, "prox_a__b_near"]
    panel = simulate_panel(1, 3, 30, feats, Truth(beta={"prox_a__b_near": 1.5}), seed=6)
    panel["level"] = panel["clash_decay_hl4"] - 2.0
    model = params.model.model_copy(
        update={"features": list(FEATURES), "horizon": 2, "burn_in": 4, "offset": "level",
                "proximity_block": ["prox_a__b_near"], "country_varying": []}
    )  # fmt: skip
    budget = {"draws": 40, "tune": 40, "chains": 1}
    config = bt.FoldConfig(model, params.fit.model_copy(update=budget), proximity_worth=True)
    with_block, without = config.proximity_variants()
    assert (with_block.features, without.features) == (feats, list(FEATURES))
    periods = panel["period"].values
    fold = bt.make_folds([periods[22], periods[24]], refit_every=2, seed=5)[0]
    rows = bt.run_fold(panel, fold, config).predictions
    both = bt.run_comparison_fold(panel, fold, config).predictions
    assert list(both.columns) == list(bt.COMPARISON_COLUMNS) and len(both) == len(rows)
    rows = rows.merge(both, on=["origin", "region", "horizon"])
    np.testing.assert_array_equal(rows["without_proximity"], rows["model"])
    assert not np.allclose(rows["with_proximity"], rows["model"])
    rows["climatology"] = rows["climatology"].clip(0.01, 0.99)
    worth = proximity_worth(rows, block=1, n_boot=20, seed=0)
    b = worth["brier_skill_diff"]
    assert b["ci_low"] <= b["mean"] <= b["ci_high"] and worth["rows"] == len(rows)
    off = bt.FoldConfig(model, config.fit)  # proximity_worth off: no comparison folds
    assert (
        off.proximity_variants() is None
        and bt.comparison_folds({"dev": [periods[22]]}, off, 0) == []
    )


def test_the_comparison_columns_join_the_step_rows_and_a_failed_fold_leaves_gaps():
    """Comparison rows join the step rows by origin, region and step; the origins of a failed
    comparison fold keep NaN, and the block's worth is scored on the rows that have both."""
    from model.backtesting.evaluation import proximity_worth

    rng = np.random.default_rng(3)
    origins = pd.date_range("2020-01-06", periods=6, freq="W-MON")
    names = ["origin", "region", "horizon"]
    keys = pd.MultiIndex.from_product([origins, ["r1", "r2"], [1, 2]], names=names)
    keys = keys.to_frame(index=False)
    steps = keys.assign(y=rng.integers(0, 2, len(keys)), climatology=0.4, model=0.5)
    fold = bt.Fold(origins[0], tuple(origins[:3]), 0)
    first = keys[keys["origin"].isin(origins[:3])]
    done = first.assign(with_proximity=0.6, without_proximity=0.45)
    result = bt.FoldResult(fold, done[list(bt.COMPARISON_COLUMNS)], pd.DataFrame(), 1.0)
    joined = bt.with_comparison(steps, [result])
    assert joined[["origin", "region", "horizon"]].equals(steps[["origin", "region", "horizon"]])
    assert joined["with_proximity"].isna().sum() == len(steps) - len(first)
    worth = proximity_worth(joined, block=1, n_boot=20, seed=0)
    assert worth["rows"] == len(first)
    y = joined.dropna(subset=["with_proximity"])["y"].to_numpy()
    assert worth["brier_with"] == pytest.approx(np.mean((0.6 - y) ** 2))


def _rows_of_fold(panel: xr.Dataset, fold: bt.Fold, config: bt.FoldConfig) -> bt.FoldResult:
    """A stand-in fold task: one row per origin, no fit."""
    steps = pd.DataFrame({"origin": list(fold.origins), "region": "r1", "horizon": 1})
    within = pd.DataFrame({"origin": list(fold.origins), "region": "r1"})
    return bt.FoldResult(fold, steps, within, 0.0)


class _RecordingClient:
    """A ``distributed.Client`` that records what is scattered and what each task is given."""

    def __init__(self, client):
        self.client, self.scattered, self.submitted = client, [], []

    def scatter(self, data, **kwargs):
        self.scattered.append((data, kwargs))
        return self.client.scatter(data, **kwargs)

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(args)
        return self.client.submit(fn, *args, **kwargs)


def test_the_panel_is_scattered_once_and_no_task_carries_it():
    """Issue 22: at 100x a task must not copy the panel. It goes to every worker once; each
    task gets a reference to it, and what a task carries besides is small."""
    import pickle

    from distributed import Client, Future, LocalCluster

    params = read_params(ROOT / "params.yaml")
    panel = simulate_panel(1, 3, 30, FEATURES, Truth(beta={"clash_decay_hl1": 1.0}), seed=1)
    shape = (4096, panel.sizes["region"], panel.sizes["period"])  # ~3 MiB, as a big panel
    panel["ballast"] = (("copy", "region", "period"), np.zeros(shape))
    config = bt.FoldConfig(params.model, params.fit)
    folds = bt.make_folds(list(panel["period"].values[20:28]), refit_every=2, seed=0)
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        recording = _RecordingClient(client)
        result = bt.run_backtest(
            panel, folds, config, recording, fold_fn=_rows_of_fold, progress=False
        )
    assert [r.fold for r in result.folds] == folds and len(result.predictions) == 8
    [(scattered, kwargs)] = recording.scattered
    assert scattered is panel and kwargs == {"broadcast": True}
    assert len(recording.submitted) == len(folds)
    for args in recording.submitted:
        assert isinstance(args[0], Future) and args[0].key == recording.submitted[0][0].key
        assert len(pickle.dumps(args[1:])) < 2**16  # the fold and its settings, no panel

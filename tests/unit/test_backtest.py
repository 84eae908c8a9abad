"""Backtest plumbing (origins, folds, seeds, scoring tables) and no look-ahead with a real fit."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import ROOT

from model import backtest as bt
from model.config import read_params
from model.simulate import Truth, simulate_panel

FEATURES = ("clash_decay_hl1", "clash_decay_hl4", "since_clash")


def test_origins_are_the_last_ones_with_outcomes_after_them():
    periods = pd.date_range("2020-01-06", periods=10, freq="W-MON")
    # last usable origin: index 10 - 1 - H(2) = 7; three origins two apart: 3, 5, 7
    got = bt.backtest_origins(periods, n_origins=3, stride=2, horizon=2)
    assert got == [periods[3], periods[5], periods[7]]
    with pytest.raises(ValueError, match="too few"):
        bt.backtest_origins(periods, n_origins=5, stride=2, horizon=2)


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


def fake_predictions(n_origins: int = 8, n_regions: int = 5, horizon: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    origins = pd.date_range("2020-01-06", periods=n_origins, freq="W-MON")
    idx = pd.MultiIndex.from_product(
        [origins, [f"R{i}" for i in range(n_regions)], range(1, horizon + 1)],
        names=["origin", "region", "horizon"],
    )
    df = idx.to_frame(index=False)
    truth = rng.uniform(0.02, 0.6, len(df))
    df["y"] = (rng.random(len(df)) < truth).astype(np.int8)
    df["model"] = np.clip(truth + rng.normal(0, 0.05, len(df)), 0.01, 0.99)
    for name in bt.BASELINES:
        df[name] = rng.uniform(0.05, 0.5, len(df))
    df["global_rate"] = 0.3  # constant forecasts: AUC is 0.5, per-horizon AUC-PR the prevalence
    return df


def test_summarise_backtest_shape_and_reproducibility(tmp_path):
    from model import io

    pred = fake_predictions()
    out = bt.summarise_backtest(pred, bins=5, n_boot=200, block=2, seed=1)
    assert out["rows"] == 80 and out["horizons"] == 2 and out["origins"] == 8
    assert out["origin_dates"][0] == "2020-01-06" and len(out["origin_dates"]) == 8
    assert out["prevalence"] == pytest.approx(pred["y"].mean())
    for name in bt.FORECASTERS:
        assert set(out[name]) >= {"brier", "log_score", "auc_roc", "auc_pr", "ece"}
    assert out["global_rate"]["auc_roc"] == pytest.approx(0.5)
    for base in bt.BASELINES:
        for score in ("brier", "log_score"):
            s = out["skill"][base][score]
            assert s["ci_low"] <= s["mean"] <= s["ci_high"]
    assert set(out["per_horizon"]) == {"1", "2"}
    io.write_json(tmp_path / "a.json", out)
    io.write_json(
        tmp_path / "b.json", bt.summarise_backtest(pred, bins=5, n_boot=200, block=2, seed=1)
    )
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    json.loads((tmp_path / "a.json").read_text())


def test_nan_metrics_become_null():
    pred = fake_predictions()
    pred["y"] = np.int8(0)  # one class: AUCs undefined
    out = bt.summarise_backtest(pred, bins=5, n_boot=50, block=2)
    assert out["model"]["auc_roc"] is None and out["model"]["auc_pr"] is None


def test_plot_tables():
    pred = fake_predictions()
    rel = bt.reliability_table(pred, bins=5)
    assert list(rel.columns) == ["bin", "forecast_mean", "observed_rate", "count"]
    assert rel["count"].sum() == len(pred) and (rel["count"] > 0).all()
    scores = bt.scores_by_origin(pred)
    assert list(scores.columns) == [
        "origin", "brier", "log_score", *(f"{b}_brier" for b in bt.BASELINES)
    ]  # fmt: skip
    assert len(scores) == 8 and scores["origin"].iloc[0] == "2020-01-06"


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
    config = bt.FoldConfig(
        features=FEATURES, horizon=2, burn_in=4, priors=dict(params.model.priors),
        draws=40, tune=40, chains=1,
    )  # fmt: skip
    poisoned = poison_after(panel, fold.cutoff)
    assert not poisoned["clash_any"].equals(panel["clash_any"])

    clean_design = bt.fold_design(panel, fold, config)
    dirty_design = bt.fold_design(poisoned, fold, config)
    for name, value in vars(clean_design).items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(vars(dirty_design)[name]))
    assert clean_design.cutoff == fold.cutoff

    idata = bt.fit_fold_model(panel, fold, config)
    clean = bt.forecast_fold(idata, panel, fold, config)
    dirty = bt.forecast_fold(idata, poisoned, fold, config)
    at_cutoff = clean["origin"] == fold.cutoff
    cols = ["region", "horizon", *bt.FORECASTERS]
    pd.testing.assert_frame_equal(clean.loc[at_cutoff, cols], dirty.loc[at_cutoff, cols])
    # the leak detector works: the second origin's features lie after the poison line
    later = ~at_cutoff
    assert not np.allclose(clean.loc[later, "model"], dirty.loc[later, "model"])
    assert clean[list(bt.FORECASTERS)].apply(lambda c: c.between(0, 1)).all().all()


def test_hindsight_ceiling_by_hand():
    # region a: outcomes 1, 0, 0, 0 -> rate (1 + .5) / (4 + 1) = 0.3; region b: 0, 0 -> 0.5 / 3
    pred = pd.DataFrame(
        {
            "region": ["a", "a", "a", "a", "b", "b"],
            "y": np.array([1, 0, 0, 0, 0, 0], dtype=np.int8),
        }
    )
    out = bt.hindsight_ceiling(pred, {"brier": 0.25, "log_score": np.log(2)})  # p = 0.5
    rate = np.array([0.3] * 4 + [1 / 6] * 2)
    y = pred["y"].to_numpy()
    brier = np.mean((rate - y) ** 2)
    assert out["brier"] == pytest.approx(brier)
    log = -np.mean(y * np.log(rate) + (1 - y) * np.log(1 - rate))
    assert out["log_score"] == pytest.approx(log)
    assert out["brier_skill_vs_climatology"] == pytest.approx(1 - brier / 0.25)
    assert out["log_score_skill_vs_climatology"] == pytest.approx(1 - log / np.log(2))

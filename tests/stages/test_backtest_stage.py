"""The backtest stage end to end on a Dask cluster of two worker processes started here.

One fold is made to fail for a real reason (its cutoff lies inside the burn-in, so it has no
training block); the stage must still score and write the two finished folds, per window, and
fail with a message naming the failed fold's origins.
"""

import json
import os

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from clashcast_testing.simulate import Truth, simulate_panel
from model import paths
from model import timing as run_log
from model.config import BacktestParams, DaskParams, read_params
from model.errors import StageError
from model.stages import backtest as stage

FEATURES = ["clash_decay_hl1", "clash_decay_hl4", "since_clash"]


def _tiny_params(base, periods: pd.DatetimeIndex, model: dict, **backtest):
    """Shipped params on a 40-period simulated panel: H=2, burn-in 32, origins 32..37 (dev
    32-34, test 35-37), a refit every 2 origins, a tiny sampling budget."""
    mp = {"features": FEATURES, "horizon": 2, "burn_in": 32, "offset": None,
          "region_effects": True, "country_varying": []}  # fmt: skip
    bt = BacktestParams(
        start=periods[32].date(), test_start=periods[35].date(), stride=1, refit_every=2,
        draws=40, tune=40, chains=1, bootstrap=100, block_origins=2, calibration_bins=5,
        **backtest,
    )  # fmt: skip
    runtime = base.runtime.model_copy(update={"dask": DaskParams(workers=2)})
    return base.model_copy(update={"model": base.model.model_copy(update=mp | model),
                                   "backtest": bt, "runtime": runtime})  # fmt: skip


def _project(root, panel, monkeypatch, cluster) -> None:
    """The panel written where the stage reads it; the stage pointed at the test's cluster."""
    (root / paths.PANEL).parent.mkdir(parents=True)
    panel.to_netcdf(root / paths.PANEL)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids  # two real worker processes
        yield cluster


def test_backtest_stage_on_two_worker_processes_keeps_finished_folds(
    cluster, tmp_path, monkeypatch
):
    base = read_params(ROOT / "params.yaml")
    panel = simulate_panel(2, 2, 40, FEATURES, Truth(beta={"clash_decay_hl1": 1.0}), seed=2)
    periods = pd.DatetimeIndex(panel["period"].values)
    # 40 periods, H=2: origins are periods 32..37 (dev 32-34, test 35-37); a fold never
    # straddles the two windows, so folds fit at 32 and 34 (dev), 35 and 37 (test). With a
    # burn-in of 32 the first fold has no training block.
    params = _tiny_params(base, periods, {"proximity_block": []})
    _project(tmp_path, panel, monkeypatch, cluster)

    with pytest.raises(StageError) as err:
        stage.run(params, tmp_path)
    msg = str(err.value)
    assert "1 of 4 fold(s) failed" in msg
    assert f"{periods[32].date()}, {periods[33].date()}" in msg
    assert "no training block" in msg

    pred = pd.read_parquet(tmp_path / paths.PREDICTIONS)
    assert sorted(pred["origin"].unique()) == list(periods[34:38])
    assert len(pred) == 4 * 4 * 2  # origins x regions x steps
    assert list(pred.columns) == [
        "origin", "fit_cutoff", "region", "country", "horizon", "target_period", "y",
        "model", "climatology", "ewma", "markov", "logistic", "global_rate",
    ]  # fmt: skip
    assert pred["model"].between(0, 1).all()
    within = pd.read_parquet(tmp_path / paths.WITHIN)
    assert len(within) == 4 * 4  # origins x regions
    assert list(within.columns) == [
        "origin", "fit_cutoff", "region", "country", "window_end", "y",
        "model", "independent", "climatology", "ewma",
    ]  # fmt: skip

    metrics = json.loads((tmp_path / paths.BACKTEST_METRICS).read_text())
    assert metrics["failed_origins"] == [str(periods[32].date()), str(periods[33].date())]
    assert [f["fit_cutoff"] for f in metrics["folds"]] == [
        str(periods[34].date()),
        str(periods[35].date()),
        str(periods[37].date()),
    ]
    assert metrics["horizon"] == 2 and set(metrics["windows"]) == {"dev", "test"}
    dev, test = metrics["windows"]["dev"], metrics["windows"]["test"]
    assert dev["origins"] == 1 and dev["first_origin"] == str(periods[34].date())
    assert test["origins"] == 3 and test["rows"] == 3 * 4 * 2
    assert test["last_origin"] == str(periods[37].date())
    for name in ("model", "climatology", "ewma", "markov", "logistic", "global_rate"):
        assert "brier" in test[name]
    assert set(test["skill"]) == {"climatology", "ewma", "markov", "logistic", "global_rate"}
    assert set(test["within_h"]["skill"]) == {"climatology", "ewma"}
    assert "wall_seconds" not in json.dumps(metrics)

    timing = run_log.read(tmp_path)["backtest"]  # the run log, which DVC does not hash
    assert timing["workers"] == 2 and timing["folds"] == 4
    for path in (paths.RELIABILITY, paths.RELIABILITY_WITHIN):
        rel = pd.read_csv(tmp_path / path)
        assert list(rel.columns) == ["bin", "forecast_mean", "observed_rate", "count"]
    assert rel["count"].sum() == 3 * 4  # the test window's within-H forecasts
    scores = pd.read_csv(tmp_path / paths.BACKTEST_SCORES)
    assert list(scores["origin"]) == [str(p.date()) for p in periods[34:38]]
    assert list(scores["window"]) == ["dev", "test", "test", "test"]
    assert {"within_brier", "within_climatology_brier", "within_ewma_brier"} <= set(scores.columns)
    assert scores[["brier", "within_brier"]].notna().all().all()


def test_missing_panel_is_a_stage_error(tmp_path):
    params = read_params(ROOT / "params.yaml")
    with pytest.raises(StageError, match="no panel"):
        stage.run(params, tmp_path)


def test_scheduler_address_from_params_then_environment(cluster):
    address = cluster.scheduler_address
    with stage.dask_client(DaskParams(address=address), environ={}) as client:
        assert client.scheduler.address == address
    # the environment wins over params (a wrong address in params is never tried)
    spec = DaskParams(address="tcp://127.0.0.1:1")
    with stage.dask_client(spec, environ={"DASK_SCHEDULER_ADDRESS": address}) as client:
        assert client.scheduler.address == address


def test_a_failed_comparison_fold_is_named_and_the_others_still_score_the_block(
    cluster, tmp_path, monkeypatch
):
    """The proximity comparison refits per window (here every 3 origins): the dev window's
    comparison fold has no training block and fails, the test window's is scored."""
    base = read_params(ROOT / "params.yaml")
    feats = [*FEATURES, "prox_a__b_near"]
    panel = simulate_panel(2, 2, 40, feats, Truth(beta={"prox_a__b_near": 1.0}), seed=2)
    periods = pd.DatetimeIndex(panel["period"].values)
    params = _tiny_params(base, periods, {"proximity_block": ["prox_a__b_near"]},
                          proximity_refit_every=3)  # fmt: skip
    _project(tmp_path, panel, monkeypatch, cluster)

    with pytest.raises(StageError) as err:
        stage.run(params, tmp_path)
    assert "1 of 4 fold(s) and 1 of 2 proximity comparison fold(s) failed" in str(err.value)

    pred = pd.read_parquet(tmp_path / paths.PREDICTIONS)
    has_both = pred.dropna(subset=["with_proximity", "without_proximity"])
    assert sorted(has_both["origin"].unique()) == list(periods[35:38])
    assert pred.loc[pred["origin"] == periods[34], "with_proximity"].isna().all()
    metrics = json.loads((tmp_path / paths.BACKTEST_METRICS).read_text())
    assert "proximity" not in metrics["windows"]["dev"]
    worth = metrics["windows"]["test"]["proximity"]
    assert worth["rows"] == 3 * 4 * 2 and worth["refit_every"] == 3
    assert [f["fit_cutoff"] for f in metrics["proximity_folds"]] == [str(periods[35].date())]
    timing = run_log.read(tmp_path)["backtest"]
    assert list(timing["proximity_fold_seconds"]) == [str(periods[35].date())]


@pytest.mark.slow  # the stage three times over (40 s): CI's slow run
def test_a_rerun_with_one_more_week_computes_only_the_new_fold(cluster, tmp_path, monkeypatch):
    """The weekly update: folds whose origins, outcomes, settings and code are unchanged are
    read back from the fold cache, and every output equals a run from an empty cache."""
    base = read_params(ROOT / "params.yaml")
    full = simulate_panel(2, 2, 42, FEATURES, Truth(beta={"clash_decay_hl1": 1.0}), seed=2)
    full.attrs["window_end"] = "2099-01-01"  # provenance: differs between the two weeks
    periods = pd.DatetimeIndex(full["period"].values)
    params = _tiny_params(base, periods, {"proximity_block": [], "burn_in": 28})
    week = full.isel(period=slice(0, 41)).assign_attrs(window_end="2098-01-01")
    weekly, scratch = tmp_path / "weekly", tmp_path / "scratch"
    _project(weekly, week, monkeypatch, cluster)
    stage.run(params, weekly)
    first = run_log.read(weekly)["backtest"]
    assert first["reused"] == [] and first["folds"] == 4  # dev 32, 34; test 35, 37

    full.to_netcdf(weekly / paths.PANEL)  # one more week: origin 39 gets its two outcomes
    stage.run(params, weekly)
    again = run_log.read(weekly)["backtest"]
    assert again["folds"] == 5
    assert again["reused"] == [f"fold-{periods[i].date()}" for i in (32, 34, 35, 37)]

    _project(scratch, full, monkeypatch, cluster)
    no_cache = params.runtime.model_copy(update={"fold_cache": None})
    stage.run(params.model_copy(update={"runtime": no_cache}), scratch)
    assert run_log.read(scratch)["backtest"]["reused"] == []
    assert not (scratch / ".cache").exists()
    outputs = [paths.PREDICTIONS, paths.WITHIN, paths.BACKTEST_METRICS, paths.RELIABILITY,
               paths.RELIABILITY_WITHIN, paths.BACKTEST_SCORES]  # fmt: skip
    for path in outputs:
        assert (weekly / path).read_bytes() == (scratch / path).read_bytes(), path


@pytest.mark.slow  # a second cluster's start-up and two stage runs: CI's slow run
def test_outputs_are_byte_identical_on_an_external_scheduler_and_a_local_cluster(
    cluster, tmp_path, monkeypatch
):
    """Issue 22: the same folds on an external scheduler (the module's cluster of two worker
    processes, named by DASK_SCHEDULER_ADDRESS) and on the stage's own one-worker
    LocalCluster write every output dvc.yaml declares for the stage byte for byte alike."""
    base = read_params(ROOT / "params.yaml")
    panel = simulate_panel(2, 2, 40, FEATURES, Truth(beta={"clash_decay_hl1": 1.0}), seed=2)
    params = _tiny_params(base, pd.DatetimeIndex(panel["period"].values),
                          {"proximity_block": [], "burn_in": 28})  # fmt: skip
    # Two folds (dev 32-34, test 35-37), one per external worker.
    params = params.model_copy(
        update={"backtest": params.backtest.model_copy(update={"refit_every": 3})}
    )
    external, local = tmp_path / "external", tmp_path / "local"
    _project(external, panel, monkeypatch, cluster)
    runtime = params.runtime.model_copy(update={"fold_cache": None})
    stage.run(params.model_copy(update={"runtime": runtime}), external)

    _project(local, panel, monkeypatch, cluster)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    runtime = runtime.model_copy(update={"dask": DaskParams(workers=1)})
    stage.run(params.model_copy(update={"runtime": runtime}), local)

    assert run_log.read(external)["backtest"]["workers"] == 2
    assert run_log.read(local)["backtest"]["workers"] == 1
    outs = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["backtest"]["outs"]
    for out in (o if isinstance(o, str) else next(iter(o)) for o in outs):
        assert (external / out).read_bytes() == (local / out).read_bytes(), out

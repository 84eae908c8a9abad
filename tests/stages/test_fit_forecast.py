"""The fit and forecast stages end to end on a tiny simulated panel, sampling mocked.

Sampling is replaced by ``pymc.testing.mock_sample`` (prior draws shaped as a posterior) with
fabricated sample stats, so these tests exercise the plumbing — the gate, the exit code, the
artefacts — in seconds; ``tests/unit/test_sampling.py`` runs real NUTS.
"""

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
import yaml
from pymc.testing import mock_sample

from clashcast_testing.simulate import simulate_panel
from model import io
from model.cli import main

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["clash_decay_hl1", "since_clash", "prox_us_coalition__armed_group_near"]


def _stats(diverging: float):
    return {
        "diverging": lambda size: np.random.default_rng(0).random(size) < diverging,
        "energy": lambda size: np.random.default_rng(1).normal(size=size).cumsum(axis=1),
    }


@pytest.fixture
def project(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["model"].update(features=FEATURES, burn_in=2, horizon=3, offset=None, region_effects=True)
    raw["diagnostics"]["loo_variants"] = ["no_features", "no_proximity"]
    raw["model"]["proximity_block"] = ["prox_us_coalition__armed_group_near"]
    raw["fit"].update(draws=20, tune=20, chains=2, prior_samples=30)
    raw["runtime"]["progressbar"] = False
    raw["scenarios"] = [
        {
            "name": "close",
            "description": "within 10 km",
            "regions": ["R00_01"],
            "changes": [{"feature": "prox_us_coalition__armed_group_km", "set": 10}],
        },
        {
            "name": "surge",
            "description": "two more clashes",
            "regions": ["R00_02"],
            "changes": [{"feature": "clash", "shift": 2}],
        },
    ]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    panel = simulate_panel(1, 4, 30, FEATURES, seed=3)
    io.write_netcdf(tmp_path / "data/processed/panel.nc", panel)
    return tmp_path, params


def _run(project, stage):
    root, params = project
    return main(["--params", str(params), "--root", str(root), stage])


def test_failed_gate_exits_2_naming_the_checks(project, monkeypatch, capsys):
    monkeypatch.setattr(pm, "sample", partial(mock_sample, sample_stats=_stats(0.2)))
    assert _run(project, "fit") == 2
    err = capsys.readouterr().err
    assert "diagnostics gate failed" in err and "divergences" in err
    root = project[0]
    metrics = io_json(root / "reports/metrics/diagnostics.json")
    assert metrics["gate"] == "fail"
    assert any(c.startswith("divergences ") and c.endswith("> 0") for c in metrics["failed_checks"])
    assert not (root / "data/fitted/idata.nc").exists()


def test_gate_off_writes_everything_and_forecast_follows(project, monkeypatch):
    root, params = project
    raw = yaml.safe_load(params.read_text())
    raw["diagnostics"]["fail_on_gate"] = False
    params.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(pm, "sample", partial(mock_sample, sample_stats=_stats(0.0)))
    assert _run(project, "fit") == 0
    metrics = io_json(root / "reports/metrics/diagnostics.json")
    for key in (
        "r_hat_max",
        "ess_bulk_min",
        "ess_tail_min",
        "divergences",
        "bfmi_min",
        "sampler",
        "gate",
        "failed_checks",
        "thresholds",
        "pareto_k",
        "prior_predictive",
        "loo",
    ):
        assert key in metrics, key
    assert set(metrics["loo"]) >= {"model", "no_features", "no_proximity", "best"}
    worth = metrics["proximity"]  # the model ships with the block: refitted without it
    assert worth["shipped"] == "with" and worth["block"] == ["prox_us_coalition__armed_group_near"]
    assert np.isfinite(worth["loo_diff"]) and worth["loo_se"] >= 0
    assert metrics["divergences"] == 0 and metrics["gate"] == "fail"  # identical mock chains
    assert 0 < metrics["prior_predictive"]["prior_rate_median"] < 1
    figures = {p.name for p in (root / "reports/figures/diagnostics").glob("*.png")}
    assert {
        "rank_hyper.png",
        "trace_hyper.png",
        "energy.png",
        "forest_effects.png",
        "ppc_region_rates.png",
        "prior_predictive.png",
    } <= figures
    idata = xr.open_datatree(root / "data/fitted/idata.nc", engine="h5netcdf")
    assert {"posterior", "sample_stats", "constant_data", "prior", "loo"} <= set(idata.children)
    # PSIS-LOO per block is kept, not the log-likelihood it was computed from (the file's bulk)
    assert "log_likelihood" not in idata.children
    loo = idata["loo"].to_dataset()
    assert (
        loo["elpd_loo"].dims == ("obs_id",) and loo.sizes["obs_id"] == metrics["design"]["blocks"]
    )
    assert float(loo["elpd_loo"].sum()) == pytest.approx(metrics["loo"]["model"]["elpd"])
    # the likelihood's rows: the distinct blocks (merged identical ones), never more than blocks
    rows = metrics["design"]["distinct_blocks"]
    assert 0 < rows <= metrics["design"]["blocks"]
    assert idata["constant_data"].sizes.get("obs_distinct", rows) == rows
    assert loo.attrs["elpd_loo"] == pytest.approx(metrics["loo"]["model"]["elpd"])
    assert idata.attrs["gate"] == "fail" and "params_hash_model" in idata.attrs
    idata.close()

    assert _run(project, "forecast") == 0
    fc = pd.read_csv(root / "reports/forecast.csv")
    assert len(fc) == 4 * 3 and set(fc["horizon"]) == {1, 2, 3}
    assert (fc["p_q05"] <= fc["p_median"]).all() and (fc["p_median"] <= fc["p_q95"]).all()
    sc = pd.read_csv(root / "reports/scenarios.csv")
    assert set(sc["scenario"]) == {"close", "surge"} and len(sc) == 2 * 3
    with xr.open_dataset(root / "data/forecast/forecast.nc", engine="h5netcdf") as ds:
        assert ds["p"].dims == ("region", "horizon", "draw")
        assert ds["p_any_within"].dims == ("region", "horizon", "draw")
        last = ds["p_any_within"].isel(horizon=-1).mean("draw").to_series()
    by_region = fc.groupby("region")["p_any_within_horizon"].first()
    np.testing.assert_allclose(by_region.loc[last.index].values, last.values, rtol=1e-5)
    before = (root / "reports/forecast.csv").read_bytes()
    assert _run(project, "forecast") == 0
    assert (root / "reports/forecast.csv").read_bytes() == before  # reproducible bytes


def test_forecast_refuses_a_posterior_from_another_panel(project, monkeypatch, capsys):
    root, params = project
    raw = yaml.safe_load(params.read_text())
    raw["diagnostics"]["fail_on_gate"] = False
    raw["diagnostics"]["loo_variants"] = []
    params.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(pm, "sample", partial(mock_sample, sample_stats=_stats(0.0)))
    assert _run(project, "fit") == 0
    io.write_netcdf(root / "data/processed/panel.nc", simulate_panel(1, 4, 30, FEATURES, seed=4))
    assert _run(project, "forecast") == 2
    assert "input_sha256:data/processed/panel.nc" in capsys.readouterr().err


def _clock_or_commit(path: Path) -> list[str]:
    """Attributes of any group or variable of a netCDF file that name a time or a commit."""
    bad = ("created_at", "sampling_time", "sampling_seconds", "git_commit")
    tree = xr.open_datatree(path, engine="h5netcdf")
    found = [
        f"{node.path}:{name}"
        for node in tree.subtree
        for name in [*node.attrs, *(a for v in node.variables.values() for a in v.attrs)]
        if name in bad
    ]
    tree.close()
    return found


def test_fit_and_forecast_write_equal_bytes_twice_and_times_only_to_the_run_log(
    project, monkeypatch
):
    """What DVC hashes is a function of code, params and data: no clock, no commit."""
    root, params = project
    raw = yaml.safe_load(params.read_text())
    raw["diagnostics"].update(fail_on_gate=False, loo_variants=[])
    raw["model"]["proximity_block"] = []
    params.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(pm, "sample", partial(mock_sample, sample_stats=_stats(0.0)))
    outputs = [
        "data/fitted/idata.nc",
        "reports/metrics/diagnostics.json",
        "data/forecast/forecast.nc",
    ]
    runs = []
    for _ in range(2):
        assert _run(project, "fit") == 0 and _run(project, "forecast") == 0
        figures = sorted((root / "reports/figures/diagnostics").glob("*.png"))
        runs.append(
            {p: (root / p).read_bytes() for p in outputs}
            | {f.name: f.read_bytes() for f in figures}
        )
    assert runs[0] == runs[1]
    for nc in ("data/fitted/idata.nc", "data/forecast/forecast.nc"):
        assert _clock_or_commit(root / nc) == []
        with xr.open_dataset(root / nc, engine="h5netcdf") as ds:
            assert len(ds.attrs["code_sha256"]) == 64
    assert not {"sampling_seconds", "ess_bulk_per_second"} & set(io_json(root / outputs[1]))
    log = io_json(root / "reports/metrics/timing.json")
    assert {"sampling_seconds", "ess_bulk_per_second", "seconds"} <= set(log["fit"])
    assert log["fit"]["sampling_seconds"] >= 0 and log["forecast"]["seconds"] >= 0


def io_json(path):
    import json

    return json.loads(path.read_text())

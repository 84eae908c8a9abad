"""The run loader: every artefact read by its reader, optional ones reported missing, required
ones refused, and the report's quantities read as the forecast stage wrote them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_run import REGIONS, build_fake_run

from model.errors import StageError
from model.inference.forecast import forecast_draws, within_draws
from model.reporting.artefacts import (
    RECOMPUTED,
    constant_scales,
    contributions,
    input_hashes,
    level_breakdown,
    load_run,
    p_any_draws,
    previous_origin,
)


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_run(tmp_path_factory.mktemp("run"), gate="pass")


def test_load_run_reads_every_artefact(fake_root: Path) -> None:
    run = load_run(fake_root)
    assert run.regions == REGIONS
    assert set(run.forecast["region"]) == set(REGIONS)
    assert run.forecast_draws is not None and run.forecast_draws.dims == (
        "region",
        "horizon",
        "draw",
    )
    assert run.backtest is not None and run.predictions is not None and run.events is not None
    assert run.horizon == 3 and not run.gate_failed
    assert set(run.geometry) == set(REGIONS)
    assert (
        "data/processed/panel.nc" in run.hashes and len(run.hashes["data/processed/panel.nc"]) == 64
    )
    assert set(run.missing) == {"panel_metrics"}


def test_missing_optional_backtest_is_reported_not_raised(tmp_path: Path) -> None:
    run = load_run(build_fake_run(tmp_path, backtest=False))
    assert run.backtest is None and run.predictions is None
    assert "backtest" in run.missing["backtest"]


def test_skipped_artefacts_are_neither_read_nor_missing(fake_root: Path) -> None:
    run = load_run(fake_root, skip=("events", "panel_metrics", "panel"))  # panel is required
    assert run.events is None and "events" not in run.missing and "panel_metrics" not in run.missing
    assert run.panel is not None and "data/interim/events.parquet" not in run.hashes


def test_missing_required_artefact_names_file_and_stage(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path)
    (root / "data/fitted/idata.nc").unlink()
    with pytest.raises(StageError, match=r"data/fitted/idata.nc.*fit"):
        load_run(root)


def test_forecast_without_every_region_is_refused(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path)
    fc = pd.read_csv(root / "reports/forecast.csv")
    fc[fc.region != "West"].to_csv(root / "reports/forecast.csv", index=False)
    with pytest.raises(StageError, match="West"):
        load_run(root)


def _rewrite_forecast_nc(root: Path, change: Callable[[xr.Dataset], xr.Dataset]) -> None:
    path = root / "data/forecast/forecast.nc"
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    change(ds).to_netcdf(path)


def test_a_forecast_nc_without_a_declared_variable_is_refused(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path)
    _rewrite_forecast_nc(root, lambda ds: ds.drop_vars("previous_p_step1"))
    with pytest.raises(StageError, match=r"forecast.nc.*previous_p_step1.*forecast stage"):
        load_run(root)


def test_a_posterior_fitted_with_other_params_is_refused(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("horizon: 3", "horizon: 2"))
    with pytest.raises(StageError, match=r"idata.nc.*model_config.horizon"):
        load_run(root)


def test_forecast_files_of_two_runs_are_refused(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path)
    _rewrite_forecast_nc(root, lambda ds: ds.assign_attrs(origin="2019-01-07"))
    with pytest.raises(StageError, match="different runs"):
        load_run(root)


def test_the_outcome_is_read_as_integers(fake_root: Path) -> None:
    """PyMC keeps the observed outcome as floats; notebook 02 counts clash weeks per block."""
    run = load_run(fake_root)
    y = run.idata["observed_data"]["clash_any"].values
    assert y.dtype == np.int8
    assert np.bincount(y.sum(axis=-1)).sum() == y.shape[0]


def test_derived_quantities(fake_root: Path) -> None:
    run = load_run(fake_root)
    panel = "data/processed/panel.nc"  # stamped on the posterior, as the fit stage does
    assert input_hashes(run) == {"tiny_ged.csv": "ab" * 32, panel: run.hashes[panel]}
    mean, scale = constant_scales(run.idata)
    assert list(mean["feature"].values) == json.loads(run.panel.attrs["feature_names"])
    assert (scale > 0).all()
    assert list(mean["feature"].values) == list(run.facts.feature_names)
    pa = p_any_draws(run)
    p = run.forecast_draws.sel(region="North").values
    assert pa.loc["North", "any_mean"] == pytest.approx((1 - np.prod(1 - p, axis=0)).mean())
    assert (pa["any_q05"] <= pa["any_mean"]).all() and (pa["any_mean"] <= pa["any_q95"]).all()
    contrib, how = contributions(run, ["North", "West"])
    assert contrib.shape == (2, 5) and "constant data" in how
    prev = previous_origin(run)
    assert prev["source"] == RECOMPUTED and set(prev["step1"].index) == set(REGIONS)


def test_the_previous_origin_is_what_the_report_recomputed_before(fake_root: Path) -> None:
    """Bit for bit what the loader computed from the posterior before the forecast stage
    wrote it (features of the period before the origin, the same posterior)."""
    run = load_run(fake_root)
    earlier = pd.DatetimeIndex(run.panel["period"].values)
    earlier = earlier[earlier < run.origin][-1]
    step1 = forecast_draws(run.idata, run.panel, earlier).sel(horizon=1).mean("draw")
    any_ = within_draws(run.idata, run.panel, earlier).isel(horizon=-1).mean("draw")
    prev = previous_origin(run)
    assert prev["origin"] == earlier
    for got, want in ((prev["step1"], step1), (prev["any"], any_)):
        want = want.to_series().rename(index=str)
        assert list(got.index) == list(want.index)
        assert np.array_equal(got.to_numpy(), want.to_numpy())


def test_the_level_breakdown_is_what_the_report_recomputed_before(fake_root: Path) -> None:
    from model.data.features import decayed_share, decayed_sum

    run = load_run(fake_root)
    regions = ["West", "North"]
    at = run.panel.sel(period=slice(None, run.origin))
    value = at["clash_level_hl4"].isel(period=-1).to_series()
    y = at["clash_any"].transpose("region", "period").values > 0
    long = float(run.panel.attrs["level_long_half_life"])
    want = pd.DataFrame(
        {
            "recent": decayed_sum(y, 4.0)[:, -1] / decayed_sum(np.ones_like(y, float), 4.0)[:, -1],
            "long_run": decayed_share(y, long)[:, -1],
            "level": 1.0 / (1.0 + np.exp(-value)),
        },
        index=[str(r) for r in value.index],
    ).loc[regions]
    got = level_breakdown(run, regions)
    assert list(got.columns) == list(want.columns) and list(got.index) == regions
    assert np.array_equal(got.to_numpy(), want.to_numpy())
    assert got.attrs == {"half_life": 4.0, "long_half_life": 4.0}


def test_loader_imports_no_plotting_or_templating() -> None:
    code = (
        "import sys, model.reporting.artefacts; print({'matplotlib', 'jinja2'} & set(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "set()"


def test_diagnostics_json_is_read_as_is(fake_root: Path) -> None:
    run = load_run(fake_root)
    assert run.diagnostics == json.loads(
        (fake_root / "reports/metrics/diagnostics.json").read_text()
    )

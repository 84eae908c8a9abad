"""The run loader: every artefact read, optional ones reported missing, required ones refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_run import REGIONS, build_fake_run

from model.artefacts import (
    constant_scales,
    contributions,
    forecast_draws_from,
    input_hashes,
    load_run,
    p_any_draws,
    previous_origin,
)
from model.errors import StageError


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


def test_forecast_draws_flattens_chain_and_draw() -> None:
    ds = xr.Dataset({"p": (("chain", "draw", "region", "horizon"), np.zeros((2, 5, 3, 4)))})
    da = forecast_draws_from(ds)
    assert da is not None and da.dims == ("region", "horizon", "draw") and da.sizes["draw"] == 10


def test_derived_quantities(fake_root: Path) -> None:
    run = load_run(fake_root)
    assert input_hashes(run) == {"tiny_ged.csv": "ab" * 32}
    mean, scale = constant_scales(run.idata)
    assert list(mean["feature"].values) == json.loads(run.panel.attrs["feature_names"])
    assert (scale > 0).all()
    pa = p_any_draws(run)
    p = run.forecast_draws.sel(region="North").values
    assert pa.loc["North", "any_mean"] == pytest.approx((1 - np.prod(1 - p, axis=0)).mean())
    assert (pa["any_q05"] <= pa["any_mean"]).all() and (pa["any_mean"] <= pa["any_q95"]).all()
    contrib, how = contributions(run, ["North", "West"])
    assert contrib.shape == (2, 5) and "constant data" in how
    prev = previous_origin(run)
    assert prev["source"] is not None and set(prev["step1"].index) <= set(REGIONS)


def test_loader_imports_no_plotting_or_templating() -> None:
    code = "import sys, model.artefacts; print({'matplotlib', 'jinja2'} & set(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "set()"


def test_diagnostics_json_is_read_as_is(fake_root: Path) -> None:
    run = load_run(fake_root)
    assert run.diagnostics == json.loads(
        (fake_root / "reports/metrics/diagnostics.json").read_text()
    )

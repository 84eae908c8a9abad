"""End to end: the real pipeline on a tiny slice of the shipped data, offline; and (slow) once
more, each stage in a process of its own with another hash seed and an empty compile cache (as
``dvc repro`` runs it after a change), to show that the same params and seed give the same
bytes for every output ``dvc.yaml`` declares: a fresh clone's ``make forecast`` leaves the
committed ``dvc.lock``, and so ``git status``, as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .tinyrun import ROOT, make_project, run_pipeline_processes

EXPECTED = [
    "data/interim/events.parquet",
    "data/interim/rejected.csv",
    "reports/metrics/ingest.json",
    "data/processed/panel.nc",
    "reports/metrics/panel.json",
    "data/fitted/idata.nc",
    "reports/metrics/diagnostics.json",
    "data/forecast/forecast.nc",
    "reports/forecast.csv",
    "reports/scenarios.csv",
    "reports/metrics/backtest.json",
    "data/backtest/predictions.parquet",
    "data/backtest/memory.json",
    "data/backtest/candidates.parquet",
    "reports/forecast.html",
    "reports/forecast.pdf",
]


def test_pipeline_runs_offline_end_to_end(tiny_run) -> None:
    project, attempts = tiny_run
    assert attempts == [], f"the pipeline tried to reach the network: {attempts}"
    for rel in EXPECTED:
        path = project / rel
        assert path.exists() and path.stat().st_size > 0, rel
    ingest = json.loads((project / "reports/metrics/ingest.json").read_text())
    for name, src in ingest["sources"].items():
        assert src["rows_read"] == src["rows_kept"] + src["rows_rejected"], name
    forecast = pd.read_csv(project / "reports/forecast.csv")
    panel = json.loads((project / "reports/metrics/panel.json").read_text())
    assert forecast["region"].nunique() == panel["regions"] == 18
    assert len(forecast) == 18 * forecast["horizon"].nunique()
    assert (
        forecast[["p_q05", "p_median", "p_q95"]]
        .apply(lambda r: r.is_monotonic_increasing, axis=1)
        .all()
    )


@pytest.fixture(scope="session")
def second_run(tiny_run, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("again")
    second = make_project(base / "project")
    run_pipeline_processes(second, hash_seed="12345", compile_cache=base / "empty-compile-cache")
    return tiny_run[0], second


def _declared_outputs() -> list[str]:
    """Every ``outs`` and ``metrics`` path of ``dvc.yaml``: what ``dvc.lock`` records by hash."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return sorted(
        next(iter(entry)) if isinstance(entry, dict) else str(entry)
        for spec in stages.values()
        for kind in ("outs", "metrics")
        for entry in spec.get(kind, [])
    )


def _files(path: Path) -> dict[str, bytes]:
    """A file's bytes, or each file of a folder output by its name in the folder."""
    if not path.is_dir():
        return {"": path.read_bytes()}
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("rel", _declared_outputs())
def test_same_params_and_seed_reproduce_every_declared_output(second_run, rel: str) -> None:
    """Another directory, hash seed and compile cache: the same bytes (no time, commit or path
    in any output; timings go to the run log, which no stage declares)."""
    first, second = second_run
    assert _files(first / rel) == _files(second / rel), rel


@pytest.mark.slow
def test_same_params_and_seed_reproduce_the_backtest(second_run) -> None:
    # Twice (2026-11-24 and 2026-12-01) the first backtest after a change differed from later
    # ones: PyTensor's fast-math Numba code differed compiled afresh and loaded from its cache.
    # The folds now compile with strict math and one BLAS thread
    # (model.numerics.reproducible_numerics); the second run here starts with an empty cache.
    first, second = second_run
    rel = "reports/metrics/backtest.json"
    assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_the_memory_chosen_on_the_dev_window_is_the_one_fitted(tiny_run) -> None:
    """The backtest chooses among every candidate of the grid, the fit and the forecast use its
    choice, and the report says which."""
    import xarray as xr

    project, _ = tiny_run
    bt = json.loads((project / "reports/metrics/backtest.json").read_text())
    sel = bt["model_selection"]
    # the default grid's 30 and the reference (the tiny panel's level pools toward a 4-week run)
    assert sel["auto"] and len(sel["candidates"]) == 31
    chosen = json.loads((project / "data/backtest/memory.json").read_text())
    assert chosen["offset"] == sel["chosen"]["offset"]
    assert bt["ewma_half_life"] == chosen["ewma_half_life"]
    assert chosen["offset"] in {c["settings"]["offset"] for c in sel["candidates"]}
    dev = [c["dev"] for c in sel["candidates"] if c["settings"]["offset"] == chosen["offset"]]
    # the dev window's rows are those of the chosen memory, scored as the choice saw them
    assert dev[0]["brier"] == pytest.approx(bt["windows"]["dev"]["model"]["brier"], abs=1e-9)
    tree = xr.open_datatree(project / "data/fitted/idata.nc", engine="h5netcdf")
    assert json.loads(tree.attrs["model_config"])["offset"] == chosen["offset"]
    assert str(tree["constant_data"]["offset_feature"].values[0]) == chosen["offset"]
    cands = pd.read_parquet(project / "data/backtest/candidates.parquet")
    assert {c["settings"]["offset"] for c in sel["candidates"]} <= set(cands.columns)
    html = (project / "reports/forecast.html").read_text()
    assert "Memory chosen on the dev window" in html

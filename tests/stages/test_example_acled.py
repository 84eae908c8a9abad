"""The ACLED example as a user runs it: ``cp params/examples/acled_us_iran.yaml params.yaml``, the
export saved where the README says, nothing else edited.

The export is synthetic (tests/synthetic_acled.py: ACLED's columns and naming conventions, Syria
and Iraq, 2017-2024; ACLED's own data may not be redistributed). The fast test checks that the
example's side map turns every clash between the two sides into a clash week of the panel, and
nothing else; the slow one runs the whole pipeline on it with a tiny sampler, as ``dvc exp run
-S`` would set it, and executes every notebook on the run's artefacts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import synthetic_acled
import xarray as xr

from model.config import read_params

from .test_notebooks import NOTEBOOKS, execute_notebook
from .tinyrun import ROOT, STAGES, TINY_FIT, no_network, run_pipeline, set_params

EXAMPLE = ROOT / "params/examples/acled_us_iran.yaml"
EXPORT = Path("data/raw/acled/acled_syria_iraq.csv")  # where the README tells users to save it
# Test-only sizes, as a user would shrink a trial run (`dvc exp run -S fit.draws=60 ...`): fewer
# draws, tune steps, chains and origins, one worker; a gate that only reports (a 60-draw fit
# cannot pass it). Even so the fit (the model and its two LOO variants, 32 regions x 417 weeks x
# 4 steps) takes minutes on 2 cores: 468 s of a 570 s run with 100 + 150 draws, measured.
TINY = [
    *TINY_FIT,
    # origins 2024-09-02 … 2024-10-28: 5 dev, 4 test, one fit (refit_every covers all 9)
    "backtest.start='2024-09-02'",
    "backtest.test_start='2024-10-07'",
    "backtest.end='2024-10-28'",
    "backtest.refit_every=9",
    "backtest.draws=60",
    "backtest.tune=60",
    "backtest.chains=1",
    "backtest.bootstrap=50",
    "backtest.block_origins=4",
    "runtime.dask.workers=1",
]


def example_project(dest: Path) -> tuple[Path, pd.Series]:
    """A project with the shipped inputs, the example as params.yaml and a synthetic export."""
    shutil.copytree(ROOT / "data/raw", dest / "data/raw")
    shutil.copytree(ROOT / "reports/templates", dest / "reports/templates")
    shutil.copy(EXAMPLE, dest / "params.yaml")
    truth = synthetic_acled.write(dest / EXPORT)
    return dest, truth


def cli(project: Path, *stages: str) -> None:
    run_pipeline(project, stages)


def test_the_readme_and_the_example_agree_on_where_the_export_goes():
    assert EXPORT.as_posix() in (ROOT / "README.md").read_text(encoding="utf-8")
    assert [s.path for s in read_params(EXAMPLE).ingest.sources] == [EXPORT]


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.Series]:
    project, truth = example_project(tmp_path_factory.mktemp("acled") / "project")
    cli(project, "ingest", "panel")
    return project, truth


def test_every_clash_week_between_the_two_sides_is_caught(panel_run):
    project, truth = panel_run
    ingest = json.loads((project / "reports/metrics/ingest.json").read_text())
    src = ingest["sources"]["acled"]
    assert src["rows_read"] == len(truth) == src["rows_kept"]  # nothing quarantined
    events = pd.read_parquet(project / "data/interim/events.parquet")
    events["eid"] = events["event_id"].str.removeprefix("acled:")
    clash_rows = events[events["eid"].map(truth)]
    week = clash_rows["date"].dt.to_period("W-SUN").dt.start_time
    expected = set(zip(clash_rows["region"], week, strict=True))
    with xr.open_dataset(project / "data/processed/panel.nc") as panel:
        hit = panel["clash_any"].to_series()
    caught = set(hit[hit == 1].index)
    assert len(expected) > 300 and set(clash_rows["country"]) == {"Syria", "Iraq"}
    assert caught == expected
    # the clash needs both sides: US forces hit by an unidentified group with no associate is
    # not a clash between them (the export has such rows; none became a clash week above)
    sides = events.set_index("eid").loc[truth.index, ["side1", "side2"]].apply(frozenset, axis=1)
    assert (sides == frozenset({"us_coalition", "other"})).sum() > 10


def test_coverage_names_the_unmatched_actors_without_a_false_alarm(panel_run):
    project, _ = panel_run
    ingest = json.loads((project / "reports/metrics/ingest.json").read_text())
    sides = ingest["sides"]
    assert {"us_coalition", "iran_aligned", "other"} <= set(sides)
    top_iran = dict(map(tuple, sides["iran_aligned"]["top_actors"]))
    assert top_iran["Military Forces of Syria (2000-2024)"] > 0
    assert [n for n, _ in ingest["unknown_side_top"]] == [
        "Unidentified Armed Group (Syria)",
        "Unidentified Armed Group (Iraq)",
    ]
    assert sides["syria_post_assad"]["events"] > 0  # the post-December-2024 army: not iran_aligned


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_example_runs_end_to_end_on_an_acled_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project, _ = example_project(tmp_path / "project")
    set_params(project / "params.yaml", TINY)
    with no_network() as attempts:
        cli(project, *STAGES)
    assert attempts == []
    forecast = pd.read_csv(project / "reports/forecast.csv")
    assert forecast["region"].nunique() == 32  # 18 governorates of Iraq, 14 of Syria
    assert set(forecast["country"]) == {"Iraq", "Syria"}
    with xr.open_datatree(project / "data/fitted/idata.nc") as idata:
        const = idata["constant_data"]  # both countries' regions are fitted
        assert const.sizes["region"] == 32
        assert sorted(set(const["region_country_idx"].values.tolist())) == [0, 1]
    panel = json.loads((project / "reports/metrics/panel.json").read_text())
    assert panel["regions"] == 32 and 0 < panel["clash_rate"] < 0.2
    backtest = json.loads((project / "reports/metrics/backtest.json").read_text())
    windows = backtest["windows"]
    assert (windows["dev"]["origins"], windows["test"]["origins"]) == (5, 4)
    assert windows["test"]["first_origin"] == "2024-10-07"
    # The ACLED indicators' worth, with against without, in both places (whatever its sign);
    # the example ships the model without them (they hurt on a real export).
    diagnostics = json.loads((project / "reports/metrics/diagnostics.json").read_text())
    assert diagnostics["proximity"]["shipped"] == "without"
    assert np.isfinite(diagnostics["proximity"]["loo_diff"])
    worth = backtest["windows"]["test"]["proximity"]
    assert set(worth) >= {"brier_skill_diff", "log_skill_diff"}
    assert (project / "reports/evidence.csv").stat().st_size > 0
    html = (project / "reports/forecast.html").read_text(encoding="utf-8")
    assert "Sides: events and actors" in html and "Unidentified Armed Group (Syria)" in html
    assert (project / "reports/forecast.pdf").stat().st_size > 0
    # Every notebook on the artefacts of this real run (not only on the fake tiny one).
    for path in NOTEBOOKS:
        workdir = tmp_path / path.stem
        workdir.mkdir()
        outputs = execute_notebook(path, project, workdir, monkeypatch)
        assert not [o for o in outputs if o.get("output_type") == "error"], path.name


def test_the_example_builds_the_acled_precursors(panel_run):
    project, _ = panel_run
    params = read_params(project / "params.yaml")
    with xr.open_dataset(project / "data/processed/panel.nc") as ds:
        missing = [f for f in params.model.proximity_block if f not in ds]
        assert missing == []
        syria = ds["country"] == "Syria"
        # Bases established by pro-Iran militias (Deir ez Zor, Al Bukamal) are counted as contact,
        # in Syria only.
        dep = ds["contact_deployment_hl4"]
        assert float(dep.where(syria, drop=True).max()) > 0
        assert float(dep.where(~syria, drop=True).max()) == 0
        stem = "prox_us_coalition__iran_aligned"
        co = float(ds[f"{stem}_copresent"].mean())
        assert 0 < co < 1
        first = ds[f"{stem}_first_contact"]
        assert 0 < float(first.sum()) < float((ds[f"{stem}_n_within"] > 0).sum())
        assert float(ds[f"{stem}_exposure_garrison"].max()) > 0  # al-Tanf is a garrison
        assert np.isfinite(ds[f"{stem}_closing"]).all()

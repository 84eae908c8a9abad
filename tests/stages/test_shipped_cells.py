"""The shipped default, PRIO-GRID cells, as a user runs it: ``params.yaml`` as it ships,
nothing else edited (issue 21).

The slow test runs the whole pipeline on the shipped GED file at cell level with a tiny sampler
and a short backtest, as ``dvc exp run -S`` would set them, and checks what a cell run promises:
the panel's cells carry PRIO-GRID gids and governorates, the events located only to a
governorate are counted and in no cell, forecast.csv holds the cells with their gid and the
governorates rolled up from them, backtest.json says the unit and scores the roll-up, and the
report is written.
"""

from __future__ import annotations

import json
import shutil
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pypdf import PdfReader

from model.data import grid

from .test_notebooks import NOTEBOOKS, execute_notebook
from .tinyrun import ROOT, STAGES, TINY_FIT, no_network, run_pipeline, set_params

SHIPPED = ROOT / "params.yaml"
# A trial run's sizes: a short window, few draws, origins 2018-09-03 … 2018-11-26 (one fit per
# window), one worker; a gate that only reports.
TINY = [
    "ingest.window.start='2014-01-01'",
    *TINY_FIT,
    "backtest.start='2018-09-03'",
    "backtest.test_start='2018-10-29'",
    "backtest.end='2018-11-26'",
    "backtest.refit_every=13",
    "backtest.draws=60",
    "backtest.tune=60",
    "backtest.chains=1",
    "backtest.bootstrap=50",
    "backtest.block_origins=4",
    "backtest.proximity_worth=false",
    "runtime.dask.workers=1",
]


@pytest.fixture(scope="module")
def cell_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("cells") / "project"
    shutil.copytree(ROOT / "data/raw", project / "data/raw")
    shutil.copytree(ROOT / "reports/templates", project / "reports/templates")
    shutil.copy(SHIPPED, project / "params.yaml")
    set_params(project / "params.yaml", TINY)
    with no_network() as attempts:
        run_pipeline(project, STAGES)
    assert attempts == []
    return project


@pytest.mark.slow
def test_the_cell_panel_has_prio_grid_cells_and_their_governorates(cell_run):
    ds = xr.open_dataset(cell_run / "data/processed/panel.nc")
    gid = ds["gid"].values
    lat, lon = grid.cell_centre(gid)
    assert np.array_equal(grid.gid_of(lat, lon), gid)
    assert ds.attrs["unit"] == "grid" and len(set(ds["region"].values)) == ds.sizes["region"]
    assert set(ds["governorate"].values) <= set(ds["rollup"].values)
    panel = json.loads((cell_run / "reports/metrics/panel.json").read_text())
    ingest = json.loads((cell_run / "reports/metrics/ingest.json").read_text())
    assert panel["unit"] == "grid" and panel["cells"] == ds.sizes["region"]
    assert panel["events_region_only"] == ingest["located"]["region"] > 0


@pytest.mark.slow
def test_forecast_csv_holds_cells_with_gids_and_the_governorate_roll_up(cell_run):
    table = pd.read_csv(cell_run / "reports/forecast.csv")
    cells, govs = table[table["level"] == "cell"], table[table["level"] == "governorate"]
    assert cells["gid"].notna().all() and govs["gid"].isna().all()
    assert set(govs["region"]) == set(govs["governorate"])
    # A governorate is at least as likely to see a clash as any cell wholly inside it (a cell a
    # border splits counts in it by its share of the cell's clashes, shrunk toward its area).
    # The cells' own "within H" comes from stratified draws of the block effect, the roll-up
    # from quadrature: a small tolerance.
    with xr.open_dataset(cell_run / "data/processed/panel.nc") as ds:
        weight = ds["rollup_weight"].to_pandas()  # (governorate, cell)
    p_cell = cells.groupby("region")["p_any_within_horizon"].first()
    rolled = govs.groupby("region")["p_any_within_horizon"].first()
    checked = 0
    for gov, row in weight.iterrows():
        inside = row.index[row > 0.999]
        if len(inside):
            assert rolled[gov] >= p_cell.loc[inside].max() - 0.01, gov
            checked += 1
    assert checked >= 10


@pytest.mark.slow
def test_backtest_json_names_the_unit_and_scores_the_roll_up(cell_run):
    b = json.loads((cell_run / "reports/metrics/backtest.json").read_text())
    assert b["unit"] == "grid"
    rollup = b["windows"]["test"]["rollup"]
    assert rollup["rows"] > 0 and "ewma" in rollup["skill"]
    # The border cells' split, chosen on the dev window and handed to the forecast stage.
    split = b["rollup_split"]
    assert set(split["dev_brier"]) == {"0.5", "2", "8", "32", "area"}
    assert split["dev_brier"][split["chosen"]] == min(split["dev_brier"].values())
    memory = json.loads((cell_run / "data/backtest/memory.json").read_text())
    assert memory["rollup_split"] == split["chosen"]
    handed = b["windows"]["test"]["handed_down"]
    assert handed["weekly"]["rows"] == b["windows"]["test"]["rows"]
    assert handed["within_h"]["rows"] == b["windows"]["test"]["within_h"]["rows"]
    assert set(handed["weekly"]["skill"]) == {"governorate", "split"}
    assert (cell_run / "reports/forecast.pdf").stat().st_size > 0
    html = " ".join((cell_run / "reports/forecast.html").read_text().split())
    assert "What the cells buy" in html and "spread over the governorate" in html


@pytest.mark.slow
def test_the_report_names_every_cell_on_screen_and_the_top_cells_on_paper(cell_run):
    table = pd.read_csv(cell_run / "reports/forecast.csv")
    cells = table[table["level"] == "cell"].drop_duplicates("region")
    page = (cell_run / "reports/forecast.html").read_text()
    missing = [name for name in cells["region"] if escape(name) not in page]
    assert not missing, missing[:5]
    assert f"all {len(cells)}, by rank" in page
    pdf = PdfReader(cell_run / "reports/forecast.pdf")
    text = " ".join(page.extract_text() or "" for page in pdf.pages)
    assert "Every cell, all" not in text  # the folded list is for the screen only


@pytest.mark.slow
def test_the_notebooks_run_on_a_cell_run(cell_run, tmp_path, monkeypatch):
    for path in NOTEBOOKS:
        workdir = tmp_path / path.stem
        workdir.mkdir()
        outputs = execute_notebook(path, cell_run, workdir, monkeypatch)
        assert not [o for o in outputs if o.get("output_type") == "error"], path.name


ACLED_CELLS = ROOT / "params/examples/acled_us_iran_cells.yaml"


def test_the_acled_cell_variant_puts_only_precisely_located_events_in_cells(tmp_path):
    """ACLED's geo_precision 3 (a larger area's centroid) keeps an event out of every cell,
    counted; every other clash between the two sides lands in the cell of its coordinates."""
    import synthetic_acled

    project = tmp_path / "project"
    shutil.copytree(ROOT / "data/raw", project / "data/raw")
    shutil.copy(ACLED_CELLS, project / "params.yaml")
    truth = synthetic_acled.write(project / "data/raw/acled/acled_syria_iraq.csv")
    run_pipeline(project, ("ingest", "panel"))
    events = pd.read_parquet(project / "data/interim/events.parquet")
    events["eid"] = events["event_id"].str.removeprefix("acled:")
    panel = json.loads((project / "reports/metrics/panel.json").read_text())
    region_only = int((events["located"] == "region").sum())
    assert region_only > 0 and panel["events_region_only"] == region_only
    clashes = events[events["eid"].map(truth) & (events["located"] == "point")]
    with xr.open_dataset(project / "data/processed/panel.nc") as ds:
        by_gid = pd.Series(ds["clash"].sum("period").values, index=ds["gid"].values)
        first, last = ds["period"].values[0], ds["period_end"].values[-1]
    inside = (clashes["date"] >= first) & (clashes["date"] <= last)
    got = grid.gid_of(clashes.loc[inside, "latitude"], clashes.loc[inside, "longitude"])
    expected = pd.Series(got).value_counts().sort_index()
    assert len(expected) > 5
    pd.testing.assert_series_equal(
        by_gid[by_gid > 0].sort_index(), expected, check_names=False, check_dtype=False
    )

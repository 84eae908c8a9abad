"""The panel stage end to end: parquet inputs and boundaries in, panel.nc and panel.json out."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from conftest import GOVERNORATES

from model.config import parse_params
from model.errors import StageError
from model.stages import panel as panel_stage

ROOT = Path(__file__).resolve().parents[2]

SQUARES = {  # name, id, lon0, lat0: 1°×1° squares, A–B–C touching, D apart
    "Alpha": ("XX-A", 40.0, 33.0),
    "Bravo": ("XX-B", 41.0, 33.0),
    "Charlie": ("XX-C", 42.0, 33.0),
    "Delta": ("XX-D", 45.0, 33.0),
}


def _params(freq: str = "W-MON") -> dict:
    return {
        "ingest": {
            "window": {"start": "2020-01-01", "end": "2020-06-30"},
            "regions": {
                "boundaries": [
                    {
                        "path": "data/raw/boundaries/squares.geojson",
                        "country": "Testland",
                        "name_property": "name",
                        "id_property": "iso",
                    }
                ]
            },
            "positions": "data/raw/positions/positions.csv",
            "sources": [{"name": "fixture", "path": "data/raw/events.csv", "format": "canonical"}],
            "sides": {"gov": ["Government"], "rebels": ["Rebels"], "civ": ["Civilians"]},
            "categories": {"canonical": {"battle": "battle", "attack": "attack"}},
            "position_sides": ["base"],
        },
        "panel": {
            "freq": freq,
            "clash": {"categories": ["battle"], "sides": ["gov", "rebels"]},
            "half_lives": [1, 4],
            "proximity": [{"a": "base", "b": "rebels", "window": 4, "radius_km": 60}],
        },
        "model": {
            "features": ["clash_decay_hl1"],
            "priors": {"intercept": {"dist": "Normal", "mu": 0, "sigma": 1}},
        },
    }


def _geojson() -> dict:
    feats = []
    for name, (iso, x, y) in SQUARES.items():
        ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
        feats.append(
            {
                "type": "Feature",
                "properties": {"name": name, "iso": iso},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _events(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(SQUARES)
    region = rng.choice(names, n)
    x0 = np.array([SQUARES[r][1] for r in region])
    y0 = np.array([SQUARES[r][2] for r in region])
    side1 = rng.choice(["gov", "rebels", "civ"], n)
    side2 = rng.choice(["gov", "rebels", "civ", ""], n)
    dates = pd.Timestamp("2019-12-25") + pd.to_timedelta(rng.integers(0, 195, n), "D")
    return pd.DataFrame(
        {
            "event_id": pd.array([f"fixture:{i}" for i in range(n)], dtype="string"),
            "date": dates.astype("datetime64[ns]"),
            "country": pd.array(["Testland"] * n, dtype="string"),
            "region": pd.array(region, dtype="string"),
            "region_id": pd.array([SQUARES[r][0] for r in region], dtype="string"),
            "latitude": y0 + rng.uniform(0.05, 0.95, n),
            "longitude": x0 + rng.uniform(0.05, 0.95, n),
            "actor1": pd.array(side1, dtype="string"),
            "actor2": pd.array(side2, dtype="string"),
            "side1": pd.array(side1, dtype="string"),
            "side2": pd.array(side2, dtype="string"),
            "category": pd.array(rng.choice(["battle", "attack"], n), dtype="string"),
            "fatalities": rng.integers(0, 10, n).astype("int64"),
            "source_dataset": pd.array(["fixture"] * n, dtype="string"),
            "source_row": pd.array([f"data/raw/events.csv:{i + 2}" for i in range(n)], "string"),
            "placed_by": pd.array(["polygon"] * n, dtype="string"),
            "located": pd.array(["point"] * n, dtype="string"),
            "place": pd.array([""] * n, dtype="string"),
        }
    )


def _positions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": pd.array(["base", "base"], dtype="string"),
            "name": pd.array(["Camp One", "Camp Two"], dtype="string"),
            "kind": pd.array(["base", "base"], dtype="string"),
            "latitude": [33.5, 33.5],
            "longitude": [40.5, 42.5],
            "start_date": pd.to_datetime([None, "2020-03-01"]).astype("datetime64[ns]"),
            "end_date": pd.to_datetime([None, None]).astype("datetime64[ns]"),
            "region": pd.array(["Alpha", "Charlie"], dtype="string"),
            "country": pd.array(["Testland"] * 2, dtype="string"),
        }
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data/raw/boundaries").mkdir(parents=True)
    (tmp_path / "data/raw/boundaries/squares.geojson").write_text(json.dumps(_geojson()))
    (tmp_path / "data/interim").mkdir(parents=True)
    _events().to_parquet(tmp_path / "data/interim/events.parquet", index=False)
    _positions().to_parquet(tmp_path / "data/interim/positions.parquet", index=False)
    return tmp_path


def test_stage_writes_panel_and_metrics(project: Path):
    params = parse_params(_params())
    panel_stage.run(params, project)
    with xr.open_dataset(project / "data/processed/panel.nc", engine="h5netcdf") as ds:
        ds = ds.load()
    metrics = json.loads((project / "reports/metrics/panel.json").read_text())

    assert ds.sizes == {"region": 4, "period": 25}
    assert list(ds["region"].values) == ["Alpha", "Bravo", "Charlie", "Delta"]
    assert list(ds["region_id"].values) == ["XX-A", "XX-B", "XX-C", "XX-D"]
    assert set(ds["country"].values) == {"Testland"}
    assert pd.Timestamp(ds["period"].values[0]) == pd.Timestamp("2020-01-06")
    assert {"count_battle", "count_attack", "events", "fatalities", "clash", "clash_any"} <= set(
        ds.data_vars
    )
    names = json.loads(ds.attrs["feature_names"])
    assert "prox_base__rebels_km" in names and "nbr_clash_decay_hl4" in names
    assert json.loads(ds.attrs["clash_sides"]) == ["gov", "rebels"]
    assert ds.attrs["params_hash_panel"] and "git_commit" not in ds.attrs  # content only
    assert "input_sha256:data/interim/events.parquet" in ds.attrs
    assert "input_sha256:data/raw/boundaries/squares.geojson" in ds.attrs
    # Bravo and Alpha neighbour each other; Delta has no neighbour: spill-over 0.
    assert float(ds["nbr_clash_decay_hl4"].sel(region="Delta").max()) == 0.0
    assert float(ds["nbr_clash_decay_hl4"].sel(region="Bravo").max()) > 0.0

    assert metrics["regions"] == 4 and metrics["periods"] == 25 and metrics["rows"] == 100
    assert metrics["first_period"] == "2020-01-06" and metrics["last_period"] == "2020-06-22"
    assert metrics["clash_rate"] == pytest.approx(float(ds["clash_any"].mean()))
    assert metrics["positions_blank_start"] == 1
    assert set(metrics["missing_share"]) == set(names)
    assert metrics["events"] + metrics["events_outside_panel"] == 400
    assert metrics["events"] == int(ds["events"].sum())


def test_stage_monthly(project: Path):
    panel_stage.run(parse_params(_params("MS")), project)
    with xr.open_dataset(project / "data/processed/panel.nc", engine="h5netcdf") as ds:
        assert ds.sizes["period"] == 6
        assert ds.attrs["freq"] == "MS"


def test_stage_errors_leave_no_output(project: Path):
    params = parse_params(_params())
    ev = _events()
    ev.loc[3, "region"] = "Atlantis"
    ev.to_parquet(project / "data/interim/events.parquet", index=False)
    with pytest.raises(StageError, match="Atlantis"):
        panel_stage.run(params, project)
    assert not (project / "data/processed/panel.nc").exists()
    assert not (project / "reports/metrics/panel.json").exists()
    assert not list((project / "data").rglob(".panel.nc*"))

    (project / "data/interim/events.parquet").unlink()
    with pytest.raises(StageError, match="clashcast ingest"):
        panel_stage.run(params, project)


def test_stage_keeps_previous_output_when_it_fails(project: Path):
    params = parse_params(_params())
    panel_stage.run(params, project)
    before = (project / "data/processed/panel.nc").read_bytes()
    (project / "data/interim/positions.parquet").write_bytes(b"not parquet")
    with pytest.raises(StageError, match="positions"):
        panel_stage.run(params, project)
    assert (project / "data/processed/panel.nc").read_bytes() == before


def _shipped_project(tmp_path: Path, params_file: Path) -> tuple[Path, dict]:
    shutil.copytree(ROOT / "data/raw", tmp_path / "data/raw")
    raw = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    return tmp_path, raw


@pytest.mark.parametrize(
    ("params_file", "regions"),
    [(ROOT / "params.yaml", 213), (GOVERNORATES, 18)],
    ids=["cells", "governorates"],
)
def test_stage_on_the_shipped_data(tmp_path: Path, params_file: Path, regions: int):
    """Ingest then panel on the shipped GED Iraq data (a few seconds): the shipped default's
    PRIO-GRID cells overlapping Iraq, and Iraq's governorates."""
    from model.stages import ingest as ingest_stage

    root, raw = _shipped_project(tmp_path, params_file)
    params = parse_params(raw)
    ingest_stage.run(params, root)
    t0 = time.perf_counter()
    panel_stage.run(params, root)
    seconds = time.perf_counter() - t0
    metrics = json.loads((root / "reports/metrics/panel.json").read_text())
    with xr.open_dataset(root / "data/processed/panel.nc", engine="h5netcdf") as ds:
        n_regions = ds.sizes["region"]
        assert ds.sizes["period"] == metrics["periods"]
        assert (ds["period"].to_index().day_of_week == 0).all()
        for f in json.loads(ds.attrs["feature_names"]):
            if not f.endswith("_km"):
                assert not np.isnan(ds[f].values).any(), f
    assert n_regions == metrics["regions"] == regions
    assert 0.0 < metrics["clash_rate"] < 1.0
    assert metrics["rows"] == metrics["regions"] * metrics["periods"]
    assert seconds < 30

"""One typed reader per artefact: declared names checked, declared dtypes cast, loud refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from model import paths
from model import readers as rd
from model.data.panel_facts import PanelFacts
from model.data.schema import EVENTS, POSITIONS, REJECTED
from model.errors import StageError
from model.inference.posterior import load_idata, save_idata
from model.io import write_netcdf


def _write(root: Path, key: str, write) -> Path:
    path = root / paths.ARTEFACTS[key].path
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)
    return path


def test_every_data_artefact_has_one_reader() -> None:
    not_data = {"report_html", "report_pdf", "diagnostic_figures"}
    # the posterior's reader is model.inference.posterior.load_idata (it checks provenance)
    assert set(rd.READERS) | {"idata"} == set(paths.ARTEFACTS) - not_data


@pytest.mark.parametrize(
    ("key", "schema"), [("events", EVENTS), ("positions", POSITIONS), ("rejected", REJECTED)]
)
def test_declared_dtypes_agree_with_the_ingest_contracts(key, schema) -> None:
    as_schema = {rd.STR: "string", rd.DATE: "datetime64[ns]", rd.FLOAT: "float64"}
    as_schema |= {rd.INT: "int64"}
    for column, dtype in rd.TABLES[key].items():
        assert str(schema.columns[column].dtype).startswith(as_schema[dtype]), column
    assert list(rd.TABLES[key]) == [c for c in schema.columns if c in rd.TABLES[key]]


def test_a_missing_artefact_names_the_stage_to_run(tmp_path: Path) -> None:
    with pytest.raises(StageError, match=r"predictions.parquet: no predictions.*backtest"):
        rd.read(tmp_path, "predictions")


def _predictions(y: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.to_datetime(["2020-01-06"] * len(y)),
            "region": [1, 2, 3][: len(y)],  # a region named by a number stays a name
            "horizon": 1,
            "y": y,
            "model": 0.3,
        }
    )


def test_tables_are_cast_to_their_declared_dtypes(tmp_path: Path) -> None:
    _write(tmp_path, "predictions", lambda p: _predictions([0.0, 1.0, 1.0]).to_parquet(p))
    df = rd.read(tmp_path, "predictions")
    assert df["y"].dtype == np.int8 and df["y"].tolist() == [0, 1, 1]
    assert df["region"].tolist() == ["1", "2", "3"]


def test_a_table_without_a_declared_column_is_refused(tmp_path: Path) -> None:
    df = _predictions([0.0]).drop(columns="model")
    _write(tmp_path, "predictions", lambda p: df.to_parquet(p))
    with pytest.raises(
        StageError, match=r"predictions.parquet: missing columns \['model'\].*backtest"
    ):
        rd.read(tmp_path, "predictions")


def test_an_outcome_that_is_not_whole_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "predictions", lambda p: _predictions([0.0, 0.5]).to_parquet(p))
    with pytest.raises(StageError, match="column y holds values that are not whole"):
        rd.read(tmp_path, "predictions")
    _write(tmp_path, "predictions", lambda p: _predictions([0.0, np.nan]).to_parquet(p))
    with pytest.raises(StageError, match="column y holds missing"):
        rd.read(tmp_path, "predictions")


def test_csv_dates_are_parsed_and_text_keeps_its_gaps(tmp_path: Path) -> None:
    rows = pd.DataFrame({"origin": ["2020-01-06"], "brier": [0.1]})
    _write(tmp_path, "backtest_scores", lambda p: rows.to_csv(p, index=False))
    assert rd.read(tmp_path, "backtest_scores")["origin"].dtype.kind == "M"
    df = pd.DataFrame({c: [np.nan] for c in rd.TABLES["evidence"]}).assign(region=["North"])
    _write(tmp_path, "evidence", lambda p: df.to_csv(p, index=False))
    ev = rd.read(tmp_path, "evidence")
    assert ev["name"].isna().all() and ev["region"].tolist() == ["North"]


def test_a_json_artefact_without_a_declared_key_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "diagnostics", lambda p: p.write_text(json.dumps({"gate": "pass"})))
    with pytest.raises(
        StageError, match=r"diagnostics.json: missing keys \['failed_checks'\].*fit"
    ):
        rd.read(tmp_path, "diagnostics")


def _panel(**attrs) -> xr.Dataset:
    grid = ("region", "period")
    return xr.Dataset(
        {
            "clash": (grid, np.array([[0, 2]])),
            "clash_any": (grid, np.array([[0.0, 1.0]])),
            "events": (grid, np.array([[1, 3]])),
            "since_clash": (grid, np.array([[1.0, 0.0]])),
        },
        coords={"region": ["A"], "period": pd.date_range("2020-01-06", periods=2, freq="W-MON")},
        attrs=PanelFacts.defaults(feature_names=["since_clash"]).to_attrs() | attrs,
    )


def test_the_panel_reader_checks_facts_and_variables(tmp_path: Path) -> None:
    _write(tmp_path, "panel", lambda p: write_netcdf(p, _panel()))
    panel = rd.read_panel(tmp_path)
    assert panel["clash_any"].dtype == np.int8
    assert PanelFacts.from_attrs(panel).feature_names == ("since_clash",)

    lacking = _panel()
    del lacking.attrs["level_prior"]
    _write(tmp_path, "panel", lambda p: write_netcdf(p, lacking))
    with pytest.raises(StageError, match=r"panel.nc: missing attributes \['level_prior'\].*panel"):
        rd.read_panel(tmp_path)
    _write(tmp_path, "panel", lambda p: write_netcdf(p, _panel().drop_vars("since_clash")))
    with pytest.raises(StageError, match=r"missing variables \['since_clash'\]"):
        rd.read_panel(tmp_path)


def _forecast_nc(**attrs) -> xr.Dataset:
    draws = (("draw", "region", "horizon"), np.full((3, 1, 2), 0.2))
    by_region = ("region", [np.nan])
    return xr.Dataset(
        {rd.P: draws, rd.P_ANY_WITHIN: draws, rd.PREVIOUS_STEP1: by_region},
        coords={"region": ["A"]},
        attrs={rd.ORIGIN: "2020-01-06", rd.PREVIOUS_ORIGIN: "", rd.OFFSET: ""} | attrs,
    ).assign({rd.PREVIOUS_ANY: by_region})


def test_forecast_nc_says_what_it_holds(tmp_path: Path) -> None:
    _write(tmp_path, "forecast_nc", lambda p: write_netcdf(p, _forecast_nc()))
    fc = rd.read_forecast_nc(tmp_path)
    assert fc.p.dims == ("region", "horizon", "draw")
    assert fc.previous_origin is None and fc.previous_step1 is None and fc.levels is None
    # an offset declared without its level is refused
    _write(tmp_path, "forecast_nc", lambda p: write_netcdf(p, _forecast_nc(offset="x")))
    with pytest.raises(StageError, match=r"forecast.nc: missing .*\['level'\].*forecast stage"):
        rd.read_forecast_nc(tmp_path)


def _idata_with_outcome(y: np.ndarray) -> xr.DataTree:
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"sigma_block": (("chain", "draw"), np.ones((1, 4)))}),
            "constant_data": xr.Dataset({rd.X_MEAN: ("feature", np.zeros(0))}),
            "observed_data": xr.Dataset({"clash_any": (("obs_id", "horizon"), y)}),
        }
    )


def test_a_float_outcome_breaks_a_block_count_until_the_reader_casts_it(tmp_path: Path) -> None:
    """What notebook 02 met on every real run: PyMC keeps the observed outcome as floats."""
    y = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    path = tmp_path / "idata.nc"
    save_idata(_idata_with_outcome(y), path, {})
    with xr.open_datatree(path, engine="h5netcdf") as raw:
        stored = raw["observed_data"]["clash_any"].values
    assert stored.dtype == np.float64
    with pytest.raises(TypeError, match="Cannot cast array data from dtype"):
        np.bincount(stored.sum(axis=-1), minlength=4)
    read = load_idata(path)["observed_data"]["clash_any"].values
    assert read.dtype == np.int8
    assert np.bincount(read.sum(axis=-1), minlength=4).tolist() == [0, 0, 1, 1]


def test_an_outcome_that_is_not_0_or_1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "idata.nc"
    save_idata(_idata_with_outcome(np.array([[0.0, 0.5]])), path, {})
    with pytest.raises(StageError, match=r"idata.nc: observed_data/clash_any .*not whole.*fit"):
        load_idata(path)

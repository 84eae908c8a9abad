"""What the forecast stage writes around its forecast: the previous origin and the levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_run import build_fake_run

from model import readers as rd
from model.inference.forecast_context import forecast_context, level_breakdown, previous_forecast
from model.inference.posterior import load_idata
from model.io import write_netcdf
from model.paths import FORECAST_NC


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    root = build_fake_run(tmp_path_factory.mktemp("run"))
    panel = rd.read_panel(root)
    idata = load_idata(root / "data/fitted/idata.nc")
    return panel, idata, pd.Timestamp(panel["period"].values[-1])


def test_no_previous_period_gives_nan_and_says_so(run) -> None:
    panel, idata, _ = run
    first = pd.Timestamp(panel["period"].values[0])
    prev = previous_forecast(idata, panel, first)
    assert prev.attrs[rd.PREVIOUS_ORIGIN] == ""
    assert np.isnan(prev[rd.PREVIOUS_STEP1]).all() and np.isnan(prev[rd.PREVIOUS_ANY]).all()


def test_the_levels_of_some_regions_are_those_of_the_whole_panel(run) -> None:
    """The long-run share is pooled over every region: a subset must not change it."""
    panel, _, origin = run
    regions = [str(r) for r in panel["region"].values]
    whole = level_breakdown(panel, "clash_level_hl4", origin, regions)
    some = level_breakdown(panel, "clash_level_hl4", origin, regions[::-1][:2])
    for name in (rd.LEVEL, rd.LEVEL_RECENT, rd.LEVEL_LONG_RUN):
        assert np.array_equal(some[name].values, whole[name].sel(region=regions[::-1][:2]).values)
    assert some.attrs == {
        rd.OFFSET: "clash_level_hl4",
        rd.LEVEL_HALF_LIFE: 4.0,
        rd.LEVEL_LONG_HALF_LIFE: 4.0,
    }


def test_an_offset_other_than_a_level_has_no_shares(run) -> None:
    panel, _, origin = run
    ds = level_breakdown(panel, "clash_decay_hl4", origin, ["North"])
    assert list(ds.data_vars) == [rd.LEVEL] and ds.attrs == {rd.OFFSET: "clash_decay_hl4"}
    assert level_breakdown(panel, None, origin, ["North"]).attrs == {rd.OFFSET: ""}


def test_the_context_reads_back_through_the_reader(run, tmp_path: Path) -> None:
    panel, idata, origin = run
    regions = [str(r) for r in idata["constant_data"]["region"].values]
    context = forecast_context(idata, panel, origin, regions)
    ds = (
        _draws(regions)
        .merge(context, combine_attrs="drop")
        .assign_attrs({rd.ORIGIN: str(origin.date()), **context.attrs})
    )
    write_netcdf(tmp_path / FORECAST_NC, ds)
    fc = rd.read_forecast_nc(tmp_path)
    assert fc.previous_origin == pd.Timestamp(panel["period"].values[-2])
    assert list(fc.levels.columns) == ["recent", "long_run", "level"]
    assert list(fc.previous_step1.index) == regions


def _draws(regions: list[str]) -> xr.Dataset:
    shape = (len(regions), 2, 5)
    da = xr.DataArray(
        np.full(shape, 0.1), dims=("region", "horizon", "draw"), coords={"region": regions}
    )
    return xr.Dataset({rd.P: da, rd.P_ANY_WITHIN: da})

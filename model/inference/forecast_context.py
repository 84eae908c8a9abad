"""What the report says around a forecast, computed by the forecast stage into ``forecast.nc``.

- The forecast at the previous origin (the period before the origin), from the same posterior
  with that period's features: P(clash) at step 1 and P(any clash within H), posterior means
  per region, for "change since the previous origin".
- Where each region's forecast starts: its offset as a probability and, for a
  ``clash_level_hl{h}`` offset, the region's share of recent periods with a clash (decayed,
  half-life ``h``) and its long-run share (half-life ``level_long_half_life``, shrunk toward
  the theatre) that the level pools.

The names are those :mod:`model.readers` declares for ``forecast.nc``; the report and the
notebooks read them back and recompute nothing.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xarray as xr

from model import readers as rd
from model.data import feature_names as fn
from model.data.features import decayed_share, decayed_sum
from model.data.panel_facts import PanelFacts
from model.inference.forecast import SAMPLE, forecast_draws, offset_name, within_probability

log = logging.getLogger(__name__)


def previous_forecast(idata: xr.DataTree, panel: xr.Dataset, origin: pd.Timestamp) -> xr.Dataset:
    """The forecast from the period before ``origin``: :data:`~model.readers.PREVIOUS_STEP1` and
    :data:`~model.readers.PREVIOUS_ANY` by region, attribute ``previous_origin``.

    Where no forecast can be made there (no earlier period, features not finite) the
    variables are NaN and ``previous_origin`` is empty; the report then falls back on the
    backtest's last origin.
    """
    periods = pd.DatetimeIndex(panel["period"].values)
    earlier = periods[periods < origin]
    try:
        if len(earlier) == 0:
            raise ValueError("no period before the origin")
        p = forecast_draws(idata, panel, earlier[-1])
    except ValueError as e:
        log.info("no forecast at the period before the origin: %s", e)
        regions = [str(r) for r in idata["constant_data"]["region"].values]
        nan = xr.DataArray(np.full(len(regions), np.nan), dims="region", coords={"region": regions})
        return xr.Dataset(
            {rd.PREVIOUS_STEP1: nan, rd.PREVIOUS_ANY: nan}, attrs={rd.PREVIOUS_ORIGIN: ""}
        )
    step1 = p.sel(horizon=1).mean(SAMPLE)
    any_ = within_probability(p).isel(horizon=-1).mean(SAMPLE)
    keep = ("region",)
    return xr.Dataset(
        {
            rd.PREVIOUS_STEP1: step1.drop_vars([c for c in step1.coords if c not in keep]),
            rd.PREVIOUS_ANY: any_.drop_vars([c for c in any_.coords if c not in keep]),
        },
        attrs={rd.PREVIOUS_ORIGIN: str(earlier[-1].date())},
    )


def level_breakdown(
    panel: xr.Dataset, offset: str | None, origin: pd.Timestamp, regions: list[str]
) -> xr.Dataset:
    """Where each of ``regions``' forecast starts: :data:`~model.readers.LEVEL` (the offset
    at the origin as a probability) and, for a ``clash_level_hl{h}`` offset,
    :data:`~model.readers.LEVEL_RECENT` and :data:`~model.readers.LEVEL_LONG_RUN`.

    Attributes ``offset`` (empty without one) and, for a level offset, ``level_half_life`` and
    ``level_long_half_life``. The shares are computed over every region of the panel (the
    long-run share is pooled across them), then kept for ``regions``.
    """
    if offset is None:
        return xr.Dataset(attrs={rd.OFFSET: ""})
    at = panel.sel(period=slice(None, origin))
    value = at[offset].isel(period=-1).transpose("region").values
    columns = {rd.LEVEL: 1.0 / (1.0 + np.exp(-value))}
    attrs: dict[str, object] = {rd.OFFSET: offset}
    f = fn.parse(offset)
    if f.family == "level":
        y = at["clash_any"].transpose("region", "period").values > 0
        h = f.half_life
        long = f.long_half_life or PanelFacts.from_attrs(panel).level_long_half_life
        recent = decayed_sum(y, h)[:, -1] / decayed_sum(np.ones_like(y, float), h)[:, -1]
        columns[rd.LEVEL_RECENT] = recent
        columns[rd.LEVEL_LONG_RUN] = decayed_share(y, long)[:, -1]
        attrs |= {rd.LEVEL_HALF_LIFE: float(h), rd.LEVEL_LONG_HALF_LIFE: float(long)}
    names = [str(r) for r in at["region"].values]
    ds = xr.Dataset({k: ("region", v) for k, v in columns.items()}, coords={"region": names})
    return ds.sel(region=regions).assign_attrs(attrs)


def forecast_context(
    idata: xr.DataTree, panel: xr.Dataset, origin: pd.Timestamp, regions: list[str]
) -> xr.Dataset:
    """Both of the above for the fitted ``regions``, to merge into ``forecast.nc``."""
    prev = previous_forecast(idata, panel, origin)
    levels = level_breakdown(panel, offset_name(idata), origin, regions)
    return xr.merge([prev, levels], combine_attrs="no_conflicts")

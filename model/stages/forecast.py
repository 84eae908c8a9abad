"""The ``forecast`` stage: P(clash) per region and step from the posterior, and scenarios.

Inputs: ``data/processed/panel.nc``, ``data/fitted/idata.nc`` (refused unless fitted to this
panel with these model params). Outputs: ``data/forecast/forecast.nc`` (``p`` with dims
``region, horizon, draw`` and ``p_any_within``, P(any clash in steps 1..horizon) from the joint
model; the forecast at the previous origin and the level breakdown by region,
:mod:`model.inference.forecast_context`), ``reports/forecast.csv`` and ``reports/scenarios.csv`` —
the CSVs carry no timings, hosts or commits, so a re-run with the same inputs is byte-identical.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import xarray as xr

from model import io
from model import readers as rd
from model.config import Params
from model.errors import StageError
from model.inference.forecast import forecast_draws, resolve_origin, summarise, within_draws
from model.inference.forecast_context import forecast_context
from model.inference.posterior import ProvenanceMismatch, expected_attrs, load_idata
from model.inference.rollup import rollup_draws, rollup_table, split_prior
from model.inference.scenarios import run_scenarios
from model.paths import FORECAST_CSV, FORECAST_NC, IDATA, MEMORY, SCENARIOS_CSV
from model.provenance import stamp

_log = logging.getLogger(__name__)


def _split_chosen(root: Path) -> float | None:
    """The border cells' split the backtest chose on the dev window (``memory.json``
    ``rollup_split``); area shares when it chose none."""
    if not (Path(root) / MEMORY).exists():
        return None
    return split_prior(str(rd.read_json(root, "memory").get("rollup_split", "area")))


def _with_rollup(table, idata, panel, p, params: Params, root: Path):
    """A cell run's forecast table: the cells with their ``gid`` and governorate (``level``
    ``cell``), then the governorates rolled up from the cells' joint draws (``level``
    ``governorate``, :mod:`model.inference.rollup`, border cells split as the backtest chose);
    and the roll-up's draws for forecast.nc."""
    prior = _split_chosen(root)
    step, within = rollup_draws(idata, panel, params.forecast.origin, prior)
    cells = panel[["gid", "governorate"]].sel(region=table["region"].to_numpy())
    table.insert(2, "governorate", [str(g) for g in cells["governorate"].values])
    table.insert(2, "gid", cells["gid"].values.astype(int))
    table.insert(0, "level", "cell")
    rolled = rollup_table(step, within, p, panel, params.forecast.interval)
    rolled.insert(0, "level", "governorate")
    out = pd.concat([table, rolled], ignore_index=True)
    out["gid"] = out["gid"].astype("Int64")
    draws = xr.Dataset({"p_rollup": step, "p_rollup_within": within})
    return out, draws


def run(params: Params, root: Path) -> None:
    """Run the forecast stage (see the module docstring)."""
    panel = rd.read_panel(root)
    try:
        idata = load_idata(root / IDATA, expect=expected_attrs(params, root))
    except (FileNotFoundError, ProvenanceMismatch) as e:
        raise StageError(str(e)) from None
    origin = params.forecast.origin
    try:
        p = forecast_draws(idata, panel, origin)
        within = within_draws(idata, panel, origin)
        table = summarise(p, within, params.forecast.interval)
        scenarios = run_scenarios(
            idata,
            panel,
            origin,
            params.scenarios,
            params.panel.proximity_scale_km,
            params.forecast.interval,
            baseline=p,
        )
        regions = [str(r) for r in p["region"].values]
        context = forecast_context(idata, panel, resolve_origin(panel, origin), regions)
    except ValueError as e:
        raise StageError(f"forecast: {e}") from None
    ds = xr.Dataset({rd.P: p, rd.P_ANY_WITHIN: within}).merge(context, combine_attrs="drop")
    ds.attrs = {
        **stamp({"model": params.model, "forecast": params.forecast}, stage="forecast"),
        rd.ORIGIN: p.attrs["origin"],
        "posterior_gate": str(idata.attrs.get("gate", "unknown")),
        **context.attrs,
    }
    io.write_netcdf(root / FORECAST_NC, ds)
    if panel.attrs.get("unit") == "grid":
        table, rolled = _with_rollup(table, idata, panel, p, params, root)
        ds = ds.merge(rolled)
    io.write_csv(root / FORECAST_CSV, table, float_format="%.6g")
    io.write_csv(root / SCENARIOS_CSV, scenarios, float_format="%.6g")
    top = table.iloc[0]
    _log.info(
        "forecast from %s: %d regions × %d steps from %d posterior draws, %d scenario(s); "
        "highest P(any clash within %d): %s %.0f%%",
        p.attrs["origin"],
        p.sizes["region"],
        p.sizes["horizon"],
        p.sizes["draw"],
        len(params.scenarios),
        p.sizes["horizon"],
        top["region"],
        100 * top["p_any_within_horizon"],
    )

"""The ``panel`` stage: kept events + positions + regions → ``data/processed/panel.nc``.

Reads ``data/interim/events.parquet`` and ``data/interim/positions.parquet`` (written by
``ingest``) and the boundaries through :func:`model.data.regions.load_regions`; writes the panel and
``reports/metrics/panel.json`` atomically (docs/interfaces.md); the stage's time goes to the
run log (:mod:`model.timing`), not into either.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import Params
from model.data.memory import MEMORY_GRID, candidate_columns
from model.data.panel import (
    CellInputs,
    blank_start_positions,
    build_panel,
    clash_grid,
    panel_summary,
)
from model.errors import StageError
from model.io import write_json, write_netcdf
from model.paths import EVENTS, PANEL, PANEL_METRICS, POSITIONS
from model.provenance import content_stamp
from model.readers import read_positions, read_table

log = logging.getLogger(__name__)


def _cell_panel(events, positions, regions, params: Params) -> tuple[object, dict[str, int]]:
    """The panel over PRIO-GRID cells (``unit: grid``) and its facts for panel.json: the
    cells, and the events located only to a governorate (kept in its features, in no cell).

    The roll-up's inputs ride along (dim ``rollup``, the governorates): ``rollup_weight``
    (governorate × cell: the share of the cell's area in it), ``rollup_clash`` (governorate ×
    cell × period: the cell's clashes that fell in that governorate, from which the roll-up
    splits a border cell's hazard, :func:`model.inference.rollup.split_weights`) and
    ``rollup_clash_any``, a clash in the governorate among the events the cells hold (the same
    data as the cells)."""
    from model.data.cells import cell_space, place_events, rollup_weights

    places = _places(events, positions)
    country = {r: regions.country_of(r) for r in regions.names}
    space = cell_space(regions.geometry, country, places)
    placed = place_events(events, space)
    window = params.ingest.window
    gov_clash = clash_grid(events, regions.names, params.panel, window)
    ds = build_panel(
        placed.in_cells,
        positions,
        space.table,
        space.neighbours,
        space.geometry,
        panel=params.panel,
        window=window,
        categories=params.ingest.all_categories(),
        cells=CellInputs(space, gov_clash, regions.names),
    )
    by_gov = placed.in_cells.groupby("governorate", observed=True, sort=False)
    pairs = np.zeros((len(regions.names), *ds["clash"].shape), dtype=np.int16)
    for i, g in enumerate(regions.names):
        if g in by_gov.groups:
            pairs[i] = clash_grid(by_gov.get_group(g), space.names, params.panel, window)
    ds = ds.assign_coords(
        rollup=("rollup", list(regions.names)),
        rollup_country=("rollup", [regions.country_of(g) for g in regions.names]),
    )
    ds["rollup_clash_any"] = (("rollup", "period"), (pairs.sum(axis=1) > 0).astype(np.int8))
    ds["rollup_weight"] = (("rollup", "region"), rollup_weights(space, regions.names))
    ds["rollup_clash"] = (("rollup", "region", "period"), pairs)
    facts = {
        "cells": len(space.table),
        "events_region_only": placed.region_only,
        "events_outside_cells": placed.outside_cells,
    }
    return ds, facts


def _places(events, positions):
    """Named places for the cells' display names: the place names of the events located to a
    point (a governorate's centroid names no place), and the positions."""
    frames = []
    if "place" in events:
        located = events.loc[events["located"].astype(str) == "point"]
        frames.append(located[["place", "latitude", "longitude"]].rename(columns={"place": "name"}))
    if positions is not None:
        frames.append(positions[["name", "latitude", "longitude"]])
    if not frames:
        return pd.DataFrame({"name": [], "latitude": [], "longitude": []})
    return pd.concat(frames, ignore_index=True)


def run(params: Params, root: Path) -> None:
    """Build the panel from the ingest outputs and write it with its metrics."""
    from model.data.regions import load_regions  # the regions module loads shapely and boundaries

    root = Path(root)
    events_path, positions_path = root / EVENTS, root / POSITIONS
    events = read_table(root, "events")
    counted = events["located"].astype(str).isin(params.panel.located).to_numpy()
    events = events.loc[counted].reset_index(drop=True)
    positions = read_positions(root, params.ingest.positions is not None)
    regions = load_regions(params.ingest.regions, root)

    cell_facts: dict[str, int] = {}
    try:
        if params.ingest.regions.unit == "grid":
            ds, cell_facts = _cell_panel(events, positions, regions, params)
        else:
            ds = build_panel(
                events,
                positions,
                regions.table,
                regions.neighbours,
                regions.geometry,
                panel=params.panel,
                window=params.ingest.window,
                categories=params.ingest.all_categories(),
            )
    except ValueError as e:
        raise StageError(f"panel from {events_path}: {e}") from e
    occurred = ds["clash_any"].transpose("region", "period").values
    memories = candidate_columns(occurred, params.memory)
    for name, values in memories.items():
        ds[name] = (("region", "period"), values)
    ds.attrs["memory_candidates"] = json.dumps(list(memories))

    inputs = [events_path]
    if positions is not None:
        inputs.append(positions_path)
    inputs += [root / b.path for b in params.ingest.regions.boundaries]
    sections = {
        "panel": params.panel,
        "window": params.ingest.window,
        "regions": params.ingest.regions,
        "memory": params.memory.model_dump(include=MEMORY_GRID),
    }
    ds.attrs.update(content_stamp(sections, inputs, root))

    summary = panel_summary(ds)
    summary["positions_blank_start"] = blank_start_positions(positions, params.panel)
    summary["events"] = int(ds["events"].sum())
    summary["events_outside_panel"] = int(ds.attrs["events_outside_panel"])
    summary["unit"] = str(ds.attrs["unit"])
    summary["events_not_located_as_counted"] = int((~counted).sum())
    summary |= cell_facts

    write_netcdf(root / PANEL, ds)
    write_json(root / PANEL_METRICS, summary)
    log.info(
        "panel: %d regions × %d periods (%s … %s), %d features, clash rate %.3f",
        summary["regions"],
        summary["periods"],
        summary["first_period"],
        summary["last_period"],
        len(summary["missing_share"]),
        summary["clash_rate"],
    )

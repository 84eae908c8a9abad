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

from model.config import Params
from model.data.memory import MEMORY_GRID, candidate_columns
from model.data.panel import blank_start_positions, build_panel, panel_summary
from model.errors import StageError
from model.io import write_json, write_netcdf
from model.paths import EVENTS, PANEL, PANEL_METRICS, POSITIONS
from model.provenance import content_stamp
from model.readers import read_positions, read_table

log = logging.getLogger(__name__)


def run(params: Params, root: Path) -> None:
    """Build the panel from the ingest outputs and write it with its metrics."""
    from model.data.regions import load_regions  # the regions module loads shapely and boundaries

    root = Path(root)
    events_path, positions_path = root / EVENTS, root / POSITIONS
    events = read_table(root, "events")
    positions = read_positions(root, params.ingest.positions is not None)
    regions = load_regions(params.ingest.regions, root)

    try:
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

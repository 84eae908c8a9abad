"""The ``evidence`` stage: the incidents and positions behind each region's proximity indicators.

Reads ``data/interim/events.parquet`` and ``positions.parquet`` (ingest), the panel's period grid
(``data/processed/panel.nc``) and the boundaries; writes ``reports/evidence.csv``: for every
region and proximity pair (``panel.proximity``), the closest opposing-side events of the
trailing window at the forecast origin (``forecast.origin``, default the panel's last period)
and the side's active positions, with date, actors, category and distance in km
(:mod:`model.reporting.evidence`). The report lists them for its top regions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from model import io
from model import readers as rd
from model.config import Params
from model.errors import StageError
from model.paths import EVIDENCE
from model.reporting.evidence import COLUMNS, proximity_evidence

log = logging.getLogger(__name__)

#: Closest events and positions listed per region and pair.
TOP = 5


def run(params: Params, root: Path) -> None:
    """Write ``reports/evidence.csv`` (see the module docstring)."""
    from model.data.regions import load_regions  # shapely and the boundaries

    root = Path(root)
    events = rd.read_table(root, "events")
    positions = rd.read_positions(root, params.ingest.positions is not None)
    if positions is None:
        positions = pd.DataFrame(columns=list(rd.TABLES["positions"]))
    panel = rd.read_panel(root)
    starts = pd.DatetimeIndex(panel["period"].values)
    ends = pd.DatetimeIndex(panel["period_end"].values)
    origin = params.forecast.origin
    t = (
        len(starts) - 1
        if origin is None
        else int(starts.searchsorted(pd.Timestamp(origin), "right")) - 1
    )
    if t < 0:
        raise StageError(f"forecast.origin {origin} is before the panel's first period")
    regions = load_regions(params.ingest.regions, root)
    names = [str(r) for r in panel["region"].values]
    out = proximity_evidence(
        events, positions, regions.geometry, names, params.panel.proximity,
        starts, ends, t, TOP,
    )  # fmt: skip
    io.write_csv(root / EVIDENCE, out[list(COLUMNS)])
    log.info("evidence: %d rows for %d pair(s) at %s", len(out), len(params.panel.proximity),
             starts[t].date())  # fmt: skip

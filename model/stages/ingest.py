"""The ``ingest`` stage: every source through its adapter (:func:`model.data.ingest.ingest`),
written.

Outputs (all written only after every source and the positions were read, each atomically):
``data/interim/events.parquet``, ``data/interim/positions.parquet``,
``data/interim/rejected.csv`` (one line per problem of each quarantined row) and
``reports/metrics/ingest.json``. Each is a function of the params and the raw files only (no
timing, git commit or machine in them), so that a re-run on equal inputs writes equal bytes and
DVC stops here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from model import io
from model.config import Params
from model.data.ingest import ingest, neutralised
from model.data.schema import empty_positions
from model.data.sources.actors import unmatched_warnings
from model.paths import EVENTS, INGEST_METRICS, POSITIONS, REJECTED
from model.provenance import content_stamp

log = logging.getLogger(__name__)


def run(params: Params, root: Path) -> None:
    """Run the ingest stage: read, check and write the four outputs.

    Parameters
    ----------
    params : Params
        The whole validated params file; the stage uses ``params.ingest``, and
        ``params.panel.clash.sides`` to warn of an unmatched actor bigger than a clash side.
    root : Path
        Project root: inputs are read and outputs written relative to it.

    Raises
    ------
    StageError
        A file-level problem (missing file or columns, empty or header-only file, bad
        boundaries or aliases). Nothing is written then; previous outputs stay as they were.
    """
    root = Path(root)
    ip = params.ingest
    t0 = time.perf_counter()
    also = " and the positions" if ip.positions else ""
    log.info("reading %d source(s)%s", len(ip.sources), also)
    events, positions, rejected, metrics = ingest(ip, root)
    for message in unmatched_warnings(metrics, params.panel.clash.sides):
        log.warning(message)
    inputs = [root / s.path for s in ip.sources] + [root / b.path for b in ip.regions.boundaries]
    attrs = content_stamp({"ingest": ip}, inputs, root)
    events.attrs = dict(attrs)
    if positions is None:  # DVC declares the file: write it, empty, when params name none
        positions = empty_positions()
    positions.attrs = dict(attrs)
    io.write_parquet(root / EVENTS, events)
    io.write_parquet(root / POSITIONS, positions)
    io.write_csv(root / REJECTED, neutralised(rejected))
    io.write_json(root / INGEST_METRICS, metrics)
    log.info(
        "ingest: %d events, %d positions, %d rows quarantined in %.1f s",
        metrics["events"],
        metrics["positions"],
        metrics["rejected_rows"],
        time.perf_counter() - t0,
    )

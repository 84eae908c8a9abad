"""Ingest: every source through its adapter into one validated event table, and one-file checks.

:func:`ingest` reads every source named in params and the positions, without writing anything:
the kept events (contract :data:`model.data.schema.EVENTS`), the positions, one row per problem of
each quarantined row and the metrics of ``reports/metrics/ingest.json``. :func:`validate_file`
checks a single raw file as ``ingest`` would, for ``clashcast validate``. The ``ingest`` stage
(:mod:`model.stages.ingest`) writes what :func:`ingest` returns.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from pathlib import Path

import pandas as pd

from model.config import IngestParams, SourceSpec, read_params
from model.data.regions import Regions, load_regions
from model.data.schema import EVENTS, REJECTED_COLUMNS, empty_events, validate
from model.data.sources.actors import side_coverage
from model.data.sources.common import SourceContext, SourceResult, located_counts
from model.data.sources.positions import read_positions
from model.data.sources.reading import neutralise_formula, printable
from model.errors import StageError
from model.provenance import params_hash

log = logging.getLogger(__name__)


def read_source(ctx: SourceContext) -> SourceResult:
    """Run the adapter for ``ctx.spec.format`` (``model.data.sources.<format>.read``)."""
    adapter = importlib.import_module(f"model.data.sources.{ctx.spec.format}")
    return adapter.read(ctx)


def neutralised(rejected: pd.DataFrame) -> pd.DataFrame:
    """``rejected`` with every text cell safe to open in a spreadsheet (see reading)."""
    out = rejected.copy()
    for c in ("source", "file", "field", "value", "reason"):
        out[c] = out[c].astype(object).map(neutralise_formula).astype("string")
    return out


def ingest(
    ip: IngestParams, root: Path, regions: Regions | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame, dict]:
    """Read every source and the positions, without writing anything.

    Parameters
    ----------
    ip : IngestParams
    root : Path
        Project root for the relative paths in ``ip``.
    regions : Regions, optional
        Already loaded regions (default: load ``ip.regions``).

    Returns
    -------
    events : DataFrame
        Kept events of every source (contract :data:`model.data.schema.EVENTS`), by date.
    positions : DataFrame or None
        Validated positions, None when params name no positions file.
    rejected : DataFrame
        One row per problem of each quarantined row (``source, file, line, field, value,
        reason``), the positions' included.
    metrics : dict
        The content of ``reports/metrics/ingest.json``, with the events located to a point or
        only to a region, the events and actors per side and the largest unmatched actors
        (:func:`model.data.sources.actors.side_coverage`).
    """
    regions = regions or load_regions(ip.regions, root)
    results = read_sources(ip, regions, root)
    parts = [r.events for r in results.values() if len(r.events)]
    events = pd.concat(parts, ignore_index=True) if parts else empty_events()
    events = events.sort_values(["date", "event_id"], kind="stable", ignore_index=True)
    events = validate(events, EVENTS)
    rejected = [r.rejected for r in results.values()]
    positions, pos_stats = None, None
    if ip.positions is not None:
        path = ip.positions if ip.positions.is_absolute() else root / ip.positions
        positions, pos_rej, pos_stats = read_positions(path, ip.positions.as_posix(), ip, regions)
        rejected.append(pos_rej)
    rej = (
        pd.concat(rejected, ignore_index=True)
        if rejected
        else pd.DataFrame(columns=REJECTED_COLUMNS)
    )
    metrics = {
        "sources": {name: r.stats for name, r in results.items()},
        "events": len(events),
        "located": located_counts(events),
        "positions": 0 if positions is None else len(positions),
        "rejected_rows": int(sum(r.stats["rows_rejected"] for r in results.values())),
        "params_hash": params_hash(ip),
        **side_coverage(events, ip.unknown_side),
    }
    if pos_stats is not None:
        metrics["positions_detail"] = pos_stats
    return events, positions, rej, metrics


def read_sources(ip: IngestParams, regions: Regions, root: Path) -> dict[str, SourceResult]:
    """Each source of params through its adapter, by source name (its reading time is logged,
    not stored: the metrics file is an output that DVC hashes)."""
    results: dict[str, SourceResult] = {}
    for spec in ip.sources:
        t0 = time.perf_counter()
        res = read_source(SourceContext(spec, ip, regions, root))
        log.info(
            "%s: %d read, %d kept, %d rejected in %.1f s",
            spec.name,
            res.stats["rows_read"],
            res.stats["rows_kept"],
            res.stats["rows_rejected"],
            time.perf_counter() - t0,
        )
        results[spec.name] = res
    return results


def _spec_for(path: Path, fmt: str, ip: IngestParams, root: Path) -> SourceSpec:
    """The params entry for ``path`` when there is one, else an ad-hoc one."""
    target = path.resolve()
    for spec in ip.sources:
        p = spec.path if spec.path.is_absolute() else root / spec.path
        if p.resolve() == target and spec.format == fmt:
            return spec
    side = None
    if fmt == "points":
        side = next((s.side for s in ip.sources if s.format == "points"), None) or "unknown"
    name = re.sub(r"[^A-Za-z0-9_\-]+", "_", path.stem) or "file"
    return SourceSpec(name=name, path=path, format=fmt, side=side)


def validate_file(
    path: Path, fmt: str, params_path: Path, limit: int = 20, root: Path | None = None
) -> int:
    """Check one raw file as ``ingest`` would and print its problems.

    Parameters
    ----------
    path : Path
        The file to check.
    fmt : str
        Its format: ``canonical``, ``ucdp_ged``, ``acled`` or ``points``.
    params_path : Path
        Params file whose ``ingest`` section (window, regions, sides, categories) applies.
        When it lists this file as a source, that entry (name, side) is used.
    limit : int
        Problems printed (as ``file:line: field=value: reason``) before ``... and N more``.
    root : Path, optional
        Project root for the paths in params (default: the working directory).

    Returns
    -------
    int
        1 when the file has any problem (file-level or row-level), else 0. Params errors
        propagate as :class:`~model.config.ParamsError` (the CLI exits 2).
    """
    root = Path(root) if root is not None else Path.cwd()
    params = read_params(params_path)
    ip = params.ingest
    spec = _spec_for(Path(path), fmt, ip, root)
    spec = spec.model_copy(update={"path": Path(path)})
    try:
        regions = load_regions(ip.regions, root)
        res = read_source(SourceContext(spec, ip, regions, root))
    except StageError as e:
        print(f"{e}")
        return 1
    rej = res.rejected
    for row in rej.head(limit).itertuples(index=False):
        print(f"{row.file}:{row.line}: {row.field}={printable(row.value)}: {row.reason}")
    if len(rej) > limit:
        print(f"... and {len(rej) - limit} more")
    s = res.stats
    reasons = ", ".join(f"{k} {v}" for k, v in s["reasons"].items()) or "none"
    print(
        f"{spec.path.as_posix()}: {s['rows_read']} rows read, {s['rows_kept']} kept, "
        f"{s['rows_rejected']} rejected ({reasons}); encoding {s['encoding']}"
    )
    return 1 if len(rej) else 0

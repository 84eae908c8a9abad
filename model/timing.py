"""How long each stage took: one run log, ``reports/metrics/timing.json``, that no stage declares.

``dvc.lock`` records the bytes of every output ``dvc.yaml`` declares. A wall-clock time in any of
them made each run rewrite the lock, and a fresh clone's ``make forecast`` leave ``git status``
dirty. So no declared output holds a time, the report and the headline included: the times go
here instead, each stage merging its own entry (:func:`record`), and people and benchmarks read
them (:func:`read`); no stage does. :func:`without_clock_attrs` takes the times that PyMC and
ArviZ put on a posterior's groups off it before it is written.

The file: ``{<stage>: {seconds, recorded, ...}}``: ``seconds`` is the wall time of
``clashcast <stage>``, ``recorded`` when (UTC) the entry was last written; ``fit`` adds
``sampling_seconds`` (the main fit's sampling call, compilation included) and
``ess_bulk_per_second``; ``backtest`` adds ``wall_seconds`` (the folds), ``workers``, ``folds``,
``fold_seconds`` and ``proximity_fold_seconds`` (per fold cutoff).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model import io
from model.paths import TIMING

if TYPE_CHECKING:
    import xarray as xr

#: Attributes that say when or how long: ``created_at`` and ``sampling_time`` (PyMC and ArviZ,
#: on every group) and ``sampling_seconds`` (:func:`model.inference.sampling.fit`, on the root).
CLOCK_ATTRS = ("created_at", "sampling_time", "sampling_seconds")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (where the OS has ``flock``), so that two stages
    running at once cannot drop each other's entry."""
    try:
        import fcntl
    except ImportError:  # Windows: stages of one `dvc repro` run one after another anyway
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read(root: Path | str) -> dict[str, Any]:
    """The run log of the project under ``root``, by stage; empty when no stage has written it
    (or it is not a JSON object)."""
    try:
        data = json.loads((Path(root) / TIMING).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(root: Path | str, stage: str, entry: Mapping[str, Any]) -> Path:
    """Merge ``entry`` into ``stage``'s entry of the run log, atomically, and stamp ``recorded``.

    The keys of ``entry`` replace the stage's keys of an earlier run; other stages' entries are
    kept. Returns the path of the log.
    """
    path = Path(root) / TIMING
    path.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    with _locked(path.parent):
        log = read(root)
        previous = log.get(stage) if isinstance(log.get(stage), dict) else {}
        log[stage] = {**previous, **entry, "recorded": now}
        return io.write_json(path, log)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def sampling(idata: xr.DataTree, ess_bulk_min: float) -> dict[str, float | None]:
    """The speed of a fit: ``sampling_seconds`` (from :func:`model.inference.sampling.fit`'s
    attribute) and ``ess_bulk_per_second`` (``ess_bulk_min`` over it); None where not measured."""
    seconds = float(idata.attrs.get("sampling_seconds", float("nan")))
    per_second = ess_bulk_min / seconds if seconds > 0 else float("nan")
    return {"sampling_seconds": _finite(seconds), "ess_bulk_per_second": _finite(per_second)}


def without_clock_attrs(tree: xr.DataTree) -> xr.DataTree:
    """A copy of ``tree`` whose nodes carry none of :data:`CLOCK_ATTRS`: the bytes written are
    then a function of the draws, not of when or how fast they were drawn."""
    out = tree.copy()
    for node in out.subtree:
        node.attrs = {k: v for k, v in node.attrs.items() if k not in CLOCK_ATTRS}
    return out

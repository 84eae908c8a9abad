"""Writing artefacts atomically: an output appears whole or not at all.

Every artefact is written to a temporary file beside its target and moved into place with
``os.replace`` (atomic on POSIX), so a stage killed mid-write leaves the previous output or
none, never a truncated file that a later stage would read. Netcdf files are written with the
h5netcdf engine; :mod:`model.readers` reads every artefact back.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    On any exception (or a signal turned into one) the temporary file is removed and the
    target is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs follow the umask
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_atomic(target: Path | str, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def write_text(target: Path | str, text: str) -> Path:
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes(target: Path | str, data: bytes) -> Path:
    return write_atomic(target, lambda p: p.write_bytes(data))


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(target: Path | str, obj: Any) -> Path:
    """Write JSON with sorted keys and a trailing newline (stable diffs, `dvc metrics`)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False)
    return write_text(target, text + "\n")


def write_netcdf(target: Path | str, obj: Any) -> Path:
    """Write an xarray Dataset or DataTree to netCDF (h5netcdf engine) atomically."""
    return write_atomic(target, lambda p: obj.to_netcdf(p, engine="h5netcdf"))


def write_parquet(target: Path | str, df: Any) -> Path:
    return write_atomic(target, lambda p: df.to_parquet(p, index=False))


def write_csv(target: Path | str, df: Any, **kwargs: Any) -> Path:
    return write_atomic(target, lambda p: df.to_csv(p, index=False, **kwargs))


@contextlib.contextmanager
def atomic_dir(target: Path | str) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; swap it in whole on success.

    A folder of outputs (figures) is written into the temporary folder, then the previous
    folder is moved aside and the new one renamed into place, so a reader sees the old set or
    the new set, never a mix. On failure the temporary folder is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

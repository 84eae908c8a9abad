"""The backtest's folds kept between runs, keyed by what each is a function of (issue 22).

A fold (:func:`model.backtesting.backtest.run_fold`, or a proximity comparison fold) is a pure
function of its cutoff and origins, its seed, the settings that reach it (:class:`FoldConfig`),
the panel up to the last week it reads (its last origin plus the horizon: the outcomes it is
scored on) and the code and packages that compute it. :func:`fold_key` hashes exactly those;
:class:`FoldCache` keeps each finished fold's result under its key in a folder
(``runtime.fold_cache``), so the weekly update (one more week of data) recomputes only the folds
whose key changed: the newest, whose origins or outcomes the new week reaches. A fold read back is
the object the task returned, so the stage's outputs are byte-identical to a run from an empty
cache. A fold that must run again because the new week added an origin to it (its cutoff, and so
its training data, unchanged) reads its posterior back from ``fits/`` (:func:`fit_key`) and only
forecasts: the weekly update samples nothing but the folds whose cutoff is new.

The panel is hashed without its provenance attributes (``window_*``, ``events_*``,
``params_hash_*``, ``input_sha256:*``): they describe the whole window (the input files' hashes,
the count of events outside it) and change with every new week, but no fold reads them; every
other attribute, data variable and coordinate enters the key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from model.provenance import code_sha256, package_versions

if TYPE_CHECKING:
    from model.backtesting.backtest import Fold, FoldConfig
    from model.config import FitParams, ModelParams

#: Panel attributes that describe the run's provenance or the whole window, not what a fold
#: computes from (prefixes).
PROVENANCE_ATTRS = ("window_", "events_", "params_hash_", "input_sha256:")
#: Bumped when the layout of a cached result changes.
FORMAT = 1


def _array_digest(h: Any, name: str, a: xr.DataArray | xr.Variable) -> None:
    values = np.asarray(a.values)
    if values.dtype.kind in "OUS":
        blob = "\0".join(map(str, values.ravel().tolist())).encode()
    else:
        blob = np.ascontiguousarray(values).tobytes()
    head = {"name": name, "dims": list(a.dims), "dtype": str(values.dtype), "shape": values.shape}
    h.update(json.dumps(head, default=str).encode())
    h.update(hashlib.sha256(blob).digest())


def panel_digest(panel: xr.Dataset, last: pd.Timestamp | None = None) -> str:
    """SHA-256 of the panel's periods up to ``last`` (all when None): every data variable and
    coordinate, and the attributes but the provenance ones (:data:`PROVENANCE_ATTRS`)."""
    if last is not None:
        panel = panel.sel(period=slice(None, pd.Timestamp(last)))
    h = hashlib.sha256()
    for name in sorted(map(str, panel.coords)):
        _array_digest(h, f"coord:{name}", panel.coords[name].variable)
    for name in sorted(map(str, panel.data_vars)):
        _array_digest(h, name, panel[name].variable)
    attrs = {str(k): v for k, v in panel.attrs.items() if not str(k).startswith(PROVENANCE_ATTRS)}
    h.update(json.dumps(attrs, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _config_json(config: FoldConfig) -> dict[str, Any]:
    return {
        "model": config.model.model_dump(mode="json"),
        "fit": config.fit.model_dump(mode="json"),
        "rates": asdict(config.rates),
        "proximity_worth": config.proximity_worth,
        "proximity_refit_every": config.proximity_refit_every,
        "candidates": list(config.candidates),
    }


def fold_key(kind: str, panel: xr.Dataset, fold: Fold, config: FoldConfig, code: str) -> str:
    """The content hash a fold's result is kept under: ``kind`` (``fold`` or ``proximity``),
    the fold (cutoff, origins, seed), its settings, the panel up to its last origin plus the
    horizon, and ``code`` (:func:`code_digest`)."""
    periods = pd.DatetimeIndex(panel["period"].values)
    last_at = periods.get_loc(pd.Timestamp(max(fold.origins))) + config.model.horizon
    last = periods[min(last_at, len(periods) - 1)]
    what = {
        "format": FORMAT,
        "kind": kind,
        "cutoff": fold.cutoff.isoformat(),
        "origins": [pd.Timestamp(o).isoformat() for o in fold.origins],
        "seed": int(fold.seed),
        "config": _config_json(config),
        "code": code,
        "panel": panel_digest(panel, last),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def fit_key(panel: xr.Dataset, fold: Fold, mp: ModelParams, fit: FitParams, code: str) -> str:
    """The content hash a fold's posterior is kept under: what the fit reads (the panel up to
    the cutoff, the model and fit settings, the cutoff and seed) and ``code``. A fold whose
    origins grew by the new week keeps its posterior and forecasts the new origin from it."""
    what = {
        "format": FORMAT,
        "cutoff": fold.cutoff.isoformat(),
        "seed": int(fold.seed),
        "model": mp.model_dump(mode="json"),
        "fit": fit.model_dump(mode="json"),
        "code": code,
        "panel": panel_digest(panel, fold.cutoff),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def code_digest() -> str:
    """The backtest stage's code (:func:`model.provenance.code_sha256`) and the packages that
    compute a fold (the sampler's draws depend on them)."""
    versions = json.dumps(package_versions(), sort_keys=True)
    return hashlib.sha256((code_sha256("backtest") + versions).encode()).hexdigest()


class FoldCache:
    """Finished folds (or, in its ``fits`` folder, the folds' posteriors) in ``folder``, one file
    per key (written whole or not at all)."""

    def __init__(self, folder: Path | str, code: str | None = None) -> None:
        self.folder = Path(folder)
        self.code = code_digest() if code is None else code
        self.reused: list[str] = []

    def key(self, kind: str, panel: xr.Dataset, fold: Fold, config: FoldConfig) -> str:
        return fold_key(kind, panel, fold, config, self.code)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pkl"

    def get(self, key: str) -> Any:
        """The result kept under ``key``, or None (a file that cannot be read is a miss)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return None

    def put(self, key: str, result: Any) -> None:
        """Keep ``result`` under ``key``: written to a temporary file, then renamed."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

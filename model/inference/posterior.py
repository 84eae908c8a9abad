"""The fitted-posterior file: what it records of its making, and the refusal of a mismatched one.

:func:`save_idata` writes the posterior with the configuration it was fitted with stamped on
the root, as pymc-marketing stamps its model config: ``model_config`` (the ``model`` section of
params, as JSON) and ``fit_config`` (the ``fit`` section), besides the params hashes, versions,
the SHA-256 of the fit stage's code and the panel's SHA-256 (:func:`posterior_attrs`), and
without the times PyMC and ArviZ stamp on its groups (those are in the run log,
:mod:`model.timing`). :func:`load_idata` refuses a file
whose attributes differ from what the caller expects (:func:`expected_attrs`: fitted with other
model params or to another panel), naming each difference down to the params key.

No PyMC here: the forecast stage and the report read posteriors without importing a sampler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from model import io
from model.config import Params
from model.data.memory import effective_params
from model.paths import PANEL
from model.provenance import file_sha256, stamp
from model.readers import typed_idata
from model.timing import without_clock_attrs


class ProvenanceMismatch(ValueError):
    """A stored posterior does not belong to the current inputs or params."""


def config_json(section: Any) -> str:
    """A params section as canonical JSON (sorted keys), the form stamped on the posterior."""
    data = section.model_dump(mode="json") if hasattr(section, "model_dump") else section
    return json.dumps(data, sort_keys=True, default=str)


def expected_attrs(params: Params, root: Path) -> dict[str, str]:
    """What a posterior must carry to be used: the model section (with the offset the
    backtest chose, :func:`model.data.memory.effective_params`) and the panel's bytes."""
    model = effective_params(params, root).model
    return {
        "model_config": config_json(model),
        f"input_sha256:{PANEL.as_posix()}": file_sha256(Path(root) / PANEL),
    }


def posterior_attrs(params: Params, root: Path) -> dict[str, str]:
    """Everything the fit stage stamps: :func:`expected_attrs`, the fit section, provenance."""
    return (
        stamp({"model": params.model, "fit": params.fit}, stage="fit")
        | {"fit_config": config_json(params.fit)}
        | expected_attrs(params, root)
    )


def _compact(idata: xr.DataTree) -> xr.DataTree:
    """Store the big per-row groups compactly (float32 log-likelihood, int8 outcomes)."""
    out = idata.copy()
    for group in ("log_likelihood",):
        if group in out.children:
            ds = out[group].to_dataset()
            out[group] = xr.DataTree(ds.astype(np.float32), name=group)
    for group in ("prior_predictive", "posterior_predictive", "observed_data"):
        if group in out.children:
            ds = out[group].to_dataset()
            ints = {k: v.astype(np.int8) for k, v in ds.data_vars.items() if v.dtype.kind in "iub"}
            out[group] = xr.DataTree(ds.assign(ints), name=group)
    return out


def save_idata(idata: xr.DataTree, path: Path | str, attrs: Mapping[str, str]) -> Path:
    """Write ``idata`` to netCDF atomically with provenance ``attrs`` on the root.

    Parameters
    ----------
    idata : xarray.DataTree
    path : path-like
    attrs : mapping of str to str
        Usually :func:`posterior_attrs` plus the gate's verdict.
    """
    out = without_clock_attrs(_compact(idata))
    out.attrs = {**out.attrs, **{str(k): str(v) for k, v in attrs.items()}}
    return io.write_netcdf(path, out)


def _config_difference(name: str, got: str, expected: str) -> str:
    """``name: key: file has X, expected Y; …`` for two JSON configs (whole values otherwise)."""
    try:
        a, b = json.loads(got), json.loads(expected)
    except ValueError:
        a = b = None
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return f"{name}: file has {got!r}, expected {expected!r}"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{name}.{k}: file has {a.get(k)!r}, expected {b.get(k)!r}" for k in keys)


def _mismatches(attrs: Mapping[str, Any], expect: Mapping[str, str]) -> list[str]:
    problems = []
    for k, v in expect.items():
        got = attrs.get(k)
        if got is None:
            problems.append(f"{k}: missing (expected {v!r})")
        elif str(got) != str(v):
            if k.endswith("_config"):
                problems.append(_config_difference(k, str(got), str(v)))
            else:
                problems.append(f"{k}: file has {got!r}, expected {v!r}")
    return problems


def load_idata(path: Path | str, expect: Mapping[str, str] | None = None) -> xr.DataTree:
    """Read a posterior written by :func:`save_idata`, refusing a provenance mismatch.

    The one reader of ``idata.nc``: its declared groups are checked and its outcome cast to
    integers (:func:`model.readers.typed_idata`).

    Parameters
    ----------
    path : path-like
    expect : mapping of str to str, optional
        Attributes the file must carry with exactly these values; a ``*_config`` attribute
        that differs is reported key by key.

    Raises
    ------
    FileNotFoundError
        No such file.
    ProvenanceMismatch
        An expected attribute is missing or differs; the message names each one.
    model.errors.StageError
        A declared group is missing, or the outcome holds values other than whole numbers.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no fitted posterior (run `clashcast fit`)")
    idata = xr.open_datatree(path, engine="h5netcdf").load()
    idata.close()
    idata = typed_idata(idata)
    problems = _mismatches(idata.attrs, expect or {})
    if problems:
        raise ProvenanceMismatch(
            f"{path} was fitted to other inputs or params; refit (`clashcast fit`). "
            + "; ".join(problems)
        )
    return idata

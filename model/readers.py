"""One typed reader per pipeline artefact: the declared names and dtypes, or a loud refusal.

Every artefact of :data:`model.paths.ARTEFACTS` that a stage, the report or a notebook reads is
read here, except the posterior, whose reader is :func:`model.inference.posterior.load_idata` (it
also refuses a posterior fitted to other params or another panel). A reader checks that the file
holds the columns, variables, keys or attributes declared for it below and casts the declared
dtypes: an outcome is an integer, whatever dtype the file kept it in. A missing name is a
:class:`~model.errors.StageError` naming the file, the name and the stage that writes it.
Nothing is guessed and nothing recomputed: what a caller needs, the stage that computes it
writes under a declared name (``forecast.nc`` carries the forecast at the previous origin and
the level breakdown, :mod:`model.inference.forecast_context`).

Text columns stay in the string dtype pandas reads them with (``str`` only casts numbers read
as numbers); dates are parsed; integers are cast only when the values are whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from model import paths
from model.data.panel_facts import FACT_ATTRS, PanelFacts
from model.errors import StageError
from model.inference import equation as eq

STR, INT, INT8, FLOAT, DATE = "str", "int64", "int8", "float64", "datetime64"

#: Names the forecast stage writes into ``forecast.nc`` (dims ``region, horizon, draw`` for the
#: draws, ``region`` for the rest) and the attributes that say what they hold.
P, P_ANY_WITHIN = "p", "p_any_within"
PREVIOUS_STEP1, PREVIOUS_ANY = "previous_p_step1", "previous_p_any_within"
LEVEL, LEVEL_RECENT, LEVEL_LONG_RUN = "level", "level_recent", "level_long_run"
ORIGIN, PREVIOUS_ORIGIN, OFFSET = "origin", "previous_origin", "offset"
LEVEL_HALF_LIFE, LEVEL_LONG_HALF_LIFE = "level_half_life", "level_long_half_life"
#: The posterior's constant data that standardise the features, and its outcome.
X_MEAN, X_SCALE, OUTCOME = eq.X_MEAN, eq.X_SCALE, eq.OBSERVED
#: Groups every posterior file holds, and those that may hold the outcome.
IDATA_GROUPS = ("posterior", "constant_data")
OUTCOME_GROUPS = ("observed_data", "prior_predictive", "posterior_predictive")

#: Declared variables of the panel (besides its features, which its attributes name).
PANEL_VARIABLES: dict[str, str] = {"clash": INT, "clash_any": INT8, "events": INT}

#: Declared columns and dtypes of each table artefact (more columns may follow).
TABLES: dict[str, dict[str, str]] = {
    "events": {
        "event_id": STR, "date": DATE, "country": STR, "region": STR, "region_id": STR,
        "latitude": FLOAT, "longitude": FLOAT, "actor1": STR, "actor2": STR, "side1": STR,
        "side2": STR, "category": STR, "fatalities": INT, "source_dataset": STR,
        "source_row": STR, "placed_by": STR, "located": STR, "place": STR,
    },
    "positions": {
        "side": STR, "name": STR, "kind": STR, "latitude": FLOAT, "longitude": FLOAT,
        "start_date": DATE, "end_date": DATE,
    },
    "rejected": {
        "source": STR, "file": STR, "line": INT, "field": STR, "value": STR, "reason": STR,
    },
    "forecast": {
        "origin": DATE, "region": STR, "country": STR, "horizon": INT, "period_start": DATE,
        "p_mean": FLOAT, "p_median": FLOAT, "p_q05": FLOAT, "p_q95": FLOAT,
        "p_any_within_horizon": FLOAT, "p_any_q05": FLOAT, "p_any_q95": FLOAT, "rank": INT,
    },
    "scenarios": {
        "scenario": STR, "description": STR, "region": STR, "country": STR, "horizon": INT,
        "p_baseline_mean": FLOAT, "p_scenario_mean": FLOAT, "diff_mean": FLOAT,
        "diff_q05": FLOAT, "diff_q95": FLOAT, "p_scenario_gt_baseline": FLOAT,
    },
    "evidence": {
        "region": STR, "pair": STR, "kind": STR, "date": STR, "name": STR, "actor1": STR,
        "actor2": STR, "category": STR, "side": STR, "distance_km": FLOAT, "nearest": STR,
        "source_row": STR,
    },
    "predictions": {"origin": DATE, "region": STR, "horizon": INT, "y": INT8, "model": FLOAT},
    "within": {"origin": DATE, "region": STR, "y": INT8, "model": FLOAT},
    "reliability": {"bin": INT, "forecast_mean": FLOAT, "observed_rate": FLOAT, "count": INT},
    "reliability_within": {
        "bin": INT, "forecast_mean": FLOAT, "observed_rate": FLOAT, "count": INT,
    },
    "backtest_scores": {"origin": DATE, "brier": FLOAT},
    # then one column per candidate memory (model.backtesting.memory)
    "candidates": {"origin": DATE, "region": STR, "horizon": INT},
}  # fmt: skip

#: Declared top-level keys of each JSON artefact (more keys may follow).
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "ingest": ("sources",),
    "panel_metrics": ("regions", "periods", "clash_rate", "missing_share"),
    "diagnostics": ("gate", "failed_checks"),
    "backtest": ("windows",),
    "memory": ("offset", "auto"),
    "headline": ("gate",),
}


def refusal(key: str, problem: str) -> StageError:
    """The error for a malformed artefact: its path, the problem and the stage to rerun."""
    artefact = paths.ARTEFACTS[key]
    return StageError(
        f"{artefact.path}: {problem} (written by the {artefact.stage} stage; "
        f"rerun `dvc repro {artefact.stage}`)"
    )


def artefact_path(root: Path | str, key: str) -> Path:
    """``root / path`` of the artefact ``key``; a :class:`StageError` naming its stage if absent."""
    return paths.require(Path(root), paths.ARTEFACTS[key].path, key.replace("_", " "))


def _cast(values: Any, dtype: str, where: Callable[[str], StageError]) -> Any:
    """``values`` (Series or DataArray) as ``dtype``; integers only when the values are whole."""
    kind = values.dtype.kind
    if dtype == STR:
        if kind in "OUST" or pd.api.types.is_string_dtype(values.dtype):
            return values
        return values.astype(object).where(values.isnull(), values.astype(str))
    if dtype == DATE:
        return values if kind == "M" else pd.to_datetime(values)
    if values.dtype == np.dtype(dtype):
        return values
    if np.dtype(dtype).kind in "iu" and not np.isfinite(np.asarray(values, dtype=float)).all():
        raise where(f"holds missing or infinite values ({dtype} declared)")
    try:
        out = values.astype(dtype)
    except (TypeError, ValueError) as e:
        raise where(f"is not {dtype} ({e})") from None
    if np.dtype(dtype).kind in "iu" and not np.array_equal(
        np.asarray(out, dtype=float), np.asarray(values, dtype=float)
    ):
        raise where(f"holds values that are not whole numbers ({dtype} declared)")
    return out


def typed_table(key: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the declared columns of ``key`` checked and cast (:data:`TABLES`)."""
    declared = TABLES[key]
    lacking = [c for c in declared if c not in df.columns]
    if lacking:
        raise refusal(key, f"missing columns {lacking}")
    df = df.copy()
    for column, dtype in declared.items():
        df[column] = _cast(df[column], dtype, lambda p, c=column: refusal(key, f"column {c} {p}"))
    return df


def read_table(root: Path | str, key: str) -> pd.DataFrame:
    """A CSV or Parquet artefact with its declared columns (:data:`TABLES`)."""
    path = artefact_path(root, key)
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as e:  # pyarrow and the CSV parser raise several types for a damaged file
        raise refusal(key, f"cannot be read: {e}") from e
    return typed_table(key, df)


def read_json(root: Path | str, key: str) -> dict[str, Any]:
    """A JSON artefact with its declared top-level keys (:data:`JSON_KEYS`)."""
    path = artefact_path(root, key)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise refusal(key, f"cannot be read: {e}") from e
    lacking = [k for k in JSON_KEYS[key] if not isinstance(doc, dict) or k not in doc]
    if lacking:
        raise refusal(key, f"missing keys {lacking}")
    return doc


def read_dataset(path: Path | str) -> xr.Dataset:
    """A netCDF file written by :func:`model.io.write_netcdf`, loaded into memory."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def _read_netcdf(root: Path | str, key: str) -> xr.Dataset:
    path = artefact_path(root, key)
    try:
        return read_dataset(path)
    except (OSError, ValueError) as e:
        raise refusal(key, f"cannot be read: {e}") from e


def read_panel(root: Path | str) -> xr.Dataset:
    """The panel (``data/processed/panel.nc``) with its facts (:class:`PanelFacts`), declared
    variables (:data:`PANEL_VARIABLES`) and features."""
    ds = _read_netcdf(root, "panel")
    lacking_attrs = [a for a in FACT_ATTRS if a not in ds.attrs]
    if lacking_attrs:
        raise refusal("panel", f"missing attributes {lacking_attrs}")
    features = PanelFacts.from_attrs(ds).feature_names
    lacking = [v for v in (*PANEL_VARIABLES, *features) if v not in ds.data_vars]
    if lacking:
        raise refusal("panel", f"missing variables {lacking}")
    for name, dtype in PANEL_VARIABLES.items():
        ds[name] = _cast(ds[name], dtype, lambda p, n=name: refusal("panel", f"variable {n} {p}"))
    return ds


def read_positions(root: Path | str, configured: bool) -> pd.DataFrame | None:
    """The positions (``data/interim/positions.parquet``), or None when there are none and
    params name none (``configured`` False)."""
    if not configured and not (Path(root) / paths.POSITIONS).exists():
        return None
    return read_table(root, "positions")


@dataclass(frozen=True)
class ForecastFile:
    """``forecast.nc``, read: the draws and what the forecast stage computed around them.

    Attributes
    ----------
    p, within : xr.DataArray
        P(clash) and P(any clash in steps 1..horizon) draws, dims ``(region, horizon, draw)``.
    origin : pd.Timestamp
    previous_origin : pd.Timestamp or None
        The period before the origin, where the stage forecast again; None when it could not.
    previous_step1, previous_any : pd.Series or None
        P(clash) at step 1 and P(any clash within H) from there, posterior means by region.
    offset : str or None
        The model's offset variable (None without one).
    levels : pd.DataFrame or None
        Where each region's forecast starts (``[recent, long_run,] level``, by region; attrs
        ``half_life`` and ``long_half_life`` for a ``clash_level_hl{h}`` offset).
    """

    p: xr.DataArray
    within: xr.DataArray
    origin: pd.Timestamp
    previous_origin: pd.Timestamp | None
    previous_step1: pd.Series | None
    previous_any: pd.Series | None
    offset: str | None
    levels: pd.DataFrame | None


def _by_region(ds: xr.Dataset, name: str) -> pd.Series:
    return ds[name].to_series().rename(index=str)


def _levels(ds: xr.Dataset) -> pd.DataFrame:
    """The level breakdown: ``level`` always, ``recent`` and ``long_run`` when the stage wrote
    them for a ``clash_level_hl{h}`` offset (its attributes say so)."""
    out = pd.DataFrame({"level": _by_region(ds, LEVEL)})
    if LEVEL_HALF_LIFE in ds.attrs:
        out.insert(0, "recent", _by_region(ds, LEVEL_RECENT))
        out.insert(1, "long_run", _by_region(ds, LEVEL_LONG_RUN))
        out.attrs = {
            "half_life": float(ds.attrs[LEVEL_HALF_LIFE]),
            "long_half_life": float(ds.attrs[LEVEL_LONG_HALF_LIFE]),
        }
    return out


def _forecast_names(ds: xr.Dataset) -> tuple[list[str], list[str]]:
    """The variables and attributes ``forecast.nc`` must carry, given what it says it holds."""
    names = [P, P_ANY_WITHIN, PREVIOUS_STEP1, PREVIOUS_ANY]
    attrs = [ORIGIN, PREVIOUS_ORIGIN, OFFSET]
    if ds.attrs.get(OFFSET):
        names.append(LEVEL)
    if LEVEL_HALF_LIFE in ds.attrs:
        names += [LEVEL_RECENT, LEVEL_LONG_RUN]
        attrs.append(LEVEL_LONG_HALF_LIFE)
    return names, attrs


def read_forecast_nc(root: Path | str) -> ForecastFile:
    """``data/forecast/forecast.nc`` with its declared variables and attributes."""
    ds = _read_netcdf(root, "forecast_nc")
    names, attrs = _forecast_names(ds)
    lacking = [a for a in attrs if a not in ds.attrs] + [n for n in names if n not in ds]
    if lacking:
        raise refusal("forecast_nc", f"missing variables or attributes {lacking}")
    draws = {}
    for name in (P, P_ANY_WITHIN):
        if set(ds[name].dims) != {"region", "horizon", "draw"}:
            raise refusal(
                "forecast_nc", f"{name} has dims {ds[name].dims}, not region, horizon, draw"
            )
        draws[name] = ds[name].transpose("region", "horizon", "draw")
    previous = str(ds.attrs[PREVIOUS_ORIGIN])
    offset = str(ds.attrs[OFFSET]) or None
    return ForecastFile(
        p=draws[P],
        within=draws[P_ANY_WITHIN],
        origin=pd.Timestamp(ds.attrs[ORIGIN]),
        previous_origin=pd.Timestamp(previous) if previous else None,
        previous_step1=_by_region(ds, PREVIOUS_STEP1) if previous else None,
        previous_any=_by_region(ds, PREVIOUS_ANY) if previous else None,
        offset=offset,
        levels=_levels(ds) if offset else None,
    )


#: The reader of each artefact the report and the notebooks load (the posterior's is
#: :func:`model.inference.posterior.load_idata`, which needs the params it must match).
READERS: dict[str, Callable[[Path], Any]] = {
    **{key: (lambda root, k=key: read_table(root, k)) for key in TABLES},
    **{key: (lambda root, k=key: read_json(root, k)) for key in JSON_KEYS},
    "panel": read_panel,
    "forecast_nc": read_forecast_nc,
}


def read(root: Path | str, key: str) -> Any:
    """The artefact ``key`` of the run under ``root``, by its reader (:data:`READERS`)."""
    return READERS[key](Path(root))


def typed_idata(idata: xr.DataTree) -> xr.DataTree:
    """A loaded posterior checked for its declared groups (:data:`IDATA_GROUPS`), with the
    outcome :data:`OUTCOME` as ``int8`` wherever it is kept (PyMC stores the observed 0/1
    outcomes as floats); :func:`model.inference.posterior.load_idata` applies it."""
    lacking = [g for g in IDATA_GROUPS if g not in idata.children]
    if lacking:
        raise refusal("idata", f"missing groups {lacking}")
    for group in OUTCOME_GROUPS:
        if group in idata.children and OUTCOME in idata[group].data_vars:
            ds = idata[group].to_dataset()
            where = f"{group}/{OUTCOME}"
            ds[OUTCOME] = _cast(ds[OUTCOME], INT8, lambda p, w=where: refusal("idata", f"{w} {p}"))
            idata[group] = xr.DataTree(ds, name=group)
    return idata

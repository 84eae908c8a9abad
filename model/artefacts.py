"""One loader of a pipeline run's artefacts, for the report stage and the notebooks.

:func:`load_run` reads every artefact that ``docs/interfaces.md`` defines from a project root
into one :class:`Run`. The artefacts without which no honest report can be written (the panel,
the posterior, the forecast table and the diagnostics verdict) are required: a missing one is a
:class:`~model.errors.StageError` naming the file and the stage that makes it. The rest (the
backtest, scenarios, forecast draws, ingest metrics, events, PROVENANCE.md) are optional and a
missing one is listed in ``Run.missing`` so that the report can say "not run".

It also derives the few quantities that the report and the notebooks both need from a run
(P(any clash within H) from the joint draws, the forecast at the previous origin, each
feature's contribution to a region's risk). Nothing here imports matplotlib or jinja2.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from model import feature_names as fn
from model import paths
from model.config import Params, RegionsSpec, read_params
from model.errors import StageError
from model.io import read_dataset
from model.provenance import file_sha256
from model.standardise import fit_scaling, standardised

log = logging.getLogger(__name__)

#: What a run loads, by key of :data:`model.paths.ARTEFACTS` (``provenance_md`` is shipped with
#: the data), and whether the report can be written without it.
LOADED: dict[str, bool] = {
    "panel": True,
    "idata": True,
    "diagnostics": True,
    "forecast": True,
    "forecast_nc": False,
    "scenarios": False,
    "backtest": False,
    "predictions": False,
    "within": False,
    "reliability": False,
    "backtest_scores": False,
    "ingest": False,
    "panel_metrics": False,
    "events": False,
    "evidence": False,
    "provenance_md": False,
}


def _where(key: str) -> tuple[Path, str]:
    """The path of a loaded artefact and the stage that makes it."""
    if key == "provenance_md":
        return paths.PROVENANCE_MD, "(shipped with the data)"
    artefact = paths.ARTEFACTS[key]
    return artefact.path, artefact.stage


FORECAST_COLUMNS = (
    "origin",
    "region",
    "country",
    "horizon",
    "period_start",
    "p_mean",
    "p_median",
    "p_q05",
    "p_q95",
    "p_any_within_horizon",
    "p_any_q05",
    "p_any_q95",
    "rank",
)


@dataclass
class Run:
    """Everything one pipeline run produced, loaded into memory.

    Attributes
    ----------
    root : Path
        The project root the artefacts were read from.
    params : Params
        The validated params the run was made with (``root/params.yaml`` unless given).
    panel : xr.Dataset
        Region × period panel.
    idata : xr.DataTree
        Posterior (and prior, sample stats, log-likelihood, observed and constant data).
    diagnostics : dict
        ``reports/metrics/diagnostics.json``.
    forecast : DataFrame
        ``reports/forecast.csv``, one row per region and step.
    forecast_draws : xr.DataArray or None
        P(clash) draws, dims ``(region, horizon, draw)``, from ``forecast.nc``.
    forecast_within : xr.DataArray or None
        P(any clash in steps 1..horizon) draws, the same dims, from ``forecast.nc``.
    scenarios, predictions, within, reliability, backtest_scores, events : DataFrame or None
    evidence : DataFrame or None
        ``reports/evidence.csv``: the incidents behind each region's proximity indicators.
    backtest, ingest, panel_metrics : dict or None
    provenance_md : str or None
        The text of ``data/raw/PROVENANCE.md``.
    geometry : dict
        Region name -> shapely geometry (lon/lat), from the boundaries in params.
    hashes : dict
        Relative path -> SHA-256 of every artefact that was read.
    missing : dict
        Artefact key -> a sentence saying which file is absent and which stage makes it.
    """

    root: Path
    params: Params
    panel: xr.Dataset
    idata: xr.DataTree
    diagnostics: dict[str, Any]
    forecast: pd.DataFrame
    forecast_draws: xr.DataArray | None = None
    forecast_within: xr.DataArray | None = None
    scenarios: pd.DataFrame | None = None
    backtest: dict[str, Any] | None = None
    predictions: pd.DataFrame | None = None
    within: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    backtest_scores: pd.DataFrame | None = None
    ingest: dict[str, Any] | None = None
    panel_metrics: dict[str, Any] | None = None
    events: pd.DataFrame | None = None
    evidence: pd.DataFrame | None = None
    provenance_md: str | None = None
    geometry: dict[str, Any] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> pd.Timestamp:
        """The forecast origin (the last period whose data the forecast used)."""
        return pd.Timestamp(self.forecast["origin"].iloc[0])

    @property
    def horizon(self) -> int:
        return int(self.forecast["horizon"].max())

    @property
    def regions(self) -> list[str]:
        return [str(r) for r in self.panel["region"].values]

    @property
    def gate_failed(self) -> bool:
        return str(self.diagnostics.get("gate", "")).lower() != "pass"


def _read(key: str, path: Path) -> Any:
    if key in ("panel", "forecast_nc"):
        return read_dataset(path)
    if key == "idata":
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return tree.load()
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return path.read_text(encoding="utf-8")


def forecast_draws_from(ds: xr.Dataset) -> xr.DataArray | None:
    """The P(clash) draws in ``forecast.nc``: the first variable with dims region, horizon, draw."""
    preferred = [v for v in ("p", "p_clash", "p_draws") if v in ds.data_vars]
    for name in [*preferred, *ds.data_vars]:
        da = ds[name]
        if {"region", "horizon", "draw"} <= set(da.dims):
            extra = [d for d in da.dims if d not in ("region", "horizon", "draw")]
            if extra:  # e.g. chain × draw: flatten to one sample dim
                da = da.transpose("region", "horizon", *extra, "draw")
                values = da.values.reshape(da.sizes["region"], da.sizes["horizon"], -1)
                coords = {k: da.coords[k] for k in ("region", "horizon") if k in da.coords}
                da = xr.DataArray(values, dims=("region", "horizon", "draw"), coords=coords)
            return da.transpose("region", "horizon", "draw")
    return None


def _check_forecast(df: pd.DataFrame, path: Path, regions: list[str]) -> pd.DataFrame:
    lacking = [c for c in FORECAST_COLUMNS if c not in df.columns]
    if lacking:
        raise StageError(f"{path}: missing columns {lacking} (see docs/interfaces.md)")
    absent = sorted(set(regions) - set(df["region"].astype(str)))
    if absent:
        raise StageError(f"{path}: no forecast rows for regions {absent}")
    df = df.copy()
    df["region"] = df["region"].astype(str)
    df["origin"] = pd.to_datetime(df["origin"])
    df["period_start"] = pd.to_datetime(df["period_start"])
    return df


def load_geometry(spec: RegionsSpec, root: Path) -> dict[str, Any]:
    """Region name -> shapely geometry from the boundary files in params (``model.regions``)."""
    try:
        from model.regions import load_regions
    except ImportError:  # pragma: no cover - regions module always ships with the package
        load_regions = None
    if load_regions is not None:
        return dict(load_regions(spec, root).geometry)
    from shapely.geometry import shape

    out: dict[str, Any] = {}
    for b in spec.boundaries:
        data = json.loads((root / b.path).read_text(encoding="utf-8"))
        for feat in data.get("features", []):
            out[str(feat["properties"][b.name_property])] = shape(feat["geometry"])
    return out


def load_run(
    root: Path | str = ".", params: Params | None = None, *, skip: Collection[str] = ()
) -> Run:
    """Read a run's artefacts under ``root`` into a :class:`Run`.

    Parameters
    ----------
    root : path
        Project root; artefact paths are the fixed ones of ``docs/interfaces.md``.
    params : Params, optional
        Validated params; read from ``root/params.yaml`` when not given.
    skip : collection of str
        Optional artefacts (keys of :data:`LOADED`) not to read at all, e.g. the events for
        the report, which does not show them; they are neither loaded nor listed as missing.

    Raises
    ------
    StageError
        A required artefact is missing or malformed (the message names it and its stage).
    """
    root = Path(root)
    if params is None:
        params = read_params(root / "params.yaml")
    loaded: dict[str, Any] = {}
    missing: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for key, required in LOADED.items():
        if key in skip and not required:
            continue
        rel, stage = _where(key)
        path = root / rel
        if not path.exists():
            msg = f"{rel} not found (made by the {stage} stage)"
            if required:
                raise StageError(f"{msg}; run `dvc repro {stage}` first")
            missing[key] = msg
            continue
        try:
            loaded[key] = _read(key, path)
        except (OSError, ValueError, KeyError) as e:
            raise StageError(f"{rel}: could not be read: {e}") from e
        hashes[rel.as_posix()] = file_sha256(path)
    regions = [str(r) for r in loaded["panel"]["region"].values]
    loaded["forecast"] = _check_forecast(loaded["forecast"], root / paths.FORECAST_CSV, regions)
    if "forecast_nc" in loaded:
        ds = loaded.pop("forecast_nc")
        loaded["forecast_draws"] = forecast_draws_from(ds)
        if "p_any_within" in ds:
            loaded["forecast_within"] = ds["p_any_within"].transpose("region", "horizon", "draw")
    try:
        geometry = load_geometry(params.ingest.regions, root)
    except (OSError, ValueError, KeyError, StageError) as e:
        geometry = {}
        missing["geometry"] = f"region boundaries could not be read: {e}"
    return Run(
        root=root, params=params, geometry=geometry, hashes=hashes, missing=missing, **loaded
    )


def input_hashes(run: Run) -> dict[str, str]:
    """SHA-256 of the raw inputs as stamped on the panel and posterior (``input_sha256:*``)."""
    out: dict[str, str] = {}
    for attrs in (run.panel.attrs, run.idata.attrs):
        for k, v in attrs.items():
            if k.startswith("input_sha256"):
                out[re.sub(r"^input_sha256[:_]?", "", k)] = str(v)
    return out


def constant_scales(idata: xr.DataTree) -> tuple[xr.DataArray, xr.DataArray] | None:
    """The feature standardisation (means, scales) kept in the posterior's constant data."""
    if "constant_data" not in idata.children:
        return None
    cd = idata["constant_data"].to_dataset()
    feat = [v for v in cd.data_vars if cd[v].dims == ("feature",)]
    mean = [v for v in feat if re.search(r"mean|loc|center|centre", v)]
    scale = [v for v in feat if re.search(r"scale|std|sd\b|sd_", v)]
    if not mean or not scale:
        return None
    return cd[mean[0]], cd[scale[0]]


def previous_origin_from_predictions(run: Run) -> tuple[pd.Timestamp, pd.DataFrame] | None:
    """The backtest's forecasts at its last origin: ``region, horizon, p_mean`` (model column)."""
    pred = run.predictions
    if pred is None or pred.empty or "model" not in pred.columns:
        return None
    origins = pd.to_datetime(pred["origin"])
    last = origins.max()
    rows = pred.loc[origins == last, ["region", "horizon", "model"]]
    rows = rows.groupby(["region", "horizon"], as_index=False)["model"].mean()
    return last, rows.rename(columns={"model": "p_mean"})


def p_any_draws(run: Run) -> pd.DataFrame | None:
    """P(at least one clash within the horizon) per region from the model's draws: mean, 5%, 95%.

    Read from ``forecast.nc`` (``p_any_within``, from the joint model with its block effect).
    """
    da = run.forecast_within
    if da is None:
        return None
    any_ = da.isel(horizon=-1)
    q = any_.quantile([0.05, 0.95], dim="draw")
    return pd.DataFrame(
        {
            "any_mean": any_.mean("draw").values,
            "any_q05": q.sel(quantile=0.05).values,
            "any_q95": q.sel(quantile=0.95).values,
        },
        index=[str(r) for r in da["region"].values],
    )


def previous_origin(run: Run) -> dict[str, Any]:
    """Forecast at the period before the origin, for "change since the previous origin".

    Recomputed from the posterior with ``model.forecast.forecast_draws`` (features as of the
    previous period, same posterior) when that is available; otherwise the backtest's forecasts
    from its last origin. Returns ``{source, origin, step1: Series, any: Series | None}``.
    """
    periods = pd.DatetimeIndex(run.panel["period"].values)
    earlier = periods[periods < run.origin]
    try:
        from model.forecast import forecast_draws, within_draws

        if len(earlier) == 0:
            raise ValueError("no period before the origin")
        da = forecast_draws(run.idata, run.panel, earlier[-1])
        step1 = da.sel(horizon=1).mean("draw").to_series()
        any_ = within_draws(run.idata, run.panel, earlier[-1]).isel(horizon=-1)
        any_ = any_.mean("draw").to_series()
        return {
            "source": "recomputed from the same posterior with the features of the previous period",
            "origin": earlier[-1],
            "step1": step1.rename(index=str),
            "any": any_.rename(index=str),
        }
    except Exception as e:  # the model's forecast code may be absent or reject this origin
        log.info("previous origin not recomputed from the posterior: %s", e)
    prev = previous_origin_from_predictions(run)
    if prev is None:
        return {"source": None, "origin": None, "step1": None, "any": None}
    origin, rows = prev
    step1 = rows[rows["horizon"] == 1].set_index("region")["p_mean"]
    return {
        "source": "the backtest's forecast at its last origin",
        "origin": origin,
        "step1": step1,
        "any": None,
    }


def contributions(
    run: Run, regions: list[str], horizon: int = 1
) -> tuple[pd.DataFrame | None, str]:
    """Posterior-mean contribution (coefficient × standardised value) of each feature, by region.

    ``None`` when the model has no feature.
    """
    post = run.idata["posterior"].to_dataset()
    if "beta" not in post and "beta_mu" not in post:
        return None, "the model has no features"
    beta = post["beta"] if "beta" in post else post["beta_mu"]
    if "horizon" in beta.dims:
        beta = beta.sel(horizon=horizon)
    features = [str(f) for f in beta["feature"].values]
    x = run.panel[features].sel(period=run.origin, method="ffill").to_dataframe()[features]
    scales = constant_scales(run.idata)
    if scales is not None:
        mean = scales[0].to_series().reindex(features)
        sd = scales[1].to_series().reindex(features)
        how = "the model's own standardisation (constant data of the posterior)"
    else:
        flat = run.panel[features].to_dataframe()[features].to_numpy(float)
        mean, sd = (pd.Series(v, index=features) for v in fit_scaling(flat, ignore_nan=True))
        how = "the panel's means and SDs (the posterior carries no scales)"
    z = standardised(x, mean, sd, missing_as_mean=True)
    b = beta.mean(("chain", "draw")).to_series().reindex(features)
    out = (z.loc[regions] * b).astype(float)
    out.index = [str(r) for r in out.index]
    return out, how


def level_breakdown(run: Run, regions: list[str]) -> pd.DataFrame | None:
    """Where each region's forecast starts: its offset as a probability, and what makes it.

    For a ``clash_level_hl{h}`` offset: the region's share of recent periods with a clash
    (decayed, half-life ``h``), its long-run share (half-life ``level_long_half_life``, shrunk
    toward the theatre) and the level that pools the two. ``None`` without an offset.
    """
    from model.features import decayed_share, decayed_sum
    from model.forecast import offset_name

    name = offset_name(run.idata)
    if name is None:
        return None
    at = run.panel.sel(period=slice(None, run.origin))
    value = at[name].isel(period=-1).to_series()
    out = pd.DataFrame({"level": 1.0 / (1.0 + np.exp(-value))})
    f = fn.parse(name)
    if f.family == "level":
        y = at["clash_any"].transpose("region", "period").values > 0
        h, long = f.half_life, float(run.panel.attrs.get("level_long_half_life", 52.0))
        recent = decayed_sum(y, h)[:, -1] / decayed_sum(np.ones_like(y, float), h)[:, -1]
        out.insert(0, "recent", recent)
        out.insert(1, "long_run", decayed_share(y, long)[:, -1])
        out.attrs = {"half_life": h, "long_half_life": long}
    out.index = [str(r) for r in out.index]
    return out.loc[regions]

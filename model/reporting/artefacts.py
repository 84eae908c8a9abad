"""One loader of a pipeline run's artefacts, for the report stage and the notebooks.

:func:`load_run` reads every artefact that ``docs/interfaces.md`` defines from a project root
into one :class:`Run`, each through its typed reader (:mod:`model.readers`; the posterior
through :func:`model.inference.posterior.load_idata`, which refuses one fitted to other params or
another panel). The artefacts without which no honest report can be written (the panel, the
posterior, the forecast table and the diagnostics verdict) are required: a missing one is a
:class:`~model.errors.StageError` naming the file and the stage that makes it. The rest (the
backtest, scenarios, forecast draws, ingest metrics, events, PROVENANCE.md) are optional and a
missing one is listed in ``Run.missing`` so that the report can say "not run".

It only reads: the quantities that the report and the notebooks both need (the forecast at the
previous origin, the level breakdown) are written by the forecast stage under declared names;
the helpers here select them, summarise the draws, or multiply declared coefficients by
declared scales. Nothing here imports matplotlib or jinja2.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from model import paths
from model import readers as rd
from model.config import Params, RegionsSpec, read_params
from model.data.panel_facts import PanelFacts
from model.errors import StageError
from model.inference import equation as eq
from model.inference.posterior import ProvenanceMismatch, expected_attrs, load_idata
from model.inference.standardise import standardised
from model.provenance import file_sha256

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
    "positions": False,
    "evidence": False,
    "provenance_md": False,
}


def _where(key: str) -> tuple[Path, str]:
    """The path of a loaded artefact and the stage that makes it."""
    if key == "provenance_md":
        return paths.PROVENANCE_MD, "(shipped with the data)"
    artefact = paths.ARTEFACTS[key]
    return artefact.path, artefact.stage


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
        Region × period panel (:func:`model.readers.read_panel`).
    idata : xr.DataTree
        Posterior (and prior, sample stats, PSIS-LOO, observed and constant data).
    diagnostics : dict
        ``reports/metrics/diagnostics.json``.
    forecast : DataFrame
        ``reports/forecast.csv``, one row per region and step.
    forecast_nc : ForecastFile or None
        ``forecast.nc``: the draws, the forecast at the previous origin, the level breakdown.
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
    forecast_nc: rd.ForecastFile | None = None
    scenarios: pd.DataFrame | None = None
    backtest: dict[str, Any] | None = None
    predictions: pd.DataFrame | None = None
    within: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    backtest_scores: pd.DataFrame | None = None
    ingest: dict[str, Any] | None = None
    panel_metrics: dict[str, Any] | None = None
    events: pd.DataFrame | None = None
    positions: pd.DataFrame | None = None
    evidence: pd.DataFrame | None = None
    provenance_md: str | None = None
    geometry: dict[str, Any] = field(default_factory=dict)
    # A cell run (unit grid): the governorates rolled up from the cells (forecast.csv's rows
    # of level governorate; ``forecast`` keeps the cells) and the governorates' polygons.
    rollup: pd.DataFrame | None = None
    boundaries: dict[str, Any] = field(default_factory=dict)
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
    def facts(self) -> PanelFacts:
        """The panel's frequency and feature settings (its attributes)."""
        return PanelFacts.from_attrs(self.panel)

    @property
    def gate_failed(self) -> bool:
        return str(self.diagnostics.get("gate", "")).lower() != "pass"

    @property
    def forecast_draws(self) -> xr.DataArray | None:
        """P(clash) draws, dims ``(region, horizon, draw)``, from ``forecast.nc``."""
        return None if self.forecast_nc is None else self.forecast_nc.p

    @property
    def forecast_within(self) -> xr.DataArray | None:
        """P(any clash in steps 1..horizon) draws, the same dims, from ``forecast.nc``."""
        return None if self.forecast_nc is None else self.forecast_nc.within


def _read(key: str, root: Path, params: Params) -> Any:
    """One artefact by its reader (the posterior checked against ``params`` and the panel)."""
    if key == "provenance_md":
        return (root / paths.PROVENANCE_MD).read_text(encoding="utf-8")
    if key == "idata":
        try:
            return load_idata(root / paths.IDATA, expect=expected_attrs(params, root))
        except ProvenanceMismatch as e:
            raise StageError(str(e)) from None
    return rd.read(root, key)


def _check_forecast(run: Run) -> None:
    """``forecast.csv`` covers every region of the panel, from the origin of ``forecast.nc``."""
    path = paths.FORECAST_CSV
    absent = sorted(set(run.regions) - set(run.forecast["region"]))
    if absent:
        raise StageError(f"{path}: no forecast rows for regions {absent}")
    if run.forecast_nc is not None and run.forecast_nc.origin != run.origin:
        raise StageError(
            f"{path} (origin {run.origin.date()}) and {paths.FORECAST_NC} (origin "
            f"{run.forecast_nc.origin.date()}) are from different runs; rerun `dvc repro forecast`"
        )


def load_geometry(spec: RegionsSpec, root: Path) -> dict[str, Any]:
    """Region name -> shapely geometry from the boundary files in params
    (``model.data.regions``)."""
    from model.data.regions import load_regions

    return dict(load_regions(spec, root).geometry)


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
        A required artefact is missing or malformed, or the posterior was fitted to other
        params or another panel (the message names the file and its stage).
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
            loaded[key] = _read(key, root, params)
        except (OSError, ValueError, KeyError) as e:
            raise StageError(f"{rel}: could not be read: {e}") from e
        hashes[rel.as_posix()] = file_sha256(path)
    try:
        geometry = load_geometry(params.ingest.regions, root)
    except (OSError, ValueError, KeyError, StageError) as e:
        geometry = {}
        missing["geometry"] = f"region boundaries could not be read: {e}"
    run = Run(root=root, params=params, geometry=geometry, hashes=hashes, missing=missing, **loaded)
    if run.panel.attrs.get("unit") == "grid":
        _as_cell_run(run)
    _check_forecast(run)
    return run


def _as_cell_run(run: Run) -> None:
    """A cell run: the forecast table split into cells and governorates, the cells' polygons
    (each cell clipped to the study area) as the geometry, the governorates' as boundaries."""
    from model.data import grid

    table = run.forecast
    if "level" in table.columns:
        run.rollup = table[table["level"] == "governorate"].reset_index(drop=True)
        run.forecast = table[table["level"] == "cell"].reset_index(drop=True)
    run.boundaries = run.geometry
    if not run.boundaries:
        return
    polygons = grid.clipped(run.panel["gid"].values, run.boundaries)
    cells = zip(run.panel["region"].values, run.panel["gid"].values, strict=True)
    run.geometry = {str(r): polygons[int(g)] for r, g in cells}


def input_hashes(run: Run) -> dict[str, str]:
    """SHA-256 of the raw inputs as stamped on the panel and posterior (``input_sha256:*``)."""
    out: dict[str, str] = {}
    for attrs in (run.panel.attrs, run.idata.attrs):
        for k, v in attrs.items():
            if k.startswith("input_sha256"):
                out[re.sub(r"^input_sha256[:_]?", "", k)] = str(v)
    return out


def constant_scales(idata: xr.DataTree) -> tuple[xr.DataArray, xr.DataArray]:
    """The feature standardisation (means, scales) the model was fitted with, from the
    posterior's constant data (:data:`~model.readers.X_MEAN`, :data:`~model.readers.X_SCALE`).
    """
    const = idata["constant_data"]
    lacking = [v for v in (rd.X_MEAN, rd.X_SCALE) if v not in const.data_vars]
    if lacking:
        raise rd.refusal("idata", f"constant_data lacks {lacking}")
    return const[rd.X_MEAN], const[rd.X_SCALE]


def previous_origin_from_predictions(run: Run) -> tuple[pd.Timestamp, pd.DataFrame] | None:
    """The backtest's forecasts at its last origin: ``region, horizon, p_mean`` (model column)."""
    pred = run.predictions
    if pred is None or pred.empty:
        return None
    last = pred["origin"].max()
    rows = pred.loc[pred["origin"] == last, ["region", "horizon", "model"]]
    rows = rows.groupby(["region", "horizon"], as_index=False)["model"].mean()
    return pd.Timestamp(last), rows.rename(columns={"model": "p_mean"})


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


#: How the forecast stage made the forecast at the previous origin (as the report says it).
RECOMPUTED = "recomputed from the same posterior with the features of the previous period"


def previous_origin(run: Run) -> dict[str, Any]:
    """Forecast at the period before the origin, for "change since the previous origin".

    As the forecast stage wrote it into ``forecast.nc`` (:mod:`model.inference.forecast_context`);
    where it could not make one, the backtest's forecasts from its last origin. Returns
    ``{source, origin, step1: Series, any: Series | None}``.
    """
    fc = run.forecast_nc
    if fc is not None and fc.previous_origin is not None:
        return {
            "source": RECOMPUTED,
            "origin": fc.previous_origin,
            "step1": fc.previous_step1,
            "any": fc.previous_any,
        }
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

    Standardised with the model's own means and scales (:func:`constant_scales`). ``None``
    when the model has no feature.
    """
    post = run.idata["posterior"].to_dataset()
    if eq.BETA not in post and eq.BETA_MU not in post:
        return None, "the model has no features"
    beta = post[eq.BETA] if eq.BETA in post else post[eq.BETA_MU]
    if "horizon" in beta.dims:
        beta = beta.sel(horizon=horizon)
    features = [str(f) for f in beta["feature"].values]
    x = run.panel[features].sel(period=run.origin, method="ffill").to_dataframe()[features]
    mean, scale = constant_scales(run.idata)
    z = standardised(
        x,
        mean.to_series().reindex(features),
        scale.to_series().reindex(features),
        missing_as_mean=True,
    )
    b = beta.mean(("chain", "draw")).to_series().reindex(features)
    out = (z.loc[regions] * b).astype(float)
    out.index = [str(r) for r in out.index]
    return out, "the model's own standardisation (constant data of the posterior)"


def level_breakdown(run: Run, regions: list[str]) -> pd.DataFrame | None:
    """Where each region's forecast starts: its offset as a probability, and what makes it.

    As the forecast stage wrote it into ``forecast.nc`` (:mod:`model.inference.forecast_context`):
    for a ``clash_level_hl{h}`` offset, the region's share of recent periods with a clash (decayed,
    half-life ``h``), its long-run share and the level that pools the two (attrs ``half_life``
    and ``long_half_life``). ``None`` without an offset or without ``forecast.nc``.
    """
    fc = run.forecast_nc
    if fc is None or fc.levels is None:
        return None
    return fc.levels.loc[regions]

"""Rolling-origin backtest: folds of refits, forecasts and baselines, run on Dask, then scored.

Origins are the last ``n_origins`` periods (``stride`` apart) that still have ``H`` periods of
outcomes after them. Consecutive origins are grouped into folds of ``refit_every``: a fold
fits the model once on the data known at its first origin (``fit_cutoff``) and forecasts from
each of its origins with the features known at that origin. The posterior of a fold's later
origins is therefore a little stale, never clairvoyant. Every piece of a fold sees the panel
cut at the relevant date (:func:`model.baselines.known_at`); only the scoring reads the
outcomes after an origin.

A fold is one Dask task (:func:`run_fold`): one fit and its origins' forecasts. Folds are
independent and seeded from the run's seed and the fold's cutoff, so the result does not
depend on how many workers ran them or in which order they finished.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from model.baselines import BASELINES, all_baselines, known_at
from model.config import PriorSpec

_log = logging.getLogger(__name__)

FORECASTERS = ("model", *BASELINES)
PREDICTION_COLUMNS = (
    "origin",
    "fit_cutoff",
    "region",
    "country",
    "horizon",
    "target_period",
    "y",
    *FORECASTERS,
)


@dataclass(frozen=True)
class Fold:
    """One refit and the origins it serves (``origins[0] == cutoff``)."""

    cutoff: pd.Timestamp
    origins: tuple[pd.Timestamp, ...]
    seed: int


@dataclass(frozen=True)
class FoldConfig:
    """What a fold needs besides the panel: plain, picklable settings."""

    features: tuple[str, ...]
    horizon: int
    burn_in: int
    priors: Mapping[str, PriorSpec]
    country_varying: tuple[str, ...] = ()
    parameterisation: str = "auto"
    sampler: str = "nutpie"
    draws: int = 500
    tune: int = 500
    chains: int = 2
    target_accept: float = 0.9
    low_rank_mass_matrix: bool = True
    climatology_window: int = 52
    climatology_prior_strength: float = 2.0


@dataclass
class FoldResult:
    """A fold's prediction rows, with its wall time and sampler health (not scored)."""

    fold: Fold
    predictions: pd.DataFrame
    seconds: float
    divergences: int = 0


@dataclass
class BacktestResult:
    """Predictions of the finished folds and the failed folds' errors, keyed by cutoff."""

    predictions: pd.DataFrame
    folds: list[FoldResult] = field(default_factory=list)
    failed: dict[pd.Timestamp, tuple[tuple[pd.Timestamp, ...], str]] = field(default_factory=dict)


def backtest_origins(
    periods: Sequence[Any], n_origins: int, stride: int, horizon: int
) -> list[pd.Timestamp]:
    """The last ``n_origins`` periods, ``stride`` apart, with ``horizon`` outcomes after each.

    Raises
    ------
    ValueError
        When the panel is too short for that many origins.
    """
    periods = pd.DatetimeIndex(periods)
    last = len(periods) - 1 - horizon
    idx = [last - stride * k for k in range(n_origins)]
    if last < 0 or idx[-1] < 1:
        raise ValueError(
            f"{len(periods)} periods are too few for {n_origins} origins {stride} apart "
            f"with {horizon} steps of outcomes after each"
        )
    return [periods[i] for i in sorted(idx)]


def fold_seed(seed: int, cutoff: pd.Timestamp) -> int:
    """A fold's sampling seed, from the run's seed and the fold's cutoff only."""
    return int(
        np.random.SeedSequence([seed, pd.Timestamp(cutoff).toordinal()]).generate_state(1)[0]
    )


def make_folds(origins: Sequence[pd.Timestamp], refit_every: int, seed: int) -> list[Fold]:
    """Group sorted origins into runs of ``refit_every``, each fit at its first origin."""
    origins = sorted(pd.Timestamp(o) for o in origins)
    folds = []
    for i in range(0, len(origins), refit_every):
        chunk = tuple(origins[i : i + refit_every])
        folds.append(Fold(cutoff=chunk[0], origins=chunk, seed=fold_seed(seed, chunk[0])))
    return folds


def outcomes_after(panel: xr.Dataset, origin: pd.Timestamp, horizon: int) -> xr.DataArray:
    """``clash_any`` at origin + 1..H as (region, horizon), with ``target_period`` coords."""
    periods = pd.DatetimeIndex(panel["period"].values)
    i = periods.get_loc(pd.Timestamp(origin))
    y = panel["clash_any"].transpose("region", "period").isel(period=slice(i + 1, i + 1 + horizon))
    if y.sizes["period"] < horizon:
        raise ValueError(f"origin {pd.Timestamp(origin).date()} has fewer than {horizon} outcomes")
    return xr.DataArray(
        y.values,
        dims=("region", "horizon"),
        coords={
            "region": y["region"].values,
            "horizon": np.arange(1, horizon + 1),
            "target_period": ("horizon", y["period"].values),
        },
    )


def fold_design(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> Any:
    """The training design of a fold: rows whose outcome is known at the fold's cutoff."""
    from model.clash_model import make_design

    train = known_at(panel, fold.cutoff)
    return make_design(
        train, list(config.features), config.horizon, cutoff=fold.cutoff, burn_in=config.burn_in
    )


def fit_fold_model(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> xr.DataTree:
    """Fit the model on the data known at the fold's cutoff (one core, no progress bar)."""
    from model.clash_model import build_clash_model
    from model.sampling import fit

    design = fold_design(panel, fold, config)
    pm_model = build_clash_model(
        design,
        config.priors,
        country_varying=config.country_varying,
        parameterisation=config.parameterisation,
    )
    return fit(
        pm_model,
        sampler=config.sampler,
        draws=config.draws,
        tune=config.tune,
        chains=config.chains,
        cores=1,
        target_accept=config.target_accept,
        low_rank_mass_matrix=config.low_rank_mass_matrix,
        seed=fold.seed,
        progressbar=False,
        log_likelihood=False,
    )


def forecast_fold(
    idata: xr.DataTree, panel: xr.Dataset, fold: Fold, config: FoldConfig
) -> pd.DataFrame:
    """Prediction rows of every origin of a fold: the model's posterior mean and baselines."""
    from model.forecast import forecast_draws

    frames = []
    country = pd.Series(panel["country"].values, index=panel["region"].values)
    for origin in fold.origins:
        known = known_at(panel, origin)
        p_model = forecast_draws(idata, known, origin).mean("draw")
        base = all_baselines(
            known,
            origin,
            horizon=config.horizon,
            features=list(config.features),
            burn_in=config.burn_in,
            window=config.climatology_window,
            prior_strength=config.climatology_prior_strength,
        )
        y = outcomes_after(panel, origin, config.horizon)
        columns = {"model": p_model, **base, "y": y}
        df = (
            xr.Dataset({k: v.transpose("region", "horizon") for k, v in columns.items()})
            .reset_coords()
            .to_dataframe()
            .reset_index()
        )
        df["origin"] = origin
        df["fit_cutoff"] = fold.cutoff
        df["country"] = country.loc[df["region"]].to_numpy()
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["y"] = out["y"].astype(np.int8)
    out["horizon"] = out["horizon"].astype(np.int64)
    out["target_period"] = pd.to_datetime(out["target_period"])
    return out[list(PREDICTION_COLUMNS)]


def run_fold(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> FoldResult:
    """One Dask task: fit at the fold's cutoff, forecast from each of its origins."""
    t0 = time.perf_counter()
    idata = fit_fold_model(panel, fold, config)
    divergences = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        divergences = int(idata["sample_stats"]["diverging"].sum())
    predictions = forecast_fold(idata, panel, fold, config)
    return FoldResult(fold, predictions, time.perf_counter() - t0, divergences)


def run_backtest(
    panel: xr.Dataset,
    folds: Sequence[Fold],
    config: FoldConfig,
    client: Any,
    *,
    fold_fn: Callable[[xr.Dataset, Fold, FoldConfig], FoldResult] = run_fold,
    progress: bool = True,
) -> BacktestResult:
    """Run every fold as a task on a ``distributed.Client``; keep the finished on failure.

    The panel is scattered once to every worker. A progress bar counts folds as they finish
    (in any order); a fold that raises is recorded with its origins and the error, and the
    others go on. Predictions are sorted by origin, region and step, so the result does not
    depend on completion order.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    panel_future = client.scatter(panel, broadcast=True)
    futures = {
        client.submit(
            fold_fn, panel_future, fold, config, key=f"fold-{fold.cutoff.date()}", pure=False
        ): fold
        for fold in folds
    }
    finished: list[FoldResult] = []
    failed: dict[pd.Timestamp, tuple[tuple[pd.Timestamp, ...], str]] = {}
    with tqdm(total=len(futures), desc="backtest folds", unit="fold", disable=not progress) as bar:
        for fut in as_completed(futures):
            fold = futures[fut]
            if fut.status == "error":
                err = fut.exception()
                failed[fold.cutoff] = (fold.origins, f"{type(err).__name__}: {err}")
                _log.error("fold at %s failed: %s", fold.cutoff.date(), err)
            else:
                finished.append(fut.result())
            bar.update(1)
    finished.sort(key=lambda r: r.fold.cutoff)
    if finished:
        predictions = pd.concat([r.predictions for r in finished], ignore_index=True)
        predictions = predictions.sort_values(["origin", "region", "horizon"], ignore_index=True)
    else:
        predictions = pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    return BacktestResult(predictions, finished, dict(sorted(failed.items())))


# --------------------------------------------------------------------------- scoring


def _clean(x: Any, digits: int = 10) -> Any:
    """Round floats (stable JSON across platforms) and turn NaN into None."""
    if isinstance(x, dict):
        return {str(k): _clean(v, digits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v, digits) for v in x]
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else round(float(x), digits)
    if isinstance(x, np.integer):
        return int(x)
    return x


def summarise_backtest(
    predictions: pd.DataFrame,
    *,
    bins: int = 10,
    n_boot: int = 1000,
    block: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """The contents of ``backtest.json``: aggregate scores, skill with intervals, per step.

    Scores are pooled over every (origin, region, step) row. Skill against each baseline is
    ``1 - mean loss of the model / mean loss of the baseline`` with a 90% moving-block bootstrap
    interval over origins (blocks of ``block`` origins; see
    :func:`model.scoring.block_bootstrap_skill`). The same seed serves every bootstrap, so the
    intervals of different baselines use the same resamples of origins.
    """
    from model import scoring

    y = predictions["y"].to_numpy()
    origin = predictions["origin"].to_numpy()
    losses = {
        name: {
            "brier": scoring.brier_score(predictions[name].to_numpy(), y),
            "log_score": scoring.log_score(predictions[name].to_numpy(), y),
        }
        for name in FORECASTERS
    }
    dates = sorted(pd.Timestamp(o).date().isoformat() for o in np.unique(origin))
    out: dict[str, Any] = {
        "origins": len(dates),
        "horizons": int(predictions["horizon"].max()),
        "origin_dates": dates,
        "rows": len(predictions),
        "prevalence": float(y.mean()),
    }
    for name in FORECASTERS:
        out[name] = scoring.summarize(predictions[name].to_numpy(), y, bins)
    out["skill"] = {
        base: {
            score: scoring.block_bootstrap_skill(
                losses["model"][score],
                losses[base][score],
                origin,
                block=block,
                n_boot=n_boot,
                seed=seed,
            )
            for score in ("brier", "log_score")
        }
        for base in BASELINES
    }
    out["hindsight"] = hindsight_ceiling(predictions, out["climatology"])
    per_horizon = {}
    for h, rows in predictions.groupby("horizon", sort=True):
        yh = rows["y"].to_numpy()
        entry: dict[str, Any] = {"rows": len(rows), "prevalence": float(yh.mean())}
        for name in FORECASTERS:
            ph = rows[name].to_numpy()
            entry[name] = {
                "brier": float(scoring.brier_score(ph, yh).mean()),
                "log_score": float(scoring.log_score(ph, yh).mean()),
                "auc_pr": scoring.auc_pr(ph, yh),
            }
        entry["brier_skill"] = {
            b: scoring.skill(entry["model"]["brier"], entry[b]["brier"]) for b in BASELINES
        }
        per_horizon[str(int(h))] = entry
    out["per_horizon"] = per_horizon
    return _clean(out)


def hindsight_ceiling(
    predictions: pd.DataFrame, climatology: Mapping[str, float]
) -> dict[str, Any]:
    """Scores of a forecaster that knew each region's clash rate over the scored rows.

    Not a forecaster (it reads the outcomes it scores): the headroom left to any forecast that
    is constant within a region over the backtest window, which is what climatology aims at.
    A model beats it only by following changes within the window. Rates are Jeffreys-smoothed,
    ``(k + 1/2) / (n + 1)``, so the log score stays finite. ``climatology`` holds the mean
    ``brier`` and ``log_score`` of the climatology baseline on the same rows.
    """
    from model import scoring

    y = predictions["y"].to_numpy()
    grouped = predictions.groupby("region", sort=False)["y"]
    rate = ((grouped.transform("sum") + 0.5) / (grouped.transform("count") + 1.0)).to_numpy()
    brier = float(scoring.brier_score(rate, y).mean())
    log = float(scoring.log_score(rate, y).mean())
    return {
        "brier": brier,
        "log_score": log,
        "brier_skill_vs_climatology": scoring.skill(brier, climatology["brier"]),
        "log_score_skill_vs_climatology": scoring.skill(log, climatology["log_score"]),
    }


def reliability_table(
    predictions: pd.DataFrame, bins: int = 10, forecaster: str = "model"
) -> pd.DataFrame:
    """One forecaster's reliability curve (``reports/plots/reliability.csv``), empty bins out.

    Only the model's curve goes to the CSV, so that ``dvc plots`` and the report draw one
    series from it; the baselines' curves come from the predictions.
    """
    from model import scoring

    curve = scoring.reliability_curve(
        predictions[forecaster].to_numpy(), predictions["y"].to_numpy(), bins
    )
    df = pd.DataFrame({k: curve[k] for k in ("bin", "forecast_mean", "observed_rate", "count")})
    return df[df["count"] > 0].reset_index(drop=True)


def scores_by_origin(predictions: pd.DataFrame) -> pd.DataFrame:
    """Mean Brier and log score of the model per origin, and each baseline's Brier score."""
    from model import scoring

    y = predictions["y"].to_numpy()
    cols = {
        "origin": predictions["origin"].dt.strftime("%Y-%m-%d"),
        "brier": scoring.brier_score(predictions["model"].to_numpy(), y),
        "log_score": scoring.log_score(predictions["model"].to_numpy(), y),
    }
    for name in BASELINES:
        cols[f"{name}_brier"] = scoring.brier_score(predictions[name].to_numpy(), y)
    return pd.DataFrame(cols).groupby("origin", sort=True).mean().reset_index()

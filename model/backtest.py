"""Rolling-origin backtest: folds of refits, forecasts and baselines, run on Dask.

Origins are every ``stride``-th period from ``start`` to the last one with ``H`` periods of
outcomes after it (DESIGN §5); :func:`split_windows` cuts them at ``test_start`` into a dev
window (where modelling choices are made) and a test window (what is reported). Consecutive
origins are grouped into folds of ``refit_every``: a fold fits the model once on the data known
at its first origin (``fit_cutoff``) and forecasts from each of its origins with the features
known at that origin. The posterior of a fold's later origins is therefore a little stale,
never clairvoyant. Every piece of a fold sees the panel cut at the relevant date
(:func:`model.baselines.known_at`); only the scoring reads the outcomes after an origin.

Each origin gives two kinds of prediction rows: one per region and step (P(clash) in that
period) and one per region for "within H" (P(at least one clash in steps 1..H)), each with the
baselines of the same event. Scoring is in :mod:`model.evaluation`.

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

from model.baselines import (
    FORECASTERS,
    RATES,
    WITHIN_FORECASTERS,
    Rates,
    all_baselines,
    known_at,
    within_baselines,
)
from model.config import FitParams, ModelParams
from model.evaluation import WITH_PROXIMITY, WITHOUT_PROXIMITY

_log = logging.getLogger(__name__)

WITHIN_COLUMNS = (
    "origin",
    "fit_cutoff",
    "region",
    "country",
    "window_end",
    "y",
    *WITHIN_FORECASTERS,
)
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
    """What a fold needs besides the panel: plain, picklable settings.

    ``model`` is the ``model`` section of params; ``fit`` the ``fit`` section with the
    backtest's sampling budget (draws, tune, chains) on one core without a progress bar.
    """

    model: ModelParams
    fit: FitParams
    rates: Rates = RATES
    # Also fit the model's other proximity variant (model.proximity_block) in every fold.
    proximity_worth: bool = False

    def other_variant(self) -> ModelParams | None:
        """The model with the proximity block if it ships without, or without it if it ships
        with; None when the block's worth is not measured."""
        if not (self.proximity_worth and self.model.proximity_block):
            return None
        return self.model.proximity_variant(not self.model.ships_proximity)


@dataclass
class FoldResult:
    """A fold's prediction rows (per step and within H), wall time and sampler health."""

    fold: Fold
    predictions: pd.DataFrame
    within: pd.DataFrame
    seconds: float
    divergences: int = 0


@dataclass
class BacktestResult:
    """Predictions of the finished folds and the failed folds' errors, keyed by cutoff."""

    predictions: pd.DataFrame
    within: pd.DataFrame
    folds: list[FoldResult] = field(default_factory=list)
    failed: dict[pd.Timestamp, tuple[tuple[pd.Timestamp, ...], str]] = field(default_factory=dict)


def default_start(
    periods: Sequence[Any], burn_in: int, horizon: int, freq: str = "W-MON"
) -> pd.Timestamp:
    """The first origin when params give none: after the burn-in and a year of training blocks.

    A year is 52 weekly or 12 monthly periods (``13 × horizon`` at least), so that the first
    fit has a full seasonal cycle of blocks after the features have warmed up.
    """
    periods = pd.DatetimeIndex(periods)
    year = 12 if freq == "MS" else 52
    i = burn_in + max(year, 13 * horizon)
    if i >= len(periods):
        raise ValueError(
            f"{len(periods)} periods are too few for a backtest: the first origin needs "
            f"burn_in ({burn_in}) plus a year of training blocks"
        )
    return periods[i]


def backtest_origins(
    periods: Sequence[Any],
    start: Any,
    stride: int,
    horizon: int,
    end: Any | None = None,
) -> list[pd.Timestamp]:
    """Every ``stride``-th period from ``start`` to ``end`` (or the last one with ``H`` outcomes).

    Raises
    ------
    ValueError
        When no origin falls in that range.
    """
    periods = pd.DatetimeIndex(periods)
    last = len(periods) - 1 - horizon
    if end is not None:
        last = min(last, int(periods.searchsorted(pd.Timestamp(end), side="right")) - 1)
    first = int(periods.searchsorted(pd.Timestamp(start), side="left"))
    if last < 0 or first > last:
        raise ValueError(
            f"no origin from {pd.Timestamp(start).date()} with {horizon} periods of outcomes "
            f"after it (panel {periods[0].date()} … {periods[-1].date()})"
        )
    return list(periods[first : last + 1 : stride])


def split_windows(
    origins: Sequence[pd.Timestamp], test_start: Any | None
) -> dict[str, list[pd.Timestamp]]:
    """Origins before ``test_start`` (dev) and from it on (test); default the last third as test.

    A backtest that ends before ``test_start`` has a dev window only (model selection runs).

    Raises
    ------
    ValueError
        When the dev window would be empty.
    """
    origins = sorted(pd.Timestamp(o) for o in origins)
    if test_start is None:
        cut = origins[len(origins) - max(1, len(origins) // 3)]
    else:
        cut = pd.Timestamp(test_start)
    windows = {
        "dev": [o for o in origins if o < cut],
        "test": [o for o in origins if o >= cut],
    }
    if not windows["dev"]:
        raise ValueError(
            f"the dev window has no origin (test from {cut.date()}, origins "
            f"{origins[0].date()} … {origins[-1].date()})"
        )
    return {k: v for k, v in windows.items() if v}


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


def fold_design(
    panel: xr.Dataset, fold: Fold, config: FoldConfig, mp: ModelParams | None = None
) -> Any:
    """The training design of a fold: blocks whose outcomes are known at the fold's cutoff."""
    from model.clash_model import design_from_params

    mp = config.model if mp is None else mp
    return design_from_params(known_at(panel, fold.cutoff), mp, cutoff=fold.cutoff)


def fit_fold_model(
    panel: xr.Dataset, fold: Fold, config: FoldConfig, mp: ModelParams | None = None
) -> xr.DataTree:
    """Fit the model (or ``mp``, a variant of it) on the data known at the fold's cutoff (one
    core, no progress bar)."""
    from model.clash_model import model_from_params
    from model.sampling import fit_with_params

    mp = config.model if mp is None else mp
    pm_model = model_from_params(fold_design(panel, fold, config, mp), mp)
    return fit_with_params(pm_model, config.fit, seed=fold.seed, log_likelihood=False)


def _frame(columns: Mapping[str, xr.DataArray], dims: tuple[str, ...]) -> pd.DataFrame:
    ds = xr.Dataset({k: v.transpose(*dims) for k, v in columns.items()})
    return ds.reset_coords().to_dataframe().reset_index()


def origin_rows(
    idata: xr.DataTree,
    panel: xr.Dataset,
    origin: pd.Timestamp,
    config: FoldConfig,
    other: xr.DataTree | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One origin's prediction rows: per region and step, and per region "within H".

    With ``other`` (the fit of :meth:`FoldConfig.other_variant`), the step rows also hold the
    model with and without the proximity block (one of them is ``model``)."""
    from model.forecast import forecast_draws, independent_within, within_probability

    known = known_at(panel, origin)
    p = forecast_draws(idata, known, origin)
    within = within_probability(p).isel(horizon=-1, drop=True)
    mp = config.model
    base = all_baselines(
        known,
        origin,
        horizon=mp.horizon,
        features=mp.inputs(),
        burn_in=mp.burn_in,
        rates=config.rates,
    )
    y = outcomes_after(panel, origin, mp.horizon)
    weekly = {"model": p.mean("draw").drop_vars(["country", "period_start"]), **base, "y": y}
    if other is not None:
        p_other = forecast_draws(other, known, origin).mean("draw")
        pair = (weekly["model"], p_other.drop_vars(["country", "period_start"]))
        ships = config.model.ships_proximity
        weekly[WITH_PROXIMITY], weekly[WITHOUT_PROXIMITY] = pair if ships else pair[::-1]
    steps = _frame(weekly, ("region", "horizon"))
    z = y.max("horizon").drop_vars("target_period", errors="ignore")
    any_columns = {
        "model": within.mean("draw").drop_vars("country"),
        "independent": independent_within(p).isel(horizon=-1, drop=True).drop_vars("country"),
        **within_baselines(known, origin, horizon=mp.horizon, rates=config.rates),
        "y": z,
    }
    any_rows = _frame(any_columns, ("region",))
    any_rows["window_end"] = pd.Timestamp(y["target_period"].values[-1])
    return steps, any_rows


def forecast_fold(
    idata: xr.DataTree,
    panel: xr.Dataset,
    fold: Fold,
    config: FoldConfig,
    other: xr.DataTree | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prediction rows of every origin of a fold: per step, and "within H"."""
    country = pd.Series(panel["country"].values, index=panel["region"].values)
    steps, within = [], []
    for origin in fold.origins:
        s, w = origin_rows(idata, panel, origin, config, other)
        for df in (s, w):
            df["origin"] = origin
            df["fit_cutoff"] = fold.cutoff
            df["country"] = country.loc[df["region"]].to_numpy()
        steps.append(s)
        within.append(w)
    out = pd.concat(steps, ignore_index=True)
    out["y"] = out["y"].astype(np.int8)
    out["horizon"] = out["horizon"].astype(np.int64)
    out["target_period"] = pd.to_datetime(out["target_period"])
    w = pd.concat(within, ignore_index=True)
    w["y"] = w["y"].astype(np.int8)
    extra = [WITH_PROXIMITY, WITHOUT_PROXIMITY] if other is not None else []
    return out[[*PREDICTION_COLUMNS, *extra]], w[list(WITHIN_COLUMNS)]


def run_fold(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> FoldResult:
    """One Dask task: fit at the fold's cutoff, forecast from each of its origins."""
    t0 = time.perf_counter()
    # A worker's own PyMC lines ("NUTS[nutpie]: ...") would break the stage's progress bar.
    logging.getLogger("pymc").setLevel(logging.WARNING)
    idata = fit_fold_model(panel, fold, config)
    variant = config.other_variant()
    other = None if variant is None else fit_fold_model(panel, fold, config, variant)
    divergences = sum(_divergences(i) for i in (idata, other) if i is not None)
    predictions, within = forecast_fold(idata, panel, fold, config, other)
    return FoldResult(fold, predictions, within, time.perf_counter() - t0, divergences)


def _divergences(idata: xr.DataTree) -> int:
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        return int(idata["sample_stats"]["diverging"].sum())
    return 0


def _collect(finished: list[FoldResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions of the finished folds, sorted so that completion order does not matter."""
    if not finished:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS)), pd.DataFrame(
            columns=list(WITHIN_COLUMNS)
        )
    steps = pd.concat([r.predictions for r in finished], ignore_index=True)
    within = pd.concat([r.within for r in finished], ignore_index=True)
    return (
        steps.sort_values(["origin", "region", "horizon"], ignore_index=True),
        within.sort_values(["origin", "region"], ignore_index=True),
    )


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
    predictions, within = _collect(finished)
    return BacktestResult(predictions, within, finished, dict(sorted(failed.items())))

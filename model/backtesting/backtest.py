"""Rolling-origin backtest: folds of refits, forecasts and baselines, run on Dask.

Origins are every ``stride``-th period from ``start`` to the last one with ``H`` periods of
outcomes after it (DESIGN §5); :func:`split_windows` cuts them at ``test_start`` into a dev
window (where modelling choices are made) and a test window (what is reported). Consecutive
origins are grouped into folds of ``refit_every``: a fold fits the model once on the data known
at its first origin (``fit_cutoff``) and forecasts from each of its origins with the features
known at that origin. The posterior of a fold's later origins is therefore a little stale,
never clairvoyant. Every piece of a fold sees the panel cut at the relevant date
(:func:`model.backtesting.baselines.known_at`); only the scoring reads the outcomes after an origin.

Each origin gives two kinds of prediction rows: one per region and step (P(clash) in that
period) and one per region for "within H" (P(at least one clash in steps 1..H)), each with the
baselines of the same event. Scoring is in :mod:`model.backtesting.evaluation`.

A fold is one Dask task (:func:`run_fold`): one fit and its origins' forecasts. Folds are
independent and seeded from the run's seed and the fold's cutoff, so the result does not
depend on how many workers ran them or in which order they finished.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from model.backtesting.baselines import RATES, Rates, all_baselines, known_at, within_baselines
from model.backtesting.catalogue import FORECASTERS, WITHIN_FORECASTERS
from model.backtesting.evaluation import WITH_PROXIMITY, WITHOUT_PROXIMITY, in_window
from model.backtesting.scoring import brier_score
from model.config import FitParams, ModelParams

if TYPE_CHECKING:
    from model.backtesting.fold_cache import FoldCache

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
    backtest's sampling budget (draws, tune, chains). A fold samples on one core without a
    progress bar (:func:`fit_fold_model`), whatever the ``runtime`` section says.
    """

    model: ModelParams
    fit: FitParams
    rates: Rates = RATES
    # Score the model with and without its proximity block (model.proximity_block) on every
    # origin, from comparison folds that refit both variants every ``proximity_refit_every``.
    proximity_worth: bool = False
    proximity_refit_every: int = 52
    # Offset variables each origin is also forecast with, reusing the fold's posterior: the
    # candidate memories the dev window chooses among (model.backtesting.memory).
    candidates: tuple[str, ...] = ()
    # Where the folds' posteriors are kept between runs (model.backtesting.fold_cache.fit_key;
    # None: every fold samples). Where, not what: no fold's key includes it.
    fit_cache: str | None = None

    def proximity_variants(self) -> tuple[ModelParams, ModelParams] | None:
        """The model with and without its proximity block; None when its worth is not
        measured."""
        if not (self.proximity_worth and self.model.proximity_block):
            return None
        return self.model.proximity_variant(True), self.model.proximity_variant(False)


@dataclass
class FoldResult:
    """A fold's prediction rows (per step and within H), wall time and sampler health."""

    fold: Fold
    predictions: pd.DataFrame
    within: pd.DataFrame
    seconds: float
    divergences: int = 0
    # With FoldConfig.candidates: each origin's mean forecasts per candidate offset, per step
    # (origin, region, horizon, *candidates) and within H (origin, region, *candidates).
    candidate_steps: pd.DataFrame | None = None
    candidate_within: pd.DataFrame | None = None
    # A cell panel's governorates rolled up from the cells: rows like ``within``.
    rollup: pd.DataFrame | None = None


@dataclass
class BacktestResult:
    """Predictions of the finished folds and the failed folds' errors, keyed by cutoff."""

    predictions: pd.DataFrame
    within: pd.DataFrame
    folds: list[FoldResult] = field(default_factory=list)
    failed: dict[pd.Timestamp, tuple[tuple[pd.Timestamp, ...], str]] = field(default_factory=dict)
    # The proximity comparison folds (run_comparison_fold) and their failures.
    comparison: list[FoldResult] = field(default_factory=list)
    failed_comparison: dict[pd.Timestamp, tuple[tuple[pd.Timestamp, ...], str]] = field(
        default_factory=dict
    )
    # The dev window's forecasts of every candidate memory (model.backtesting.memory), set by
    # the backtest stage once it has chosen.
    candidates: pd.DataFrame | None = None
    # A cell panel's roll-up rows (FoldResult.rollup of every finished fold).
    rollup: pd.DataFrame | None = None


def default_start(
    periods: Sequence[Any], burn_in: int, horizon: int, periods_per_year: int
) -> pd.Timestamp:
    """The first origin when params give none: after the burn-in and a year of training blocks.

    A year is ``periods_per_year`` periods
    (:attr:`model.data.panel_facts.PanelFacts.periods_per_year`,
    ``13 × horizon`` at least), so that the first fit has a full seasonal cycle of blocks after
    the features have warmed up.
    """
    periods = pd.DatetimeIndex(periods)
    i = burn_in + max(periods_per_year, 13 * horizon)
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
    from model.inference.clash_model import design_from_params

    mp = config.model if mp is None else mp
    return design_from_params(known_at(panel, fold.cutoff), mp, cutoff=fold.cutoff)


def fit_fold_model(
    panel: xr.Dataset, fold: Fold, config: FoldConfig, mp: ModelParams | None = None
) -> xr.DataTree:
    """Fit the model (or ``mp``, a variant of it) on the data known at the fold's cutoff (one
    core, no progress bar), or read the posterior back from ``config.fit_cache``."""
    from model.inference.clash_model import model_from_params
    from model.inference.sampling import fit_with_params

    mp = config.model if mp is None else mp
    cache = key = None
    if config.fit_cache is not None:
        from model.backtesting.fold_cache import FoldCache, fit_key

        cache = FoldCache(config.fit_cache)
        key = fit_key(panel, fold, mp, config.fit, cache.code)
        if (kept := cache.get(key)) is not None:
            return kept
    pm_model = model_from_params(fold_design(panel, fold, config, mp), mp)
    idata = fit_with_params(
        pm_model, config.fit, seed=fold.seed, log_likelihood=False, cores=1, progressbar=False
    )
    if cache is not None:
        cache.put(key, idata)
    return idata


def _frame(columns: Mapping[str, xr.DataArray], dims: tuple[str, ...]) -> pd.DataFrame:
    ds = xr.Dataset({k: v.transpose(*dims) for k, v in columns.items()})
    return ds.reset_coords().to_dataframe().reset_index()


def origin_rows(
    idata: xr.DataTree,
    panel: xr.Dataset,
    origin: pd.Timestamp,
    config: FoldConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One origin's prediction rows: per region and step, and per region "within H"."""
    from model.inference.forecast import forecast_draws, independent_within, within_probability

    known = known_at(panel, origin)
    p = forecast_draws(idata, known, origin)
    within = within_probability(p).isel(horizon=-1, drop=True)
    mp = config.model
    base = all_baselines(
        known,
        origin,
        horizon=mp.horizon,
        features=mp.features,
        burn_in=mp.burn_in,
        rates=config.rates,
        offset=mp.offset,
    )
    y = outcomes_after(panel, origin, mp.horizon)
    weekly = {"model": p.mean("draw").drop_vars(["country", "period_start"]), **base, "y": y}
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prediction rows of every origin of a fold: per step, and "within H"."""
    country = pd.Series(panel["country"].values, index=panel["region"].values)
    steps, within = [], []
    for origin in fold.origins:
        s, w = origin_rows(idata, panel, origin, config)
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
    return out[list(PREDICTION_COLUMNS)], w[list(WITHIN_COLUMNS)]


def rollup_fold(
    idata: xr.DataTree, panel: xr.Dataset, fold: Fold, config: FoldConfig
) -> pd.DataFrame:
    """A cell fold's governorate rows, one per origin, governorate and candidate split of the
    border cells (``split``, :data:`model.inference.rollup.SPLIT_PRIORS`; the stage keeps the
    one the dev window chooses), laid out like the "within H" rows: the roll-up of the cells'
    joint forecast (``model``), the same from the weekly roll-ups as if the weeks were
    independent (``independent``), and the governorates' own climatology and EWMA of the event,
    scored on the clashes the cells hold."""
    from model.inference.rollup import SPLIT_PRIORS, rollup_panel, rollup_splits, split_label

    horizon = config.model.horizon
    govs = rollup_panel(panel)
    rows = []
    for origin in fold.origins:
        known = known_at(panel, origin)
        y = outcomes_after(govs, origin, horizon)
        shared = {
            **within_baselines(known_at(govs, origin), origin, horizon=horizon, rates=config.rates),
            "y": y.max("horizon").drop_vars("target_period", errors="ignore"),
        }
        splits = rollup_splits(idata, known, origin, SPLIT_PRIORS)
        for prior, (step, within) in zip(SPLIT_PRIORS, splits, strict=True):
            columns = {
                "model": within.isel(horizon=-1, drop=True).mean("draw").rename(rollup="region"),
                "independent": (1.0 - (1.0 - step.mean("draw")).prod("horizon")).rename(
                    rollup="region"
                ),
                **shared,
            }
            df = _frame(columns, ("region",))
            df["window_end"] = pd.Timestamp(y["target_period"].values[-1])
            df["origin"], df["fit_cutoff"] = origin, fold.cutoff
            df["country"] = panel["rollup_country"].sel(rollup=df["region"].to_numpy()).values
            rows.append(df[list(WITHIN_COLUMNS)].assign(split=split_label(prior)))
    out = pd.concat(rows, ignore_index=True)
    out["y"] = out["y"].astype(np.int8)
    return out


def run_fold(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> FoldResult:
    """One Dask task: fit at the fold's cutoff, forecast from each of its origins."""
    t0 = time.perf_counter()
    # A worker's own PyMC lines ("NUTS[nutpie]: ...") would break the stage's progress bar.
    logging.getLogger("pymc").setLevel(logging.WARNING)
    idata = fit_fold_model(panel, fold, config)
    predictions, within = forecast_fold(idata, panel, fold, config)
    result = FoldResult(fold, predictions, within, 0.0, _divergences(idata))
    if config.candidates:
        result.candidate_steps, result.candidate_within = _candidate_fold(
            idata, panel, fold, config
        )
    if panel.attrs.get("unit") == "grid":
        result.rollup = rollup_fold(idata, panel, fold, config)
    result.seconds = time.perf_counter() - t0
    return result


def _candidate_fold(
    idata: xr.DataTree, panel: xr.Dataset, fold: Fold, config: FoldConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every origin of the fold forecast again with each candidate offset (same posterior)."""
    from model.backtesting.memory import candidate_rows

    steps, within = [], []
    for origin in fold.origins:
        s, w = candidate_rows(idata, known_at(panel, origin), origin, config.candidates)
        steps.append(s.assign(origin=origin))
        within.append(w.assign(origin=origin))
    return pd.concat(steps, ignore_index=True), pd.concat(within, ignore_index=True)


#: The rows of a proximity comparison fold.
COMPARISON_COLUMNS = ("origin", "region", "horizon", WITH_PROXIMITY, WITHOUT_PROXIMITY)


def run_comparison_fold(panel: xr.Dataset, fold: Fold, config: FoldConfig) -> FoldResult:
    """One Dask task of the proximity comparison: fit the model with and without its proximity
    block at the fold's cutoff (same seed, same budget) and give both mean forecasts for each
    of its origins, per region and step (``within`` is empty).

    Both variants see the same data and the same refit schedule, so their difference is the
    block's alone; the schedule (``proximity_refit_every``) is sparser than the model's own.
    """
    from model.inference.forecast import forecast_draws

    t0 = time.perf_counter()
    logging.getLogger("pymc").setLevel(logging.WARNING)
    fits = [fit_fold_model(panel, fold, config, mp) for mp in config.proximity_variants()]
    rows = []
    for origin in fold.origins:
        known = known_at(panel, origin)
        means = [forecast_draws(f, known, origin).mean("draw") for f in fits]
        cols = dict(zip((WITH_PROXIMITY, WITHOUT_PROXIMITY), means, strict=True))
        df = _frame({k: v.drop_vars(["country", "period_start"]) for k, v in cols.items()},
                    ("region", "horizon"))  # fmt: skip
        df["origin"] = origin
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    out["horizon"] = out["horizon"].astype(np.int64)
    divergences = sum(_divergences(f) for f in fits)
    empty = pd.DataFrame(columns=list(WITHIN_COLUMNS))
    return FoldResult(
        fold, out[list(COMPARISON_COLUMNS)], empty, time.perf_counter() - t0, divergences
    )


def comparison_folds(
    windows: Mapping[str, Sequence[pd.Timestamp]], config: FoldConfig, seed: int
) -> list[Fold]:
    """The proximity comparison's folds: each window's origins in runs of
    ``proximity_refit_every`` (a fold never straddles two windows); none when the block's worth
    is not measured."""
    if config.proximity_variants() is None:
        return []
    return [
        fold
        for origins in windows.values()
        for fold in make_folds(origins, config.proximity_refit_every, seed)
    ]


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


def with_comparison(predictions: pd.DataFrame, comparison: list[FoldResult]) -> pd.DataFrame:
    """The step rows with the comparison's two columns (NaN where its fold failed)."""
    if not comparison:
        return predictions
    both = pd.concat([r.predictions for r in comparison], ignore_index=True)
    return predictions.merge(both, on=["origin", "region", "horizon"], how="left")


def run_backtest(
    panel: xr.Dataset,
    folds: Sequence[Fold],
    config: FoldConfig,
    client: Any,
    *,
    comparison: Sequence[Fold] = (),
    fold_fn: Callable[[xr.Dataset, Fold, FoldConfig], FoldResult] = run_fold,
    progress: bool = True,
    cache: FoldCache | None = None,
) -> BacktestResult:
    """Run every fold as a task on a ``distributed.Client``; keep the finished on failure.

    The panel is scattered once to every worker. ``comparison`` folds (the proximity block's
    worth, :func:`run_comparison_fold`) are submitted first, being the longest. A progress bar
    counts folds as they finish (in any order); a fold that raises is recorded with its origins
    and the error, and the others go on. Predictions are sorted by origin, region and step, so
    the result does not depend on completion order. With a ``cache``
    (:class:`model.backtesting.fold_cache.FoldCache`) a fold whose key it holds is read back
    instead of run (named in ``cache.reused``), and every fold that finishes is kept in it.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    tasks = [("proximity", run_comparison_fold, f) for f in comparison]
    tasks += [("fold", fold_fn, f) for f in folds]
    done: dict[str, list[FoldResult]] = {"fold": [], "proximity": []}
    failed: dict[str, dict] = {"fold": {}, "proximity": {}}
    keys: dict[tuple[str, pd.Timestamp], str] = {}
    if cache is not None:
        to_run = []
        for task in tasks:
            kind, _, fold = task
            keys[kind, fold.cutoff] = key = cache.key(kind, panel, fold, config)
            if (kept := cache.get(key)) is None:
                to_run.append(task)
            else:
                done[kind].append(kept)
                cache.reused.append(f"{kind}-{fold.cutoff.date()}")
        tasks = to_run
    futures = {}
    if tasks:
        panel_future = client.scatter(panel, broadcast=True)
    for kind, fn, fold in tasks:
        key = f"{kind}-{fold.cutoff.date()}"
        futures[client.submit(fn, panel_future, fold, config, key=key, pure=False)] = (kind, fold)
    with tqdm(total=len(futures), desc="backtest folds", unit="fold", disable=not progress) as bar:
        for fut in as_completed(futures):
            kind, fold = futures[fut]
            if fut.status == "error":
                err = fut.exception()
                failed[kind][fold.cutoff] = (fold.origins, f"{type(err).__name__}: {err}")
                _log.error("%s fold at %s failed: %s", kind, fold.cutoff.date(), err)
            else:
                done[kind].append(fut.result())
                if cache is not None:
                    cache.put(keys[kind, fold.cutoff], done[kind][-1])
            bar.update(1)
    for results in done.values():
        results.sort(key=lambda r: r.fold.cutoff)
    predictions, within = _collect(done["fold"])
    return BacktestResult(
        with_comparison(predictions, done["proximity"]),
        within,
        done["fold"],
        dict(sorted(failed["fold"].items())),
        done["proximity"],
        dict(sorted(failed["proximity"].items())),
        rollup=collect_rollup(done["fold"]),
    )


def collect_rollup(finished: Sequence[FoldResult]) -> pd.DataFrame | None:
    """The roll-up rows of the finished folds, sorted like the "within H" rows (None when the
    folds are not a cell panel's)."""
    frames = [r.rollup for r in finished if r.rollup is not None]
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["origin", "split", "region"], ignore_index=True)


@dataclass(frozen=True)
class SplitChoice:
    """How the roll-up splits a border cell's hazard (:func:`model.inference.rollup.
    split_weights`), chosen on the dev window: the chosen split's rows and every candidate's
    dev Brier score of the roll-up within H (``backtest.json`` ``rollup_split``)."""

    chosen: str
    dev_brier: Mapping[str, float]
    rows: pd.DataFrame

    def to_json(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "dev_brier": dict(self.dev_brier)}


def choose_split(rows: pd.DataFrame, dev: Sequence[Any]) -> SplitChoice:
    """The candidate split (:func:`rollup_fold`'s ``split``) whose roll-up has the lowest Brier
    score within H on the ``dev`` origins (ties: the first in
    :data:`model.inference.rollup.SPLIT_PRIORS`); area shares when the dev window has no
    roll-up rows. ``rows`` come back with the chosen split's rows alone, without ``split``."""
    from model.inference.rollup import SPLIT_PRIORS, split_label

    on_dev = in_window(rows, dev)
    scored = {
        label: round(float(brier_score(d["model"], d["y"]).mean()), 6)
        for label, d in on_dev.groupby("split")
    }
    brier = {k: scored[k] for k in map(split_label, SPLIT_PRIORS) if k in scored}
    chosen = min(brier, key=brier.__getitem__) if brier else split_label(None)
    kept = rows.loc[rows["split"] == chosen].drop(columns="split").reset_index(drop=True)
    return SplitChoice(chosen, brier, kept)

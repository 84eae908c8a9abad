"""The ``backtest`` stage: rolling-origin folds on Dask, scored against the baselines.

Reads ``data/processed/panel.nc``; writes ``data/backtest/predictions.parquet`` (per region and
step) and ``data/backtest/within.parquet`` (per region, "within H"), the memory chosen on the
dev window (``data/backtest/memory.json``, which the fit stage reads, and every candidate's dev
forecasts in ``data/backtest/candidates.parquet``; :func:`choose_memory`),
``reports/metrics/backtest.json`` (bit-reproducible for a fixed seed: no timings),
``reports/plots/reliability.csv`` and ``reliability_within.csv`` (the model on the test
window) and ``reports/plots/backtest_scores.csv``. The wall time, workers and per-fold seconds
go to the run log (:mod:`model.timing`), which no stage declares.

Origins run from ``backtest.start`` to ``backtest.end`` (defaults: after the burn-in and a year
of training; the last origin with H outcomes), split at ``backtest.test_start`` (default: the
last third) into the dev and test windows; the stage logs which it picked.

Folds run on a Dask ``LocalCluster`` of ``runtime.dask.workers`` worker processes by default,
or on an existing scheduler when ``DASK_SCHEDULER_ADDRESS`` (first) or ``runtime.dask.address``
names one. Each fold samples its chains one after another on one core, so the workers do not
oversubscribe the machine. When folds fail, the finished ones are still scored and written,
and the stage then fails with a message naming the failed folds' origins.

Each finished fold is kept in ``runtime.fold_cache`` (default ``.cache/folds`` in the project,
:mod:`model.backtesting.fold_cache`) under a hash of its origins, seed, settings, the panel up to
its last scored week and the code: a re-run with one more week of data computes only the folds
that week reaches and reads the others back, writing the same bytes as a run from an empty cache.
The run log names the reused folds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from model import io
from model.backtesting import memory
from model.backtesting.backtest import (
    PREDICTION_COLUMNS,
    BacktestResult,
    FoldConfig,
    backtest_origins,
    choose_split,
    collect_rollup,
    comparison_folds,
    default_start,
    make_folds,
    run_backtest,
    split_windows,
    with_comparison,
)
from model.backtesting.baselines import Rates
from model.backtesting.evaluation import (
    backtest_metrics,
    handed_down_scores,
    in_window,
    rollup_scores,
    scores_by_origin,
)
from model.backtesting.fold_cache import FoldCache
from model.backtesting.handed_down import handed_down_rows
from model.backtesting.scoring import reliability_table
from model.config import DaskParams, Params
from model.data.memory import of_offset
from model.data.panel_facts import PanelFacts
from model.errors import StageError
from model.paths import (
    BACKTEST_METRICS,
    BACKTEST_SCORES,
    CANDIDATES,
    MEMORY,
    PANEL,
    PREDICTIONS,
    RELIABILITY,
    RELIABILITY_WITHIN,
    WITHIN,
)
from model.readers import read_panel
from model.results import BacktestMetrics, FoldSummary, HandedDown, ModelSelection
from model.timing import record as record_timing

_log = logging.getLogger(__name__)


@contextlib.contextmanager
def dask_client(spec: DaskParams, environ: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: on the scheduler named by the environment or params, else local.

    The local cluster has ``spec.workers`` worker processes of ``spec.threads_per_worker``
    threads and ``spec.memory_limit`` each, no dashboard; it is shut down on exit.
    """
    from distributed import Client, LocalCluster

    environ = os.environ if environ is None else environ
    # The scheduler's and nannies' INFO chatter (dozens of lines per run) drowns the stage's own.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    address = environ.get("DASK_SCHEDULER_ADDRESS") or spec.address
    if address:
        _log.info("backtest on the Dask scheduler at %s", address)
        with Client(address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=spec.threads_per_worker,
            processes=True,
            memory_limit=spec.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def fold_config(params: Params) -> FoldConfig:
    """The fold settings: the model section, the fit's sampler, the backtest's sampling budget."""
    bt = params.backtest
    budget = {"draws": bt.draws, "tune": bt.tune, "chains": bt.chains}
    return FoldConfig(
        model=params.model,
        fit=params.fit.model_copy(update=budget),
        rates=Rates(bt.climatology_window, bt.ewma_half_life, bt.prior_strength),
        proximity_worth=bt.proximity_worth,
        proximity_refit_every=bt.proximity_refit_every,
    )


def plan_origins(params: Params, panel: xr.Dataset) -> dict[str, list]:
    """The dev and test windows' origins from params (defaults filled in and logged)."""
    bt, mp = params.backtest, params.model
    periods = panel["period"].values
    try:
        start = bt.start or default_start(
            periods, mp.burn_in, mp.horizon, PanelFacts.from_attrs(panel).periods_per_year
        )
        origins = backtest_origins(periods, start, bt.stride, mp.horizon, end=bt.end)
        windows = split_windows(origins, bt.test_start)
    except ValueError as e:
        raise StageError(f"{PANEL}: {e} (params backtest.start/test_start/end)") from None
    for name, os_ in windows.items():
        _log.info(
            "backtest %s window: %d origins, %s … %s%s",
            name,
            len(os_),
            os_[0].date(),
            os_[-1].date(),
            "" if (bt.start if name == "dev" else bt.test_start) else " (default)",
        )
    return windows


def _fold_list(results: list) -> tuple[FoldSummary, ...]:
    return tuple(
        FoldSummary(r.fold.cutoff.date().isoformat(), len(r.fold.origins), r.divergences)
        for r in results
    )


def write_outputs(
    result: BacktestResult,
    windows: dict[str, list],
    params: Params,
    root: Path,
    timing: dict[str, Any],
    selection: ModelSelection | None = None,
    panel: xr.Dataset | None = None,
) -> BacktestMetrics:
    """Score the finished folds and write every output; returns the metrics document (a cell
    run's ``panel`` gives the governorate forecast handed down to the cells)."""
    bt = params.backtest
    ewma_half_life = selection.ewma_chosen if selection else bt.ewma_half_life
    split = None
    if result.rollup is not None:
        split = choose_split(result.rollup, windows["dev"])
        result = replace(result, rollup=split.rows)
        _log.info("roll-up: border cells split with pseudo-count %s (dev Brier within H: %s)",
                  split.chosen, split.dev_brier)  # fmt: skip
    metrics = backtest_metrics(
        result.predictions,
        result.within,
        windows,
        bins=bt.calibration_bins,
        binning=bt.calibration_binning,
        n_boot=bt.bootstrap,
        block=bt.block_origins,
        seed=params.fit.seed,
    )
    compared = bool(result.comparison or result.failed_comparison)
    scored = _with_refit_every(metrics, bt.proximity_refit_every if compared else None)
    metrics = replace(
        metrics,
        unit=params.ingest.regions.unit,
        windows=_with_cells(scored, result, windows, params, panel, float(ewma_half_life)),
        ewma_half_life=ewma_half_life,
        model_selection=selection,
        rollup_split=None if split is None else split.to_json(),
        folds=_fold_list(result.folds),
        proximity_folds=_fold_list(result.comparison) if compared else None,
        failed_origins=tuple(
            sorted(o.date().isoformat() for origins, _ in result.failed.values() for o in origins)
        ),
    )
    test = windows.get("test", windows["dev"])  # dev only in a model-selection run
    io.write_parquet(root / PREDICTIONS, result.predictions)
    io.write_parquet(root / WITHIN, result.within)
    io.write_json(root / BACKTEST_METRICS, metrics.to_json())
    if selection is not None:
        chosen = {**selection.chosen, "auto": selection.auto}
        if split is not None:
            chosen["rollup_split"] = split.chosen
        io.write_json(root / MEMORY, chosen)
    if result.candidates is not None:
        io.write_parquet(root / CANDIDATES, result.candidates)
    io.write_csv(
        root / RELIABILITY,
        reliability_table(
            in_window(result.predictions, test),
            bt.calibration_bins,
            binning=bt.calibration_binning,
        ),
    )
    io.write_csv(
        root / RELIABILITY_WITHIN,
        reliability_table(
            in_window(result.within, test), bt.calibration_bins, binning=bt.calibration_binning
        ),
    )
    io.write_csv(
        root / BACKTEST_SCORES, scores_by_origin(result.predictions, windows, result.within)
    )
    record_timing(root, "backtest", timing)
    return metrics


def _with_cells(
    scored: dict[str, Any],
    result: BacktestResult,
    windows: dict[str, list],
    params: Params,
    panel: xr.Dataset | None,
    ewma_half_life: float,
) -> dict[str, Any]:
    """Each window's scores with a cell run's governorate roll-up and its cells against the
    governorate forecast handed down to them (the governorates' EWMA at ``ewma_half_life``)."""
    if result.rollup is None:
        return scored
    handed = {}
    if panel is not None:
        handed = handed_down_windows(
            panel, result.predictions, result.within, windows, params, ewma_half_life
        )
    out = dict(scored)
    for name, w in scored.items():
        rows = in_window(result.rollup, windows[name])
        if len(rows):
            w = replace(w, rollup=rollup_scores(rows, **_score_settings(params)))
        out[name] = replace(w, handed_down=handed.get(name))
    return out


def handed_down_windows(
    panel: xr.Dataset,
    predictions: pd.DataFrame,
    within: pd.DataFrame,
    windows: Mapping[str, Sequence[pd.Timestamp]],
    params: Params,
    ewma_half_life: float,
) -> dict[str, HandedDown]:
    """A cell run's rows (per step, within H) scored, per window with rows, against the
    governorate's EWMA (half-life ``ewma_half_life``) handed down to each cell
    (:mod:`model.backtesting.handed_down`)."""
    bt = params.backtest
    rates = Rates(bt.climatology_window, ewma_half_life, bt.prior_strength)
    handed = handed_down_rows(panel, predictions, within, rates)
    out = {}
    for name, origins in windows.items():
        steps, window = (in_window(f, origins) for f in handed)
        if len(steps):
            out[name] = handed_down_scores(steps, window, **_score_settings(params))
    return out


def _score_settings(params: Params) -> dict[str, Any]:
    """How the roll-up and the handed-down rows are scored: calibration bins and the skill's
    bootstrap, as for the window's own scores."""
    bt = params.backtest
    return {
        "bins": bt.calibration_bins, "binning": bt.calibration_binning,
        "horizon": params.model.horizon, "block": bt.block_origins, "n_boot": bt.bootstrap,
        "seed": params.fit.seed,
    }  # fmt: skip


def _with_refit_every(metrics: BacktestMetrics, every: int | None) -> dict[str, Any]:
    """The windows, each proximity worth stamped with how often its comparison folds refit
    (``every``; None: as they are)."""
    return {
        name: w
        if w.proximity is None or every is None
        else replace(w, proximity=replace(w.proximity, refit_every=every))
        for name, w in metrics.windows.items()
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}%"


def _run_phase(
    panel: xr.Dataset,
    windows: Mapping[str, list],
    config: FoldConfig,
    client: Any,
    seed: int,
    refit_every: int,
    compare: Mapping[str, list] | None = None,
    cache: FoldCache | None = None,
) -> tuple[BacktestResult, int, int]:
    """The folds of ``windows`` with ``config`` (a fold never straddles two windows) and the
    proximity comparison folds of ``compare`` (default: the same windows). Returns the result
    and the number of folds and comparison folds."""
    folds = [f for origins in windows.values() for f in make_folds(origins, refit_every, seed)]
    comparison = comparison_folds(windows if compare is None else compare, config, seed)
    if comparison:
        _log.info(
            "proximity block: %d comparison folds (both variants refitted every %d origins)",
            len(comparison), config.proximity_refit_every,
        )  # fmt: skip
    return (
        run_backtest(panel, folds, config, client, comparison=comparison, cache=cache),
        len(folds),
        len(comparison),
    )


def _merge(a: BacktestResult, b: BacktestResult) -> BacktestResult:
    """Two phases' results as one (rows sorted as one run sorts them), the comparison folds'
    columns joined to the rows of both (a phase's comparison folds may cover the other's)."""
    own = list(PREDICTION_COLUMNS)
    steps = pd.concat([a.predictions[own], b.predictions[own]], ignore_index=True)
    within = pd.concat([a.within, b.within], ignore_index=True)
    comparison = sorted([*a.comparison, *b.comparison], key=lambda r: r.fold.cutoff)
    return BacktestResult(
        with_comparison(
            steps.sort_values(["origin", "region", "horizon"], ignore_index=True), comparison
        ),
        within.sort_values(["origin", "region"], ignore_index=True),
        sorted([*a.folds, *b.folds], key=lambda r: r.fold.cutoff),
        dict(sorted({**a.failed, **b.failed}.items())),
        comparison,
        dict(sorted({**a.failed_comparison, **b.failed_comparison}.items())),
        candidates=a.candidates,
        rollup=collect_rollup([*a.folds, *b.folds]),
    )


def _as_model(frames: tuple[pd.DataFrame, pd.DataFrame], name: str) -> tuple[pd.DataFrame, ...]:
    """The dev folds' forecasts (per step, within H) with the offset ``name``, as ``model``."""
    return tuple(
        f[[c for c in f.columns if c in ("origin", "region", "horizon")] + [name]].rename(
            columns={name: "model"}
        )
        for f in frames
    )


def choose_memory(
    params: Params,
    panel: xr.Dataset,
    windows: Mapping[str, list],
    config: FoldConfig,
    client: Any,
    cache: FoldCache | None = None,
) -> tuple[BacktestResult, ModelSelection, int, int]:
    """The dev window's folds, the memory chosen on them, and the test window's folds with it
    (and the number of folds and comparison folds run).

    Without a choice to make (``memory.auto`` off, or no offset) every window runs at once
    with ``config`` and the pinned settings are recorded with their dev scores.
    """
    bt, seed = params.backtest, params.fit.seed
    try:
        mplan = memory.plan(params.model, params.memory, panel)
    except ValueError as e:
        raise StageError(f"{PANEL}: {e}") from None
    facts = PanelFacts.from_attrs(panel)
    reference = memory.settings_of(
        params.model.offset,
        of_offset(params.model.offset, facts.level_prior, facts.level_long_half_life),
    )
    # The dev folds score every candidate; the comparison folds of both windows (the longest
    # tasks, the proximity block's worth on the reference memory) run beside them, so the
    # test folds that wait for the choice are the only second phase.
    dev = {"dev": windows["dev"]}
    first = replace(config, candidates=mplan.names) if mplan else config
    result, n_folds, n_comp = _run_phase(
        panel, dev if mplan else windows, first, client, seed, bt.refit_every, compare=windows,
        cache=cache,
    )  # fmt: skip
    if not result.folds:
        return result, None, n_folds, n_comp  # type: ignore[return-value]
    dev_steps = in_window(result.predictions, windows["dev"])
    cand = within_cand = None
    if mplan:
        cand = pd.concat([r.candidate_steps for r in result.folds], ignore_index=True)
        within_cand = pd.concat([r.candidate_within for r in result.folds], ignore_index=True)
    hls = params.memory.ewma_half_lives if mplan else [bt.ewma_half_life]
    ewma = memory.ewma_rows(panel, windows["dev"], params.model.horizon, config.rates, hls)
    selection = memory.select(
        dev_steps, cand, ewma, mplan, params.memory, reference,
        ewma_half_life=bt.ewma_half_life, bins=bt.calibration_bins,
        binning=bt.calibration_binning,
    )  # fmt: skip
    _log.info("%s", selection.describe(facts.period_word))
    if not mplan:
        cand = dev_steps[["origin", "region", "horizon", "model"]].rename(
            columns={"model": str(params.model.offset)}
        )
    result.candidates = cand.sort_values(["origin", "region", "horizon"], ignore_index=True)
    if not mplan:
        return result, selection, n_folds, n_comp
    offset = str(selection.chosen["offset"])
    chosen = replace(
        config,
        model=config.model.model_copy(update={"offset": offset}),
        rates=replace(config.rates, half_life=float(selection.ewma_chosen)),
        candidates=(),
    )
    if chosen != config:
        changed = offset != params.model.offset
        candidate = _as_model((cand, within_cand), offset) if changed else None
        steps, within = memory.rebase_dev_rows(
            panel, result.predictions, result.within, candidate, chosen.model, chosen.rates
        )
        result = replace(result, predictions=steps, within=within)
    if "test" in windows:
        test, n2, c2 = _run_phase(
            panel, {"test": windows["test"]}, chosen, client, seed, bt.refit_every, compare={},
            cache=cache,
        )  # fmt: skip
        result, n_folds, n_comp = _merge(result, test), n_folds + n2, n_comp + c2
    return result, selection, n_folds, n_comp


def run(params: Params, root: Path) -> None:
    """Run the backtest stage (see the module docstring)."""
    root = Path(root)
    bt = params.backtest
    panel = read_panel(root)
    windows = plan_origins(params, panel)
    origins = [o for os_ in windows.values() for o in os_]
    config = fold_config(params)
    kept, cache = params.runtime.fold_cache, None
    if kept is not None:
        cache = FoldCache(root / kept)
        config = replace(config, fit_cache=str(root / kept / "fits"))
    t0 = time.perf_counter()
    with dask_client(params.runtime.dask) as client:
        workers = len(client.scheduler_info().get("workers", {}))
        _log.info(
            "backtest: %d origins (a refit every %d, %d chains × %d draws) on %d worker(s)",
            len(origins), bt.refit_every, bt.chains, bt.draws, workers,
        )  # fmt: skip
        result, selection, n_folds, n_comp = choose_memory(
            params, panel, windows, config, client, cache
        )
    wall = time.perf_counter() - t0
    if cache is not None:
        _log.info(
            "backtest: %d of %d folds reused from %s (their data, settings and code unchanged)",
            len(cache.reused), n_folds + n_comp, kept,
        )  # fmt: skip
    if not result.folds:
        detail = "; ".join(f"{c.date()}: {msg}" for c, (_, msg) in result.failed.items())
        raise StageError(f"backtest: every fold failed, nothing written ({detail})")
    timing = {
        "wall_seconds": round(wall, 3),
        "workers": workers,
        "folds": n_folds,
        "reused": [] if cache is None else sorted(cache.reused),
        "fold_seconds": {
            r.fold.cutoff.date().isoformat(): round(r.seconds, 3) for r in result.folds
        },
        "proximity_fold_seconds": {
            r.fold.cutoff.date().isoformat(): round(r.seconds, 3) for r in result.comparison
        },
    }
    metrics = write_outputs(result, windows, params, root, timing, selection, panel)
    _log.info("backtest: %d folds in %.0f s on %d worker(s)", n_folds, wall, workers)
    for name, w in metrics.windows.items():
        skill = w.skill["climatology"]["brier"]
        _log.info(
            "%s window: Brier skill vs climatology %s (90%%: %s … %s), ECE %s",
            name, *(_pct(v) for v in (skill.mean, skill.ci_low, skill.ci_high)),
            w.scores["model"]["ece"],
        )  # fmt: skip
        if w.proximity is not None:
            d = w.proximity.brier_skill_diff
            _log.info(
                "%s window: proximity block, Brier skill with minus without %s (90%%: %s … %s)",
                name, *(_pct(v) for v in (d.mean, d.ci_low, d.ci_high)),
            )  # fmt: skip
    failed = [*result.failed.values(), *result.failed_comparison.values()]
    if failed:
        lines = [
            f"origins {', '.join(o.date().isoformat() for o in origins)}: {msg}"
            for origins, msg in failed
        ]
        counts = f"{len(result.failed)} of {n_folds} fold(s)"
        if n_comp:
            counts += f" and {len(result.failed_comparison)} of {n_comp} proximity "
            counts += "comparison fold(s)"
        raise StageError(
            f"backtest: {counts} failed; the finished folds were scored and written. Failed: "
            + "; ".join(lines)
        )

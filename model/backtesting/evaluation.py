"""Scoring a backtest: per window, per forecaster, per step and "within H", with honest skill.

:func:`backtest_metrics` turns the backtest's prediction rows into ``backtest.json``
(:class:`model.results.BacktestMetrics`; :func:`summarise_backtest` gives it as JSON): for each
window (``dev``, ``test``; DESIGN §5) the scores of the model and every baseline on the same
rows, skill against each baseline with a circular block bootstrap interval over origins and a
Diebold–Mariano p-value, scores per step, and the same for "within H" (P(at least one clash in
steps 1..H)) against its own climatology and EWMA. Plain NumPy and pandas; the forecasters and
scores are those of :mod:`model.backtesting.catalogue`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from model.backtesting import scoring
from model.backtesting.catalogue import (
    BASELINES,
    FORECASTERS,
    HANDED_DOWN,
    SKILL_SCORES,
    WITHIN_BASELINES,
    WITHIN_FORECASTERS,
)
from model.results import (
    BacktestMetrics,
    HandedDown,
    HandedDownScores,
    Hindsight,
    ProximityWorth,
    Skill,
    SkillTable,
    StepScores,
    WindowScores,
    WithinScores,
)

#: Prediction columns of the model with and without the proximity block
#: (model.backtesting.backtest).
WITH_PROXIMITY, WITHOUT_PROXIMITY = "with_proximity", "without_proximity"


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


def _losses(rows: pd.DataFrame, names: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    y = rows["y"].to_numpy()
    return {n: {s: scoring.LOSSES[s](rows[n].to_numpy(), y) for s in SKILL_SCORES} for n in names}


def _skill_table(
    rows: pd.DataFrame,
    baselines: Sequence[str],
    *,
    horizon: int,
    block: int,
    n_boot: int,
    seed: int,
) -> SkillTable:
    """Skill of ``model`` against each baseline, for each score of
    :data:`model.backtesting.catalogue.SKILL_SCORES`, with uncertainty.

    The same seed serves every bootstrap, so the intervals of different baselines use the same
    resamples of origins.
    """
    losses = _losses(rows, ["model", *baselines])
    origin = rows["origin"].to_numpy()
    return {
        base: {
            score: Skill(
                **scoring.skill_with_uncertainty(
                    losses["model"][score],
                    losses[base][score],
                    origin,
                    horizon=horizon,
                    block=block,
                    n_boot=n_boot,
                    seed=seed,
                )
            )
            for score in SKILL_SCORES
        }
        for base in baselines
    }


def _per_horizon(rows: pd.DataFrame) -> dict[str, StepScores]:
    out = {}
    for h, part in rows.groupby("horizon", sort=True):
        yh = part["y"].to_numpy()
        scores = {name: scoring.step_scores(part[name].to_numpy(), yh) for name in FORECASTERS}
        brier_skill = {
            b: scoring.skill(scores["model"]["brier"], scores[b]["brier"]) for b in BASELINES
        }
        out[str(int(h))] = StepScores(len(part), float(yh.mean()), scores, brier_skill)
    return out


def hindsight_ceiling(
    predictions: pd.DataFrame, climatology: Mapping[str, float]
) -> dict[str, Any]:
    """Scores of a forecaster that knew each region's clash rate over the scored rows.

    Not a forecaster (it reads the outcomes it scores): the headroom left to any forecast that
    is constant within a region over the window, which is what climatology aims at. A model
    beats it only by following changes within the window. Rates are Jeffreys-smoothed,
    ``(k + 1/2) / (n + 1)``, so the log score stays finite. ``climatology`` holds the mean
    ``brier`` and ``log_score`` of the climatology baseline on the same rows.
    """
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


def _origin_span(rows: pd.DataFrame) -> dict[str, Any]:
    origins = sorted(pd.to_datetime(rows["origin"].unique()))
    return {
        "first_origin": origins[0].date().isoformat(),
        "last_origin": origins[-1].date().isoformat(),
        "origins": len(origins),
    }


def summarise_within(
    within: pd.DataFrame,
    *,
    bins: int,
    horizon: int,
    block: int,
    n_boot: int,
    seed: int,
    binning: str = "quantile",
) -> WithinScores:
    """Scores of "within H" forecasts on one window, and the model's skill on its baselines."""
    y = within["y"].to_numpy()
    scores = {
        name: scoring.summarize(within[name].to_numpy(), y, bins, binning=binning)
        for name in WITHIN_FORECASTERS
    }
    skill = _skill_table(
        within, WITHIN_BASELINES, horizon=horizon, block=block, n_boot=n_boot, seed=seed
    )
    return WithinScores(len(within), float(y.mean()), scores, skill)


def rollup_scores(rows: pd.DataFrame, **settings: Any) -> WithinScores:
    """The governorate roll-up's scores on one window (:func:`summarise_within` of its rows,
    ``settings`` the same), rounded as ``backtest.json`` keeps them."""
    return WithinScores.from_json(_clean(summarise_within(rows, **settings).to_json()))


def handed_down_scores(
    steps: pd.DataFrame, within: pd.DataFrame, *, bins: int, binning: str, **settings: Any
) -> HandedDown:
    """The model's cells against the governorate forecast handed down to them on one window
    (rows of :func:`model.backtesting.handed_down.handed_down_rows`), weekly and within H;
    ``settings`` (horizon, block, n_boot, seed) as for the skill tables. Rounded as
    ``backtest.json`` keeps them."""
    parts = []
    for rows in (steps, within):
        y = rows["y"].to_numpy()
        scores = {
            name: scoring.summarize(rows[name].to_numpy(), y, bins, binning=binning)
            for name in ("model", *HANDED_DOWN)
        }
        skill = _skill_table(rows, HANDED_DOWN, **settings)
        parts.append(HandedDownScores(len(rows), float(y.mean()), scores, skill).to_json())
    return HandedDown.from_json(_clean({"weekly": parts[0], "within_h": parts[1]}))


def summarise_window(
    predictions: pd.DataFrame,
    within: pd.DataFrame,
    *,
    bins: int = 10,
    n_boot: int = 1000,
    block: int = 8,
    seed: int = 0,
    binning: str = "quantile",
) -> WindowScores:
    """Every score of one window (the ``W`` of ``backtest.json``'s ``windows``), unrounded;
    ECE and Murphy's terms on ``bins`` calibration bins drawn by ``binning``
    (:func:`model.backtesting.scoring.bin_index`)."""
    horizon = int(predictions["horizon"].max())
    y = predictions["y"].to_numpy()
    scores = {
        name: scoring.summarize(predictions[name].to_numpy(), y, bins, binning=binning)
        for name in FORECASTERS
    }
    kw = {"horizon": horizon, "block": block, "n_boot": n_boot, "seed": seed}
    proximity = None
    if WITH_PROXIMITY in predictions.columns and predictions[WITH_PROXIMITY].notna().any():
        worth = proximity_worth(predictions, block=block, n_boot=n_boot, seed=seed)
        proximity = ProximityWorth.from_json(worth)
    return WindowScores(
        **_origin_span(predictions),
        rows=len(predictions),
        prevalence=float(y.mean()),
        scores=scores,
        skill=_skill_table(predictions, BASELINES, **kw),
        per_horizon=_per_horizon(predictions),
        hindsight=Hindsight.from_json(hindsight_ceiling(predictions, scores["climatology"])),
        within_h=summarise_within(within, bins=bins, binning=binning, **kw),
        proximity=proximity,
    )


def proximity_worth(
    rows: pd.DataFrame, *, block: int, n_boot: int, seed: int, reference: str = "climatology"
) -> dict[str, Any]:
    """The proximity block's worth on one window: skill with it minus skill without it.

    ``brier_skill_diff`` and ``log_skill_diff`` are ``skill(with) − skill(without)`` against
    ``reference`` on the same rows (positive: the block helps), each with the circular block
    bootstrap interval of the other skills (:func:`model.backtesting.scoring.skill_difference`, same
    seed); the mean scores of both models are given beside them.
    """
    rows = rows.dropna(subset=[WITH_PROXIMITY, WITHOUT_PROXIMITY])  # a failed comparison fold
    y = rows["y"].to_numpy()
    origin = rows["origin"].to_numpy()
    out: dict[str, Any] = {"reference": reference, "rows": len(rows)}
    for score, key in zip(SKILL_SCORES, ("brier_skill_diff", "log_skill_diff"), strict=True):
        loss = scoring.LOSSES[score]
        with_, without = (
            loss(rows[WITH_PROXIMITY].to_numpy(), y),
            loss(rows[WITHOUT_PROXIMITY].to_numpy(), y),
        )
        ref = loss(rows[reference].to_numpy(), y)
        out[key] = scoring.skill_difference(
            with_, without, ref, origin, block=block, n_boot=n_boot, seed=seed
        )
        out[f"{score}_with"], out[f"{score}_without"] = float(with_.mean()), float(without.mean())
    return out


def in_window(rows: pd.DataFrame, origins: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """The rows whose origin is one of ``origins``."""
    wanted = pd.DatetimeIndex(pd.to_datetime(list(origins)))
    return rows.loc[pd.to_datetime(rows["origin"]).isin(wanted)]


def backtest_metrics(
    predictions: pd.DataFrame,
    within: pd.DataFrame,
    windows: Mapping[str, Sequence[pd.Timestamp]],
    **settings: Any,
) -> BacktestMetrics:
    """The horizon and every window's scores, rounded as ``backtest.json`` keeps them.

    ``settings`` are :func:`summarise_window`'s (``bins``, ``binning``, ``n_boot``, ``block``,
    ``seed``), the same for every window. A window whose origins have no scored row (every fold
    of it failed) is left out.
    """
    scored = {}
    for name, origins in windows.items():
        p, w = in_window(predictions, origins), in_window(within, origins)
        if len(p):
            scored[name] = summarise_window(p, w, **settings)
    raw = BacktestMetrics(int(predictions["horizon"].max()), scored)
    return BacktestMetrics.from_json(_clean(raw.to_json()))


def summarise_backtest(*args: Any, **kw: Any) -> dict[str, Any]:
    """The contents of ``backtest.json`` as scored, ``{horizon, windows: {name: W}}``:
    :func:`backtest_metrics` (the same arguments) as JSON."""
    return backtest_metrics(*args, **kw).to_json()


def scores_by_origin(
    predictions: pd.DataFrame,
    windows: Mapping[str, Sequence[pd.Timestamp]],
    within: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Mean scores per origin (what ``dvc plots`` draws over time): the model's Brier and log
    score and each baseline's Brier for the weekly forecasts; with ``within``, the Brier of "any
    clash within H" of the model and of its baselines (``within_<name>_brier``); the window."""
    out = _mean_brier_by_origin(predictions, FORECASTERS, prefix="")
    log_score = scoring.log_score(predictions["model"].to_numpy(), predictions["y"].to_numpy())
    out.insert(2, "log_score", _by_origin(predictions, log_score))
    if within is not None:
        names = ("model", *WITHIN_BASELINES)
        out = out.merge(_mean_brier_by_origin(within, names, prefix="within_"), on="origin")
    window_of = {
        pd.Timestamp(o).strftime("%Y-%m-%d"): name for name, os in windows.items() for o in os
    }
    out["window"] = out["origin"].map(window_of)
    return out


def _by_origin(rows: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """The mean of ``values`` (one per row) per origin, origins in order."""
    return pd.Series(values).groupby(rows["origin"].to_numpy(), sort=True).mean().to_numpy()


def _mean_brier_by_origin(rows: pd.DataFrame, names: Sequence[str], prefix: str) -> pd.DataFrame:
    """Mean Brier per origin of each forecaster in ``names``: columns ``origin`` (ISO date) and
    ``{prefix}brier`` for the model, ``{prefix}{name}_brier`` for the others."""
    y = rows["y"].to_numpy()
    cols = {
        f"{prefix}brier" if name == "model" else f"{prefix}{name}_brier": _by_origin(
            rows, scoring.brier_score(rows[name].to_numpy(), y)
        )
        for name in names
    }
    origins = np.sort(rows["origin"].unique())
    return pd.DataFrame({"origin": pd.DatetimeIndex(origins).strftime("%Y-%m-%d"), **cols})

"""Rare-dyad panels with a known level process, to check that the memory the dev window chooses
(:mod:`model.backtesting.memory`) is a sensible one.

Each region's clash log-odds is ``base + region effect + regime``: the regime is piecewise
constant and jumps to a fresh normal draw with probability ``1 / switch_periods`` each period,
so ``switch_periods`` is the known time scale of the level (how long a memory should be), and
``base`` is set so that the panel's share of clash periods is ``prevalence``. The outcome of a
period is a Bernoulli draw of that rate. The panel has the ``panel.nc`` layout, the panel's
facts and the memory grid's offset columns (:func:`model.data.memory.candidate_columns`), so
the backtest's folds and the selection run on it unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from model.config import FitParams, MemoryParams, ModelParams
from model.data.features import level_logit
from model.data.memory import candidate_columns
from model.data.panel_facts import PanelFacts


@dataclass(frozen=True)
class RareTruth:
    """The level process of a simulated rare panel."""

    prevalence: float = 0.02
    switch_periods: float = 52.0
    sigma_region: float = 1.0
    sigma_regime: float = 1.2


def _regimes(
    n_regions: int, n_periods: int, truth: RareTruth, rng: np.random.Generator
) -> np.ndarray:
    """Piecewise-constant regime levels (regions × periods)."""
    jumps = rng.random((n_regions, n_periods)) < 1.0 / truth.switch_periods
    jumps[:, 0] = True
    draws = truth.sigma_regime * rng.standard_normal((n_regions, n_periods))
    # each period takes the draw of the last jump at or before it
    idx = np.where(jumps, np.arange(n_periods), 0)
    idx = np.maximum.accumulate(idx, axis=1)
    return np.take_along_axis(draws, idx, axis=1)


def _base_for(prevalence: float, latent: np.ndarray) -> float:
    """The intercept that makes the mean of ``expit(base + latent)`` equal ``prevalence``."""
    lo, hi = -20.0, 5.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expit(mid + latent).mean() < prevalence else (lo, mid)
    return 0.5 * (lo + hi)


def simulate_rare_panel(
    n_regions: int,
    n_periods: int,
    truth: RareTruth,
    memory: MemoryParams,
    seed: int = 0,
    reference_half_life: float = 8.0,
    start: str = "2010-01-04",
) -> xr.Dataset:
    """A weekly panel of a rare dyad drawn from ``truth`` (see the module docstring).

    It holds ``clash``, ``clash_any``, ``events``, the reference offset
    ``clash_level_hl{reference_half_life}`` (the panel's pooling: 2 pseudo-periods toward a
    52-period share) and one offset column per candidate of ``memory``; its attributes hold the
    panel's facts and the truth (``simulation_truth``, JSON, with the realised prevalence).
    """
    rng = np.random.default_rng(seed)
    region_eff = truth.sigma_region * rng.standard_normal(n_regions)
    latent = region_eff[:, None] + _regimes(n_regions, n_periods, truth, rng)
    rate = expit(_base_for(truth.prevalence, latent) + latent)
    clash = (rng.random(rate.shape) < rate).astype(np.int64)
    facts = PanelFacts.defaults("W-MON")
    reference = f"clash_level_hl{reference_half_life:g}"
    data = {
        "clash": clash,
        "clash_any": clash.astype(np.int8),
        "events": clash,
        reference: level_logit(
            clash > 0, reference_half_life, facts.level_long_half_life, facts.level_prior
        ),
        **candidate_columns(clash, memory),
    }
    periods = pd.date_range(start, periods=n_periods, freq="W-MON")
    regions = [f"R{i:02d}" for i in range(n_regions)]
    record = asdict(truth) | {"realised_prevalence": float(clash.mean()), "seed": seed}
    return xr.Dataset(
        {k: (("region", "period"), v) for k, v in data.items()},
        coords={
            "region": regions,
            "period": periods.values.astype("datetime64[ns]"),
            "period_end": ("period", (periods + pd.Timedelta(days=6)).values),
            "country": ("region", ["C00"] * n_regions),
            "region_id": ("region", [f"X-{r}" for r in regions]),
        },
        attrs={
            **PanelFacts.defaults("W-MON", [reference]).to_attrs(),
            "window_start": str(periods[0].date()),
            "window_end": str((periods[-1] + pd.Timedelta(days=6)).date()),
            "simulation_truth": json.dumps(record),
            "simulated": "true",
        },
    )


def memory_study(
    panel: xr.Dataset,
    *,
    model: ModelParams,
    fit: FitParams,
    memory: MemoryParams,
    start: str,
    test_start: str,
    refit_every: int,
    client: Any,
    bins: int = 10,
    binning: str = "quantile",
    rules: dict[str, MemoryParams] | None = None,
) -> dict[str, Any]:
    """The backtest's memory selection on ``panel``, and the candidate that scores best on the
    test window (lowest test Brier score, in hindsight), from one run of folds over both windows
    with every candidate scored on each origin.

    Returns, for ``memory`` (``chosen``) and for each of ``rules`` (the same grid, another rule:
    ``by_rule``), the chosen settings, the ratio of its level half-life to the test-best's, its
    test regret (its test Brier score over the test-best's, minus 1), and its dev and test Brier
    skill against climatology and the EWMA (the baselines of the same rows).
    """
    from model.backtesting import memory as sel
    from model.backtesting.backtest import (
        FoldConfig,
        backtest_origins,
        make_folds,
        run_backtest,
        split_windows,
    )
    from model.backtesting.baselines import RATES
    from model.backtesting.evaluation import in_window

    periods = panel["period"].values
    windows = split_windows(backtest_origins(periods, start, 1, model.horizon), test_start)
    plan = sel.plan(model, memory, panel)
    assert plan is not None, "memory.auto must be on and the model must have an offset"
    config = FoldConfig(model=model, fit=fit, candidates=plan.names)
    folds = [f for o in windows.values() for f in make_folds(o, refit_every, fit.seed)]
    result = run_backtest(panel, folds, config, client, progress=False)
    keys = ["origin", "region", "horizon"]
    cand = pd.concat([r.candidate_steps for r in result.folds], ignore_index=True)
    rows = result.predictions.merge(cand, on=keys, validate="one_to_one")
    dev, test = (in_window(rows, windows[w]) for w in ("dev", "test"))
    ewma = sel.ewma_rows(panel, windows["dev"], model.horizon, RATES, memory.ewma_half_lives)
    test_brier = {n: float(np.mean((test[n] - test["y"]) ** 2)) for n in plan.names}
    best = min(plan.names, key=lambda n: (test_brier[n], plan.names.index(n)))
    best_half = plan.settings[best]["level_half_life"]

    def outcome(rule: MemoryParams) -> dict[str, Any]:
        chosen = sel.select(
            dev, cand, ewma, plan, rule, plan.settings[plan.reference],
            ewma_half_life=RATES.half_life, bins=bins, binning=binning,
        )  # fmt: skip
        name = chosen.chosen["offset"]

        def skill(frame: pd.DataFrame, baseline: str) -> float:
            model_b = np.mean((frame[name] - frame["y"]) ** 2)
            return float(1.0 - model_b / np.mean((frame[baseline] - frame["y"]) ** 2))

        half = plan.settings[name]["level_half_life"]
        return {
            "chosen": dict(plan.settings[name]),
            "half_life_ratio": float(max(half, best_half) / min(half, best_half)),
            "test_regret": test_brier[name] / test_brier[best] - 1.0,
            "dev_skill_climatology": skill(dev, "climatology"),
            "dev_skill_ewma": skill(dev, "ewma"),
            "test_skill_climatology": skill(test, "climatology"),
            "test_skill_ewma": skill(test, "ewma"),
        }

    return {
        **outcome(memory),
        "by_rule": {k: outcome(r) for k, r in (rules or {}).items()},
        "test_best": dict(plan.settings[best]),
        "failed_folds": len(result.failed),
    }

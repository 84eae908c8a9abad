"""The model's memory, chosen on the dev window (``memory`` in params).

The level offset (:mod:`model.data.memory`) is not a parameter the sampler sees: it enters the
model with coefficient 1. So a candidate memory is scored without a fit of its own: each dev
fold, fitted once with the reference offset (``model.offset``), forecasts every origin again
with each candidate's offset in its place (:func:`candidate_rows`; the posterior's block scale
and slopes are the reference's, which is the approximation). The rule is the one the shipped
defaults were chosen by (:func:`choose`): the lowest dev Brier score among the candidates whose
dev ECE is at most ``memory.ece_max``, the lowest ECE when none is. The grid reaches memories
long and pooled enough to behave like climatology, so the rule can always fall back to one.
The EWMA baseline's half-life is chosen by the same rule among ``memory.ewma_half_lives``.

The test window's folds are then fitted with the chosen offset, and so is the final fit (the
fit stage reads :data:`model.paths.MEMORY`). The dev window's rows report the chosen memory as
it was scored (the reference's fits, the candidate's offset), with the baselines that depend on
the choice (EWMA, logistic) recomputed for it (:func:`rebase_dev_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from model.backtesting.baselines import Rates, ewma, known_at, logistic, within_ewma
from model.backtesting.scoring import (
    brier_score,
    diebold_mariano,
    expected_calibration_error,
    log_score,
)
from model.config import MemoryParams, ModelParams
from model.data.memory import LevelMemory, candidates, of_offset
from model.data.panel_facts import PanelFacts
from model.results import Candidate, ModelSelection

#: The rule, in words (``backtest.json`` ``model_selection.criterion``).
CRITERION = (
    "lowest dev Brier score among the candidates whose dev ECE is at most {ece_max:g} "
    "(the lowest ECE when none is); model.offset, when its dev ECE is within the threshold and "
    "its dev Brier score no worse than climatology's, is kept unless that candidate's dev Brier "
    "score is lower by at least {min_gain:.0%} and its Diebold-Mariano statistic against it is "
    "below -{dm_min:g}"
)
#: How the EWMA baseline's half-life is chosen: a baseline is made as strong as the dev window
#: allows (no ECE is asked of it, and none of its half-lives stays within the threshold on
#: the shipped file).
EWMA_CRITERION = "lowest dev Brier score"
PINNED = "pinned by params (memory.auto: false)"
#: The dev scores each candidate is given.
DEV_SCORES = ("brier", "log_score", "ece")


@dataclass(frozen=True)
class MemoryPlan:
    """The offsets the dev folds score: the reference (``model.offset``) first, then every
    candidate of the grid whose settings differ from it; ``settings`` per offset variable."""

    reference: str
    names: tuple[str, ...]
    settings: Mapping[str, Mapping[str, Any]]


def settings_of(name: str | None, memory: LevelMemory | None) -> dict[str, Any]:
    """An offset's settings as ``backtest.json`` records them."""
    return {"offset": name, **(memory.to_json() if memory is not None else {})}


def plan(model: ModelParams, memory: MemoryParams, panel: xr.Dataset) -> MemoryPlan | None:
    """What the dev window chooses among; None when ``memory.auto`` is off or the model has no
    offset. Raises ``ValueError`` when the panel lacks a candidate's column (it was built
    without ``memory.auto``, or with another grid)."""
    if not memory.auto or model.offset is None:
        return None
    facts = PanelFacts.from_attrs(panel)
    ref = of_offset(model.offset, facts.level_prior, facts.level_long_half_life)
    names = {model.offset: ref}
    for c in candidates(memory):
        if c != ref:
            names[c.name] = c
    missing = [n for n in names if n not in panel.data_vars]
    if missing:
        raise ValueError(
            f"the panel lacks the memory candidates {missing[:3]} (… {len(missing)} in all): "
            "rebuild it with the same memory grid (dvc repro panel)"
        )
    return MemoryPlan(model.offset, tuple(names), {n: settings_of(n, m) for n, m in names.items()})


def candidate_rows(
    idata: xr.DataTree, known: xr.Dataset, origin: pd.Timestamp, names: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One origin's mean forecasts with each offset in ``names`` in place of the fitted one:
    per region and step (columns ``region, horizon, *names``) and "within H" (``region,
    *names``).

    The offset enters the linear predictor linearly (times a per-draw factor), so the
    predictor is computed twice, at offsets 0 and 1, and each candidate's is
    ``eta0 + (eta1 − eta0) · offset``: the same numbers as
    ``forecast_draws(..., offset_as=name)`` (a test), at a fraction of the cost.
    """
    from model.inference import forecast as fc

    t = fc.resolve_origin(known, origin)
    regions = fc.fitted_regions(idata)
    x_raw = fc.feature_values(known, t, fc.fitted_features(idata), regions)
    offsets = fc.feature_values(known, t, list(names), regions)
    zero = xr.zeros_like(offsets.isel(feature=0, drop=True))
    eta0 = fc.linear_predictor(idata, x_raw, zero)
    slope = fc.linear_predictor(idata, x_raw, zero + 1.0) - eta0
    scale = fc.block_scale(idata)
    steps: dict[str, np.ndarray] = {}
    within: dict[str, np.ndarray] = {}
    for name in names:
        p = fc.step_probability(eta0 + slope * offsets.sel(feature=name, drop=True), scale)
        steps[name] = p.mean(fc.SAMPLE).transpose("region", "horizon").values.ravel()
        within[name] = fc.within_probability(p).isel(horizon=-1).mean(fc.SAMPLE).values
    idx = pd.MultiIndex.from_product(
        [regions, np.asarray(eta0["horizon"].values, dtype=np.int64)], names=["region", "horizon"]
    )
    return pd.DataFrame(steps, index=idx).reset_index(), pd.DataFrame({"region": regions, **within})


def dev_scores(p: np.ndarray, y: np.ndarray, bins: int, binning: str) -> dict[str, float]:
    """The scores a candidate is chosen by, on the dev window's step rows."""
    return {
        "brier": float(np.mean(brier_score(p, y))),
        "log_score": float(np.mean(log_score(p, y))),
        "ece": expected_calibration_error(p, y, bins, binning),
    }


def choose(scores: Mapping[Any, Mapping[str, float]], ece_max: float) -> Any:
    """The key with the lowest Brier score among those with ECE ≤ ``ece_max``, else the lowest
    ECE; ties go to the first key (the reference)."""
    keys = list(scores)
    within = [k for k in keys if scores[k]["ece"] <= ece_max]
    if within:
        return min(within, key=lambda k: (scores[k]["brier"], keys.index(k)))
    return min(keys, key=lambda k: (scores[k]["ece"], keys.index(k)))


def ewma_rows(
    panel: xr.Dataset, origins: Sequence[pd.Timestamp], horizon: int, rates: Rates,
    half_lives: Sequence[float],
) -> pd.DataFrame:  # fmt: skip
    """The EWMA baseline of each half-life from each origin: ``origin, region, *half-lives``
    (the same value for every step)."""
    frames = []
    for origin in origins:
        known = known_at(panel, origin)
        cols = {
            f"{h:g}": ewma(known, origin, 1, Rates(rates.window, h, rates.prior_strength))
            .isel(horizon=0)
            .values
            for h in half_lives
        }
        frames.append(pd.DataFrame({"origin": origin, "region": known["region"].values, **cols}))
    return pd.concat(frames, ignore_index=True)


def select(
    steps: pd.DataFrame,
    candidate_steps: pd.DataFrame | None,
    ewma_candidates: pd.DataFrame,
    plan_: MemoryPlan | None,
    memory: MemoryParams,
    reference: Mapping[str, Any],
    *,
    ewma_half_life: float,
    bins: int,
    binning: str,
) -> ModelSelection:
    """Score the candidates on the dev window's step rows and choose (or record the pinned
    settings, scored, when ``plan_`` is None).

    ``steps``: the dev window's prediction rows (``origin, region, horizon, y, model``);
    ``candidate_steps``: their candidates' forecasts (one column per offset of the plan);
    ``ewma_candidates``: :func:`ewma_rows` of the same origins.
    """
    keys = ["origin", "region", "horizon"]
    rows = steps[[*keys, "y", "model", "climatology"]].sort_values(keys, ignore_index=True)
    y = rows["y"].to_numpy(float)
    if plan_ is None:
        scored = {reference["offset"]: dev_scores(rows["model"].to_numpy(), y, bins, binning)}
        settings = {reference["offset"]: dict(reference)}
        chosen_name = reference["offset"]
    else:
        cand = rows[keys].merge(candidate_steps, on=keys, how="left", validate="one_to_one")
        scored = {n: dev_scores(cand[n].to_numpy(), y, bins, binning) for n in plan_.names}
        settings = {n: dict(plan_.settings[n]) for n in plan_.names}
        best = choose(scored, memory.ece_max)
        versus = _versus_reference(cand, y, best, plan_.reference, int(rows["horizon"].max()))
        dm, gain = versus["dm_statistic"], -versus["brier_minus_reference"]
        beaten = (
            dm is not None
            and dm < -memory.dm_min
            and gain >= memory.min_gain * scored[plan_.reference]["brier"]
        )
        # the reference keeps its place only while it is calibrated and not below climatology
        clim = float(np.mean((rows["climatology"].to_numpy() - y) ** 2))
        versus["reference_skill_vs_climatology"] = round(
            1.0 - scored[plan_.reference]["brier"] / clim, 10
        )
        sound = scored[plan_.reference]["ece"] <= memory.ece_max
        sound = sound and scored[plan_.reference]["brier"] <= clim
        keep = sound and not beaten
        chosen_name = plan_.reference if keep else best
        versus["kept_reference"] = bool(keep and best != plan_.reference)
    ew = rows[keys].merge(ewma_candidates, on=["origin", "region"], how="left")
    hls = [float(h) for h in (memory.ewma_half_lives if plan_ else [ewma_half_life])]
    ew_scored = {h: dev_scores(ew[f"{h:g}"].to_numpy(), y, bins, binning) for h in hls}
    ew_chosen = min(hls, key=lambda h: ew_scored[h]["brier"]) if plan_ else float(ewma_half_life)
    return ModelSelection(
        auto=plan_ is not None,
        criterion=CRITERION.format(
            ece_max=memory.ece_max, min_gain=memory.min_gain, dm_min=memory.dm_min
        )
        if plan_
        else PINNED,
        candidates=tuple(Candidate(settings[n], _rounded(s)) for n, s in scored.items()),
        chosen={**settings[chosen_name], "ewma_half_life": ew_chosen},
        reference=dict(reference),
        ewma_candidates=tuple(
            Candidate({"ewma_half_life": h}, _rounded(s)) for h, s in ew_scored.items()
        ),
        ewma_chosen=ew_chosen,
        ece_max=memory.ece_max if plan_ else None,
        min_gain=memory.min_gain if plan_ else None,
        dm_min=memory.dm_min if plan_ else None,
        best=versus if plan_ else None,
    )


def _versus_reference(
    cand: pd.DataFrame, y: np.ndarray, best: str, reference: str, horizon: int
) -> dict[str, Any]:
    """The rule's pick against the reference on the dev rows: the Brier difference and its
    Diebold-Mariano statistic (per-origin mean differences, HAC variance; negative: the pick
    is better; NaN when they are the same forecasts)."""
    loss = {n: (cand[n].to_numpy() - y) ** 2 for n in {best, reference}}
    if best == reference:
        dm = float("nan")
    else:
        dm = diebold_mariano(loss[best], loss[reference], cand["origin"], horizon=horizon)[
            "statistic"
        ]
    return {
        "offset": best,
        "brier_minus_reference": round(float(np.mean(loss[best] - loss[reference])), 10),
        "dm_statistic": None if np.isnan(dm) else round(float(dm), 6),
    }


def _rounded(scores: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(scores[k]), 10) for k in DEV_SCORES}


def rebase_dev_rows(
    panel: xr.Dataset,
    steps: pd.DataFrame,
    within: pd.DataFrame,
    candidate: tuple[pd.DataFrame, pd.DataFrame] | None,
    model: ModelParams,
    rates: Rates,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dev window's rows for the chosen memory: the model's forecasts from ``candidate``
    (its step and within-H frames, one column ``model``; None when the reference was chosen),
    the EWMA baseline recomputed with ``rates`` and, with a new offset, the logistic baseline
    with ``model.offset``."""
    steps, within = steps.copy(), within.copy()
    keys = ["origin", "region", "horizon"]
    if candidate is not None:
        cs, cw = candidate
        steps["model"] = steps[keys].merge(cs, on=keys, how="left")["model"].to_numpy()
        within["model"] = (
            within[["origin", "region"]].merge(cw, on=["origin", "region"], how="left")["model"]
        ).to_numpy()
        indep = steps.assign(q=np.log1p(-steps["model"])).groupby(["origin", "region"])["q"].sum()
        key = pd.MultiIndex.from_frame(within[["origin", "region"]])
        within["independent"] = 1.0 - np.exp(indep.reindex(key).to_numpy())
    for origin, rows in steps.groupby("origin", sort=False):
        known = known_at(panel, origin)
        h = model.horizon
        new = {"ewma": ewma(known, origin, h, rates)}
        if candidate is not None:  # the logistic baseline takes the model's offset
            new["logistic"] = logistic(
                known, origin, h, model.features, model.burn_in, offset=model.offset
            )
        for name, da in new.items():
            values = da.to_series()
            steps.loc[rows.index, name] = values.reindex(
                pd.MultiIndex.from_frame(rows[["region", "horizon"]])
            ).to_numpy()
        at = within["origin"] == origin
        w = within_ewma(known, origin, h, rates).to_series()
        within.loc[at, "ewma"] = w.reindex(within.loc[at, "region"]).to_numpy()
    return steps, within

"""The headline figures of a run: what a user compares across experiments.

``dvc metrics show`` and ``dvc exp show`` print every number of every declared metrics file,
one column each; ``diagnostics.json`` and ``backtest.json`` together hold about 300. The
headline keeps the figures that decide whether a change helped: the diagnostics gate, the
skill of the model over each baseline with its 90% interval, its calibration (ECE) and
discrimination (AUC-PR), the same for "any clash within H". It is read from those files, never
recomputed, so it cannot disagree with them. How long the run took is not a headline: a time
differs on every run, and DVC would see a changed metrics file (the run log,
:mod:`model.timing`, holds the times).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.backtesting.catalogue import HEADLINE_SCORES
from model.diagnostics_results import DiagnosticsMetrics
from model.results import BacktestMetrics, SkillTable, WindowScores


def _skill(skill: SkillTable, score: str = "brier") -> dict[str, dict[str, Any]]:
    """The skill of each baseline on one score, without its p-value: ``{mean, ci_low,
    ci_high}``."""
    return {baseline: by_score[score].interval().to_json() for baseline, by_score in skill.items()}


def _window(window: WindowScores) -> dict[str, Any]:
    """The headline of one backtest window (``backtest.json``'s ``windows.<name>``)."""
    model = window.scores["model"]
    within = window.within_h
    return {
        "origins": window.origins,
        **{s: model[s] for s in HEADLINE_SCORES},
        "prevalence": window.prevalence,
        "brier_skill": _skill(window.skill),
        "within_h": {
            **{s: within.scores["model"][s] for s in HEADLINE_SCORES},
            "brier_skill": _skill(within.skill),
        },
    }


def headline_metrics(
    diagnostics: Mapping[str, Any],
    backtest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The headline of a run from its diagnostics and backtest metrics.

    Parameters
    ----------
    diagnostics : mapping
        ``reports/metrics/diagnostics.json``.
    backtest : mapping, optional
        ``reports/metrics/backtest.json``; its test window is quoted (the dev window when the
        run has no test window, as in a model-selection run), under the window's own name.

    Returns
    -------
    dict
        ``{gate, failed_checks, divergences, <window>: {origins, brier, ece, auc_pr,
        prevalence, brier_skill: {baseline: {mean, ci_low, ci_high}}, within_h: {brier, ece,
        auc_pr, brier_skill}}}``; absent inputs leave their keys out.
    """
    diag = DiagnosticsMetrics.from_json(diagnostics)
    out: dict[str, Any] = {
        "gate": diag.gate,
        "failed_checks": len(diag.failed_checks),
        "divergences": diag.sampling.divergences,
    }
    windows = BacktestMetrics.from_json(backtest).windows if backtest else {}
    name = "test" if "test" in windows else next(iter(windows), None)
    if name is not None:
        out[name] = _window(windows[name])
    return out

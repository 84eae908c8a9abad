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

#: The skill figures kept per baseline (``backtest.json``: ``skill.<baseline>.brier``).
SKILL_KEYS = ("mean", "ci_low", "ci_high")


def _skill(skill: Mapping[str, Any], score: str = "brier") -> dict[str, dict[str, Any]]:
    return {
        baseline: {k: by_score.get(score, {}).get(k) for k in SKILL_KEYS}
        for baseline, by_score in skill.items()
    }


def _window(window: Mapping[str, Any]) -> dict[str, Any]:
    """The headline of one backtest window (``backtest.json``'s ``windows.<name>``)."""
    model = window.get("model", {})
    within = window.get("within_h", {})
    within_model = within.get("model", {})
    return {
        "origins": window.get("origins"),
        "brier": model.get("brier"),
        "ece": model.get("ece"),
        "auc_pr": model.get("auc_pr"),
        "prevalence": window.get("prevalence"),
        "brier_skill": _skill(window.get("skill", {})),
        "within_h": {
            "brier": within_model.get("brier"),
            "ece": within_model.get("ece"),
            "auc_pr": within_model.get("auc_pr"),
            "brier_skill": _skill(within.get("skill", {})),
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
    out: dict[str, Any] = {
        "gate": diagnostics.get("gate"),
        "failed_checks": len(diagnostics.get("failed_checks") or []),
        "divergences": diagnostics.get("divergences"),
    }
    windows = (backtest or {}).get("windows", {})
    name = "test" if "test" in windows else next(iter(windows), None)
    if name is not None:
        out[name] = _window(windows[name])
    return out

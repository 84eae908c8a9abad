"""The report's proximity section: the block's measured worth, plain words beside scenarios
whose effects the data do not make clear, and the incidents behind each top region's indicators.

Reads only what the run loaded (:class:`model.reporting.artefacts.Run`): ``diagnostics.json``'s
``proximity`` and ``backtest.json``'s ``windows.*.proximity`` (through
:mod:`model.diagnostics_results` and :mod:`model.results`), ``reports/evidence.csv`` and the
posterior's coefficients. Returns plain data for the template (``_proximity.html.j2``);
everything taken from the data (actor and position names) is escaped by Jinja's autoescape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from model.data import feature_names as fn
from model.diagnostics_results import ProximityLoo
from model.inference import equation as eq
from model.results import WindowScores


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.2f}%"


def skill_diff(w: WindowScores | None) -> dict[str, Any] | None:
    """A ``backtest.json`` window's proximity worth as text: ``brier`` and ``log`` ("+0.10%
    (-0.20% to +0.40%)"), ``origins`` and ``decisive`` (the Brier interval excludes zero); None
    when the window has none. The report and the benchmarks print it this one way."""
    if w is None or w.proximity is None:
        return None
    b, lg = w.proximity.brier_skill_diff, w.proximity.log_skill_diff
    crosses = b.ci_low is not None and b.ci_low < 0 < b.ci_high
    return {
        "brier": f"{_pct(b.mean)} ({_pct(b.ci_low)} to {_pct(b.ci_high)})",
        "log": f"{_pct(lg.mean)} ({_pct(lg.ci_low)} to {_pct(lg.ci_high)})",
        "origins": w.origins,
        "decisive": not crosses,
    }


def worth(loo: ProximityLoo | None, windows: Mapping[str, WindowScores]) -> dict[str, Any] | None:
    """The block's worth as the report states it, or None when none was measured.

    ``loo``: ``diagnostics.json``'s ``proximity``; ``windows``: ``backtest.json``'s (empty
    without a backtest).
    """
    test, dev = skill_diff(windows.get("test")), skill_diff(windows.get("dev"))
    if loo is None and not (test or dev):
        return None
    out: dict[str, Any] = {"test": test, "dev": dev, "loo": None, "block": [], "shipped": None}
    cadence = [w.proximity.refit_every for w in windows.values() if w.proximity is not None]
    out["refit_every"] = next((c for c in cadence if c), None)
    if loo is not None:
        out["block"] = list(loo.block)
        out["shipped"] = loo.shipped
        out["loo"] = {
            "diff": f"{loo.loo_diff:+.1f}",
            "se": f"{loo.loo_se:.1f}",
            "decisive": bool(loo.clear),
        }
    return out


def _moved(changes: Sequence[Any]) -> set[str]:
    """Panel variables a scenario's changes move (a distance moves its near and absent parts)."""
    out = set()
    for c in changes:
        out.add(c.feature)
        f = fn.parse(c.feature)
        if f.part == "km":
            out |= {fn.proximity(f.pair, "near"), fn.proximity(f.pair, "absent")}
    return out


def _unclear_coefficients(post: Any, features: set[str]) -> list[str]:
    """Model features among ``features`` whose coefficient's 90% interval spans zero."""
    if eq.BETA_MU not in post:
        return []
    names = [str(f) for f in post[eq.BETA_MU]["feature"].values]
    out = []
    for f in sorted(features & set(names)):
        lo, hi = np.quantile(post[eq.BETA_MU].sel(feature=f).values, [0.05, 0.95])
        if lo < 0 < hi:
            out.append(f"{f} (90% interval of its effect {lo:+.2f} to {hi:+.2f} per SD)")
    return out


def scenario_notes(
    rows: pd.DataFrame, changes: Sequence[Any], post: Any, worth_: dict[str, Any] | None
) -> list[str]:
    """Plain words beside a scenario whose effect the data do not make clear, or that moves
    nothing the model uses (empty if clear)."""
    notes = []
    if ((rows["diff_q05"] == 0) & (rows["diff_q95"] == 0)).all():
        notes.append(
            "This scenario moves nothing the model uses (its features and offset), so it "
            "changes no forecast: every difference is exactly zero."
        )
    if ((rows["diff_q05"] < 0) & (rows["diff_q95"] > 0)).any():
        notes.append(
            "The 90% interval of the difference spans zero: on these data the model cannot tell "
            "whether this change raises or lowers the risk."
        )
    moved = _moved(changes)
    unclear = _unclear_coefficients(post, moved)
    if unclear:
        notes.append("Its effect is not clear on the data: " + "; ".join(unclear) + ".")
    loo = (worth_ or {}).get("loo")
    if any(fn.is_proximity(f) for f in moved) and loo and not loo["decisive"]:
        notes.append(
            f"The proximity indicators are not clear on the data: the model with them and the "
            f"model without them differ by {loo['diff']} in PSIS-LOO (SE {loo['se']}), within "
            f"two standard errors."
        )
    return notes


def evidence_rows(
    evidence: pd.DataFrame | None, regions: Sequence[str], per_kind: int = 3
) -> list[dict[str, Any]]:
    """The evidence table for the top regions, in their order (``reports/evidence.csv``): the
    ``per_kind`` closest events, then positions, of each region."""
    if evidence is None or not len(evidence):
        return []
    out = []
    for region in regions:
        part = evidence.loc[evidence["region"].astype(str) == region]
        part = part.sort_values(["kind", "distance_km"]).groupby("kind", sort=True).head(per_kind)
        for r in part.itertuples():
            out.append(
                {
                    "region": region,
                    "kind": str(r.kind),
                    "date": "" if pd.isna(r.date) else str(r.date),
                    "what": str(r.name) if r.kind == "position" else f"{r.actor1} – {r.actor2}",
                    "category": "" if pd.isna(r.category) else str(r.category),
                    "km": "–" if pd.isna(r.distance_km) else f"{r.distance_km:.0f}",
                    "nearest": "" if pd.isna(r.nearest) else str(r.nearest),
                }
            )
    return out

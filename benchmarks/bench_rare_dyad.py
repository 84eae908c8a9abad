"""The shipped file's common dyad and a rare one, each with its memory chosen on its own dev
window: both windows against climatology and the EWMA.

Runs ``clashcast ingest``, ``panel`` and ``backtest`` in a temporary project (the shipped
``data/raw``) for the governorate example (government vs armed groups, Iraq) and for
``params/examples/ged_turkey_pkk.yaml`` (Turkey and Iran vs the Kurdish armed groups, about 1%
of governorate-weeks), with ``memory.auto`` as each file sets it, and prints for each: the
memory chosen and why (``backtest.json`` ``model_selection``), then per window the prevalence,
the model's Brier score and ECE, its Brier skill (90% interval) against climatology and the
EWMA, each step and "within H", and the stage's time. Issue 20's target: dev and test Brier
skill against climatology at least 0 for both dyads. Asserts nothing.

Usage: ``python benchmarks/bench_rare_dyad.py [--only default|rare] [--set key=value ...]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_backtest import GOVERNORATES, run_stages, skill_pct  # noqa: E402  (this folder, on the path when run)

from model.results import At, ModelSelection  # noqa: E402

DYADS = {
    "default": GOVERNORATES,
    "rare": ROOT / "params" / "examples" / "ged_turkey_pkk.yaml",
}


def run(name: str, params_file: Path, tmp: Path, sets: list[str]) -> None:
    project = tmp / name
    done = run_stages(name, params_file, sets, ("ingest", "panel", "backtest"), project)
    if done is None:
        return
    params, times = done
    bt = json.loads((project / "reports/metrics/backtest.json").read_text())
    sides = " vs ".join(params["panel"]["clash"]["sides"])
    print(f"\n== {name} dyad ({params_file.relative_to(ROOT)}): {sides}")
    sel = ModelSelection.from_json(bt["model_selection"], At("backtest.json"))
    print("  " + sel.describe())
    lines = [_window_lines(name, w, bt["horizon"]) for name, w in bt["windows"].items()]
    print("\n".join(line for block in lines for line in block))
    print("  time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


def _window_lines(name: str, w: dict, horizon: int) -> list[str]:
    """A window's span, prevalence, Brier and ECE, then its skill against the two rates."""
    head = (
        f"  {name:4s} {w['first_origin']} … {w['last_origin']} ({w['origins']} origins): "
        f"prevalence {100 * w['prevalence']:.2f}%, model Brier {w['model']['brier']:.5f}, "
        f"ECE {w['model']['ece']:.4f}"
    )
    skills = [
        (b, w["skill"][b]["brier"], w["within_h"]["skill"][b]["brier"])
        for b in ("climatology", "ewma")
    ]
    return [head] + [
        f"       vs {b:11s} each step {skill_pct(s)}   within {horizon} {skill_pct(t)}"
        for b, s, t in skills
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(DYADS))
    ap.add_argument("--set", action="append", default=[], help="params override key=value")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_rare_dyad_") as tmp:
        for name, path in DYADS.items():
            if args.only in (None, name):
                run(name, path, Path(tmp), args.set)


if __name__ == "__main__":
    main()

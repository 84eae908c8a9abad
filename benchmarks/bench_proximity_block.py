"""The dev-window table behind the default proximity block: each candidate's worth, with against
without, on the same rows.

For each candidate block below, runs ``clashcast backtest`` dev-only (``backtest.end`` before
``backtest.test_start``) with ``model.proximity_block`` set to it and ``model.features`` as
shipped minus every proximity feature, so the comparison folds fit the model without the block
and with it (``backtest.proximity_worth``, every ``backtest.proximity_refit_every`` origins).
Prints a Markdown table: the skill difference with minus without against climatology (Brier and
log score, with the circular block bootstrap 90% interval), the mean Brier score of each, and
the wall time. Each run is in a temporary project (a copy of ``data/raw``; ingest and panel run
there), so the checkout is not touched. Asserts nothing.

Usage: ``python benchmarks/bench_proximity_block.py [--blocks distance,precursors,...]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench_model_selection import WINDOWS, _merge, prepare, run_variant

from model.data import feature_names as fn
from model.reporting.report_proximity import skill_diff
from model.results import WindowScores

PAIR = fn.pair_stem("us_coalition", "armed_group")
EXPOSURE = [fn.exposure(PAIR, k) for k in ("airfield", "base", "hq")]
#: name -> (what it is, block)
BLOCKS = {
    "distance": (
        "nearness and count within 50 km (the features before issue 15)",
        [fn.proximity(PAIR, "near"), fn.proximity(PAIR, "n_within")],
    ),
    "precursors": (
        "co-presence, closing, first contact",
        [fn.precursor(PAIR, p) for p in ("copresent", "closing", "first_contact")],
    ),
    "exposure": ("armed-group events within 50 km of coalition airfields, bases, HQs", EXPOSURE),
    "all": (
        "all of the above",
        [
            fn.proximity(PAIR, "near"),
            fn.proximity(PAIR, "n_within"),
            *[fn.precursor(PAIR, p) for p in ("copresent", "closing", "first_contact")],
            *EXPOSURE,
        ],
    ),
}


def row(name: str, w: dict, took: float) -> str:
    p, d = w["proximity"], skill_diff(WindowScores.from_json(w))
    return (
        f"| {name} | {d['brier']} | {d['log']} "
        f"| {p['brier_with']:.4f} | {p['brier_without']:.4f} | {took:.0f} |"
    )


HEADER = (
    "| block | Brier skill diff (90%) | log skill diff (90%) | Brier with | Brier without | s |\n"
    "|---|---|---|---:|---:|---:|"
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", default=",".join(BLOCKS))
    ap.add_argument("--window", default=next(iter(WINDOWS)), choices=list(WINDOWS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project, params = prepare(Path(tmp), WINDOWS[args.window])
        base = [f for f in params["model"]["features"] if not fn.is_proximity(f)]
        lines = [f"**{args.window}**\n", HEADER]
        for name in args.blocks.split(","):
            what, block = BLOCKS[name]
            over = {"model": {"features": base, "proximity_block": block}}
            over["backtest"] = {"proximity_worth": True}
            t0 = time.perf_counter()
            w, _ = run_variant(project, _merge(params, {}), over)
            lines.append(row(f"`{name}`: {what}", w, time.perf_counter() - t0))
            print(lines[-1], flush=True)
        print("\n".join(lines))
        print(f"\n{w['origins']} origins {w['first_origin']} … {w['last_origin']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

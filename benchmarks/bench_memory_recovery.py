"""Does the memory chosen on the dev window recover a sensible one? Ten simulated rare panels.

Each panel (:func:`clashcast_testing.rare.simulate_rare_panel`) has 40 regions and 8 years of
weeks, a prevalence between 0.5% and 3% and a level that keeps a regime for about
``switch_periods`` weeks (13 to 208: the known time scale of its memory). On each, the
backtest's folds (the shipped model: level offset, block effect, no features; 1 chain of 300
draws, a refit every 26 origins) run over a dev window (years 5–6) and a test window (years
7–8), every candidate memory of the shipped grid scored on each origin by reusing the fold's
posterior (:mod:`model.backtesting.memory`). The pipeline's rule (shipped ``memory``) chooses
on dev, and so does the same rule without the reference's privilege (``min_gain`` and
``dm_min`` 0: the plain best dev Brier within the ECE threshold); the candidate with the lowest
test Brier score is found in hindsight. Prints, per panel, the truth, the test-best and each
rule's choice with the ratio of their level half-lives, its test regret (test Brier over the
test-best's) and its Brier skill against climatology and the EWMA; then, per rule, how many
panels have the chosen half-life within a factor of 2 of the test-best (issue 20's target: at
least 8 of 10). The reference (``model.offset``) is ``clash_level_hl8`` with the panel
defaults' pooling (4 pseudo-weeks toward a 52-week share). Asserts nothing.

Usage: ``python benchmarks/bench_memory_recovery.py [--panels 10] [--workers 2]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_backtest import GOVERNORATES  # noqa: E402  (this folder, on the path when run)

from clashcast_testing.rare import RareTruth, memory_study, simulate_rare_panel  # noqa: E402
from model.config import FitParams, MemoryParams, ModelParams  # noqa: E402

SWITCH = (13, 26, 52, 104, 208)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--panels", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--regions", type=int, default=40)
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    shipped = yaml.safe_load(GOVERNORATES.read_text())
    memory = MemoryParams(**shipped["memory"])
    model = ModelParams(
        **{**shipped["model"], "offset": "clash_level_hl8", "features": [], "proximity_block": []}
    )
    fit = FitParams(
        **{**shipped["fit"], "draws": 300, "tune": 300, "chains": 1, "low_rank_mass_matrix": False}
    )
    prevalences = np.linspace(0.005, 0.03, args.panels)
    rows = []
    t0 = time.perf_counter()
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        for i in range(args.panels):
            truth = RareTruth(prevalence=float(prevalences[i]), switch_periods=SWITCH[i % 5])
            panel = simulate_rare_panel(args.regions, 416, truth, memory, seed=100 + i)
            t = time.perf_counter()
            out = memory_study(
                panel, model=model, fit=fit, memory=memory, start="2014-01-06",
                test_start="2016-01-04", refit_every=26, client=client,
                rules={"no privilege": memory.model_copy(update={"min_gain": 0.0, "dm_min": 0.0})},
            )  # fmt: skip
            out |= {"truth": truth, "prevalence": float(panel["clash_any"].mean()),
                    "seconds": time.perf_counter() - t}  # fmt: skip
            rows.append(out)
            print(_line(i, out), flush=True)
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    for rule in ("shipped", "no privilege"):
        rs = [r if rule == "shipped" else r["by_rule"][rule] for r in rows]
        hits = sum(r["half_life_ratio"] <= 2.0 for r in rs)
        print(f"\nrule {rule!r}: chosen level half-life within x2 of the test-best in {hits} of "
              f"{len(rs)} panels (target: at least 8 of 10)")  # fmt: skip
        for key in ("test_regret", "dev_skill_climatology", "test_skill_climatology",
                    "test_skill_ewma"):  # fmt: skip
            values = [r[key] for r in rs]
            print(f"  {key}: median {100 * np.median(values):+.1f}%, min "
                  f"{100 * min(values):+.1f}%, max {100 * max(values):+.1f}%")  # fmt: skip


def _memory(s: dict) -> str:
    return f"hl {s['level_half_life']:g} k {s['level_prior']:g} L {s['level_long_half_life']:g}"


def _line(i: int, r: dict) -> str:
    free = r["by_rule"]["no privilege"]
    return (
        f"panel {i}: prevalence {100 * r['prevalence']:.1f}%, regime ~{r['truth'].switch_periods:g}"
        f" weeks | test-best {_memory(r['test_best'])} | chosen {_memory(r['chosen'])} (ratio "
        f"{r['half_life_ratio']:.1f}, regret {100 * r['test_regret']:+.1f}%; vs climatology dev "
        f"{100 * r['dev_skill_climatology']:+.1f}% test {100 * r['test_skill_climatology']:+.1f}%,"
        f" vs EWMA test {100 * r['test_skill_ewma']:+.1f}%) | without the reference's privilege "
        f"{_memory(free['chosen'])} (ratio {free['half_life_ratio']:.1f}, regret "
        f"{100 * free['test_regret']:+.1f}%, vs climatology test "
        f"{100 * free['test_skill_climatology']:+.1f}%) | {r['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()

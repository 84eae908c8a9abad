"""The weekly update on the shipped data (issue 22): last week's run, then one more week.

A temporary project (the shipped ``data/raw`` and the governorate example's params, no progress
bar) runs every stage with ``ingest.window.end`` one week before the shipped end ("last week"),
then again with the shipped end (the export with one more week in it), each stage in a process
of its own as ``dvc repro`` runs it, timed. The backtest keeps its folds in the project's fold
cache (``runtime.fold_cache``), so the second run computes only the folds the new week reaches.

Printed: each stage's seconds in both runs, how many backtest folds the update read back and
which it ran again (and how many posteriors it sampled), and the update's time beyond the final
fit (target: ≤ 120 s on 2 cores) with the fit's share of it. Asserts nothing; that the update
writes the bytes of a run from scratch is a test (``tests/stages/test_weekly_update.py``, on the
tiny run).

Usage: ``python benchmarks/bench_weekly_update.py [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_backtest import GOVERNORATES  # noqa: E402  (this folder, on the path when run)

from model.cli import STAGES  # noqa: E402
from model.timing import read as read_log  # noqa: E402


def project(dest: Path, end: str) -> Path:
    """The shipped inputs and params with the window ending at ``end``."""
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "reports" / "templates", dest / "reports" / "templates")
    params = yaml.safe_load(GOVERNORATES.read_text())
    params["ingest"]["window"]["end"] = end
    params["runtime"]["progressbar"] = False
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def _posteriors(root: Path) -> set[str]:
    """The folds' posteriors kept in the project's fold cache."""
    return {p.name for p in (root / ".cache/folds/fits").rglob("*.pkl")}


def run_all(root: Path) -> dict[str, float]:
    """Every stage in its own process, in ``dvc.yaml``'s order; each stage's seconds."""
    times = {}
    for stage in STAGES:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "model.cli", "--params", str(root / "params.yaml"),
             "--root", str(root), stage],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        times[stage] = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{stage} failed in {root}:\n{proc.stderr[-3000:]}")
    return times


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="run in this folder and keep the projects")
    args = ap.parse_args(argv)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_weekly_"))
    end = yaml.safe_load(GOVERNORATES.read_text())["ingest"]["window"]["end"]
    last_week = (pd.Timestamp(end) - pd.Timedelta(weeks=1)).date().isoformat()
    root = project(tmp / "weekly", last_week)
    first = run_all(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["ingest"]["window"]["end"] = end
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sampled = _posteriors(root)
    update = run_all(root)
    log = read_log(root)["backtest"]
    sampled = len(_posteriors(root) - sampled)

    print(f"window end {last_week} (last week's run), then {end} (the update)")
    print("| stage | last week's run (s) | the update (s) |")
    print("|---|---:|---:|")
    for stage in STAGES:
        print(f"| {stage} | {first[stage]:.1f} | {update[stage]:.1f} |")
    total = sum(update.values())
    print(f"| all | {sum(first.values()):.1f} | {total:.1f} |")
    reused = log["reused"]
    every = {f"fold-{c}" for c in log["fold_seconds"]}
    every |= {f"proximity-{c}" for c in log["proximity_fold_seconds"]}
    ran = sorted(every - set(reused))
    n = len(every)
    print(f"backtest folds read back from the fold cache: {len(reused)} of {n}; run again: "
          + ", ".join(ran) + f"; posteriors sampled by the update: {sampled} (the others read "
          "back: the new week moved no cutoff)")  # fmt: skip
    beyond = total - update["fit"]
    print(f"the update beyond the final fit: {beyond:.1f} s (target ≤ 120 s); the fit "
          f"{update['fit']:.1f} s is {100 * update['fit'] / total:.0f}% of the update")  # fmt: skip
    print(json.dumps({"update": update, "first": first, "reused": len(reused), "folds": n}))
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

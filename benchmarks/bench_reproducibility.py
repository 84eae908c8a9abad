"""Run the whole pipeline twice with ``dvc repro --force``: are the outputs byte-identical?

Issue 6, item 1, on the shipped data: two runs with the same params and seed must give
identical ``reports/forecast.csv``, ``reports/scenarios.csv`` and
``reports/metrics/backtest.json`` (``data/backtest/predictions.parquet`` is checked too: it holds
every fold's forecasts unrounded). Runs in this checkout, like ``bench_pipeline.py``: the outputs
are the pipeline's own, rebuilt from the same inputs. Prints each run's wall time and each file's
MD5 per run, whether the runs agree with each other and with what ``dvc.lock`` records (the run
that was committed). The runs share a compile cache (PyTensor's ``base_compiledir``) that
starts empty, so run 1 compiles every model afresh, as the first run after a change to the
model or the data does, and the later runs load them. Run N has ``PYTHONHASHSEED=N-1``:
``make forecast`` fixes it at 0, but ``dvc repro`` run by hand does not, and the outputs must
not depend on it. When a file differs, every run's copy of it is kept under
``benchmarks/results/reproducibility/run-N/`` for a look at where.

Exit status 1 when the runs disagree, so the script also serves as a check.

Usage: ``python benchmarks/bench_reproducibility.py [--runs 2]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).with_name("dvc"))
FILES = [
    "reports/forecast.csv",
    "reports/scenarios.csv",
    "reports/metrics/backtest.json",
    "data/backtest/predictions.parquet",
]
KEEP = ROOT / "benchmarks" / "results" / "reproducibility"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def locked_md5() -> dict[str, str]:
    """Each file's MD5 as ``dvc.lock`` records it (the committed run)."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    found: dict[str, str] = {}
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            if out["path"] in FILES:
                found[out["path"]] = out.get("md5", "")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)
    locked = locked_md5()
    if KEEP.exists():
        shutil.rmtree(KEEP)
    hashes: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="clashcast-compile-cache-") as cache:
        for i in range(1, args.runs + 1):
            env = {
                **os.environ,
                "PYTHONHASHSEED": str(i - 1),
                "PYTENSOR_FLAGS": f"base_compiledir={cache}",
            }
            t0 = time.perf_counter()
            proc = subprocess.run(
                [DVC, "repro", "--force"], cwd=ROOT, env=env, capture_output=True, text=True
            )
            took = time.perf_counter() - t0
            if proc.returncode != 0:
                print(f"run {i}: `dvc repro --force` exited {proc.returncode} after {took:.0f} s")
                print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
                return 1
            hashes.append({f: md5(ROOT / f) for f in FILES})
            for f in FILES:
                (KEEP / f"run-{i}" / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / f, KEEP / f"run-{i}" / f)
            state = "empty" if i == 1 else "warm"
            print(
                f"run {i}: `PYTHONHASHSEED={i - 1} dvc repro --force`, {state} compile cache: "
                f"{took:.0f} s",
                flush=True,
            )
    print()
    head = " | ".join(f"run {i} MD5" for i in range(1, args.runs + 1))
    print(f"| file | {head} | runs agree | = dvc.lock |")
    print("|---|" + "---|" * args.runs + "---|---|")
    differing = [f for f in FILES if len({h[f] for h in hashes}) > 1]
    for f in FILES:
        got = [h[f] for h in hashes]
        agree = f not in differing
        cells = " | ".join(f"`{g[:12]}`" for g in got)
        lock = "yes" if locked.get(f) == got[-1] else "no"
        print(f"| `{f}` | {cells} | {'yes' if agree else '**NO**'} | {lock} |")
    print()
    if not differing:
        print(f"The {args.runs} runs are byte-identical in every file checked.")
        shutil.rmtree(KEEP)
        return 0
    for f in set(FILES) - set(differing):
        for i in range(1, args.runs + 1):
            (KEEP / f"run-{i}" / f).unlink()
    print(f"Runs DIFFER in: {', '.join(differing)}; copies kept in {KEEP.relative_to(ROOT)}/")
    return 1


if __name__ == "__main__":
    sys.exit(main())

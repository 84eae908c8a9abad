"""Time each pipeline stage through DVC, then a no-op ``dvc repro``.

Runs ``dvc repro --force --single-item <stage>`` for each stage in order in this checkout (the
outputs are the pipeline's own, rebuilt from the same inputs), then ``dvc repro`` with nothing
to do. Prints a table; asserts nothing. Targets (issue 6): the whole pipeline ≤ 15 minutes on a
2-core machine once the environment exists, a no-op ``dvc repro`` ≤ 3 s.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DVC = str(Path(sys.executable).with_name("dvc"))
STAGES = ["ingest", "panel", "fit", "forecast", "backtest", "report"]


def timed(args: list[str]) -> tuple[float, int, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return took, proc.returncode, max(peak, before) / 2**20


def main() -> int:
    rows = []
    for stage in STAGES:
        took, code, peak = timed([DVC, "repro", "--force", "--single-item", stage])
        rows.append((stage, took, code, peak))
    noop, code, _ = timed([DVC, "repro"])
    total = sum(r[1] for r in rows)
    print("| stage | wall time (s) | exit | peak RSS so far (GiB) |")
    print("|---|---:|---:|---:|")
    for stage, took, c, peak in rows:
        print(f"| {stage} | {took:.1f} | {c} | {peak:.2f} |")
    print(f"| **all stages** | **{total:.1f}** ({total / 60:.1f} min) | | |")
    print(f"| no-op `dvc repro` | {noop:.2f} | {code} | |")
    print()
    print(f"Targets: all stages ≤ 900 s (measured {total:.0f} s); no-op ≤ 3 s ({noop:.2f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ingest then panel on the shipped data: wall time and peak memory of each stage.

Copies ``data/raw`` and the governorate example's params (``--params`` for another) into a temporary
project, then runs ``clashcast ingest`` and ``clashcast panel`` there, each in its own child
process, so that the peak resident memory of each (``ru_maxrss`` from ``os.wait4``, which counts
NumPy's and pandas' native memory, unlike ``tracemalloc``) is its own. Wall time includes the
interpreter start and imports; the stage's own time (the CLI's ``<stage> done in … s`` line) is
shown beside it. Repeats each pair and prints a Markdown table of the median; asserts nothing.
Target (issue 2): ingest + panel ≤ 30 s and ≤ 1 GB on a 2-core machine.

Usage: ``python benchmarks/bench_ingest_panel.py [--repeat N] [--params params.yaml]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from bench_backtest import GOVERNORATES  # noqa: E402  (this folder, on the path when run)

STAGES = {"ingest": "reports/metrics/ingest.json", "panel": "reports/metrics/panel.json"}


def run_stage(stage: str, project: Path, params: Path) -> tuple[float, float, int, str]:
    """Run one stage in a child process: (wall s, peak RSS MiB, exit code, stderr)."""
    args = [sys.executable, "-m", "model.cli", "--root", str(project), "--params", str(params)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*args, stage], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return took, usage.ru_maxrss / 1024, proc.returncode, err


def own_seconds(stage: str, stderr: str) -> float:
    """The stage's own time from the CLI's log, the same for both stages (``ingest.json`` holds
    no timing: DVC hashes it, and a re-run on equal inputs must write equal bytes)."""
    found = re.findall(rf"{stage} done in ([0-9.]+) s", stderr)
    return float(found[-1]) if found else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--params", default=str(GOVERNORATES))
    args = parser.parse_args(argv)

    results: dict[str, list[tuple[float, float, float]]] = {s: [] for s in STAGES}
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_ingest_panel_") as tmp:
        project = Path(tmp)
        shutil.copytree(ROOT / "data/raw", project / "data/raw")
        params = project / "params.yaml"
        shutil.copy(args.params, params)
        for _ in range(args.repeat):
            for stage, metrics in STAGES.items():
                took, peak, code, err = run_stage(stage, project, params)
                if code != 0:
                    print(f"{stage} failed (exit {code}):\n{err[-1500:]}", file=sys.stderr)
                    return 1
                figures[stage] = json.loads((project / metrics).read_text())
                results[stage].append((took, own_seconds(stage, err), peak))

    print(f"Ingest + panel on the shipped data (median of {args.repeat}; each stage in its own")
    print("process; wall time includes interpreter start and imports)")
    print()
    print("| stage | wall time (s) | stage's own time (s) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|")
    total_wall, peak_all = 0.0, 0.0
    for stage, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        own = statistics.median(r[1] for r in rows)
        peak = max(r[2] for r in rows)
        total_wall += wall
        peak_all = max(peak_all, peak)
        print(f"| {stage} | {wall:.2f} | {own:.2f} | {peak:.0f} |")
    print(f"| **ingest + panel** | **{total_wall:.2f}** | | **{peak_all:.0f}** |")
    print()
    ing, pan = figures["ingest"], figures["panel"]
    print(
        f"Events kept {ing.get('events')}, positions {ing.get('positions')}; panel "
        f"{pan['regions']} regions × {pan['periods']} periods ({pan['first_period']} … "
        f"{pan['last_period']}), clash rate {pan['clash_rate']:.3f}."
    )
    verdict = "met" if total_wall <= 30 and peak_all <= 1024 else "NOT met"
    print(f"Target ≤ 30 s and ≤ 1 GB: {verdict} ({total_wall:.1f} s, {peak_all:.0f} MiB peak).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

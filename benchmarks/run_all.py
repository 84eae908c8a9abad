"""Run every benchmark and regenerate the README's performance section from their output.

Each ``bench_*.py`` prints its figures (a Markdown table and a few lines); nothing here is
asserted. The output of each lands in ``benchmarks/results/<name>.txt`` and the README section
between ``<!-- perf:start -->`` and ``<!-- perf:end -->`` is rewritten with the machine named
(CPU, cores, memory) and the date.

Usage: ``python benchmarks/run_all.py [bench_name ...]`` (default: all, in a fixed order).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = [
    "bench_ingest_panel",
    "bench_samplers",
    "bench_backtest",
    "bench_scaling",
    "bench_pipeline",
]
START, END = "<!-- perf:start -->", "<!-- perf:end -->"
# Shorter chains for the two sampler-heavy benchmarks so `make bench` fits in about half an hour
# on 2 cores; each compares its configurations at equal settings, so the ratios are like for like.
ARGS = {
    "bench_samplers": ["--draws", "500", "--tune", "500", "--chains", "2", "--cores", "2"],
    "bench_scaling": ["--draws", "300", "--tune", "300", "--chains", "2"],
}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
        mem = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, TypeError):
        mem = "unknown memory"
    cores = len(os.sched_getaffinity(0))
    return f"{cores} cores ({cpu}), {mem}, {platform.system()} {platform.release()}"


def run(name: str) -> str:
    script = ROOT / "benchmarks" / f"{name}.py"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), *ARGS.get(name, [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    out = proc.stdout.strip()
    if proc.returncode != 0:
        out += f"\n\n(exit {proc.returncode})\n" + proc.stderr.strip()[-2000:]
    args = " ".join(ARGS.get(name, []))
    text = f"`python benchmarks/{name}.py {args}`".replace(" `", "`") + f"\n\n{out}\n\n"
    text += f"(benchmark wall time {took:.0f} s)\n"
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / f"{name}.txt").write_text(text)
    return text


def section() -> str:
    parts = [
        f"Measured on {machine()}, {dt.date.today().isoformat()}, by `make bench` "
        "(each benchmark's full output is in `benchmarks/results/`).",
    ]
    for name in ORDER:
        path = ROOT / "benchmarks" / "results" / f"{name}.txt"
        if path.exists():
            parts.append(f"### `benchmarks/{name}.py`\n\n{path.read_text().strip()}")
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    names = argv or [n for n in ORDER if (ROOT / "benchmarks" / f"{n}.py").exists()]
    for name in names:
        print(f"== {name}", flush=True)
        print(run(name), flush=True)
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{section()}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

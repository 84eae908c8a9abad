"""Run every benchmark and regenerate the README's performance section from their output.

Each ``bench_*.py`` prints its figures (a Markdown table and a few lines); nothing here is
asserted. The output of each lands in ``benchmarks/results/<name>.txt`` and the README section
between ``<!-- perf:start -->`` and ``<!-- perf:end -->`` is rewritten with the machine named
(CPU, cores, memory) and the date.

Usage: ``python benchmarks/run_all.py [bench_name ...]`` (default: all, in a fixed order), or
``python benchmarks/run_all.py --readme`` to regenerate the README section alone.
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
#: The benchmarks in the order `make bench` runs them and the README lists their results.
ORDER = """
bench_ingest_panel bench_actors bench_samplers bench_backtest bench_backtest_cluster
bench_weekly_update bench_fit_budget bench_coverage bench_model_selection
bench_model_selection_cells bench_model_selection_cells_insurgency
bench_model_selection_cells_slope bench_model_selection_cells_memory bench_rare_dyad
bench_memory_recovery bench_cells bench_scaling bench_scale bench_gradient bench_pipeline
bench_reproducibility
""".split()
START, END = "<!-- perf:start -->", "<!-- perf:end -->"
# Shorter chains for the two sampler-heavy benchmarks so `make bench` fits in about half an hour
# on 2 cores; each compares its configurations at equal settings, so the ratios are like for like.
ARGS = {
    "bench_samplers": ["--draws", "500", "--tune", "500", "--chains", "2", "--cores", "2"],
    "bench_scaling": ["--draws", "300", "--tune", "300", "--chains", "2"],
    # The 1x and 10x panels also fitted without merging blocks, to show what merging buys.
    "bench_scale": ["--plain"],
    # Local workers against an external scheduler, on two years of origins (about 8 minutes).
    "bench_backtest_cluster": [
        "--workers", "1,2", "--external", "--set", "backtest.draws=200", "--set",
        "backtest.tune=200", "--set", "backtest.start=2016-01-04", "--set",
        "backtest.end=2017-12-25",
    ],
    # The cells' own features chosen on the anti-IS dev window (issue 21): one fit per 26 origins
    # and no proximity comparison folds, so that six cell variants fit in about 30 minutes.
    "bench_model_selection_cells": [
        "--params", "params.yaml", "--windows", "anti-IS",
        "--variants", "cells_shipped,cells_no_pool,cells_no_rings,cells_no_gov,cells_long_level,"
        "cells_offset_only",
        "--set", "backtest.refit_every=26", "--set", "backtest.proximity_worth=false",
    ],
    # The same on the insurgency's dev window, for the two variants the anti-IS one set apart.
    "bench_model_selection_cells_insurgency": [
        "--params", "params.yaml", "--windows", "insurgency",
        "--variants", "cells_offset_only,cells_shipped",
        "--set", "backtest.refit_every=26", "--set", "backtest.proximity_worth=false",
    ],
    # The level's own slope against the offset alone, on both wars' dev windows, ECE on bins of
    # equal expected clashes (about 20 minutes).
    "bench_model_selection_cells_slope": [
        "--params", "params.yaml", "--variants", "cells_offset_only,cells_level_slope",
        "--set", "backtest.refit_every=26", "--set", "backtest.proximity_worth=false",
        "--set", "backtest.calibration_binning=events",
    ],
    # The memory candidates of the cells' dev windows, both wars (about 10 minutes).
    "bench_model_selection_cells_memory": [
        "--params", "params.yaml", "--variants", "cells_offset_only", "--candidates",
        "--set", "backtest.refit_every=26", "--set", "backtest.proximity_worth=false",
    ],
}  # fmt: skip
#: Results named otherwise than their script: the script that writes them.
SCRIPTS = {
    "bench_backtest_cluster": "bench_backtest",
    "bench_model_selection_cells": "bench_model_selection",
    "bench_model_selection_cells_insurgency": "bench_model_selection",
    "bench_model_selection_cells_slope": "bench_model_selection",
    "bench_model_selection_cells_memory": "bench_model_selection",
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
    script = ROOT / "benchmarks" / f"{SCRIPTS.get(name, name)}.py"
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
    text = f"`python benchmarks/{SCRIPTS.get(name, name)}.py {args}`".replace(" `", "`")
    text += f" — measured {dt.date.today().isoformat()} on {machine()}\n\n{out}\n\n"
    text += f"(benchmark wall time {took:.0f} s)\n"
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / f"{name}.txt").write_text(text)
    return text


def section() -> str:
    parts = [
        "Generated by `make bench` from the benchmarks' own output (each in "
        "`benchmarks/results/`, with the date and the machine it was measured on; "
        "`python benchmarks/run_all.py NAME` re-runs one and regenerates this section).",
    ]
    for name in ORDER:
        path = ROOT / "benchmarks" / "results" / f"{name}.txt"
        if path.exists():
            title = f"`benchmarks/{SCRIPTS.get(name, name)}.py`" + (
                f" ({name[len(SCRIPTS[name]) + 1 :]})" if name in SCRIPTS else ""
            )
            parts.append(f"### {title}\n\n{path.read_text().strip()}")
    return "\n\n".join(parts)


def main(argv: list[str]) -> int:
    """Run the benchmarks named (default all), then rewrite the README section; ``--readme``
    only rewrites it from the results kept."""
    names = [] if argv == ["--readme"] else argv or ORDER
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

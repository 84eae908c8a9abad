"""Cells against governorates on the shipped file (issue 21): what resolution buys, and what it
costs on 2 cores.

Two runs in temporary projects (the shipped ``data/raw``):

- ``cells``: ``params.yaml`` as shipped (PRIO-GRID cells), stages ``ingest``, ``panel``,
  ``backtest``, ``fit``, each timed;
- ``governorates``: ``params/examples/ged_iraq_governorates.yaml`` with ``panel.located:
  [point]``, the governorate model on the same data as the cells (the events located only to a
  governorate left out, as the cells must), stages ``ingest``, ``panel``, ``backtest``.

Printed, per window: the cells' weekly Brier and log-score skill against the per-cell EWMA and
climatology (90% interval), the weekly ECE and "within H" skill against the per-cell within-H
EWMA; the governorate roll-up's within-H Brier score beside the governorate model's on the same
outcome (a clash in the governorate among the events the cells hold) and both against the
governorate EWMA; and each stage's seconds. Issue 21's targets (test window): weekly Brier skill
against the per-cell EWMA ≥ 0 with the interval's low end above −1%, log-score skill ≥ +1% with
the interval above 0, within-H Brier skill against the within-H EWMA ≥ +3%, weekly ECE ≤ 0.005,
the roll-up's within-H Brier no more than 1% worse than the governorate model's. With the cells
run, also the roll-up under each split of the border cells, per governorate on the dev window,
and the busiest border cells (``bench_rollup_split.py``). Asserts nothing.

Usage: ``python benchmarks/bench_cells.py [--only RUN [RUN ...]] [--keep DIR] [--reuse]``
(``--keep`` runs in ``DIR`` and leaves the projects there; ``--reuse`` reads a project in ``DIR``
that already has its backtest.json instead of running it again, its stages' seconds from its run
log ``reports/metrics/timing.json``: the cell run takes about 45 minutes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_backtest import GOVERNORATES, run_stages, skill_pct  # noqa: E402  (this folder, on the path when run)
from bench_rollup_split import report as rollup_split_report  # noqa: E402

STAGES = ("ingest", "panel", "backtest")
RUNS = {
    "cells": (ROOT / "params.yaml", [], (*STAGES, "fit")),
    "governorates": (
        GOVERNORATES,
        ["panel.located=[point]"],
        STAGES,
    ),
    # The cells with one block effect per governorate and origin (cells of a governorate move
    # together); its proximity comparison folds left out (the cells run measures the block).
    "cells_group": (
        ROOT / "params.yaml",
        ["model.dependence_group=governorate", "backtest.proximity_worth=false"],
        (*STAGES, "fit"),
    ),
}
CELL_RUNS = ("cells", "cells_group")


def reused(name: str, project: Path) -> tuple[dict, dict[str, float]]:
    """A finished run's backtest.json and its stages' seconds from its run log."""
    _, _, stages = RUNS[name]
    log = json.loads((project / "reports/metrics/timing.json").read_text())
    times = {s: float(log[s]["seconds"]) for s in stages}
    print(f"{name}: reused the run in {project} (seconds from its run log)")
    backtest = json.loads((project / "reports/metrics/backtest.json").read_text())
    return _with_handed_down(project, backtest), times


def _with_handed_down(project: Path, backtest: dict) -> dict:
    """A cell run's backtest.json with its cells scored against the governorate forecast handed
    down to them, as the backtest stage scores them, where a run older than that score lacks
    it (from the run's own panel and prediction rows)."""
    windows = backtest["windows"]
    if backtest.get("unit") != "grid" or all("handed_down" in w for w in windows.values()):
        return backtest
    import pandas as pd
    import xarray as xr

    from model.config import read_params
    from model.stages.backtest import handed_down_windows

    steps = pd.read_parquet(project / "data/backtest/predictions.parquet")
    origins = pd.DatetimeIndex(sorted(steps["origin"].unique()))
    spans = {
        name: list(origins[(origins >= w["first_origin"]) & (origins <= w["last_origin"])])
        for name, w in windows.items()
    }
    handed = handed_down_windows(
        xr.open_dataset(project / "data/processed/panel.nc").load(),
        steps,
        pd.read_parquet(project / "data/backtest/within.parquet"),
        spans,
        read_params(project / "params.yaml"),
        float(backtest["ewma_half_life"]),
    )
    for name, h in handed.items():
        windows[name]["handed_down"] = h.to_json()
    print("  (the handed-down governorate forecast scored from the run's own rows)")
    return backtest


def run(name: str, tmp: Path, reuse: bool = False) -> tuple[dict, dict[str, float]] | None:
    """Run one configuration's stages; its backtest.json and each stage's seconds."""
    params_file, sets, stages = RUNS[name]
    project = tmp / name
    if reuse and (project / "reports/metrics/backtest.json").exists():
        backtest, times = reused(name, project)
        _describe(name, project, times)
        return backtest, times
    done = run_stages(name, params_file, sets, stages, project)
    if done is None:
        return None
    times = done[1]
    _describe(name, project, times)
    backtest = json.loads((project / "reports/metrics/backtest.json").read_text())
    return _with_handed_down(project, backtest), times


def _describe(name: str, project: Path, times: dict[str, float]) -> None:
    panel = json.loads((project / "reports/metrics/panel.json").read_text())
    coarse = panel.get("events_region_only", panel.get("events_not_located_as_counted"))
    print(f"{name}: {panel['regions']} units × {panel['periods']} weeks, clash rate "
          f"{panel['clash_rate']:.4f}, events located only to a governorate {coarse}; "
          + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))  # fmt: skip


def report_cells(b: dict) -> None:
    """The cells' weekly and within-H scores per window."""
    for name, w in b["windows"].items():
        sk, wh = w["skill"], w["within_h"]
        parts = [
            f"weekly Brier skill vs EWMA {skill_pct(sk['ewma']['brier'])}",
            f"log {skill_pct(sk['ewma']['log_score'])}; "
            f"vs climatology {skill_pct(sk['climatology']['brier'])}",
            f"ECE {w['model']['ece']:.4f}",
            f"within H vs EWMA {skill_pct(wh['skill']['ewma']['brier'])}",
            f"ECE {wh['model']['ece']:.4f}",
        ]
        head = f"  cells {name} ({w['origins']} origins, prevalence {w['prevalence']:.4f}): "
        print(head + ", ".join(parts))
        handed = w.get("handed_down")
        if handed is not None:
            print(f"  cells {name} against the governorate's EWMA handed down to each cell: "
                  + "; ".join(_handed(part, h) for part, h in (
                      ("weekly", handed["weekly"]), ("within H", handed["within_h"]))))  # fmt: skip


def report_deciles(project: Path, b: dict) -> None:
    """The cells' weekly forecasts in deciles (quantile bins, which resolve the 1-5% that
    equal-width bins put in one): mean forecast against the rate observed, per window."""
    import pandas as pd

    from model.backtesting.scoring import expected_calibration_error, reliability_table

    rows = pd.read_parquet(project / "data/backtest/predictions.parquet")
    origins = pd.to_datetime(rows["origin"])
    for name, w in b["windows"].items():
        part = rows[(origins >= w["first_origin"]) & (origins <= w["last_origin"])]
        table = reliability_table(part, 10, binning="quantile")
        ece = expected_calibration_error(part["model"], part["y"], 10, "quantile")
        cells = " ".join(
            f"{100 * f:.2f}/{100 * o:.2f}"
            for f, o in zip(table["forecast_mean"], table["observed_rate"], strict=True)
        )
        print(f"  cells {name}, weekly forecast deciles (mean forecast/observed, %): {cells}; "
              f"ECE on deciles {ece:.4f}")  # fmt: skip


def _handed(part: str, h: dict) -> str:
    sk = h["skill"]
    return (
        f"{part} Brier skill vs given whole {skill_pct(sk['governorate']['brier'])}, "
        f"vs split by area {skill_pct(sk['split']['brier'])} (log "
        f"{skill_pct(sk['split']['log_score'])})"
    )


def _num(label: str) -> float:
    return float(label) if label != "area" else float("inf")


def report_rollup(cells: dict, govs: dict | None) -> None:
    """The border cells' split the dev window chose, and the roll-up's within-H Brier beside
    the governorate model's on the same outcome."""
    split = cells.get("rollup_split")
    if split is not None:
        by_k = sorted(split["dev_brier"].items(), key=lambda kv: (kv[0] == "area", _num(kv[0])))
        tried = ", ".join(f"{k} {v:.4f}" for k, v in by_k)
        print(f"  roll-up: border cells split with pseudo-count {split['chosen']}, chosen on the "
              f"dev window (within-H Brier per candidate: {tried})")  # fmt: skip
    for name, w in cells["windows"].items():
        r = w.get("rollup")
        if r is None:
            continue
        line = (
            f"  roll-up {name}: within-H Brier {r['model']['brier']:.4f} "
            f"(EWMA {r['ewma']['brier']:.4f}, skill {skill_pct(r['skill']['ewma']['brier'])})"
        )
        g = None if govs is None else govs["windows"].get(name, {}).get("within_h")
        if g is not None:
            ratio = r["model"]["brier"] / g["model"]["brier"] - 1
            line += (
                f"; governorate model {g['model']['brier']:.4f} (skill vs EWMA "
                f"{skill_pct(g['skill']['ewma']['brier'])}); roll-up {100 * ratio:+.1f}% against it"
            )
        print(line)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=list(RUNS), nargs="+", help="these runs alone")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep the projects")
    ap.add_argument("--reuse", action="store_true", help="read finished projects in --keep")
    args = ap.parse_args(argv)
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_cells_"))
    results = {}
    for name in args.only or list(RUNS):
        results[name] = run(name, tmp, args.reuse and args.keep is not None)
    govs = results.get("governorates")
    for name in CELL_RUNS:
        if results.get(name):
            print(f"{name}:")
            report_cells(results[name][0])
            report_deciles(tmp / name, results[name][0])
            report_rollup(results[name][0], govs[0] if govs else None)
    if results.get("cells"):
        print("\nWhere the roll-up goes wrong, per split of the border cells "
              "(bench_rollup_split.py, from the cells run's rows):\n")  # fmt: skip
        rollup_split_report(tmp / "cells", tmp / "governorates" if govs else None)
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

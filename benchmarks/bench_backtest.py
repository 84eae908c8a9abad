"""The backtest stage on the shipped panel with 1 and with 2 Dask workers: wall time, speed-up.

Copies ``data/processed/panel.nc`` (or, when it is absent, simulates a panel of the shipped
size — 18 regions × 260 weeks — and says so) and ``params.yaml`` into a temporary project and
runs ``clashcast backtest`` there once per worker count, each in its own child process with a
fresh ``LocalCluster`` (worker start-up, imports and compilation included, as in a real run).
Prints each run's wall time, the stage's own time, the per-fold seconds, the speed-up, whether
``backtest.json`` came out byte-identical across worker counts (it must: folds are seeded by
their cutoff) and the headline scores. Asserts nothing. Target (issue 12): ≤ 8 min on 2 cores
with default params (issue 12: backtest stage ≤ 8 min on 2 cores).

``--memory-cost`` runs the stage twice at the last worker count instead, with ``memory.auto``
false and then true, and prints what choosing the memory on the dev window adds to its time.

Usage: ``python benchmarks/bench_backtest.py [--workers 1,2] [--memory-cost]
[--set backtest.draws=300 ...]``
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

import yaml

from model import timing
from model.reporting.report_proximity import skill_diff
from model.results import WindowScores

ROOT = Path(__file__).resolve().parents[1]
PANEL = Path("data/processed/panel.nc")


def make_project(base: Path, params: dict) -> tuple[Path, str]:
    """A project dir with the panel and params; returns it and where the panel came from."""
    (base / PANEL.parent).mkdir(parents=True)
    if (ROOT / PANEL).exists():
        shutil.copy(ROOT / PANEL, base / PANEL)
        source = f"shipped panel {PANEL}"
    else:
        sys.path.insert(0, str(ROOT))
        from clashcast_testing.simulate import Truth, simulate_panel

        feats = params["model"]["features"]
        beta = {"clash_decay_hl1": 0.8, "clash_decay_hl13": 0.4, "since_clash": -0.4}
        panel = simulate_panel(1, 18, 260, feats, Truth(beta=beta), seed=1)
        panel.to_netcdf(base / PANEL)
        source = "SIMULATED panel of the shipped size (18 regions x 260 weeks): no panel.nc found"
    return base, source


def run_stages(
    name: str, params_file: Path, sets: list[str], stages: tuple[str, ...], project: Path
) -> tuple[dict, dict[str, float]] | None:
    """A project in ``project`` (the shipped ``data/raw``, ``params_file`` with the ``sets``
    overrides, no progress bar) and each of ``stages`` run in a process of its own, timed: the
    params and each stage's seconds, or None (and the error printed) when a stage fails."""
    shutil.copytree(ROOT / "data" / "raw", project / "data" / "raw", dirs_exist_ok=True)
    params = yaml.safe_load(params_file.read_text())
    for s in sets:
        set_key(params, s)
    # Timed: every fold computed, none read back from the fold cache.
    params.setdefault("runtime", {}).update(progressbar=False, fold_cache=None)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    times = {}
    for stage in stages:
        t0 = time.perf_counter()
        args = ["--params", str(project / "params.yaml"), "--root", str(project), stage]
        proc = subprocess.run(
            [sys.executable, "-m", "model.cli", *args], cwd=ROOT, capture_output=True, text=True
        )
        times[stage] = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"{name}: {stage} FAILED (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            return None
    return params, times


def skill_pct(s: dict) -> str:
    """A skill and its 90% interval in percent: ``+1.2% [-0.3, +2.8]`` (n/a when undefined)."""
    if s.get("mean") is None:
        return "n/a"
    return f"{100 * s['mean']:+.1f}% [{100 * s['ci_low']:+.1f}, {100 * s['ci_high']:+.1f}]"


def set_key(params: dict, assignment: str) -> None:
    key, value = assignment.split("=", 1)
    node = params
    *parents, leaf = key.split(".")
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = yaml.safe_load(value)


def run(project: Path, params: dict, workers: int, auto: bool | None = None) -> dict:
    params = json.loads(json.dumps(params, default=str))
    dask = params.setdefault("runtime", {}).setdefault("dask", {})
    dask["workers"], dask["address"] = workers, None
    params["runtime"]["fold_cache"] = None  # each worker count computes every fold
    if auto is not None:
        params.setdefault("memory", {})["auto"] = auto
    path = project / f"params_w{workers}_{auto}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    args = [sys.executable, "-m", "model.cli", "--root", str(project), "--params", str(path)]
    t0 = time.perf_counter()
    proc = subprocess.run([*args, "backtest"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out = {"workers": workers, "wall": wall, "rc": proc.returncode, "stderr": proc.stderr[-2000:]}
    if proc.returncode == 0:
        out["timing"] = timing.read(project)["backtest"]
        out["metrics_bytes"] = (project / "reports/metrics/backtest.json").read_bytes()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--set", action="append", default=[], help="params override key=value")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument(
        "--memory-cost",
        action="store_true",
        help="instead: the stage at the last worker count with memory.auto false, then true "
        "(what choosing the memory on the dev window adds; issue 20: at most 50%%)",
    )
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    for s in args.set:
        set_key(params, s)
    bt = params["backtest"]
    with tempfile.TemporaryDirectory(prefix="bench_backtest_") as tmp:
        project, source = make_project(Path(tmp), params)
        print(f"panel: {source}")
        print(
            f"params: start={bt['start']} test_start={bt['test_start']} end={bt['end']} "
            f"stride={bt['stride']} refit_every={bt['refit_every']}"
            f" draws={bt['draws']} tune={bt['tune']} chains={bt['chains']}"
            f" sampler={params['fit']['sampler']} horizon={params['model']['horizon']}"
            + (f" overrides={args.set}" if args.set else "")
        )
        if args.memory_cost:
            memory_cost(project, params, int(args.workers.split(",")[-1]))
            return
        results = []
        for w in (int(x) for x in args.workers.split(",")):
            r = run(project, params, w)
            results.append(r)
            if r["rc"] != 0:
                print(f"{w} worker(s): FAILED (exit {r['rc']}):\n{r['stderr']}")
                continue
            t = r["timing"]
            folds = ", ".join(f"{v:.0f}" for v in t["fold_seconds"].values())
            print(
                f"{w} worker(s): wall {r['wall']:.1f} s (stage {t['wall_seconds']:.1f} s); "
                f"{t['folds']} folds, seconds per fold: {folds}"
            )
            if t.get("proximity_fold_seconds"):
                both = ", ".join(f"{v:.0f}" for v in t["proximity_fold_seconds"].values())
                print(f"  + {len(t['proximity_fold_seconds'])} proximity comparison folds: {both}")
        ok = [r for r in results if r["rc"] == 0]
        if len(ok) >= 2:
            base = ok[0]
            for r in ok[1:]:
                print(
                    f"speed-up {r['workers']} vs {base['workers']} worker(s): "
                    f"{base['wall'] / r['wall']:.2f}x"
                )
            same = all(r["metrics_bytes"] == base["metrics_bytes"] for r in ok[1:])
            print(f"backtest.json byte-identical across worker counts: {same}")
        if ok:
            summarise(json.loads(ok[-1]["metrics_bytes"]))


def memory_cost(project: Path, params: dict, workers: int) -> None:
    """The stage with the memory pinned, then chosen on the dev window: wall times, ratio."""
    walls = {}
    for auto in (False, True):
        r = run(project, params, workers, auto)
        if r["rc"] != 0:
            print(f"memory.auto {auto}: FAILED (exit {r['rc']}):\n{r['stderr']}")
            return
        walls[auto] = r["timing"]["wall_seconds"]
        sel = json.loads(r["metrics_bytes"])["model_selection"]
        test = json.loads(r["metrics_bytes"])["windows"].get("test", {})
        sk = test.get("skill", {})
        print(
            f"memory.auto {str(auto).lower():5s}: stage {walls[auto]:.1f} s "
            f"(wall {r['wall']:.1f} s) "
            f"on {workers} worker(s); {len(sel['candidates'])} candidate(s), chosen "
            f"{sel['chosen']}; test Brier skill vs climatology "
            f"{100 * sk['climatology']['brier']['mean']:+.1f}%, vs EWMA "
            f"{100 * sk['ewma']['brier']['mean']:+.1f}%, ECE {test['model']['ece']:.4f}"
        )
    print(f"choosing the memory adds {100 * (walls[True] / walls[False] - 1):+.0f}% to the "
          "backtest stage's time (target: at most +50%)")  # fmt: skip


def summarise(m: dict) -> None:
    """Each window's headline scores (the test window is the one to quote)."""
    for name, w in m["windows"].items():
        print(
            f"{name} window: {w['origins']} origins {w['first_origin']} … {w['last_origin']}, "
            f"rows {w['rows']}, prevalence {w['prevalence']:.4f}"
        )
        if d := skill_diff(WindowScores.from_json(w)):
            print(
                f"  proximity block, with minus without (refit every "
                f"{w['proximity'].get('refit_every')}): Brier skill {d['brier']}, log {d['log']}"
            )
        for f in ("model", "climatology", "ewma", "markov", "logistic", "global_rate"):
            s = w[f]
            print(
                f"  {f:12s} brier {s['brier']:.4f} log {s['log_score']:.4f} "
                f"auc_roc {s['auc_roc']:.3f} auc_pr {s['auc_pr']:.3f} ece {s['ece']:.4f}"
            )
        for b, sk in w["skill"].items():
            br, ls = sk["brier"], sk["log_score"]
            print(
                f"  skill vs {b:12s} brier {br['mean']:+.3f} [{br['ci_low']:+.3f}, "
                f"{br['ci_high']:+.3f}] p={br['dm_pvalue']:.3f}  log {ls['mean']:+.3f} "
                f"[{ls['ci_low']:+.3f}, {ls['ci_high']:+.3f}]"
            )
        wh = w["within_h"]
        for b, sk in wh["skill"].items():
            br = sk["brier"]
            print(
                f"  within H vs {b:12s} brier {br['mean']:+.3f} [{br['ci_low']:+.3f}, "
                f"{br['ci_high']:+.3f}]; ECE {wh['model']['ece']:.4f}"
            )


if __name__ == "__main__":
    main()

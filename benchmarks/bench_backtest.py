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

``--external [N]`` (issue 22) also runs the stage on an external ``dask.distributed`` scheduler:
a scheduler and one ``dask worker --nworkers N`` (default 2) started here as processes of their
own, reached through ``DASK_SCHEDULER_ADDRESS``, shut down after. The workers get this process's
environment, as the stage's ``LocalCluster`` workers get the stage's, and their nannies set the
same one-thread BLAS/OpenMP variables (``distributed.nanny.pre-spawn-environ``); the benchmark
checks both on the running workers. It then prints each run's times, whether every output the
stage declares in ``dvc.yaml`` is byte-identical to the first run's, and a paper estimate for a
cluster of ``--cluster-workers`` (default 20): the measured per-fold seconds of the first run
scheduled longest first onto that many workers (LPT), phase by phase, times ``--fold-scale``
(a fold's cost at the target size over its cost here, e.g. a fit-time ratio from another
benchmark).

Usage: ``python benchmarks/bench_backtest.py [--workers 1,2] [--memory-cost] [--external [N]]
[--cluster-workers 20] [--fold-scale X] [--set backtest.draws=300 ...]``
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import xarray as xr
import yaml

from model import timing
from model.config import DaskParams
from model.reporting.report_proximity import skill_diff
from model.results import WindowScores

ROOT = Path(__file__).resolve().parents[1]
#: The governorate example (Iraq's 18 governorates, the shipped default before issue 21 made
#: cells the default): the benchmarks that measured the governorate model read it.
GOVERNORATES = ROOT / "params/examples/ged_iraq_governorates.yaml"
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


def stage_outputs() -> list[str]:
    """Every output the backtest stage declares in ``dvc.yaml`` (its one home)."""
    outs = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["backtest"]["outs"]
    return [o if isinstance(o, str) else next(iter(o)) for o in outs]


def run(
    project: Path,
    params: dict,
    workers: int,
    auto: bool | None = None,
    scheduler: str | None = None,
) -> dict:
    """The stage in a child process on a fresh ``LocalCluster`` of ``workers`` processes, or
    on the running ``scheduler`` (through ``DASK_SCHEDULER_ADDRESS``): times, exit status and
    the bytes of every declared output (None where one was not written)."""
    params = json.loads(json.dumps(params, default=str))
    dask = params.setdefault("runtime", {}).setdefault("dask", {})
    dask["workers"], dask["address"] = workers, None
    params["runtime"]["fold_cache"] = None  # each worker count computes every fold
    if auto is not None:
        params.setdefault("memory", {})["auto"] = auto
    path = project / f"params_w{workers}_{auto}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    args = [sys.executable, "-m", "model.cli", "--root", str(project), "--params", str(path)]
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    if scheduler:
        env["DASK_SCHEDULER_ADDRESS"] = scheduler
    for out in stage_outputs():  # no run reads another's outputs
        (project / out).unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run([*args, "backtest"], cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    out = {"workers": workers, "wall": wall, "rc": proc.returncode, "stderr": proc.stderr[-2000:],
           "project": project}  # fmt: skip
    if proc.returncode == 0:
        out["timing"] = timing.read(project)["backtest"]
        out["metrics_bytes"] = (project / "reports/metrics/backtest.json").read_bytes()
        out["outputs"] = {
            o: (project / o).read_bytes() if (project / o).exists() else None
            for o in stage_outputs()
        }
    return out


def parse_args() -> argparse.Namespace:
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
    parser.add_argument(
        "--external",
        type=int,
        nargs="?",
        const=2,
        default=None,
        metavar="N",
        help="also run on an external scheduler with N worker processes (default 2)",
    )
    parser.add_argument("--cluster-workers", type=int, default=20, help="the paper cluster's size")
    parser.add_argument(
        "--fold-scale",
        type=float,
        default=1.0,
        help="a fold's cost at the target size over its cost here (the paper estimate's X)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
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
        results = local_runs(project, params, [int(x) for x in args.workers.split(",")])
        ok = [r for r in results if r["rc"] == 0]
        if args.external:
            r = external_run(project, params, args.external)
            if r["rc"] == 0:
                ok.append(r)
            if ok:
                compare_runs(ok)
                paper_estimate(ok[0], params, args.cluster_workers, args.fold_scale)
        if ok:
            summarise(json.loads(ok[-1]["metrics_bytes"]))


def _print_run(label: str, r: dict) -> None:
    """A run's wall and stage time and each fold's seconds, or its failure."""
    if r["rc"] != 0:
        print(f"{label}: FAILED (exit {r['rc']}):\n{r['stderr']}")
        return
    t = r["timing"]
    folds = ", ".join(f"{v:.0f}" for v in t["fold_seconds"].values())
    print(
        f"{label}: wall {r['wall']:.1f} s (stage {t['wall_seconds']:.1f} s); "
        f"{t['folds']} folds, seconds per fold: {folds}"
    )
    if t.get("proximity_fold_seconds"):
        both = ", ".join(f"{v:.0f}" for v in t["proximity_fold_seconds"].values())
        print(f"  + {len(t['proximity_fold_seconds'])} proximity comparison folds: {both}")


def local_runs(project: Path, params: dict, counts: list[int]) -> list[dict]:
    """The stage on a fresh ``LocalCluster`` of each worker count; speed-ups and whether
    ``backtest.json`` came out the same."""
    results = []
    for w in counts:
        r = run(project, params, w)
        r["label"] = f"{w} local worker" + ("s" if w > 1 else "")
        results.append(r)
        _print_run(f"{w} worker(s)", r)
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
    return results


#: What a LocalCluster worker's environment is checked on: thread limits and compile caches.
ENV_KEYS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_CACHE_DIR",
            "PYTENSOR_FLAGS")  # fmt: skip


def check_worker_env(client) -> None:
    """Print whether the workers' environment is what a ``LocalCluster`` worker of the stage
    would have: the stage's (here: this process's) with the nanny's pre-spawn variables."""
    import dask

    pre_spawn = dask.config.get("distributed.nanny.pre-spawn-environ")

    def env_of(keys=ENV_KEYS):  # nested: pickled by value, whatever imported this module
        return {k: os.environ.get(k) for k in keys}

    want = {**env_of(), **{k: str(v) for k, v in pre_spawn.items() if k in ENV_KEYS}}
    got = client.run(env_of)
    same = all(env == want for env in got.values())
    shown = ", ".join(f"{k}={v}" for k, v in want.items())
    print(f"external workers: {len(got)}, environment as a LocalCluster worker's: {same} ({shown})")


@contextlib.contextmanager
def external_cluster(workdir: Path, n: int, spec: DaskParams) -> Iterator[str]:
    """A scheduler and ``n`` worker processes (one ``dask worker`` with ``n`` nannies), each
    started here as a process of its own; yields the scheduler's address, then shuts both down
    (workers first) and says how they exited."""
    from distributed import Client

    workdir.mkdir(parents=True, exist_ok=True)
    file = workdir / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    commands = {
        "scheduler": ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                      "--no-dashboard", "--scheduler-file", str(file)],
        "workers": ["distributed.cli.dask_worker", "--scheduler-file", str(file),
                    "--nworkers", str(n), "--nthreads", str(spec.threads_per_worker),
                    "--memory-limit", spec.memory_limit, "--no-dashboard"],
    }  # fmt: skip
    procs: dict[str, subprocess.Popen] = {}
    try:
        t0 = time.perf_counter()
        for name, cmd in commands.items():
            with (workdir / f"{name}.log").open("w") as log:
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", *cmd], cwd=ROOT, env=env, stdout=log, stderr=log
                )
            while name == "scheduler" and not file.exists():
                if procs[name].poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"no scheduler: {(workdir / 'scheduler.log').read_text()}")
                time.sleep(0.2)
        with Client(scheduler_file=str(file), timeout=60) as client:
            client.wait_for_workers(n, timeout=180)
            address = client.scheduler.address
            check_worker_env(client)
        print(f"external cluster at {address} up in {time.perf_counter() - t0:.1f} s")
        yield address
    finally:
        _shut_down(procs)


def _shut_down(procs: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to the workers (their nannies close them), then to the scheduler; a process
    that has not exited after 60 s is killed. Prints each one's exit status."""
    codes = {}
    for name in ("workers", "scheduler"):
        if (proc := procs.get(name)) is None:
            continue
        proc.terminate()
        try:
            codes[name] = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = f"{proc.wait()} (killed after 60 s)"
    print("external cluster shut down: " + ", ".join(f"{k} exit {v}" for k, v in codes.items()))


def external_run(project: Path, params: dict, n: int) -> dict:
    """The stage on an external scheduler with ``n`` worker processes, started and stopped
    around it (the run's wall time leaves out the cluster's start, which it prints)."""
    label = f"external scheduler, {n} worker processes"
    spec = DaskParams.model_validate(params.get("runtime", {}).get("dask", {}))
    with external_cluster(project / "external_cluster", n, spec) as address:
        r = run(project, params, n, scheduler=address)
    r["label"] = label
    _print_run(label, r)
    return r


def compare_runs(ok: list[dict]) -> None:
    """A table of the finished runs' times and whether each wrote every declared output
    byte for byte as the first did (and which differ where not)."""
    base = ok[0]
    outputs = [o for o in stage_outputs() if any(r["outputs"][o] is not None for r in ok)]
    print(f"outputs compared ({len(outputs)}, as dvc.yaml declares them and the stage wrote "
          f"them): {', '.join(Path(o).name for o in outputs)}")  # fmt: skip
    print(f"| run | wall (s) | stage (s) | folds (s, sum) | per fold (s, mean) | outputs "
          f"byte-identical to {base['label']} |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|")
    for r in ok:
        t = r["timing"]
        secs = [*t["fold_seconds"].values(), *t["proximity_fold_seconds"].values()]
        differ = [Path(o).name for o in outputs if r["outputs"][o] != base["outputs"][o]]
        same = "yes (all)" if not differ else f"NO: {', '.join(differ)}"
        print(
            f"| {r['label']} | {r['wall']:.1f} | {t['wall_seconds']:.1f} | {sum(secs):.0f} | "
            f"{sum(secs) / len(secs):.1f} | {same} |"
        )


def lpt_makespan(costs: list[float], n: int) -> float:
    """Longest first, each task onto the least loaded of ``n`` workers: when the last ends."""
    loads = [0.0] * n
    for c in sorted(costs, reverse=True):
        heapq.heapreplace(loads, loads[0] + c)
    return max(loads)


def fold_phases(r: dict, params: dict) -> list[tuple[str, list[float]]]:
    """A run's fold seconds by the stage's phases: with a memory to choose, the proximity and
    dev folds, then the test folds (they wait for the choice); else all at once."""
    t = r["timing"]
    prox = list(t["proximity_fold_seconds"].values())
    test = json.loads(r["metrics_bytes"])["windows"].get("test")
    if not (params.get("memory", {}).get("auto") and params["model"].get("offset") and test):
        every = [*prox, *t["fold_seconds"].values()]
        return [(f"{len(prox)} proximity + {t['folds']} folds", every)]
    dev = [v for k, v in t["fold_seconds"].items() if k < test["first_origin"]]
    rest = [v for k, v in t["fold_seconds"].items() if k >= test["first_origin"]]
    return [(f"{len(prox)} proximity + {len(dev)} dev folds", prox + dev),
            (f"{len(rest)} test folds", rest)]  # fmt: skip


def paper_estimate(base: dict, params: dict, n: int, scale: float) -> None:
    """The backtest's time on ``n`` workers, on paper: each phase's measured fold seconds
    scheduled longest first (LPT), summed over the phases, times the fold scale X."""
    phases = fold_phases(base, params)
    spans = [lpt_makespan(costs, n) for _, costs in phases]
    t = base["timing"]
    folds = sum(sum(c) for _, c in phases)
    print(f"paper estimate, a cluster of N={n} workers, from the per-fold seconds of "
          f"{base['label']} (one core per fold, as there):")  # fmt: skip
    print(f"  T_{n} = X · Σ over the phases of LPT_{n}(the phase's fold seconds)"
          + (" (the test folds wait for the memory chosen on the dev folds)" if len(phases) > 1
             else ""))  # fmt: skip
    terms = " + ".join(f"LPT_{n}({name})" for name, _ in phases)
    values = " + ".join(f"{s:.1f}" for s in spans)
    print(f"       = X · ({terms}) = X · ({values}) s = X · {sum(spans):.1f} s")
    for x, why in [(1.0, "default"), *([(scale, "--fold-scale")] if scale != 1.0 else [])]:
        print(f"  X = {x:g} ({why}): {x * sum(spans):.0f} s ({x * sum(spans) / 60:.1f} min)")
    size = xr.load_dataset(base["project"] / PANEL, engine="h5netcdf").nbytes / 2**20
    print(
        f"  not in it: the stage outside its folds ({base['label']}: stage "
        f"{t['wall_seconds']:.0f} s − {folds:.0f} s of folds = {t['wall_seconds'] - folds:.0f} s "
        f"here: start-up, memory choice, scoring, writing); the panel ({size:.1f} MiB here) "
        f"scattered to each of the {n} workers once per phase; lower bound "
        f"max(longest fold, Σ folds / N) per phase = "
        f"{sum(max(max(c), sum(c) / n) for _, c in phases):.1f} s · X"
    )


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

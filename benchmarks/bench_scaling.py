"""How the fit scales: panels of 1x, 4x and 10x the shipped size, each fitted in its own process.

The panels are drawn from the model's own generative process (``clashcast_testing.simulate``) with
the shipped panel's shape as the 1x size (18 regions x 260 weeks) and more regions *and* more
periods for the larger ones. Each size is fitted with the default sampler settings in
``params.yaml`` (``fit`` section) in a fresh child process, so that its peak resident memory is its
own. Prints wall time (model build + sampling, compilation included), sampling time, min bulk ESS,
ESS/s and peak RSS per size, and the time ratios against 1x. Asserts nothing.

Targets (issue 6): 10x rows take ≤ 12x the time of 1x; peak memory ≤ 4 GB at 10x.

Usage: ``python benchmarks/bench_scaling.py [--draws N --tune N --chains N]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (label, countries, regions per country, periods): rows grow 1x, 4x, 10x.
SIZES = [("1x", 1, 18, 260), ("4x", 2, 18, 520), ("10x", 3, 19, 821)]


def child(countries: int, per_country: int, periods: int, draws: int, tune: int, chains: int):
    import arviz as az
    import numpy as np

    from clashcast_testing.simulate import simulate_panel
    from model.config import read_params
    from model.inference.clash_model import build_clash_model, make_design
    from model.inference.sampling import fit

    params = read_params(ROOT / "params.yaml")
    features = list(params.model.features)
    t0 = time.perf_counter()
    panel = simulate_panel(countries, per_country, periods, features, seed=7)
    design = make_design(panel, features, params.model.horizon, burn_in=params.model.burn_in)
    pm_model = build_clash_model(
        design, params.model.priors, parameterisation=params.model.parameterisation
    )
    idata = fit(
        pm_model,
        sampler=params.fit.sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=params.runtime.cores,
        target_accept=params.fit.target_accept,
        seed=params.fit.seed,
        progressbar=False,
        log_likelihood=False,
    )
    wall = time.perf_counter() - t0
    ess = az.ess(idata, method="bulk")
    ess_min = float(min(np.min(v.values) for v in ess.data_vars.values()))
    divergences = int(idata["sample_stats"]["diverging"].sum())
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "rows": int(design.y.shape[0]) if hasattr(design, "y") else None,
        "regions": countries * per_country,
        "periods": periods,
        "wall_s": wall,
        "sampling_s": float(idata.attrs["sampling_seconds"]),
        "ess_bulk_min": ess_min,
        "ess_per_s": ess_min / float(idata.attrs["sampling_seconds"]),
        "divergences": divergences,
        "peak_gib": peak_gib,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, type=int)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--chains", type=int)
    args = parser.parse_args()
    if args.child:
        out = child(*args.child, args.draws, args.tune, args.chains)
        print("RESULT " + json.dumps(out))
        return 0

    sys.path.insert(0, str(ROOT))
    from model.config import read_params

    fit = read_params(ROOT / "params.yaml").fit
    draws, tune, chains = args.draws or fit.draws, args.tune or fit.tune, args.chains or fit.chains
    results = []
    for label, countries, per_country, periods in SIZES:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(countries),
                str(per_country),
                str(periods),
                "--draws",
                str(draws),
                "--tune",
                str(tune),
                "--chains",
                str(chains),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            print(f"{label}: failed (exit {proc.returncode})\n{proc.stderr[-1500:]}")
            continue
        results.append((label, json.loads(line[0][7:])))
    if not results:
        return 1
    base = results[0][1]
    print(
        f"Sampler {fit.sampler}, {chains} chains x ({tune} tune + {draws} draws), simulated panels."
    )
    print()
    print(
        "| size | regions x periods | rows | wall (s) | time / 1x | sampling (s) "
        "| min bulk ESS | ESS/s | divergences | peak RSS (GiB) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in results:
        rows = r["rows"] or r["regions"] * r["periods"]
        base_rows = base["rows"] or base["regions"] * base["periods"]
        print(
            f"| {label} ({rows / base_rows:.1f}x rows) | {r['regions']} x {r['periods']} "
            f"| {rows:,} "
            f"| {r['wall_s']:.0f} | {r['wall_s'] / base['wall_s']:.1f} | {r['sampling_s']:.0f} "
            f"| {r['ess_bulk_min']:.0f} | {r['ess_per_s']:.1f} | {r['divergences']} "
            f"| {r['peak_gib']:.2f} |"
        )
    print()
    print("Targets: 10x rows ≤ 12x the 1x time; peak memory ≤ 4 GB at 10x.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

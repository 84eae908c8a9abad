"""Coverage of the model's intervals on panels simulated from its own generative process.

Draws ``--panels`` panels with :func:`clashcast_testing.simulate_blocks.simulate_block_panel` (every
parameter from the priors in ``params.yaml``, an exogenous offset and two features, blocks of
``model.horizon`` steps with a shared block effect), fits each with the shipped model builder
and sampler (nutpie, ``--chains`` × ``--draws``), and prints how often the central 50% and 90%
posterior intervals hold the truth:

- the next week's clash probability of every region after the last origin, as the forecast's
  interval states it (:func:`model.inference.forecast.forecast_draws`: each draw with its block
  effect), against the true one given the next block's own effect;
- the hyper-parameters (intercept, sigma_region, sigma_block, sigma_beta_horizon, beta_mu).

Averaged over draws from the prior, a correct posterior covers the truth at the nominal rate
(simulation-based calibration); target: 90% intervals cover 85–95%. With ``--overlapping`` it
also fits the design that repeated each outcome in up to H rows (every origin a block; what the
model did before each outcome counted once), to show what counting once buys. Asserts nothing.

Usage: ``python benchmarks/bench_coverage.py [--panels 24] [--draws 500] [--overlapping]``
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clashcast_testing.simulate_blocks import (  # noqa: E402
    HYPER,
    OFFSET,
    interval_hits,
    simulate_block_panel,
)
from model.config import read_params  # noqa: E402
from model.inference.clash_model import build_clash_model, make_design  # noqa: E402
from model.inference.forecast import forecast_draws  # noqa: E402
from model.inference.sampling import fit  # noqa: E402

FEATURES = ("x1", "x2")


def overlapping(design):
    """The same panel's design with a block at every origin (each outcome in up to H blocks)."""
    n_reg, h = len(design.regions), design.horizon
    y_full = np.full((n_reg, len(design.periods)), -1)
    for b in range(design.n_blocks):
        r, t = design.region_idx[b], design.origin_idx[b]
        y_full[r, t + 1 : t + 1 + h] = design.y[b]
    first = design.origin_idx.min()
    last = design.origin_idx.max()
    keep = [(r, t) for t in range(first, last + 1) for r in range(n_reg)]
    r_i = np.array([k[0] for k in keep])
    t_i = np.array([k[1] for k in keep])
    y = np.stack([y_full[r_i, t_i + s] for s in range(1, h + 1)], axis=1)
    return r_i, t_i, y.astype(np.int8)


def fit_one(panel, priors, horizon, args, seed, repeat):
    """Posterior of one panel; with ``repeat`` the overlapping design."""
    design = make_design(panel, FEATURES, horizon, offset=OFFSET)
    if repeat:
        r_i, t_i, y = overlapping(design)
        X = np.stack([panel[f].values[r_i, t_i] for f in FEATURES], axis=-1)
        design = dataclasses.replace(
            design,
            X=X,
            offset=panel[OFFSET].values[r_i, t_i],
            y=y,
            region_idx=r_i,
            country_idx=design.region_country_idx[r_i],
            origin_idx=t_i,
            x_mean=np.zeros(len(FEATURES)),
            x_scale=np.ones(len(FEATURES)),
        )
    pm_model = build_clash_model(design, priors, region_effects=args.region_effects)
    return fit(
        pm_model,
        draws=args.draws,
        tune=args.draws,
        chains=args.chains,
        cores=1,
        target_accept=0.95,
        seed=seed,
        progressbar=False,
        log_likelihood=False,
    )


def hits_of(idata, panel, truth):
    """Interval hits of the step-1 probabilities and the hyper-parameters of one fit."""
    post = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
    p = forecast_draws(idata, panel, None).sel(horizon=1)
    out = {"next week's P(clash)": interval_hits(p.values, truth["p_next"][:, 0])}
    for name in HYPER:
        if name in post and name in truth:
            out[name] = interval_hits(post[name].values, np.float64(truth[name]))
    if "beta_mu" in post:
        out["beta_mu"] = interval_hits(
            post["beta_mu"].transpose("feature", "sample").values, truth["beta_mu"]
        )
    return out


def table(results):
    names = list(dict.fromkeys(k for r in results for k in r))
    lines = [
        "| quantity | checks | 50% interval covers | 90% interval covers |",
        "|---|---:|---:|---:|",
    ]
    total = {"50%": [], "90%": []}
    for name in names:
        h50 = np.concatenate([np.atleast_1d(r[name]["50%"]) for r in results if name in r])
        h90 = np.concatenate([np.atleast_1d(r[name]["90%"]) for r in results if name in r])
        total["50%"].append(h50)
        total["90%"].append(h90)
        lines.append(f"| {name} | {h90.size} | {h50.mean():.0%} | {h90.mean():.0%} |")
    hyper50 = np.concatenate(total["50%"][1:]) if len(total["50%"]) > 1 else np.array([])
    hyper90 = np.concatenate(total["90%"][1:]) if len(total["90%"]) > 1 else np.array([])
    if hyper90.size:
        n, c50, c90 = hyper90.size, hyper50.mean(), hyper90.mean()
        lines.append(f"| all hyper-parameters | {n} | {c50:.0%} | {c90:.0%} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--panels", type=int, default=24)
    ap.add_argument("--regions", type=int, default=12)
    ap.add_argument("--periods", type=int, default=200)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--overlapping", action="store_true")
    ap.add_argument(
        "--region-effects",
        choices=("params", "on", "off"),
        default="params",
        help="learned intercept and region effects: as params.yaml says (default), or on/off",
    )
    args = ap.parse_args()
    params = read_params(ROOT / "params.yaml")
    priors, horizon = dict(params.model.priors), params.model.horizon
    choice = {"params": params.model.region_effects, "on": True, "off": False}
    args.region_effects = choice[args.region_effects]
    designs = {"each outcome once (shipped)": False}
    if args.overlapping:
        designs["each outcome in up to H rows (before)"] = True
    effects = "with" if args.region_effects else "without"
    print(
        f"{args.panels} panels of {args.regions} regions × {args.periods} weeks, horizon "
        f"{horizon}, {effects} learned region effects, parameters drawn from the priors in "
        f"params.yaml; nutpie, {args.chains} chains × ({args.draws} tune + {args.draws} "
        "draws)\n"
    )
    for label, repeat in designs.items():
        results, divergences, t0 = [], 0, time.perf_counter()
        for k in range(args.panels):
            panel, truth = simulate_block_panel(
                priors,
                n_regions=args.regions,
                n_periods=args.periods,
                features=FEATURES,
                horizon=horizon,
                seed=1000 + k,
                region_effects=args.region_effects,
            )
            idata = fit_one(panel, priors, horizon, args, seed=k, repeat=repeat)
            divergences += int(idata["sample_stats"]["diverging"].sum())
            results.append(hits_of(idata, panel, truth))
        took = time.perf_counter() - t0
        print(f"**{label}** ({took:.0f} s, {divergences} divergences in all)\n")
        print(table(results) + "\n")
    print("Target: 90% intervals cover 85–95%.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

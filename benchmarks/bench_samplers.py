"""Sampler benchmark on the shipped-size problem: ESS per second, side by side, in one run.

    python benchmarks/bench_samplers.py [--draws 1000 --tune 1000 --chains 4 --cores 2]
                                        [--configs centred-pymc,auto-nutpie,...]

Configurations (parameterisation-sampler):
  centred-pymc        (a) PyMC's default NUTS on the straightforward centred model
  auto-nutpie         (b) our default: each region centred or not as its data call for, nutpie
  noncentred-nutpie   every region non-centred (offsets summing to zero), nutpie
  noncentred-numpyro  every region non-centred, numpyro (JAX on CPU)
  noncentred-pymc     every region non-centred, PyMC's NUTS

Data: ``data/processed/panel.nc`` when present, else a simulated panel of the shipped size
(1 country, 18 regions, 261 weeks); the table says which. ESS is the minimum bulk ESS over
quantities both parameterisations share (intercept, sigma_region, sigma_beta_horizon,
beta_mu, beta and the region effects intercept + sigma_region * offset), so the comparison is
like for like. Wall time covers the whole ``pm.sample`` call (compilation included); ESS/s uses
it. Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache/clashcast/numba"))
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={Path.home() / '.cache/clashcast/pytensor'}")

import arviz as az
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clashcast_testing.simulate import Truth, simulate_panel  # noqa: E402
from model.config import read_params  # noqa: E402
from model.inference.clash_model import build_clash_model, make_design  # noqa: E402
from model.inference.sampling import fit  # noqa: E402

CONFIGS = (
    "centred-pymc",
    "auto-nutpie",
    "noncentred-nutpie",
    "noncentred-numpyro",
    "noncentred-pymc",
)
PARAMETERISATION = {"centred": "centred", "auto": "auto", "noncentred": "non_centred"}
SHIPPED_TRUTH = Truth(
    intercept=-2.2,
    sigma_region=0.9,
    beta={
        "clash_decay_hl1": 0.5,
        "clash_decay_hl4": 0.3,
        "since_clash": -0.4,
        "nbr_clash_decay_hl4": 0.2,
        "prox_us_coalition__armed_group_near": 0.3,
    },
)


def load_panel(features: list[str], seed: int) -> tuple[xr.Dataset, str]:
    path = ROOT / "data/processed/panel.nc"
    if path.exists():
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            return ds.load(), f"shipped panel {path.relative_to(ROOT)}"
    panel = simulate_panel(1, 18, 261, features, SHIPPED_TRUTH, seed=seed, zero_regions=[2, 3])
    return panel, "simulated panel of the shipped size (1 country x 18 regions x 261 weeks)"


def common_quantities(idata: xr.DataTree) -> xr.Dataset:
    post = idata["posterior"].to_dataset()
    if "region_eff" in post:
        region = post["region_eff"]
    else:
        region = post["intercept"] + post["sigma_region"] * post["region_offset"]
        if "country_offset" in post:
            raise NotImplementedError("benchmark assumes one country or centred")
    keep = [
        v
        for v in ("intercept", "sigma_region", "sigma_beta_horizon", "beta_mu", "beta")
        if v in post
    ]
    return post[keep].assign(region_effect=region)


def run_one(config: str, panel: xr.Dataset, params, args) -> dict:
    parameterisation, sampler = config.split("-")
    mp = params.model
    design = make_design(panel, mp.features, mp.horizon, burn_in=mp.burn_in)
    pm_model = build_clash_model(
        design,
        mp.priors,
        country_varying=mp.country_varying,
        parameterisation=PARAMETERISATION[parameterisation],
    )
    # (a) is PyMC's default: its own target_accept (0.8); the others use params.fit's.
    target = 0.8 if config == "centred-pymc" else params.fit.target_accept
    t0 = time.perf_counter()
    idata = fit(
        pm_model,
        sampler=sampler,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        cores=args.cores,
        target_accept=target,
        seed=args.seed,
        progressbar=args.progress,
        log_likelihood=False,
    )
    wall = time.perf_counter() - t0
    ess = az.ess(common_quantities(idata), method="bulk")
    ess_min = float(min(ess[v].min().item() for v in ess.data_vars))
    rhat = az.rhat(common_quantities(idata))
    return {
        "config": config,
        "wall_s": wall,
        "ess_bulk_min": ess_min,
        "ess_per_s": ess_min / wall,
        "divergences": int(idata["sample_stats"]["diverging"].sum()),
        "r_hat_max": float(max(rhat[v].max().item() for v in rhat.data_vars)),
        "rows": design.n_obs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20170518)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    params = read_params(ROOT / "params.yaml")
    panel, source = load_panel(params.model.features, args.seed)
    print(
        f"data: {source}; {args.chains} chains x {args.draws} draws + {args.tune} tune, "
        f"{args.cores} cores, {os.cpu_count()} CPUs visible",
        flush=True,
    )
    results = []
    for config in args.configs.split(","):
        try:
            res = run_one(config, panel, params, args)
        except Exception as e:  # a sampler that cannot run here is reported, not fatal
            print(f"{config}: failed: {type(e).__name__}: {e}", flush=True)
            continue
        results.append(res)
        print(f"{config}: done in {res['wall_s']:.0f} s", flush=True)
    header = "| config | rows | wall s | min bulk ESS | ESS/s | divergences | max R-hat |"
    print("\n" + header + "\n|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['config']} | {r['rows']} | {r['wall_s']:.0f} | {r['ess_bulk_min']:.0f} | "
            f"{r['ess_per_s']:.2f} | {r['divergences']} | {r['r_hat_max']:.3f} |"
        )
    by = {r["config"]: r for r in results}
    if "centred-pymc" in by and "auto-nutpie" in by:
        ratio = by["auto-nutpie"]["ess_per_s"] / max(by["centred-pymc"]["ess_per_s"], 1e-9)
        print(f"\n(b) auto-nutpie / (a) centred-pymc ESS/s: {ratio:.1f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

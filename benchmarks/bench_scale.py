"""The 100× panel: building it, fitting it and forecasting from it at 1×, 10× and 100× (issue 22).

Sizes are cells × weeks of a simulated cell panel: 1× = 35 cells × 520 weeks (18,200
cell-weeks, the order of the shipped panel), 10× = 350 cells, 100× = 3,500 cells × 520 weeks
(1.82 M cell-weeks, a whole region at PRIO-GRID resolution).

The panel comes from the model's own generative process (:func:`simulate_clashes`): cells on
a square grid; a share ``--quiet`` (default 0.7) of them quiet (baseline −12 on the logit
scale: no clash in practice, as most cells of a real region), the active ones clustered around
hot spots (:func:`active_cells`); the active cells with a baseline
drawn from N(−3.2, 0.8), self-excitation through their own decayed clash count (half-life 4)
and a normal block effect (σ 0.6) shared by the 4 weeks of each block, as the fitted model's
dependence. The panel is then built with the project's own feature code (``clash_level_hl8``
by :func:`model.data.features.level_logit` with params' memory, and ``nbr_clash_decay_hl4`` by
:func:`model.data.features.neighbour_mean` over the first ring) and stored as ``panel.nc``.

The fit is the shipped cell model's form (``params.yaml``, cut to one
neighbour feature): the offset ``clash_level_hl8``, no region effects, one slope for every
step, a block effect per cell and block, identical blocks merged (``model.aggregate_blocks``),
fitted with ``params.yaml``'s sampler and budget (``--draws/--tune/--chains`` override).
``--plain`` also fits the sizes up to 10× without merging blocks, to show what merging buys.
Then the forecast at the last origin (``forecast_draws`` and ``within_draws``).

Each step runs in a fresh child process, so its peak resident memory is its own (the panel's
includes the simulation). Prints one row per size and a few lines on what breaks first;
asserts nothing. Targets (issue 22): the 100× fit ≤ 30 min and ≤ 8 GB on 2 cores.

Usage: ``python benchmarks/bench_scale.py [--sizes 1,10,100] [--draws N --tune N --chains N]
[--plain] [--quiet 0.7]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WEEKS = 520
CELLS_1X = 35
OFFSET, FEATURE = "clash_level_hl8", "nbr_clash_decay_hl4"


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def grid_neighbours(n_cells: int) -> tuple[list[str], dict[str, list[str]]]:
    """Cell names on a near-square grid, row-major, and each cell's first ring (up to 8)."""
    cols = int(np.ceil(np.sqrt(n_cells)))
    names = [f"c{i}" for i in range(n_cells)]
    ring = {}
    for i in range(n_cells):
        r, c = divmod(i, cols)
        near = [
            (r + dr) * cols + (c + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and 0 <= c + dc < cols and 0 <= (r + dr) * cols + (c + dc) < n_cells
        ]
        ring[names[i]] = [names[j] for j in near if j >= 0]
    return names, ring


def active_cells(n_cells: int, quiet: float, rng: np.random.Generator) -> np.ndarray:
    """Which cells can clash: the ``1 − quiet`` share nearest to a few hot spots (one per 40
    cells), so that fighting clusters (river valleys, cities) and quiet cells lie together, as
    on a real grid, instead of salted at random among each other."""
    cols = int(np.ceil(np.sqrt(n_cells)))
    r, c = np.divmod(np.arange(n_cells), cols)
    spots = rng.choice(n_cells, size=max(1, n_cells // 40), replace=False)
    dist = np.hypot(r[:, None] - r[spots], c[:, None] - c[spots]).min(axis=1)
    order = np.argsort(dist + rng.uniform(0, 0.5, n_cells), kind="stable")
    active = np.zeros(n_cells, dtype=bool)
    active[order[: round((1 - quiet) * n_cells)]] = True
    return active


def simulate_clashes(n_cells: int, n_weeks: int, quiet: float, seed: int = 0) -> np.ndarray:
    """``clash_any`` (cell, week) from the generative process of the module docstring."""
    rng = np.random.default_rng(seed)
    base = np.where(active_cells(n_cells, quiet, rng), rng.normal(-3.2, 0.8, n_cells), -12.0)
    u = rng.normal(0.0, 0.6, (n_cells, n_weeks // 4 + 1))
    decay, acc = 0.5 ** (1 / 4), np.zeros(n_cells)
    y = np.zeros((n_cells, n_weeks), dtype=np.int8)
    for t in range(n_weeks):
        eta = base + 0.9 * (np.log1p(acc) - 0.3) + u[:, t // 4]
        y[:, t] = rng.random(n_cells) < 1.0 / (1.0 + np.exp(-eta))
        acc = acc * decay + y[:, t]
    return y


def build_panel(clash_any: np.ndarray, names: list[str], ring: dict, params) -> object:
    """The panel (``panel.nc`` layout) from the clash grid, with the project's feature code."""
    import pandas as pd
    import xarray as xr

    from model.data import features as ft
    from model.data.panel_facts import PanelFacts

    panel = params.panel
    level = ft.level_logit(clash_any > 0, 8, panel.level_long_half_life, panel.level_prior)
    nbr = np.log1p(ft.neighbour_mean(ft.decayed_sum(clash_any, 4), names, ring))
    dims = ("region", "period")
    return xr.Dataset(
        {"clash_any": (dims, clash_any), OFFSET: (dims, level), FEATURE: (dims, nbr)},
        coords={
            "region": names,
            "period": pd.date_range("2009-01-05", periods=clash_any.shape[1], freq="W-MON"),
            "country": ("region", ["Simulated"] * len(names)),
        },
        attrs=PanelFacts.defaults("W-MON", [OFFSET, FEATURE]).to_attrs(),
    )


def child_panel(n_cells: int, quiet: float, out: str) -> dict:
    """Simulate and build one size's panel; write it to ``out``."""
    from model.config import read_params

    params = read_params(ROOT / "params.yaml")
    t0 = time.perf_counter()
    y = simulate_clashes(n_cells, WEEKS, quiet)
    t_sim = time.perf_counter() - t0
    names, ring = grid_neighbours(n_cells)
    t1 = time.perf_counter()
    panel = build_panel(y, names, ring, params)
    t_build = time.perf_counter() - t1
    panel.to_netcdf(out)
    return {
        "simulate_s": t_sim,
        "panel_s": t_build,
        "panel_peak_gib": _peak_gib(),
        "clash_share": float(y.mean()),
        "quiet_cells": int((y.sum(axis=1) == 0).sum()),
    }


def child_fit(panel_path: str, aggregate: bool, draws: int, tune: int, chains: int) -> dict:
    """Design, model, fit and forecast on one size's panel."""
    import arviz as az
    import xarray as xr

    from model.config import read_params
    from model.inference.clash_model import build_clash_model, distinct_blocks, make_design
    from model.inference.forecast import forecast_draws, within_draws
    from model.inference.sampling import fit_with_params

    params = read_params(ROOT / "params.yaml")
    panel = xr.open_dataset(panel_path).load()
    t0 = time.perf_counter()
    design = make_design(panel, [FEATURE], 4, burn_in=104, offset=OFFSET)
    rows = distinct_blocks(design, region_effects=False)
    pm_model = build_clash_model(
        design, params.model.priors, region_effects=False, horizon_varying=False,
        aggregate=aggregate,
    )  # fmt: skip
    idata = fit_with_params(
        pm_model, params.fit, params.runtime, draws=draws, tune=tune, chains=chains,
        progressbar=False, log_likelihood=False,
    )  # fmt: skip
    fit_s = time.perf_counter() - t0
    fit_peak = _peak_gib()
    t1 = time.perf_counter()
    p = forecast_draws(idata, panel, None).mean("draw")
    within_draws(idata, panel, None).mean("draw").values.max()
    ess = az.ess(idata, method="bulk")
    sampling = float(idata.attrs["sampling_seconds"])
    ess_min = float(min(np.min(v.values) for v in ess.data_vars.values()))
    return {
        "blocks": design.n_blocks,
        "distinct": design.n_blocks if rows is None else rows.n_distinct,
        "fit_s": fit_s,
        "sampling_s": sampling,
        "ess_bulk_min": ess_min,
        "ess_per_s": ess_min / sampling,
        "divergences": int(idata["sample_stats"]["diverging"].sum()),
        "fit_peak_gib": fit_peak,
        "forecast_s": time.perf_counter() - t1,
        "p_max": float(p.max()),
        "draws_total": int(draws * chains),
    }


def shipped_distinct() -> str:
    """The shipped panel's training blocks and distinct blocks under ``params.yaml``'s model."""
    import xarray as xr

    from model.config import read_params
    from model.data.memory import effective_params
    from model.inference.clash_model import design_from_params, distinct_blocks

    path = ROOT / "data" / "processed" / "panel.nc"
    if not path.exists():
        return "shipped panel: data/processed/panel.nc absent (run `dvc repro` first)"
    mp = effective_params(read_params(ROOT / "params.yaml"), ROOT).model
    with xr.open_dataset(path) as panel:
        design = design_from_params(panel.load(), mp)
    rows = distinct_blocks(design, mp.region_effects, bool(mp.country_varying),
                           mp.dependence_group != "region")  # fmt: skip
    n = design.n_blocks if rows is None else rows.n_distinct
    return (
        f"shipped panel (data/processed/panel.nc, params.yaml's model): {design.n_blocks:,} "
        f"training blocks, {n:,} distinct ({1 - n / design.n_blocks:.1%} merged)"
    )


def _run_child(args: list[str]) -> dict | None:
    proc = subprocess.run(
        [sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not line:
        print(f"child {args[:3]} failed (exit {proc.returncode})\n{proc.stderr[-1500:]}")
        return None
    return json.loads(line[-1][7:])


def _row(label: str, n_cells: int, merged: str, pan: dict, fit: dict, base_fit: float) -> str:
    return (
        f"| {label} | {n_cells:,} x {WEEKS} | {n_cells * WEEKS:,} | {pan['quiet_cells']:,} "
        f"| {fit['blocks']:,} | {fit['distinct']:,} | {merged} | {pan['panel_s']:.1f} "
        f"| {pan['panel_peak_gib']:.2f} | {fit['fit_s']:.0f} | {fit['fit_s'] / base_fit:.1f} "
        f"| {fit['sampling_s']:.0f} | {fit['ess_bulk_min']:.0f} | {fit['ess_per_s']:.1f} "
        f"| {fit['divergences']} | {fit['fit_peak_gib']:.2f} | {fit['forecast_s']:.1f} |"
    )


def _what_breaks(results: list[tuple], draws_total: int) -> None:
    """The lines after the table: the pointwise log-likelihood PSIS-LOO would hold, the
    neighbour matrix, the fit's growth."""
    label, n_cells, _, _, fit = results[-1]
    ll_gb = fit["blocks"] * draws_total * 8 / 1e9
    print(
        f"- At {label} the fit stage's pointwise log-likelihood for PSIS-LOO (one float64 per "
        f"block and draw: {fit['blocks']:,} x {draws_total:,}) would hold {ll_gb:.1f} GB "
        "before PSIS-LOO runs: the first thing over 8 GB (the bench fits without it)."
    )
    nbr_gb = n_cells**2 * 8 / 1e9
    print(
        f"- The neighbour mean builds a dense cells x cells matrix: {nbr_gb:.2f} GB at "
        f"{n_cells:,} cells, {nbr_gb * 100:.0f} GB at 10x that (a sparse matrix would be linear)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child-panel", nargs=3)
    parser.add_argument("--child-fit", nargs=5)
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--draws", type=int)
    parser.add_argument("--tune", type=int)
    parser.add_argument("--chains", type=int)
    parser.add_argument("--quiet", type=float, default=0.7)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.child_panel:
        n, quiet, out = args.child_panel
        print("RESULT " + json.dumps(child_panel(int(n), float(quiet), out)))
        return 0
    if args.child_fit:
        path, agg, draws, tune, chains = args.child_fit
        print("RESULT " + json.dumps(child_fit(path, agg == "1", *map(int, (draws, tune, chains)))))
        return 0

    from model.config import read_params

    fp = read_params(ROOT / "params.yaml").fit
    budget = [args.draws or fp.draws, args.tune or fp.tune, args.chains or fp.chains]
    print(
        f"Sampler {fp.sampler}, {budget[2]} chains x ({budget[1]} tune + {budget[0]} draws); "
        f"simulated cells, {args.quiet:.0%} of them quiet; model: offset {OFFSET}, feature "
        f"{FEATURE}, no region effects, a block effect per cell and block."
    )
    print(shipped_distinct())
    print()
    print(
        "| size | cells x weeks | cell-weeks | quiet cells | blocks | distinct | merged "
        "| panel (s) | panel peak (GiB) | fit (s) | fit / 1x | sampling (s) | min bulk ESS "
        "| ESS/s | divergences | fit peak (GiB) | forecast (s) |"
    )
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results, base_fit = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for k in [int(s) for s in args.sizes.split(",")]:
            n_cells, path = CELLS_1X * k, str(Path(tmp) / f"panel_{k}.nc")
            pan = _run_child(["--child-panel", str(n_cells), str(args.quiet), path])
            if pan is None:
                continue
            modes = ["1", "0"] if args.plain and k <= 10 else ["1"]
            for agg in modes:
                fit = _run_child(["--child-fit", path, agg, *map(str, budget)])
                if fit is None:
                    continue
                base_fit = base_fit or fit["fit_s"]
                merged = "yes" if agg == "1" else "no"
                print(_row(f"{k}x", n_cells, merged, pan, fit, base_fit), flush=True)
                results.append((f"{k}x", n_cells, merged, pan, fit))
    if not results:
        return 1
    print()
    _what_breaks(results, budget[0] * budget[2])
    print("Targets: the 100x fit ≤ 30 min and ≤ 8 GB on 2 cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What one gradient costs as the panel grows, alone and with two chains side by side.

For the panel sizes of ``bench_scaling.py`` (1x, 4x, 10x the shipped rows), compiles the model's
log density and gradient (PyTensor, the Numba backend NUTS uses) and times it at the initial
point: in one process alone, then in two processes at the same time (what two chains on two
cores do), each with one BLAS thread as ``model.inference.sampling.fit`` samples; and two at once
with the BLAS library's own thread count, as the fit sampled before it limited BLAS (the gradient's
matrix product then spreads over every core, and the two chains fight for them). Compiled with
strict math, as the fit compiles (``model.numerics.strict_float_math``), and once more alone
with PyTensor's default fast-math, for what strict math costs. The first column shows how the
per-gradient cost grows with rows, the ratios what running chains side by side costs. Prints a
table; asserts nothing.

Usage: ``python benchmarks/bench_gradient.py [--calls N]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_scaling import SIZES  # noqa: E402


def child(
    countries: int, per_country: int, periods: int, calls: int, blas_default: bool, fast_math: bool
) -> dict:
    from contextlib import nullcontext

    import pytensor

    from clashcast_testing.simulate import simulate_panel
    from model.config import read_params
    from model.inference.clash_model import build_clash_model, make_design
    from model.numerics import single_threaded_blas, strict_float_math

    params = read_params(ROOT / "params.yaml")
    features = list(params.model.features)
    panel = simulate_panel(countries, per_country, periods, features, seed=7)
    design = make_design(panel, features, params.model.horizon, burn_in=params.model.burn_in)
    pm_model = build_clash_model(
        design, params.model.priors, parameterisation=params.model.parameterisation
    )
    logp = pm_model.logp()
    point = pm_model.initial_point()
    args = [point[v.name] for v in pm_model.value_vars]
    with nullcontext() if fast_math else strict_float_math():
        fn = pytensor.function(
            pm_model.value_vars, [logp, *pytensor.grad(logp, pm_model.value_vars)], mode="NUMBA"
        )
        fn(*args)
    with nullcontext() if blas_default else single_threaded_blas():
        fn(*args)
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        ms = (time.perf_counter() - t0) / calls * 1e3
    return {"rows": design.n_obs, "ms": ms}


def measure(
    size: tuple, calls: int, at_once: int, blas_default: bool = False, fast_math: bool = False
) -> list[dict]:
    _, countries, per_country, periods = size
    cmd = [sys.executable, __file__, "--child", str(countries), str(per_country), str(periods)]
    cmd += ["--calls", str(calls)] + (["--blas-default"] if blas_default else [])
    cmd += ["--fast-math"] if fast_math else []
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(at_once)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        line = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            raise RuntimeError(f"gradient timing failed for {size[0]} (exit {proc.returncode})")
        out.append(json.loads(line[0][7:]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, type=int)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--blas-default", action="store_true")
    parser.add_argument("--fast-math", action="store_true")
    args = parser.parse_args()
    if args.child:
        result = child(*args.child, args.calls, args.blas_default, args.fast_math)
        print("RESULT " + json.dumps(result))
        return 0
    rows = []
    for size in SIZES:
        alone = measure(size, args.calls, 1)[0]
        pair = measure(size, args.calls, 2)
        pair_default = measure(size, args.calls, 2, blas_default=True)
        fast = measure(size, args.calls, 1, fast_math=True)[0]
        rows.append(
            (
                size[0],
                alone["rows"],
                alone["ms"],
                sum(p["ms"] for p in pair) / 2,
                sum(p["ms"] for p in pair_default) / 2,
                fast["ms"],
            )
        )
    base_rows, base_ms = rows[0][1], rows[0][2]
    print(
        f"log density + gradient at the initial point, mean of {args.calls} calls (Numba, "
        "strict math unless said)."
    )
    print()
    print(
        "| size | rows | alone (ms) | alone / 1x | two at once (ms each) | two at once / alone "
        "| two at once, BLAS threads not limited (ms each) | that / alone "
        "| alone, fast-math (ms) | strict / fast-math |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, n, ms, ms2, ms2d, msf in rows:
        print(
            f"| {label} ({n / base_rows:.1f}x rows) | {n:,} | {ms:.2f} | {ms / base_ms:.1f} "
            f"| {ms2:.2f} | {ms2 / ms:.1f} | {ms2d:.2f} | {ms2d / ms:.1f} "
            f"| {msf:.2f} | {ms / msf:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

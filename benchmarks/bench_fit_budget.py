"""The final fit's budget on the shipped data (issue 22, item 6): what it costs, what it buys.

The weekly update spends most of its time in the ``fit`` stage (``bench_weekly_update.txt``).
This measures what the main fit's budget (tuning steps and draws per chain) costs and what
cutting it gives up, on ``data/processed/panel.nc`` with the shipped params (``model.offset``
as the fit stage uses it, :func:`model.data.memory.effective_params`; ``runtime.cores``):

- ``(tune, draws)`` = (1000, 1000), the shipped default; (500, 1000); (1000, 500); (300, 500);
  (200, 1000) cold; and the default again with another seed (how far Monte Carlo noise alone
  moves the forecast);
- (200, 1000) warm-started from the default fit, as far as nutpie allows: it starts from the
  default's posterior mean (``pymc.Model.set_initval``; PyMC's initial point still adds its
  U(-1, 1) jitter on the unconstrained scale) with the default's final step size (nutpie's
  ``initial_step``, passed through ``pm.sample(nuts=...)``). nutpie 0.16 has no way to start
  from a previous mass matrix: its settings accept none (``store_mass_matrix`` only records
  it), and its ``init_mean`` argument is ignored for a model compiled from PyMC. So the warm
  start re-adapts the mass matrix from scratch; it is not faked here. PyMC will not compute
  the log-likelihood of a model with initial values set, so that row has no ``log-lik s``.

Each budget runs in a fresh child process, so compilation is counted as in the real stage.
Columns: ``wall s`` (design and model build, compilation and sampling), ``sampling s`` (nutpie's
sampling call alone), ``log-lik s`` (the pointwise log-likelihood the stage computes for
PSIS-LOO), min bulk and tail ESS, max R-hat, divergences, the diagnostics gate's verdict
(``model.inference.diagnostics.gate`` with params ``diagnostics``) and ``max abs dp``, the
largest difference over regions of next week's P(clash) at the forecast origin
(``model.inference.forecast.forecast_draws``, as the forecast stage computes it) from the
default fit's. Then, unless ``--no-stage``, the fit stage itself (``clashcast fit`` in a
temporary project), with the shares of its main fit and of its refit of the model with the
proximity block (``diagnostics.json`` proximity, at the LOO variants' budget). Closing line:
the cheapest budget that passes the gate and stays within 0.005 of the default's forecasts,
and its wall time as a share of the default's. Targets: none set; prints figures only,
asserts nothing.

Usage: ``python benchmarks/bench_fit_budget.py [--no-stage]``
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (label, tune, draws, seed offset, warm start from the default's fit)
BUDGETS = (
    ("default", 1000, 1000, 0, False),
    ("default, other seed", 1000, 1000, 1, False),
    ("tune 500", 500, 1000, 0, False),
    ("draws 500", 1000, 500, 0, False),
    ("tune 300, draws 500", 300, 500, 0, False),
    ("tune 200 cold", 200, 1000, 0, False),
    ("tune 200 warm", 200, 1000, 0, True),
)
#: The forecast may move this much (P(clash), any region, next week) from the default's.
TOLERANCE = 0.005


def _setup() -> tuple[Any, Any]:
    """The params as the fit stage uses them, and the shipped panel."""
    from model.config import read_params
    from model.data.memory import effective_params
    from model.readers import read_panel

    params = effective_params(read_params(ROOT / "params.yaml"), ROOT)
    return params, read_panel(ROOT)


def _warm_start(pm_model: Any, warm: dict[str, Any]) -> dict[str, Any]:
    """Start ``pm_model`` at the default fit's posterior mean; nutpie's options that start the
    step size at the default's final one."""
    for name, value in warm["mean"].items():
        pm_model.set_initval(pm_model[name], value)
    return {"initial_step": warm["step_size"]}


def _next_week(idata: Any, panel: Any, origin: object | None) -> dict[str, float]:
    """P(clash) next week per region at the forecast origin, the block effect integrated out."""
    from model.inference.forecast import forecast_draws

    p = forecast_draws(idata, panel, origin).isel(horizon=0).mean("draw")
    return {str(r): float(v) for r, v in zip(p["region"].values, p.values, strict=True)}


def _fit_figures(idata: Any, params: Any) -> dict[str, Any]:
    """The convergence figures, the gate's verdict and what a warm start reuses."""
    from model.inference import diagnostics as diag

    summary = diag.sampling_summary(idata)
    post = idata["posterior"].to_dataset()
    step = idata["sample_stats"]["step_size"].isel(draw=-1).median().item()
    return {
        "ess_bulk_min": summary["ess_bulk_min"],
        "ess_tail_min": summary["ess_tail_min"],
        "r_hat_max": summary["r_hat_max"],
        "divergences": summary["divergences"],
        "failed": diag.gate(summary, params.diagnostics),
        "mean": {v: float(post[v].mean()) for v in post.data_vars if post[v].ndim == 2},
        "step_size": float(step),
    }


def child(tune: int, draws: int, seed_offset: int, warm: Path | None) -> dict[str, Any]:
    """One fit of the shipped model at this budget, timed as the fit stage runs it."""
    from model.inference.clash_model import design_from_params, model_from_params
    from model.inference.sampling import fit_with_params

    params, panel = _setup()
    fp = params.fit
    t0 = time.perf_counter()
    pm_model = model_from_params(design_from_params(panel, params.model), params.model)
    built = time.perf_counter() - t0
    nuts = _warm_start(pm_model, json.loads(warm.read_text())) if warm else None
    t1 = time.perf_counter()
    # PyMC cannot compute the log-likelihood of a model with initial values set.
    idata = fit_with_params(
        pm_model, fp, params.runtime, tune=tune, draws=draws, seed=fp.seed + seed_offset,
        progressbar=False, nuts_kwargs=nuts, log_likelihood=warm is None,
    )  # fmt: skip
    fitted = time.perf_counter() - t1
    sample_call = idata.attrs["sampling_seconds"]
    return {
        "wall_s": built + sample_call,
        "sampling_s": float(idata["posterior"].attrs.get("sampling_time", float("nan"))),
        "loglik_s": fitted - sample_call if warm is None else float("nan"),
        **_fit_figures(idata, params),
        "p": _next_week(idata, panel, params.forecast.origin),
    }


def _spawn(args: list[str], out: Path) -> dict[str, Any]:
    """Run this script as a child (``--child ...``) and read the JSON it writes."""
    cmd = [sys.executable, __file__, *args, "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(out.read_text())


def run_budgets(tmp: Path) -> list[dict[str, Any]]:
    """Every budget in :data:`BUDGETS`, each in its own process, in order."""
    rows = []
    default = tmp / "default.json"
    for label, tune, draws, seed_offset, warm in BUDGETS:
        out = default if label == "default" else tmp / f"budget{len(rows)}.json"
        args = ["--child", str(tune), str(draws), str(seed_offset)]
        if warm:
            args += ["--warm", str(default)]
        res = _spawn(args, out)
        rows.append({"label": label, "tune": tune, "draws": draws, **res})
        took = res.get("error") or f"{res['wall_s']:.1f} s"
        print(f"{label}: {took}", file=sys.stderr, flush=True)
    return rows


def _with_differences(rows: list[dict[str, Any]]) -> None:
    """Add ``dp``: max |Δp| over regions against the default's forecast."""
    base = rows[0].get("p", {})
    for r in rows:
        if "p" in r and base:
            r["dp"] = max(abs(r["p"][k] - base[k]) for k in base)


def _verdict(r: dict[str, Any]) -> str:
    return "fail: " + "; ".join(r["failed"]) if r["failed"] else "pass"


def _num(x: float) -> str:
    return "—" if x != x else f"{x:.1f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the budgets."""
    lines = [
        "| budget | tune | draws | wall s | sampling s | log-lik s | min bulk ESS | "
        "min tail ESS | max R-hat | divergences | gate | max abs dp |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        head = f"| {r['label']} | {r['tune']} | {r['draws']} |"
        if "error" in r:
            lines.append(f"{head} failed: {r['error']} |" + " |" * 8)
            continue
        lines.append(
            f"{head} {r['wall_s']:.1f} | {r['sampling_s']:.1f} | {_num(r['loglik_s'])} | "
            f"{r['ess_bulk_min']:.0f} | {r['ess_tail_min']:.0f} | {r['r_hat_max']:.4f} | "
            f"{r['divergences']} | {_verdict(r)} | {r.get('dp', float('nan')):.4f} |"
        )
    return "\n".join(lines)


def closing(rows: list[dict[str, Any]]) -> str:
    """The cheapest budget that passes the gate within :data:`TOLERANCE` of the default."""
    if "error" in rows[0]:
        return "the default fit failed: nothing to compare with"
    ok = [r for r in rows if "error" not in r and not r["failed"] and r["dp"] <= TOLERANCE]
    if not ok:
        return f"no budget passes the gate within {TOLERANCE} of the default's forecasts"
    best = min(ok, key=lambda r: r["wall_s"])
    share = best["wall_s"] / rows[0]["wall_s"]
    return (
        f"cheapest budget that passes the gate within {TOLERANCE} of the default's forecasts: "
        f"{best['label']} (tune {best['tune']}, draws {best['draws']}), {best['wall_s']:.1f} s, "
        f"{share:.0%} of the default's {rows[0]['wall_s']:.1f} s"
    )


def _stage_project(dest: Path) -> Path:
    """A project holding what the fit stage reads: the panel, the memory the backtest chose,
    and params without a progress bar; its outputs stay in ``dest``."""
    import yaml

    from model.paths import MEMORY, PANEL

    for rel in (PANEL, MEMORY):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["runtime"]["progressbar"] = False
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def _clock(log: str, marker: str) -> float | None:
    """Seconds since midnight of the first log line holding ``marker`` (the CLI's HH:MM:SS)."""
    for line in log.splitlines():
        if marker in line:
            h, m, sec = line.split(" ", 1)[0].split(":")
            return 3600 * int(h) + 60 * int(m) + int(sec)
    return None


def run_stage(tmp: Path) -> dict[str, Any]:
    """The fit stage as ``dvc repro`` runs it (``clashcast fit`` in a process of its own), timed
    whole and, from its log's clock (whole seconds), its main fit (sampling to the gate) and
    its refit with the proximity block."""
    root = _stage_project(tmp / "stage")
    cmd = [sys.executable, "-m", "model.cli", "--params", str(root / "params.yaml"),
           "--root", str(root), "fit"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    events = (" chains of ", "INFO gate ", "proximity block: refitting", "proximity block: PSIS")
    marks = [_clock(proc.stderr, m) for m in events]
    parts = {"seconds": seconds}
    if None not in marks[:2]:
        parts["main"] = marks[1] - marks[0]
    if None not in marks[2:]:
        parts["proximity"] = marks[3] - marks[2]
    return parts


def _stage_share(stage: dict[str, Any], fp: Any) -> str:
    """The main fit's and the proximity refit's shares of the fit stage."""
    if "error" in stage:
        return f"fit stage failed: {stage['error']}"
    total = stage["seconds"]
    out = f"the fit stage (clashcast fit, default budget, own process): {total:.0f} s"
    if "main" in stage:
        main = stage["main"]
        out += f"; its main fit (sampling to the gate) {main:.0f} s ({main / total:.0%})"
    if "proximity" in stage:
        from model.stages.fit import variant_draws

        n = variant_draws(fp)
        out += (
            f"; its refit with the proximity block ({n} draws, {max(fp.tune // 4, 200)} tune, for "
            f"diagnostics.json proximity) {stage['proximity']:.0f} s "
            f"({stage['proximity'] / total:.0%})"
        )
    if "main" in stage and "proximity" in stage:
        rest = total - stage["main"] - stage["proximity"]
        out += f"; the rest (imports, prior predictive, PSIS-LOO, figures, writing) {rest:.0f} s"
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-stage", action="store_true", help="skip the run of the fit stage")
    ap.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--warm", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.out.write_text(json.dumps(child(*args.child, args.warm)))
        return 0
    params, _ = _setup()
    fp = params.fit
    merged = getattr(params.model, "aggregate_blocks", None)  # a setting newer than this script
    print(
        f"data: data/processed/panel.nc; offset {params.model.offset}; {fp.sampler}, "
        f"{fp.chains} chains, target_accept {fp.target_accept}, low-rank mass matrix "
        f"{fp.low_rank_mass_matrix}, {params.runtime.cores} cores; each fit in a fresh process"
        + ("" if merged is None else f"; model.aggregate_blocks {merged}")
    )
    with tempfile.TemporaryDirectory(prefix="bench_fit_budget_") as tmp:
        rows = run_budgets(Path(tmp))
        _with_differences(rows)
        print("\n" + table(rows) + "\n")
        print(
            "warm start: the default's posterior mean (jittered by PyMC) and final step size "
            "(nutpie initial_step); no mass matrix: nutpie 0.16 cannot be given one"
        )
        if not args.no_stage:
            print(_stage_share(run_stage(Path(tmp)), fp))
        print(closing(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

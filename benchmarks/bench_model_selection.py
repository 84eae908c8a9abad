"""The dev-window table behind the shipped model: each variant's backtest on two wars' dev windows.

Every modelling choice is made on dev windows only (DESIGN §5); a choice that helps only one war
is suspect. This runs ``clashcast backtest`` with ``backtest.end`` before ``backtest.test_start``
(a dev-only run: no test origin is scored) for each variant below, on two dev windows of the
shipped UCDP GED file:

- **anti-IS war**: the governorate example, ``params/examples/ged_iraq_governorates.yaml`` (panel
  2008–2018), dev origins 2015-01-05 … 2016-12-26;
- **insurgency**: the same params on a panel of 2004–2012, dev origins 2008-01-07 … 2011-12-26.

Each run is in a temporary project (a copy of ``data/raw``, ingest and panel run there), so the
checkout is not touched. Prints one Markdown table per window: Brier and log-score skill of the
model against climatology and the EWMA rate (with the bootstrap interval of the first), weekly
ECE, and the same for "any clash within H". Weeks treated as independent are not a variant
here: every run scores the product of the model's weekly forecasts beside its "within H"
(``independent`` in ``within.parquet``). Asserts nothing.

The same table for the cell example (issue 21: the cells' own features, set until then, chosen
on the dev window): ``--params params.yaml --variants cells_shipped,
cells_no_pool,...`` (the ``cells_*`` variants drop one group of the example's features; ``--set
key=value`` overrides the base params of every variant, e.g. a sparser ``backtest.refit_every``
to fit the cost of a cell fold). ``--candidates`` adds, per variant, the dev window's 30 memory
candidates scored against the EWMA (how the cells' memory was chosen on both wars).

Usage: ``python benchmarks/bench_model_selection.py [--variants shipped,region_effects,...]
[--windows insurgency] [--params FILE] [--set key=value ...] [--candidates]``
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

ROOT = Path(__file__).resolve().parents[1]

from bench_backtest import GOVERNORATES, set_key  # noqa: E402  (this folder, on the path when run)

OLD_FEATURES = [
    "clash_decay_hl1",
    "clash_decay_hl4",
    "clash_decay_hl13",
    "clash_decay_hl52",
    "since_clash",
    "nbr_clash_decay_hl4",
    "event_decay_hl4",
    "prox_us_coalition__armed_group_near",
    "prox_us_coalition__armed_group_n_within",
]
#: name -> (what it is, params overrides: sections of params.yaml)
VARIANTS = {
    "shipped": ("level offset, block effect, no learned intercepts", {}),
    "level_prior_4": (
        "level pooled by 4 pseudo-weeks toward the long run (not 2)",
        {"panel": {"level_prior": 4}},
    ),
    "level_prior_8": ("… by 8 pseudo-weeks", {"panel": {"level_prior": 8}}),
    "level_hl4": (
        "level of the last weeks with half-life 4 (not 8)",
        {"model": {"offset": "clash_level_hl4"}},
    ),
    "level_hl13": ("… half-life 13", {"model": {"offset": "clash_level_hl13"}}),
    "region_effects": (
        "+ learned intercept and region effects",
        {"model": {"region_effects": True}},
    ),
    "share_offset": (
        "offset: one-level EWMA log-odds (clash_share_hl13)",
        {"model": {"offset": "clash_share_hl13"}},
    ),
    "features": (
        "+ neighbours, other violence, proximity",
        {
            "model": {
                "features": [
                    "nbr_clash_decay_hl4",
                    "event_decay_hl4",
                    "prox_us_coalition__armed_group_near",
                ]
            }
        },
    ),
    "before": (
        "no offset; region effects + the features of the model before (block design)",
        {"model": {"offset": None, "region_effects": True, "features": OLD_FEATURES}},
    ),
}
#: The cells' own features (issue 21) and the variants of the cell example
#: (params.yaml, cells, which the dev windows left with none): each drops one
#: group.
CELL_FEATURES = {
    "pool": ["pool_gov_hl52", "pool_country_hl52"],
    "rings": ["nbr_clash_decay_hl4", "ring2_clash_decay_hl4"],
    "gov": ["gov_clash_decay_hl4"],
}


def _cells_without(*groups: str) -> dict:
    kept = [f for g, fs in CELL_FEATURES.items() if g not in groups for f in fs]
    return {"model": {"features": kept}}


VARIANTS.update(
    {
        # The five cell features, the example's until the dev windows dropped them (the name
        # the results in benchmarks/results/ were measured under).
        "cells_shipped": (
            "cells: the five cell features (pooling, rings, governorate)",
            _cells_without(),
        ),
        "cells_no_pool": ("cells: without the pooling contrasts (pool_*)", _cells_without("pool")),
        "cells_no_rings": (
            "cells: without the first and second ring's clashes",
            _cells_without("rings"),
        ),
        "cells_no_gov": ("cells: without the governorate's clashes", _cells_without("gov")),
        "cells_long_level": (
            "cells: + the cell's long-run level (clash_level_hl52) as a feature",
            {
                "model": {
                    "features": [
                        *(f for fs in CELL_FEATURES.values() for f in fs),
                        "clash_level_hl52",
                    ]
                }
            },
        ),
        "cells_offset_only": (
            "cells: the level offset and block effect alone",
            {"model": {"features": []}},
        ),
        # The offset enters with coefficient 1. The same level as a feature gives it a learned
        # slope: a slope below 1 tempers a level that is too extreme (quiet cells too low, busy
        # cells too high, as the dev window's reliability on bins of equal expected clashes
        # shows). The offset is the memory grid's copy of clash_level_hl8 at 2 pseudo-weeks
        # (equal values), so that the feature may carry the panel's name; measured when that
        # was the cells' memory (2 pseudo-weeks, pinned here), before the dev windows chose 8.
        "cells_level_slope": (
            "cells: + the level's own slope (clash_level_hl8 as a feature beside its copy)",
            {
                "panel": {"level_prior": 2},
                "model": {"features": ["clash_level_hl8"], "offset": "clash_level_hl8_p2_l52"},
            },
        ),
    }
)
WINDOWS = {
    "anti-IS war (dev 2015-2016)": {
        "ingest": {"window": {"start": "2008-01-01", "end": "2018-12-31"}},
        "backtest": {"start": "2015-01-05", "end": "2016-12-26"},
    },
    "insurgency (dev 2008-2011)": {
        "ingest": {"window": {"start": "2004-01-01", "end": "2012-12-31"}},
        "backtest": {"start": "2008-01-07", "end": "2011-12-26"},
    },
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return out


def _clashcast(project: Path, stage: str) -> None:
    cmd = [sys.executable, "-m", "model.cli", "--params", str(project / "params.yaml")]
    proc = subprocess.run(
        [*cmd, "--root", str(project), stage], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} failed: {proc.stderr[-1500:]}")


def prepare(
    base: Path, window: dict, params_file: Path = GOVERNORATES, sets: tuple = ()
) -> tuple[Path, dict]:
    """A project with the window's panel built once; returns it and its params
    (``params_file`` with the window and the ``sets`` overrides, ``key=value``)."""
    shutil.copytree(ROOT / "data" / "raw", base / "data" / "raw")
    params = _merge(yaml.safe_load(params_file.read_text()), window)
    for assignment in sets:
        set_key(params, assignment)
    params.setdefault("runtime", {})["fold_cache"] = None  # each variant's folds computed, timed
    (base / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("ingest", "panel"):
        _clashcast(base, stage)
    return base, params


def run_variant(project: Path, params: dict, overrides: dict) -> tuple[dict, float]:
    """The variant's dev-only backtest (its panel rebuilt when it changes panel params)."""
    variant = _merge(params, overrides)
    (project / "params.yaml").write_text(yaml.safe_dump(variant, sort_keys=False))
    t0 = time.perf_counter()
    if "panel" in overrides:
        _clashcast(project, "panel")
    _clashcast(project, "backtest")
    if "panel" in overrides:
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        _clashcast(project, "panel")
    took = time.perf_counter() - t0
    metrics = json.loads((project / "reports/metrics/backtest.json").read_text())
    return metrics["windows"]["dev"], took


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:+.1f}%"


def row(name: str, w: dict, took: float) -> str:
    sk, wh = w["skill"], w["within_h"]
    clim = sk["climatology"]["brier"]
    return (
        f"| {name} | {_pct(clim['mean'])} [{_pct(clim['ci_low'])}, {_pct(clim['ci_high'])}] "
        f"| {_pct(sk['climatology']['log_score']['mean'])} | {_pct(sk['ewma']['brier']['mean'])} "
        f"| {_pct(sk['ewma']['log_score']['mean'])} | {w['model']['ece']:.3f} "
        f"| {_pct(wh['skill']['climatology']['brier']['mean'])} "
        f"| {_pct(wh['skill']['ewma']['brier']['mean'])} | {wh['model']['ece']:.3f} "
        f"| {took:.0f} |"
    )


HEADER = (
    "| variant | Brier skill vs clim. [90%] | log vs clim. | Brier vs EWMA | log vs EWMA "
    "| ECE | within-H Brier vs clim. | within-H vs EWMA | within-H ECE | s |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def candidate_table(project: Path, params: dict) -> str:
    """The dev window's memory candidates of the last run (``candidates.parquet``), each scored
    on the same rows against the run's EWMA: Brier and log-score skill and weekly ECE (the run's
    bins), best Brier first. Each candidate is forecast with the reference's posterior
    (:mod:`model.backtesting.memory`), as the pipeline's choice scores them."""
    import pandas as pd

    from model.backtesting.memory import dev_scores

    bt = params["backtest"]
    keys = ["origin", "region", "horizon"]
    steps = pd.read_parquet(project / "data/backtest/predictions.parquet")
    cand = pd.read_parquet(project / "data/backtest/candidates.parquet")
    rows = steps[[*keys, "y", "ewma"]].merge(cand, on=keys, validate="one_to_one")
    y = rows["y"].to_numpy(float)

    def scores(column: str) -> dict[str, float]:
        return dev_scores(rows[column].to_numpy(), y, bt["calibration_bins"],
                          bt["calibration_binning"])  # fmt: skip

    base = scores("ewma")
    lines = []
    for name in (c for c in cand.columns if c not in keys):
        s = scores(name)
        brier, log = (1 - s[k] / base[k] for k in ("brier", "log_score"))
        cells = f"{100 * brier:+.2f}% | {100 * log:+.2f}% | {s['ece']:.4f}"
        lines.append((-brier, f"| `{name}` | {cells} |"))
    head = "| memory (dev) | Brier vs EWMA | log vs EWMA | ECE |\n|---|---:|---:|---:|"
    return "\n".join([head, *(line for _, line in sorted(lines))])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--windows", default="", help="run only windows whose label contains this")
    ap.add_argument("--params", type=Path, default=GOVERNORATES, help="base params")
    ap.add_argument("--set", action="append", default=[], help="key=value on the base params")
    ap.add_argument(
        "--candidates", action="store_true", help="print each variant's dev memory candidates"
    )
    args = ap.parse_args()
    names = args.variants.split(",")
    for label, window in WINDOWS.items():
        if args.windows not in label:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            project, params = prepare(Path(tmp), window, args.params.resolve(), args.set)
            base = args.params.resolve().relative_to(ROOT)
            sets = "".join(f" `{s}`" for s in args.set)
            print(f"**{label}** ({base}{sets})\n\n{HEADER}", flush=True)
            rolled, tables = [], []
            for name in names:
                what, overrides = VARIANTS[name]
                w, took = run_variant(project, params, overrides)
                print(row(f"`{name}`: {what}", w, took), flush=True)
                if args.candidates:
                    tables.append(f"`{name}`:\n\n{candidate_table(project, params)}\n")
                if w.get("rollup") is not None:  # a cell run: its governorate roll-up
                    r = w["rollup"]
                    rolled.append(
                        f"- `{name}`: roll-up within-H Brier {r['model']['brier']:.4f}, skill vs "
                        f"the governorate EWMA {_pct(r['skill']['ewma']['brier']['mean'])}, "
                        f"ECE {r['model']['ece']:.3f}"
                    )
            first = w
            print(
                f"\n{first['origins']} origins {first['first_origin']} … {first['last_origin']}, "
                f"prevalence {first['prevalence']:.3f} weekly, "
                f"{first['within_h']['prevalence']:.3f} within H\n"
            )
            if rolled:
                print("\n".join(rolled) + "\n", flush=True)
            if tables:
                print("\n".join(tables), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a cell run's governorate roll-up goes wrong, and what each split of the border cells does
to it (issue 21): read back from a finished cell run, nothing refitted.

A cell a border cuts counts in each governorate by a share of its hazard
(:func:`model.inference.rollup.split_weights`): its area there, or where its clashes fell up to
the origin shrunk toward the area by a pseudo-count. The backtest stage chooses the pseudo-count
on the dev window from the posterior's draws; this script recomputes the roll-up of every
candidate from the run's own rows (each cell's mean forecast within H in
``data/backtest/within.parquet``, so ``1 − Π_c (1 − p_c)^W``: the mean over draws of the stage's
roll-up differs from it by Jensen's gap, about 0.0001 in Brier score here) and prints

- per window and candidate: the roll-up's within-H Brier score, beside the governorate model's
  on the same outcome when ``--governorates`` names that run (``bench_cells.py --keep DIR``
  keeps both: ``DIR/cells``, ``DIR/governorates``);
- per governorate, on the dev window: the roll-up's mean forecast and Brier score with area
  shares and with the chosen split, the rate observed, and the governorate model's Brier score;
  the governorates where the area split loses most first;
- the border cells with the most clashes: each governorate's share of the cell's area beside
  its share of the cell's clashes.

Usage: ``python benchmarks/bench_rollup_split.py --cells DIR/cells [--governorates
DIR/governorates]``. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.backtesting.backtest import outcomes_after  # noqa: E402
from model.inference import rollup as ru  # noqa: E402


def rollup_rows(project: Path, horizon: int) -> pd.DataFrame:
    """Every origin's roll-up under each candidate split, with the outcome: ``origin, region,
    split, p, y``."""
    panel = xr.open_dataset(project / "data/processed/panel.nc").load()
    within = pd.read_parquet(project / "data/backtest/within.parquet")
    govs = ru.rollup_panel(panel)
    cells = panel["rollup_weight"]["region"].values
    rows = []
    for origin, part in within.groupby("origin"):
        p = part.set_index("region")["model"].reindex(cells).to_numpy()
        none = (1.0 - p)[:, None, None]
        y = outcomes_after(govs, origin, horizon).max("horizon")
        for prior in ru.SPLIT_PRIORS:
            w = ru.split_weights(panel, origin, prior).sel(region=cells)
            rows.append(
                pd.DataFrame(
                    {
                        "origin": origin,
                        "region": w["rollup"].values,
                        "split": ru.split_label(prior),
                        "p": ru.rollup(none, w.values)[:, 0, 0],
                        "y": y.sel(region=w["rollup"].values).values,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def border_cells(project: Path, n: int = 8) -> str:
    """The ``n`` border cells with the most clashes over the whole panel: each governorate's
    share of the cell's area beside its share of the cell's clashes."""
    panel = xr.open_dataset(project / "data/processed/panel.nc")
    area = panel["rollup_weight"].transpose("rollup", "region").to_pandas()
    clashes = panel["rollup_clash"].sum("period").transpose("rollup", "region").to_pandas()
    split = area.columns[(area > 0).sum() > 1]
    busiest = clashes[split].sum().sort_values(ascending=False).index[:n]
    lines = []
    for cell in busiest:
        total = int(clashes[cell].sum())
        parts = [
            f"{g} {area.loc[g, cell]:.0%} of area, {int(clashes.loc[g, cell])} clashes"
            for g in area.index
            if area.loc[g, cell] > 0 or clashes.loc[g, cell] > 0
        ]
        gid = int(panel["gid"].sel(region=cell))
        lines.append(f"- {cell} (gid {gid}, {total} clashes): " + "; ".join(parts))
    return "\n".join(lines)


def windows_of(project: Path) -> dict[str, tuple[str, str]]:
    b = json.loads((project / "reports/metrics/backtest.json").read_text())
    return {k: (w["first_origin"], w["last_origin"]) for k, w in b["windows"].items()}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=Path, required=True, help="a finished cell run's project")
    ap.add_argument("--governorates", type=Path, help="the governorate model's run on it")
    args = ap.parse_args(argv)
    report(args.cells, args.governorates)
    return 0


def report(cells: Path, governorates: Path | None = None) -> None:
    """Print the tables of the module docstring for the cell run in ``cells``."""
    backtest = json.loads((cells / "reports/metrics/backtest.json").read_text())
    rows = rollup_rows(cells, int(backtest["horizon"]))
    gov = None
    if governorates is not None:
        g = pd.read_parquet(governorates / "data/backtest/within.parquet")
        gov = g[["origin", "region", "model"]].rename(columns={"model": "governorate_model"})
        rows = rows.merge(gov, on=["origin", "region"], how="left")
    rows["brier"] = (rows["p"] - rows["y"]) ** 2
    chosen = backtest.get("rollup_split", {}).get("chosen", "area")
    spans = windows_of(cells)
    print(f"split chosen by the backtest stage on the dev window: {chosen}")
    labels = " | ".join(ru.split_label(k) for k in ru.SPLIT_PRIORS)
    print(f"| window | {labels} | governorate model |")
    print("|---|" + "---:|" * (len(ru.SPLIT_PRIORS) + 1))
    for name, (lo, hi) in spans.items():
        part = rows[(rows["origin"] >= lo) & (rows["origin"] <= hi)]
        by = part.groupby("split")["brier"].mean()
        g = "–"
        if gov is not None:
            first = part[part["split"] == "area"]
            g = f"{((first['governorate_model'] - first['y']) ** 2).mean():.4f}"
        scores = " | ".join(f"{by[ru.split_label(k)]:.4f}" for k in ru.SPLIT_PRIORS)
        print(f"| {name} | {scores} | {g} |")
    lo, hi = spans["dev"]
    dev = rows[(rows["origin"] >= lo) & (rows["origin"] <= hi)]
    # Area shares beside the chosen split (or, when area was chosen, the best other on dev).
    other = chosen
    if chosen == "area":
        other = dev[dev["split"] != "area"].groupby("split")["brier"].mean().idxmin()
    by = {k: dev[dev["split"] == k].groupby("region") for k in ("area", other)}
    out = pd.DataFrame(
        {
            "forecast, area": by["area"]["p"].mean(),
            f"forecast, {other}": by[other]["p"].mean(),
            "observed": by["area"]["y"].mean(),
            "Brier, area": by["area"]["brier"].mean(),
            f"Brier, {other}": by[other]["brier"].mean(),
        }
    )
    if gov is not None:
        first = dev[dev["split"] == "area"]
        out["Brier, governorate model"] = (
            ((first["governorate_model"] - first["y"]) ** 2).groupby(first["region"]).mean()
        )
    out = out.loc[(out["Brier, area"] - out[f"Brier, {other}"]).sort_values(ascending=False).index]
    print(f"\ndev window {lo} … {hi}, per governorate (mean over origins):\n")
    print(out.round(3).to_markdown())
    print("\nThe border cells with the most clashes (the whole panel):\n")
    print(border_cells(cells))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`dvc plots show` draws every plot of dvc.yaml with data: the files the backtest writes have the
columns the plots name, and dates go on a time axis (a date on a quantitative axis drew nothing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from conftest import ROOT

from model import paths
from model.backtesting import evaluation as ev
from model.backtesting.scoring import reliability_table

from .test_evaluation import fake_rows

DVC = Path(sys.executable).with_name("dvc")
BACKTEST_PLOTS = {
    p.as_posix() for p in (paths.BACKTEST_SCORES, paths.RELIABILITY, paths.RELIABILITY_WITHIN)
}
PLOTS = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]


def _write_backtest_plots(root: Path) -> None:
    """The three CSV files, as the backtest stage writes them, from fake predictions."""
    pred, within, windows = fake_rows()
    (root / paths.BACKTEST_SCORES).parent.mkdir(parents=True)
    ev.scores_by_origin(pred, windows, within).to_csv(root / paths.BACKTEST_SCORES, index=False)
    reliability_table(pred, 5).to_csv(root / paths.RELIABILITY, index=False)
    reliability_table(within, 5).to_csv(root / paths.RELIABILITY_WITHIN, index=False)


def test_every_plot_has_data(tmp_path: Path) -> None:
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copytree(ROOT / ".dvc" / "plots", tmp_path / ".dvc" / "plots", dirs_exist_ok=True)
    _write_backtest_plots(tmp_path)
    out = subprocess.run(
        [DVC, "plots", "show", "--json"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    shown = json.loads(out.stdout)["data"]
    for definition in PLOTS:
        (title, spec), = definition.items()  # fmt: skip
        (filename, fields), = spec["y"].items()  # fmt: skip
        fields = [fields] if isinstance(fields, str) else fields
        assert filename in BACKTEST_PLOTS, f"{title}: {filename} is not a file the backtest writes"
        assert title in shown, f"{title}: not drawn"
        content = shown[title][0]["content"]
        points = _datapoints(content)
        drawn = {p.get("field", fields[0]) for p in points}
        assert set(fields) <= drawn, f"{title}: no data for {set(fields) - drawn}"
        if spec["x"] == "origin":
            assert '"type": "temporal"' in json.dumps(content["encoding"]["x"])
            assert pd.to_datetime([p["origin"] for p in points]).notna().all()


def _datapoints(spec: dict) -> list[dict]:
    """The data values of a vega-lite spec, wherever a layer keeps them (the diagonal of the
    reliability diagram has its own two points, which do not count)."""
    found = []
    if isinstance(spec.get("data", {}).get("values"), list):
        values = spec["data"]["values"]
        if values and "rev" in values[0]:
            found += values
    for layer in spec.get("layer", []):
        found += _datapoints(layer)
    return found

"""Plain words beside a scenario whose effect the data do not make clear, and the block's worth."""

from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from model.backtesting import evaluation as ev
from model.config import ScenarioChange
from model.diagnostics_results import ProximityLoo
from model.reporting.report_proximity import evidence_rows, scenario_notes, worth
from model.results import Interval, ProximityWorth

from .test_evaluation import fake_rows

NEAR = "prox_a__b_near"


def _loo(diff: float, se: float, clear: bool) -> ProximityLoo:
    """``diagnostics.json``'s ``proximity``: only the difference, its SE and clarity matter."""
    return ProximityLoo(diff, se, clear, -100.0, -100.0 - diff, (NEAR,), "with", 200)


def _post(mean: float) -> xr.Dataset:
    draws = np.random.default_rng(0).normal(mean, 0.1, (2, 200, 1))
    beta = xr.DataArray(draws, dims=("chain", "draw", "feature"), coords={"feature": [NEAR]})
    return xr.Dataset({"beta_mu": beta})


def _rows(lo: float, hi: float) -> pd.DataFrame:
    return pd.DataFrame({"diff_q05": [lo, 0.01], "diff_q95": [hi, 0.05]})


def test_a_clear_scenario_carries_no_note_and_an_unclear_one_says_why():
    change = [ScenarioChange(feature="prox_a__b_km", set=10)]
    clear_loo = worth(_loo(12.0, 3.0, True), {})
    assert scenario_notes(_rows(0.01, 0.04), change, _post(0.8), clear_loo) == []
    vague_loo = worth(_loo(-1.0, 3.9, False), {})
    notes = scenario_notes(_rows(-0.02, 0.04), change, _post(0.05), vague_loo)
    assert len(notes) == 3
    assert "spans zero" in notes[0]
    assert NEAR in notes[1] and "per SD" in notes[1]  # a distance moves its nearness
    assert "-1.0" in notes[2] and "SE 3.9" in notes[2]


def test_a_scenario_that_moves_nothing_the_model_uses_says_so():
    """Baseline and scenario share the draws, so an ineffective change is exactly zero (a
    proximity indicator when the model's features are empty)."""
    change = [ScenarioChange(feature="prox_a__b_km", set=10)]
    zero = _rows(0.0, 0.0).assign(diff_q05=0.0, diff_q95=0.0)
    notes = scenario_notes(zero, change, xr.Dataset(), worth(_loo(-3.5, 1.25, True), {}))
    assert notes == [
        "This scenario moves nothing the model uses (its features and offset), so it changes "
        "no forecast: every difference is exactly zero."
    ]
    # and the block's PSIS-LOO, when it is not clear, is still said beside it
    vague = scenario_notes(zero, change, xr.Dataset(), worth(_loo(-0.8, 3.9, False), {}))
    assert len(vague) == 2 and "SE 3.9" in vague[1]
    assert "moves nothing" not in " ".join(
        scenario_notes(_rows(0.0, 0.0), change, _post(0.8), None)
    )


def test_worth_says_the_backtest_interval_and_none_without_a_block():
    assert worth(None, {}) is None
    scored = ev.backtest_metrics(*fake_rows(), bins=5, n_boot=20, block=2).windows["test"]
    proximity = ProximityWorth(
        "climatology", 60, Interval(0.001, -0.002, 0.004), 0.2, 0.2,
        Interval(-0.01, -0.02, 0.0), 0.6, 0.6, refit_every=52,
    )  # fmt: skip
    window = replace(scored, origins=104, proximity=proximity)
    out = worth(None, {"test": window})
    assert out["test"]["brier"] == "+0.10% (-0.20% to +0.40%)"
    assert not out["test"]["decisive"] and out["dev"] is None and out["loo"] is None
    assert out["refit_every"] == 52


def test_evidence_rows_keep_the_regions_order_and_the_closest_per_kind():
    ev = pd.DataFrame(
        {
            "region": ["B", "A", "A", "A", "A"],
            "kind": ["event", "event", "event", "position", "event"],
            "date": ["2020-01-01"] * 5,
            "name": ["", "", "", "Base", ""],
            "actor1": ["x", "y", "z", "", "w"],
            "actor2": ["c"] * 5,
            "category": ["os", "os", "sb", "base", "os"],
            "distance_km": [5.0, 30.0, 10.0, 7.0, np.nan],
            "nearest": ["n"] * 5,
        }
    )
    rows = evidence_rows(ev, ["A", "B"], per_kind=2)
    assert [(r["region"], r["kind"], r["km"]) for r in rows] == [
        ("A", "event", "10"),
        ("A", "event", "30"),
        ("A", "position", "7"),
        ("B", "event", "5"),
    ]
    assert rows[2]["what"] == "Base" and rows[0]["what"] == "z – c"

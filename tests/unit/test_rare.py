"""Simulated rare-dyad panels (clashcast_testing.rare): the prevalence asked for, a level that
persists for the time scale asked for, and the layout the backtest's memory selection reads."""

import json

import numpy as np

from clashcast_testing.rare import RareTruth, simulate_rare_panel
from model.backtesting import memory as sel
from model.config import MemoryParams, ModelParams
from model.data.memory import candidates
from model.data.panel_facts import PanelFacts

GRID = MemoryParams(level_half_lives=[4, 26], level_priors=[2], long_half_lives=[52])


def test_the_prevalence_is_the_one_asked_for() -> None:
    for prevalence in (0.005, 0.03):
        panel = simulate_rare_panel(40, 416, RareTruth(prevalence=prevalence), GRID, seed=2)
        realised = json.loads(panel.attrs["simulation_truth"])["realised_prevalence"]
        assert abs(realised / prevalence - 1) < 0.25, realised
        assert float(panel["clash_any"].mean()) == realised


def _persistence(panel) -> float:
    """Correlation between a region's clash share in consecutive 26-week spans."""
    y = panel["clash_any"].values.astype(float)
    spans = y[:, : y.shape[1] // 26 * 26].reshape(y.shape[0], -1, 26).mean(axis=2)
    return float(np.corrcoef(spans[:, :-1].ravel(), spans[:, 1:].ravel())[0, 1])


def test_a_slow_level_persists_longer_than_a_fast_one() -> None:
    slow = simulate_rare_panel(60, 520, RareTruth(0.03, switch_periods=208), GRID, seed=4)
    fast = simulate_rare_panel(60, 520, RareTruth(0.03, switch_periods=4), GRID, seed=4)
    assert _persistence(slow) > _persistence(fast) + 0.1


def test_the_panel_is_what_the_memory_selection_reads() -> None:
    panel = simulate_rare_panel(5, 120, RareTruth(), GRID, seed=1)
    PanelFacts.from_attrs(panel)
    for c in candidates(GRID):
        y = panel["clash_any"].transpose("region", "period").values > 0
        np.testing.assert_array_equal(panel[c.name].values, c.logit(y))
    model = ModelParams(offset="clash_level_hl8", region_effects=False, priors={})
    plan = sel.plan(model, GRID, panel)
    assert plan.reference == "clash_level_hl8" and len(plan.names) == 3

"""Scenarios: a no-op is exactly zero, km changes go through derive_proximity, clash shifts."""

import numpy as np
import pytest

from clashcast_testing.simulate import fake_posterior, simulate_panel
from model.config import Scenario
from model.data.features import derive_proximity
from model.inference.clash_model import make_design
from model.inference.forecast import forecast_draws
from model.inference.scenarios import apply_scenario, run_scenarios

FEATURES = ["clash_decay_hl1", "clash_decay_hl4", "since_clash", "prox_a__b_near"]


@pytest.fixture(scope="module")
def setup():
    panel = simulate_panel(1, 4, 30, FEATURES, seed=11)
    design = make_design(panel, FEATURES, horizon=2, burn_in=2)
    return panel, fake_posterior(design, seed=3)


def scenario(changes, regions=("R00_01",)):
    return Scenario(name="s", description="d", regions=list(regions), changes=changes)


def test_no_change_gives_exactly_zero(setup):
    panel, idata = setup
    noop = scenario([{"feature": "since_clash", "shift": 0.0}], regions=["*"])
    df = run_scenarios(idata, panel, None, [noop], scale_km=50.0)
    assert len(df) == 4 * 2
    for col in ("diff_mean", "diff_q05", "diff_q95", "p_scenario_gt_baseline"):
        assert (df[col] == 0).all(), col
    np.testing.assert_array_equal(df["p_baseline_mean"], df["p_scenario_mean"])


def test_setting_a_distance_recomputes_near_and_absent(setup):
    panel, idata = setup
    changed = apply_scenario(panel, scenario([{"feature": "prox_a__b_km", "set": 10}]), None, 50.0)
    at = changed.isel(period=-1).sel(region="R00_01")
    near, absent = derive_proximity(np.array([10.0]), 50.0)
    assert float(at["prox_a__b_near"]) == pytest.approx(float(near[0]))
    assert float(at["prox_a__b_absent"]) == float(absent[0]) == 0.0
    other = changed.isel(period=-1).sel(region="R00_02")
    assert float(other["prox_a__b_near"]) == float(
        panel.isel(period=-1).sel(region="R00_02")["prox_a__b_near"]
    )
    df = run_scenarios(
        idata, panel, None, [scenario([{"feature": "prox_a__b_km", "set": 10}])], 50.0
    )
    assert set(df["region"]) == {"R00_01"}
    assert (df["diff_q05"] <= df["diff_mean"]).all() and (df["diff_mean"] <= df["diff_q95"]).all()


def test_shifting_clash_updates_count_decays_and_since(setup):
    panel, _ = setup
    changed = apply_scenario(panel, scenario([{"feature": "clash", "shift": 2}]), None, 50.0)
    before = panel.isel(period=-1).sel(region="R00_01")
    after = changed.isel(period=-1).sel(region="R00_01")
    assert int(after["clash"]) == int(before["clash"]) + 2 and int(after["clash_any"]) == 1
    for f in ("clash_decay_hl1", "clash_decay_hl4"):
        assert np.expm1(float(after[f])) == pytest.approx(np.expm1(float(before[f])) + 2)
    assert float(after["since_clash"]) == 0.0
    untouched = changed.isel(period=-2)
    np.testing.assert_array_equal(untouched["clash"].values, panel.isel(period=-2)["clash"].values)


def test_unknown_region_or_feature_is_refused(setup):
    panel, _ = setup
    with pytest.raises(ValueError, match="unknown regions"):
        apply_scenario(panel, scenario([{"feature": "clash", "shift": 1}], ["Atlantis"]), None, 50)
    with pytest.raises(ValueError, match="no variable"):
        apply_scenario(panel, scenario([{"feature": "nope", "set": 1}]), None, 50)


def test_scenario_draws_are_paired_with_the_baseline(setup):
    panel, idata = setup
    base = forecast_draws(idata, panel, None)
    sc = forecast_draws(
        idata, apply_scenario(panel, scenario([{"feature": "clash", "shift": 3}]), None, 50), None
    )
    untouched = [r for r in base["region"].values if r != "R00_01"]
    np.testing.assert_array_equal(
        base.sel(region=untouched).values, sc.sel(region=untouched).values
    )

"""Forecast draws from a fabricated posterior: shapes, the linear predictor, the block effect
integrated out, P(any within h) from the joint model, the CSV."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clashcast_testing.simulate import fake_posterior, simulate_panel
from model.inference.blocks import quadrature
from model.inference.clash_model import make_design
from model.inference.forecast import (
    block_effects,
    forecast_draws,
    independent_within,
    summarise,
    within_draws,
)
from model.readers import TABLES

FEATURES = ["clash_decay_hl1", "since_clash"]


@pytest.fixture(scope="module")
def setup():
    panel = simulate_panel(2, 3, 30, FEATURES, seed=7)
    design = make_design(panel, FEATURES, horizon=3, burn_in=2)
    return panel, design, fake_posterior(design, countries=True)


def test_draws_have_region_horizon_draw_and_match_the_formula(setup):
    panel, design, idata = setup
    origin = panel["period"].values[-1]
    p = forecast_draws(idata, panel, None)
    assert p.dims == ("region", "horizon", "draw")
    assert p.sizes == {"region": 6, "horizon": 3, "draw": 100}
    assert p.attrs["origin"] == str(pd.Timestamp(origin).date())
    assert (p["period_start"].values[0] - origin) == np.timedelta64(7, "D")
    post = idata["posterior"].to_dataset().isel(chain=1, draw=4)
    r, h = 4, 2  # region R01_01 (country 1), step 3
    x = np.array([panel[f].values[r, -1] for f in FEATURES])
    z = (x - design.x_mean) / design.x_scale
    eta = (
        post["intercept"]
        + post["sigma_country"] * post["country_offset"].values[1]
        + post["sigma_region"] * post["region_offset"].values[r]
        + z @ post["beta"].values[h]
    )
    np.testing.assert_allclose(p.values[r, h, 50 + 4], 1 / (1 + np.exp(-float(eta))))


def test_independent_within_multiplies_the_mean_steps():
    # mean steps 0.3 and 0.7: 1 - 0.7 * 0.3 = 0.79, whatever the draws
    p = xr.DataArray([[[0.5, 0.1], [0.5, 0.9]]], dims=("region", "horizon", "draw"))
    np.testing.assert_allclose(independent_within(p).isel(horizon=-1).values, [0.79])
    np.testing.assert_allclose(independent_within(p).isel(horizon=0).values, [0.3])


@pytest.fixture(scope="module")
def dependent():
    panel = simulate_panel(1, 3, 30, FEATURES, seed=8)
    panel["level"] = panel["clash_decay_hl1"] - 2.0
    design = make_design(panel, FEATURES, horizon=3, burn_in=2, offset="level")
    return panel, design, fake_posterior(design, sigma_block=1.2)


def test_each_draw_carries_a_block_effect_and_the_offset_is_scaled(dependent):
    panel, design, idata = dependent
    p = forecast_draws(idata, panel, None)
    post = idata["posterior"].to_dataset().isel(chain=0, draw=7)
    r, h = 2, 1
    x = np.array([panel[f].values[r, -1] for f in FEATURES])
    u = block_effects(p.sizes["draw"])[7]
    eta = (
        np.sqrt(1 + np.pi * 1.2**2 / 8) * float(panel["level"].values[r, -1])
        + float(post["region_eff"].values[r])
        + ((x - design.x_mean) / design.x_scale) @ post["beta"].values[h]
        + 1.2 * u
    )
    np.testing.assert_allclose(p.values[r, h, 7], 1 / (1 + np.exp(-eta)))


def test_block_effects_are_stratified_standard_normal():
    u = block_effects(1000)
    assert u.mean() == pytest.approx(0.0, abs=1e-12)
    assert u.std() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(u, block_effects(1000))  # reproducible
    # the mean over draws integrates a smooth function of the effect closely
    nodes, weights = quadrature(41)
    exact = (1 / (1 + np.exp(-(-1.5 + 1.2 * nodes)))) @ weights
    assert np.mean(1 / (1 + np.exp(-(-1.5 + 1.2 * u)))) == pytest.approx(exact, rel=1e-3)


def test_within_is_below_the_independent_product_with_a_block_effect(dependent):
    panel, _, idata = dependent
    p = forecast_draws(idata, panel, None)
    within = within_draws(idata, panel, None)
    indep = independent_within(p)
    # Positive dependence between steps: over the whole horizon, fewer blocks with at least
    # one clash than the product of the mean steps says; per draw never below the largest step.
    mean_within = within.mean("draw").isel(horizon=-1)
    assert (mean_within.values < indep.isel(horizon=-1).values - 1e-3).all()
    assert (within.isel(horizon=-1).values >= p.max("horizon").values - 1e-12).all()
    np.testing.assert_allclose(within.isel(horizon=0).values, p.isel(horizon=0).values)


def test_without_a_block_effect_each_draw_multiplies_its_steps(setup):
    panel, _, idata = setup
    p = forecast_draws(idata, panel, None)
    expected = 1 - (1 - p).cumprod("horizon")
    np.testing.assert_allclose(within_draws(idata, panel, None).values, expected.values)


def test_quadrature_integrates_a_standard_normal():
    nodes, weights = quadrature()
    assert weights.sum() == pytest.approx(1.0)
    assert nodes @ weights == pytest.approx(0.0, abs=1e-12)
    assert nodes**2 @ weights == pytest.approx(1.0)
    assert nodes**4 @ weights == pytest.approx(3.0)


def test_summary_has_every_region_and_horizon_with_ordered_quantiles(setup):
    panel, _, idata = setup
    origin = panel["period"].values[-5]
    df = summarise(forecast_draws(idata, panel, origin), within_draws(idata, panel, origin))
    assert tuple(df.columns) == tuple(TABLES["forecast"])  # what the report's loader requires
    assert len(df) == 6 * 3
    assert set(map(tuple, df[["region", "horizon"]].values)) == {
        (r, h) for r in panel["region"].values for h in (1, 2, 3)
    }
    assert (df["p_q05"] <= df["p_median"]).all() and (df["p_median"] <= df["p_q95"]).all()
    assert (df["p_q05"] <= df["p_mean"]).all() and (df["p_mean"] <= df["p_q95"]).all()
    per_region = df.groupby("region")[["p_any_within_horizon", "rank"]].nunique()
    assert (per_region == 1).all().all()
    top = df[df["rank"] == 1]["p_any_within_horizon"].iloc[0]
    assert top == df["p_any_within_horizon"].max()
    assert (df["p_any_within_horizon"] >= df.groupby("region")["p_mean"].transform("max")).all()
    assert (df["p_any_q05"] <= df["p_any_within_horizon"]).all()
    assert (df["p_any_within_horizon"] <= df["p_any_q95"]).all()


def test_origin_outside_the_panel_is_refused(setup):
    panel, _, idata = setup
    with pytest.raises(ValueError, match="before the panel"):
        forecast_draws(idata, panel, "1990-01-01")

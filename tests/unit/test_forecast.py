"""Forecast draws from a fabricated posterior: shapes, the linear predictor, joint P(any), CSV."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from model.artefacts import FORECAST_COLUMNS
from model.clash_model import make_design
from model.forecast import forecast_draws, p_any_within, summarise
from model.simulate import fake_posterior, simulate_panel

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


def test_p_any_within_uses_joint_draws():
    p = xr.DataArray([[[0.5, 0.1], [0.5, 0.9]]], dims=("region", "horizon", "draw"))
    cum = p_any_within(p)
    np.testing.assert_allclose(cum.isel(horizon=-1).values, [[0.75, 0.91]])
    assert float(cum.isel(horizon=-1).mean()) != pytest.approx(1 - (1 - 0.3) * (1 - 0.7))


def test_summary_has_every_region_and_horizon_with_ordered_quantiles(setup):
    panel, _, idata = setup
    df = summarise(forecast_draws(idata, panel, panel["period"].values[-5]))
    assert tuple(df.columns) == FORECAST_COLUMNS  # what the report's loader requires
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


def test_origin_outside_the_panel_is_refused(setup):
    panel, _, idata = setup
    with pytest.raises(ValueError, match="before the panel"):
        forecast_draws(idata, panel, "1990-01-01")

"""Synthetic panels: the panel.nc layout, reproducibility, quiet regions, the truth on record."""

import json

import numpy as np
import pandas as pd

from clashcast_testing.simulate import Truth, simulate_panel

FEATURES = [
    "clash_decay_hl1",
    "since_clash",
    "nbr_clash_decay_hl4",
    "x_exo",
    "prox_a__b_near",
    "event_decay_hl4",
]


def test_layout_matches_the_panel_contract():
    ds = simulate_panel(2, 3, 30, FEATURES, seed=1)
    assert ds["clash_any"].dims == ("region", "period")
    assert ds.sizes == {"region": 6, "period": 30}
    assert ds["clash_any"].dtype == np.int8
    assert ds["clash"].dtype == np.int64
    assert list(ds["country"].values) == ["C00"] * 3 + ["C01"] * 3
    assert pd.DatetimeIndex(ds["period"].values).day_of_week.tolist() == [0] * 30
    names = json.loads(ds.attrs["feature_names"])
    assert set(FEATURES) <= set(names)
    assert {"prox_a__b_km", "prox_a__b_absent"} <= set(names)
    for f in FEATURES:
        assert np.isfinite(ds[f].values).all(), f
    np.testing.assert_array_equal(ds["clash_any"].values, ds["clash"].values > 0)


def test_seeded_and_zero_regions_stay_quiet():
    a = simulate_panel(1, 5, 40, FEATURES, Truth(intercept=-0.5), seed=3, zero_regions=[2])
    b = simulate_panel(1, 5, 40, FEATURES, Truth(intercept=-0.5), seed=3, zero_regions=[2])
    np.testing.assert_array_equal(a["clash"].values, b["clash"].values)
    assert a["clash_any"].isel(region=2).sum() == 0
    assert a["clash_any"].sum() > 0
    truth = json.loads(a.attrs["simulation_truth"])
    assert truth["zero_regions"] == [2] and len(truth["region_effect"]) == 5


def test_clash_features_follow_the_simulated_history():
    ds = simulate_panel(1, 4, 50, FEATURES, Truth(intercept=0.0), seed=5)
    clash = ds["clash"].values
    expected = np.zeros_like(clash, dtype=float)
    acc = np.zeros(clash.shape[0])
    for t in range(clash.shape[1]):
        acc = acc * 0.5 + clash[:, t]
        expected[:, t] = np.log1p(acc)
    np.testing.assert_allclose(ds["clash_decay_hl1"].values, expected)
    assert (ds["since_clash"].values[clash > 0] == 0).all()

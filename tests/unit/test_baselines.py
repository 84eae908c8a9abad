"""Baselines on tiny hand-made panels (the counts are in the comments), and no look-ahead."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from model.backtesting import baselines, catalogue
from model.backtesting.baselines import Rates


def tiny_panel(clash_any: list[list[int]], feature: list[list[float]] | None = None) -> xr.Dataset:
    y = np.asarray(clash_any, dtype=np.int8)
    regions = [f"R{i}" for i in range(y.shape[0])]
    periods = pd.date_range("2020-01-06", periods=y.shape[1], freq="W-MON")
    f = np.zeros(y.shape) if feature is None else np.asarray(feature, dtype=float)
    return xr.Dataset(
        {"clash_any": (("region", "period"), y), "f": (("region", "period"), f)},
        coords={"region": regions, "period": periods, "country": ("region", ["C"] * len(regions))},
    )


PANEL = tiny_panel([[1, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
P = PANEL["period"].values


def test_climatology_smooths_toward_pooled_rate():
    # origin = 4th period: R0 saw 2 clashes in 4, R1 none; pooled 2/8 = 1/4; a = 2
    # R0: (2 + 2*0.25)/(4 + 2) = 2.5/6 ; R1: (0 + 0.5)/6
    got = baselines.climatology(PANEL, P[3], 2, Rates(window=52, prior_strength=2.0))
    np.testing.assert_allclose(got.values, [[2.5 / 6] * 2, [0.5 / 6] * 2])
    # window 2: R0 [1, 0] -> k=1, R1 k=0, pooled 1/4: (1+0.5)/4, (0+0.5)/4
    got = baselines.climatology(PANEL, P[3], 1, Rates(window=2, prior_strength=2.0))
    np.testing.assert_allclose(got.values[:, 0], [0.375, 0.125])


def test_ewma_weighs_recent_periods_more():
    # origin = 4th period, half-life 1: weights 1/8, 1/4, 1/2, 1 for periods 1..4
    # R0 [1, 0, 1, 0]: k = 1/8 + 1/2 = 5/8, n = 15/8; R1 k = 0
    # pooled (Jeffreys) = (5/8 + .5) / (30/8 + 1) = 9/38; a = 2
    got = baselines.ewma(PANEL, P[3], 2, Rates(half_life=1.0, prior_strength=2.0))
    pooled = 9 / 38
    np.testing.assert_allclose(
        got.values,
        [[(5 / 8 + 2 * pooled) / (15 / 8 + 2)] * 2, [(2 * pooled) / (15 / 8 + 2)] * 2],
    )
    # a very long half-life counts every period alike: R0 2 of 4, pooled (2 + .5)/(8 + 1)
    long = baselines.ewma(PANEL, P[3], 1, Rates(half_life=1e9, prior_strength=2.0))
    pooled = 2.5 / 9
    np.testing.assert_allclose(long.values[:, 0], [(2 + 2 * pooled) / 6, 2 * pooled / 6])


def test_window_events_and_within_h_baselines():
    # H = 2: windows ending at periods 2..6 of R0 [1, 0, 1, 0, 0, 0] -> any: 1, 1, 1, 0, 0
    z = baselines.window_events(PANEL["clash_any"].values, 2)
    np.testing.assert_array_equal(z[0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(z[1], [0, 0, 0, 0, 0])
    # origin = 5th period: windows that ended by it are the first four: R0 3 of 4, R1 0 of 4;
    # pooled 3/8; a = 2 -> (3 + .75)/6 and .75/6
    got = baselines.within_climatology(PANEL, P[4], 2, Rates(window=52, prior_strength=2.0))
    assert got.dims == ("region",)
    np.testing.assert_allclose(got.values, [3.75 / 6, 0.75 / 6])
    # the EWMA of the same windows, every window alike: pooled (3 + .5)/(8 + 1)
    ew = baselines.within_ewma(PANEL, P[4], 2, Rates(half_life=1e9, prior_strength=2.0))
    np.testing.assert_allclose(ew.values, [(3 + 7 / 9) / 6, (7 / 9) / 6])
    with pytest.raises(ValueError, match="fewer than"):
        baselines.within_climatology(PANEL, P[0], horizon=2)


def test_logistic_stays_sane_on_a_rare_outcome_with_a_spiking_feature():
    # 2% clashes; a feature that is zero in all but 3 training rows, then large at the origin.
    # Unclipped, the origin sat hundreds of SDs out and the forecast went to ~0 or ~1.
    rng = np.random.default_rng(2)
    y = (rng.random((10, 120)) < 0.02).astype(int)
    f = np.zeros((10, 120))
    f[0, [5, 40, 80]] = 1.0
    f[:, -1] = 50.0
    panel = tiny_panel(y.tolist(), f.tolist())
    origin = panel["period"].values[-1]
    got = baselines.logistic(panel, origin, 2, ["f"], burn_in=2)
    rate = baselines.global_rate(panel, origin, 2)
    assert (got.values < 0.5).all()  # z clipped to 5 SDs: a bounded nudge, not certainty
    assert float(got.max()) < 50 * float(rate.max())


def test_markov_per_step_from_pairs_up_to_origin():
    # origin = 3rd period; R0 [1,0,1] (state 1), R1 [0,0,0] (state 0)
    # step 1 pairs: R0 (1,0),(0,1); R1 (0,0),(0,0)
    #   from 1: 0 of 1 -> (0+.5)/(1+1) = .25 ; from 0: 1 of 3 -> 1.5/4 = .375
    # step 2 pairs: R0 (1,1); R1 (0,0) -> from 1: 1.5/2 = .75 ; from 0: .5/2 = .25
    got = baselines.markov(PANEL, P[2], horizon=2)
    np.testing.assert_allclose(got.values, [[0.25, 0.75], [0.375, 0.25]])
    assert got.dims == ("region", "horizon")
    assert got["horizon"].values.tolist() == [1, 2]


def test_global_rate():
    # 2 clashes in 6 region-periods up to the 3rd period: (2 + .5)/(6 + 1)
    got = baselines.global_rate(PANEL, P[2], horizon=3)
    np.testing.assert_allclose(got.values, np.full((2, 3), 2.5 / 7))


def test_fit_logistic_recovers_group_log_odds():
    # x=0: 1 of 4 clash -> logit(1/4) = -ln 3 ; x=1: 3 of 4 -> logit(3/4) = ln 3
    # unpenalised MLE: intercept -ln 3, slope 2 ln 3
    x = np.array([[0.0]] * 4 + [[1.0]] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    w = baselines.fit_logistic(x, y, ridge=0.0)
    np.testing.assert_allclose(w, [-np.log(3), 2 * np.log(3)], atol=1e-8)


def test_fit_logistic_ridge_keeps_separation_finite():
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    w = baselines.fit_logistic(x, np.array([0.0, 0, 1, 1]), ridge=1.0)
    assert np.all(np.isfinite(w)) and w[1] > 0


def test_logistic_learns_a_predictive_feature():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(6, 60))
    y = np.zeros_like(f, dtype=int)
    y[:, 1:] = rng.random((6, 59)) < 1 / (1 + np.exp(-(2 * f[:, :-1] - 1)))
    panel = tiny_panel(y.tolist(), f.tolist())
    got = baselines.logistic(panel, panel["period"].values[50], 1, ["f"], burn_in=2)
    order = np.argsort(f[:, 50])
    assert np.all(np.diff(got.values[order, 0]) > 0)


def test_logistic_one_class_gives_training_rate():
    panel = tiny_panel([[0] * 6, [0] * 6])
    got = baselines.logistic(panel, panel["period"].values[4], 1, ["f"], burn_in=1)
    # step 1, t in 1..3: 6 rows, no clash -> (0 + .5)/(6 + 1)
    np.testing.assert_allclose(got.values, 0.5 / 7)


def test_origin_must_be_a_period():
    with pytest.raises(ValueError, match="not a period"):
        baselines.global_rate(PANEL, "2020-01-07", 1)


def test_no_look_ahead_poisoned_future_changes_nothing():
    rng = np.random.default_rng(5)
    y = (rng.random((4, 40)) < 0.3).astype(int)
    f = rng.normal(size=(4, 40))
    panel = tiny_panel(y.tolist(), f.tolist())
    origin_idx = 27
    poisoned = panel.copy(deep=True)
    poisoned["clash_any"][:, origin_idx + 1 :] = 1 - poisoned["clash_any"][:, origin_idx + 1 :]
    poisoned["f"][:, origin_idx + 1 :] = 1e6
    rates = Rates(window=10, half_life=4.0, prior_strength=2.0)
    kw = {"horizon": 4, "features": ["f"], "burn_in": 3, "rates": rates}
    origin = panel["period"].values[origin_idx]
    clean = baselines.all_baselines(panel, origin, **kw)
    dirty = baselines.all_baselines(poisoned, origin, **kw)
    assert set(clean) == set(catalogue.BASELINES)
    for name in catalogue.BASELINES:
        xr.testing.assert_identical(clean[name], dirty[name])
    within = {"horizon": 4, "rates": rates}
    clean_w = baselines.within_baselines(panel, origin, **within)
    dirty_w = baselines.within_baselines(poisoned, origin, **within)
    assert set(clean_w) == set(catalogue.WITHIN_BASELINES)
    for name in catalogue.WITHIN_BASELINES:
        xr.testing.assert_identical(clean_w[name], dirty_w[name])
    # ...whereas poisoning the origin itself does change them (the test can see a leak)
    poisoned["clash_any"][:, origin_idx] = 1 - poisoned["clash_any"][:, origin_idx]
    assert not np.array_equal(baselines.markov(poisoned, origin, 4).values, clean["markov"].values)


def _rare_panel_with_offset(shift: float = 0.0, seed: int = 3) -> tuple[xr.Dataset, np.ndarray]:
    """A rare dyad's shape, about 2% of region-weeks: 40 regions x 300 weeks, one hot region
    (true log-odds around 0, as Deir-ez-Zor's) and 39 quiet ones (around logit(0.004)), each
    wandering as an AR(1); the outcome at t + 1 drawn from the log-odds at t. The panel's
    ``level`` is that log-odds plus ``shift`` (an offset off by a constant)."""
    rng = np.random.default_rng(seed)
    n_r, n_t = 40, 300
    centre = np.full(n_r, np.log(0.004 / 0.996))
    centre[0] = 0.0
    eta = np.empty((n_r, n_t))
    eta[:, 0] = centre
    for t in range(1, n_t):
        eta[:, t] = centre + 0.9 * (eta[:, t - 1] - centre) + rng.normal(0, 0.3, n_r)
    y = np.zeros((n_r, n_t), dtype=int)
    y[:, 1:] = rng.random((n_r, n_t - 1)) < 1 / (1 + np.exp(-eta[:, :-1]))
    panel = tiny_panel(y.tolist())
    panel["level"] = (("region", "period"), eta + shift)
    return panel, eta


def test_fit_logistic_with_the_true_logit_as_offset_needs_no_intercept():
    """The offset enters with coefficient 1: given the true log-odds it leaves nothing to fit
    (intercept and slope of a useless feature near 0); shifted by 1.5, the intercept takes
    the shift back."""
    rng = np.random.default_rng(4)
    n = 20_000
    eta = rng.normal(-3.5, 1.0, n)  # about 4% positives
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    x = rng.normal(size=(n, 1))
    w = baselines.fit_logistic(x, y, ridge=1.0, offset=eta)
    np.testing.assert_allclose(w, [0.0, 0.0], atol=0.1)
    w = baselines.fit_logistic(x, y, ridge=1.0, offset=eta + 1.5)
    assert w[0] == pytest.approx(-1.5, abs=0.1)
    # an offset of zeros is the fit without one, bit for bit
    np.testing.assert_array_equal(
        baselines.fit_logistic(x, y, offset=np.zeros(n)), baselines.fit_logistic(x, y)
    )


def test_logistic_on_an_offset_recalibrates_it_by_an_intercept():
    """No features: the forecast is invlogit(offset at the origin + one intercept), the same
    shift for every region; a true offset gets a shift near 0, a biased one its bias back."""
    for shift in (0.0, 1.5):
        panel, eta = _rare_panel_with_offset(shift)
        origin = panel["period"].values[-1]
        got = baselines.logistic(panel, origin, 2, [], burn_in=10, offset="level")
        logit = np.log(got.values / (1 - got.values))
        intercept = logit - (eta[:, -1] + shift)[:, None]
        np.testing.assert_allclose(intercept, np.tile(intercept[:1], (40, 1)), atol=1e-9)
        np.testing.assert_allclose(intercept[0], -shift, atol=0.25)


def test_logistic_with_an_offset_is_a_fair_reference_at_two_percent():
    """On the rare dyad's shape the baseline on the true log-odds forecasts as well as the
    truth. The regression it replaced, with the log-odds as a standardised (and clipped)
    covariate, was broken there: the hot region sits more than Z_CLIP SDs out, and its
    forecasts scored worse than the pooled rate's."""
    panel, eta = _rare_panel_with_offset()
    y = panel["clash_any"].values
    assert 0.01 < y.mean() < 0.03
    brier = {"offset": [], "truth": [], "free": [], "pooled": []}
    for t in range(200, 299, 7):
        origin = panel["period"].values[t]
        forecasts = {
            "offset": baselines.logistic(panel, origin, 1, [], burn_in=10, offset="level"),
            "free": baselines.logistic(panel, origin, 1, ["level"], burn_in=10),
            "pooled": baselines.logistic(panel, origin, 1, [], burn_in=10),
        }
        for name, p in forecasts.items():
            brier[name].append(np.mean((p.values[:, 0] - y[:, t + 1]) ** 2))
        brier["truth"].append(np.mean((1 / (1 + np.exp(-eta[:, t])) - y[:, t + 1]) ** 2))
    mean = {name: np.mean(v) for name, v in brier.items()}
    assert mean["offset"] <= 1.02 * mean["truth"]
    assert mean["free"] > mean["pooled"] > 1.5 * mean["offset"]


def test_logistic_refuses_a_non_finite_offset_after_the_burn_in():
    panel, _ = _rare_panel_with_offset()
    panel["level"][0, 5] = np.nan
    origin = panel["period"].values[-1]
    assert np.isfinite(baselines.logistic(panel, origin, 1, [], burn_in=10, offset="level")).all()
    with pytest.raises(ValueError, match="offset 'level'"):
        baselines.logistic(panel, origin, 1, [], burn_in=2, offset="level")

"""Features: decays, time since a clash, spill-over and proximity, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from model.data.features import (
    active_positions,
    closing,
    decayed_share_logit,
    decayed_sum,
    derive_proximity,
    first_contact,
    level_logit,
    neighbour_mean,
    periods_since,
    point_region_km,
    proximity,
    trailing_sum,
)
from model.data.regions import EARTH_RADIUS_KM, haversine_km

KM_PER_DEG = np.pi * EARTH_RADIUS_KM / 180  # one degree of a great circle, ≈ 111.195 km


def test_decayed_sum_matches_the_definition():
    x = np.array([[1, 0, 3, 0, 0, 2], [0, 0, 0, 0, 0, 0]])
    h = 2.0
    t = np.arange(x.shape[1])
    want = np.array(
        [[sum(x[r, u] * 0.5 ** ((s - u) / h) for u in range(s + 1)) for s in t] for r in range(2)]
    )
    np.testing.assert_allclose(decayed_sum(x, h), want, rtol=1e-12)
    assert decayed_sum(x, h)[1].tolist() == [0.0] * 6


def test_decayed_sum_halves_after_one_half_life():
    x = np.zeros((1, 10))
    x[0, 0] = 8
    out = decayed_sum(x, 3)
    assert out[0, 3] == pytest.approx(4.0)
    assert out[0, 6] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        decayed_sum(x, 0)


def test_periods_since_counts_from_the_last_occurrence_and_caps():
    occ = np.array([[0, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=bool)
    assert periods_since(occ, cap=3).tolist() == [[3, 0, 1, 2, 0, 1], [3, 3, 3, 3, 3, 3]]
    long = np.zeros((1, 10), dtype=bool)
    long[0, 0] = True
    assert periods_since(long, cap=4).tolist() == [[0, 1, 2, 3, 4, 4, 4, 4, 4, 4]]


def test_neighbour_mean_ignores_outside_regions_and_isolated_ones_get_zero():
    v = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    nbrs = {"a": ["b", "c", "elsewhere"], "b": ["a"], "c": []}
    out = neighbour_mean(v, ["a", "b", "c"], nbrs)
    np.testing.assert_allclose(out, [[4.0, 5.0], [1.0, 2.0], [0.0, 0.0]])


def test_derive_proximity_is_explicit_about_absence():
    near, absent = derive_proximity(np.array([0.0, 50.0, np.nan]), 50.0)
    np.testing.assert_allclose(near, [1.0, np.exp(-1.0), 0.0])
    assert absent.tolist() == [0.0, 0.0, 1.0]
    near1, absent1 = derive_proximity(10.0, 50.0)
    assert float(near1) == pytest.approx(np.exp(-0.2)) and float(absent1) == 0.0
    with pytest.raises(ValueError):
        derive_proximity(np.array([-1.0]), 50.0)
    with pytest.raises(ValueError):
        derive_proximity(np.array([1.0]), 0.0)


def test_haversine_known_distances():
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(KM_PER_DEG, rel=1e-9)
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(KM_PER_DEG, rel=1e-9)
    # Baghdad → Mosul against the spherical law of cosines.
    p1, p2, dl = np.radians([33.3152, 36.3350, 43.1189 - 44.3661])
    want = EARTH_RADIUS_KM * np.arccos(
        np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    )
    assert haversine_km(33.3152, 44.3661, 36.3350, 43.1189) == pytest.approx(want, rel=1e-9)
    assert 350 < want < 360


def test_point_region_km_is_zero_inside_and_spherical_outside():
    geom = {"sq": shapely.box(44.0, 33.0, 45.0, 34.0), "none": None}
    lat = np.array([33.5, 33.5, 35.0, 33.5])
    lon = np.array([44.5, 46.0, 44.5, 44.0])  # inside, 1° east, 1° north, on the border
    d = point_region_km(lat, lon, ["sq", "none"], geom)
    assert d[0, 0] == 0.0 and d[3, 0] == 0.0
    east = haversine_km(33.5, 46.0, 33.5, 45.0)
    assert d[1, 0] == pytest.approx(east, rel=1e-3)
    assert d[2, 0] == pytest.approx(KM_PER_DEG, rel=1e-3)
    assert np.isinf(d[:, 1]).all()


def test_active_positions_blank_dates_and_edges():
    ps = np.array(["2020-01-06", "2020-01-13", "2020-01-20"], dtype="datetime64[ns]")
    pe = ps + np.timedelta64(6, "D")
    start = np.array(["NaT", "2020-01-19", "2020-01-01", "2020-01-21"], dtype="datetime64[ns]")
    end = np.array(["NaT", "NaT", "2020-01-13", "NaT"], dtype="datetime64[ns]")
    act = active_positions(start, end, ps, pe)
    assert act.tolist() == [
        [True, True, True],  # blank start: active from the start
        [False, True, True],  # starts on the last day of week 2
        [True, True, False],  # ends on the first day of week 2
        [False, False, True],
    ]


def _frame(lat, lon, region, t):
    return pd.DataFrame({"latitude": lat, "longitude": lon, "region": region, "period_idx": t})


def _positions(lat, lon, start, end):
    return pd.DataFrame(
        {
            "latitude": lat,
            "longitude": lon,
            "start_date": pd.to_datetime(start),
            "end_date": pd.to_datetime(end),
        }
    )


def test_proximity_hand_computed_on_two_squares():
    # Two 1°×1° regions side by side on the equator; a base of A at (0.5, 0.1) from week 1.
    geom = {
        "w": shapely.box(0, 0, 1, 1),
        "e": shapely.box(1, 0, 2, 1),
        "far": shapely.box(9, 0, 10, 1),
    }
    ps = pd.date_range("2020-01-06", periods=4, freq="W-MON").to_numpy()
    pe = ps + np.timedelta64(6, "D")
    a_pos = _positions([0.5], [0.1], ["2020-01-13"], [None])
    b = _frame([0.5, 0.5], [0.6, 1.5], ["w", "e"], [0, 2])
    g = proximity(
        a_pos,
        _frame([], [], [], []),
        b,
        regions=["w", "e", "far"],
        geometry=geom,
        period_start=ps,
        period_end=pe,
        window=2,
        radius_km=60.0,
        near_km=100.0,
    )
    km, n_in = g.km, g.n_within
    d_w = haversine_km(0.5, 0.6, 0.5, 0.1)  # 0.5° ≈ 55.6 km
    d_e = haversine_km(0.5, 1.5, 0.5, 0.1)  # 1.4° ≈ 155.7 km
    assert d_w == pytest.approx(0.5 * KM_PER_DEG * np.cos(np.radians(0.5)), rel=1e-4)
    # Week 0: B present but A's base not yet: absent, NaN (never 0 km).
    assert np.isnan(km[:, 0]).all() and (n_in[:, 0] == 0).all()
    # Week 1: the west event (week 0) is in the 2-week window; the east region also sees it
    # (it lies 44 km from the east square, within near_km).
    np.testing.assert_allclose(km[:2, 1], [d_w, d_w])
    assert n_in[:2, 1].tolist() == [1, 1]
    # Weeks 2 and 3: the west event has left the 2-week window; the east event (week 2) lies
    # 55.6 km from the west square, so both regions consider it, and it is beyond radius_km.
    np.testing.assert_allclose(km[:2, 2:], [[d_e, d_e], [d_e, d_e]])
    assert (n_in[:2, 2:] == 0).all()
    # The far region never has B nearby: absent throughout.
    assert np.isnan(km[2]).all() and (n_in[2] == 0).all()


def test_proximity_uses_a_events_in_the_window_and_no_b_means_absent():
    geom = {"w": shapely.box(0, 0, 1, 1)}
    ps = pd.date_range("2020-01-06", periods=3, freq="W-MON").to_numpy()
    pe = ps + np.timedelta64(6, "D")
    no_pos = _positions([], [], [], [])
    a_ev = _frame([0.5], [0.2], ["w"], [0])
    b_ev = _frame([0.5], [0.3], ["w"], [1])
    kw = dict(
        regions=["w"], geometry=geom, period_start=ps, period_end=pe, radius_km=20.0, near_km=50.0
    )
    g = proximity(no_pos, a_ev, b_ev, window=2, **kw)
    km, n_in = g.km, g.n_within
    assert np.isnan(km[0, 0])  # B not yet
    assert km[0, 1] == pytest.approx(
        0.1 * KM_PER_DEG * np.cos(np.radians(0.5)), rel=1e-4
    )  # both within the window
    assert n_in[0, 1] == 1
    assert np.isnan(km[0, 2])  # the A event left the window
    g0 = proximity(no_pos, a_ev, b_ev.iloc[:0], window=2, **kw)
    assert np.isnan(g0.km).all() and (g0.n_within == 0).all()
    # A's event (week 0) is about in weeks 0-1; B (week 1) in weeks 1-2: together in week 1 only.
    assert g.a_present[0].tolist() == [True, True, False]
    assert g.b_present[0].tolist() == [False, True, True]


def test_decayed_sum_equals_a_recursive_filter():
    from scipy.signal import lfilter

    x = np.random.default_rng(0).poisson(1.0, (5, 300)).astype(float)
    for h in (1.0, 2.5, 13.0):
        a = 0.5 ** (1 / h)
        np.testing.assert_allclose(decayed_sum(x, h), lfilter([1], [1, -a], x, axis=-1), rtol=1e-12)


def test_decayed_share_logit_by_hand():
    occurred = np.array([[1, 0], [0, 0]])
    # half-life 1: k = [[1, .5], [0, 0]], n = [1, 1.5]; pooled = (k.sum + .5) / (n.sum + 1)
    # = [1.5 / 3, 1 / 4]; share = (k + 2 pooled) / (n + 2)
    out = decayed_share_logit(occurred, 1.0, prior=2.0)
    expected = np.log([[2.0, 0.4], [0.5, 1 / 6]])  # odds: 2/3, 1/3.5, 1/3, 1/7
    np.testing.assert_allclose(out, expected)


def test_level_pools_the_recent_share_toward_the_regions_own_long_run_share():
    # half-life 1 recent, 1e9 long (every period alike): R0 [1, 0], R1 [0, 0] at period 2
    # long-run: k = [1, 0], n = 2, pooled (1 + .5)/(4 + 1) = .3 -> R0 (1 + .6)/4, R1 .6/4
    # recent: k = [.5, 0], n = 1.5 -> level = (k + 4 long) / (n + 4)
    occurred = np.array([[1, 0], [0, 0]])
    long = np.array([1.6 / 4, 0.6 / 4])
    level = (np.array([0.5, 0.0]) + 4 * long) / 5.5
    out = level_logit(occurred, 1.0, 1e9, prior=4.0, long_prior=2.0)
    np.testing.assert_allclose(out[:, 1], np.log(level / (1 - level)), rtol=1e-6)
    # a region quiet for years stays low after one clash; a busy one stays high after a lull
    quiet_then_one = np.r_[np.zeros(200), 1.0][None]
    busy_then_lull = np.r_[np.ones(200), 0.0][None]
    two = np.vstack([quiet_then_one, busy_then_lull])
    lv = 1 / (1 + np.exp(-level_logit(two, 8.0, 52.0)[:, -1]))
    sh = 1 / (1 + np.exp(-decayed_share_logit(two, 8.0)[:, -1]))
    assert lv[0] < sh[0] and lv[1] > sh[1]


def test_decayed_share_logit_is_causal_and_finite():
    rng = np.random.default_rng(1)
    occurred = rng.random((4, 30)) < 0.3
    changed = occurred.copy()
    changed[:, 20:] = ~changed[:, 20:]
    a, b = decayed_share_logit(occurred, 4.0), decayed_share_logit(changed, 4.0)
    np.testing.assert_array_equal(a[:, :20], b[:, :20])
    assert np.isfinite(decayed_share_logit(np.ones((2, 5)), 13.0)).all()
    with pytest.raises(ValueError):
        decayed_share_logit(occurred, 4.0, prior=0.0)


def test_exposure_counts_b_near_active_positions_of_each_kind():
    # A base at (0.5, 0.1) from week 1 and an outpost at (0.5, 1.9) throughout; B events near
    # each. Exposure counts B within radius of an *active* position of that kind only.
    geom = {"w": shapely.box(0, 0, 1, 1), "e": shapely.box(1, 0, 2, 1)}
    ps = pd.date_range("2020-01-06", periods=3, freq="W-MON").to_numpy()
    a_pos = _positions([0.5, 0.5], [0.1, 1.9], ["2020-01-13", None], [None, None])
    a_pos["kind"] = ["base", "outpost"]
    b = _frame([0.5, 0.5, 0.5], [0.2, 1.8, 0.2], ["w", "e", "w"], [0, 0, 2])
    pe = ps + np.timedelta64(6, "D")
    kw = {"regions": ["w", "e"], "geometry": geom, "period_start": ps, "period_end": pe,
          "window": 1, "radius_km": 20.0, "near_km": 10.0}  # fmt: skip
    g = proximity(a_pos, _frame([], [], [], []), b, exposure_kinds=["base", "outpost", "hq"], **kw)
    # Week 0: the base is not yet active, so the west event (11 km from it) is not exposure.
    assert g.exposure["base"][:, 0].tolist() == [0, 0]
    assert g.exposure["outpost"][:, 0].tolist() == [0, 1]
    # Week 2: the base is active and the west event is 11 km from it.
    assert g.exposure["base"][:, 2].tolist() == [1, 0]
    assert (g.exposure["hq"] == 0).all()
    with pytest.raises(ValueError, match="kind column"):
        proximity(a_pos.drop(columns="kind"), b.iloc[:0], b, exposure_kinds=["base"], **kw)


def test_first_contact_needs_memory_periods_without():
    n = np.array([[0, 1, 1, 0, 0, 1, 0, 0, 0, 1]])
    assert first_contact(n, 2).tolist() == [[0, 1, 0, 0, 0, 1, 0, 0, 0, 1]]
    assert first_contact(n, 3).tolist() == [[0, 1, 0, 0, 0, 0, 0, 0, 0, 1]]


def test_closing_compares_nearness_with_k_periods_before():
    km = np.array([[np.nan, 40.0, 30.0, 10.0]])
    near = np.where(np.isnan(km), 0.0, np.exp(-np.nan_to_num(km) / 50))
    c, c_km = closing(near, km, 2)
    np.testing.assert_allclose(c, [[0.0, near[0, 1], near[0, 2], near[0, 3] - near[0, 1]]])
    np.testing.assert_allclose(c_km, [[np.nan, np.nan, np.nan, 30.0]])


def test_trailing_sum_by_hand():
    x = np.array([[1, 0, 2, 3]])
    assert trailing_sum(x, 2).tolist() == [[1, 1, 2, 5]]
    assert trailing_sum(x, 1).tolist() == x.tolist()

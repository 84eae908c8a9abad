"""The region × period panel: grid, counts, clash outcome, no look-ahead, properties."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.config import PanelParams, Window
from model.data import feature_names as fn
from model.data.panel import build_panel, feature_names, make_periods, panel_summary

# Four 1°×1° squares in a row (A B C D, A–B–C touching), D off on its own, 2° east of C.
GEOMETRY = {
    "A": shapely.box(40, 33, 41, 34),
    "B": shapely.box(41, 33, 42, 34),
    "C": shapely.box(42, 33, 43, 34),
    "D": shapely.box(45, 33, 46, 34),
}
CENTRES = {r: (g.centroid.y, g.centroid.x) for r, g in GEOMETRY.items()}
TABLE = pd.DataFrame(
    {
        "region_id": ["X-A", "X-B", "X-C", "Y-D"],
        "region": ["A", "B", "C", "D"],
        "country": ["X", "X", "X", "Y"],
    }
)
NEIGHBOURS = {"A": ["B"], "B": ["A", "C"], "C": ["B"], "D": []}
WINDOW = Window(start=dt.date(2020, 1, 1), end=dt.date(2020, 6, 30))
SIDES = ["gov", "rebels", "civ", "us"]
CATEGORIES = ["sb", "ns", "os"]


def panel_params(freq: str = "W-MON", **kw) -> PanelParams:
    raw = {
        "freq": freq,
        "clash": {"categories": ["sb"], "sides": ["gov", "rebels"]},
        "half_lives": [1, 4, 2.5],
        "proximity": [
            {"a": "us", "b": "rebels", "window": 3, "radius_km": 80, "near_km": 100},
            {"a": "gov", "b": "rebels", "window": 2, "use_positions": False},
        ],
        "proximity_scale_km": 50,
    }
    raw.update(kw)
    return PanelParams.model_validate(raw)


def random_events(n: int, seed: int, window: Window = WINDOW) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regions = rng.choice(list(GEOMETRY), n)
    lat = np.array([CENTRES[r][0] for r in regions]) + rng.uniform(-0.45, 0.45, n)
    lon = np.array([CENTRES[r][1] for r in regions]) + rng.uniform(-0.45, 0.45, n)
    no_coords = rng.random(n) < 0.1
    lat[no_coords] = np.nan
    lon[no_coords] = np.nan
    days = (window.end - window.start).days
    # "us" is rare and never fights "rebels" directly, so A and B are apart (as with bases).
    side1 = rng.choice(SIDES, n, p=[0.4, 0.35, 0.15, 0.1])
    side2 = rng.choice([*SIDES, ""], n, p=[0.3, 0.35, 0.2, 0.05, 0.1])
    side2[(side1 == "us") & (side2 == "rebels")] = "civ"
    side1[(side2 == "us") & (side1 == "rebels")] = "civ"
    dates = pd.Timestamp(window.start) + pd.to_timedelta(rng.integers(0, days + 1, n), "D")
    return pd.DataFrame(
        {
            "event_id": [f"s:{i}" for i in range(n)],
            "date": dates,
            "country": [dict(zip(TABLE.region, TABLE.country, strict=True))[r] for r in regions],
            "region": regions,
            "latitude": lat,
            "longitude": lon,
            "side1": side1,
            "side2": side2,
            "category": rng.choice(CATEGORIES, n),
            "fatalities": rng.integers(0, 20, n),
        }
    )


POSITIONS = pd.DataFrame(
    {
        "side": ["us", "us", "us", "gov"],
        "latitude": [33.5, 33.2, 33.9, 33.5],
        "longitude": [40.2, 42.5, 45.5, 41.5],
        "start_date": pd.to_datetime([None, "2020-02-10", "2020-04-01", None]),
        "end_date": pd.to_datetime([None, "2020-05-03", None, None]),
    }
)


def build(events, positions=POSITIONS, params=None, window=WINDOW):
    return build_panel(
        events,
        positions,
        TABLE,
        NEIGHBOURS,
        GEOMETRY,
        panel=params or panel_params(),
        window=window,
        categories=CATEGORIES,
    )


# --------------------------------------------------------------------------- periods


def test_weekly_periods_are_the_complete_weeks_starting_monday():
    p = make_periods(dt.date(2014, 1, 1), dt.date(2014, 2, 1), "W-MON")
    assert (p.start.day_of_week == 0).all()
    assert p.start[0] == pd.Timestamp("2014-01-06")  # 1 January is a Wednesday
    assert p.end[-1] == pd.Timestamp("2014-01-26")  # the week of 27 January ends after 1 February
    assert ((p.end - p.start) == pd.Timedelta(days=6)).all()
    assert len(p) == 3
    q = make_periods(dt.date(2014, 1, 6), dt.date(2014, 2, 2), "W-MON")
    assert len(q) == 4 and q.start[0] == pd.Timestamp("2014-01-06")
    with pytest.raises(ValueError, match="no complete"):
        make_periods(dt.date(2014, 1, 7), dt.date(2014, 1, 12), "W-MON")


def test_monthly_periods_are_complete_calendar_months():
    p = make_periods(dt.date(2016, 1, 15), dt.date(2016, 4, 30), "MS")
    assert p.start.strftime("%Y-%m-%d").tolist() == ["2016-02-01", "2016-03-01", "2016-04-01"]
    assert p.end.strftime("%Y-%m-%d").tolist() == ["2016-02-29", "2016-03-31", "2016-04-30"]
    dates = ["2016-01-31", "2016-02-01", "2016-02-29 23:00", "2016-04-30 23:59", "2016-05-01"]
    idx = p.index_of(pd.to_datetime(dates, format="ISO8601"))
    assert idx.tolist() == [-1, 0, 0, 2, 3]
    with pytest.raises(ValueError, match="unsupported freq"):
        make_periods(dt.date(2016, 1, 1), dt.date(2016, 4, 30), "D")


# --------------------------------------------------------------------------- counts


def test_counts_clash_either_order_and_zeros_kept():
    ev = pd.DataFrame(
        {
            "event_id": ["1", "2", "3", "4", "5"],
            "date": pd.to_datetime(
                ["2020-01-06", "2020-01-07", "2020-01-08", "2020-01-20", "2020-01-05"]
            ),
            "country": ["X"] * 5,
            "region": ["A", "A", "A", "B", "A"],
            "latitude": [np.nan] * 5,
            "longitude": [np.nan] * 5,
            "side1": ["gov", "rebels", "gov", "gov", "gov"],
            "side2": ["rebels", "gov", "civ", "rebels", "rebels"],
            "category": ["sb", "sb", "sb", "ns", "sb"],
            "fatalities": [3, 4, 5, 6, 7],
        }
    )
    ds = build(ev)
    a, w1 = ds.sel(region="A"), pd.Timestamp("2020-01-06")
    assert int(a["clash"].sel(period=w1)) == 2  # gov–rebels and rebels–gov
    assert int(a["count_sb"].sel(period=w1)) == 3
    assert int(a["events"].sel(period=w1)) == 3
    assert int(a["fatalities"].sel(period=w1)) == 12
    assert int(ds["clash"].sel(region="B").sum()) == 0  # category ns is not a clash
    assert int(ds["count_ns"].sel(region="B", period=pd.Timestamp("2020-01-20"))) == 1
    assert ds.attrs["events_outside_panel"] == 1  # 5 January: in the window, not a full week
    assert int(ds["events"].sum()) == 4
    assert ds.sizes == {"region": 4, "period": 25}
    assert ds["clash_any"].dtype == np.int8 and ds["clash"].dtype == np.int64
    assert ds["country"].values.tolist() == ["X", "X", "X", "Y"]
    assert ds["region_id"].values.tolist() == ["X-A", "X-B", "X-C", "Y-D"]
    assert json.loads(ds.attrs["feature_names"]) == feature_names(panel_params())
    assert "hl2.5" in " ".join(json.loads(ds.attrs["feature_names"]))


def test_unknown_region_is_an_error():
    ev = random_events(5, 1)
    ev.loc[0, "region"] = "Atlantis"
    with pytest.raises(ValueError, match="Atlantis"):
        build(ev)


def test_features_have_no_nan_except_distances():
    ds = build(random_events(300, 2))
    for f in json.loads(ds.attrs["feature_names"]):
        assert ds[f].dtype == np.float64
        if not f.endswith("_km"):
            assert not np.isnan(ds[f].values).any(), f
    km = ds["prox_us__rebels_km"].values
    absent = ds["prox_us__rebels_absent"].values
    assert ((absent == 1) == np.isnan(km)).all()
    assert (ds["prox_us__rebels_near"].values[absent == 1] == 0).all()
    assert (km[~np.isnan(km)] >= 0).all()
    # D is 2° from C and has no nearby position before April: some absent cells there.
    assert absent.any() and not absent.all()


def test_summary_reports_the_figures_of_panel_json():
    ds = build(random_events(200, 3))
    s = panel_summary(ds)
    assert s["regions"] == 4 and s["periods"] == 25 and s["rows"] == 100
    assert s["first_period"] == "2020-01-06" and s["last_period"] == "2020-06-22"
    assert s["clash_rate"] == pytest.approx(float(ds["clash_any"].mean()))
    share = float(ds["prox_us__rebels_absent"].mean())
    assert s["missing_share"]["prox_us__rebels_km"] == pytest.approx(share)
    assert s["missing_share"]["prox_us__rebels_n_within"] == pytest.approx(share)
    assert s["missing_share"]["clash_decay_hl1"] == 0.0
    json.dumps(s, allow_nan=False)


def test_monthly_panel_works():
    ds = build(random_events(300, 4), params=panel_params(freq="MS"))
    assert ds.sizes["period"] == 6
    assert pd.DatetimeIndex(ds["period"].values).day.tolist() == [1] * 6
    assert ds.attrs["freq"] == "MS" and ds.attrs["since_clash_cap"] == 12
    assert float(ds["since_clash"].max()) <= np.log1p(12)
    assert int(ds["events"].sum()) == 300


# --------------------------------------------------------------------------- no look-ahead


def _features(ds, upto):
    names = json.loads(ds.attrs["feature_names"])
    return {f: ds[f].sel(period=slice(None, upto)).values for f in names}


@pytest.mark.parametrize("freq", ["W-MON", "MS"])
@pytest.mark.parametrize("t_index", [0, 3, 9, 20])
def test_no_look_ahead(freq, t_index):
    params = panel_params(freq=freq)
    ev = random_events(600, 5)
    periods = make_periods(WINDOW.start, WINDOW.end, freq)
    t_index = min(t_index, len(periods) - 2)
    t, t_end = periods.start[t_index], periods.end[t_index]
    # A base that opens the day after t ends, close to B's events: it must not count at t.
    opens_next = pd.DataFrame(
        {
            "side": ["us"],
            "latitude": [CENTRES["B"][0]],
            "longitude": [CENTRES["B"][1]],
            "start_date": [t_end + pd.Timedelta(days=1)],
            "end_date": [pd.NaT],
        }
    )
    positions = pd.concat([POSITIONS, opens_next], ignore_index=True)
    ds = build(ev, positions=positions, params=params)
    before = _features(ds, t)
    later = ev["date"] > t_end
    assert later.any()

    # Delete every later event, and every position that starts later.
    pos_known = positions.loc[~(positions["start_date"] > t_end)]
    cut = build(ev.loc[~later], positions=pos_known, params=params)
    # Change every later event instead: move it, rename its sides, make it a clash.
    changed = ev.copy()
    n = int(later.sum())
    rng = np.random.default_rng(t_index)
    changed.loc[later, "region"] = rng.choice(list(GEOMETRY), n)
    changed.loc[later, "latitude"] = CENTRES["A"][0]
    changed.loc[later, "longitude"] = CENTRES["A"][1]
    changed.loc[later, ["side1", "side2", "category"]] = ["gov", "rebels", "sb"]
    changed.loc[later, "fatalities"] = 99
    changed.loc[later, "date"] = t_end + pd.to_timedelta(rng.integers(1, 60, n), "D")
    moved = positions.copy()
    moved.loc[moved["start_date"] > t_end, "latitude"] = 33.01
    cut2 = build(changed, positions=moved, params=params)

    for other in (cut, cut2):
        after = _features(other, t)
        for f, v in before.items():
            np.testing.assert_array_equal(after[f], v, err_msg=f"{f} at ≤ {t.date()}")


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 150),
    seed=st.integers(0, 2**31),
    freq=st.sampled_from(["W-MON", "MS"]),
    start=st.dates(dt.date(2015, 1, 1), dt.date(2020, 12, 1)),
    days=st.integers(61, 300),
)
def test_panel_properties(n, seed, freq, start, days):
    window = Window(start=start, end=start + dt.timedelta(days=days))
    wide = Window(start=start - dt.timedelta(days=30), end=window.end + dt.timedelta(days=30))
    ev = random_events(n, seed, window=wide)
    ds = build(ev, params=panel_params(freq=freq), window=window)

    # Every region × period exactly once; the complete periods of the window, contiguous.
    periods = pd.DatetimeIndex(ds["period"].values)
    ends = pd.DatetimeIndex(ds["period_end"].values)
    assert ds["region"].to_index().is_unique and periods.is_unique
    assert periods.is_monotonic_increasing
    assert ds["events"].shape == (4, len(periods))
    assert (
        pd.Timestamp(window.start)
        <= periods[0]
        < pd.Timestamp(window.start) + pd.Timedelta(days=31)
    )
    assert pd.Timestamp(window.end) - pd.Timedelta(days=31) < ends[-1] <= pd.Timestamp(window.end)
    assert ((periods[1:] - ends[:-1]) == pd.Timedelta(days=1)).all()

    # Category counts sum to the kept events in the panel's span; the rest are accounted for.
    day = pd.to_datetime(ev["date"]).dt.normalize()
    inside = ev.loc[(day >= periods[0]) & (day <= ends[-1])]
    assert ds.attrs["events_outside_panel"] == len(ev) - len(inside)
    counts = sum(ds[f"count_{c}"] for c in CATEGORIES)
    np.testing.assert_array_equal(counts.values, ds["events"].values)
    assert int(ds["events"].sum()) == len(inside)
    assert int(ds["fatalities"].sum()) == int(inside["fatalities"].sum())
    for c in CATEGORIES:
        assert int(ds[f"count_{c}"].sum()) == int((inside["category"] == c).sum())

    # Clash ≤ events; clash_any is its indicator; decays and counts are non-negative.
    assert (ds["clash"] <= ds["count_sb"]).all() and (ds["clash"] <= ds["events"]).all()
    np.testing.assert_array_equal(ds["clash_any"].values, (ds["clash"].values > 0).astype(np.int8))
    for f in json.loads(ds.attrs["feature_names"]):
        v = ds[f].values
        part = fn.parse(f).part
        if part == "closing_km":  # km closed in the trend window: either sign, NaN when unknown
            continue
        if part == "closing":  # a change of nearness, in [-1, 1]
            assert (np.abs(v) <= 1).all(), f
        elif part == "km":
            assert (v[~np.isnan(v)] >= 0).all()
        elif f.startswith(("clash_share_", "clash_level_")):  # log-odds of a share in (0, 1)
            assert np.isfinite(v).all(), f
        else:
            assert (v >= 0).all(), f


def _event(i, day, region, s1, s2, cat="os"):
    lat, lon = CENTRES[region]
    return {
        "event_id": f"e:{i}",
        "date": pd.Timestamp(day),
        "country": "X",
        "region": region,
        "latitude": lat,
        "longitude": lon,
        "side1": s1,
        "side2": s2,
        "category": cat,
        "fatalities": 0,
    }


def test_copresence_needs_both_sides_and_no_event_between_them():
    # gov and rebels both about in A in the week of 2020-01-13 (each with civilians); a
    # gov–rebels event in A in the week of 2020-02-10 ends co-presence for the window (2 weeks).
    events = pd.DataFrame(
        [
            _event(0, "2020-01-14", "A", "gov", "civ"),
            _event(1, "2020-01-15", "A", "rebels", "civ"),
            _event(2, "2020-02-11", "A", "gov", "rebels", "sb"),
            _event(3, "2020-02-12", "A", "rebels", "civ"),
        ]
    )
    ds = build(events)
    co = ds["prox_gov__rebels_copresent"].sel(region="A").to_series()
    assert co["2020-01-13"] == 1 and co["2020-01-20"] == 1  # the 2-week window
    assert co["2020-01-06"] == 0 and co["2020-01-27"] == 0
    assert co["2020-02-10"] == 0 and co["2020-02-17"] == 0  # they fought: not mere co-presence
    # D lies 2° east of C (> near_km): never counts either side.
    assert (ds["prox_gov__rebels_copresent"].sel(region="D") == 0).all()
    first = ds["prox_gov__rebels_first_contact"].sel(region="A").to_series()
    assert first["2020-01-13"] == 1 and first.sum() == 1  # 2020-02-10 is within contact_memory


def test_contact_categories_are_decayed_counts_of_their_own():
    events = random_events(200, 3)
    ds = build(events, params=panel_params(contact_categories=["ns"], contact_half_life=2))
    from model.data.features import decayed_sum

    expected = np.log1p(decayed_sum(ds["count_ns"].values, 2))
    np.testing.assert_allclose(ds["contact_ns_hl2"].values, expected)
    with pytest.raises(ValueError, match="no category 'riot'"):
        build(events, params=panel_params(contact_categories=["riot"]))

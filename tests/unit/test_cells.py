"""Cells on a hand-built grid (issue 21): gid numbering, membership by area, the coarse-event
rule, the cells' features, the roll-up and the governorate forecast handed down to the cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import logit
from shapely.geometry import box

from model.backtesting.backtest import choose_split
from model.backtesting.baselines import Rates, ewma
from model.backtesting.handed_down import hand_down, handed_down_rows
from model.config import Scenario
from model.data import feature_names as fn
from model.data.cells import cell_features, place_events, rollup_weights
from model.data.cells import cell_space as make_space
from model.inference.rollup import none_within, rollup, rollup_panel, split_label, split_weights
from model.inference.scenarios import scenario_regions

# Two governorates: East is four whole cells (40-41°E, 30-31°N); West is a strip half a cell
# wide (41-41.25°E, 30-30.5°N), so its cell is half inside the study area.
GEOMETRY = {"East": box(40.0, 30.0, 41.0, 31.0), "West": box(41.0, 30.0, 41.25, 30.5)}
COUNTRY = {"East": "Iraq", "West": "Iraq"}
PLACES = pd.DataFrame(
    {"name": ["Town A", "Post B"], "latitude": [30.2, 30.3], "longitude": [40.2, 41.1]}
)


def gid(lat: float, lon: float) -> int:
    """The codebook's formula, written out independently of model.data.grid."""
    return int((np.floor((lat + 90) * 2)) * 720 + np.floor((lon + 180) * 2) + 1)


@pytest.fixture
def space():
    return make_space(GEOMETRY, COUNTRY, PLACES)


def test_cells_are_prio_grid_gids_of_the_polygons_area(space):
    t = space.table
    expected = sorted(gid(la, lo) for la in (30.25, 30.75) for lo in (40.25, 40.75, 41.1))
    assert t["gid"].tolist() == [g for g in expected if g != gid(30.75, 41.1)]
    assert gid(30.25, 40.25) == 173241  # row 241, column 441
    half = t.set_index("gid").loc[gid(30.25, 41.1)]
    assert half["governorate"] == "West" and half["share"] == pytest.approx(0.5, abs=1e-6)
    assert (t.loc[t["gid"] != gid(30.25, 41.1), "governorate"] == "East").all()
    assert t["region"].is_unique and "Town A (East)" in set(t["region"])


def test_neighbours_are_the_first_ring(space):
    by_gid = space.name_of_gid()
    corner = by_gid[gid(30.25, 40.25)]
    assert sorted(space.neighbours[corner]) == sorted(
        by_gid[g] for g in (gid(30.75, 40.25), gid(30.25, 40.75), gid(30.75, 40.75))
    )
    assert space.ring2[corner] == [by_gid[gid(30.25, 41.1)]]


def test_an_event_located_to_its_governorate_gets_no_cell(space):
    events = pd.DataFrame(
        {
            "region": ["East", "East", "West", "East"],
            "latitude": [30.2, 30.6, 30.3, np.nan],
            "longitude": [40.2, 40.6, 41.1, np.nan],
            "located": ["point", "region", "point", "region"],
        }
    )
    placed = place_events(events, space)
    assert placed.region_only == 2 and placed.outside_cells == 0
    assert placed.in_cells["gid"].tolist() == [gid(30.2, 40.2), gid(30.3, 41.1)]
    assert placed.in_cells["governorate"].tolist() == ["East", "West"]
    outside = place_events(events.assign(latitude=[35.0, 30.6, 30.3, np.nan]), space)
    assert outside.outside_cells == 1 and len(outside.in_cells) == 1


def test_cell_features_pool_toward_the_governorate_and_know_its_coarse_clashes(space):
    n_t = 30
    clash = np.zeros((len(space.table), n_t))
    clash[0, ::3] = 1  # one busy cell of East
    gov_clash = np.zeros((2, n_t))
    gov_clash[0, ::3] = 1
    gov_clash[1, 5] = 2  # West: a clash located only to the governorate
    feats = cell_features(clash, gov_clash, space, ["East", "West"], [4.0], prior=2.0)
    assert list(feats) == fn.cell_feature_names([4.0])
    west = space.table.index[space.table["governorate"] == "West"][0]
    assert feats[fn.decay("gov_clash", 4.0)][west, 5] == pytest.approx(np.log1p(2.0))
    # West's one cell is its governorate: nothing to pool toward.
    assert np.allclose(feats[fn.pool("gov", 4.0)][west], 0.0)
    # The busy cell is pulled down toward East's mean, the quiet ones up.
    pool = feats[fn.pool("gov", 4.0)][:, -1]
    east = (space.table["governorate"] == "East").to_numpy()
    assert pool[0] < 0 and (pool[east][1:] > 0).all()


def test_roll_up_of_independent_cells_is_one_minus_the_product(space):
    rng = np.random.default_rng(1)
    p = rng.uniform(0.01, 0.3, size=(len(space.table), 3, 5))
    q = none_within(logit(p), np.zeros(5), cumulative=True)
    assert np.allclose(q, np.cumprod(1 - p, axis=1))
    ones = np.ones((1, len(space.table)))
    expected = 1 - np.prod(1 - p, axis=(0, 1))
    assert np.allclose(rollup(q, ones)[0, -1], expected)
    w = rollup_weights(space, ["East", "West"])
    assert np.allclose(w.sum(axis=0), 1.0)
    assert np.allclose(rollup(q, w)[1], 1 - q[w[1] > 0][0])  # West: its one cell, wholly


def _split_panel(pairs: np.ndarray, periods: pd.DatetimeIndex) -> xr.Dataset:
    """One cell a border splits 70/30 between A and B, one cell wholly in A."""
    area = np.array([[0.7, 1.0], [0.3, 0.0]])
    return xr.Dataset(
        {
            "rollup_weight": (("rollup", "region"), area),
            "rollup_clash": (("rollup", "region", "period"), pairs),
        },
        coords={"rollup": ["A", "B"], "region": ["split", "inside"], "period": periods},
    )


def test_a_border_cells_hazard_splits_by_where_its_clashes_fell():
    periods = pd.date_range("2020-01-06", periods=10, freq="W-MON")
    pairs = np.zeros((2, 2, 10), dtype=np.int16)
    pairs[1, 0, :8] = 1  # the split cell's first eight clashes fell in B, on 30% of its area
    pairs[0, 0, 9] = 5  # five in A after the origin: unknown at it
    pairs[0, 1, 2] = 3
    panel = _split_panel(pairs, periods)
    origin = periods[8]
    area = split_weights(panel, origin, None)
    assert np.allclose(area.values, panel["rollup_weight"].values)
    w = split_weights(panel, origin, 2.0).sel(rollup=["A", "B"], region=["split", "inside"])
    assert np.allclose(w.values[:, 0], [(0 + 2 * 0.7) / 10, (8 + 2 * 0.3) / 10])
    assert np.allclose(w.values[:, 1], [1.0, 0.0])  # a cell wholly inside stays whole
    assert np.allclose(w.sum("rollup"), 1.0)
    # More pseudo-counts pull the split back toward the area shares.
    wide = split_weights(panel, origin, 1e6).sel(rollup="A", region="split")
    assert float(wide) == pytest.approx(0.7, abs=1e-4)
    # A panel without the pair counts (built before them) splits by area.
    old = panel.drop_vars("rollup_clash")
    assert np.allclose(split_weights(old, origin, 2.0).values, panel["rollup_weight"].values)


def test_the_dev_window_chooses_the_split_and_the_test_window_keeps_it():
    dev, test = pd.Timestamp("2020-01-06"), pd.Timestamp("2021-01-04")
    rows = pd.DataFrame(
        {
            "origin": [dev, dev, test, test] * 2,
            "region": ["A", "B"] * 4,
            "y": [1, 0, 0, 1] * 2,
            "model": [0.9, 0.1, 0.5, 0.5, 0.6, 0.4, 0.0, 1.0],
            "split": ["2"] * 4 + ["area"] * 4,
        }
    )
    choice = choose_split(rows, [dev])
    # "2" is better on the dev window (Brier 0.01 against 0.16), worse on test: still chosen.
    assert choice.chosen == "2" and choice.dev_brier == {"2": 0.01, "area": 0.16}
    assert "split" not in choice.rows and len(choice.rows) == 4
    assert choice.rows["model"].tolist() == [0.9, 0.1, 0.5, 0.5]
    assert choose_split(rows, []).chosen == "area" == split_label(None)


def test_a_shared_block_effect_makes_the_roll_up_lower():
    eta = np.full((1, 4, 1), logit(0.2))
    independent = 1 - none_within(eta, np.zeros(1))[0, -1, 0]
    shared = 1 - none_within(eta, np.array([1.5]))[0, -1, 0]
    assert shared < independent
    assert np.isclose(1 - none_within(eta, np.zeros(1), cumulative=False)[0, 0, 0], 0.2)


def test_a_scenario_names_a_governorate_for_its_cells(space):
    t = space.table
    panel = xr.Dataset(
        coords={
            "region": t["region"].to_numpy(),
            "governorate": ("region", t["governorate"].to_numpy()),
            "gid": ("region", t["gid"].to_numpy()),
        }
    )
    change = [{"feature": "clash", "shift": 1}]
    sc = Scenario(name="s", description="", regions=["East", str(gid(30.25, 41.1))], changes=change)
    east = t["region"][t["governorate"] == "East"].tolist()
    west = t["region"][t["governorate"] == "West"].tolist()
    assert scenario_regions(panel, sc) == [*east, *west]
    with pytest.raises(ValueError, match="unknown regions"):
        scenario_regions(panel, sc.model_copy(update={"regions": ["Nowhere"]}))


def test_a_governorate_forecast_handed_down_splits_by_area(space):
    w = rollup_weights(space, ["East", "West"])
    majority = np.array([0 if g == "East" else 1 for g in space.table["governorate"]])
    p_gov = np.array([0.4, 0.1])
    out = hand_down(p_gov, w, majority)
    assert np.allclose(out["governorate"], np.where(majority == 0, 0.4, 0.1))
    # Spread as a constant hazard over the governorate's cells: independent cells with the
    # split forecasts roll up to the governorate's own probability (no cell is split here).
    q = (1 - out["split"])[:, None, None]
    assert np.allclose(rollup(q, w)[:, 0, 0], p_gov)
    # East's four whole cells share its hazard equally; West's half cell is West whole.
    assert np.allclose(out["split"][majority == 0], 1 - 0.6**0.25)
    assert np.allclose(out["split"][majority == 1], 0.1)


def test_handed_down_rows_use_the_governorates_past_only(space):
    t = space.table
    periods = pd.date_range("2020-01-06", periods=30, freq="W-MON")
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=(2, len(periods))) < 0.3).astype(np.int8)
    panel = xr.Dataset(
        {
            "rollup_clash_any": (("rollup", "period"), y),
            "rollup_weight": (("rollup", "region"), rollup_weights(space, ["East", "West"])),
        },
        coords={
            "region": t["region"].to_numpy(),
            "period": periods,
            "rollup": ["East", "West"],
            "governorate": ("region", t["governorate"].to_numpy()),
        },
    )
    origin = periods[20]
    steps = pd.DataFrame(
        [(origin, r, h, 0, 0.1) for r in t["region"] for h in (1, 2)],
        columns=["origin", "region", "horizon", "y", "model"],
    )
    within = steps[steps["horizon"] == 1].drop(columns="horizon")
    rates = Rates(window=10, half_life=4.0, prior_strength=2.0)
    a = handed_down_rows(panel, steps, within, rates)
    later = panel.copy(deep=True)
    later["rollup_clash_any"][:, 21:] = 1 - later["rollup_clash_any"][:, 21:]
    b = handed_down_rows(later, steps, within, rates)
    for x, z in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, z)
    east = a[0]["region"].isin(t["region"][t["governorate"] == "East"])
    gov_ewma = ewma(rollup_panel(panel), origin, 2, rates).sel(region="East").values[0]
    assert np.allclose(a[0].loc[east, "governorate"], gov_ewma)
    assert len(a[0]) == len(steps) and not a[0].isna().any().any()

"""The evidence behind the proximity indicators: the closest opposing events and positions."""

import numpy as np
import pandas as pd
import pytest
import shapely

from model.config import ProximityPair
from model.data.regions import haversine_km
from model.reporting.evidence import COLUMNS, pair_evidence, proximity_evidence

GEOM = {"w": shapely.box(0, 0, 1, 1), "e": shapely.box(1, 0, 2, 1), "far": shapely.box(9, 0, 10, 1)}


def _events():
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2020-01-14", "2020-01-08", "2019-12-01", "2020-01-15"]),
            "latitude": [0.5, 0.5, 0.5, 0.5],
            "longitude": [0.3, 0.9, 0.2, 1.5],
            "region": ["w", "w", "w", "e"],
            "actor1": ["<b>Rebels</b>", "Rebels", "Rebels", "Army"],
            "actor2": ["Civilians", "Army", "Civilians", "Civilians"],
            "side1": ["b", "b", "b", "a"],
            "side2": ["civ", "a", "civ", "civ"],
            "category": ["os", "sb", "os", "os"],
            "source_row": ["f.csv:2", "f.csv:3", "f.csv:4", "f.csv:5"],
        }
    )


def _positions():
    return pd.DataFrame(
        {
            "side": ["a", "a", "a"],
            "name": ["Base W", "Old post", "Far base"],
            "kind": ["base", "outpost", "base"],
            "latitude": [0.5, 0.5, 0.5],
            "longitude": [0.1, 0.2, 9.5],
            "start_date": pd.to_datetime(["2019-01-01", "2019-01-01", None]),
            "end_date": pd.to_datetime([None, "2019-12-31", None]),
        }
    )


def test_closest_b_events_and_active_positions_per_region():
    pair = ProximityPair(a="a", b="b", window=2, near_km=50)
    out = pair_evidence(
        _events(),
        _positions(),
        GEOM,
        ["w", "e", "far"],
        pair,
        (pd.Timestamp("2020-01-13"), pd.Timestamp("2020-01-19")),
        pd.Timestamp("2020-01-06"),
    )
    assert list(out.columns) == list(COLUMNS)
    w = out.loc[out["region"] == "w"]
    ev = w.loc[w["kind"] == "event"]
    # The two B events of the window (the 2019 one is outside it), closest first. The
    # rebels-army event is A's too (both sides at one place): 0 km, as the panel measures it.
    assert ev["date"].tolist() == ["2020-01-08", "2020-01-14"]
    assert ev["distance_km"].iloc[0] == 0.0
    d_base = haversine_km(0.5, 0.3, 0.5, 0.1)
    assert ev["distance_km"].iloc[1] == pytest.approx(round(d_base, 1))
    assert ev["nearest"].iloc[1] == "Base W (base)"
    assert ev["actor1"].iloc[1] == "<b>Rebels</b>"  # kept as written; the report escapes it
    pos = w.loc[w["kind"] == "position"]
    assert pos["name"].tolist() == ["Base W"]  # the old post ended in 2019
    assert pos["category"].tolist() == ["base"]
    # The far region has an active base and no B event near it: the base is listed with its
    # distance to the nearest B event of the window, wherever it is.
    far = out.loc[out["region"] == "far"]
    assert far["kind"].tolist() == ["position"]
    assert far["distance_km"].iloc[0] == pytest.approx(round(haversine_km(0.5, 9.5, 0.5, 0.9), 1))


def test_every_pair_at_the_origin_and_an_empty_result_keeps_its_columns():
    starts = pd.date_range("2020-01-06", periods=3, freq="W-MON")
    ends = starts + pd.Timedelta(days=6)
    pairs = [ProximityPair(a="a", b="b", window=1, near_km=50)]
    out = proximity_evidence(_events(), _positions(), GEOM, ["w", "e"], pairs, starts, ends, 1)
    assert out.loc[out["kind"] == "event", "date"].tolist() == ["2020-01-14"]
    none = proximity_evidence(_events().iloc[:0], _positions().iloc[:0], GEOM, ["w"], pairs,
                              starts, ends, 1)  # fmt: skip
    assert list(none.columns) == list(COLUMNS) and none.empty
    no_b = proximity_evidence(_events().iloc[3:], _positions(), GEOM, ["w"], pairs, starts, ends, 1)
    assert no_b["kind"].tolist() == ["position"] and np.isnan(no_b["distance_km"].iloc[0])

"""UCDP GED, points, canonical and positions adapters on small fixtures.

tests/data/ucdp_ged_hdx_sample.csv has the real GED header and HXL row, one real GED row (id
114064) and rows derived from it with edited fields (synthetic); so has
tests/data/ucdp_ged_inconsistent_rows.csv (rows 9001xx: dates and fatality ranges edited to
contradict themselves). The other fixtures are synthetic.
"""

import pandas as pd
import pytest
from conftest import ALIASES, DATA, IRAQ_BOUNDARY, ROOT, SYRIA_BOUNDARY

from model.config import IngestParams
from model.data.regions import load_regions
from model.data.schema import EVENTS, POSITIONS, validate
from model.data.sources import canonical, points, ucdp_ged
from model.data.sources.common import SourceContext
from model.data.sources.positions import read_positions
from model.errors import StageError

IRAQ, SYRIA = IRAQ_BOUNDARY, SYRIA_BOUNDARY
BASE = {
    "window": {"start": "2006-01-01", "end": "2018-12-31"},
    "regions": {"boundaries": [IRAQ, SYRIA], "aliases": ALIASES},
    "sides": {
        "government": [
            "Government of Iraq",
            "re:Government of (United States of America|United Kingdom|Australia)"
            "(, Government of (United States of America|United Kingdom|Australia))*",
        ],
        "armed_group": ["IS"],
        "kurdish": ["PKK", "KDP"],
        "militia": ["Kataib Hezbollah"],
        "us": ["re:Military Forces of the United States.*"],
    },
    "categories": {
        "ucdp_ged": {"1": "state_based", "2": "non_state", "3": "one_sided"},
        "points": {"Airstrike": "air_strike", "SOF": "show_of_force"},
        "acled": {"Battles": "armed_clash", "Explosions/Remote violence": "strike"},
    },
    "position_sides": ["us_coalition", "iran_aligned", "sdf", "syrian_government"],
}


@pytest.fixture(scope="module")
def regions():
    return load_regions(
        IngestParams.model_validate({**BASE, "sources": [_src("x", "canonical")]}).regions, ROOT
    )


def _src(name: str, fmt: str, **kw) -> dict:
    return {"name": "t", "path": str(DATA / name), "format": fmt, **kw}


def run(adapter, regions, name, fmt, **kw):
    ip = IngestParams.model_validate({**BASE, "sources": [_src(name, fmt, **kw)]})
    res = adapter.read(SourceContext(ip.sources[0], ip, regions, ROOT))
    s = res.stats
    assert s["rows_read"] == s["rows_kept"] + s["rows_rejected"]
    validate(res.events, EVENTS)
    return res


def test_ged_sample(regions):
    ev, rej, stats = run(ucdp_ged, regions, "ucdp_ged_hdx_sample.csv", "ucdp_ged")
    assert stats["rows_read"] == 8 and any("HXL" in n for n in stats["notes"])
    got = ev.set_index("event_id")
    assert got.loc["t:114064", ["region", "side1", "side2", "category", "fatalities"]].tolist() == [
        "Al-Anbar",
        "government",
        "armed_group",
        "state_based",
        8,
    ]
    assert got.loc["t:900001", "region"] == "Ninawa"
    assert got.loc["t:900002", ["region", "placed_by"]].tolist() == ["Kirkuk", "name"]  # At-Ta'mim
    assert got.loc["t:900003", "region"] == "Ninawa" and stats["region_disagreements"] == 1
    assert got.loc["t:900004", ["category", "side2"]].tolist() == ["one_sided", "other"]
    assert got.loc["t:900005", ["side1", "side2", "region"]].tolist() == [
        "kurdish",
        "kurdish",
        "Dohuk",
    ]
    assert dict(zip(rej["line"], rej["reason"], strict=True)) == {
        9: "outside window",
        10: "unknown category",
    }
    assert rej.set_index("line").loc[10, "value"] == "4"


def test_ged_rows_that_contradict_themselves_are_quarantined(regions):
    ev, rej, stats = run(ucdp_ged, regions, "ucdp_ged_inconsistent_rows.csv", "ucdp_ged")
    assert sorted(ev["event_id"]) == ["t:114064", "t:900104", "t:900106"]
    got = {(r.line, r.field, r.value, r.reason) for r in rej.itertuples()}
    assert got == {
        (
            4,
            "date_end",
            "date_end=2014-01-20 < date_start=2014-01-24",
            "date_end before date_start",
        ),
        (5, "best", "best=8, low=9, high=12", "best outside low..high"),
        (6, "best", "best=8, low=2, high=5", "best outside low..high"),
        (8, "date_end", "2014-02-30", "date impossible"),
    }
    assert stats["reasons"] == {
        "best outside low..high": 2,
        "date impossible": 1,
        "date_end before date_start": 1,
    }


def test_ged_shipped_file_accounts_for_every_row(regions):
    ip = IngestParams.model_validate(
        {
            **BASE,
            "window": {"start": "2014-01-01", "end": "2018-12-31"},
            "sources": [
                {
                    "name": "ged",
                    "path": "data/raw/ucdp_ged/conflict_data_irq.csv",
                    "format": "ucdp_ged",
                }
            ],
        }
    )
    ev, _, s = ucdp_ged.read(SourceContext(ip.sources[0], ip, regions, ROOT))
    assert s["rows_read"] == 7473 == s["rows_kept"] + s["rows_rejected"]
    assert s["reasons"]["outside window"] > 4000 and len(ev) > 3000
    assert ev["date"].min() >= pd.Timestamp("2014-01-01")
    # GED's own inconsistencies in this file: 69 rows with best outside low..high (mostly high
    # one below low and best), none ending before it starts
    assert s["reasons"]["best outside low..high"] == 69
    assert "date_end before date_start" not in s["reasons"]


def test_points_stream(regions):
    ev, rej, _ = run(points, regions, "points_air_operations.csv", "points", side="us")
    assert list(ev["event_id"]) == ["t:2", "t:3", "t:4"]
    assert set(ev["side1"]) == {"us"} and set(ev["actor1"]) == {""} and set(ev["side2"]) == {""}
    assert list(ev["category"]) == ["air_strike", "show_of_force", "air_strike"]
    assert dict(zip(rej["line"], rej["reason"], strict=True)) == {
        5: "unknown category",
        6: "date impossible",
        7: "missing value",
    }


def test_points_need_a_category_map(regions):
    ip = IngestParams.model_validate(
        {
            **BASE,
            "categories": {"ucdp_ged": {"1": "x"}},
            "sources": [_src("points_air_operations.csv", "points", side="us")],
        }
    )
    with pytest.raises(StageError, match="no map for format 'points'"):
        points.read(SourceContext(ip.sources[0], ip, regions, ROOT))


def test_canonical(regions):
    ev, rej, _ = run(canonical, regions, "canonical_events.csv", "canonical")
    got = ev.set_index("event_id")
    assert got.loc["t:c1", ["region", "side1", "side2", "category"]].tolist() == [
        "Ninawa",
        "us",
        "armed_group",
        "armed_clash",
    ]
    assert got.loc["t:c2", ["region", "placed_by", "side1", "side2"]].tolist() == [
        "Kirkuk",
        "name",
        "militia",
        "",
    ]
    assert dict(zip(rej["line"], rej["reason"], strict=True)) == {
        4: "unknown category",
        5: "no coordinates or region name",
    }


def test_canonical_needs_region_or_coordinates(tmp_path, regions):
    (tmp_path / "c.csv").write_text(
        "event_id,date,actor1,category,fatalities\n1,2018-01-01,IS,armed_clash,0\n"
    )
    ip = IngestParams.model_validate(
        {**BASE, "sources": [{"name": "c", "path": str(tmp_path / "c.csv"), "format": "canonical"}]}
    )
    with pytest.raises(StageError, match=r"c\.csv:1: field=region"):
        canonical.read(SourceContext(ip.sources[0], ip, regions, ROOT))


def test_shipped_positions(regions):
    ip = IngestParams.model_validate({**BASE, "sources": [_src("x", "canonical")]})
    pos, rej, stats = read_positions(
        ROOT / "data/raw/positions/positions.csv", "positions.csv", ip, regions
    )
    validate(pos, POSITIONS)
    assert len(pos) == 34 and rej.empty and stats["rows_read"] == 34
    tower = pos.set_index("name").loc["Tower 22 (Jordan)"]
    assert pd.isna(tower["region"]) and tower["country"] == "Jordan"
    tanf = pos.set_index("name").loc["Al-Tanf garrison"]
    assert tanf["start_date"] == pd.Timestamp("2016-03-03") and pd.isna(tanf["end_date"])


def test_bad_positions(regions):
    ip = IngestParams.model_validate({**BASE, "sources": [_src("x", "canonical")]})
    pos, rej, _ = read_positions(
        DATA / "positions_bad_rows.csv", "positions_bad_rows.csv", ip, regions
    )
    assert list(pos["name"]) == ["Al-Tanf garrison", "Tower 22"]
    by = {int(k): set(v) for k, v in rej.groupby("line")["reason"]}
    assert by == {
        4: {"unknown side", "coordinate out of range"},
        5: {"end_date before start_date"},
        6: {"date impossible"},
    }


def test_ged_where_prec_says_whether_an_event_is_located_to_a_point_or_a_region(regions):
    ev, rej, stats = run(ucdp_ged, regions, "ucdp_ged_where_prec.csv", "ucdp_ged")
    got = dict(zip(ev["event_id"].str.removeprefix("t:"), ev["located"], strict=True))
    assert got == {
        "1": "point",
        "2": "point",
        "3": "point",  # the district
        "4": "region",  # the governorate
        "5": "region",  # written 4.0
        "6": "region",  # a larger area
        "7": "region",  # the country
        "8": "region",  # a lake
        "9": "point",  # blank, with coordinates
        "10": "region",  # no coordinates: placed by its adm_1 name, whatever where_prec says
    }
    quarantined = {(r.line, r.field, r.value, r.reason) for r in rej.itertuples()}
    reason = "location precision not one of 1, 2, 3, 4, 5, 6, 7"
    assert quarantined == {
        (12, "where_prec", "8", reason),
        (13, "where_prec", "exact", reason),
        (14, "where_prec", "0", reason),
    }
    assert stats["located"] == {"point": 4, "region": 6}
    assert stats["reasons"] == {reason: 3}


def test_ged_without_where_prec_is_located_by_its_coordinates(tmp_path, regions):
    ged = pd.read_csv(DATA / "ucdp_ged_where_prec.csv", dtype=str, keep_default_na=False)
    ged.drop(columns="where_prec").to_csv(tmp_path / "no_where_prec.csv", index=False)
    ev, rej, stats = run(ucdp_ged, regions, str(tmp_path / "no_where_prec.csv"), "ucdp_ged")
    assert rej.empty and stats["located"] == {"point": 12, "region": 1}
    assert ev.set_index("event_id").loc["t:10", "located"] == "region"  # no coordinates


def test_points_are_located_to_points(regions):
    ev, _, stats = run(points, regions, "points_air_operations.csv", "points", side="us")
    assert set(ev["located"]) == {"point"} and stats["located"] == {"point": 3, "region": 0}


def test_canonical_located(regions):
    ev, rej, stats = run(canonical, regions, "canonical_located.csv", "canonical")
    got = dict(zip(ev["event_id"], ev["located"], strict=True))
    assert got == {
        "t:p1": "point",
        "t:r1": "region",
        "t:r2": "region",  # compared without case
        "t:b1": "point",  # blank, with coordinates
        "t:b2": "region",  # blank, placed by its region's name
        "t:n1": "region",  # no coordinates, whatever the file says
    }
    assert [(r.line, r.field, r.value, r.reason) for r in rej.itertuples()] == [
        (8, "located", "cell", "location precision not one of point, region")
    ]
    assert stats["located"] == {"point": 2, "region": 4}

"""ACLED adapter, and through it the shared checks: every bad-input case of issue 2.

The fixtures in tests/data/acled_*.csv are synthetic rows in ACLED's real column layout.
"""

from pathlib import Path

import pandas as pd
import pytest
from conftest import ALIASES, DATA, IRAQ_BOUNDARY, ROOT, SYRIA_BOUNDARY

from model.config import IngestParams
from model.data.regions import load_regions
from model.data.schema import EVENTS, validate
from model.data.sources import acled
from model.data.sources.common import SourceContext
from model.errors import StageError

IRAQ, SYRIA = IRAQ_BOUNDARY, SYRIA_BOUNDARY
BASE = {
    "window": {"start": "2014-01-01", "end": "2024-12-31"},
    "regions": {"boundaries": [IRAQ, SYRIA], "aliases": ALIASES},
    "sides": {
        "us": ["re:Military Forces of the United States.*"],
        "militia": ["re:Kataib.*", "re:.*Hezbollah.*"],
        "partner": ["re:.* of the Coalition"],
    },
    "categories": {
        "acled": {
            "Battles": "armed_clash",
            "Explosions/Remote violence": "strike",
            "explosions/remote violence/air/drone strike": "air_strike",
        }
    },
}
_REGIONS = {}


def read(name: str, **over) -> tuple:
    raw = {**BASE, **over, "sources": [{"name": "t", "path": str(DATA / name), "format": "acled"}]}
    ip = IngestParams.model_validate(raw)
    if "r" not in _REGIONS:
        _REGIONS["r"] = load_regions(ip.regions, ROOT)
    res = acled.read(SourceContext(ip.sources[0], ip, _REGIONS["r"], ROOT))
    s = res.stats
    assert s["rows_read"] == s["rows_kept"] + s["rows_rejected"]
    assert s["rows_rejected"] == res.rejected["line"].nunique()
    validate(res.events, EVENTS)
    return res


def reasons_by_line(rejected: pd.DataFrame) -> dict[int, set[str]]:
    return {int(k): set(v) for k, v in rejected.groupby("line")["reason"]}


def test_clean_file_gives_canonical_events():
    ev, rej, stats = read("acled_clean.csv")
    assert rej.empty and stats["rows_read"] == 3 and stats["encoding"] == "utf-8"
    assert list(ev["event_id"]) == ["t:SYR1", "t:SYR2", "t:IRQ1"]
    assert list(ev["date"].dt.strftime("%Y-%m-%d")) == ["2018-03-01", "2017-05-18", "2018-03-01"]
    assert list(ev["region"]) == ["Deir-ez-Zor", "Deir-ez-Zor", "Al-Anbar"]
    assert list(ev["region_id"]) == ["SY09", "SY09", "IQ-AN"]
    assert set(ev["side1"]) == {"us"} and set(ev["side2"]) == {"militia"}
    assert set(ev["category"]) == {"armed_clash"} and set(ev["placed_by"]) == {"polygon"}
    assert ev["source_row"].iloc[0].endswith("acled_clean.csv:2")


def test_bad_dates_are_quarantined_with_their_reason():
    ev, rej, stats = read("acled_bad_dates.csv")
    by = reasons_by_line(rej)
    assert by == {
        3: {"date impossible"},  # 2017-02-30
        4: {"date not parseable"},
        5: {"outside window"},
        7: {"missing value"},
        8: {"date impossible"},  # 31 June 2018
    }
    assert set(rej["field"]) == {"event_date"}
    assert list(ev["event_id"]) == ["t:D1", "t:D5"]
    assert stats["reasons"]["outside window"] == 1


def test_bad_coordinates():
    ev, rej, _ = read("acled_bad_coordinates.csv")
    by = reasons_by_line(rej)
    assert by == {
        3: {"coordinate not numeric"},
        4: {"coordinate out of range"},
        5: {"coordinate out of range"},
        6: {"outside every region"},  # Paris, no admin1
        8: {"missing value"},  # latitude without longitude
    }
    c6 = ev.set_index("event_id").loc["t:C6"]  # blank coordinates: placed by its admin1 name
    assert c6["region"] == "Deir-ez-Zor" and c6["placed_by"] == "name" and pd.isna(c6["latitude"])


def test_region_names_and_disagreements():
    ev, rej, stats = read("acled_unknown_region.csv")
    by = reasons_by_line(rej)
    assert by == {
        3: {"unknown region name"},
        4: {"no coordinates or region name"},
        6: {"outside every region", "unknown region name"},
    }
    got = ev.set_index("event_id")
    assert got.loc["t:R1", "region"] == "Deir-ez-Zor" and got.loc["t:R1", "placed_by"] == "name"
    # R4: the point is in Al-Hasakeh, the name says Raqqa: the polygon wins, counted
    assert got.loc["t:R4", "region"] == "Al-Hasakeh"
    assert stats["region_disagreements"] == 1


def test_fatalities():
    ev, rej, _ = read("acled_bad_fatalities.csv")
    assert reasons_by_line(rej) == {
        3: {"fatalities negative"},
        4: {"fatalities not an integer"},
        5: {"fatalities not an integer"},
    }
    assert dict(zip(ev["event_id"], ev["fatalities"], strict=True)) == {
        "t:F1": 0,
        "t:F5": 4,
        "t:F6": 0,
    }


def test_duplicate_ids_keep_the_first():
    ev, rej, stats = read("acled_duplicate_ids.csv")
    assert reasons_by_line(rej) == {
        4: {"duplicate event id"},
        5: {"duplicate event id"},
        6: {"missing value"},
    }
    assert stats["duplicates"] == 2
    assert list(ev["event_id"]) == ["t:DUP1", "t:DUP2"]
    assert ev["source_row"].iloc[0].endswith(":2")


def test_actor_matching_two_sides_is_quarantined_and_unknown_actor_gets_unknown_side():
    ev, rej, _ = read("acled_actor_two_sides.csv")
    assert reasons_by_line(rej) == {3: {"actor matches two sides"}}
    assert "militia, partner" in rej["value"].iloc[0] and rej["field"].iloc[0] == "actor2"
    assert ev.set_index("event_id").loc["t:A3", "side1"] == "other"


def test_unknown_actor_quarantined_when_unknown_side_is_none():
    _, rej, _ = read("acled_actor_two_sides.csv", unknown_side=None)
    assert reasons_by_line(rej)[4] == {"actor matches no side"}


@pytest.mark.parametrize(
    ("name", "match"),
    [
        (
            "acled_renamed_columns.csv",
            r"acled_renamed_columns\.csv:1: "
            r"field='event_date' \(renamed to 'date_of_event'\?\), 'fatalities'",
        ),
        ("acled_empty.csv", r"acled_empty\.csv:1: empty file"),
        ("acled_header_only.csv", r"acled_header_only\.csv:2: header only"),
        ("no_such_file.csv", r"no_such_file\.csv: file not found"),
    ],
)
def test_file_level_problems_stop_with_file_line_field(name, match):
    with pytest.raises(StageError, match=match):
        read(name)


def test_no_category_map_is_a_clear_error():
    with pytest.raises(StageError, match="no map for format 'acled'"):
        read("acled_clean.csv", categories={"points": {"x": "y"}})


def test_utf8_bom():
    ev, rej, stats = read("acled_utf8_bom.csv")
    assert rej.empty and len(ev) == 2 and stats["encoding"] == "utf-8-sig"


def test_latin1_file_is_decoded_and_said_so():
    ev, rej, stats = read("acled_latin1.csv")
    assert stats["encoding"] == "cp1252" and any("cp1252" in n for n in stats["notes"])
    assert list(ev["event_id"]) == ["t:L1"]
    assert rej["value"].tolist() == ["Homés"] and rej["reason"].tolist() == ["unknown region name"]


def test_ragged_and_empty_rows():
    ev, rej, stats = read("acled_ragged_rows.csv")
    assert stats["rows_read"] == 4 and len(ev) == 2
    assert reasons_by_line(rej) == {4: {"wrong number of fields"}, 5: {"empty row"}}


def test_one_megabyte_field_rejects_that_row_only(tmp_path: Path):
    text = (DATA / "acled_clean.csv").read_text(encoding="utf-8").splitlines()
    header, first = text[0], text[1]
    cols = header.split(",")
    huge = first.replace(",synthetic,", ',"' + "x" * 1_048_576 + '",')
    assert huge != first and cols.index("notes") > 0
    (tmp_path / "huge.csv").write_text(
        "\n".join([header, huge, *text[2:]]) + "\n", encoding="utf-8"
    )
    ev, rej, _ = read(str(tmp_path / "huge.csv"))
    assert len(ev) == 2 and rej["line"].tolist() == [2]
    assert rej["reason"].iloc[0] == "field too large" and rej["field"].iloc[0] == "notes"
    assert len(rej["value"].iloc[0]) < 200


def test_formula_payload_kept_as_text_in_events():
    ev, rej, _ = read("acled_formula_payload.csv")
    assert ev.set_index("event_id").loc["t:P1", "actor2"].startswith("=HYPERLINK(")
    assert rej["value"].str.startswith("=").any()  # neutralised only when written (stage)


def test_category_specific_key_wins_and_is_case_insensitive():
    et = pd.Series(["Explosions/Remote violence", "Explosions/Remote violence", "Battles", "Riots"])
    sub = pd.Series(["Air/drone strike", "Grenade", "", "Mob violence"])
    cats = {
        "Battles": "armed_clash",
        "Explosions/Remote violence": "strike",
        "EXPLOSIONS/remote violence/air/DRONE strike": "air",
    }
    category, key = acled.categorise(et, sub, cats)
    assert category.tolist()[:3] == ["air", "strike", "armed_clash"] and pd.isna(category.iloc[3])
    assert key.tolist()[3] == "Riots/Mob violence"


def test_geo_precision_says_whether_an_event_is_located_to_a_point_or_a_region():
    ev, rej, stats = read("acled_geo_precision.csv")
    got = dict(zip(ev["event_id"], ev["located"], strict=True))
    assert got == {
        "t:G1": "point",
        "t:G2": "point",
        "t:G3": "region",  # only the province: ACLED gives its capital's coordinates
        "t:GB": "point",  # blank, with coordinates
        "t:G2F": "point",  # 2.0 reads as 2
        "t:GN": "region",  # no coordinates: placed by its admin1 name, whatever the code
    }
    assert set(rej["field"]) == {"geo_precision"}
    assert dict(zip(rej["value"], rej["reason"], strict=True)) == {
        "4": "location precision not one of 1, 2, 3",
        "near": "location precision not one of 1, 2, 3",
    }
    assert stats["located"] == {"point": 4, "region": 2}


def test_a_file_without_geo_precision_locates_its_points_to_points(tmp_path: Path):
    clean = pd.read_csv(DATA / "acled_clean.csv", dtype=str, keep_default_na=False)
    clean.drop(columns="geo_precision").to_csv(tmp_path / "no_precision.csv", index=False)
    ev, rej, stats = read(str(tmp_path / "no_precision.csv"))
    assert rej.empty and set(ev["located"]) == {"point"}
    assert stats["located"] == {"point": 3, "region": 0}

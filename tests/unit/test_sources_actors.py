"""The actor listing (``clashcast actors``) and the side coverage that ingest records.

tests/data/acled_actors_and_associates.csv is synthetic: six ACLED rows in the real column
layout, written so that each way an actor gets its side occurs (exact, contains:, re:, via its
associates, partly via them, ambiguous, unknown, only ever an associate).
"""

from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, IRAQ_BOUNDARY, ROOT

from model.cli import main
from model.config import IngestParams
from model.data.sources.actors import (
    actors_report,
    read_actors,
    side_coverage,
    unmatched_warnings,
)
from model.errors import StageError

FILE = DATA / "acled_actors_and_associates.csv"
SIDES = {
    "us": ["re:Military Forces of the United States.*", "contains:QSD:", "re:.*Coalition.*"],
    "iran": ["contains:Hezbollah", "Militia (Pro-Iran)"],
    "is": ["Islamic State (Syria)"],
    "civ": ["contains:Civilians"],
}


def params(**over) -> IngestParams:
    raw = {
        "window": {"start": "2014-01-01", "end": "2024-12-31"},
        "regions": {"boundaries": [IRAQ_BOUNDARY]},
        "sources": [{"name": "t", "path": "x.csv", "format": "acled"}],
        "sides": SIDES,
        **over,
    }
    return IngestParams.model_validate(raw)


def test_every_actor_with_its_counts_side_and_why():
    _, table = read_actors(FILE, "acled", params())
    got = table.set_index("actor")
    assert list(table["actor"]) == [
        "QSD: Syrian Democratic Forces",  # 1 as actor + 2 as associate
        "Islamic State (Syria)",
        "Kataib Hezbollah",
        "Military Forces of the United States (2021-)",
        "Unidentified Armed Group (Syria)",
        "Civilians (Syria)",
        "Hezbollah",
        "Jaysh al Izza",
        "Kataib Hezbollah Coalition Unit",
        "Militia (Pro-Iran)",
        "Tribal Militia (Syria)",
    ]
    expect = {
        "QSD: Syrian Democratic Forces": (1, 2, "us", "pattern contains:QSD:", False, 0),
        # actor1 and actor2 in the same row: one row
        "Islamic State (Syria)": (2, 0, "is", "exact", False, 0),
        "Kataib Hezbollah": (1, 1, "iran", "pattern contains:Hezbollah", False, 0),
        "Military Forces of the United States (2021-)": (
            2, 0, "us", "pattern re:Military Forces of the United States.*", False, 0,
        ),
        "Unidentified Armed Group (Syria)": (
            2, 0, "other", "unknown; 1 of 2 via associates (iran)", True, 1,
        ),
        "Tribal Militia (Syria)": (1, 0, "us", "via associates", False, 0),
        "Kataib Hezbollah Coalition Unit": (
            1, 0, "(quarantined)",
            "ambiguous: sides iran, us (contains:Hezbollah, re:.*Coalition.*)", False, 0,
        ),
        # named twice in one row's associates: one row
        "Jaysh al Izza": (0, 1, "other", "unknown (only an associate)", True, 0),
        "Militia (Pro-Iran)": (0, 1, "iran", "exact", False, 0),
    }  # fmt: skip
    for name, row in expect.items():
        assert tuple(got.loc[name]) == row, name


def test_unmatched_actors_and_the_report_lines(capsys):
    lines = actors_report(FILE, "acled", params(), unmatched=True)
    assert lines == [
        f"{FILE.as_posix()}: 6 rows, 11 actors; 2 match no side, and 1 of their places as actor "
        "fall to side 'other'. Counts are rows of the file (window and regions not applied): "
        "'as actor' as either actor, 'assoc' among the associates.",
        "as actor   assoc  side   actor                             why",
        "       2       0  other  Unidentified Armed Group (Syria)  "
        "unknown; 1 of 2 via associates (iran)",
        "       0       1  other  Jaysh al Izza                     unknown (only an associate)",
    ]
    strict = read_actors(FILE, "acled", params(unknown_side=None))[1].set_index("actor")
    assert strict.loc["Unidentified Armed Group (Syria)", "side"] == "(quarantined)"
    rc = main(["actors", str(FILE), "--format", "acled", "--params", str(ROOT / "params.yaml")])
    out = capsys.readouterr().out
    assert rc == 0 and "Military Forces of the United States (2021-)" in out


def test_formats_without_actors_or_bad_files_say_so(tmp_path: Path, capsys):
    points = actors_report(DATA / "points_air_operations.csv", "points", params())
    assert points == [
        f"{(DATA / 'points_air_operations.csv').as_posix()}: a points file has no actors: "
        "its side is the source's `side` in params"
    ]
    ged = read_actors(DATA / "ucdp_ged_hdx_sample.csv", "ucdp_ged", params())[1]
    assert ged.set_index("actor").loc["IS", ["as_actor", "side"]].tolist() == [6, "other"]
    bad = tmp_path / "renamed.csv"
    bad.write_text("event_id_cnty,perpetrator\nX1,Someone\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"renamed\.csv:1: field='actor1'"):
        read_actors(bad, "acled", params())
    rc = main(["actors", str(bad), "--format", "acled", "--params", str(ROOT / "params.yaml")])
    assert rc == 2 and "renamed.csv:1: field='actor1'" in capsys.readouterr().err


def _events(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    a1, s1, a2, s2 = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "actor1": a1,
            "side1": s1,
            "actor2": a2,
            "side2": s2,
        }
    )


def test_side_coverage_and_the_warning_about_big_unmatched_actors():
    events = _events(
        [
            ("US", "us", "KH", "iran"),
            ("US", "us", "Unknown group", "other"),
            ("Unknown group", "other", "Civilians", "civ"),
            ("Unknown group", "other", "Unknown group", "other"),  # one event, not two
            ("Tiny group", "other", "", ""),
            ("Air operations", "us", "", ""),
        ]
    )
    cov = side_coverage(events, "other")
    assert cov["sides"]["us"] == {
        "events": 3,
        "actors": 2,
        "top_actors": [["US", 2], ["Air operations", 1]],
    }
    assert cov["sides"]["iran"] == {"events": 1, "actors": 1, "top_actors": [["KH", 1]]}
    assert cov["sides"]["other"]["events"] == 4
    assert cov["unknown_side"] == "other"
    assert cov["unknown_side_top"] == [["Unknown group", 3], ["Tiny group", 1]]
    warnings = unmatched_warnings(cov, ("us", "iran"))
    assert len(warnings) == 1
    assert warnings[0].startswith(
        "actor 'Unknown group' matches no side and is in 3 kept events, more than clash side "
        "'iran' (1)"
    )
    assert side_coverage(events, None)["unknown_side_top"] == []
    assert unmatched_warnings(cov, ("us", "other")) == []

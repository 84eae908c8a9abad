"""The ingest stage end to end on tiny fixtures in a temporary project, plus the shipped data.

Fixtures are synthetic except the GED header/HXL row and GED row 114064 (see
tests/unit/test_sources_others.py); tests/data/acled_us_iran_sample.csv is SYNTHETIC: plausible
rows in ACLED's real column layout, written for this test, not ACLED data.
"""

import csv
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from model import paths
from model.cli import main
from model.config import parse_params, read_params
from model.data import ingest as ingest_lib
from model.data.schema import EVENTS, POSITIONS, validate
from model.data.sources.reading import printable
from model.errors import StageError
from model.stages import ingest as stage

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests/data"
OUTPUTS = [paths.EVENTS, paths.POSITIONS, paths.REJECTED, paths.INGEST_METRICS]
SOURCES = [
    {"name": "acled_x", "path": "data/raw/acled/acled_formula_payload.csv", "format": "acled"},
    {
        "name": "air",
        "path": "data/raw/points/points_air_operations.csv",
        "format": "points",
        "side": "us_coalition",
    },
    {"name": "own", "path": "data/raw/canonical/canonical_events.csv", "format": "canonical"},
    {"name": "ged", "path": "data/raw/ged/ucdp_ged_hdx_sample.csv", "format": "ucdp_ged"},
]


def make_project(tmp: Path, sources: list[dict] = SOURCES) -> Path:
    """A tiny project: the shipped boundaries and positions, fixture sources, a params file."""
    for rel in ("data/raw/boundaries", "data/raw/positions"):
        shutil.copytree(ROOT / rel, tmp / rel)
    for s in sources:
        (tmp / s["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / Path(s["path"]).name, tmp / s["path"])
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    ing = raw["ingest"]
    ing["window"] = {"start": "2006-01-01", "end": "2018-12-31"}
    ing["regions"]["boundaries"].append(
        {
            "path": "data/raw/boundaries/syria_adm1.geojson",
            "country": "Syria",
            "name_property": "ADM1_EN",
            "id_property": "ADM1_PCODE",
        }
    )
    ing["sources"] = sources
    ing["sides"]["us_coalition_actors"] = ["re:Military Forces of the United States.*"]
    ing["sides"]["militia"] = ["re:Kataib.*"]
    ing["categories"]["acled"] = {"Battles": "state_based"}
    ing["categories"]["points"] = {"Airstrike": "air_strike", "SOF": "show_of_force"}
    ing["categories"]["canonical"] = {"armed_clash": "state_based", "strike": "one_sided"}
    (tmp / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return tmp / "params.yaml"


def test_stage_writes_every_output_and_accounts_for_every_row(tmp_path: Path):
    params = read_params(make_project(tmp_path))
    stage.run(params, tmp_path)
    events = pd.read_parquet(tmp_path / paths.EVENTS)
    validate(events, EVENTS)
    assert events.attrs["params_hash_ingest"]  # provenance travels with the table
    positions = pd.read_parquet(tmp_path / paths.POSITIONS)
    validate(positions, POSITIONS)
    m = yaml.safe_load((tmp_path / paths.INGEST_METRICS).read_text())
    assert set(m["sources"]) == {"acled_x", "air", "own", "ged"}
    for s in m["sources"].values():
        assert s["rows_read"] == s["rows_kept"] + s["rows_rejected"]
        assert set(s) >= {
            "rows_read",
            "rows_kept",
            "rows_rejected",
            "reasons",
            "duplicates",
            "region_disagreements",
            "path",
            "encoding",
            "located",
        }
    assert m["events"] == len(events) == sum(s["rows_kept"] for s in m["sources"].values())
    # ged:900002 and own:c2 have no coordinates: placed by their region's name
    assert m["located"] == {"point": len(events) - 2, "region": 2}
    assert m["located"] == events["located"].value_counts().reindex(["point", "region"]).to_dict()
    for k in ("point", "region"):
        assert m["located"][k] == sum(s["located"][k] for s in m["sources"].values())
    assert m["positions"] == len(positions) == 34
    assert events["event_id"].str.split(":").str[0].value_counts().to_dict() == {
        "ged": 6,
        "air": 3,
        "own": 2,
        "acled_x": 2,
    }
    assert events["date"].is_monotonic_increasing


def test_two_projects_write_the_same_bytes(tmp_path: Path):
    """The outputs are a function of the params and the raw files: another folder or timing
    changes no byte, so a fresh clone reproduces dvc.lock and DVC stops after ingest when an
    edit changes nothing (the committed lock once had a "-dirty" commit in them)."""
    written = []
    for folder in ("a", "clone_b"):
        root = tmp_path / folder
        stage.run(read_params(make_project(root)), root)
        written.append({p: (root / p).read_bytes() for p in OUTPUTS})
    assert written[0] == written[1]
    events = pd.read_parquet(tmp_path / "a" / paths.EVENTS)
    assert "input_sha256:data/raw/ged/ucdp_ged_hdx_sample.csv" in events.attrs


def test_ingest_json_has_side_coverage_and_warns_of_a_big_unmatched_actor(tmp_path, caplog):
    own = [s for s in SOURCES if s["name"] == "own"]
    raw = yaml.safe_load(make_project(tmp_path, own).read_text(encoding="utf-8"))
    raw["ingest"]["sides"]["armed_group"].remove("IS")  # IS now matches no side
    raw["panel"]["clash"]["sides"] = ["militia", "government"]
    with caplog.at_level("WARNING", logger="model.stages.ingest"):
        stage.run(parse_params(raw), tmp_path)
    m = json.loads((tmp_path / paths.INGEST_METRICS).read_text())
    # kept: c1 (US vs IS) and c2 (KH, placed by its region name); c3 has an unknown category,
    # c4 no location
    assert m["sides"] == {
        "militia": {"events": 1, "actors": 1, "top_actors": [["Kataib Hezbollah", 1]]},
        "other": {"events": 1, "actors": 1, "top_actors": [["IS", 1]]},
        "us_coalition_actors": {
            "events": 1,
            "actors": 1,
            "top_actors": [["Military Forces of the United States", 1]],
        },
    }
    assert m["unknown_side"] == "other" and m["unknown_side_top"] == [["IS", 1]]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and warned[0].startswith(
        "actor 'IS' matches no side and is in 1 kept events, more than clash side 'government' (0)"
    )


def test_rejected_csv_neutralises_formulas_but_events_keep_the_text(tmp_path: Path):
    stage.run(read_params(make_project(tmp_path)), tmp_path)
    with open(tmp_path / paths.REJECTED, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["source", "file", "line", "field", "value", "reason"]
    cells = [c for r in rows[1:] for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert any(c.startswith("'=HYPERLINK(") for c in cells)
    assert "'-2" in cells  # negative fatalities: the value, made inert
    events = pd.read_parquet(tmp_path / paths.EVENTS)
    assert events["actor2"].str.startswith("=HYPERLINK(").any()


def test_a_failing_source_leaves_previous_outputs_untouched(tmp_path: Path):
    bad = [
        *SOURCES,
        {"name": "broken", "path": "data/raw/acled/acled_renamed_columns.csv", "format": "acled"},
    ]
    params = read_params(make_project(tmp_path, bad))
    old = tmp_path / paths.EVENTS
    old.parent.mkdir(parents=True)
    old.write_bytes(b"previous run")
    with pytest.raises(StageError, match=r"acled_renamed_columns\.csv:1: field='event_date'"):
        stage.run(params, tmp_path)
    assert old.read_bytes() == b"previous run"
    for p in OUTPUTS[1:]:
        assert not (tmp_path / p).exists()
    assert not list(old.parent.glob(".*"))  # no temporary files left behind


def test_cli_ingest_exit_codes(tmp_path: Path, capsys):
    p = make_project(tmp_path)
    assert main(["--params", str(p), "--root", str(tmp_path), "ingest"]) == 0
    (tmp_path / "data/raw/ged/ucdp_ged_hdx_sample.csv").write_bytes(b"")
    assert main(["--params", str(p), "--root", str(tmp_path), "ingest"]) == 2
    assert "ucdp_ged_hdx_sample.csv:1: empty file" in capsys.readouterr().err


def test_validate_file_prints_file_line_field_value_reason(tmp_path: Path, capsys):
    p = make_project(tmp_path)
    f = DATA / "acled_bad_dates.csv"
    assert ingest_lib.validate_file(f, "acled", p, root=tmp_path) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{f.as_posix()}:3: event_date=2017-02-30: date impossible" in out
    assert f"{f.as_posix()}:4: event_date=last Tuesday: date not parseable" in out
    assert out[-1].endswith(
        "7 rows read, 3 kept, 4 rejected "
        "(date impossible 2, date not parseable 1, missing value 1); encoding utf-8"
    )
    assert ingest_lib.validate_file(f, "acled", p, limit=2, root=tmp_path) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[2] == "... and 2 more"
    assert ingest_lib.validate_file(DATA / "acled_clean.csv", "acled", p, root=tmp_path) == 0
    assert ingest_lib.validate_file(DATA / "acled_header_only.csv", "acled", p, root=tmp_path) == 1
    assert "header only" in capsys.readouterr().out


def test_cli_validate(tmp_path: Path, capsys, monkeypatch):
    p = make_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "--params",
            str(p),
            "validate",
            str(DATA / "points_air_operations.csv"),
            "--format",
            "points",
        ]
    )
    assert rc == 1 and "type=Helicopter: unknown category" in capsys.readouterr().out


def test_shipped_ged_with_default_params_accounts_for_all_7473_rows():
    params = read_params(ROOT / "params.yaml")
    t0 = time.perf_counter()
    events, positions, rejected, m = ingest_lib.ingest(params.ingest, ROOT)
    assert time.perf_counter() - t0 < 30
    s = m["sources"]["ucdp_ged_iraq"]
    assert s["rows_read"] == 7473
    assert s["rows_read"] == s["rows_kept"] + s["rows_rejected"]
    # GED Iraq goes back to 1989; the window starts 2008 (2,338 rows are earlier)
    assert s["reasons"]["outside window"] > 2000
    assert s["rows_kept"] == len(events) > 4000
    assert rejected[rejected["source"] == "ucdp_ged_iraq"]["line"].nunique() == s["rows_rejected"]
    geo = json.loads((ROOT / "data/raw/boundaries/iraq_adm1.geojson").read_text(encoding="utf-8"))
    assert set(events["region"]) <= {f["properties"]["shapeName"] for f in geo["features"]}
    assert len(positions) == 34


def test_example_acled_config_on_the_synthetic_sample():
    raw = yaml.safe_load((ROOT / "params/examples/acled_us_iran.yaml").read_text(encoding="utf-8"))
    read_params(ROOT / "params/examples/acled_us_iran.yaml")  # valid as shipped
    raw["ingest"]["sources"][0]["path"] = str(DATA / "acled_us_iran_sample.csv")
    params = parse_params(raw)
    events, _, rejected, m = ingest_lib.ingest(params.ingest, ROOT)
    assert rejected.empty and m["sources"]["acled"]["rows_kept"] == 31
    ev = events.set_index("event_id")
    # sides: the US and US-backed SDF on one side; militias, Iran and Syrian forces on the other
    assert ev.loc["acled:SYR1004", ["side1", "side2"]].tolist() == ["iran_aligned", "us_coalition"]
    assert ev.loc["acled:SYR1003", ["side1", "side2"]].tolist() == ["us_coalition", "iran_aligned"]
    assert ev.loc["acled:IRQ2003", "side1"] == "iran_aligned"  # Military Forces of Iran
    assert ev.loc["acled:SYR1009", "side1"] == "iran_aligned"  # unidentified group, assoc. KH
    assert ev.loc["acled:SYR1012", "side1"] == "other"
    # categories: the more specific event_type/sub_event_type wins
    assert ev.loc["acled:SYR1002", "category"] == "air_strike"
    assert ev.loc["acled:IRQ2001", "category"] == "shelling"
    assert ev.loc["acled:SYR1020", "category"] == "deployment"
    assert ev.loc["acled:SYR1019", "category"] == "protest"
    assert ev.loc["acled:SYR1002", "date"] == pd.Timestamp("2017-06-06")  # "06 June 2017"
    # regions in both countries; ACLED names through aliases
    assert (
        ev.loc["acled:SYR1007", "region"] == "Deir-ez-Zor"
        and ev.loc["acled:IRQ2004", "region"] == "Babil"
    )
    assert ev.loc["acled:SYR1021", ["region", "placed_by"]].tolist() == ["Deir-ez-Zor", "name"]
    clash = params.panel.clash
    is_clash = events["category"].isin(clash.categories) & (
        events[["side1", "side2"]].apply(frozenset, axis=1) == frozenset(clash.sides)
    )
    assert is_clash.sum() == 23


def test_no_positions_file_still_writes_an_empty_positions_table(tmp_path: Path):
    p = make_project(tmp_path, SOURCES[3:])
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    raw["ingest"]["positions"] = None
    stage.run(parse_params(raw), tmp_path)
    positions = pd.read_parquet(tmp_path / paths.POSITIONS)
    assert positions.empty
    validate(positions, POSITIONS)


def test_validate_output_escapes_control_characters():
    assert printable("a\x1b[31mb\nc") == "a\\x1b[31mb\\x0ac"

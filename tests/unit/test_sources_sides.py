"""The side pattern language: exact names, ``contains:`` and ``re:``; how params spell them."""

import copy

import pytest
import yaml
from conftest import ROOT

from model.config import ParamsError, parse_params
from model.data.sources.sides import SideMapper
from model.side_grammar import parse_entry


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_contains_matches_anywhere_without_case_or_extra_spaces():
    m = SideMapper({"sdf": ["contains:QSD:"], "ndf": ["contains:  national   DEFEN "]}, "other")
    sides, reasons, _ = m.map(
        [
            "QSD: Syrian Democratic Forces",
            "QSD:  Syrian Democratic Forces - Intelligence",
            "QDW: National Defense Forces",
            "QDW: National Defence Forces",
            "Syrian Democratic Forces",  # no QSD: prefix, so not this entry
        ]
    )
    assert sides.tolist() == ["sdf", "sdf", "ndf", "ndf", "other"]
    assert reasons.tolist() == [None] * 5


def test_regex_must_match_the_whole_name_and_can_tell_dates_apart():
    m = SideMapper({"gov": ["re:Military Forces of Syria \\(2000-(2024)?\\).*"]}, "other")
    assert m.map(
        [
            "Military Forces of Syria (2000-)",
            "Military Forces of Syria (2000-2024) Syrian Arab Air Force",
            "Military Forces of Syria (2024-)",  # the post-Assad army: not this side
            "Former Military Forces of Syria (2000-2024)",  # not at the start
        ]
    )[0].tolist() == ["gov", "gov", "other", "other"]


def test_explain_names_the_entries_and_resolve_says_why():
    m = SideMapper(
        {
            "us": ["Global Coalition Against Daesh", "re:Military Forces of the United States.*"],
            "iran": ["contains:Hezbollah", "Militia (Pro-Iran)"],
        },
        "other",
    )
    assert m.explain("Kataib  Hezbollah") == (("iran",), ("contains:Hezbollah",), False)
    assert m.explain("militia (pro-iran)").exact
    got = {
        (a, s): m.resolve(a, s)[:2]
        for a, s in [
            ("Global Coalition Against Daesh", ""),
            ("Military Forces of the United States (2021-)", ""),
            ("Unidentified Armed Group (Syria)", "Kataib Hezbollah; Militia (Pro-Iran)"),
            (
                "Unidentified Armed Group (Syria)",
                "Kataib Hezbollah; Global Coalition Against Daesh",
            ),
            ("Unidentified Armed Group (Syria)", ""),
        ]
    }
    assert list(got.values()) == [
        ("us", "exact"),
        ("us", "pattern"),
        ("iran", "via associates"),
        ("other", "unknown"),  # associates disagree: no side from them
        ("other", "unknown"),
    ]
    both = SideMapper({"a": ["contains:Hezbollah"], "b": ["re:Kataib.*"]}, "other")
    assert both.resolve("Kataib Hezbollah") == (
        "",
        "ambiguous",
        "actor matches two sides",
        "Kataib Hezbollah (sides: a, b)",
    )


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("  Hezbollah  ", ("exact", "Hezbollah")),
        ("contains: QSD:", ("contains", "QSD:")),
        ("re:  Kataib.*", ("re", "Kataib.*")),
    ],
)
def test_parse_entry(entry: str, parsed: tuple[str, str]):
    assert parse_entry(entry) == parsed


def test_params_accept_mappings_and_list_every_bad_entry_at_once(raw: dict):
    ok = copy.deepcopy(raw)
    ok["ingest"]["sides"]["armed_group"] += [{"contains": "Islamic State"}, {"re": "JRTN.*"}]
    ok["ingest"]["sides"]["civilians"] += [{"exact": "Civilians (Iraq)"}]
    sides = parse_params(ok).ingest.sides
    assert sides["armed_group"][-2:] == ["contains:Islamic State", "re:JRTN.*"]
    assert sides["civilians"][-1] == "Civilians (Iraq)"

    bad = copy.deepcopy(raw)
    # YAML reads an unquoted `- QSD: Syrian Democratic Forces` as a mapping
    bad["ingest"]["sides"]["government"] += [{"QSD": "Syrian Democratic Forces"}, "re:(unclosed"]
    bad["ingest"]["sides"]["armed_group"] += ["contains:   ", {"contains": ""}, "  "]
    bad["ingest"]["sides"]["civilians"] = []
    with pytest.raises(ParamsError) as info:
        parse_params(bad)
    msg = str(info.value)
    for fragment in (
        "side 'government': entry {'QSD': 'Syrian Democratic Forces'} is a YAML mapping",
        'quote it ("QSD: Syrian Democratic Forces")',
        "side 'government': bad regex 're:(unclosed'",
        "side 'armed_group': 'contains:   ': empty contains: pattern",
        "side 'armed_group': 'contains:': empty contains: pattern",
        "side 'armed_group': empty actor name",
        "side 'civilians' has no actor entries",
    ):
        assert fragment in msg, fragment

"""Reading raw CSVs: encodings, HXL rows, previews, formula neutralisation; the actor map."""

import codecs

import pytest

from model.data.sources.reading import decode, neutralise_formula, preview, read_table
from model.data.sources.sides import SideMapper


@pytest.mark.parametrize(
    ("raw", "text", "encoding"),
    [
        ("a,é\n".encode(), "a,é\n", "utf-8"),
        (codecs.BOM_UTF8 + "a,é\n".encode(), "a,é\n", "utf-8-sig"),
        ("a,é\n".encode("cp1252"), "a,é\n", "cp1252"),
        ("a,é\n".encode("utf-16"), "a,é\n", "utf-16"),
        (b"a,\x81\n", "a,\x81\n", "latin-1"),  # undefined in cp1252: the last resort
    ],
)
def test_decode(raw, text, encoding):
    assert decode(raw) == (text, encoding)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (3, 3),
    ],
)
def test_neutralise_formula(value, safe):
    assert neutralise_formula(value) == safe


def test_preview_cuts_long_values():
    assert preview("x" * 10) == "x" * 10
    p = preview("é" * 1000, 5)
    assert p.startswith("ééééé…") and "2000 bytes" in p


def test_hxl_row_is_skipped_and_lines_are_physical(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text('id,note\n#id,#meta\n1,"two\nlines"\n\n2,x\n', encoding="utf-8")
    t = read_table(f, "h.csv", ["id"], 1000)
    assert t.rows_read == 2 and t.notes == ["skipped HXL tag row at line 2"]
    assert t.data["_line"].tolist() == [3, 6]


def test_side_mapper_exact_regex_ambiguous_and_unknown():
    m = SideMapper({"a": ["Army  of X", "re:Brigade \\d+"], "b": ["re:.*Brigade 7"]}, "other")
    sides, reasons, values = m.map(["army of x", "Brigade 3", "Brigade 7", "Nobody", ""])
    assert sides.tolist() == ["a", "a", "", "other", ""]
    assert reasons.tolist() == [None, None, "actor matches two sides", None, None]
    assert values[2] == "Brigade 7 (sides: a, b)"
    strict = SideMapper({"a": ["X"]}, None)
    assert strict.map(["Y"])[1].tolist() == ["actor matches no side"]
    # an unlisted actor takes the side its associates agree on
    assert strict.map(["Y", "Y"], ["X; Z", ""])[0].tolist() == ["a", ""]


def test_parse_fatalities_never_overflows():
    import pandas as pd

    from model.data.sources.common import parse_fatalities

    values, reasons = parse_fatalities(
        pd.Series(["3", "", "3.0", "1e400", "-inf", "1e141", "nan", "-1"])
    )
    assert values.tolist() == [3, 0, 3, 0, 0, 0, 0, 0]
    assert reasons.tolist() == [
        None,
        None,
        None,
        "fatalities not an integer",
        "fatalities not an integer",
        "fatalities implausibly large",
        "fatalities not an integer",
        "fatalities negative",
    ]


def test_semicolon_and_tab_separated_files(tmp_path):
    for sep in (";", "\t"):
        f = tmp_path / "s.csv"
        f.write_text(
            sep.join(["id", "note"]) + "\n" + sep.join(["1", "a, b"]) + "\n", encoding="utf-8"
        )
        t = read_table(f, "s.csv", ["id", "note"], 1000)
        assert t.data["note"].tolist() == ["a, b"] and repr(sep) in t.notes[0]

"""The report: one context, two renderings; self-contained, escaped, sectioned, loud on failure."""

from __future__ import annotations

import io
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fake_run import ONERROR, REGIONS, SCRIPT, SIDE_COVERAGE, build_fake_run
from pypdf import PdfReader

from model.reporting.artefacts import load_run
from model.reporting.report import build_context, pct, pct_interval, render_html, render_pdf

SECTIONS = ("Headline", "Map of clash risk", "Drivers", "Scenarios", "Proximity", "Diagnostics",
            "Backtest", "Provenance")  # fmt: skip
BANNER = "Diagnostics gate FAILED"
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]*)""", re.I)


class _Links(HTMLParser):
    """Every URL the browser would load or follow: src/href/srcset/action attributes of real tags,
    and url() in style attributes and <style> blocks (escaped text does not count)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value is not None:
                self.urls.append(value)
            if name == "style" and value:
                self.urls += CSS_URL.findall(value)
            if name.startswith("on"):
                self.urls.append(f"event handler {name}")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += CSS_URL.findall(data)


def _links(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _render(root: Path) -> tuple[dict, str]:
    run = load_run(root)
    ctx = build_context(run, run.params.report)
    return ctx, render_html(ctx)


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    return _render(build_fake_run(tmp_path_factory.mktemp("failed"), gate="fail"))


@pytest.fixture(scope="module")
def failed_pdf(failed: tuple[dict, str]) -> PdfReader:
    weasy = logging.getLogger("weasyprint")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    weasy.addHandler(handler)
    try:
        pdf = render_pdf(failed[0])
    finally:
        weasy.removeHandler(handler)
    bad = [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert not bad, f"WeasyPrint complained: {bad[:5]}"
    assert pdf.startswith(b"%PDF")
    return PdfReader(io.BytesIO(pdf))


def test_percentages_with_intervals() -> None:
    assert pct_interval(0.12, 0.07, 0.19) == "12% (7–19%)"
    assert pct(0.004) == "0.4%" and pct(0.0001) == "< 0.1%" and pct(0.0) == "0%"
    assert pct(float("nan")) == "n/a" and pct_interval(0.004, 0.001, 0.012) == "0.4% (0.1–1%)"
    # never "100% (100–100%)": above 99% and below 0.1% are said as such
    assert pct(0.9996) == "> 99%" and pct(0.991) == "> 99%" and pct(0.99) == "99%"
    assert pct_interval(0.9995, 0.999, 0.9999) == "> 99% (>99%)"
    assert pct_interval(0.995, 0.97, 0.9999) == "> 99% (97–>99%)"
    assert pct_interval(0.0004, 0.00001, 0.003) == "< 0.1% (<0.1–0.3%)"


def test_html_is_self_contained(failed: tuple[dict, str]) -> None:
    _, html = failed
    urls = _links(html).urls
    assert any(u.startswith("data:image/png;base64,") for u in urls)
    external = [u for u in urls if not (u.startswith("data:") or u.startswith("#"))]
    assert external == []
    assert "<link" not in html.lower() and "@import" not in html
    assert len(html.encode()) <= 5_000_000


def test_every_region_in_the_forecast_table(failed: tuple[dict, str]) -> None:
    ctx, html = failed
    table = html[
        html.index('<table class="forecast') : html.index(
            "</table>", html.index('<table class="forecast')
        )
    ]
    for region in REGIONS:
        assert region.replace("<", "&lt;").replace(">", "&gt;") in table
    assert {r["region"] for r in ctx["table"]} == set(REGIONS)


def test_text_from_the_data_is_escaped(failed: tuple[dict, str]) -> None:
    _, html = failed
    tags = _links(html).tags
    assert "script" not in tags and "img" in tags  # our figures only
    assert not any(u.startswith("event handler") for u in _links(html).urls)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "onerror=alert(1)&gt;" in html  # the PROVENANCE.md payload, shown as text
    assert SCRIPT not in html and ONERROR not in html


def test_banner_and_unreliable_marking_when_gate_failed(failed: tuple[dict, str]) -> None:
    ctx, html = failed
    assert ctx["gate_failed"]
    assert html.index(BANNER) < html.index('id="headline"')
    assert 'class="forecast unreliable"' in html and "UNRELIABLE" in html
    assert ctx["below_climatology"] is None and BELOW not in html


def test_passed_gate_has_no_banner_and_missing_backtest_is_said(tmp_path: Path) -> None:
    ctx, html = _render(build_fake_run(tmp_path, gate="pass", backtest=False))
    body = html[html.index("<body>") :]
    assert not ctx["gate_failed"] and ctx["backtest"] is None
    assert BANNER not in body and "unreliable" not in body.lower()
    assert "The backtest has not been run" in body
    assert "1.004" in body and "≤ 1.010" in body  # R-hat to three decimals, not "1.00 ≤ 1.01"


BELOW = "Worse than climatology on the test window."


def test_a_test_window_below_climatology_is_said_on_the_first_page(tmp_path: Path) -> None:
    run = load_run(build_fake_run(tmp_path, gate="pass"))
    skill = run.backtest["windows"]["test"]["skill"]["climatology"]
    assert skill["brier"]["mean"] > 0  # the fake model beats it: nothing said
    assert build_context(run, run.params.report)["below_climatology"] is None
    skill["brier"] = {"mean": -0.012, "ci_low": -0.071, "ci_high": 0.034, "dm_pvalue": 0.6}
    ctx = build_context(run, run.params.report)
    html = render_html(ctx)
    sentence = ctx["below_climatology"]["sentence"]
    assert "worse than climatology" in sentence and "Brier skill -1.2% [-7.1, +3.4]" in sentence
    assert "over the last 52 weeks" in sentence
    headline = html.index('id="headline"')
    assert html.index(BELOW) < headline < html.index("(Brier skill -1.2% [-7.1, +3.4])", headline)
    assert BANNER not in html  # the gate passed: only this warning
    assert "Reliability on the test window, 10 quantile bins (edges at the forecasts" in html
    first_page = PdfReader(io.BytesIO(render_pdf(ctx))).pages[0].extract_text()
    assert BELOW in first_page and "-1.2%" in first_page


def _skill(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "ci_low": low, "ci_high": high, "dm_pvalue": 0.1}


def test_the_first_page_gives_the_test_windows_track_record(tmp_path: Path) -> None:
    run = load_run(build_fake_run(tmp_path, gate="pass"))
    test = run.backtest["windows"]["test"]
    test["skill"]["climatology"]["brier"] = _skill(0.068, 0.037, 0.102)
    test["skill"]["ewma"]["brier"] = _skill(-0.004, -0.013, 0.005)
    test["within_h"]["skill"]["ewma"]["brier"] = _skill(-0.027, -0.051, -0.005)
    ctx = build_context(run, run.params.report)
    sentence = ctx["track_record"]["sentence"]
    assert sentence.startswith(f"On the test window ({test['first_origin']} – ")
    assert "better than climatology (Brier skill +6.8% [+3.7, +10.2])" in sentence
    assert (
        "level with each region's recent rate, an EWMA with a 13-week half-life "
        "(-0.4% [-1.3, +0.5])" in sentence
    )
    assert "within 3 weeks, worse than the same rate of 3-week windows (-2.7% [-5.1, -0.5])" in (
        sentence
    )
    first_page = PdfReader(io.BytesIO(render_pdf(ctx))).pages[0].extract_text()
    assert "Track record." in first_page and "-2.7%" in first_page
    test["skill"]["ewma"]["brier"] = _skill(0.02, 0.001, 0.04)  # interval above 0: better
    sentence = build_context(run, run.params.report)["track_record"]["sentence"]
    assert "better than each region's recent rate" in sentence
    bare = load_run(build_fake_run(tmp_path / "bare", gate="pass", backtest=False))
    assert build_context(bare, bare.params.report)["track_record"] is None


def test_pdf_has_sections_pages_and_banner(failed_pdf: PdfReader) -> None:
    pages = [p.extract_text() for p in failed_pdf.pages]
    assert 3 <= len(pages) <= 25
    text = "\n".join(pages)
    for section in SECTIONS:
        assert section in text, section
    assert BANNER in pages[0] and "Forecast origin" in pages[0] and "Data window" in pages[0]
    assert re.search(r"page 2 of \d+", pages[1])


def test_side_coverage_is_shown_escaped(failed: tuple[dict, str]) -> None:
    ctx, html = failed
    section = html[html.index('id="sides"') : html.index("Licences and attribution")]
    assert "armed_group (clash)" in section and "government (clash)" in section
    assert "&lt;img src=x onerror=alert(1)&gt; (13)" in section
    for name, n in SIDE_COVERAGE["unknown_side_top"]:
        cell = name.replace("<", "&lt;").replace(">", "&gt;")
        assert f'<td class="actors">{cell}</td><td class="num">{n}</td>' in section
    assert [s["side"] for s in ctx["provenance"]["coverage"]["sides"]] == [
        "government",
        "armed_group",
        "other",
    ]


def _boxes(box):
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


@pytest.mark.parametrize(
    "page",
    ["", "@page { size: 390px 6000px !important; margin: 0 !important }"],
    ids=["A4", "phone"],
)
def test_side_tables_fit_the_page_with_a_long_actor_name(failed: tuple[dict, str], page: str):
    assert _tables_within_page(failed[1], page, "coverage") == 2


@pytest.mark.parametrize(
    "page",
    ["", "@page { size: 390px 6000px !important; margin: 0 !important }"],
    ids=["A4", "phone"],
)
def test_the_proximity_evidence_fits_the_page_with_a_long_actor_name(
    failed: tuple[dict, str], page: str
):
    assert _tables_within_page(failed[1], page, "evidence") == 1


def test_proximity_worth_evidence_and_scenario_caveats_are_said(failed: tuple[dict, str]):
    ctx, html = failed
    section = html[
        html.index('<section id="proximity">') : html.index('<section id="diagnostics">')
    ]
    assert "+3.4 (SE 2.9)" in section and "within 2 SE" in section
    assert "test window" in section and "dev window" in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and SCRIPT not in section
    assert ONERROR not in section and "17th Mechanised Division" in section
    # Regions shown are the top ones (report.regions_over_time), each with its incidents.
    shown = {r["region"] for r in ctx["proximity"]["evidence"]}
    assert shown == set(ctx["over_time_regions"])
    notes = ctx["scenarios"][0]["notes"]
    assert any("not clear on the data" in n and "+3.4" in n for n in notes)
    scen = html[html.index('<section id="scenarios">') : html.index('<section id="proximity">')]
    assert "The proximity indicators are not clear on the data" in scen


def _tables_within_page(html: str, page: str, cls: str) -> int:
    """How many tables of class ``cls`` there are, each checked to end within the page."""
    from weasyprint import CSS, HTML

    doc = HTML(string=html).render(stylesheets=[CSS(string=page)] if page else None)
    tables = set()
    for pg in doc.pages:
        for box in _boxes(pg._page_box):
            element = getattr(box, "element", None)
            if type(box).__name__ != "TableBox" or cls not in element.get("class", ""):
                continue
            tables.add(element)  # a table broken over pages is one table
            right = max(b.position_x + b.margin_width() for b in _boxes(box))
            page_box = pg._page_box  # its content area: within the page margins
            limit = page_box.position_x + page_box.margin_left + page_box.width
            assert right <= limit + 0.5, (element.get("class"), right, limit)
    return len(tables)


def test_every_table_scrolls_inside_its_box_on_a_phone(failed: tuple[dict, str]) -> None:
    """On a 390 px screen a wide table scrolls sideways in its own box instead of being cut by
    the page (print ignores the box: WeasyPrint reads only the print rules)."""
    html = failed[1]
    tables = re.findall(r"(.{0,40})<table\b", html, flags=re.S)
    assert len(tables) >= 10
    assert all(before.rstrip().endswith('<div class="scroll">') for before in tables), [
        before for before in tables if not before.rstrip().endswith('<div class="scroll">')
    ]
    screen = html[html.index("@media screen") :]
    assert re.search(r"\.scroll\s*\{\s*overflow-x:\s*auto", screen)


def test_the_roll_up_caption_says_how_border_cells_split() -> None:
    from model.reporting.report import _split_words
    from model.results import BacktestMetrics

    chosen = BacktestMetrics(4, {}, rollup_split={"chosen": "0.5", "dev_brier": {"0.5": 0.07}})
    assert "by where its past clashes fell" in _split_words(chosen)
    assert "0.5 pseudo-clashes" in _split_words(chosen)
    area = BacktestMetrics(4, {}, rollup_split={"chosen": "area", "dev_brier": {"area": 0.09}})
    assert _split_words(area) == _split_words(None) == "by its area in each"
    # backtest.json keeps the choice and reads it back.
    assert BacktestMetrics.from_json(chosen.to_json()).rollup_split == chosen.rollup_split

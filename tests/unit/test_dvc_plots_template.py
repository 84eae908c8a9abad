"""`dvc plots show` must draw offline: our template inlines Vega instead of loading a CDN."""

import re

from conftest import ROOT

TEMPLATE = ROOT / "reports" / "templates" / "dvc_plots.html"


def test_template_is_configured_and_offline() -> None:
    config = (ROOT / ".dvc" / "config").read_text()
    assert "html_template = ../reports/templates/dvc_plots.html" in config
    html = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in html
    assert "{scripts}" not in html  # dvc-render would inject its CDN <script src> tags there
    assert not re.search(r"<script[^>]+src=", html)
    for library in ("vega 5.20.2", "vega-lite 5.2.0", "vega-embed 6.18.2"):
        assert library in html

"""``clashcast report``: the forecast report as ``reports/forecast.html`` and ``.pdf``, and the
run's headline figures as ``reports/metrics/headline.json`` (the one DVC metrics file).

Reads every artefact through :func:`model.reporting.artefacts.load_run`, builds one context and
renders it twice. Both files are written atomically (``model.io``), and only after both renderings
have succeeded, so a failure leaves the previous pair in place. The headline
(:func:`model.reporting.headline.headline_metrics`) quotes the diagnostics and the backtest. None
of the three holds a time or date: equal inputs render equal bytes (timings: :mod:`model.timing`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from model.config import Params
from model.io import write_bytes, write_json, write_text
from model.paths import HEADLINE, REPORT_HTML, REPORT_PDF
from model.reporting.artefacts import Run, load_run
from model.reporting.headline import headline_metrics

log = logging.getLogger(__name__)

# Artefacts the report does not show (the notebooks do); not reading them keeps the stage's
# DVC dependencies honest.
REPORT_SKIPS = ("events", "panel_metrics", "backtest_scores")


def run(params: Params, root: Path) -> None:
    """Render the report of the run under ``root`` with the ``report`` params."""
    import matplotlib

    matplotlib.use("Agg")
    from model.reporting.report import build_context, render_html, render_pdf

    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per page
    t0 = time.perf_counter()
    result = load_run(root, params=params, skip=REPORT_SKIPS)
    context = build_context(result, params.report)
    html = render_html(context)
    pdf = render_pdf(context)
    write_text(root / REPORT_HTML, html)
    write_bytes(root / REPORT_PDF, pdf)
    write_headline(result, root)
    log.info(
        "report: %s (%.1f MB), %s (%.1f MB) in %.1f s",
        REPORT_HTML,
        len(html.encode()) / 1e6,
        REPORT_PDF,
        len(pdf) / 1e6,
        time.perf_counter() - t0,
    )


def write_headline(result: Run, root: Path) -> None:
    """Write the headline figures of the run (what ``dvc metrics show`` and ``dvc exp show``
    compare across experiments)."""
    write_json(root / HEADLINE, headline_metrics(result.diagnostics, result.backtest))
    log.info("headline metrics: %s", HEADLINE)

"""The report stage end to end on a fake tiny run: both files written whole, or neither touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fake_run import build_fake_run
from pypdf import PdfReader

from model.cli import main
from model.config import read_params
from model.reporting import report
from model.stages import report as report_stage


def _cli(root: Path) -> int:
    return main(["--params", str(root / "params.yaml"), "--root", str(root), "report"])


def test_stage_writes_both_reports_within_budget(tmp_path: Path) -> None:
    root = build_fake_run(tmp_path, gate="fail")
    t0 = time.perf_counter()
    assert _cli(root) == 0
    assert time.perf_counter() - t0 < 60
    html = (root / "reports/forecast.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and len(html.encode()) <= 5_000_000
    pdf = PdfReader(root / "reports/forecast.pdf")
    assert 1 <= len(pdf.pages) <= 25
    assert not list((root / "reports").glob(".forecast.*"))  # no temp files left
    headline = json.loads((root / "reports/metrics/headline.json").read_text())
    backtest = json.loads((root / "reports/metrics/backtest.json").read_text())
    assert headline["gate"] == "fail"
    assert headline["test"]["ece"] == backtest["windows"]["test"]["model"]["ece"]


def test_failed_rendering_leaves_previous_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build_fake_run(tmp_path)
    (root / "reports/forecast.html").write_text("old html")
    (root / "reports/forecast.pdf").write_bytes(b"old pdf")

    def broken(context: dict) -> bytes:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report, "render_pdf", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        report_stage.run(read_params(root / "params.yaml"), root)
    assert (root / "reports/forecast.html").read_text() == "old html"
    assert (root / "reports/forecast.pdf").read_bytes() == b"old pdf"


def test_missing_posterior_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = build_fake_run(tmp_path)
    (root / "data/fitted/idata.nc").unlink()
    assert _cli(root) == 2
    assert "data/fitted/idata.nc" in capsys.readouterr().err
    assert not (root / "reports/forecast.html").exists()


def test_two_renderings_of_a_run_are_byte_identical(tmp_path: Path) -> None:
    """The report and the headline hold no time, date or commit: DVC sees the same bytes on
    every run and every clone, and the stage's time goes to the run log only."""
    root = build_fake_run(tmp_path)
    outputs = ("reports/forecast.html", "reports/forecast.pdf", "reports/metrics/headline.json")
    renderings = []
    for _ in range(2):
        assert _cli(root) == 0
        renderings.append({p: (root / p).read_bytes() for p in outputs})
    assert renderings[0] == renderings[1]
    pdf = renderings[0]["reports/forecast.pdf"]
    assert b"/CreationDate" not in pdf and b"/ModDate" not in pdf  # equal within a second, too
    html = renderings[0]["reports/forecast.html"].decode()
    assert "Generated" not in html and "Git commit" not in html
    assert "reports/metrics/timing.json" in html and "0123456789abcdef" * 4 in html
    assert "seconds" not in json.loads(renderings[0]["reports/metrics/headline.json"])
    assert json.loads((root / "reports/metrics/timing.json").read_text())["report"]["seconds"] > 0

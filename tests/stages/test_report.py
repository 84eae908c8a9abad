"""The report stage end to end on a fake tiny run: both files written whole, or neither touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fake_run import build_fake_run
from pypdf import PdfReader

from model import report
from model.cli import main
from model.config import read_params
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

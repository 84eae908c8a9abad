"""Where each artefact of a run lives, relative to the project root: the one home of the paths.

Every stage, the report's loader (:mod:`model.reporting.artefacts`) and the notebooks take their
paths from here. ``dvc.yaml`` must name the same files (DVC reads no Python); a test checks that
every path here is declared there by the stage that writes it, and that each stage's outputs in
``dvc.yaml`` are here, so the two cannot drift apart. The run log :data:`TIMING` is the one
file written that no stage declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.errors import StageError


@dataclass(frozen=True)
class Artefact:
    """One output of a stage: its path (relative to the project root) and the stage."""

    path: Path
    stage: str


# ingest
EVENTS = Path("data/interim/events.parquet")
POSITIONS = Path("data/interim/positions.parquet")
REJECTED = Path("data/interim/rejected.csv")
INGEST_METRICS = Path("reports/metrics/ingest.json")
# panel
PANEL = Path("data/processed/panel.nc")
PANEL_METRICS = Path("reports/metrics/panel.json")
# fit
IDATA = Path("data/fitted/idata.nc")
DIAGNOSTICS = Path("reports/metrics/diagnostics.json")
DIAGNOSTIC_FIGURES = Path("reports/figures/diagnostics")
# forecast
FORECAST_NC = Path("data/forecast/forecast.nc")
FORECAST_CSV = Path("reports/forecast.csv")
SCENARIOS_CSV = Path("reports/scenarios.csv")
# evidence
EVIDENCE = Path("reports/evidence.csv")
# backtest
PREDICTIONS = Path("data/backtest/predictions.parquet")
WITHIN = Path("data/backtest/within.parquet")
BACKTEST_METRICS = Path("reports/metrics/backtest.json")
#: The memory the dev window chose (model.backtesting.memory), which the final fit uses.
MEMORY = Path("data/backtest/memory.json")
#: The dev window's forecasts of every candidate memory (what the choice saw).
CANDIDATES = Path("data/backtest/candidates.parquet")
RELIABILITY = Path("reports/plots/reliability.csv")
RELIABILITY_WITHIN = Path("reports/plots/reliability_within.csv")
BACKTEST_SCORES = Path("reports/plots/backtest_scores.csv")
# report
REPORT_HTML = Path("reports/forecast.html")
REPORT_PDF = Path("reports/forecast.pdf")
HEADLINE = Path("reports/metrics/headline.json")
#: Shipped with the data, made by no stage.
PROVENANCE_MD = Path("data/raw/PROVENANCE.md")
#: The run log (:mod:`model.timing`): how long each stage took. Every stage adds to it and none
#: declares it, so the outputs DVC hashes hold no time and equal inputs give equal bytes.
TIMING = Path("reports/metrics/timing.json")

#: Every artefact a stage writes, by key (the keys :func:`model.reporting.artefacts.load_run` uses).
ARTEFACTS: dict[str, Artefact] = {
    "events": Artefact(EVENTS, "ingest"),
    "positions": Artefact(POSITIONS, "ingest"),
    "rejected": Artefact(REJECTED, "ingest"),
    "ingest": Artefact(INGEST_METRICS, "ingest"),
    "panel": Artefact(PANEL, "panel"),
    "panel_metrics": Artefact(PANEL_METRICS, "panel"),
    "idata": Artefact(IDATA, "fit"),
    "diagnostics": Artefact(DIAGNOSTICS, "fit"),
    "diagnostic_figures": Artefact(DIAGNOSTIC_FIGURES, "fit"),
    "forecast_nc": Artefact(FORECAST_NC, "forecast"),
    "forecast": Artefact(FORECAST_CSV, "forecast"),
    "scenarios": Artefact(SCENARIOS_CSV, "forecast"),
    "evidence": Artefact(EVIDENCE, "evidence"),
    "predictions": Artefact(PREDICTIONS, "backtest"),
    "within": Artefact(WITHIN, "backtest"),
    "backtest": Artefact(BACKTEST_METRICS, "backtest"),
    "memory": Artefact(MEMORY, "backtest"),
    "candidates": Artefact(CANDIDATES, "backtest"),
    "reliability": Artefact(RELIABILITY, "backtest"),
    "reliability_within": Artefact(RELIABILITY_WITHIN, "backtest"),
    "backtest_scores": Artefact(BACKTEST_SCORES, "backtest"),
    "report_html": Artefact(REPORT_HTML, "report"),
    "report_pdf": Artefact(REPORT_PDF, "report"),
    "headline": Artefact(HEADLINE, "report"),
}


def stage_of(path: Path) -> str:
    """The stage that writes ``path`` (a path of :data:`ARTEFACTS`)."""
    for artefact in ARTEFACTS.values():
        if artefact.path == Path(path):
            return artefact.stage
    raise KeyError(f"{path} is not an artefact of any stage")


def require(root: Path, path: Path, what: str) -> Path:
    """``root / path`` when it exists; else a :class:`StageError` naming the stage to run."""
    full = Path(root) / path
    if not full.exists():
        stage = stage_of(path)
        raise StageError(f"{path}: no {what} (run `clashcast {stage}` or `dvc repro {stage}`)")
    return full

"""The weekly update (issue 22): last week's run, then the export with one more week in it and
the pipeline again. Only the backtest folds the new week reaches are fitted (the run log names
the folds read back from the fold cache), and every output ``dvc.yaml`` declares equals the
tiny run's, a run from scratch on the longer data. A fold that runs again only because the new
week added an origin to it reads its posterior back and samples nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from model import timing as run_log

from .test_pipeline import _declared_outputs, _files
from .tinyrun import TINY_OVERRIDES, make_project, run_pipeline

END = pd.Timestamp(TINY_OVERRIDES["ingest"]["window"]["end"])


@pytest.fixture(scope="session")
def weekly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """A project run on the data to one week before the tiny run's end, then to its end."""
    last_week = (END - pd.Timedelta(weeks=1)).date().isoformat()
    project = make_project(
        tmp_path_factory.mktemp("weekly") / "project",
        {"ingest": {"window": {"start": TINY_OVERRIDES["ingest"]["window"]["start"],
                               "end": last_week}}},
    )  # fmt: skip
    run_pipeline(project)
    before = run_log.read(project)["backtest"] | {"fits": _fits(project)}
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["ingest"]["window"]["end"] = TINY_OVERRIDES["ingest"]["window"]["end"]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run_pipeline(project)
    return project, before, run_log.read(project)["backtest"] | {"fits": _fits(project)}


def _fits(project: Path) -> set[str]:
    """The posteriors kept in the fold cache."""
    return {p.name for p in (project / ".cache/folds/fits").rglob("*.pkl")}


@pytest.mark.slow
def test_only_the_folds_the_new_week_reaches_are_fitted(weekly) -> None:
    _, before, after = weekly
    assert before["reused"] == []
    # The new week gives the test window one more origin: its fold is new, every other fold
    # (the dev window's with their candidate memories, the test window's first) is read back;
    # of the proximity comparison folds (one per window) the dev window's is read back and the
    # test window's, which serves the new origin too, is fitted again.
    folds = sorted(after["fold_seconds"])
    reused = [r.removeprefix("fold-") for r in after["reused"] if r.startswith("fold-")]
    assert reused == folds[:-1] and folds[-1] not in before["fold_seconds"]
    compared = sorted(after["proximity_fold_seconds"])
    assert len(compared) == 2
    assert [r for r in after["reused"] if r.startswith("proximity-")] == [
        f"proximity-{compared[0]}"
    ]
    # The test window's comparison fold ran again but read both posteriors back (its cutoff,
    # and so its training data, did not move): the update sampled one posterior, the new fold's.
    assert before["fits"] < after["fits"] and len(after["fits"] - before["fits"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("rel", _declared_outputs())
def test_the_update_writes_what_a_run_from_scratch_writes(weekly, tiny_run, rel: str) -> None:
    project, _, _ = weekly
    scratch, _ = tiny_run
    assert _files(project / rel) == _files(scratch / rel), rel

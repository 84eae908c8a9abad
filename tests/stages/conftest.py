"""One real tiny run shared by the end-to-end tests of this folder (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tinyrun import make_project, no_network, run_pipeline


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The whole pipeline on a year of shipped data, with the network blocked."""
    project = make_project(tmp_path_factory.mktemp("tiny") / "project")
    with no_network() as attempts:
        run_pipeline(project)
    return project, attempts

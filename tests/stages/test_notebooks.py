"""The analyst notebooks execute top to bottom against a (fake) tiny run, and write nothing.

The fake run keeps its artefacts in the dtypes the pipeline writes (the observed outcome as
floats, as PyMC stores it); the slow ACLED end-to-end test executes them on a real run too.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from fake_run import build_fake_run
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]-*.py"))


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fake_run(tmp_path_factory.mktemp("run"), gate="fail")


def _snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def test_there_are_three_notebooks() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


def execute_notebook(
    path: Path, root: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> list[dict]:
    """Execute one notebook top to bottom against the run under ``root``, as an analyst opens
    it (from ``workdir``); its cells' outputs. A failing cell raises."""
    monkeypatch.setenv("CLASHCAST_ROOT", str(root))
    # The kernel's own inline backend, as an analyst gets it: figures really render to PNG.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = jupytext.read(path)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return [o for c in nb.cells for o in c.get("outputs", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(
    path: Path, fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(fake_root)
    outputs = execute_notebook(path, fake_root, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    assert _snapshot(fake_root) == before, "notebooks must not write into the run"
    assert not list(tmp_path.iterdir())

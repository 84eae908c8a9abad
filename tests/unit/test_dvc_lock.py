"""`dvc.lock` matches the committed code, data and params: no stage is stale on a fresh clone.

Pipeline artefacts are not in git, so on a clone they are missing ("deleted" outs and deps);
what must never show up is a git-tracked dependency (code, `data/raw`, templates) or a params
key that differs from what `dvc.lock` recorded: that would mean the committed lock file was
made by other code than the committed one, and `make forecast` would not reproduce it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

#: Tracked files that a run or a benchmark rewrites and that no stage reads.
NOT_INPUTS = ("dvc.lock", "README.md", "benchmarks/results", "docs")


def _inputs_uncommitted() -> bool | None:
    """Whether a tracked input differs from the commit (None outside a git checkout); the
    files a run rewrites (:data:`NOT_INPUTS`, dvc.lock first) do not count."""
    excludes = [f":(top,exclude){path}" for path in NOT_INPUTS]
    cmd = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excludes]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    return None if out.returncode != 0 else bool(out.stdout.strip())


def _git_tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.splitlines()


def stale_sources(status: dict, tracked: list[str]) -> list[str]:
    """Git-tracked deps and params that ``dvc status --json`` reports as changed."""

    def is_tracked(path: str) -> bool:
        return path in tracked or any(t.startswith(path.rstrip("/") + "/") for t in tracked)

    stale = []
    for stage, entries in status.items():
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            for path, state in entry.get("changed deps", {}).items():
                if is_tracked(path):
                    stale.append(f"{stage}: {path} {state}")
            for file, keys in entry.get("changed params", {}).items():
                stale.append(f"{stage}: params {file} {keys}")
    return sorted(stale)


def test_stale_sources_ignore_missing_artefacts() -> None:
    status = {
        "fit": [
            {
                "changed deps": {
                    "model/inference/clash_model.py": "modified",
                    "data/processed/panel.nc": "deleted",
                }
            },
            {"changed outs": {"data/fitted/idata.nc": "deleted"}},
        ],
        "ingest": [{"changed params": {"params.yaml": {"ingest.window": "modified"}}}],
        "panel": [{"changed deps": {"data/raw": "modified"}}],
    }
    tracked = ["model/inference/clash_model.py", "data/raw/PROVENANCE.md"]
    assert stale_sources(status, tracked) == [
        "fit: model/inference/clash_model.py modified",
        "ingest: params params.yaml {'ingest.window': 'modified'}",
        "panel: data/raw modified",
    ]


def test_dvc_lock_matches_the_committed_sources() -> None:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    dirty = _inputs_uncommitted()  # dvc.lock rewritten by a run does not count as a change
    if dirty is None:
        pytest.skip("not a git checkout")
    if dirty:
        pytest.skip("uncommitted changes: the lock is checked against commits (CI, clean clones)")
    tracked = _git_tracked()
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stale = stale_sources(json.loads(out.stdout or "{}"), tracked)
    assert not stale, (
        "dvc.lock was not made by the committed code/params; run `make forecast` and commit "
        "dvc.lock: " + "; ".join(stale)
    )

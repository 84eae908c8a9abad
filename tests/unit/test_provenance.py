"""Provenance: the commit stamped on artefacts is dirty only when an input differs from it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from model.provenance import content_stamp, git_commit, stamp


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "a.py").write_text("x = 1\n")
    (tmp_path / "dvc.lock").write_text("stages: {}\n")
    (tmp_path / "README.md").write_text("# r\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "c")
    return tmp_path, git("rev-parse", "HEAD")


def test_run_outputs_in_tracked_files_do_not_make_the_commit_dirty(repo):
    root, sha = repo
    assert git_commit(root) == sha
    (root / "dvc.lock").write_text("stages: {ingest: {}}\n")  # what dvc repro does per stage
    (root / "README.md").write_text("# r, with a regenerated performance section\n")
    assert git_commit(root) == sha


def test_a_changed_input_makes_it_dirty(repo):
    root, sha = repo
    (root / "model" / "a.py").write_text("x = 2\n")
    assert git_commit(root) == sha + "-dirty"


def test_outside_git_it_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"


def test_content_stamp_names_inputs_from_the_root_and_no_commit(tmp_path) -> None:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "x.csv").write_text("a\n1\n")
    outside = tmp_path / "outside.csv"
    outside.write_text("b\n")
    attrs = content_stamp({"ingest": {"k": 1}}, [root / "data" / "x.csv", outside], root)
    assert set(attrs) == {
        "params_hash_ingest",
        "input_sha256:data/x.csv",
        f"input_sha256:{outside.as_posix()}",  # outside the project: named as given
    }
    assert set(stamp({"ingest": {"k": 1}})) >= {"params_hash_ingest", "git_commit"}

"""Provenance: the commit is dirty only when an input differs from it; artefacts carry the code's
SHA-256 instead, a function of the stage's code alone."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from model.provenance import code_sha256, content_stamp, git_commit, stamp


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
    attrs = stamp({"ingest": {"k": 1}}, stage="fit")
    assert set(attrs) >= {"params_hash_ingest", "code_sha256", "version_pymc"}
    assert "git_commit" not in attrs and attrs["code_sha256"] == code_sha256("fit")


def _package(root, files: dict[str, str]):
    for name, text in files.items():
        (root / "model" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "model" / name).write_text(text)
    return root / "model"


def test_code_sha256_is_a_function_of_paths_and_bytes_only(tmp_path) -> None:
    files = {"a.py": "x = 1\n", "sub/b.py": "y = 2\n", "data.txt": "not code\n"}
    one = _package(tmp_path / "one", files)
    two = _package(tmp_path / "elsewhere" / "two", files)
    assert code_sha256(package=one) == code_sha256(package=two)  # wherever the clone is
    (two / "data.txt").write_text("changed, but not code\n")
    assert code_sha256(package=one) == code_sha256(package=two)
    (two / "sub" / "b.py").write_text("y = 3\n")
    assert code_sha256(package=one) != code_sha256(package=two)
    (two / "sub" / "b.py").rename(two / "sub" / "c.py")
    (two / "sub" / "c.py").write_text("y = 2\n")
    assert code_sha256(package=one) != code_sha256(package=two)  # same bytes, another name


def test_a_stage_hashes_only_the_code_dvc_yaml_lists_for_it(tmp_path) -> None:
    """An edit to the report's module must leave the fit's stamp, and so idata.nc, unchanged:
    DVC does not re-run the fit for it, and a fresh clone's full run must write the same bytes."""
    package = _package(tmp_path, {"a.py": "", "reporting/report.py": "", "data/sources/s.py": ""})
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  fit:\n    deps: [model/a.py, model/data/sources, data/raw]\n"
        "  report:\n    deps: [model/reporting/report.py]\n"
    )
    fit, report, everything = (code_sha256(s, package) for s in ("fit", "report", None))
    assert len({fit, report, everything}) == 3
    (package / "reporting" / "report.py").write_text("changed = True\n")
    assert code_sha256("fit", package) == fit
    assert code_sha256("report", package) != report
    (package / "data" / "sources" / "s.py").write_text("changed = True\n")  # a folder: every file
    assert code_sha256("fit", package) != fit
    assert code_sha256("unknown", package) == code_sha256(None, package)  # not in dvc.yaml

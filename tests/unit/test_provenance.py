"""Provenance: artefacts carry their params' and inputs' hashes and the SHA-256 of their stage's
code, never a git commit, so equal code, params and data stamp equal bytes on any clone."""

from __future__ import annotations

from model.provenance import code_sha256, content_stamp, stamp


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

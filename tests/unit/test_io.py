"""Atomic writes leave the previous file or none, never a partial one."""

import json

import pytest

from model.io import atomic_path, write_json, write_text


def test_failed_write_keeps_the_previous_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_json_is_stable_and_strict(tmp_path) -> None:
    target = tmp_path / "m.json"
    write_json(target, {"b": 1, "a": 2.5})
    assert target.read_text() == '{\n  "a": 2.5,\n  "b": 1\n}\n'
    assert json.loads(target.read_text()) == {"a": 2.5, "b": 1}
    with pytest.raises(ValueError):
        write_json(target, {"x": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2.5, "b": 1}


def test_outputs_follow_the_umask_not_mkstemp(tmp_path) -> None:
    import os

    target = write_text(tmp_path / "report.html", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_folder_is_swapped_in_whole(tmp_path) -> None:
    from model.io import atomic_dir

    target = tmp_path / "figures"
    with atomic_dir(target) as d:
        (d / "a.png").write_text("old a")
        (d / "b.png").write_text("old b")
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "a.png").write_text("new a")
        raise RuntimeError("killed after one figure")
    assert sorted(p.name for p in target.iterdir()) == ["a.png", "b.png"]
    assert (target / "a.png").read_text() == "old a"
    with atomic_dir(target) as d:
        (d / "c.png").write_text("new c")
    assert [p.name for p in target.iterdir()] == ["c.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["figures"]

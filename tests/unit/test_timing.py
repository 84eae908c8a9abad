"""The run log: each stage merges its own entry, and clock attributes never reach a file."""

from __future__ import annotations

import json
import threading

import numpy as np
import xarray as xr

from model import paths, timing


def test_each_stage_merges_its_entry_and_keeps_the_others(tmp_path) -> None:
    assert timing.read(tmp_path) == {}
    timing.record(tmp_path, "fit", {"sampling_seconds": 12.5, "ess_bulk_per_second": 3.0})
    timing.record(tmp_path, "fit", {"seconds": 20.0})  # what the CLI adds at the end
    timing.record(tmp_path, "backtest", {"wall_seconds": 100.0, "fold_seconds": {"2020": 1.0}})
    log = json.loads((tmp_path / paths.TIMING).read_text())
    assert log == timing.read(tmp_path)
    assert {k: v for k, v in log["fit"].items() if k != "recorded"} == {
        "sampling_seconds": 12.5,
        "ess_bulk_per_second": 3.0,
        "seconds": 20.0,
    }
    assert log["backtest"]["fold_seconds"] == {"2020": 1.0} and log["backtest"]["recorded"]
    assert not [p.name for p in (tmp_path / paths.TIMING).parent.iterdir() if p.name[0] == "."]


def test_an_unreadable_log_is_replaced(tmp_path) -> None:
    (tmp_path / paths.TIMING).parent.mkdir(parents=True)
    (tmp_path / paths.TIMING).write_text("[1, 2")
    assert timing.read(tmp_path) == {}
    timing.record(tmp_path, "report", {"seconds": 1.0})
    assert set(timing.read(tmp_path)) == {"report"}


def test_stages_recording_at_once_lose_no_entry(tmp_path) -> None:
    names = [f"stage{i}" for i in range(8)]
    threads = [
        threading.Thread(target=timing.record, args=(tmp_path, n, {"seconds": 1.0})) for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(timing.read(tmp_path)) == set(names)


def test_sampling_speed_from_the_fit_attribute() -> None:
    tree = xr.DataTree()
    tree.attrs["sampling_seconds"] = 10.0
    assert timing.sampling(tree, 250.0) == {"sampling_seconds": 10.0, "ess_bulk_per_second": 25.0}
    assert timing.sampling(xr.DataTree(), 250.0) == {
        "sampling_seconds": None,
        "ess_bulk_per_second": None,
    }


def test_clock_attributes_are_dropped_from_every_group_of_a_copy() -> None:
    post = xr.Dataset({"a": (("chain", "draw"), np.zeros((1, 3)))})
    post.attrs = {"created_at": "2026-01-01T00:00:00", "sampling_time": 1.5, "tuning_steps": 20}
    tree = xr.DataTree.from_dict({"posterior": post, "sample_stats": post})
    tree.attrs = {"sampling_seconds": 2.0, "sampler": "nutpie"}
    out = timing.without_clock_attrs(tree)
    assert dict(out.attrs) == {"sampler": "nutpie"}
    for group in ("posterior", "sample_stats"):
        assert dict(out[group].attrs) == {"tuning_steps": 20}
        assert tree[group].attrs["created_at"]  # the caller's tree is left as it was
    assert tree.attrs["sampling_seconds"] == 2.0

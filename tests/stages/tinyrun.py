"""A tiny but real clashcast run: the whole pipeline, through the CLI, on a slice of the shipped
data (one year of GED Iraq, 18 governorates, weekly: ``params/examples/ged_iraq_governorates.yaml``;
the shipped default, cells, runs end to end in ``test_shipped_cells.py``), with small samplers.

Used by the end-to-end, reproducibility, offline and notebook tests. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import yaml
from conftest import GOVERNORATES

from model.cli import STAGES, main

ROOT = Path(__file__).resolve().parents[2]

#: A trial fit of an example, as a user shrinks one (`dvc exp run -S fit.draws=60 ...`): few
#: draws, tune steps and chains, one core, a gate that only reports (a 60-draw fit cannot pass).
TINY_FIT = (
    "fit.draws=60 fit.tune=100 fit.chains=2 runtime.cores=1 fit.prior_samples=50 "
    "diagnostics.fail_on_gate=false"
).split()

TINY_OVERRIDES = {
    "ingest": {"window": {"start": "2016-07-04", "end": "2017-07-02"}},
    # a year of weeks: the offset's long-run level remembers 4 weeks, not 52, so 16 warm it up
    "panel": {"level_long_half_life": 4},
    "model": {"burn_in": 16},
    "fit": {
        "draws": 300,
        "tune": 300,
        "chains": 2,
        "prior_samples": 100,
    },
    "diagnostics": {"fail_on_gate": False, "ess_bulk_min": 100, "ess_tail_min": 100},
    "backtest": {
        # origins 2017-04-03 … 2017-05-29 (the last with 4 weeks after it): 5 dev, 4 test
        "start": "2017-04-03",
        "test_start": "2017-05-08",
        "refit_every": 3,
        "draws": 150,
        "tune": 150,
        "chains": 1,
        "bootstrap": 100,
        "block_origins": 4,
    },
    "runtime": {
        "cores": 1,
        "progressbar": False,
        "dask": {"workers": 1, "threads_per_worker": 1, "memory_limit": "4GiB"},
    },
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base.get(k, {}), v) if isinstance(v, dict) else v
    return out


def make_project(dest: Path, overrides: dict | None = None) -> Path:
    """Copy the shipped inputs and a shrunken governorate params.yaml into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "reports" / "templates", dest / "reports" / "templates")
    params = yaml.safe_load(GOVERNORATES.read_text())
    params = _merge(params, TINY_OVERRIDES)
    if overrides:
        params = _merge(params, overrides)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def set_params(path: Path, assignments: list[str]) -> None:
    """Set ``key.sub=value`` entries in a params file, as ``dvc exp run -S key.sub=value`` does.

    Values are read as YAML (``-S fit.draws=100``, ``-S diagnostics.fail_on_gate=false``); a
    key must already exist, so a typo fails here rather than by an unknown-key error later.
    """
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    for assignment in assignments:
        key, value = assignment.split("=", 1)
        *parents, last = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        if last not in node:
            raise KeyError(f"{key}: not in {path.name}")
        node[last] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True), encoding="utf-8")


LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")


def _is_loopback(host: object) -> bool:
    return isinstance(host, str) and host.startswith(LOOPBACK)


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse every connection and name lookup that would leave the machine.

    Loopback stays open (the Dask cluster of the backtest talks over it); anything else raises
    ``OSError`` and is recorded in the yielded list, so a test can also assert nobody tried.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def _guard(address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(address, tuple) and not _is_loopback(host):
            attempts.append(str(host))
            raise OSError(f"network access to {host} is blocked in this test")

    def connect(self: socket.socket, address: object) -> None:
        _guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        _guard(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host is not None and not _is_loopback(host):
            attempts.append(str(host))
            raise socket.gaierror(f"name lookup of {host} is blocked in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    with (
        mock.patch.object(socket.socket, "connect", connect),
        mock.patch.object(socket.socket, "connect_ex", connect_ex),
        mock.patch.object(socket, "getaddrinfo", getaddrinfo),
    ):
        yield attempts


def run_pipeline(project: Path, stages: tuple[str, ...] = STAGES) -> None:
    """Run the stages in order through the console-script entry point, in this process."""
    for stage in stages:
        code = main(["--params", str(project / "params.yaml"), "--root", str(project), stage])
        assert code == 0, f"stage {stage} exited {code}"


def run_pipeline_processes(
    project: Path,
    stages: tuple[str, ...] = STAGES,
    hash_seed: str = "random",
    compile_cache: Path | None = None,
) -> None:
    """Run each stage in a process of its own, as ``dvc repro`` does, with ``PYTHONHASHSEED``.

    ``dvc repro`` run by hand has no fixed hash seed (only the Makefile sets one), so a run with
    another seed must give the same outputs. ``compile_cache`` (PyTensor's ``base_compiledir``;
    default: the caller's) set to an empty folder makes the run compile everything afresh, as
    the first run after a change to the model or the data does.
    """
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    if compile_cache is not None:
        env["PYTENSOR_FLAGS"] = f"base_compiledir={compile_cache}"
    for stage in stages:
        args = ["--params", str(project / "params.yaml"), "--root", str(project), stage]
        proc = subprocess.run(
            [sys.executable, "-m", "model.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"{stage} exited {proc.returncode}: {proc.stderr[-2000:]}"

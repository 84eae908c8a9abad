"""A stage killed mid-way leaves the previous outputs (or none), never a truncated file that a
later stage would read."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.cli import main


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kill_after(project: Path, stage: str, seconds: float, sig: signal.Signals) -> int | None:
    """Start ``clashcast <stage>`` and send ``sig`` after ``seconds``; return its exit code."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "model.cli",
            "--root",
            str(project),
            "--params",
            str(project / "params.yaml"),
            stage,
        ],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    time.sleep(seconds)
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stage", "outputs", "after"),
    [
        ("fit", ["data/fitted/idata.nc", "reports/metrics/diagnostics.json"], (4.0, 12.0)),
        ("report", ["reports/forecast.html", "reports/forecast.pdf"], (1.5, 4.0)),
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_stage_keeps_previous_outputs(
    tiny_run, tmp_path, stage: str, outputs: list[str], after: tuple[float, ...], sig
) -> None:
    source, _ = tiny_run
    project = tmp_path / "project"
    shutil.copytree(source, project)
    before = {rel: _digest(project / rel) for rel in outputs}
    for seconds in after:
        code = _kill_after(project, stage, seconds, sig)
        for rel in outputs:
            path = project / rel
            if code == 0:  # it finished before the signal: a whole new output is fine
                continue
            assert path.exists(), f"{rel} vanished after {sig.name} at {seconds} s"
            assert _digest(path) == before[rel], f"{rel} changed after {sig.name} at {seconds} s"
    # What is there is whole: the downstream stage reads it.
    assert main(["--root", str(project), "--params", str(project / "params.yaml"), "forecast"]) == 0

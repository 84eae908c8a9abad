"""Provenance stamped on every artefact: params hash, input hashes and, where the bytes depend
on the run anyway, git commit and versions."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("clashcast", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas", "xarray")


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def params_hash(section: Any) -> str:
    """A stable hash of a params section (a pydantic model or plain data)."""
    data = section.model_dump(mode="json") if hasattr(section, "model_dump") else section
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


#: Tracked files that a run or a benchmark rewrites and that no stage reads: a change to them
#: does not make the code or data that produced an artefact differ from the commit.
NOT_INPUTS = ("dvc.lock", "README.md", "benchmarks/results", "docs")


def git_commit(cwd: Path | str = ".") -> str:
    """The current commit, with ``-dirty`` when tracked inputs differ; ``unknown`` outside git.

    ``dvc repro`` rewrites ``dvc.lock`` after each stage, so the files in :data:`NOT_INPUTS`
    are left out of the check: otherwise every stage after the first would call its own,
    committed, code dirty.
    """
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                *(f":(top,exclude){path}" for path in NOT_INPUTS),
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def content_stamp(
    params: dict[str, Any], inputs: Iterable[Path | str] = (), root: Path | str | None = None
) -> dict[str, str]:
    """``params_hash_*`` and ``input_sha256:*``: what an artefact's content is a function of.

    The attributes of artefacts that DVC hashes and later stages read (the ingest tables, the
    panel): they name no git commit, machine or Python version, so two runs on equal inputs
    write equal bytes on any clone, and DVC stops at a stage whose outputs did not change.

    Parameters
    ----------
    params : dict
        A label to a params section; each gets its own hash so that a loader can say which
        part changed.
    inputs : iterable of path-like
        Files whose SHA-256 is stamped.
    root : path-like, optional
        The project root: inputs inside it are named relative to it (as ``dvc.yaml`` names
        them), not by where the project happens to be.
    """
    attrs = {f"params_hash_{k}": params_hash(v) for k, v in params.items()}
    for p in map(Path, inputs):
        name = p.relative_to(root) if root is not None and p.is_relative_to(root) else p
        attrs[f"input_sha256:{name.as_posix()}"] = file_sha256(p)
    return attrs


def stamp(
    params: dict[str, Any], inputs: Iterable[Path | str] = (), root: Path | str | None = None
) -> dict[str, str]:
    """:func:`content_stamp` plus ``git_commit`` and ``version_*``: the provenance of an
    artefact made once per run (the posterior, the forecast), whose bytes depend on the
    sampler anyway."""
    attrs = content_stamp(params, inputs, root)
    attrs["git_commit"] = git_commit()
    for k, v in package_versions().items():
        attrs[f"version_{k}"] = v
    return attrs

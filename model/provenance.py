"""Provenance stamped on every artefact: params hash, input hashes and, for the posterior and the
forecast, the SHA-256 of the code that made them and the package versions.

No artefact carries a git commit or a time: a stage's outputs are a function of its code,
params and inputs, so that a fresh clone's ``dvc repro`` writes the bytes ``dvc.lock`` records.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

#: The package whose code :func:`code_sha256` hashes; ``dvc.yaml`` lies beside it.
PACKAGE = Path(__file__).resolve().parent
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


def _declared_code(package: Path, stage: str) -> list[Path] | None:
    """The package's ``.py`` files that ``dvc.yaml`` lists as ``stage``'s dependencies (a
    folder stands for every file in it); None without a ``dvc.yaml`` naming the stage."""
    spec = package.parent / "dvc.yaml"
    if not spec.is_file():
        return None
    stages = (yaml.safe_load(spec.read_text(encoding="utf-8")) or {}).get("stages") or {}
    if stage not in stages:
        return None
    files: set[Path] = set()
    for dep in map(str, stages[stage].get("deps") or []):
        if not dep.startswith(f"{package.name}/"):
            continue
        full = package.parent / dep
        if full.is_dir():
            files.update(full.rglob("*.py"))
        elif full.suffix == ".py" and full.is_file():
            files.add(full)
    return sorted(files)


def code_sha256(stage: str | None = None, package: Path | str = PACKAGE) -> str:
    """The SHA-256 of the code a stage runs, in place of a git commit.

    One line ``<path>\\0<file SHA-256>`` per Python file, paths relative to the project root
    and sorted, hashed together: equal code gives an equal digest on any clone, committed or not.

    Parameters
    ----------
    stage : str, optional
        A stage of ``dvc.yaml``: only the package files it lists as dependencies are hashed,
        the code DVC re-runs the stage for. An edit to another stage's module then leaves the
        digest, and the bytes of the outputs DVC recorded, as they were.
    package : path-like
        The package folder (``model/``). Without ``stage``, or without a ``dvc.yaml`` beside the
        package that names it (an installed package), every ``.py`` file under it is hashed.
    """
    package = Path(package)
    files = (_declared_code(package, stage) if stage else None) or sorted(package.rglob("*.py"))
    lines = (f"{f.relative_to(package.parent).as_posix()}\0{file_sha256(f)}\n" for f in files)
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def stamp(
    params: dict[str, Any],
    inputs: Iterable[Path | str] = (),
    root: Path | str | None = None,
    *,
    stage: str | None = None,
) -> dict[str, str]:
    """:func:`content_stamp` plus ``code_sha256`` (:func:`code_sha256` of ``stage``) and
    ``version_*``: the provenance of the posterior and the forecast, which depend on the
    sampler and its packages too."""
    attrs = content_stamp(params, inputs, root)
    attrs["code_sha256"] = code_sha256(stage)
    for k, v in package_versions().items():
        attrs[f"version_{k}"] = v
    return attrs

"""`dvc.yaml` and the code agree: each stage lists exactly the modules it runs, and the files it
writes are the ones :mod:`model.paths` names for it (the one home of every path)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from model import paths

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PACKAGE = ROOT / "model"


def _module_file(name: str) -> Path | None:
    """``model.a.b`` -> its file (module or package ``__init__``), None outside the package."""
    if name != "model" and not name.startswith("model."):
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path, top_level_only: bool) -> set[Path]:
    """Files of the package that ``path`` imports (in functions too, unless ``top_level_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    found = {_module_file(n) for n in names}
    # importing model.a.b runs model/__init__.py and model/a/__init__.py first
    parents = {p.parent / "__init__.py" for p in found if p is not None}
    return {p for p in found | parents if p is not None and p.exists()}


def stage_modules(stage: str) -> set[str]:
    """Every file of the package that ``clashcast <stage>`` runs: the stage module and what it
    imports, transitively, plus the CLI (whose own imports count only at module level: the
    other commands' imports do not run in a stage)."""
    cli = PACKAGE / "cli.py"
    todo = [PACKAGE / "stages" / f"{stage}.py", *_imports(cli, top_level_only=True)]
    seen = {cli, PACKAGE / "__init__.py", PACKAGE / "stages" / "__init__.py"}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += _imports(path, top_level_only=False)
    return {p.relative_to(ROOT).as_posix() for p in seen}


def declared_modules(stage: str) -> set[str]:
    """The package files a stage lists in dvc.yaml (a folder stands for every file in it)."""
    out = set()
    for dep in STAGES[stage]["deps"]:
        if not str(dep).startswith("model/"):
            continue
        full = ROOT / dep
        files = sorted(full.rglob("*.py")) if full.is_dir() else [full]
        out |= {f.relative_to(ROOT).as_posix() for f in files}
    return out


@pytest.mark.parametrize("stage", list(STAGES))
def test_each_stage_lists_exactly_the_modules_it_runs(stage: str) -> None:
    declared, used = declared_modules(stage), stage_modules(stage)
    if stage == "ingest":  # adapters are imported by name (model.data.sources.<format>)
        used |= {p for p in declared if p.startswith("model/data/sources/")}
    assert not used - declared, f"{stage}: add to dvc.yaml deps: {sorted(used - declared)}"
    assert not declared - used, f"{stage}: not imported: {sorted(declared - used)}"


def _outputs(stage: str) -> set[str]:
    spec = STAGES[stage]
    out = set()
    for kind in ("outs", "metrics", "plots"):
        for entry in spec.get(kind, []):
            out.add(next(iter(entry)) if isinstance(entry, dict) else str(entry))
    return out


@pytest.mark.parametrize("stage", list(STAGES))
def test_each_stage_writes_the_paths_the_registry_gives_it(stage: str) -> None:
    registry = {a.path.as_posix() for a in paths.ARTEFACTS.values() if a.stage == stage}
    assert registry == _outputs(stage)


def test_no_other_module_spells_an_artefact_path() -> None:
    """Docstrings may name files; code takes each path from model.paths."""
    spelled = {a.path.as_posix() for a in paths.ARTEFACTS.values()}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "paths.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and any(s in node.value for s in spelled)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders


def test_no_stage_tracks_the_runtime_section() -> None:
    """How a run uses the machine changes no output: `dvc exp run -S runtime.cores=1` or another
    Dask worker count must leave `dvc status` up to date."""
    tracked = [str(k) for stage in STAGES.values() for k in stage.get("params", [])]
    assert not [k for k in tracked if k == "runtime" or k.startswith("runtime.")]
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(raw["runtime"]) == {"cores", "progressbar", "dask", "fold_cache"}

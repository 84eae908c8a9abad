"""``dvc exp show`` after two ``dvc exp run -S …``: the headline figures side by side.

A git + DVC project made of the tiny run's inputs (tinyrun.make_project), the repository's
``dvc.yaml`` and the package sources it lists as dependencies; the stages call the installed
``clashcast``. Two experiments differ only in the EWMA baseline's half-life: the second re-runs
only the backtest and the report (DVC's run cache restores the rest), and its headline must
show another skill over EWMA and the same model figures. Slow: the first experiment runs the
whole tiny pipeline (about 3 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tinyrun import ROOT, make_project

HEADLINE = "reports/metrics/headline.json"
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MPLBACKEND": "Agg"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout[-1500:]}{proc.stderr[-3000:]}"
    return proc.stdout


def _experiments(shown: list) -> Iterator[dict]:
    """Every experiment (name, params, metrics) in ``dvc exp show --json``."""
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                yield {
                    "name": rev.get("name") or data.get("name"),
                    "params": data.get("params", {}).get("params.yaml", {}).get("data", {}),
                    "metrics": data.get("metrics", {}).get(HEADLINE, {}).get("data", {}),
                }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("exp") / "project")
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(ROOT / "model", root / "model", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    _run(["git", "init", "-q"], root)
    _run([str(BIN / "dvc"), "init", "-q"], root)
    _run([str(BIN / "dvc"), "config", "core.analytics", "false"], root)
    shutil.copytree(ROOT / ".dvc" / "plots", root / ".dvc" / "plots", dirs_exist_ok=True)
    (root / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    _run(["git", "add", "-A"], root)
    _run([*git, "commit", "-q", "-m", "tiny project"], root)
    return root


@pytest.mark.slow
def test_exp_show_compares_the_headline_of_two_experiments(project: Path) -> None:
    dvc = str(BIN / "dvc")
    # the EWMA baseline's half-life is chosen on the dev window among memory.ewma_half_lives
    for name, half_life in (("ewma13", 13), ("ewma4", 4)):
        _run([dvc, "exp", "run", "-q", "-n", name, "-S", f"memory.ewma_half_lives=[{half_life}]"],
             project)  # fmt: skip
    shown = json.loads(_run([dvc, "exp", "show", "--json"], project))
    exps = {e["name"]: e for e in _experiments(shown)}
    assert {"ewma13", "ewma4"} <= set(exps), list(exps)
    a, b = exps["ewma13"], exps["ewma4"]
    assert a["params"]["memory"]["ewma_half_lives"] == [13]
    assert b["params"]["memory"]["ewma_half_lives"] == [4]
    for exp in (a, b):
        m = exp["metrics"]
        assert m["gate"] in ("pass", "fail") and "seconds" not in m  # times: the run log
        test = m["test"]
        assert set(test["brier_skill"]) == {"climatology", "ewma", "markov", "logistic",
                                            "global_rate"}  # fmt: skip
        assert {"ece", "auc_pr", "brier"} <= set(test) and "brier_skill" in test["within_h"]
    # another EWMA baseline: another skill over it; the model and the other baselines as before
    ta, tb = a["metrics"]["test"], b["metrics"]["test"]
    assert ta["brier_skill"]["ewma"]["mean"] != tb["brier_skill"]["ewma"]["mean"]
    assert ta["within_h"]["brier_skill"]["ewma"] != tb["within_h"]["brier_skill"]["ewma"]
    assert ta["ece"] == tb["ece"] and ta["brier"] == tb["brier"]
    assert ta["brier_skill"]["climatology"] == tb["brier_skill"]["climatology"]

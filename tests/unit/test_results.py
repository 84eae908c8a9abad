"""The typed results: each file's dict comes back byte for byte, a missing key is named, the
gate's checks and the score catalogue are declared once.

``tests/data/backtest_json_of_fake_rows.json`` is ``reports/metrics/backtest.json`` as the
backtest stage wrote it before the results were typed (dicts assembled in place), on the
prediction rows of :func:`_stage_inputs`; the stage must still write exactly those bytes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, GOVERNORATES
from fake_run import fake_diagnostics

from model.backtesting import catalogue as cat
from model.backtesting import evaluation as ev
from model.backtesting import scoring
from model.backtesting.backtest import BacktestResult, Fold, FoldResult
from model.config import DiagnosticsParams, read_params
from model.diagnostics_results import (
    CHECKS,
    DiagnosticsMetrics,
    Loo,
    ProximityLoo,
    SamplingSummary,
)
from model.errors import StageError
from model.inference.diagnostics import gate, pareto_k_counts, sampling_summary, thresholds_dict
from model.results import BacktestMetrics, WindowScores
from model.stages import backtest as stage

from .test_diagnostics import fabricated
from .test_evaluation import fake_rows


def _same_bytes(a: dict, b: dict) -> None:
    """Equal as JSON text, key order included (``==`` would let 400 equal 400.0)."""
    assert json.dumps(a) == json.dumps(b)


def _stage_inputs() -> tuple[BacktestResult, dict]:
    """Prediction rows with the proximity comparison (NaN at the first origin, as after a failed
    comparison fold), four folds, one comparison fold and one failed fold."""
    pred, within, windows = fake_rows()
    rng = np.random.default_rng(7)
    for col in (ev.WITH_PROXIMITY, ev.WITHOUT_PROXIMITY):
        pred[col] = np.clip(pred["model"] + rng.normal(0, 0.05, len(pred)), 0.01, 0.99)
    first = pred["origin"] == pred["origin"].min()
    pred.loc[first, [ev.WITH_PROXIMITY, ev.WITHOUT_PROXIMITY]] = np.nan
    o = [pd.Timestamp(x) for x in windows["dev"] + windows["test"]]
    folds = [
        FoldResult(Fold(o[i], tuple(o[i : i + 3]), 1), None, None, 1.0, i) for i in (0, 3, 6, 9)
    ]
    comparison = [FoldResult(Fold(o[1], tuple(o[1:12]), 1), None, None, 1.0, 2)]
    failed = {pd.Timestamp("2019-12-30"): ((pd.Timestamp("2019-12-30"),), "boom")}
    return BacktestResult(pred, within, folds, failed, comparison, {}), windows


def _params():
    # The fixture was written with the governorate params (the shipped default then).
    params = read_params(GOVERNORATES)
    # The fixture was written with equal-width calibration bins (before quantile bins were the
    # default): pinned, the bytes show that path unchanged.
    pinned = {"ewma_half_life": 13.0, "calibration_bins": 10, "calibration_binning": "uniform",
              "bootstrap": 1000, "block_origins": 8, "proximity_refit_every": 52}  # fmt: skip
    return params.model_copy(
        update={
            "backtest": params.backtest.model_copy(update=pinned),
            "fit": params.fit.model_copy(update={"seed": 20170518}),
        }
    )


def test_the_backtest_stage_writes_the_same_bytes_as_before(tmp_path: Path) -> None:
    result, windows = _stage_inputs()
    metrics = stage.write_outputs(result, windows, _params(), tmp_path, {"wall_seconds": 1})
    written = (tmp_path / "reports/metrics/backtest.json").read_text(encoding="utf-8")
    assert written == (DATA / "backtest_json_of_fake_rows.json").read_text(encoding="utf-8")
    order = [
        "horizon", "windows", "unit", "ewma_half_life", "folds", "proximity_folds", "failed_origins"
    ]  # fmt: skip
    assert list(metrics.to_json()) == order
    assert metrics.windows["test"].proximity.refit_every == 52
    assert [f.fit_cutoff for f in metrics.proximity_folds] == [windows["dev"][1].date().isoformat()]


def test_backtest_json_round_trips_in_order_and_type() -> None:
    """The file (keys sorted) and the scores as evaluated (keys in their order) come back."""
    d = json.loads((DATA / "backtest_json_of_fake_rows.json").read_text(encoding="utf-8"))
    typed = BacktestMetrics.from_json(d)
    assert json.dumps(typed.to_json(), sort_keys=True) == json.dumps(d, sort_keys=True)
    assert BacktestMetrics.from_json(typed.to_json()) == typed
    pred, within, windows = fake_rows()  # as scored, before the stage adds its keys
    scored = ev.summarise_backtest(pred, within, windows, bins=5, n_boot=50, block=2)
    assert "folds" not in scored and "proximity" not in scored["windows"]["test"]
    _same_bytes(BacktestMetrics.from_json(scored).to_json(), scored)
    test = typed.windows["test"]
    assert test.skill["ewma"]["brier"].to_json() == d["windows"]["test"]["skill"]["ewma"]["brier"]
    assert test.scores["model"]["ece"] == d["windows"]["test"]["model"]["ece"]
    assert test.within_h.skill["climatology"]["log_score"].dm_pvalue is not None
    window = WindowScores.from_json(d["windows"]["dev"])
    assert (
        window == typed.windows["dev"] and window.per_horizon["2"].brier_skill["markov"] is not None
    )


def test_a_missing_key_names_the_file_and_the_key() -> None:
    d = json.loads((DATA / "backtest_json_of_fake_rows.json").read_text(encoding="utf-8"))
    broken = copy.deepcopy(d)
    del broken["windows"]["test"]["skill"]["ewma"]["brier"]["dm_pvalue"]
    with pytest.raises(StageError, match=r"backtest\.json: missing key "
                       r"'windows\.test\.skill\.ewma\.brier\.dm_pvalue'"):  # fmt: skip
        BacktestMetrics.from_json(broken)
    broken = copy.deepcopy(d)
    del broken["windows"]["dev"]["per_horizon"]["1"]["logistic"]["auc_pr"]
    with pytest.raises(StageError, match=r"'windows\.dev\.per_horizon\.1\.logistic\.auc_pr'"):
        BacktestMetrics.from_json(broken)
    diag = fake_diagnostics("pass")
    del diag["design"]
    with pytest.raises(StageError, match=r"diagnostics\.json: missing key 'design'"):
        DiagnosticsMetrics.from_json(diag)
    diag = fake_diagnostics("pass")
    del diag["thresholds"]["bfmi_min"]
    with pytest.raises(StageError, match=r"diagnostics\.json: missing key 'thresholds\.bfmi_min'"):
        DiagnosticsMetrics.from_json(diag).checks  # noqa: B018


@pytest.mark.parametrize("gate_", ["pass", "fail"])
def test_diagnostics_json_round_trips_in_order_and_type(gate_: str) -> None:
    d = fake_diagnostics(gate_)
    typed = DiagnosticsMetrics.from_json(d)
    _same_bytes(typed.to_json(), d)
    assert DiagnosticsMetrics.from_json(typed.to_json()) == typed
    no_block = d | {"proximity": None}
    _same_bytes(DiagnosticsMetrics.from_json(no_block).to_json(), no_block)
    assert typed.loo.fits["no_proximity"].pareto_k_bad == 1 and typed.loo.variant_draws == 250
    assert typed.proximity.block == ("prox_government__armed_group_near",)


def test_the_fit_stage_assembles_what_it_assembled_before() -> None:
    """The fit stage's DiagnosticsMetrics against the dict it built in place before (a copy of
    that assembly), on a real sampling summary, a compared LOO section and a block's worth."""
    dp = DiagnosticsParams()
    summary = sampling_summary(fabricated(divergences=2))
    failed = gate(summary, dp)
    k = np.array([0.1, 0.6, 0.8, 1.2])
    loo = {
        "model": {"elpd": -10.5, "se": 1.25, "p_loo": 3.0, "pareto_k_bad": 2,
                  "elpd_diff": 0.0, "se_diff": 0.0},
        "no_features": {"elpd": -12.0, "se": 1.5, "p_loo": 1.0, "pareto_k_bad": 0,
                        "elpd_diff": 1.5, "se_diff": 0.75},
        "best": "model",
    }  # fmt: skip
    worth = {"loo_diff": 1.5, "loo_se": 0.5, "clear": True, "elpd_with": -10.5,
             "elpd_without": -12.0}  # fmt: skip
    prior = {"observed_rate": 0.2, "draws": 100}
    design = {"blocks": 4, "outcomes": 16, "regions": 2, "countries": 1, "clash_rate": 0.25,
              "cutoff": "2020-01-06"}  # fmt: skip
    old = {
        **summary,
        "gate": "fail" if failed else "pass",
        "failed_checks": failed,
        "thresholds": thresholds_dict(dp),
        "pareto_k": pareto_k_counts(k, dp.pareto_k_bad),
        "prior_predictive": prior,
        "loo": loo | {"variant_draws": 200},
        "proximity": worth | {"block": ["prox_a__b_near"], "shipped": "with", "variant_draws": 200},
        "design": design,
    }
    new = DiagnosticsMetrics(
        sampling=SamplingSummary(**summary),
        gate="fail" if failed else "pass",
        failed_checks=tuple(failed),
        thresholds=thresholds_dict(dp),
        pareto_k=pareto_k_counts(k, dp.pareto_k_bad),
        prior_predictive=prior,
        loo=Loo.from_json(loo | {"variant_draws": 200}),
        proximity=ProximityLoo(
            **worth, block=("prox_a__b_near",), shipped="with", variant_draws=200
        ),
        design=design,
    )
    _same_bytes(new.to_json(), old)
    assert failed == ["divergences 2 > 0"]


def test_the_gate_is_declared_once() -> None:
    assert [c.threshold for c in CHECKS] == list(thresholds_dict(DiagnosticsParams()))[:5]
    d = fake_diagnostics("fail")
    checks = {r.check.key: r for r in DiagnosticsMetrics.from_json(d).checks}
    assert list(checks) == ["r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences", "bfmi_min"]
    assert checks["r_hat_max"].ok is False and checks["ess_bulk_min"].ok is True
    r_hat = CHECKS[0]
    assert r_hat.passes(1.01, 1.01) and not r_hat.passes(float("nan"), 1.01)
    assert r_hat.passes(None, 1.01) is None
    assert CHECKS[1].failure(350.5, 400) == "ess_bulk_min 350.5 < 400"
    summary = sampling_summary(fabricated()) | {"ess_tail_min": 399.0, "bfmi_min": 0.3}
    assert gate(summary, DiagnosticsParams()) == ["ess_tail_min 399 < 400"]


def test_the_catalogue_is_what_scoring_evaluation_and_the_report_use() -> None:
    rng = np.random.default_rng(1)
    p, y = rng.uniform(0.05, 0.95, 200), rng.integers(0, 2, 200)
    assert tuple(scoring.summarize(p, y, 5)) == cat.SCORE_NAMES
    assert tuple(scoring.step_scores(p, y)) == cat.PER_STEP_SCORES
    assert tuple(scoring.LOSSES) == cat.SKILL_SCORES
    names = set(cat.SCORE_NAMES)
    assert set(cat.PER_STEP_SCORES) <= names and set(cat.HEADLINE_SCORES) <= names
    assert [s.name for s in cat.REPORTED] == ["brier", "log_score", "auc_roc", "auc_pr", "ece"]
    assert cat.FORECASTERS == ("model", *cat.BASELINES)  # baselines named in one place
    assert {s.better for s in cat.SCORES} == {"lower", "higher", None}
    assert cat.SCORES[0].format(0.12345) == "0.123"


def test_a_window_without_the_comparison_keeps_no_proximity_key() -> None:
    pred, within, windows = fake_rows()
    typed = ev.backtest_metrics(pred, within, windows, bins=5, n_boot=50, block=2)
    window = typed.windows["dev"]
    assert window.proximity is None and "proximity" not in window.to_json()
    stamped = replace(typed, folds=(), failed_origins=())
    assert stamped.to_json()["folds"] == [] and "proximity_folds" not in stamped.to_json()

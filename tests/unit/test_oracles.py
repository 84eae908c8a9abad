"""The hand-written scores and the logistic baseline agree with scikit-learn on random inputs.

scikit-learn is a test dependency only (the ``dev`` extra): the package never imports it. Each
case draws forecasts and outcomes at random (some with ties, some with rare positives), as the
backtest's rows are: many regions at one forecast, clashes in a few percent of weeks.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score

from model.backtesting.baselines import fit_logistic
from model.backtesting.scoring import auc_pr, auc_roc, expected_calibration_error, reliability_curve

CASES = [
    # seed, rows, prevalence, decimals (None: continuous forecasts; 2: many ties)
    (0, 50, 0.3, None),
    (1, 400, 0.05, None),
    (2, 1000, 0.5, 2),
    (3, 2000, 0.02, 2),
    (4, 300, 0.15, 1),
]


def _draw(seed: int, n: int, prevalence: float, decimals: int | None):
    """Forecasts with some skill: outcomes drawn, then forecasts leaning toward them."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int8)
    y[:2] = [0, 1]  # both classes present
    p = np.clip(rng.beta(1, 4, n) + 0.3 * y * rng.random(n), 0.0, 1.0)
    if decimals is not None:
        p = np.round(p, decimals)
    return p, y


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
def test_auc_roc_and_auc_pr_match_scikit_learn(case) -> None:
    p, y = _draw(*case)
    assert auc_roc(p, y) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert auc_pr(p, y) == pytest.approx(average_precision_score(y, p), abs=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
@pytest.mark.parametrize("bins", [5, 10])
def test_uniform_reliability_curve_matches_scikit_learn(case, bins: int) -> None:
    p, y = _draw(*case)
    p = np.clip(p + 1e-6, 0, 1)  # off the bin edges, where the two conventions differ
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    curve = reliability_curve(p, y, bins, binning="uniform")
    filled = curve["count"] > 0
    np.testing.assert_allclose(curve["forecast_mean"][filled], prob_pred, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["observed_rate"][filled], prob_true, rtol=0, atol=1e-12)
    # ECE is the count-weighted gap of the same bins
    counts = np.histogram(p, bins=np.linspace(0, 1, bins + 1))[0]
    ece = np.sum(counts[counts > 0] * np.abs(prob_pred - prob_true)) / len(p)
    assert expected_calibration_error(p, y, bins, binning="uniform") == pytest.approx(
        ece, abs=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
@pytest.mark.parametrize("bins", [5, 10])
def test_quantile_reliability_curve_matches_scikit_learn(case, bins: int) -> None:
    """The same edges (percentiles) and the same rule at an edge, ties and all: no nudge."""
    p, y = _draw(*case)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    curve = reliability_curve(p, y, bins, binning="quantile")
    filled = curve["count"] > 0
    np.testing.assert_allclose(curve["forecast_mean"][filled], prob_pred, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["observed_rate"][filled], prob_true, rtol=0, atol=1e-12)
    counts = curve["count"][filled]
    ece = np.sum(counts * np.abs(prob_pred - prob_true)) / len(p)
    assert expected_calibration_error(p, y, bins) == pytest.approx(ece, abs=1e-12)


@pytest.mark.parametrize("ridge", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_baseline_matches_scikit_learn(seed: int, ridge: float) -> None:
    """Same objective: log-loss + ridge/2 · |slopes|², the intercept unpenalised (C = 1/ridge).
    scikit-learn has no offset: this is the path without one (the offset's own test, by a
    property, is in tests/unit/test_baselines.py)."""
    rng = np.random.default_rng(seed)
    n, k = 600, 4
    x = rng.normal(0, 1, (n, k))
    logit = -2.0 + x @ np.array([1.0, -0.5, 0.0, 2.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    ours = fit_logistic(x, y, ridge=ridge)
    ref = LogisticRegression(C=1.0 / ridge, tol=1e-12, max_iter=10_000).fit(x, y)
    np.testing.assert_allclose(ours[0], ref.intercept_[0], atol=1e-6)
    np.testing.assert_allclose(ours[1:], ref.coef_[0], atol=1e-6)


def test_the_package_does_not_import_scikit_learn() -> None:
    from conftest import ROOT

    users = [
        p for p in (ROOT / "model").rglob("*.py") if "sklearn" in p.read_text(encoding="utf-8")
    ]
    assert not users, f"scikit-learn is a test dependency only: {users}"

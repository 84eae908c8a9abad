"""The headline metrics quote the diagnostics and the backtest, and stay a handful of columns."""

from __future__ import annotations

import pandas as pd
from fake_run import fake_diagnostics

from model.backtesting import evaluation as ev
from model.reporting.headline import headline_metrics

from .test_evaluation import fake_rows

DIAGNOSTICS = fake_diagnostics("fail") | {
    "gate": "fail",
    "failed_checks": ["r_hat_max 1.02 > 1.01"],
    "divergences": 3,
    "sampling_seconds": 61.234,  # an old diagnostics.json: a time is never a headline
    "r_hat_max": 1.02,
}


def _backtest() -> dict:
    pred, within, windows = fake_rows()
    return ev.summarise_backtest(pred, within, windows, bins=5, n_boot=50, block=2)


def test_headline_quotes_the_test_window():
    backtest = _backtest()
    out = headline_metrics(DIAGNOSTICS, backtest)
    test = backtest["windows"]["test"]
    assert out["gate"] == "fail" and out["failed_checks"] == 1 and out["divergences"] == 3
    assert "seconds" not in pd.json_normalize(out).columns.str.split(".").str[-1]
    assert "dev" not in out
    assert out["test"]["ece"] == test["model"]["ece"]
    assert out["test"]["auc_pr"] == test["model"]["auc_pr"]
    assert set(out["test"]["brier_skill"]) == set(test["skill"])
    clim = test["skill"]["climatology"]["brier"]
    assert out["test"]["brier_skill"]["climatology"] == {
        k: clim[k] for k in ("mean", "ci_low", "ci_high")
    }
    within = out["test"]["within_h"]
    assert within["ece"] == test["within_h"]["model"]["ece"]
    assert (
        within["brier_skill"]["ewma"]["mean"] == test["within_h"]["skill"]["ewma"]["brier"]["mean"]
    )
    # a few dozen columns in `dvc metrics show`, not hundreds
    assert len(pd.json_normalize(out).columns) <= 40


def test_headline_without_backtest_or_test_window():
    assert set(headline_metrics(DIAGNOSTICS)) == {"gate", "failed_checks", "divergences"}
    backtest = _backtest()
    dev_only = backtest | {"windows": {"dev": backtest["windows"]["dev"]}}  # model selection
    out = headline_metrics(DIAGNOSTICS, dev_only)
    assert out["dev"]["origins"] == backtest["windows"]["dev"]["origins"]
    assert "seconds" not in out

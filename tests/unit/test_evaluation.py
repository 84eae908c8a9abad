"""Scoring a backtest by window: the JSON contract, skill with uncertainty, within H, tables."""

import json

import numpy as np
import pandas as pd
import pytest

from model.backtesting import evaluation as ev
from model.backtesting.catalogue import BASELINES, FORECASTERS, WITHIN_FORECASTERS
from model.backtesting.scoring import reliability_table


def fake_rows(n_origins: int = 12, n_regions: int = 5, horizon: int = 2):
    """Weekly and within-H prediction rows with a model better than its baselines."""
    rng = np.random.default_rng(0)
    origins = pd.date_range("2020-01-06", periods=n_origins, freq="W-MON")
    idx = pd.MultiIndex.from_product(
        [origins, [f"R{i}" for i in range(n_regions)], range(1, horizon + 1)],
        names=["origin", "region", "horizon"],
    )
    df = idx.to_frame(index=False)
    truth = rng.uniform(0.02, 0.6, len(df))
    df["y"] = (rng.random(len(df)) < truth).astype(np.int8)
    df["model"] = np.clip(truth + rng.normal(0, 0.05, len(df)), 0.01, 0.99)
    for name in BASELINES:
        df[name] = rng.uniform(0.05, 0.5, len(df))
    df["global_rate"] = 0.3  # constant forecasts: AUC is 0.5
    w = df.groupby(["origin", "region"], as_index=False).agg(y=("y", "max"))
    w["model"] = np.clip(0.5 + 0.4 * (w["y"] - 0.5) + rng.normal(0, 0.1, len(w)), 0.01, 0.99)
    for name in ("independent", "climatology", "ewma"):
        w[name] = rng.uniform(0.1, 0.9, len(w))
    windows = {"dev": list(origins[:6]), "test": list(origins[6:])}
    return df, w, windows


def test_backtest_json_has_the_windows_contract(tmp_path):
    from model import io

    pred, within, windows = fake_rows()
    out = ev.summarise_backtest(pred, within, windows, bins=5, n_boot=200, block=2, seed=1)
    assert out["horizon"] == 2 and set(out["windows"]) == {"dev", "test"}
    test = out["windows"]["test"]
    assert test["first_origin"] == "2020-02-17" and test["last_origin"] == "2020-03-23"
    assert test["origins"] == 6 and test["rows"] == 6 * 5 * 2
    assert test["prevalence"] == pytest.approx(ev.in_window(pred, windows["test"])["y"].mean())
    for name in FORECASTERS:
        assert set(test[name]) >= {"brier", "log_score", "auc_roc", "auc_pr", "ece"}
    for base in BASELINES:
        for score in ("brier", "log_score"):
            s = test["skill"][base][score]
            assert set(s) == {"mean", "ci_low", "ci_high", "dm_pvalue"}
            assert s["ci_low"] <= s["mean"] <= s["ci_high"] and 0 <= s["dm_pvalue"] <= 1
    wh = test["within_h"]
    assert wh["rows"] == 6 * 5 and set(wh["skill"]) == {"climatology", "ewma"}
    for name in WITHIN_FORECASTERS:
        assert set(wh[name]) >= {"brier", "log_score", "ece"}
    assert test["skill"]["global_rate"]["brier"]["mean"] > 0  # the model is better here
    io.write_json(tmp_path / "a.json", out)
    again = ev.summarise_backtest(pred, within, windows, bins=5, n_boot=200, block=2, seed=1)
    io.write_json(tmp_path / "b.json", again)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    json.loads((tmp_path / "a.json").read_text())


def test_windows_score_only_their_own_origins():
    pred, within, windows = fake_rows()
    out = ev.summarise_backtest(pred, within, windows, bins=5, n_boot=50, block=2)
    dev = ev.in_window(pred, windows["dev"])
    y = dev["y"].to_numpy()
    assert out["windows"]["dev"]["model"]["brier"] == pytest.approx(
        float(np.mean((dev["model"] - y) ** 2))
    )
    only_dev = ev.summarise_backtest(
        pred, within, {"dev": windows["dev"]}, bins=5, n_boot=50, block=2
    )
    assert only_dev["windows"]["dev"]["model"] == out["windows"]["dev"]["model"]


def test_nan_metrics_become_null():
    pred, within, windows = fake_rows()
    pred["y"] = np.int8(0)  # one class: AUCs undefined
    out = ev.summarise_backtest(pred, within, windows, bins=5, n_boot=50, block=2)
    assert out["windows"]["test"]["model"]["auc_roc"] is None


def test_calibration_scores_use_the_binning_asked_for():
    """ECE and Murphy's terms of every forecaster come from the same bins: quantile by default,
    equal-width when asked; the other scores do not depend on them."""
    from model.backtesting import scoring

    pred, within, windows = fake_rows()
    kw = {"bins": 5, "n_boot": 20, "block": 2}
    default = ev.summarise_backtest(pred, within, windows, **kw)["windows"]["test"]
    uniform = ev.summarise_backtest(pred, within, windows, binning="uniform", **kw)
    uniform = uniform["windows"]["test"]
    rows = ev.in_window(pred, windows["test"])
    assert default["model"]["ece"] == round(
        scoring.expected_calibration_error(rows["model"], rows["y"], 5, "quantile"), 10
    )
    assert uniform["model"]["ece"] == round(
        scoring.expected_calibration_error(rows["model"], rows["y"], 5, "uniform"), 10
    )
    assert default["model"]["ece"] != uniform["model"]["ece"]
    assert default["model"]["brier"] == uniform["model"]["brier"]


def test_plot_tables():
    pred, _, windows = fake_rows()
    rel = reliability_table(pred, bins=5)
    assert list(rel.columns) == ["bin", "forecast_mean", "observed_rate", "count"]
    assert rel["count"].sum() == len(pred) and (rel["count"] > 0).all()
    assert reliability_table(pred.iloc[:0]).empty
    scores = ev.scores_by_origin(pred, windows)
    assert list(scores.columns) == [
        "origin", "brier", "log_score", *(f"{b}_brier" for b in BASELINES), "window"
    ]  # fmt: skip
    assert len(scores) == 12 and scores["origin"].iloc[0] == "2020-01-06"
    assert scores["window"].tolist() == ["dev"] * 6 + ["test"] * 6
    first = pred[pred["origin"] == pred["origin"].min()]
    assert scores["brier"].iloc[0] == pytest.approx(((first["model"] - first["y"]) ** 2).mean())


def test_scores_by_origin_within_h():
    pred, within, windows = fake_rows()
    scores = ev.scores_by_origin(pred, windows, within)
    assert list(scores.columns)[-4:] == [
        "within_brier", "within_climatology_brier", "within_ewma_brier", "window"
    ]  # fmt: skip
    weekly = ev.scores_by_origin(pred, windows)  # the weekly columns do not change
    pd.testing.assert_frame_equal(scores[weekly.columns], weekly)
    last = within[within["origin"] == within["origin"].max()]
    for col, name in (("within_brier", "model"), ("within_ewma_brier", "ewma")):
        assert scores[col].iloc[-1] == pytest.approx(((last[name] - last["y"]) ** 2).mean())


def test_hindsight_ceiling_by_hand():
    # region a: outcomes 1, 0, 0, 0 -> rate (1 + .5) / (4 + 1) = 0.3; region b: 0, 0 -> 0.5 / 3
    pred = pd.DataFrame(
        {
            "region": ["a", "a", "a", "a", "b", "b"],
            "y": np.array([1, 0, 0, 0, 0, 0], dtype=np.int8),
        }
    )
    out = ev.hindsight_ceiling(pred, {"brier": 0.25, "log_score": np.log(2)})  # p = 0.5
    rate = np.array([0.3] * 4 + [1 / 6] * 2)
    y = pred["y"].to_numpy()
    brier = np.mean((rate - y) ** 2)
    assert out["brier"] == pytest.approx(brier)
    log = -np.mean(y * np.log(rate) + (1 - y) * np.log(1 - rate))
    assert out["log_score"] == pytest.approx(log)
    assert out["brier_skill_vs_climatology"] == pytest.approx(1 - brier / 0.25)
    assert out["log_score_skill_vs_climatology"] == pytest.approx(1 - log / np.log(2))

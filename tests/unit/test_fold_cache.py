"""The fold cache's key (issue 22): a fold's result is kept under a hash of exactly what it is
a function of, so the weekly update reuses a fold only when nothing it reads has changed."""

from __future__ import annotations

import pandas as pd
from conftest import ROOT

from clashcast_testing.simulate import Truth, simulate_panel
from model.backtesting.backtest import FoldConfig, make_folds
from model.backtesting.baselines import Rates
from model.backtesting.fold_cache import FoldCache, fit_key, fold_key
from model.config import read_params

FEATURES = ["clash_decay_hl1", "clash_decay_hl4"]


def _setup():
    params = read_params(ROOT / "params.yaml")
    mp = params.model.model_copy(update={"features": FEATURES, "horizon": 2, "offset": None})
    config = FoldConfig(model=mp, fit=params.fit)
    panel = simulate_panel(2, 2, 30, FEATURES, Truth(beta={}), seed=1)
    periods = pd.DatetimeIndex(panel["period"].values)
    fold = make_folds(periods[20:22], 2, seed=7)[0]  # origins 20, 21: reads periods up to 23
    return panel, fold, config, periods


def test_the_key_changes_with_what_the_fold_reads_only():
    panel, fold, config, periods = _setup()
    key = fold_key("fold", panel, fold, config, "code")
    assert key == fold_key("fold", panel.copy(deep=True), fold, config, "code")
    later = panel.copy(deep=True)
    later["clash_any"][:, 24:] = 1 - later["clash_any"][:, 24:]  # after its last outcome
    later.attrs |= {"window_end": "2099-12-31", "input_sha256:data/x": "ab", "events_outside": 3}
    assert fold_key("fold", later, fold, config, "code") == key
    assert fold_key("fold", panel.isel(period=slice(0, 24)), fold, config, "code") == key

    outcome = panel.copy(deep=True)
    outcome["clash_any"][0, 23] = 1 - outcome["clash_any"][0, 23]  # its last scored outcome
    history = panel.copy(deep=True)
    history[FEATURES[0]][1, 3] += 0.5  # training data
    facts = panel.copy(deep=True).assign_attrs(level_prior=99.0)

    def key_of(c: FoldConfig) -> str:
        return fold_key("fold", panel, fold, c, "code")

    other = {
        "outcome": fold_key("fold", outcome, fold, config, "code"),
        "history": fold_key("fold", history, fold, config, "code"),
        "attrs": fold_key("fold", facts, fold, config, "code"),
        "seed": fold_key("fold", panel, make_folds(periods[20:22], 2, seed=8)[0], config, "code"),
        "origins": fold_key("fold", panel, make_folds(periods[20:23], 3, 7)[0], config, "code"),
        "draws": key_of(FoldConfig(config.model, config.fit.model_copy(update={"draws": 11}))),
        "rates": key_of(FoldConfig(config.model, config.fit, Rates(half_life=4.0))),
        "kind": fold_key("proximity", panel, fold, config, "code"),
        "code": fold_key("fold", panel, fold, config, "other code"),
    }
    assert all(v != key for v in other.values()), [k for k, v in other.items() if v == key]


def test_a_kept_fold_reads_back_and_a_broken_file_is_a_miss(tmp_path):
    cache = FoldCache(tmp_path, code="code")
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, {"rows": [1, 2]})
    assert FoldCache(tmp_path, code="code").get("ab" * 32) == {"rows": [1, 2]}
    (tmp_path / "ab" / f"{'ab' * 32}.pkl").write_bytes(b"not a pickle")
    assert cache.get("ab" * 32) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_posterior_is_kept_under_what_the_fit_reads():
    panel, fold, config, periods = _setup()
    key = fit_key(panel, fold, config.model, config.fit, "code")
    later = panel.copy(deep=True)
    later["clash_any"][:, 21:] = 1 - later["clash_any"][:, 21:]  # after the cutoff (20)
    grown = make_folds(periods[20:23], 3, seed=7)[0]  # one more origin, the same cutoff
    assert fit_key(later, grown, config.model, config.fit, "code") == key
    trained = panel.copy(deep=True)
    trained["clash_any"][0, 20] = 1 - trained["clash_any"][0, 20]  # at the cutoff
    other = config.model.model_copy(update={"features": FEATURES[:1]})
    assert key != fit_key(trained, fold, config.model, config.fit, "code")
    assert key != fit_key(panel, fold, other, config.fit, "code")
    moved = make_folds(periods[21:22], 1, 7)[0]
    assert key != fit_key(panel, moved, config.model, config.fit, "code")

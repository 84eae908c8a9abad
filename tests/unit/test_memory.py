"""The memory chosen on the dev window: candidates, their offsets, the rule, the fit's offset."""

import json

import numpy as np
import pandas as pd
import pytest

from clashcast_testing.simulate import fake_posterior, simulate_panel
from model.backtesting import memory as sel
from model.backtesting.baselines import Rates, ewma, logistic, within_ewma
from model.config import MemoryParams, read_params
from model.data import feature_names as fn
from model.data.features import level_logit
from model.data.memory import (
    LevelMemory,
    candidate_columns,
    candidates,
    chosen_offset,
    effective_params,
    of_offset,
)
from model.errors import StageError
from model.inference.clash_model import make_design
from model.inference.forecast import forecast_draws, within_probability
from model.paths import MEMORY

GRID = MemoryParams(level_half_lives=[4, 8], level_priors=[2, 32], long_half_lives=[52])


def test_the_grid_is_every_combination_once_and_named_by_the_grammar() -> None:
    cands = candidates(GRID)
    assert [(c.half_life, c.prior, c.long_half_life) for c in cands] == [
        (4, 2, 52), (4, 32, 52), (8, 2, 52), (8, 32, 52),
    ]  # fmt: skip
    assert cands[0].name == "clash_level_hl4_p2_l52"
    f = fn.parse(cands[3].name)
    assert (f.family, f.half_life, f.prior, f.long_half_life) == ("level", 8, 32, 52)
    assert fn.memory_of("clash_level_hl8_p2_l104") == 104


def test_an_offset_name_says_its_memory() -> None:
    assert of_offset("clash_level_hl8", 2, 52) == LevelMemory(8, 2, 52)
    assert of_offset("clash_level_hl4_p32_l104", 2, 52) == LevelMemory(4, 32, 104)
    assert of_offset("clash_share_hl13", 2, 52) is None
    assert of_offset(None, 2, 52) is None


def test_candidate_columns_are_the_level_of_each_setting() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((3, 80)) < 0.1).astype(np.int8)
    cols = candidate_columns(y, GRID)
    assert list(cols) == [c.name for c in candidates(GRID)]
    np.testing.assert_array_equal(cols["clash_level_hl8_p32_l52"], level_logit(y > 0, 8, 52, 32))
    assert candidate_columns(y, GRID.model_copy(update={"auto": False})) == {}


@pytest.mark.parametrize(
    ("scores", "ece_max", "chosen"),
    [
        # the best Brier among those within the ECE threshold
        ({"a": (0.10, 0.01), "b": (0.09, 0.03), "c": (0.095, 0.02)}, 0.02, "c"),
        # none within: the lowest ECE
        ({"a": (0.10, 0.05), "b": (0.09, 0.03)}, 0.02, "b"),
        # a tie goes to the first (the reference)
        ({"a": (0.10, 0.01), "b": (0.10, 0.01)}, 0.02, "a"),
    ],
)
def test_the_rule(scores, ece_max, chosen) -> None:
    table = {k: {"brier": b, "ece": e} for k, (b, e) in scores.items()}
    assert sel.choose(table, ece_max) == chosen


@pytest.fixture(scope="module")
def fitted():
    """A panel with two level offsets and a posterior fitted (fabricated) with the first."""
    panel = simulate_panel(1, 4, 60, ["clash_decay_hl1"], seed=3)
    y = panel["clash_any"].transpose("region", "period").values > 0
    for c in candidates(GRID):
        panel[c.name] = (("region", "period"), c.logit(y))
    design = make_design(
        panel, ["clash_decay_hl1"], horizon=3, burn_in=8, offset="clash_level_hl4_p2_l52"
    )
    return panel, fake_posterior(design, sigma_block=0.8)


def test_a_candidate_is_the_same_posterior_with_its_offset(fitted) -> None:
    panel, idata = fitted
    origin = pd.Timestamp(panel["period"].values[40])
    names = ("clash_level_hl4_p2_l52", "clash_level_hl8_p32_l52")
    steps, within = sel.candidate_rows(idata, panel.sel(period=slice(None, origin)), origin, names)
    own = forecast_draws(idata, panel, origin)
    np.testing.assert_allclose(
        steps[names[0]].to_numpy(), own.mean("draw").transpose("region", "horizon").values.ravel()
    )
    np.testing.assert_allclose(
        within[names[0]], within_probability(own).isel(horizon=-1).mean("draw").values
    )
    # the other offset moves every forecast, in the direction of its own level
    other = forecast_draws(idata, panel, origin, offset_as=names[1]).mean("draw")
    np.testing.assert_allclose(steps[names[1]].to_numpy(), other.values.ravel())
    assert not np.allclose(steps[names[0]], steps[names[1]])


def _dev_rows(rng, n_origins=30, n_regions=4, horizon=2):
    origins = pd.date_range("2016-01-04", periods=n_origins, freq="W-MON")
    idx = pd.MultiIndex.from_product(
        [origins, [f"R{i}" for i in range(n_regions)], range(1, horizon + 1)],
        names=["origin", "region", "horizon"],
    )
    rows = idx.to_frame(index=False)
    rows["climatology"] = 0.15
    truth = np.where(rows["region"].isin(["R0", "R1"]), 0.3, 0.02)
    rows["y"] = (rng.random(len(rows)) < truth).astype(np.int8)
    return rows, truth


def test_select_takes_the_candidate_that_forecasts_better_and_records_all() -> None:
    rng = np.random.default_rng(4)
    rows, truth = _dev_rows(rng, n_origins=80)
    rows["model"] = 0.15  # the reference: one rate for every region
    cand = rows[["origin", "region", "horizon"]].assign(ref=0.15, good=truth)
    plan = sel.MemoryPlan(
        "ref", ("ref", "good"), {"ref": {"offset": "ref"}, "good": {"offset": "good"}}
    )
    ew = rows[["origin", "region"]].drop_duplicates().assign(**{"4": 0.15, "13": truth[::2]})
    memory = MemoryParams(ewma_half_lives=[4, 13], ece_max=0.2)
    s = sel.select(
        rows, cand, ew, plan, memory, {"offset": "ref"}, ewma_half_life=4, bins=5, binning="uniform"
    )
    assert s.auto and s.chosen == {"offset": "good", "ewma_half_life": 13.0}
    # beaten by more than two standard errors, the reference is replaced
    assert s.best["dm_statistic"] < -2 and not s.best["kept_reference"]
    # ... unless the gain is short of the share a change needs
    strict = memory.model_copy(update={"min_gain": 0.9})
    kept = sel.select(
        rows, cand, ew, plan, strict, {"offset": "ref"}, ewma_half_life=4, bins=5,
        binning="uniform",
    )  # fmt: skip
    assert kept.chosen["offset"] == "ref" and kept.best["kept_reference"]
    assert [c.settings["offset"] for c in s.candidates] == ["ref", "good"]
    assert s.candidates[1].dev["brier"] < s.candidates[0].dev["brier"]
    brier = float(np.mean((truth - rows["y"]) ** 2))
    assert s.candidates[1].dev["brier"] == pytest.approx(brier)
    assert "Memory chosen on the dev window" in s.describe()
    json.dumps(s.to_json())  # plain JSON
    pinned = sel.select(
        rows, None, ew, None, memory, {"offset": "ref"}, ewma_half_life=4, bins=5,
        binning="uniform",
    )  # fmt: skip
    assert not pinned.auto and pinned.chosen == {"offset": "ref", "ewma_half_life": 4.0}
    assert len(pinned.candidates) == 1 and "pinned" in pinned.describe()


def test_dev_rows_rebased_on_the_chosen_memory(fitted) -> None:
    panel, _ = fitted
    origins = pd.DatetimeIndex(panel["period"].values[30:33])
    regions = [str(r) for r in panel["region"].values]
    steps = pd.MultiIndex.from_product(
        [origins, regions, [1, 2, 3]], names=["origin", "region", "horizon"]
    ).to_frame(index=False)
    steps["model"], steps["ewma"], steps["logistic"] = 0.5, 0.5, 0.5
    within = steps[["origin", "region"]].drop_duplicates(ignore_index=True)
    within["model"], within["independent"], within["ewma"] = 0.5, 0.5, 0.5
    cand_steps = steps[["origin", "region", "horizon"]].assign(model=0.1)
    cand_within = within[["origin", "region"]].assign(model=0.2)
    from model.config import ModelParams

    mp = ModelParams(
        horizon=3, burn_in=8, offset="clash_level_hl8_p32_l52", region_effects=False, priors={}
    )
    rates = Rates(52, 8.0, 2.0)
    s, w = sel.rebase_dev_rows(panel, steps, within, (cand_steps, cand_within), mp, rates)
    assert (s["model"] == 0.1).all() and (w["model"] == 0.2).all()
    np.testing.assert_allclose(w["independent"], 1 - 0.9**3)
    o = origins[1]
    known = panel.sel(period=slice(None, o))
    at = (s["origin"] == o) & (s["horizon"] == 2)
    np.testing.assert_allclose(s.loc[at, "ewma"], ewma(known, o, 3, rates).sel(horizon=2).values)
    np.testing.assert_allclose(
        s.loc[at, "logistic"],
        logistic(known, o, 3, [], 8, offset=mp.offset).sel(horizon=2).values,
    )
    np.testing.assert_allclose(
        w.loc[w["origin"] == o, "ewma"], within_ewma(known, o, 3, rates).values
    )


def test_the_fit_reads_the_chosen_offset(tmp_path) -> None:
    from fake_run import PARAMS_YAML

    (tmp_path / "params.yaml").write_text(PARAMS_YAML, encoding="utf-8")
    params = read_params(tmp_path / "params.yaml")
    params = params.model_copy(update={"memory": MemoryParams(auto=True)})
    assert params.model.offset == "clash_level_hl4"
    with pytest.raises(StageError, match=r"memory.json: missing.*backtest stage runs before"):
        chosen_offset(params, tmp_path)
    (tmp_path / MEMORY).parent.mkdir(parents=True)
    (tmp_path / MEMORY).write_text(json.dumps({"offset": "clash_level_hl8_p2_l52", "auto": True}))
    assert effective_params(params, tmp_path).model.offset == "clash_level_hl8_p2_l52"
    pinned = params.model_copy(update={"memory": MemoryParams(auto=False)})
    assert effective_params(pinned, tmp_path).model.offset == "clash_level_hl4"


def test_the_reference_stays_unless_beaten_beyond_the_noise() -> None:
    rng = np.random.default_rng(7)
    rows, _ = _dev_rows(rng, n_origins=30)
    truth = np.where(rows["region"].isin(["R0", "R1"]), 0.17, 0.13)
    rows["y"] = (rng.random(len(rows)) < truth).astype(np.int8)
    rows["model"] = 0.15
    # "close" moves a little toward the truth: better on average, within the noise
    cand = rows[["origin", "region", "horizon"]].assign(ref=0.15, close=0.15 + 0.5 * (truth - 0.15))
    plan = sel.MemoryPlan(
        "ref", ("ref", "close"), {"ref": {"offset": "ref"}, "close": {"offset": "close"}}
    )
    ew = rows[["origin", "region"]].drop_duplicates().assign(**{"13": 0.15})
    memory = MemoryParams(ewma_half_lives=[13], ece_max=0.5)
    s = sel.select(
        rows, cand, ew, plan, memory, {"offset": "ref"}, ewma_half_life=13, bins=5,
        binning="uniform",
    )  # fmt: skip
    by = {c.settings["offset"]: c.dev["brier"] for c in s.candidates}
    assert by["close"] < by["ref"]  # the rule's pick ...
    assert s.best["offset"] == "close" and -1 < s.best["dm_statistic"] < 0
    assert s.best["kept_reference"] and s.chosen["offset"] == "ref"  # ... is not enough
    assert "kept from params" in s.describe()
    # a reference below climatology on dev has no privilege: the best candidate is taken
    worse = rows.assign(climatology=0.15 + 0.25 * (truth - 0.15))
    s3 = sel.select(
        worse, cand, ew, plan, memory, {"offset": "ref"}, ewma_half_life=13, bins=5,
        binning="uniform",
    )  # fmt: skip
    assert s3.best["reference_skill_vs_climatology"] < 0 and s3.chosen["offset"] == "close"

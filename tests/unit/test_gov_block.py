"""One block effect per governorate and origin (``model.dependence_group: governorate``): the
grouped likelihood against the per-block one and a brute-force sum, the design's groups, the
roll-up with the shared effect, and a tiny cell panel sampled with real NUTS."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from conftest import PRIORS as TEST_PRIORS
from pydantic import ValidationError
from scipy.special import expit, logit

from model.config import ModelParams, PriorSpec, cross_problems
from model.inference import equation as eq
from model.inference.blocks import quadrature
from model.inference.clash_model import block_logp, build_clash_model, make_design
from model.inference.groups import group_block_logp, group_block_random
from model.inference.posterior import config_json
from model.inference.rollup import none_within, rollup, rollup_shared
from model.inference.sampling import on_groups, sum_over_groups

PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()}
H = 4
# Six cells in two governorates; cell 3 lies 60% in A (its group) and 40% in B.
GOVERNORATE = ["A", "A", "A", "A", "B", "B"]
WEIGHTS = np.array([[1.0, 1.0, 1.0, 0.6, 0.0, 0.0], [0.0, 0.0, 0.0, 0.4, 1.0, 1.0]])


@pytest.fixture(scope="module")
def logps():
    """The grouped and the per-block log-likelihood as compiled functions."""
    v, e, s, g = pt.matrix("v"), pt.matrix("e"), pt.scalar("s"), pt.lvector("g")
    grouped = pytensor.function([v, e, s, g], group_block_logp(v, e, s, g))
    per_block = pytensor.function([v, e, s], block_logp(v, e, s))
    return grouped, per_block


def brute_force(y: np.ndarray, eta: np.ndarray, sigma: float, group_idx: np.ndarray) -> np.ndarray:
    """log Σ_k w_k Π_{b ∈ g} Π_s p(y | eta + sigma x_k) per group, in probability space."""
    nodes, weights = quadrature()
    out = []
    for g in range(group_idx.max() + 1):
        total = 0.0
        for x, w in zip(nodes, weights, strict=True):
            p = expit(eta[group_idx == g] + sigma * x)
            total += w * np.prod(np.where(y[group_idx == g] == 1, p, 1 - p))
        out.append(np.log(total))
    return np.array(out)


def test_one_block_per_group_is_the_block_likelihood(logps):
    grouped, per_block = logps
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (7, H)).astype(float)
    eta = rng.normal(-1.0, 1.0, (7, H))
    for sigma in (0.0, 0.8, 2.0):
        np.testing.assert_allclose(
            grouped(y, eta, sigma, np.arange(7)), per_block(y, eta, sigma), rtol=1e-12
        )


def test_grouped_likelihood_is_the_brute_force_sum_over_each_group(logps):
    grouped, _ = logps
    rng = np.random.default_rng(1)
    group_idx = np.array([0, 1, 0, 2, 1, 0, 2, 2])  # groups of 3, 2 and 3 blocks, interleaved
    y = rng.integers(0, 2, (8, H)).astype(float)
    eta = rng.normal(-1.5, 1.0, (8, H))
    shares = grouped(y, eta, 1.3, group_idx)
    expected = brute_force(y, eta, 1.3, group_idx)
    # each block holds an equal share of its group's term; the sum over a group restores it
    np.testing.assert_allclose(np.bincount(group_idx, weights=shares), expected, rtol=1e-10)
    np.testing.assert_allclose(shares, (expected / np.bincount(group_idx))[group_idx], rtol=1e-10)
    # and the sum over groups of a (chain, draw, obs_id) log-likelihood gives it per group
    ll = xr.DataArray(shares[None, None, :], dims=("chain", "draw", "obs_id"))
    per_group = sum_over_groups(ll, group_idx)
    assert per_group.dims == ("chain", "draw", eq.OBS_GROUP)
    np.testing.assert_allclose(per_group.values[0, 0], expected, rtol=1e-10)
    # a fit without the groups (a LOO variant) is scored on the model's groups
    fit_tree = xr.DataTree.from_dict({"log_likelihood": xr.Dataset({eq.OBSERVED: ll})})
    regrouped = on_groups(fit_tree, group_idx)["log_likelihood"][eq.OBSERVED]
    np.testing.assert_allclose(regrouped.values, per_group.values)
    assert on_groups(fit_tree, None) is fit_tree
    with pytest.raises(ValueError, match="8 blocks"):
        on_groups(fit_tree, group_idx[:-1])


def test_outcomes_drawn_share_their_groups_effect():
    rng = np.random.default_rng(3)
    group_idx = np.array([0, 0, 1, 1])
    y = group_block_random(np.zeros((4, H)), 3.0, group_idx, rng=rng, size=(4000, 4))
    assert y.shape == (4000, 4, H)
    busy = y.sum(axis=-1)
    corr = np.corrcoef(busy.T)
    assert corr[0, 1] > 0.5 and corr[2, 3] > 0.5  # same group
    assert abs(corr[0, 2]) < 0.1 and abs(corr[1, 3]) < 0.1  # different groups


def cell_panel(n_periods: int = 60, sigma: float = 1.0, seed: int = 0) -> xr.Dataset:
    """Six cells in two governorates, weekly; each (governorate, origin) of the blocks H apart
    shares one effect; one standardised feature; the roll-up's weights."""
    rng = np.random.default_rng(seed)
    n = len(GOVERNORATE)
    x = rng.normal(size=(n, n_periods))
    gov = np.array([0 if g == "A" else 1 for g in GOVERNORATE])
    u = rng.normal(size=(2, n_periods // H + 1))[gov][:, np.arange(n_periods) // H]
    level = np.array([-1.5, -2.0, -1.0, -2.0, -1.2, -1.8])[:, None]
    y = rng.random((n, n_periods)) < expit(level + 0.7 * x + sigma * u)
    regions = [f"cell{i}" for i in range(n)]
    return xr.Dataset(
        {
            "clash_any": (("region", "period"), y.astype(np.int8)),
            "x": (("region", "period"), x),
            "rollup_weight": (("rollup", "region"), WEIGHTS),
        },
        coords={
            "region": regions,
            "period": pd.date_range("2020-01-06", periods=n_periods, freq="W-MON"),
            "country": ("region", ["Iraq"] * n),
            "governorate": ("region", GOVERNORATE),
            "rollup": ["A", "B"],
        },
    )


def test_design_carries_each_blocks_governorate_and_origin():
    panel = cell_panel()
    d = make_design(panel, ["x"], horizon=H, dependence_group="governorate")
    assert d.groups == ("A", "B")
    np.testing.assert_array_equal(d.region_group_idx, [0, 0, 0, 0, 1, 1])
    n_origins = np.unique(d.origin_idx).size
    assert d.n_groups == 2 * n_origins
    pairs = set(zip(d.region_group_idx[d.region_idx], d.origin_idx, strict=True))
    assert len(pairs) == d.n_groups
    for g in range(d.n_groups):  # one governorate and one origin per group
        members = d.group_idx == g
        assert np.unique(d.origin_idx[members]).size == 1
        assert np.unique(d.region_group_idx[d.region_idx[members]]).size == 1
    assert make_design(panel, ["x"], horizon=H).group_idx is None
    with pytest.raises(ValueError, match="no 'governorate' coordinate"):
        make_design(panel.drop_vars("governorate"), ["x"], H, dependence_group="governorate")
    with pytest.raises(ValueError, match="design has no groups"):
        build_clash_model(make_design(panel, ["x"], H), PRIORS, dependence_group="governorate")
    with pytest.raises(ValueError, match="needs dependence=True"):
        build_clash_model(d, PRIORS, dependence=False, dependence_group="governorate")


def test_params_need_dependence_and_cells_for_a_governorate_effect():
    priors = {k: v.model_dump() for k, v in PRIORS.items()}
    assert ModelParams(priors=priors, dependence_group="governorate").dependence_group
    with pytest.raises(ValidationError, match="needs dependence: true"):
        ModelParams(priors=priors, dependence_group="governorate", dependence=False)
    # recorded on the posterior with the rest of the model section
    stamped = ModelParams(priors=priors, dependence_group="governorate")
    assert json.loads(config_json(stamped))["dependence_group"] == "governorate"
    raw = {"model": {"dependence_group": "governorate"}, "ingest": {"regions": {"unit": "admin1"}}}
    assert any("ingest.regions.unit: grid" in p for p in cross_problems(raw))
    raw["ingest"]["regions"]["unit"] = "grid"
    assert not any("dependence_group" in p for p in cross_problems(raw))


def test_roll_up_with_a_shared_effect():
    rng = np.random.default_rng(2)
    eta = logit(rng.uniform(0.02, 0.3, size=(6, H, 5)))
    groups = np.array([0, 0, 0, 0, 1, 1])
    for cumulative in (True, False):
        independent = rollup(none_within(eta, np.zeros(5), cumulative), WEIGHTS)
        np.testing.assert_allclose(
            rollup_shared(eta, np.zeros(5), WEIGHTS, groups, cumulative), independent, rtol=1e-12
        )
    sigma = np.full(5, 1.2)
    shared = rollup_shared(eta, sigma, WEIGHTS, groups)
    assert (shared < rollup(none_within(eta, sigma), WEIGHTS)).all()
    # brute force for governorate B: its own cells 4, 5 share one effect, and cell 3 (40% in B)
    # brings group A's effect, which is independent of B's
    nodes, w = quadrature()
    quiet = np.stack([np.cumprod(1 - expit(eta + sigma[0] * x), axis=1) for x in nodes])
    from_b = np.einsum("k,khd->hd", w, quiet[:, 4] * quiet[:, 5])
    from_a = np.einsum("k,khd->hd", w, quiet[:, 3] ** 0.4)
    np.testing.assert_allclose(shared[1], 1 - from_b * from_a, rtol=1e-10)


def test_a_tiny_cell_panel_samples_with_the_governorate_effect():
    from model.inference.clash_model import design_from_params, model_from_params
    from model.inference.diagnostics import _training_logits, posterior_predictive_region_rates
    from model.inference.rollup import rollup_draws
    from model.inference.sampling import fit, sample_prior_predictive

    panel = cell_panel()
    mp = ModelParams(
        priors={k: v.model_dump() for k, v in PRIORS.items()},
        features=["x"],
        horizon=H,
        burn_in=0,
        horizon_varying=False,
        dependence_group="governorate",
    )
    design = design_from_params(panel, mp)
    pm_model = model_from_params(design, mp)
    prior = sample_prior_predictive(pm_model, draws=20, seed=0)
    assert prior["prior_predictive"][eq.OBSERVED].shape == (1, 20, design.n_blocks, H)
    settings = {"draws": 60, "tune": 60, "chains": 1, "cores": 1, "progressbar": False}
    idata = fit(pm_model, sampler="nutpie", seed=4, **settings)
    ll = idata["log_likelihood"][eq.OBSERVED]
    assert ll.dims == ("chain", "draw", eq.OBS_GROUP) and ll.sizes[eq.OBS_GROUP] == design.n_groups
    const = idata["constant_data"]
    np.testing.assert_array_equal(const[eq.GROUP_IDX].values, design.group_idx)
    np.testing.assert_array_equal(const[eq.REGION_GROUP_IDX].values, design.region_group_idx)
    # the stored log-likelihood of a draw is the brute-force one of each group at that draw
    post = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
    eta = _training_logits(post, const.to_dataset(), 7, H)
    sigma = float(post[eq.SIGMA_BLOCK].values[7])
    expected = brute_force(design.y, eta, sigma, design.group_idx)
    np.testing.assert_allclose(ll.values[0, 7], expected, rtol=1e-6)
    assert on_groups(idata, design.group_idx) is idata  # per group already
    step, within = rollup_draws(idata, panel, None)
    assert within.dims == ("rollup", "horizon", "draw")
    assert ((within >= step) & (within <= 1) & (within >= 0)).all()
    rates, observed, _ = posterior_predictive_region_rates(idata, n_draws=10)
    assert rates.shape == (10, 6) and observed.shape == (6,)

"""Identical training blocks enter the likelihood once with their count (issue 22, item 2).

The merged model must be the same model: the same log-density and gradient at any point, the
same posterior (means within Monte Carlo error), the same forecasts, and a log-likelihood that
PSIS-LOO reads one block at a time as before.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from conftest import PRIORS as TEST_PRIORS
from scipy.special import expit

from clashcast_testing.simulate import Truth, simulate_panel
from model.config import PriorSpec
from model.inference import diagnostics as diag
from model.inference import equation as eq
from model.inference.blocks import distinct_rows
from model.inference.clash_model import build_clash_model, distinct_blocks, make_design
from model.inference.forecast import forecast_draws
from model.inference.sampling import fit, per_block_log_likelihood

PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()}
FEATURES = ["clash_decay_hl1", "since_clash"]
H = 3


def test_distinct_rows_keep_first_occurrence_order_and_count_the_blocks():
    y = np.array([[0, 0], [1, 0], [0, 0], [0, 1], [1, 0], [0, 0]])
    x = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.25])
    d = distinct_rows(y, x)
    np.testing.assert_array_equal(d.rep, [0, 1, 3, 5])
    np.testing.assert_array_equal(d.of, [0, 1, 0, 2, 1, 3])
    np.testing.assert_array_equal(d.count, [2, 2, 1, 1])
    np.testing.assert_array_equal(y[d.rep][d.of], y)  # every block is its row
    assert d.count.sum() == d.n_blocks == 6 and d.n_distinct == 4
    alone = distinct_rows(np.arange(5))  # nothing repeats: the identity, in order
    np.testing.assert_array_equal(alone.rep, np.arange(5))
    np.testing.assert_array_equal(alone.of, np.arange(5))


@pytest.fixture(scope="module")
def panel() -> xr.Dataset:
    """Two countries of four regions, two of them quiet (no clash: their blocks repeat)."""
    truth = Truth(intercept=-1.0, beta={"clash_decay_hl1": 0.6, "since_clash": -0.3})
    return simulate_panel(2, 4, 60, FEATURES, truth, seed=3, zero_regions=[2, 6])


def test_blocks_merge_only_where_the_model_cannot_tell_them_apart(panel):
    d = make_design(panel, FEATURES, horizon=H, burn_in=4)
    merged = distinct_blocks(d, region_effects=True)
    assert merged is not None and merged.n_distinct < d.n_blocks
    for key in (d.region_idx, d.y, d.X):  # never two regions, outcomes or features in one row
        np.testing.assert_array_equal(key[merged.rep][merged.of], key)
    quiet = np.isin(d.region_idx, [2, 6])
    assert np.unique(merged.of[quiet]).size < quiet.sum() / 4  # quiet blocks collapse
    # without region effects the two quiet regions share their rows
    pooled = distinct_blocks(d, region_effects=False)
    assert pooled.n_distinct < merged.n_distinct
    # a design where nothing repeats is not merged
    busy = make_design(panel.isel(region=[0, 1]), FEATURES, horizon=H, burn_in=4)
    assert distinct_blocks(busy) is None


def _points(m: pm.Model, n: int = 3) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    start = m.initial_point()
    return [{k: v + rng.normal(0, 0.4, np.shape(v)) for k, v in start.items()} for _ in range(n)]


def assert_same_density(merged: pm.Model, plain: pm.Model) -> None:
    """The two models' log-density and gradient agree at a few points (one compiled function
    per model)."""
    f_merged, f_plain = (m.compile_fn([m.logp(), m.dlogp()]) for m in (merged, plain))
    for point in _points(plain):
        (lp_m, g_m), (lp_p, g_p) = f_merged(point), f_plain(point)
        np.testing.assert_allclose(lp_m, lp_p, rtol=1e-12)
        np.testing.assert_allclose(g_m, g_p, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"horizon_varying": False},
        # the other options in CI's slow run (a model compiled twice each)
        pytest.param({"dependence": False}, marks=pytest.mark.slow),
        pytest.param({"region_effects": False}, marks=pytest.mark.slow),
        pytest.param(
            {"country_varying": ["since_clash"], "parameterisation": "centred"},
            marks=pytest.mark.slow,
        ),
    ],
    ids=["default", "steps-alike", "independent-steps", "offset-only", "country-slopes-centred"],
)
def test_merged_model_has_the_same_log_density_and_gradient(panel, settings):
    offset = "clash_decay_hl1" if settings.get("region_effects") is False else None
    d = make_design(panel, FEATURES, horizon=H, burn_in=4, offset=offset)
    merged = build_clash_model(d, PRIORS, **settings)
    plain = build_clash_model(d, PRIORS, aggregate=False, **settings)
    assert eq.BLOCK_OF in merged.named_vars and eq.BLOCK_OF not in plain.named_vars
    assert_same_density(merged, plain)


def test_steps_alike_likelihood_is_the_per_step_one():
    """Without step-varying slopes ``eta`` is the same at every step: the quadrature then runs
    once per block on the block's clash count, and gives the per-step sum's value."""
    import pytensor.tensor as pt

    from model.inference.clash_model import block_logp
    from model.inference.groups import group_block_logp

    rng = np.random.default_rng(1)
    y = (rng.random((40, 4)) < 0.3).astype(np.int8)
    eta = np.repeat(rng.normal(-1.5, 1.5, (40, 1)), 4, axis=1)
    groups = np.repeat(np.arange(10), 4)
    count = rng.integers(1, 5, 40).astype(float)
    args = [pt.constant(a) for a in (y, eta, 0.8)]
    for extra in ((), (pt.constant(count),)):
        per_step = block_logp(*args, *extra).eval()
        alike = block_logp(*args, *extra, steps_alike=True).eval()
        np.testing.assert_allclose(alike, per_step, rtol=1e-12)
        g = (*args, pt.constant(groups), *extra)
        np.testing.assert_allclose(
            group_block_logp(*g, steps_alike=True).eval(), group_block_logp(*g).eval(), rtol=1e-12
        )


def grouped_panel(n_periods: int = 48) -> xr.Dataset:
    """Six cells in two governorates with a 0/1 feature: quiet cells' blocks repeat within
    their group."""
    rng = np.random.default_rng(5)
    x = (rng.random((6, n_periods)) < 0.3).astype(float)
    level = np.array([-1.0, -1.5, -6.0, -6.0, -1.2, -6.0])[:, None]
    y = rng.random((6, n_periods)) < expit(level + 0.8 * x)
    return xr.Dataset(
        {"clash_any": (("region", "period"), y.astype(np.int8)), "x": (("region", "period"), x)},
        coords={
            "region": [f"cell{i}" for i in range(6)],
            "period": pd.date_range("2020-01-06", periods=n_periods, freq="W-MON"),
            "country": ("region", ["Iraq"] * 6),
            "governorate": ("region", ["A", "A", "A", "A", "B", "B"]),
        },
    )


def test_merged_groups_keep_each_groups_likelihood():
    panel = grouped_panel()
    settings = {
        "dependence_group": "governorate",
        "region_effects": False,
        "horizon_varying": False,
    }
    d = make_design(panel, ["x"], horizon=4, dependence_group="governorate", offset="x")
    merged = build_clash_model(d, PRIORS, **settings)
    plain = build_clash_model(d, PRIORS, aggregate=False, **settings)
    rows = distinct_blocks(d, region_effects=False, grouped=True)
    assert rows is not None and rows.n_distinct < d.n_blocks
    np.testing.assert_array_equal(d.group_idx[rows.rep][rows.of], d.group_idx)  # within groups
    assert_same_density(merged, plain)
    # the pointwise terms, per group, are the unmerged model's
    point = _points(plain, 1)[0]
    terms = {}
    for name, m in (("merged", merged), ("plain", plain)):
        logp = m.compile_fn(m.logp(vars=[m[eq.OBSERVED]], sum=False)[0], on_unused_input="ignore")
        value = np.asarray(logp(point))
        if name == "merged":
            value = (value / rows.count)[rows.of]
        terms[name] = np.bincount(d.group_idx, weights=value)
    np.testing.assert_allclose(terms["merged"], terms["plain"], rtol=1e-10)


@pytest.fixture(scope="module")
def fits():
    """The shipped model's form (an offset, no region effects, one slope for every step)
    fitted merged and unmerged on a panel with two quiet regions (nutpie, the same seed; the
    chains part after a few steps, as the sums' order differs, so they are long enough for
    the forecasts' Monte Carlo error to stay well below 0.0005)."""
    truth = Truth(intercept=-1.5, beta={"clash_decay_hl1": 0.5})
    panel = simulate_panel(1, 10, 160, ["clash_decay_hl1", "clash_decay_hl13"], truth, seed=4,
                           zero_regions=[3, 7])  # fmt: skip
    d = make_design(panel, ["clash_decay_hl1"], horizon=H, burn_in=26, offset="clash_decay_hl13")
    settings = {"draws": 2000, "tune": 300, "chains": 4, "cores": 2, "progressbar": False}
    out = {"design": d, "panel": panel}
    for name, aggregate in (("merged", True), ("plain", False)):
        m = build_clash_model(d, PRIORS, region_effects=False, horizon_varying=False,
                              aggregate=aggregate)  # fmt: skip
        out[name] = (m, fit(m, sampler="nutpie", seed=11, **settings))
    return out


@pytest.mark.slow  # two fits of 4 x 2,000 draws: CI's slow run
def test_merged_fit_has_the_same_posterior_and_forecasts(fits):
    d, merged, plain = fits["design"], fits["merged"][1], fits["plain"][1]
    assert fits["merged"][0][eq.OBSERVED].shape.eval()[0] < d.n_blocks  # blocks were merged
    for name in ("sigma_block", "beta_mu"):
        a, b = merged["posterior"][name], plain["posterior"][name]
        mcse = np.hypot(np.asarray(az.mcse(a)), np.asarray(az.mcse(b)))
        diff = np.abs(a.mean(("chain", "draw")).values - b.mean(("chain", "draw")).values)
        assert (diff <= 4 * mcse).all(), name
    # each forecast draw carries its own block effect, the same sequence for both fits
    p = {k: forecast_draws(v, fits["panel"], None).mean("draw").values for k, v in
         (("merged", merged), ("plain", plain))}  # fmt: skip
    np.testing.assert_allclose(p["merged"], p["plain"], atol=5e-4)  # the same to 3 decimals


@pytest.mark.slow  # two fits of 4 x 2,000 draws: CI's slow run
def test_merged_fit_gives_a_log_likelihood_per_block(fits):
    d = fits["design"]
    m_plain, (_, merged) = fits["plain"][0], fits["merged"]
    ll = merged["log_likelihood"][eq.OBSERVED]
    assert ll.dims == ("chain", "draw", "obs_id") and ll.sizes["obs_id"] == d.n_blocks
    # the unmerged model's own pointwise log-likelihood at the merged fit's draws
    with m_plain:
        again = pm.compute_log_likelihood(
            merged.copy(), model=m_plain, extend_inferencedata=False, progressbar=False
        )
    expected = per_block_log_likelihood(xr.DataTree(again))[eq.OBSERVED]
    np.testing.assert_allclose(ll.values, expected.values, rtol=1e-9, atol=1e-12)
    # the diagnostics read the outcomes back one row per block
    np.testing.assert_array_equal(diag.observed_blocks(merged), d.y)
    rates, observed, _ = diag.posterior_predictive_region_rates(merged, n_draws=20)
    np.testing.assert_allclose(
        observed, np.bincount(d.region_idx, d.y.mean(axis=1)) / np.bincount(d.region_idx)
    )
    assert rates.shape == (20, len(d.regions))


def test_prior_predictive_rates_weight_each_row_by_its_blocks():
    y = np.array([[[[1, 1], [0, 0], [0, 1]]]])  # chain, draw, row, step
    count = np.array([1.0, 3.0, 2.0])
    prior = xr.DataTree.from_dict(
        {
            "prior_predictive": xr.Dataset(
                {eq.OBSERVED: (("chain", "draw", eq.OBS_DISTINCT, "horizon"), y)}
            ),
            "constant_data": xr.Dataset({eq.BLOCK_COUNT: ((eq.OBS_DISTINCT,), count)}),
        }
    )
    # blocks: one [1, 1], three [0, 0], two [0, 1]: 4 clashes in 12 outcomes
    np.testing.assert_allclose(diag.prior_predictive_rates(prior), [4 / 12])

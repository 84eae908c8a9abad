"""The model's structure: design blocks (each outcome once), named variables with dims, the
block likelihood, how region effects are sampled (non-centred offsets, centred, or each region
as its data call for), priors."""

import subprocess
import sys

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from conftest import PRIORS as TEST_PRIORS

from clashcast_testing.simulate import Truth, simulate_panel
from model.config import PriorSpec
from model.inference.clash_model import (
    block_logp,
    build_clash_model,
    centred_regions,
    make_design,
    stored_var_names,
    zero_sum_within,
)

FEATURES = ["clash_decay_hl1", "since_clash", "prox_a__b_near"]
PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()}


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(2, 3, 30, FEATURES, Truth(intercept=-1.0), seed=2, zero_regions=[4])


def test_design_blocks_hold_each_outcome_once_without_look_ahead(panel):
    d = make_design(panel, FEATURES, horizon=3, burn_in=5)
    n_reg, n_per = 6, 30
    # origins 3 apart, the last block ending at the last period: 26, 23, ..., 5
    np.testing.assert_array_equal(np.unique(d.origin_idx), np.arange(26, 4, -3)[::-1])
    assert d.y.shape == (n_reg * 8, 3) and d.n_obs == n_reg * 8 * 3
    y = panel["clash_any"].values
    steps = np.arange(1, 4)
    np.testing.assert_array_equal(d.y, y[d.region_idx[:, None], d.origin_idx[:, None] + steps])
    cells = {(r, t + s) for r, t in zip(d.region_idx, d.origin_idx, strict=True) for s in steps}
    assert len(cells) == d.n_obs  # every outcome in exactly one block
    assert max(t for _, t in cells) == n_per - 1
    raw = panel["since_clash"].values[d.region_idx, d.origin_idx]
    k = FEATURES.index("since_clash")
    np.testing.assert_allclose(d.X[:, k] * d.x_scale[k] + d.x_mean[k], raw)
    np.testing.assert_allclose(d.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(d.offset, 0.0)


def test_design_offset_is_the_raw_variable_at_the_origin(panel):
    d = make_design(panel, ["since_clash"], horizon=2, burn_in=3, offset="clash_decay_hl1")
    np.testing.assert_array_equal(
        d.offset, panel["clash_decay_hl1"].values[d.region_idx, d.origin_idx]
    )
    assert d.offset_name == "clash_decay_hl1"
    with pytest.raises(ValueError, match="no variable"):
        make_design(panel, FEATURES, horizon=2, offset="nope")


def test_design_cutoff_uses_only_earlier_outcomes(panel):
    cutoff = panel["period"].values[20]
    d = make_design(panel, FEATURES, horizon=4, cutoff=cutoff, burn_in=2)
    assert (d.origin_idx + 4 <= 20).all() and (d.origin_idx + 4 == 20).any()
    assert d.cutoff == cutoff
    full = make_design(panel, FEATURES, horizon=4, burn_in=2)
    assert not np.allclose(d.x_mean, full.x_mean)  # scales from training rows only


def test_design_rejects_unknown_features(panel):
    with pytest.raises(ValueError, match="no variable"):
        make_design(panel, ["nope"], horizon=2)


def test_named_variables_dims_and_non_centred(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    m = build_clash_model(d, PRIORS, parameterisation="non_centred")
    dims = m.named_vars_to_dims
    assert dims["country_offset"] == ("country",)
    assert dims["region_offset"] == ("region",)
    assert dims["beta_mu"] == ("feature",)
    assert dims["beta_offset"] == ("horizon", "feature")
    assert dims["beta"] == ("horizon", "feature")
    # the quiet region's blocks repeat: they enter once each with their count
    assert dims["clash_any"] == ("obs_distinct", "horizon")
    unmerged = build_clash_model(d, PRIORS, parameterisation="non_centred", aggregate=False)
    assert unmerged.named_vars_to_dims["clash_any"] == ("obs_id", "horizon")
    for name in ("intercept", "sigma_country", "sigma_region", "sigma_beta_horizon", "sigma_block"):
        assert name in m.named_vars
    assert [v.name for v in m.observed_RVs] == ["clash_any"]
    for name in ("region_offset", "beta_offset"):  # standard normal offsets
        rv = m[name]
        mu, sigma = rv.owner.inputs[-2:]
        assert np.all(mu.eval() == 0.0) and np.all(sigma.eval() == 1.0)
    assert "ZeroSumNormal" in type(m["country_offset"].owner.op).__name__
    assert dims["region_eff"] == ("region",)
    assert m.coords["horizon"] == (1, 2)
    assert "sigma_block" in stored_var_names(m)


def test_zero_sum_within_groups_is_a_zero_sum_normal_per_group():
    groups = np.array([0, 0, 1, 1, 1, 2, 0])
    c = zero_sum_within(groups, 3)
    z = np.random.default_rng(0).standard_normal((7, 1000))
    out = c @ z
    for g in (0, 1):
        np.testing.assert_allclose(out[groups == g].sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_array_equal(out[groups == 2], 0.0)  # a one-region country: no offset
    # the covariance of ZeroSumNormal(sigma=1) over n members: I - J / n
    block = (c @ c.T)[np.ix_(groups == 1, groups == 1)]
    np.testing.assert_allclose(block, np.eye(3) - 1 / 3)
    zsn = pm.draw(pm.ZeroSumNormal.dist(sigma=1.0, shape=3), draws=20000, random_seed=1)
    np.testing.assert_allclose(np.cov(zsn.T), block, atol=0.03)


def test_several_countries_offsets_sum_to_zero_at_each_level(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    m = build_clash_model(d, PRIORS, parameterisation="non_centred")
    point = m.initial_point()
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in point.items()}
    outs = m.replace_rvs_by_values(
        [m["region_eff"], m["intercept"], m["sigma_country"], m["country_offset"]]
    )
    fn = m.compile_fn(outs, inputs=m.value_vars, point_fn=True, on_unused_input="ignore")
    region_eff, intercept, sigma_c, country_offset = fn(point)
    country_eff = sigma_c * country_offset
    assert abs(country_eff.sum()) < 1e-12  # the intercept is the mean country
    for c in range(len(d.countries)):
        members = d.region_country_idx == c  # a country's effect is the mean of its regions'
        np.testing.assert_allclose(region_eff[members].mean() - intercept, country_eff[c])


def test_one_country_drops_the_country_level():
    panel = simulate_panel(1, 4, 25, FEATURES, seed=4)
    d = make_design(panel, FEATURES, 2, burn_in=2)
    m = build_clash_model(d, PRIORS, ["prox_a__b_near"], parameterisation="non_centred")
    assert "sigma_country" not in m.named_vars and "country_offset" not in m.named_vars
    # the offsets sum to zero: the intercept is the mean region effect (no intercept ridge)
    assert "ZeroSumNormal" in type(m["region_offset"].owner.op).__name__
    assert m.named_vars_to_dims["region_offset"] == ("region",)
    assert "beta_country" not in m.named_vars  # needs two countries


def test_auto_centres_the_regions_whose_data_pin_their_effect():
    panel = simulate_panel(1, 4, 200, FEATURES, seed=5, zero_regions=[2])
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    assert panel["clash_any"].isel(region=2).sum() == 0
    np.testing.assert_array_equal(centred_regions(d, PRIORS["sigma_region"]), [1, 1, 0, 1])
    # a prior that expects regions to differ little dominates more of them
    narrow = PriorSpec(dist="HalfNormal", sigma=0.05)
    assert centred_regions(d, narrow).sum() < 3
    short = make_design(simulate_panel(1, 4, 8, FEATURES, seed=5), FEATURES, 1)
    assert not centred_regions(short, PRIORS["sigma_region"]).any()  # too few rows anywhere


def test_mixed_parameterisation_assembles_each_region_in_its_place(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    centre = centred_regions(d, PRIORS["sigma_region"])
    assert centre.any() and not centre.all()  # region 4 has no clash, the others do
    m = build_clash_model(d, PRIORS)
    assert m.named_vars_to_dims["region_eff_centred"] == ("region_centred",)
    assert m.named_vars_to_dims["region_offset"] == ("region_noncentred",)
    assert list(m.coords["region_noncentred"]) == [d.regions[i] for i in np.flatnonzero(~centre)]
    point = m.initial_point()
    rng = np.random.default_rng(4)
    point = {k: v + rng.normal(0, 0.7, np.shape(v)) for k, v in point.items()}
    names = ["region_eff", "region_eff_centred", "region_offset", "intercept"]
    names += ["sigma_region", "sigma_country", "country_offset"]
    fn = m.compile_fn(
        m.replace_rvs_by_values([m[n] for n in names]),
        inputs=m.value_vars,
        point_fn=True,
        on_unused_input="ignore",
    )
    eff, eff_c, offset, intercept, sigma_r, sigma_c, country_offset = fn(point)
    base = intercept + sigma_c * country_offset[d.region_country_idx]
    np.testing.assert_allclose(eff[centre], eff_c)
    np.testing.assert_allclose(eff[~centre], base[~centre] + sigma_r * offset)


def test_every_parameterisation_has_the_same_prior_on_region_effects(panel):
    # auto (mixed here) and centred are the same hierarchical model: region effects
    # ~ N(intercept + country, sigma_region). Compare their prior spreads and correlations.
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    draws = {
        p: pm.draw(build_clash_model(d, PRIORS, parameterisation=p)["region_eff"], 20000, 7)
        for p in ("auto", "centred")
    }
    # Var = 1.5² (intercept) + 0.5² (country, sum-to-zero over 2: x 1/2) + E[sigma_region²] = 1
    expect = 1.5**2 + 0.5**2 / 2 + 1.0
    for p, x in draws.items():
        np.testing.assert_allclose(x.var(axis=0), expect, rtol=0.06, err_msg=p)
    np.testing.assert_allclose(
        np.corrcoef(draws["auto"].T), np.corrcoef(draws["centred"].T), atol=0.04
    )


def test_country_varying_slopes(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    m = build_clash_model(d, PRIORS, country_varying=["prox_a__b_near"])
    assert m.named_vars_to_dims["beta_country"] == ("country", "feature_cv")


def test_intercepts_only_and_centred_variants(panel):
    m = build_clash_model(make_design(panel, [], horizon=2), PRIORS)
    assert "beta" not in m.named_vars
    c = build_clash_model(make_design(panel, FEATURES, 2), PRIORS, parameterisation="centred")
    assert "region_eff" in c.named_vars and "region_offset" not in c.named_vars


def test_prior_predictive_rates_are_probabilities(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    m = build_clash_model(d, PRIORS, aggregate=False)
    with m:
        prior = pm.sample_prior_predictive(draws=100, random_seed=1, var_names=["clash_any"])
    y = prior["prior_predictive"]["clash_any"]
    assert y.dims[-2:] == ("obs_id", "horizon")
    rates = y.mean(("obs_id", "horizon")).values
    assert ((rates > 0) & (rates < 1)).mean() > 0.9
    assert set(np.unique(y.values)) <= {0, 1}


def test_block_likelihood_integrates_the_shared_effect(panel):
    # one block of three steps: log ∫ Π_s Bern(y_s | invlogit(eta_s + 0.9 u)) φ(u) du
    y, eta, sigma = np.array([[1, 0, 1]]), np.array([[-1.0, 0.5, -2.0]]), 0.9
    got = block_logp(pt.constant(y), pt.constant(eta), pt.constant(sigma)).eval()
    u = np.linspace(-9, 9, 40001)
    p = 1 / (1 + np.exp(-(eta[0][:, None] + sigma * u)))
    lik = np.prod(np.where(y[0][:, None] == 1, p, 1 - p), axis=0)
    dens = np.exp(-(u**2) / 2) / np.sqrt(2 * np.pi)
    expected = np.log(np.sum(lik * dens) * (u[1] - u[0]))
    np.testing.assert_allclose(got, [expected], rtol=1e-4)
    # without a block effect it is the sum of independent Bernoulli terms
    q = 1 / (1 + np.exp(-eta[0]))
    indep = np.sum(np.log(np.where(y[0] == 1, q, 1 - q)))
    zero = block_logp(pt.constant(y), pt.constant(eta), pt.constant(0.0)).eval()
    np.testing.assert_allclose(zero, [indep], rtol=1e-12)


def test_independent_steps_use_a_bernoulli_per_step(panel):
    d = make_design(panel, FEATURES, horizon=2, burn_in=3)
    m = build_clash_model(d, PRIORS, dependence=False, aggregate=False)
    assert "sigma_block" not in m.named_vars
    assert type(m["clash_any"].owner.op).__name__.startswith("Bernoulli")
    merged = build_clash_model(d, PRIORS, dependence=False)  # the quiet region's blocks repeat
    assert merged.named_vars_to_dims["clash_any"] == ("obs_distinct", "horizon")
    point = m.initial_point()
    assert np.isclose(merged.compile_logp()(point), m.compile_logp()(point), rtol=1e-12)
    with pytest.raises(ValueError, match="sigma_block"):
        build_clash_model(d, {k: v for k, v in PRIORS.items() if k != "sigma_block"})


def test_offset_is_recorded_with_its_name(panel):
    d = make_design(panel, ["since_clash"], horizon=2, burn_in=3, offset="clash_decay_hl1")
    m = build_clash_model(d, PRIORS)
    assert m.coords["offset_feature"] == ("clash_decay_hl1",)
    assert m.named_vars_to_dims["offset"] == ("obs_id", "offset_feature")


def test_importing_the_model_loads_no_plotting_or_templates():
    code = (
        "import sys, model.inference.clash_model; "
        "print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

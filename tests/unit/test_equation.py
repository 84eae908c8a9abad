"""The linear predictor written once: the PyTensor and NumPy paths agree, the model computes it,
and the forecast's numbers are those of its former xarray code to the bit."""

import numpy as np
import pytensor.tensor as pt
import pytest
import xarray as xr
from conftest import PRIORS as TEST_PRIORS

from clashcast_testing.simulate import fake_posterior, simulate_panel
from model.config import PriorSpec
from model.inference import equation as eq
from model.inference.blocks import OFFSET_DIM, offset_scale
from model.inference.clash_model import block_logp, build_clash_model, make_design
from model.inference.forecast import (
    SAMPLE,
    _stacked_posterior,
    block_scale,
    feature_values,
    fitted_features,
    fitted_regions,
    horizons_of,
    linear_predictor,
    offset_name,
)
from model.inference.standardise import standardised

PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()}
FEATURES = ["x1", "x2", "x3", "x4", "x5", "x6", "x7"]
CV = ["x2", "x3", "x5", "x6", "x7"]  # five: einsum's unrolled inner loop, not just its tail
TERMS = ("level", "offset", "sigma", "features", "cv")


def _parameters(rng, n_draw=(), n_row=9, n_h=4, n_f=7, cv_pos=(1, 2, 4)):
    """Random inputs of :func:`model.inference.equation.linear_predictor` (``n_draw``: sample
    dims)."""
    return {
        "level": rng.normal(-1, 1, (*n_draw, n_row)),
        "offset": rng.normal(-2, 1, n_row),
        "sigma_block": rng.uniform(0.1, 2, n_draw),
        "x": rng.normal(0, 1, (n_row, n_f)),
        "beta": rng.normal(0, 0.5, (*n_draw, n_h, n_f)),
        "beta_country": rng.normal(0, 0.3, (*n_draw, n_row, len(cv_pos))),
        "cv_pos": list(cv_pos),
    }


def _switched(params, level, offset, sigma, features, cv):
    """The inputs with the terms switched off as asked (a zero level, no offset, …)."""
    out = dict(params)
    if not level:
        out["level"] = np.zeros_like(params["level"])
    if not offset:
        out["offset"] = None
    if not sigma:
        out["sigma_block"] = 0.0
    if not features:
        out.update(x=None, beta=None)
    if not (features and cv):
        out.update(beta_country=None, cv_pos=[])
    return out


@pytest.mark.parametrize("off", ["none", *TERMS])
def test_pytensor_and_numpy_paths_agree(off):
    on = {term: term != off for term in TERMS}
    params = _switched(_parameters(np.random.default_rng(19)), **on)
    want = eq.linear_predictor(eq.NUMPY, 4, **params)
    tensors = {
        k: pt.as_tensor_variable(v) if isinstance(v, np.ndarray) else v for k, v in params.items()
    }
    got = eq.linear_predictor(eq.pytensor_ops(), 4, **tensors).eval()
    assert got.shape == want.shape == (9, 4)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    if off == "features":
        np.testing.assert_array_equal(want, np.broadcast_to(want[:, :1], want.shape))


def test_numpy_takes_leading_sample_dims():
    params = _parameters(np.random.default_rng(20), n_draw=(5,))
    eta = eq.linear_predictor(eq.NUMPY, 4, **params)
    assert eta.shape == (5, 9, 4)
    for d in range(5):
        one = {k: v[d] if k not in ("offset", "x", "cv_pos") else v for k, v in params.items()}
        np.testing.assert_allclose(eta[d], eq.linear_predictor(eq.NUMPY, 4, **one), atol=1e-12)


def test_the_model_likelihood_is_that_of_the_equation():
    """The built model's log-likelihood at a random point, against ``block_logp`` of the NumPy
    ``eta`` (region effects, offset, features, country-varying slopes and dependence on)."""
    panel = simulate_panel(2, 3, 40, FEATURES, seed=5)
    panel["level"] = panel["x1"] - 2.0
    design = make_design(panel, FEATURES, horizon=3, burn_in=2, offset="level")
    pm_model = build_clash_model(design, PRIORS, country_varying=CV, parameterisation="centred")
    rng = np.random.default_rng(6)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in pm_model.initial_point().items()}
    obs = pm_model[eq.OBSERVED]
    got = pm_model.compile_logp(vars=[obs], jacobian=False)(point)
    sigma_block = np.exp(point[f"{eq.SIGMA_BLOCK}_log__"])
    beta_country = np.exp(point[f"{eq.SIGMA_BETA_COUNTRY}_log__"]) * point[eq.BETA_COUNTRY_OFFSET]
    eta = eq.linear_predictor(
        eq.NUMPY,
        design.horizon,
        point[eq.REGION_EFF][design.region_idx],
        design.offset,
        sigma_block,
        x=design.X,
        beta=point[eq.BETA],
        beta_country=beta_country[design.country_idx],
        cv_pos=[design.features.index(f) for f in CV],
    )
    want = block_logp(pt.constant(design.y), pt.constant(eta), pt.constant(sigma_block)).eval()
    np.testing.assert_allclose(got, want.sum(), rtol=1e-12)


# --- the forecast's former xarray code, kept as the reference its numbers must equal ---------


def _old_linear_predictor(idata, x_raw, offset=None):
    post = _stacked_posterior(idata)
    const = idata["constant_data"].to_dataset()
    if "region_eff" in post:
        eta = post["region_eff"].transpose(SAMPLE, "region")
    else:
        regions = fitted_regions(idata)
        eta = xr.DataArray(
            np.zeros((post.sizes[SAMPLE], len(regions))),
            dims=(SAMPLE, "region"),
            coords={"region": regions},
        )
    if offset_name(idata) is not None:
        scale = offset_scale(block_scale(idata))
        eta = eta + xr.DataArray(scale, dims=SAMPLE) * offset
    eta = eta.expand_dims(horizon=horizons_of(idata), axis=-1)
    if list(x_raw["feature"].values):
        z = standardised(x_raw, const["x_mean"], const["x_scale"])
        eta = eta + xr.dot(z, post["beta"], dim="feature")
        if "beta_country" in post:
            rc_idx = const["region_country_idx"].values
            cv = list(post["feature_cv"].values)
            bc = post["beta_country"].isel(country=xr.DataArray(rc_idx, dims="region"))
            bc = bc.drop_vars("country", errors="ignore")
            zc = z.sel(feature=cv).rename(feature="feature_cv")
            eta = eta + xr.dot(zc, bc, dim="feature_cv")
    return eta.transpose("region", "horizon", SAMPLE)


def _posterior(features, region_eff, cv, seed):
    """A fabricated posterior with an offset and a ``sigma_block`` that varies by draw."""
    panel = simulate_panel(3, 4, 40, FEATURES, seed=seed)
    panel["level"] = panel["x1"] - 2.0
    design = make_design(panel, features, horizon=4, burn_in=2, offset="level")
    idata = fake_posterior(design, draws=40, seed=seed, countries=True, sigma_block=1.0)
    post = idata["posterior"].to_dataset()
    rng = np.random.default_rng(seed)
    post[eq.SIGMA_BLOCK] = post[eq.SIGMA_BLOCK] * rng.uniform(0.1, 2.0, (2, 40))
    if not region_eff:
        post = post.drop_vars([eq.REGION_EFF])
    if not features:
        post = post.drop_vars([eq.BETA])
    if cv:
        bc = rng.normal(0, 0.4, (2, 40, len(design.countries), len(cv)))
        post[eq.BETA_COUNTRY] = (("chain", "draw", "country", eq.FEATURE_CV), bc)
        post = post.assign_coords({eq.FEATURE_CV: cv})
    idata["posterior"] = xr.DataTree(post)
    return panel, idata


@pytest.mark.parametrize(
    ("features", "region_eff", "cv"),
    [([], False, []), (FEATURES, True, CV), (FEATURES, False, []), (FEATURES[:2], True, ["x2"])],
    ids=["shipped", "everything", "features_offset", "one_slope"],
)
def test_forecast_linear_predictor_is_the_former_xarray_one_to_the_bit(features, region_eff, cv):
    panel, idata = _posterior(features, region_eff, cv, seed=len(features) + len(cv))
    assert offset_name(idata) == "level" and OFFSET_DIM in idata["constant_data"].coords
    regions = fitted_regions(idata)
    x_raw = feature_values(panel, None, fitted_features(idata), regions)
    offset = feature_values(panel, None, ["level"], regions).isel(feature=0, drop=True)
    new, old = linear_predictor(idata, x_raw, offset), _old_linear_predictor(idata, x_raw, offset)
    assert np.array_equal(new.values, old.values)
    assert new.values.strides == old.values.strides, (new.values.strides, old.values.strides)
    xr.testing.assert_identical(new, old)

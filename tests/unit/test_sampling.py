"""Sampling: parameter recovery with real NUTS; the same draws cold or warm compile cache;
the posterior file and its provenance refusal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import PRIORS as TEST_PRIORS

from clashcast_testing.simulate import Truth, fake_posterior, simulate_panel, truth_on_design_scale
from model.config import PriorSpec
from model.inference.clash_model import build_clash_model, centred_regions, make_design
from model.inference.posterior import ProvenanceMismatch, config_json, load_idata, save_idata
from model.inference.sampling import fit

PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()}
FEATURES = ["x_exo", "prox_a__b_near"]
QUIET = 1
TRUTH = Truth(
    intercept=-2.0, sigma_country=0.4, sigma_region=0.9, beta={"x_exo": 0.8, "prox_a__b_near": -0.5}
)


def quiet_fit(pm_model, **kwargs):
    """Real NUTS (nutpie), two chains, no progress bar, target_accept 0.95."""
    settings = {"sampler": "nutpie", "chains": 2, "progressbar": False, "target_accept": 0.95}
    return fit(pm_model, **(settings | kwargs))


@pytest.fixture(scope="module")
def recovery():
    # Seed 65 draws, from the model itself, a region without a single clash (region 1) and
    # effects whose realised means and spreads are close to the truth (a representative draw);
    # forcing a quiet region (simulate_panel's zero_regions) would make it an outlier.
    panel = simulate_panel(3, 4, 70, FEATURES, TRUTH, seed=65)
    design = make_design(panel, FEATURES, horizon=1, burn_in=2)
    # one step per block: a block effect would be a per-row overdispersion no data can see
    pm_model = build_clash_model(design, PRIORS, dependence=False)
    # With only 400 tuning steps the low-rank adaptation left 4 divergences on this small
    # three-country model; the diagonal one samples it cleanly.
    idata = quiet_fit(pm_model, draws=400, tune=400, cores=2, seed=1, low_rank_mass_matrix=False)
    return panel, design, idata


def test_recovers_true_parameters_with_real_nuts(recovery):
    panel, design, idata = recovery
    assert panel["clash_any"].isel(region=QUIET).sum() == 0  # a region without any clash
    post = idata["posterior"]
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    truth = truth_on_design_scale(TRUTH, design)  # the simulation's units -> the design's

    def inside(values, true):
        lo, hi = np.quantile(np.asarray(values).ravel(), [0.05, 0.95])
        return lo <= true <= hi, (lo, true, hi)

    # auto samples centred the regions with enough clashes, non-centred the quiet one: the plain
    # hierarchical model, whose intercept and sigma_country are the population's.
    centre = centred_regions(design, PRIORS["sigma_region"])
    assert not centre[QUIET] and centre.sum() >= len(centre) // 2  # mixed: mostly centred
    for name, true in (
        ("intercept", truth["intercept"]),
        ("sigma_country", TRUTH.sigma_country),
        ("sigma_region", TRUTH.sigma_region),
    ):
        ok, why = inside(post[name].values, true)
        assert ok, (name, why)
    for f in FEATURES:
        ok, why = inside(post["beta_mu"].sel(feature=f).values, truth[f])
        assert ok, (f, why)
    effects = post["region_eff"].mean(("chain", "draw")).values
    assert effects[QUIET] < np.median(effects)
    # The realised region effects against each other (the contrasts; the quiet region's is
    # unbounded below and left out).
    record = json.loads(panel.attrs["simulation_truth"])
    true_eff = np.asarray(record["region_effect"]) + np.repeat(record["country_effect"], 4)
    loud = np.arange(len(effects)) != QUIET
    true_c = true_eff[loud] - true_eff[loud].mean()
    draws = post["region_eff"].values.reshape(-1, len(effects))[:, loud]
    lo, hi = np.quantile(draws - draws.mean(axis=1, keepdims=True), [0.05, 0.95], axis=0)
    assert ((lo <= true_c) & (true_c <= hi)).mean() >= 0.8, (lo, true_c, hi)


def test_fit_returns_what_the_file_needs(recovery):
    _, design, idata = recovery
    assert {"posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"} <= set(
        idata.children
    )
    assert idata["log_likelihood"]["clash_any"].dims == ("chain", "draw", "obs_id")
    assert idata["log_likelihood"]["clash_any"].sizes["obs_id"] == design.n_blocks
    assert idata.attrs["sampler"] == "nutpie" and idata.attrs["sampling_seconds"] > 0
    np.testing.assert_allclose(idata["constant_data"]["x_scale"].values, design.x_scale)


def test_block_model_recovers_its_dependence_and_offset_meaning():
    """A panel drawn from the block model itself: the posterior holds the true sigma_block, and
    the forecast at the last origin holds the true step-1 probabilities (block effect
    integrated out, offset scaled as in the model)."""
    from clashcast_testing.simulate_blocks import OFFSET, simulate_block_panel
    from model.inference.forecast import forecast_draws

    priors = dict(PRIORS) | {"sigma_block": PriorSpec(dist="HalfNormal", sigma=1.0)}
    panel, truth = simulate_block_panel(
        priors, n_regions=10, n_periods=160, seed=1003, region_effects=False
    )
    design = make_design(panel, ["x1", "x2"], horizon=4, offset=OFFSET)
    pm_model = build_clash_model(design, priors, region_effects=False)
    idata = quiet_fit(pm_model, draws=300, tune=300, cores=1, seed=3)
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    lo, hi = np.quantile(idata["posterior"]["sigma_block"].values, [0.05, 0.95])
    assert lo <= truth["sigma_block"] <= hi, (lo, truth["sigma_block"], hi)
    p = forecast_draws(idata, panel, None).sel(horizon=1)
    lo, hi = p.quantile([0.05, 0.95], dim="draw").values
    inside = (lo <= truth["p_next"][:, 0]) & (truth["p_next"][:, 0] <= hi)
    assert inside.mean() >= 0.8, (lo, truth["p_next"][:, 0], hi)
    assert idata["log_likelihood"]["clash_any"].sizes["obs_id"] == design.n_blocks


def test_save_and_load_round_trip_with_provenance(tmp_path):
    panel = simulate_panel(1, 3, 20, FEATURES, seed=1)
    idata = fake_posterior(make_design(panel, FEATURES, horizon=2))
    idata["log_likelihood"] = xr.DataTree(
        xr.Dataset({"clash_any": (("chain", "draw", "obs_id"), np.zeros((2, 50, 4)))})
    )
    path = tmp_path / "idata.nc"
    attrs = {"params_hash_model": "abc", "input_sha256:data/processed/panel.nc": "123"}
    save_idata(idata, path, attrs)
    back = load_idata(path, expect=attrs)
    xr.testing.assert_allclose(back["posterior"].to_dataset(), idata["posterior"].to_dataset())
    assert back["log_likelihood"]["clash_any"].dtype == np.float32
    assert back.attrs["params_hash_model"] == "abc"


def test_provenance_mismatch_is_refused_naming_what_differs(tmp_path):
    panel = simulate_panel(1, 3, 20, FEATURES, seed=1)
    idata = fake_posterior(make_design(panel, FEATURES, horizon=2))
    path = tmp_path / "idata.nc"
    save_idata(idata, path, {"params_hash_model": "abc", "input_sha256:panel.nc": "123"})
    with pytest.raises(ProvenanceMismatch) as err:
        load_idata(
            path,
            expect={"params_hash_model": "xyz", "input_sha256:panel.nc": "123", "gate": "pass"},
        )
    message = str(err.value)
    assert "params_hash_model: file has 'abc', expected 'xyz'" in message
    assert "gate: missing" in message and "input_sha256" not in message
    with pytest.raises(FileNotFoundError, match="clashcast fit"):
        load_idata(tmp_path / "none.nc")
    assert json.loads(json.dumps(dict(load_idata(path).attrs)))["params_hash_model"] == "abc"


def test_a_different_model_config_is_refused_key_by_key(tmp_path):
    """The posterior records the model section it was fitted with (as pymc-marketing stamps
    its model config) and the refusal names the keys that changed."""
    panel = simulate_panel(1, 3, 20, FEATURES, seed=1)
    idata = fake_posterior(make_design(panel, FEATURES, horizon=2))
    path = tmp_path / "idata.nc"
    fitted = {"horizon": 4, "offset": "clash_level_hl8", "features": []}
    save_idata(idata, path, {"model_config": config_json(fitted)})
    assert json.loads(load_idata(path).attrs["model_config"]) == fitted
    now = fitted | {"offset": "clash_share_hl13", "horizon": 2}
    with pytest.raises(ProvenanceMismatch) as err:
        load_idata(path, expect={"model_config": config_json(now)})
    message = str(err.value)
    assert "model_config.horizon: file has 4, expected 2" in message
    assert "model_config.offset: file has 'clash_level_hl8', expected 'clash_share_hl13'" in message
    assert "features" not in message


# A fit in a fresh process: prints a hash of the posterior's bytes.
_FIT_CHILD = """
import hashlib
import model.inference.sampling
from model.inference.clash_model import build_clash_model, make_design
from model.config import PriorSpec
from clashcast_testing.simulate import simulate_panel

features = ["x_exo", "prox_a__b_near"]
priors = {
    "intercept": PriorSpec(dist="Normal", mu=-2.0, sigma=1.5),
    "sigma_region": PriorSpec(dist="HalfNormal", sigma=1.0),
    "beta": PriorSpec(dist="Normal", mu=0.0, sigma=1.0),
    "sigma_beta_horizon": PriorSpec(dist="HalfNormal", sigma=0.25),
}
panel = simulate_panel(1, 40, 1000, features, seed=3)
design = make_design(panel, features, horizon=2, burn_in=2)
idata = model.inference.sampling.fit(
    build_clash_model(design, priors, dependence=False), draws=100, tune=100, chains=1, cores=1,
    seed=2,
    progressbar=False, log_likelihood=False,
)
post = idata["posterior"].to_dataset()
blob = b"".join(post[v].values.tobytes() for v in sorted(post.data_vars))
print("HASH", hashlib.sha256(blob).hexdigest())
"""


def _fit_in_fresh_process(compile_cache: Path) -> str:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compile_cache}"}
    proc = subprocess.run(
        [sys.executable, "-c", _FIT_CHILD], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(line for line in proc.stdout.splitlines() if line.startswith("HASH "))


@pytest.mark.slow
def test_draws_are_the_same_compiled_afresh_or_loaded_from_the_compile_cache(tmp_path):
    # 80,000 rows (1.3 MB of data): with PyTensor's default fast-math (model.numerics
    # strict_float_math turned off) this fit's draws differed between the first process
    # (compiling into an empty cache) and the second (loading from it); a 6-region panel did
    # not show it. Strict math must give the same bits both times.
    cache = tmp_path / "pytensor"
    cold = _fit_in_fresh_process(cache)
    warm = _fit_in_fresh_process(cache)
    assert cold == warm


def test_fit_with_params_takes_the_fit_section_and_the_runtime(monkeypatch):
    """The fit section says what is sampled, the runtime section only on how many cores and
    whether a progress bar shows; a fold's overrides (one core, no bar) win over both."""
    from model.config import FitParams, RuntimeParams
    from model.inference import sampling

    seen: dict = {}
    monkeypatch.setattr(sampling, "fit", lambda pm_model, **kwargs: seen.update(kwargs))
    fp = FitParams(draws=7, seed=3)
    sampling.fit_with_params(None, fp, RuntimeParams(cores=3, progressbar=False), tune=9)
    assert seen == {
        "sampler": "nutpie", "draws": 7, "tune": 9, "chains": 4, "target_accept": 0.9,
        "seed": 3, "low_rank_mass_matrix": True, "cores": 3, "progressbar": False,
    }  # fmt: skip
    seen.clear()
    sampling.fit_with_params(None, fp, RuntimeParams(), cores=1, progressbar=False)
    assert (seen["cores"], seen["progressbar"]) == (1, False)

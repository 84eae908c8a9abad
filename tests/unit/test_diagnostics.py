"""The gate on fabricated posteriors: healthy passes; divergences, bad R-hat, low ESS trip it."""

import numpy as np
import pytest
import xarray as xr

from model.config import DiagnosticsParams, ModelParams, PriorSpec
from model.inference.diagnostics import (
    gate,
    pareto_k_counts,
    prior_predictive_summary,
    sampling_summary,
    variant_settings,
)


def fabricated(chains=4, draws=500, shift=0.0, divergences=0, seed=0):
    """A DataTree shaped like a fit: iid draws (healthy) unless told otherwise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(chains, draws))
    x[0] += shift  # one chain off: R-hat rises
    div = np.zeros((chains, draws), dtype=bool)
    div.flat[rng.choice(chains * draws, divergences, replace=False)] = True
    energy = rng.normal(size=(chains, draws))
    post = xr.Dataset(
        {
            "intercept": (("chain", "draw"), x),
            "beta_mu": (("chain", "draw", "feature"), rng.normal(size=(chains, draws, 2))),
        }
    )
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), div), "energy": (("chain", "draw"), energy)}
    )
    dt = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    dt.attrs.update(sampling_seconds=10.0, sampler="nutpie")
    return dt


def test_healthy_posterior_passes():
    summary = sampling_summary(fabricated())
    assert gate(summary, DiagnosticsParams()) == []
    assert summary["divergences"] == 0 and summary["r_hat_max"] < 1.01
    assert not {"sampling_seconds", "ess_bulk_per_second"} & set(summary)  # in the run log
    assert summary["bfmi_min"] > 0.3


def test_injected_divergences_trip_the_gate_by_name():
    failed = gate(sampling_summary(fabricated(divergences=3)), DiagnosticsParams())
    assert failed == ["divergences 3 > 0"]


def test_a_stuck_chain_trips_r_hat_and_ess():
    failed = gate(sampling_summary(fabricated(shift=3.0)), DiagnosticsParams())
    assert any(f.startswith("r_hat_max ") and f.endswith("> 1.01") for f in failed)


def test_non_finite_statistics_fail():
    summary = sampling_summary(fabricated()) | {"r_hat_max": float("nan")}
    assert gate(summary, DiagnosticsParams()) == ["r_hat_max nan > 1.01"]


def test_low_bfmi_trips():
    dt = fabricated()
    energy = np.cumsum(np.random.default_rng(1).normal(size=(4, 500)), axis=1)  # random walk
    dt["sample_stats"] = dt["sample_stats"].to_dataset().assign(energy=(("chain", "draw"), energy))
    assert any(f.startswith("bfmi_min") for f in gate(sampling_summary(dt), DiagnosticsParams()))


def test_pareto_k_counts_and_prior_predictive_summary():
    assert pareto_k_counts(np.array([0.1, 0.6, 0.8, 1.2, 0.5])) == {
        "good": 2,
        "ok": 1,
        "bad": 1,
        "very_bad": 1,
    }
    s = prior_predictive_summary(np.linspace(0, 1, 101), observed_rate=0.19)
    assert s["observed_quantile"] == pytest.approx(0.19, abs=0.01)
    assert s["prior_rate_q05"] < s["prior_rate_median"] < s["prior_rate_q95"]


def test_variant_settings_change_one_thing_each():
    priors = {"intercept": PriorSpec(dist="Normal", mu=0.0, sigma=1.0)}
    feats = ["clash_decay_hl1", "prox_a__b_near", "nbr_clash_decay_hl4"]
    mp = ModelParams(features=feats, offset="clash_level_hl8", region_effects=False, priors=priors)
    assert variant_settings("model", mp) == {
        "features": feats,
        "dependence": True,
        "region_effects": False,
    }
    assert variant_settings("no_features", mp)["features"] == []
    assert variant_settings("no_proximity", mp)["features"] == feats[::2]
    assert variant_settings("no_spatial", mp)["features"] == feats[:2]
    assert variant_settings("no_dependence", mp)["dependence"] is False
    assert variant_settings("region_effects", mp)["region_effects"] is True
    with pytest.raises(ValueError, match="unknown"):
        variant_settings("nope", mp)
    bare = ModelParams(offset="clash_level_hl8", region_effects=False, priors=priors)
    with pytest.raises(ValueError, match="no parameter"):
        variant_settings("no_dependence", bare)


def test_replicated_blocks_have_every_step_without_coefficients():
    """The shipped model (offset, block effect, no features, no region effects) has no
    posterior variable with steps: the replicated blocks still have all H of them."""
    import pymc as pm
    from conftest import PRIORS

    from clashcast_testing.simulate import simulate_panel
    from model.inference.clash_model import build_clash_model, make_design
    from model.inference.diagnostics import (
        posterior_predictive_blocks,
        posterior_predictive_region_rates,
    )

    panel = simulate_panel(1, 3, 30, ["clash_decay_hl1"], seed=2)
    panel["level"] = panel["clash_decay_hl1"] - 2.0
    design = make_design(panel, [], horizon=4, burn_in=2, offset="level")
    priors = {k: PriorSpec(**v) for k, v in PRIORS.items()}
    prior = pm.sample_prior_predictive(
        draws=50, model=build_clash_model(design, priors, region_effects=False), random_seed=1
    )
    assert "horizon" not in prior["prior"].dims
    idata = xr.DataTree.from_dict(
        {g: prior[g].to_dataset() for g in ("constant_data", "observed_data")}
        | {"posterior": prior["prior"].to_dataset()}
    )
    reps, _ = posterior_predictive_blocks(idata, n_draws=50)
    assert reps.shape == (50, design.n_blocks, 4)
    replicated, _, _ = posterior_predictive_region_rates(idata, n_draws=50)
    # the prior predictive's own outcomes are draws from the same model: rates alike
    assert abs(replicated.mean() - prior["prior_predictive"]["clash_any"].mean()) < 0.05

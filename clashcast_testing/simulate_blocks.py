"""Panels drawn from the block model's own generative process, for the coverage study.

:func:`simulate_block_panel` draws every parameter of
:func:`model.inference.clash_model.build_clash_model` from its prior (the priors of params), an
exogenous offset and features, and the outcomes of
each training block from the model itself:

    y[r, t + s] ~ Bernoulli(invlogit(c · offset[r, t] + region_eff[r] + X[r, t] · beta[s]
                                     + sigma_block · u[r, t])),    u ~ Normal(0, 1)

with ``c = offset_scale(sigma_block)``: the model's own ``eta``
(:func:`model.inference.equation.linear_predictor`) plus the block's effect, for the block origins
``t`` that :func:`model.inference.blocks.block_origins` gives with the cutoff at the last period.
Features are standardised over those origins exactly as
:func:`model.inference.clash_model.make_design` does, so the true coefficients are on the fitted
model's scale. Averaged over draws from the prior, a
correct posterior covers the truth at its nominal rate (simulation-based calibration):
:func:`interval_hits` counts it for the hyper-parameters and for the next week's clash
probability in each region, ``invlogit(eta + sigma_block · u)`` with the next block's own
effect ``u`` (the quantity a forecast's interval is about; its mean over ``u`` is the forecast
itself). Used by ``benchmarks/bench_coverage.py``.

:func:`simulate_proximity_panel` draws a panel with a known proximity effect (or none), for the
test that the proximity block's worth is found when it is there and only then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from model.config import PriorSpec
from model.data import feature_names as fn
from model.data.features import derive_proximity
from model.data.panel_facts import PanelFacts
from model.inference import equation as eq
from model.inference.blocks import block_origins, quadrature
from model.numerics import strict_float_math

OFFSET = "offset_level"
#: Hyper-parameters whose coverage is counted (those the model has).
HYPER = (eq.INTERCEPT, eq.SIGMA_COUNTRY, eq.SIGMA_REGION, eq.SIGMA_BLOCK, eq.SIGMA_BETA_HORIZON)


def _draw(spec: PriorSpec, rng: np.random.Generator, size: Any = None) -> np.ndarray:
    dist = getattr(pm, spec.dist).dist(**spec.kwargs(), size=size)
    with strict_float_math():
        return np.asarray(pm.draw(dist, random_seed=rng))


def draw_truth(
    priors: Mapping[str, PriorSpec],
    n_countries: int,
    n_regions: int,
    features: Sequence[str],
    horizon: int,
    rng: np.random.Generator,
    region_effects: bool = True,
) -> dict[str, Any]:
    """Every parameter of the model, drawn from its prior (country effects sum to zero)."""
    truth: dict[str, Any] = {eq.SIGMA_BLOCK: float(_draw(priors["sigma_block"], rng))}
    country_of = np.arange(n_regions) * n_countries // n_regions
    truth["country_of"] = country_of
    truth[eq.REGION_EFF] = np.zeros(n_regions)
    if region_effects:
        _draw_region_effects(truth, priors, n_countries, rng)
    if features:
        beta_mu = _draw(priors["beta"], rng, size=len(features))
        truth[eq.SIGMA_BETA_HORIZON] = float(_draw(priors["sigma_beta_horizon"], rng))
        truth[eq.BETA_MU] = beta_mu
        truth[eq.BETA] = beta_mu + truth[eq.SIGMA_BETA_HORIZON] * rng.standard_normal(
            (horizon, len(features))
        )
    return truth


def _draw_region_effects(
    truth: dict[str, Any],
    priors: Mapping[str, PriorSpec],
    n_countries: int,
    rng: np.random.Generator,
) -> None:
    truth[eq.INTERCEPT] = float(_draw(priors["intercept"], rng))
    truth[eq.SIGMA_REGION] = float(_draw(priors["sigma_region"], rng))
    country_eff = np.zeros(n_countries)
    if n_countries > 1:
        truth[eq.SIGMA_COUNTRY] = float(_draw(priors["sigma_country"], rng))
        z = rng.standard_normal(n_countries)
        country_eff = truth[eq.SIGMA_COUNTRY] * (z - z.mean())
    n_regions = truth["country_of"].size
    truth[eq.REGION_EFF] = (
        truth[eq.INTERCEPT]
        + country_eff[truth["country_of"]]
        + truth[eq.SIGMA_REGION] * rng.standard_normal(n_regions)
    )


def _ar1(rng: np.random.Generator, shape: tuple[int, int], rho: float) -> np.ndarray:
    """Stationary AR(1) series with unit variance along the last axis."""
    out = np.empty(shape)
    out[:, 0] = rng.standard_normal(shape[0])
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(shape[0])
    return out


def simulate_block_panel(
    priors: Mapping[str, PriorSpec],
    *,
    n_countries: int = 1,
    n_regions: int = 12,
    n_periods: int = 200,
    features: Sequence[str] = ("x1", "x2"),
    horizon: int = 4,
    seed: int = 0,
    region_effects: bool = True,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """A panel (``panel.nc`` layout, variables ``clash_any``, the features and ``offset_level``)
    and its true parameters, drawn as the module docstring says."""
    rng = np.random.default_rng(seed)
    features = list(features)
    truth = draw_truth(priors, n_countries, n_regions, features, horizon, rng, region_effects)
    offset = (
        -1.5 + rng.normal(0, 0.8, (n_regions, 1)) + 0.7 * _ar1(rng, (n_regions, n_periods), 0.95)
    )
    origins = block_origins(n_periods - 1, 0, horizon)
    x = {f: _ar1(rng, (n_regions, n_periods), 0.9) for f in features}
    for f in features:
        at = x[f][:, origins]
        x[f] = (x[f] - at.mean()) / at.std()
    y = (rng.random((n_regions, n_periods)) < 1 / (1 + np.exp(-offset))).astype(np.int8)
    X = np.stack([x[f] for f in features], axis=-1) if features else None
    for t in origins:
        eta = _true_logits(truth, offset[:, t], None if X is None else X[:, t, :])
        eta = eta + truth[eq.SIGMA_BLOCK] * rng.standard_normal((n_regions, 1))
        y[:, t + 1 : t + 1 + horizon] = rng.random(eta.shape) < 1 / (1 + np.exp(-eta))
    x_last = None if X is None else X[:, -1, :]
    truth["p_next_mean"] = true_marginal(truth, offset[:, -1], x_last)
    u_next = rng.standard_normal(n_regions)
    truth["p_next"] = true_step(truth, offset[:, -1], x_last, u_next)
    periods = pd.date_range("2010-01-04", periods=n_periods, freq="W-MON")
    regions = [f"R{i:02d}" for i in range(n_regions)]
    data = {"clash_any": (("region", "period"), y), OFFSET: (("region", "period"), offset)}
    data |= {f: (("region", "period"), x[f]) for f in features}
    panel = xr.Dataset(
        data,
        coords={
            "region": regions,
            "period": periods.values.astype("datetime64[ns]"),
            "country": ("region", [f"C{c}" for c in truth["country_of"]]),
        },
        attrs=PanelFacts.defaults("W-MON", features).to_attrs(),
    )
    return panel, truth


def _true_logits(truth: Mapping[str, Any], offset: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    """The model's ``eta`` (region, step) with the true parameters; without features every step
    is the same, and one column stands for them."""
    beta = truth.get(eq.BETA)
    n_h = 1 if x is None else beta.shape[0]
    sigma = truth[eq.SIGMA_BLOCK]
    return eq.linear_predictor(eq.NUMPY, n_h, truth[eq.REGION_EFF], offset, sigma, x=x, beta=beta)


def true_marginal(truth: Mapping[str, Any], offset: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    """True P(clash) per region and step from an origin, the block effect integrated out."""
    nodes, weights = quadrature(41)
    e = _true_logits(truth, offset, x)[..., None] + truth[eq.SIGMA_BLOCK] * nodes
    return (1 / (1 + np.exp(-e))) @ weights


def true_step(
    truth: Mapping[str, Any], offset: np.ndarray, x: np.ndarray | None, u: np.ndarray
) -> np.ndarray:
    """True P(clash) per region and step from an origin given the block's effect ``u``."""
    e = _true_logits(truth, offset, x) + truth[eq.SIGMA_BLOCK] * u[:, None]
    return 1 / (1 + np.exp(-e))


def interval_hits(
    draws: np.ndarray, true_value: np.ndarray, levels: Sequence[float] = (0.5, 0.9)
) -> dict[str, np.ndarray]:
    """Whether each central interval of ``draws`` (draw axis last) holds the true value."""
    out = {}
    for level in levels:
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=-1)
        out[f"{level:.0%}"] = (lo <= true_value) & (true_value <= hi)
    return out


#: The proximity feature of :func:`simulate_proximity_panel`.
PROXIMITY = fn.proximity(fn.pair_stem("a", "b"), "near")


def simulate_proximity_panel(
    effect: float, *, n_regions: int = 12, n_periods: int = 200, horizon: int = 4,
    sigma_block: float = 0.5, scale_km: float = 50.0, seed: int = 0,
) -> xr.Dataset:  # fmt: skip
    """A panel whose clashes follow a proximity effect of ``effect`` logits per SD of nearness.

    Side A's distance to side B per region drifts (log-normal AR(1), median 60 km) and the pair
    is absent about a third of the weeks, in spells; ``prox_a__b_near`` and ``_absent`` come
    from :func:`model.data.features.derive_proximity` as in the panel. Each training block's
    outcomes follow the block model with the offset ``offset_level``, no region effects and the
    coefficient ``effect / sd(near)`` on every step, ``sd`` over the block origins (the
    standardisation of :func:`model.inference.clash_model.make_design`): a fitted ``beta_mu`` should
    recover ``effect``. With ``effect=0`` proximity carries nothing.
    """
    rng = np.random.default_rng(seed)
    shape = (n_regions, n_periods)
    offset = -1.5 + rng.normal(0, 0.8, (n_regions, 1)) + 0.7 * _ar1(rng, shape, 0.95)
    absent = _ar1(rng, shape, 0.9) < -0.45
    km = np.where(absent, np.nan, np.exp(np.log(60.0) + _ar1(rng, shape, 0.9)))
    near, absent_f = derive_proximity(km, scale_km)
    origins = block_origins(n_periods - 1, 0, horizon)
    x = near - near[:, origins].mean()
    beta = effect / near[:, origins].std()
    y = (rng.random(shape) < 1 / (1 + np.exp(-offset))).astype(np.int8)
    level, slope = np.zeros(n_regions), np.array([[beta]])
    for t in origins:
        eta = eq.linear_predictor(
            eq.NUMPY, 1, level, offset[:, t], sigma_block, x=x[:, t, None], beta=slope
        )
        eta = eta + sigma_block * rng.standard_normal((n_regions, 1))
        p = 1 / (1 + np.exp(-eta))
        y[:, t + 1 : t + 1 + horizon] = rng.random((n_regions, horizon)) < p
    grid = ("region", "period")
    data = {
        "clash_any": (grid, y),
        OFFSET: (grid, offset),
        PROXIMITY: (grid, near),
        fn.proximity(fn.pair_stem("a", "b"), "absent"): (grid, absent_f),
        fn.proximity(fn.pair_stem("a", "b"), "km"): (grid, km),
    }
    periods = pd.date_range("2010-01-04", periods=n_periods, freq="W-MON")
    return xr.Dataset(
        data,
        coords={
            "region": [f"R{i:02d}" for i in range(n_regions)],
            "period": periods.values.astype("datetime64[ns]"),
            "country": ("region", ["C0"] * n_regions),
        },
        attrs={**PanelFacts.defaults("W-MON").to_attrs(), "true_effect_per_sd": float(effect)},
    )

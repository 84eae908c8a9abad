"""Synthetic panels drawn from the model's own generative process (``panel.nc`` layout).

Used before the real panel exists, by the parameter-recovery test and by the sampler benchmark.
The process is the model's one-step form: for each region r and period t ≥ 1

    clash_any[r, t] ~ Bernoulli(invlogit(intercept + country[c] + region[r] + z[r, t-1] · beta))

with ``country = sigma_country * N(0, 1)`` (absent with one country), ``region =
sigma_region * N(0, 1)`` and ``z`` the features at t − 1 standardised by fixed nominal
constants (:data:`NOMINAL_SCALE`). At step 1 the fitted model is exactly this process; at
steps s > 1 its coefficients are the implied direct-forecast ones, which have no closed form,
so recovery is checked with ``horizon=1``.

Features named like the panel's are computed from the simulated history (self-exciting):
``clash_decay_hl{h}``, ``event_decay_hl{h}`` (events = clashes + Poisson noise),
``nbr_clash_decay_hl{h}`` (other regions of the same country as neighbours) and
``since_clash``. Proximity features come from an exogenous AR(1) distance in km
(``prox_<pair>_km``, ``_near`` = exp(−km/scale), ``_absent``, ``_n_within``); any other name is an
exogenous standard-normal AR(1) series.

Regions listed in ``zero_regions`` get a true region effect of −6 (in logit units, far below
the rest), so that they have no clashes in practice: the "quiet governorate" case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from model.blocks import OFFSET_DIM
from model.clash_model import Design

#: Nominal (centre, scale) used to standardise features inside the generative process.
NOMINAL_SCALE: dict[str, tuple[float, float]] = {
    "clash_decay": (0.4, 0.6),
    "event_decay": (0.6, 0.7),
    "nbr_clash_decay": (0.4, 0.5),
    "since_clash": (2.5, 1.3),
    "_near": (0.3, 0.35),
    "_n_within": (0.3, 0.5),
    "_absent": (0.3, 0.45),
}
ZERO_REGION_EFFECT = -6.0
_HL = re.compile(r"^(nbr_clash|clash|event)_decay_hl([0-9.]+)$")


@dataclass
class Truth:
    """True parameters of a simulated panel (coefficients per standardised feature)."""

    intercept: float = -2.0
    sigma_country: float = 0.5
    sigma_region: float = 0.8
    beta: Mapping[str, float] = field(default_factory=dict)
    ar: float = 0.9
    proximity_scale_km: float = 50.0


def _nominal(name: str) -> tuple[float, float]:
    for key, val in NOMINAL_SCALE.items():
        if name.startswith(key) or name.endswith(key):
            return val
    return (0.0, 1.0)


def simulate_panel(
    n_countries: int,
    regions_per_country: int,
    n_periods: int,
    features: Sequence[str],
    truth: Truth | None = None,
    seed: int = 0,
    zero_regions: Sequence[int] = (),
    start: str = "2014-01-06",
) -> xr.Dataset:
    """Draw a synthetic panel in the ``panel.nc`` layout.

    Parameters
    ----------
    n_countries, regions_per_country, n_periods : int
        Grid size (weekly periods, ``W-MON``).
    features : sequence of str
        Feature variables to produce (see the module docstring for recognised names).
    truth : Truth, optional
        True parameters; ``beta`` defaults to 0 for a feature it does not name.
    seed : int
    zero_regions : sequence of int
        Region indices given a region effect of −6 (no clashes in practice).
    start : str
        First period (a Monday).

    Returns
    -------
    xarray.Dataset
        Dims ``(region, period)``; attrs hold the truth (``simulation_truth``, JSON, with the
        drawn ``country_effect`` and ``region_effect``).
    """
    truth = truth or Truth()
    rng = np.random.default_rng(seed)
    n_reg = n_countries * regions_per_country
    country_of = np.repeat(np.arange(n_countries), regions_per_country)
    country_eff = (
        truth.sigma_country * rng.standard_normal(n_countries) if n_countries > 1 else np.zeros(1)
    )
    region_eff = truth.sigma_region * rng.standard_normal(n_reg)
    region_eff[list(zero_regions)] = ZERO_REGION_EFFECT
    alpha = truth.intercept + country_eff[country_of] + region_eff
    features = list(features)
    beta = np.array([float(truth.beta.get(f, 0.0)) for f in features])
    centre = np.array([_nominal(f)[0] for f in features])
    scale = np.array([_nominal(f)[1] for f in features])

    prox_pairs = sorted(
        {
            m.group(1)
            for f in features
            if (m := re.match(r"^prox_(.+?)_(near|absent|n_within|km)$", f))
        }
    )
    km = {p: np.full(n_reg, 60.0) + rng.gamma(2.0, 30.0, n_reg) for p in prox_pairs}
    hls = {f: float(m.group(2)) for f in features if (m := _HL.match(f))}
    decay_state = {f: np.zeros(n_reg) for f in hls}
    exo = {f: rng.standard_normal(n_reg) for f in features}
    since = np.full(n_reg, 52.0)
    same_country = (country_of[:, None] == country_of[None, :]) & ~np.eye(n_reg, dtype=bool)
    n_nbr = np.maximum(same_country.sum(axis=1), 1)

    out = {f: np.zeros((n_reg, n_periods)) for f in features}
    prox_vars: dict[str, np.ndarray] = {}
    for p in prox_pairs:
        for suffix in ("km", "near", "absent", "n_within"):
            prox_vars[f"prox_{p}_{suffix}"] = np.zeros((n_reg, n_periods))
    clash = np.zeros((n_reg, n_periods), dtype=np.int64)
    events = np.zeros((n_reg, n_periods), dtype=np.int64)
    x_prev = None
    rho = truth.ar
    for t in range(n_periods):
        if x_prev is not None:
            eta = alpha + ((x_prev - centre) / scale) @ beta
            y = rng.random(n_reg) < 1.0 / (1.0 + np.exp(-eta))
            clash[:, t] = np.where(y, 1 + rng.poisson(1.0, n_reg), 0)
        events[:, t] = clash[:, t] + rng.poisson(0.5, n_reg)
        since = np.where(clash[:, t] > 0, 0.0, np.minimum(since + 1, 52.0))
        for p in prox_pairs:
            km[p] = np.maximum(0.5, rho * km[p] + (1 - rho) * 80.0 + rng.normal(0, 12.0, n_reg))
            absent = (rng.random(n_reg) < 0.2).astype(float)
            prox_vars[f"prox_{p}_km"][:, t] = np.where(absent > 0, np.nan, km[p])
            prox_vars[f"prox_{p}_near"][:, t] = np.where(
                absent > 0, 0.0, np.exp(-km[p] / truth.proximity_scale_km)
            )
            prox_vars[f"prox_{p}_absent"][:, t] = absent
            prox_vars[f"prox_{p}_n_within"][:, t] = np.log1p(
                np.where(absent > 0, 0, rng.poisson(3.0 * np.exp(-km[p] / 40.0)))
            )
        for f, h in hls.items():
            kind = f.split("_decay")[0]
            src = events[:, t] if kind == "event" else clash[:, t]
            decay_state[f] = decay_state[f] * 0.5 ** (1.0 / h) + src
            if kind == "nbr_clash":
                continue
            out[f][:, t] = np.log1p(decay_state[f])
        for f in features:
            if f in hls:
                if f.startswith("nbr_"):
                    out[f][:, t] = np.log1p(same_country @ decay_state[f] / n_nbr)
            elif f == "since_clash":
                out[f][:, t] = np.log1p(since)
            elif f in prox_vars:
                out[f][:, t] = prox_vars[f][:, t]
            else:
                exo[f] = rho * exo[f] + np.sqrt(1 - rho**2) * rng.standard_normal(n_reg)
                out[f][:, t] = exo[f]
        x_prev = np.stack([out[f][:, t] for f in features], axis=-1) if features else None
        if x_prev is None:
            x_prev = np.zeros((n_reg, 0))

    periods = pd.date_range(start, periods=n_periods, freq="W-MON")
    regions = [f"R{c:02d}_{i:02d}" for c in range(n_countries) for i in range(regions_per_country)]
    countries = [f"C{c:02d}" for c in country_of]
    data = {f: (("region", "period"), out[f]) for f in features}
    data |= {k: (("region", "period"), v) for k, v in prox_vars.items()}
    data |= {
        "clash": (("region", "period"), clash),
        "clash_any": (("region", "period"), (clash > 0).astype(np.int8)),
        "events": (("region", "period"), events),
        "fatalities": (("region", "period"), clash * 2),
    }
    feature_names = sorted(set(features) | set(prox_vars))
    truth_record = asdict(truth) | {
        "beta": {f: float(b) for f, b in zip(features, beta, strict=True)},
        "country_effect": country_eff.tolist() if n_countries > 1 else [],
        "region_effect": region_eff.tolist(),
        "zero_regions": [int(i) for i in zero_regions],
    }
    return xr.Dataset(
        data,
        coords={
            "region": regions,
            "period": periods.values.astype("datetime64[ns]"),
            "period_end": ("period", (periods + pd.Timedelta(days=6)).values),
            "country": ("region", countries),
            "region_id": ("region", [f"X-{r}" for r in regions]),
        },
        attrs={
            "freq": "W-MON",
            "window_start": str(periods[0].date()),
            "window_end": str((periods[-1] + pd.Timedelta(days=6)).date()),
            "feature_names": json.dumps(feature_names),
            "proximity_scale_km": truth.proximity_scale_km,
            "simulation_truth": json.dumps(truth_record),
            "simulated": "true",
        },
    )


def fake_posterior(
    design: Design,
    chains: int = 2,
    draws: int = 50,
    seed: int = 0,
    countries: bool = False,
    sigma_block: float | None = None,
) -> xr.DataTree:
    """A posterior-shaped DataTree (random draws, no sampling) with the forecast's constant data.

    ``region_eff`` is ``intercept (+ sigma_country · country_offset) + sigma_region ·
    region_offset``, as the model stores it; ``sigma_block`` (a constant) adds the block
    effect; the design's offset, when it has one, is recorded as the model records it. For
    tests and examples of the forecast and scenario code; not a fit.
    """
    rng = np.random.default_rng(seed)
    n_r, n_h, n_f = len(design.regions), design.horizon, len(design.features)
    sd = ("chain", "draw")
    intercept = rng.normal(-1, 0.1, (chains, draws))
    sigma_region = rng.uniform(0.2, 1, (chains, draws))
    region_offset = rng.normal(0, 1, (chains, draws, n_r))
    region_eff = intercept[..., None] + sigma_region[..., None] * region_offset
    post = {
        "intercept": (sd, intercept),
        "sigma_region": (sd, sigma_region),
        "region_offset": ((*sd, "region"), region_offset),
        "beta": ((*sd, "horizon", "feature"), rng.normal(0, 0.5, (chains, draws, n_h, n_f))),
    }
    coords = {
        "region": list(design.regions),
        "horizon": list(range(1, n_h + 1)),
        "feature": list(design.features),
        "country": list(design.countries),
    }
    if countries:
        n_c = len(design.countries)
        sigma_country = rng.uniform(0.2, 1, (chains, draws))
        country_offset = rng.normal(0, 1, (chains, draws, n_c))
        post["sigma_country"] = (sd, sigma_country)
        post["country_offset"] = ((*sd, "country"), country_offset)
        c_eff = sigma_country[..., None] * country_offset
        region_eff = region_eff + c_eff[..., design.region_country_idx]
    post["region_eff"] = ((*sd, "region"), region_eff)
    if sigma_block is not None:
        post["sigma_block"] = (sd, np.full((chains, draws), float(sigma_block)))
    const = xr.Dataset(
        {
            "x_mean": ("feature", design.x_mean),
            "x_scale": ("feature", design.x_scale),
            "region_country_idx": ("region", design.region_country_idx),
        },
        coords={"feature": list(design.features), "region": list(design.regions)},
    )
    if design.offset_name:
        const["offset"] = (("obs_id", OFFSET_DIM), design.offset[:, None])
        const = const.assign_coords({OFFSET_DIM: [design.offset_name]})
    return xr.DataTree.from_dict(
        {"posterior": xr.Dataset(post, coords=coords), "constant_data": const}
    )


def truth_on_design_scale(truth: Truth, design: Design) -> dict[str, float]:
    """The true intercept and coefficients in the fitted model's units.

    The simulation standardises features by fixed nominal constants, the design by the training
    rows' means and scales; with ``eta = a + Σ β (x − c) / s`` and ``z = (x − m) / sd`` the same
    predictor is ``a + Σ β (m − c) / s + Σ (β sd / s) z``.
    """
    out = {"intercept": float(truth.intercept)}
    for k, f in enumerate(design.features):
        beta = float(truth.beta.get(f, 0.0))
        centre, scale = _nominal(f)
        out["intercept"] += beta * (design.x_mean[k] - centre) / scale
        out[f] = beta * design.x_scale[k] / scale
    return out

"""Synthetic panels drawn from the model's own generative process (``panel.nc`` layout).

Used before the real panel exists, by the parameter-recovery test and by the sampler benchmark.
The process is the model's one-step form: for each region r and period t ≥ 1

    clash_any[r, t] ~ Bernoulli(invlogit(intercept + country[c] + region[r] + z[r, t-1] · beta))

(:func:`model.inference.equation.linear_predictor` with one step) with ``country = sigma_country *
N(0, 1)`` (absent with one country), ``region = sigma_region * N(0, 1)`` and ``z`` the features
at t − 1 standardised by fixed nominal constants (:data:`NOMINAL_SCALE`). At step 1 the fitted
model is exactly this process; at steps s > 1 its coefficients are the implied direct-forecast
ones, which have no closed form, so recovery is checked with ``horizon=1``.

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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from model.data import feature_names as fn
from model.data.panel_facts import PERIODS_PER_YEAR, PanelFacts
from model.inference import equation as eq
from model.inference.blocks import OFFSET_DIM
from model.inference.clash_model import Design

#: ``since_clash``'s cap: a year of weekly periods.
_CAP = PERIODS_PER_YEAR["W-MON"]

#: Nominal (centre, scale) used to standardise features inside the generative process, by the
#: decayed count, ``since`` or the proximity part the name says (:mod:`model.data.feature_names`).
NOMINAL_SCALE: dict[str, tuple[float, float]] = {
    "clash": (0.4, 0.6),
    "event": (0.6, 0.7),
    "nbr_clash": (0.4, 0.5),
    "since": (2.5, 1.3),
    "near": (0.3, 0.35),
    "n_within": (0.3, 0.5),
    "absent": (0.3, 0.45),
}
ZERO_REGION_EFFECT = -6.0
#: The decayed counts the simulation computes from its own history.
SIMULATED_DECAYS = ("clash", "event", "nbr_clash")


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
    f = fn.parse(name)
    return NOMINAL_SCALE.get(f.kind or f.part or f.family, (0.0, 1.0))


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
    features = list(features)
    effects = _draw_effects(truth, n_countries, regions_per_country, zero_regions, rng)
    state = _History.start(features, effects.country_of, n_periods, rng)
    beta = np.array([float(truth.beta.get(f, 0.0)) for f in features])
    centre = np.array([_nominal(f)[0] for f in features])
    scale = np.array([_nominal(f)[1] for f in features])
    x_prev = None
    for t in range(n_periods):
        if x_prev is not None:
            z = (x_prev - centre) / scale
            eta = eq.linear_predictor(eq.NUMPY, 1, effects.alpha, x=z, beta=beta[None, :])[:, 0]
            state.draw_clashes(t, eta, rng)
        state.step(t, truth, rng)
        x_prev = np.stack([state.out[f][:, t] for f in features], axis=-1) if features else None
        if x_prev is None:
            x_prev = np.zeros((effects.alpha.size, 0))
    return _simulated_dataset(state, effects, truth, beta, start)


@dataclass
class _Effects:
    """The drawn intercepts: country of each region, country and region effects, their sum."""

    country_of: np.ndarray
    country_eff: np.ndarray
    region_eff: np.ndarray
    alpha: np.ndarray
    n_countries: int
    zero_regions: tuple[int, ...]


def _draw_effects(
    truth: Truth,
    n_countries: int,
    regions_per_country: int,
    zero_regions: Sequence[int],
    rng: np.random.Generator,
) -> _Effects:
    n_reg = n_countries * regions_per_country
    country_of = np.repeat(np.arange(n_countries), regions_per_country)
    country_eff = (
        truth.sigma_country * rng.standard_normal(n_countries) if n_countries > 1 else np.zeros(1)
    )
    region_eff = truth.sigma_region * rng.standard_normal(n_reg)
    region_eff[list(zero_regions)] = ZERO_REGION_EFFECT
    alpha = truth.intercept + country_eff[country_of] + region_eff
    zeros = tuple(int(i) for i in zero_regions)
    return _Effects(country_of, country_eff, region_eff, alpha, n_countries, zeros)


@dataclass
class _History:
    """The simulated history: outcomes, events and features so far, and the state behind them.

    The random draws happen in a fixed order (the proximity distances and the exogenous series
    at the start; each period its outcomes, events, distances and exogenous innovations), so a
    seed gives the same panel whatever else changes here.
    """

    features: list[str]
    country_of: np.ndarray
    pairs: list[str]
    km: dict[str, np.ndarray]
    half_lives: dict[str, float]
    decay_state: dict[str, np.ndarray]
    exo: dict[str, np.ndarray]
    since: np.ndarray
    out: dict[str, np.ndarray]
    prox_vars: dict[str, np.ndarray]
    clash: np.ndarray
    events: np.ndarray

    @classmethod
    def start(
        cls,
        features: list[str],
        country_of: np.ndarray,
        n_periods: int,
        rng: np.random.Generator,
    ) -> _History:
        n_reg = country_of.size
        pairs = sorted({p for f in features if (p := fn.parse(f).pair) is not None})
        km = {p: np.full(n_reg, 60.0) + rng.gamma(2.0, 30.0, n_reg) for p in pairs}
        parsed = {f: fn.parse(f) for f in features}
        hls = {
            f: float(p.half_life)
            for f, p in parsed.items()
            if p.family == "decay" and p.kind in SIMULATED_DECAYS and p.half_life is not None
        }
        exo = {f: rng.standard_normal(n_reg) for f in features}
        grid = (n_reg, n_periods)
        prox_vars = {
            fn.proximity(p, part): np.zeros(grid) for p in pairs for part in fn.PROXIMITY_PARTS
        }
        return cls(
            features=features,
            country_of=country_of,
            pairs=pairs,
            km=km,
            half_lives=hls,
            decay_state={f: np.zeros(n_reg) for f in hls},
            exo=exo,
            since=np.full(n_reg, float(_CAP)),
            out={f: np.zeros(grid) for f in features},
            prox_vars=prox_vars,
            clash=np.zeros(grid, dtype=np.int64),
            events=np.zeros(grid, dtype=np.int64),
        )

    def draw_clashes(self, t: int, eta: np.ndarray, rng: np.random.Generator) -> None:
        """Period ``t``'s outcomes from the linear predictor of the features at ``t − 1``."""
        n_reg = eta.size
        y = rng.random(n_reg) < 1.0 / (1.0 + np.exp(-eta))
        self.clash[:, t] = np.where(y, 1 + rng.poisson(1.0, n_reg), 0)

    def step(self, t: int, truth: Truth, rng: np.random.Generator) -> None:
        """Events, distances and every feature at period ``t``, after its outcomes."""
        n_reg = self.country_of.size
        self.events[:, t] = self.clash[:, t] + rng.poisson(0.5, n_reg)
        self.since = np.where(self.clash[:, t] > 0, 0.0, np.minimum(self.since + 1, float(_CAP)))
        for p in self.pairs:
            self._step_proximity(t, p, truth, rng)
        for f, h in self.half_lives.items():
            kind = fn.parse(f).kind
            src = self.events[:, t] if kind == "event" else self.clash[:, t]
            self.decay_state[f] = self.decay_state[f] * 0.5 ** (1.0 / h) + src
            if kind != "nbr_clash":
                self.out[f][:, t] = np.log1p(self.decay_state[f])
        same_country = (self.country_of[:, None] == self.country_of[None, :]) & ~np.eye(
            n_reg, dtype=bool
        )
        n_nbr = np.maximum(same_country.sum(axis=1), 1)
        for f in self.features:
            if f in self.half_lives:
                if fn.parse(f).kind == "nbr_clash":
                    self.out[f][:, t] = np.log1p(same_country @ self.decay_state[f] / n_nbr)
            elif f == fn.SINCE_CLASH:
                self.out[f][:, t] = np.log1p(self.since)
            elif f in self.prox_vars:
                self.out[f][:, t] = self.prox_vars[f][:, t]
            else:
                rho = truth.ar
                self.exo[f] = rho * self.exo[f] + np.sqrt(1 - rho**2) * rng.standard_normal(n_reg)
                self.out[f][:, t] = self.exo[f]

    def _step_proximity(self, t: int, p: str, truth: Truth, rng: np.random.Generator) -> None:
        """An AR(1) distance in km for pair ``p``, absent 20% of the time, and its parts."""
        n_reg, rho = self.country_of.size, truth.ar
        self.km[p] = np.maximum(
            0.5, rho * self.km[p] + (1 - rho) * 80.0 + rng.normal(0, 12.0, n_reg)
        )
        absent = (rng.random(n_reg) < 0.2).astype(float)
        km = self.km[p]
        self.prox_vars[fn.proximity(p, "km")][:, t] = np.where(absent > 0, np.nan, km)
        self.prox_vars[fn.proximity(p, "near")][:, t] = np.where(
            absent > 0, 0.0, np.exp(-km / truth.proximity_scale_km)
        )
        self.prox_vars[fn.proximity(p, "absent")][:, t] = absent
        self.prox_vars[fn.proximity(p, "n_within")][:, t] = np.log1p(
            np.where(absent > 0, 0, rng.poisson(3.0 * np.exp(-km / 40.0)))
        )


def _simulated_dataset(
    history: _History, effects: _Effects, truth: Truth, beta: np.ndarray, start: str
) -> xr.Dataset:
    """The panel.nc layout of a simulated history, the truth in its attributes."""
    n_countries, n_periods = effects.n_countries, history.clash.shape[1]
    periods = pd.date_range(start, periods=n_periods, freq="W-MON")
    per_country = effects.country_of.size // n_countries
    regions = [f"R{c:02d}_{i:02d}" for c in range(n_countries) for i in range(per_country)]
    countries = [f"C{c:02d}" for c in effects.country_of]
    clash = history.clash
    data = {f: (("region", "period"), history.out[f]) for f in history.features}
    data |= {k: (("region", "period"), v) for k, v in history.prox_vars.items()}
    data |= {
        "clash": (("region", "period"), clash),
        "clash_any": (("region", "period"), (clash > 0).astype(np.int8)),
        "events": (("region", "period"), history.events),
        "fatalities": (("region", "period"), clash * 2),
    }
    feature_names = sorted(set(history.features) | set(history.prox_vars))
    truth_record = asdict(truth) | {
        "beta": {f: float(b) for f, b in zip(history.features, beta, strict=True)},
        "country_effect": effects.country_eff.tolist() if n_countries > 1 else [],
        "region_effect": effects.region_eff.tolist(),
        "zero_regions": list(effects.zero_regions),
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
            **PanelFacts.defaults("W-MON", feature_names).to_attrs(),
            "window_start": str(periods[0].date()),
            "window_end": str((periods[-1] + pd.Timedelta(days=6)).date()),
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
        eq.INTERCEPT: (sd, intercept),
        eq.SIGMA_REGION: (sd, sigma_region),
        eq.REGION_OFFSET: ((*sd, "region"), region_offset),
        eq.BETA: ((*sd, "horizon", "feature"), rng.normal(0, 0.5, (chains, draws, n_h, n_f))),
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
        post[eq.SIGMA_COUNTRY] = (sd, sigma_country)
        post[eq.COUNTRY_OFFSET] = ((*sd, "country"), country_offset)
        c_eff = sigma_country[..., None] * country_offset
        region_eff = region_eff + c_eff[..., design.region_country_idx]
    post[eq.REGION_EFF] = ((*sd, "region"), region_eff)
    if sigma_block is not None:
        post[eq.SIGMA_BLOCK] = (sd, np.full((chains, draws), float(sigma_block)))
    const = xr.Dataset(
        {
            eq.X_MEAN: ("feature", design.x_mean),
            eq.X_SCALE: ("feature", design.x_scale),
            eq.REGION_COUNTRY_IDX: ("region", design.region_country_idx),
        },
        coords={"feature": list(design.features), "region": list(design.regions)},
    )
    if design.offset_name:
        const[eq.OFFSET] = (("obs_id", OFFSET_DIM), design.offset[:, None])
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
    out = {eq.INTERCEPT: float(truth.intercept)}
    for k, f in enumerate(design.features):
        beta = float(truth.beta.get(f, 0.0))
        centre, scale = _nominal(f)
        out[eq.INTERCEPT] += beta * (design.x_mean[k] - centre) / scale
        out[f] = beta * design.x_scale[k] / scale
    return out

"""The hierarchical clash model: a design from the panel, and one pure builder.

Direct multi-step forecasting (DESIGN §4). From an origin ``t`` the model forecasts the next
``H`` periods with the features known at ``t``; no covariate has to be forecast. Each training
row is a *block*: a region ``r``, an origin ``t`` and the outcomes ``y[s] = clash_any[r, t + s]``
of steps ``s = 1..H``. The blocks' origins are ``H`` periods apart, so that every observed
outcome enters the likelihood exactly once (the design that repeated an outcome in up to ``H``
rows counted it ``H`` times and made every interval too narrow):

    eta[b, s] = c · offset[b] + region_eff[r(b)] + X[b] · beta[s]            (+ country slopes)
    y[b, s]   ~ Bernoulli(invlogit(eta[b, s] + sigma_block · u[b])),    u[b] ~ Normal(0, 1)
    c = sqrt(1 + π sigma_block² / 8)
    region_eff[r] ~ Normal(intercept + sigma_country * country_offset[c(r)], sigma_region)
    beta[s, k] = beta_mu[k] + sigma_beta_horizon * beta_offset[s, k]

The first line, ``eta`` with the block effect at 0, is
:func:`model.inference.equation.linear_predictor`, the one the forecasts, the diagnostics and the
simulators compute. ``offset`` is a panel variable on the log-odds scale entered with coefficient 1
(by default the region's exponentially weighted clash log-odds, ``clash_share_hl*``): the forecast
starts from the region's recent rate, as a random walk would, and the rest of the model adjusts it.
``c`` keeps the offset's meaning once the block effect is integrated out: ``E[invlogit(c·x +
sigma·u)] ≈ invlogit(x)`` (the logistic-normal approximation), so a region whose offset says
20% is forecast at about 20% whatever the dependence. The block effect ``u`` is shared by the
``H`` steps of a block: given the features, the weeks after
an origin are not independent (a quiet month stays quiet, an offensive fills several weeks),
and P(at least one clash within H) follows from the joint model instead of assuming
independence. ``u`` is integrated out by Gauss–Hermite quadrature (:mod:`model.inference.blocks`),
so the likelihood has no per-block parameters. ``dependence=False`` drops it (steps independent
given the parameters). On a cell panel, ``dependence_group="governorate"`` shares one effect
between all the cells of a governorate at an origin and their ``H`` steps, ``u[g(b)]`` for the
group ``g = (governorate, origin)`` in place of ``u[b]`` (:mod:`model.inference.groups`): the
cells of a governorate move together, and the roll-up to governorates then integrates the shared
effect (:mod:`model.inference.rollup`). Each cell's own forecast keeps its form.

Intercepts are nested and partially pooled (a region without history borrows from its country
and the theatre); ``region_effects=False`` drops them, leaving the offset alone to carry each
region's level (with an offset that already pools a region's recent rate toward its long-run
rate and the theatre's, learned intercepts only add the training years' trend, see the README).
Coefficients are partially pooled across steps. The country offsets sum to
zero (the intercept is the mean country); with one country the country level is dropped.
How NUTS sees the region effects follows the data (``parameterisation="auto"``,
:func:`centred_regions`): a region whose rows pin its effect is sampled centred, the others
non-centred. When no region qualifies, all are non-centred with offsets that sum to zero
within each country. ``region_eff`` (per region, every parameterisation) is stored for the
forecasts. Country-varying slopes (``country_varying``) need two countries or more.

This module is pure: no I/O, no sampling, no plotting.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from model.config import ModelParams, PriorSpec
from model.inference import equation as eq
from model.inference.blocks import OFFSET_DIM, Distinct, block_origins, distinct_rows, quadrature
from model.inference.groups import (
    group_block_logp,
    group_block_random,
    group_codes,
    node_loglik,
    step_loglik,
    weighted_group_block_random,
)
from model.inference.standardise import standardise
from model.numerics import strict_float_math

Parameterisation = Literal["auto", "non_centred", "centred"]


@dataclass(frozen=True)
class Design:
    """Training blocks of the direct multi-step model, with everything needed to rebuild it.

    Attributes
    ----------
    X : ndarray (block, feature)
        Standardised features at the block's origin.
    offset : ndarray (block,)
        The offset variable at the origin (log-odds; zeros without an offset).
    y : ndarray (block, horizon)
        ``clash_any`` at origin + step (int8); every outcome appears once.
    region_idx, country_idx, origin_idx : ndarray (block,)
        Integer codes; ``origin_idx`` indexes ``periods``.
    regions, countries, features : tuple of str
        Labels; ``region_country_idx[r]`` is the country code of region ``r``.
    x_mean, x_scale : ndarray (feature,)
        Standardisation from the training blocks only (scale 1 for a constant feature).
    horizon : int
    periods : pandas.DatetimeIndex
        The panel's periods (labels of ``origin_idx``).
    cutoff : pandas.Timestamp
        The last period whose outcome is used.
    offset_name : str or None
        The panel variable used as offset.
    group_idx : ndarray (block,) or None
        With a block effect shared by a group of regions (``dependence_group``): each block's
        group ``(group label, origin)``, codes 0..G-1 (:func:`model.inference.groups.group_codes`).
    region_group_idx : ndarray (region,) or None
        Each region's code in ``groups``.
    groups : tuple of str
        The group labels (the governorates); empty without groups.
    """

    X: np.ndarray
    offset: np.ndarray
    y: np.ndarray
    region_idx: np.ndarray
    country_idx: np.ndarray
    origin_idx: np.ndarray
    regions: tuple[str, ...]
    countries: tuple[str, ...]
    region_country_idx: np.ndarray
    features: tuple[str, ...]
    x_mean: np.ndarray
    x_scale: np.ndarray
    horizon: int
    periods: pd.DatetimeIndex = field(repr=False)
    cutoff: pd.Timestamp
    offset_name: str | None = None
    group_idx: np.ndarray | None = field(default=None, repr=False)
    region_group_idx: np.ndarray | None = field(default=None, repr=False)
    groups: tuple[str, ...] = ()

    @property
    def n_blocks(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_groups(self) -> int:
        """Groups ``(group label, origin)`` sharing a block effect (0 without groups)."""
        return 0 if self.group_idx is None else int(self.group_idx.max()) + 1

    @property
    def n_obs(self) -> int:
        """Observed outcomes (blocks × steps)."""
        return int(self.y.size)

    @property
    def clash_rate(self) -> float:
        return float(self.y.mean()) if self.n_obs else float("nan")

    def coords(self) -> dict[str, Sequence]:
        """Model coordinates (``horizon`` is the step 1..H, ``obs_id`` the block)."""
        return {
            "region": list(self.regions),
            "country": list(self.countries),
            "feature": list(self.features),
            "horizon": list(range(1, self.horizon + 1)),
            "obs_id": np.arange(self.n_blocks),
        }


def _panel_values(panel: xr.Dataset, names: Sequence[str], r_i, t_i) -> np.ndarray:
    """Variables at (region, origin) pairs as (pairs, variable); non-finite values rejected."""
    if not names:
        return np.zeros((r_i.size, 0))
    raw = np.stack([panel[f].values.astype(np.float64)[r_i, t_i] for f in names], axis=-1)
    bad = ~np.isfinite(raw).all(axis=0)
    if bad.any():
        raise ValueError(
            f"NaN/inf in training rows: {[f for f, b in zip(names, bad, strict=True) if b]}"
        )
    return raw


def _cut_index(periods: pd.DatetimeIndex, cutoff: object | None) -> int:
    if cutoff is None:
        return len(periods) - 1
    ts = pd.Timestamp(cutoff)
    cut = int(periods.searchsorted(ts, side="right")) - 1
    if cut < 0:
        raise ValueError(f"cutoff {ts.date()} is before the first period {periods[0].date()}")
    return cut


def make_design(
    panel: xr.Dataset,
    features: Sequence[str],
    horizon: int,
    cutoff: object | None = None,
    burn_in: int = 0,
    offset: str | None = None,
    dependence_group: str = "region",
) -> Design:
    """Training blocks ``(region, origin t, steps 1..H)`` from a panel (``docs/interfaces.md``).

    Parameters
    ----------
    panel : xarray.Dataset
        Dims ``(region, period)``, coords ``country(region)``, the features and ``clash_any``.
    features : sequence of str
        Feature variables (may be empty: an intercepts-only design).
    horizon : int
        Steps H per block.
    cutoff : date-like, optional
        Last period whose outcome may be used (``t + s ≤ cutoff``); default the last period.
    burn_in : int
        Periods skipped before the first origin so that decayed lags have warmed up.
    offset : str, optional
        A panel variable on the log-odds scale entered with coefficient 1.
    dependence_group : str
        ``"region"``: no groups. Otherwise the name of a panel coordinate over ``region``
        (``"governorate"`` on a cell panel) whose labels group the regions: the design then
        carries each block's group ``(label, origin)``.

    Raises
    ------
    ValueError
        On a missing or non-finite variable, a cutoff outside the panel, no training block, or
        a ``dependence_group`` the panel has no coordinate for.
    """
    features = tuple(features)
    _check_design_inputs(panel, features, horizon, offset, dependence_group)
    panel = panel.transpose("region", "period", ...)
    periods = pd.DatetimeIndex(panel["period"].values)
    cut = _cut_index(periods, cutoff)
    regions = tuple(str(r) for r in panel["region"].values)
    country_of = [str(c) for c in panel["country"].values]
    countries = tuple(sorted(set(country_of)))
    region_country_idx = np.array([countries.index(c) for c in country_of], dtype=np.int64)

    origins = block_origins(cut, burn_in, horizon)
    if origins.size == 0:
        raise ValueError(
            f"no training block: burn_in={burn_in}, cutoff index {cut}, horizon {horizon}"
        )
    t_i = np.repeat(origins, len(regions))  # origin-major, then region
    r_i = np.tile(np.arange(len(regions)), origins.size)
    steps = np.arange(1, horizon + 1)
    y = panel["clash_any"].values[r_i[:, None], t_i[:, None] + steps].astype(np.int8)
    X, x_mean, x_scale = standardise(_panel_values(panel, features, r_i, t_i))
    off = _panel_values(panel, [offset], r_i, t_i)[:, 0] if offset else np.zeros(r_i.size)
    return Design(
        X=X,
        x_mean=x_mean,
        x_scale=x_scale,
        offset=off,
        y=y,
        region_idx=r_i.astype(np.int64),
        country_idx=region_country_idx[r_i],
        origin_idx=t_i.astype(np.int64),
        regions=regions,
        countries=countries,
        region_country_idx=region_country_idx,
        features=features,
        horizon=int(horizon),
        periods=periods,
        cutoff=periods[cut],
        offset_name=offset,
        **_grouping(panel, dependence_group, r_i, t_i),
    )


def _check_design_inputs(
    panel: xr.Dataset,
    features: tuple[str, ...],
    horizon: int,
    offset: str | None,
    dependence_group: str,
) -> None:
    """:func:`make_design`'s ``ValueError`` for a missing variable, a horizon below 1 or a
    ``dependence_group`` the panel has no coordinate for."""
    needed = (*features, "clash_any", *([offset] if offset else []))
    missing = [f for f in needed if f not in panel.data_vars]
    if missing:
        raise ValueError(f"panel has no variable(s) {missing}")
    if horizon < 1:
        raise ValueError(f"horizon must be ≥ 1, got {horizon}")
    if dependence_group != "region" and dependence_group not in panel.coords:
        raise ValueError(
            f"dependence_group {dependence_group!r}: the panel has no {dependence_group!r} "
            "coordinate (a cell panel, ingest.regions.unit: grid, has the cells' governorate)"
        )


def _grouping(
    panel: xr.Dataset, dependence_group: str, r_i: np.ndarray, t_i: np.ndarray
) -> dict[str, object]:
    """The design's groups (``group_idx``, ``region_group_idx``, ``groups``) when blocks share
    their effect within ``dependence_group``; none for ``region``."""
    if dependence_group == "region":
        return {}
    group_idx, region_group_idx, labels = group_codes(
        [str(g) for g in panel[dependence_group].values], r_i, t_i
    )
    return {"group_idx": group_idx, "region_group_idx": region_group_idx, "groups": labels}


def _prior(name: str, spec: PriorSpec, **kwargs: object) -> pt.TensorVariable:
    return getattr(pm, spec.dist)(name, **spec.kwargs(), **kwargs)


def _need(priors: Mapping[str, PriorSpec], *names: str) -> None:
    missing = [n for n in names if n not in priors]
    if missing:
        raise ValueError(f"priors missing for {missing} (params.yaml model.priors)")


def zero_sum_within(group_idx: np.ndarray, n_group: int) -> np.ndarray:
    """The matrix ``C`` that centres a vector within each group: ``(C @ z)_i = z_i − mean_g(z)``.

    Applied to i.i.d. N(0, 1) ``z`` it gives, per group, exactly ``ZeroSumNormal(sigma=1)``
    (zero sum, marginal variance ``(n_g − 1) / n_g``), the distribution of i.i.d. effects seen
    as deviations from their group's mean. The group means of ``z`` are left to their N(0, 1)
    prior (the likelihood never sees them): directions NUTS samples at unit scale. A group of
    one member gets offset 0.
    """
    group_idx = np.asarray(group_idx, dtype=np.int64)
    size = np.bincount(group_idx, minlength=n_group)[group_idx].astype(float)
    same = (group_idx[:, None] == group_idx[None, :]).astype(float)
    return np.eye(group_idx.size) - same / size[:, None]


def centred_regions(design: Design, sigma_prior: PriorSpec) -> np.ndarray:
    """Which regions ``auto`` samples centred: those whose own rows pin their effect.

    A region's outcomes inform its effect with a standard error of about
    ``1 / sqrt(n p (1 − p))``, ``n`` its outcomes and ``p = (clashes + ½) / (n + 1)``. Where that
    is below the prior median of ``sigma_region``, the likelihood dominates the prior and the
    centred form is the better geometry: a non-centred offset is then ``(effect − mean) /
    sigma_region``, which bends with ``sigma_region`` more sharply the more rows pin the effect,
    and NUTS trees grow with the rows (simulated panel of 36 regions × 520 weeks: mean tree 30
    non-centred, 15 centred). Where the data are thin (a region with no clash) the prior
    dominates and non-centred is the better one. The choice changes how NUTS moves, not the
    model.

    Returns
    -------
    ndarray of bool (region,)
    """
    n_reg = len(design.regions)
    rows = np.bincount(design.region_idx, minlength=n_reg).astype(float) * design.horizon
    clashes = np.bincount(design.region_idx, weights=design.y.sum(axis=1), minlength=n_reg)
    rate = (clashes + 0.5) / (rows + 1.0)
    information = rows * rate * (1.0 - rate)
    return information * _prior_median(sigma_prior) ** 2 > 1.0


@functools.lru_cache(maxsize=16)
def _prior_median(spec: PriorSpec) -> float:
    """Median of a prior, from seeded draws (any distribution; compiled once per spec)."""
    prior = getattr(pm, spec.dist).dist(**spec.kwargs())
    with strict_float_math():
        return float(np.median(pm.draw(prior, draws=4001, random_seed=0)))


def block_logp(
    value: pt.TensorVariable,
    eta: pt.TensorVariable,
    sigma_block: pt.TensorVariable,
    count: pt.TensorVariable | None = None,
    *,
    steps_alike: bool = False,
) -> pt.TensorVariable:
    """Log-likelihood of each block's outcomes, the block effect integrated out by quadrature.

    ``log Σ_q w_q Π_s Bernoulli(y_s | invlogit(eta_s + sigma_block · x_q))`` per block: value
    and eta are ``(block, step)``; returns ``(block,)``, times ``count`` (block,) when given
    (a row standing for that many identical blocks). ``steps_alike``: ``eta`` is the same at
    every step (:func:`model.inference.groups.node_loglik`).
    """
    _, weights = quadrature()
    ll = node_loglik(value, eta, sigma_block, steps_alike)
    ll = pm.math.logsumexp(ll + np.log(weights), axis=-1)
    return ll if count is None else count * ll


def block_random(
    eta: np.ndarray, sigma_block: np.ndarray, rng: np.random.Generator | None = None, size=None
) -> np.ndarray:
    """Draw blocks of outcomes: one normal block effect shared by the steps of each block.

    ``eta`` is ``(..., step)``; ``size`` (PyMC's) is the batch shape, without the step.
    """
    rng = np.random.default_rng() if rng is None else rng
    eta = np.asarray(eta, dtype=float)
    batch = eta.shape[:-1] if size is None else tuple(np.atleast_1d(size).tolist())
    eta = np.broadcast_to(eta, (*batch, eta.shape[-1]))
    sigma = np.broadcast_to(np.asarray(sigma_block, dtype=float), batch)
    shift = (sigma * rng.normal(size=batch))[..., None]
    p = 1.0 / (1.0 + np.exp(-(eta + shift)))
    return (rng.random(eta.shape) < p).astype(np.int8)


def weighted_random(eta, sigma_block, count, rng=None, size=None):
    """:func:`block_random` for :func:`block_logp` with counts (one block per row)."""
    return block_random(eta, sigma_block, rng=rng, size=size)


def weighted_bernoulli_logp(value, eta, count):
    """Independent steps: ``count · Σ_s log Bernoulli(y_s | invlogit(eta_s))`` per block."""
    return count * step_loglik(value, eta).sum(axis=-1)


def weighted_bernoulli_random(eta, count, rng=None, size=None):
    """Independent Bernoulli steps for :func:`weighted_bernoulli_logp`."""
    return block_random(eta, 0.0, rng=rng, size=size)


def _base_effects(design: Design, priors: Mapping[str, PriorSpec], centred: bool):
    """Intercept plus country effects, per region."""
    intercept = _prior(eq.INTERCEPT, priors["intercept"])
    if len(design.countries) < 2:
        return intercept * pt.ones(len(design.regions))
    sigma_country = _prior(eq.SIGMA_COUNTRY, priors["sigma_country"])
    if centred:
        country_eff = pm.Normal(eq.COUNTRY_EFF, 0.0, sigma_country, dims="country")
    else:
        country_offset = pm.ZeroSumNormal(eq.COUNTRY_OFFSET, sigma=1.0, dims="country")
        country_eff = sigma_country * country_offset
    return intercept + country_eff[design.region_country_idx]


def _region_effects(
    pm_model: pm.Model, design: Design, base, sigma_region, centre: np.ndarray
) -> pt.TensorVariable:
    """``region_eff``: centred where ``centre`` says, non-centred elsewhere (module docstring)."""
    if centre.all():
        return pm.Normal(eq.REGION_EFF, base, sigma_region, dims="region")
    if not centre.any():
        if len(design.countries) > 1:
            offset = pm.Normal(eq.REGION_OFFSET, 0.0, 1.0, dims="region")
            centring = zero_sum_within(design.region_country_idx, len(design.countries))
            offset_zs = pt.dot(pt.constant(centring), offset)
        else:
            offset_zs = pm.ZeroSumNormal(eq.REGION_OFFSET, sigma=1.0, dims="region")
        return pm.Deterministic(eq.REGION_EFF, base + sigma_region * offset_zs, dims="region")
    c_pos, n_pos = np.flatnonzero(centre), np.flatnonzero(~centre)
    pm_model.add_coord("region_centred", [design.regions[i] for i in c_pos])
    pm_model.add_coord("region_noncentred", [design.regions[i] for i in n_pos])
    eff_c = pm.Normal(eq.REGION_EFF_CENTRED, base[c_pos], sigma_region, dims="region_centred")
    offset = pm.Normal(eq.REGION_OFFSET, 0.0, 1.0, dims="region_noncentred")
    eff_n = base[n_pos] + sigma_region * offset
    back = np.argsort(np.concatenate([c_pos, n_pos]))
    return pm.Deterministic(eq.REGION_EFF, pt.concatenate([eff_c, eff_n])[back], dims="region")


def _feature_effects(
    design: Design,
    priors: Mapping[str, PriorSpec],
    centred: bool,
    cv: Sequence[str],
    horizon_varying: bool = True,
) -> dict[str, object]:
    """The features' terms of :func:`model.inference.equation.linear_predictor`: ``x``, ``beta``
    and, with country-varying slopes, each block's ``beta_country`` and the slopes' ``cv_pos``.
    Without ``horizon_varying`` every step shares ``beta_mu`` (no ``sigma_beta_horizon``: on a
    cell panel's thousands of blocks the steps' slopes agree and their scale's funnel slows
    NUTS tenfold)."""
    X = pm.Data(eq.X, design.X, dims=("obs_id", "feature"))
    beta_mu = _prior(eq.BETA_MU, priors["beta"], dims="feature")
    if not horizon_varying:
        beta = pm.Deterministic(
            eq.BETA, pt.ones((design.horizon, 1)) * beta_mu[None, :], dims=("horizon", "feature")
        )
    else:
        beta = _horizon_slopes(priors, beta_mu, centred)
    if not cv:
        return {"x": X, "beta": beta}
    sigma_bc = _prior(eq.SIGMA_BETA_COUNTRY, priors["sigma_beta_country"])
    bc_offset = pm.Normal(eq.BETA_COUNTRY_OFFSET, 0.0, 1.0, dims=("country", eq.FEATURE_CV))
    beta_country = pm.Deterministic(
        eq.BETA_COUNTRY, sigma_bc * bc_offset, dims=("country", eq.FEATURE_CV)
    )
    country_idx = pm.Data(eq.COUNTRY_IDX, design.country_idx, dims="obs_id")
    return {
        "x": X,
        "beta": beta,
        "beta_country": beta_country[country_idx],
        "cv_pos": [design.features.index(f) for f in cv],
    }


def _horizon_slopes(priors: Mapping[str, PriorSpec], beta_mu, centred: bool):
    """``beta[s, k] = beta_mu[k] + sigma_beta_horizon · beta_offset[s, k]`` (or centred)."""
    sigma_bh = _prior(eq.SIGMA_BETA_HORIZON, priors["sigma_beta_horizon"])
    if centred:
        beta = pm.Normal(eq.BETA, beta_mu, sigma_bh, dims=("horizon", "feature"))
    else:
        beta_offset = pm.Normal(eq.BETA_OFFSET, 0.0, 1.0, dims=("horizon", "feature"))
        beta = pm.Deterministic(
            eq.BETA, beta_mu + sigma_bh * beta_offset, dims=("horizon", "feature")
        )
    return beta


def _check_inputs(
    design: Design,
    priors: Mapping[str, PriorSpec],
    country_varying: Sequence[str],
    dependence: bool,
    region_effects: bool,
    dependence_group: str = "region",
) -> list[str]:
    """The country-varying features in use; raises on missing priors or unknown features, or
    a shared group effect without dependence or without the design's groups."""
    if dependence_group != "region":
        if not dependence:
            raise ValueError(f"dependence_group {dependence_group!r} needs dependence=True")
        if design.group_idx is None:
            raise ValueError(
                f"dependence_group {dependence_group!r}: the design has no groups "
                f"(make_design(..., dependence_group={dependence_group!r}))"
            )
    has_country = len(design.countries) > 1
    if region_effects:
        _need(priors, "intercept", "sigma_region")
    elif not design.offset_name:
        raise ValueError("a model without region effects needs an offset")
    if design.features:
        _need(priors, "beta", "sigma_beta_horizon")
    if has_country and region_effects:
        _need(priors, "sigma_country")
    if dependence:
        _need(priors, "sigma_block")
    unknown = sorted(set(country_varying) - set(design.features))
    if unknown:
        raise ValueError(f"country_varying names features not in the design: {unknown}")
    cv = [f for f in country_varying if f in design.features] if has_country else []
    if cv:
        _need(priors, "sigma_beta_country")
    return cv


def build_clash_model(
    design: Design,
    priors: Mapping[str, PriorSpec],
    country_varying: Sequence[str] = (),
    parameterisation: Parameterisation = "auto",
    dependence: bool = True,
    region_effects: bool = True,
    horizon_varying: bool = True,
    dependence_group: Literal["region", "governorate"] = "region",
    aggregate: bool = True,
) -> pm.Model:
    """Build the hierarchical Bernoulli-logit model of ``design`` (pure).

    Parameters
    ----------
    design : Design
        From :func:`make_design`.
    priors : mapping of str to PriorSpec
        Keys ``intercept``, ``sigma_region``, ``beta`` (prior of ``beta_mu``),
        ``sigma_beta_horizon``; ``sigma_country`` with two countries or more;
        ``sigma_beta_country`` with country-varying slopes; ``sigma_block`` with dependence.
    country_varying : sequence of str
        Features whose coefficient also varies by country (needs two countries or more).
    parameterisation : {"auto", "non_centred", "centred"}
        How region effects are sampled (the model is the same). ``auto`` (the default) samples
        centred the regions whose data pin their effect and non-centred the rest
        (:func:`centred_regions`); ``non_centred`` samples every region non-centred, with
        offsets that sum to zero; ``centred`` is the straightforward version, country level
        included, kept for the sampler benchmark.
    dependence : bool
        Share a block effect between the steps of a block (``sigma_block``).
    region_effects : bool
        Intercept, country and region effects (needs an offset when False).
    horizon_varying : bool
        Slopes that differ by step (partially pooled); False: one slope for every step.
    dependence_group : {"region", "governorate"}
        Who shares a block effect: each block alone, or every block of a group ``(governorate,
        origin)`` (needs ``dependence`` and a design with groups; :mod:`model.inference.groups`).
    aggregate : bool
        Enter the blocks whose inputs and outcomes are identical once, with their count
        (:func:`distinct_blocks`; nothing changes when no block repeats).

    Returns
    -------
    pymc.Model
        Named variables and constant data as in ``docs/interfaces.md``; the observed
        ``clash_any`` has dims ``(obs_id, horizon)``, one log-likelihood term per block (with
        groups, each block holds an equal share of its group's term; ``group_idx`` and
        ``region_group_idx`` record the groups), or ``(obs_distinct, horizon)`` with repeated
        blocks merged, each row's term times its count (``block_rep``, ``block_count`` and
        ``block_of`` map the rows back to the blocks; every other constant keeps one row per
        block). ``x_mean``, ``x_scale``, ``region_country_idx``, ``region_idx`` and the named
        ``offset`` let forecasts reuse the design (:mod:`model.inference.forecast`).
    """
    cv = _check_inputs(
        design, priors, country_varying, dependence, region_effects, dependence_group
    )
    centred, grouped = parameterisation == "centred", dependence_group != "region"
    centre = _centre(design, priors, parameterisation, region_effects)
    distinct = distinct_blocks(design, region_effects, bool(cv), grouped) if aggregate else None

    with pm.Model(coords=_coords(design, cv, distinct)) as pm_model:
        region_idx = _design_data(design)
        sigma_block = _prior(eq.SIGMA_BLOCK, priors["sigma_block"]) if dependence else 0.0
        level = pt.zeros(design.n_blocks)
        if region_effects:
            sigma_region = _prior(eq.SIGMA_REGION, priors["sigma_region"])
            base = _base_effects(design, priors, centred)
            level = _region_effects(pm_model, design, base, sigma_region, centre)[region_idx]
        offset = _offset_data(design)
        slopes = {}
        if design.features:
            slopes = _feature_effects(design, priors, centred, cv, horizon_varying)
        rows = _distinct_data(distinct)
        level, offset, slopes = _on_rows(rows, level, offset, slopes)
        eta = eq.linear_predictor(eq.pytensor_ops(), design.horizon, level, offset, sigma_block,
                                  **slopes)  # fmt: skip
        alike = not design.features or not horizon_varying  # one eta for every step of a block
        _likelihood(design, eta, sigma_block, dependence, grouped, rows, alike)
    return pm_model


def _offset_data(design: Design) -> pt.TensorVariable | None:
    """The offset per block as constant data (its one ``offset_feature`` label names it)."""
    if not design.offset_name:
        return None
    return pm.Data(eq.OFFSET, design.offset[:, None], dims=("obs_id", OFFSET_DIM))[:, 0]


def _design_data(design: Design) -> pt.TensorVariable:
    """The design's constant data the forecasts reuse; returns ``region_idx``."""
    pm.Data(eq.X_MEAN, design.x_mean, dims="feature")
    pm.Data(eq.X_SCALE, design.x_scale, dims="feature")
    pm.Data(eq.REGION_COUNTRY_IDX, design.region_country_idx, dims="region")
    return pm.Data(eq.REGION_IDX, design.region_idx, dims="obs_id")


def _coords(design: Design, cv: Sequence[str], distinct: Distinct | None) -> dict[str, Any]:
    """The model's coordinates: the design's, the country-varying features, the offset's, the
    distinct blocks'."""
    coords = design.coords()
    if cv:
        coords[eq.FEATURE_CV] = cv
    if design.offset_name:
        coords[OFFSET_DIM] = [design.offset_name]
    if distinct is not None:
        coords[eq.OBS_DISTINCT] = np.arange(distinct.n_distinct)
    return coords


def distinct_blocks(
    design: Design, region_effects: bool = True, country_slopes: bool = False, grouped: bool = False
) -> Distinct | None:
    """The design's blocks that the likelihood cannot tell apart, merged; None when none repeats.

    Two blocks merge when their outcomes, offset and features agree and, as far as the model
    tells blocks apart, their region (with region effects), country (with country-varying
    slopes) and group (with a shared group effect). The log-density of the merged design, each
    distinct block's term times its count, equals the original's.
    """
    columns = [design.y, design.offset, design.X]
    if region_effects:
        columns.append(design.region_idx)
    if country_slopes:
        columns.append(design.country_idx)
    if grouped:
        columns.append(design.group_idx)
    distinct = distinct_rows(*columns)
    return None if distinct.n_distinct == distinct.n_blocks else distinct


@dataclass(frozen=True)
class _Rows:
    """The distinct blocks inside the model: their design as constant data."""

    distinct: Distinct
    rep: Any
    count: Any


def _distinct_data(distinct: Distinct | None) -> _Rows | None:
    """Constant data ``block_rep``, ``block_count`` and ``block_of`` (None: no merged block)."""
    if distinct is None:
        return None
    rep = pm.Data(eq.BLOCK_REP, distinct.rep, dims=eq.OBS_DISTINCT)
    count = pm.Data(eq.BLOCK_COUNT, distinct.count.astype(np.float64), dims=eq.OBS_DISTINCT)
    pm.Data(eq.BLOCK_OF, distinct.of, dims="obs_id")
    return _Rows(distinct, rep, count)


#: The terms of :func:`model.inference.equation.linear_predictor`'s slopes with one row per block.
_ROW_SLOPES = ("x", "beta_country")


def _on_rows(
    rows: _Rows | None, level: Any, offset: Any, slopes: dict[str, Any]
) -> tuple[Any, Any, dict[str, Any]]:
    """The linear predictor's per-block terms at the distinct blocks' rows (as they are
    without merged blocks)."""
    if rows is None:
        return level, offset, slopes
    take = rows.rep
    slopes = {k: v[take] if k in _ROW_SLOPES else v for k, v in slopes.items()}
    return level[take], None if offset is None else offset[take], slopes


def _centre(
    design: Design, priors: Mapping[str, PriorSpec], parameterisation: str, region_effects: bool
) -> np.ndarray:
    """Which regions' effects are sampled centred (:func:`centred_regions` under ``auto``)."""
    if parameterisation == "auto" and region_effects:
        return centred_regions(design, priors["sigma_region"])
    return np.full(len(design.regions), parameterisation == "centred")


def _likelihood(
    design: Design,
    eta,
    sigma_block,
    dependence: bool,
    grouped: bool,
    rows: _Rows | None = None,
    steps_alike: bool = False,
) -> None:
    """The observed blocks: with a block effect shared by each block's steps or, ``grouped``,
    by each group's blocks (constant data ``group_idx`` and ``region_group_idx``), or a
    Bernoulli per step; with ``rows``, the distinct blocks weighted by their counts.
    ``steps_alike``: ``eta`` is the same at every step of a block (no step-varying slope), so
    the quadrature runs once per block (:func:`model.inference.groups.node_loglik`)."""
    group_idx = None
    if grouped:
        group_idx = pm.Data(eq.GROUP_IDX, design.group_idx, dims="obs_id")
        pm.Data(eq.REGION_GROUP_IDX, design.region_group_idx, dims="region")
    if not (grouped or dependence):
        if rows is None:
            pm.Bernoulli(eq.OBSERVED, logit_p=eta, observed=design.y, dims=("obs_id", "horizon"))
            return
        inputs, logp, random = (eta, rows.count), weighted_bernoulli_logp, weighted_bernoulli_random
    elif grouped:
        inputs = (eta, sigma_block, group_idx) if rows is None else (
            eta, sigma_block, group_idx[rows.rep], rows.count)  # fmt: skip
        logp = functools.partial(group_block_logp, steps_alike=steps_alike)
        random = group_block_random if rows is None else weighted_group_block_random
    else:
        inputs = (eta, sigma_block) if rows is None else (eta, sigma_block, rows.count)
        logp = functools.partial(block_logp, steps_alike=steps_alike)
        random = block_random if rows is None else weighted_random
    pm.CustomDist(
        eq.OBSERVED,
        *inputs,
        logp=logp,
        random=random,
        signature=f"(h){',()' * (len(inputs) - 1)}->(h)",
        observed=design.y if rows is None else design.y[rows.distinct.rep],
        dims=("obs_id" if rows is None else eq.OBS_DISTINCT, "horizon"),
    )


def design_from_params(panel: xr.Dataset, mp: ModelParams, cutoff: object | None = None) -> Design:
    """:func:`make_design` with the ``model`` section of params (features, horizon, burn-in,
    offset, dependence group), on outcomes up to ``cutoff``."""
    return make_design(
        panel,
        mp.features,
        mp.horizon,
        cutoff=cutoff,
        burn_in=mp.burn_in,
        offset=mp.offset,
        dependence_group=mp.dependence_group,
    )


def model_from_params(design: Design, mp: ModelParams) -> pm.Model:
    """:func:`build_clash_model` of ``design`` with the priors and structure of ``model``
    params; country-varying slopes of features the design lacks are left out."""
    return build_clash_model(
        design,
        mp.priors,
        country_varying=[f for f in mp.country_varying if f in design.features],
        parameterisation=mp.parameterisation,
        dependence=mp.dependence,
        region_effects=mp.region_effects,
        horizon_varying=mp.horizon_varying,
        dependence_group=mp.dependence_group,
        aggregate=mp.aggregate_blocks,
    )


def stored_var_names(pm_model: pm.Model) -> list[str]:
    """Names of the free and deterministic variables stored with the posterior."""
    return [v.name for v in (*pm_model.free_RVs, *pm_model.deterministics)]

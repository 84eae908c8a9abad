"""The hierarchical clash model: a design from the panel, and one pure builder.

Direct multi-step forecasting (DESIGN §4). Each training row is a (region r, origin t, step s)
with outcome ``y = clash_any[r, t + s]`` and the standardised features at the origin ``X[r, t]``:

    logit p = region_eff[r] + X · beta[s]                                  (+ country slopes)
    region_eff[r] ~ Normal(intercept + sigma_country * country_offset[c(r)], sigma_region)
    beta[s, k] = beta_mu[k] + sigma_beta_horizon * beta_offset[s, k]

Intercepts are nested and partially pooled (a region without history borrows from its country
and the theatre); coefficients are partially pooled across steps, so no covariate has to be
forecast. The country offsets sum to zero (the intercept is the mean country); with one country
the country level is dropped (no ``sigma_country`` or ``country_offset``).

How NUTS sees the region effects follows the data (``parameterisation="auto"``,
:func:`centred_regions`): a region whose rows pin its effect is sampled centred
(``region_eff_centred``), the others non-centred (``region_eff = mean + sigma_region *
region_offset``). When no region qualifies, all are non-centred with offsets that sum to zero
within each country (``C @ region_offset``), so that no level has a direction the data cannot
tell from the level above (the intercept/offset ridge that otherwise collapses the effective
sample size); the intercept is then the mean region, a country's effect the mean of its
regions' and ``sigma_country`` the spread of those means. ``region_eff`` (per region, every
parameterisation) is stored for the forecasts. Country-varying slopes (``country_varying``)
need two countries or more and are ignored with one.

This module is pure: no I/O, no sampling, no plotting.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from model.config import PriorSpec
from model.numerics import strict_float_math

Parameterisation = Literal["auto", "non_centred", "centred"]

#: Variables kept out of stored traces: one value per training row and draw (hundreds of MB).
ROW_VARS = ("p",)


@dataclass(frozen=True)
class Design:
    """Training rows of the direct multi-step model, with everything needed to rebuild it.

    Attributes
    ----------
    X : ndarray (obs, feature)
        Standardised features at the origin.
    y : ndarray (obs,)
        ``clash_any`` at origin + step (int8).
    region_idx, country_idx, step_idx : ndarray (obs,)
        Integer codes; ``step_idx`` is step − 1.
    origin_idx : ndarray (obs,)
        Index of the origin period in ``periods``.
    regions, countries, features : tuple of str
        Labels; ``region_country_idx[r]`` is the country code of region ``r``.
    x_mean, x_scale : ndarray (feature,)
        Standardisation from the training rows only (scale 1 for a constant feature).
    horizon : int
    periods : pandas.DatetimeIndex
        The panel's periods (labels of ``origin_idx``).
    cutoff : pandas.Timestamp
        The last period whose outcome is used.
    """

    X: np.ndarray
    y: np.ndarray
    region_idx: np.ndarray
    country_idx: np.ndarray
    step_idx: np.ndarray
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

    @property
    def n_obs(self) -> int:
        return int(self.y.shape[0])

    @property
    def clash_rate(self) -> float:
        return float(self.y.mean()) if self.n_obs else float("nan")

    def coords(self) -> dict[str, Sequence]:
        """Model coordinates (``horizon`` is the step 1..H)."""
        return {
            "region": list(self.regions),
            "country": list(self.countries),
            "feature": list(self.features),
            "horizon": list(range(1, self.horizon + 1)),
            "obs_id": np.arange(self.n_obs),
        }


def make_design(
    panel: xr.Dataset,
    features: Sequence[str],
    horizon: int,
    cutoff: object | None = None,
    burn_in: int = 0,
) -> Design:
    """Training rows ``(region, origin t, step s)`` from a panel (``docs/interfaces.md``).

    Parameters
    ----------
    panel : xarray.Dataset
        Dims ``(region, period)``, coords ``country(region)``, the features and ``clash_any``.
    features : sequence of str
        Feature variables (may be empty: an intercepts-only design).
    horizon : int
        Steps H; rows for s = 1..H.
    cutoff : date-like, optional
        Last period whose outcome may be used (``t + s ≤ cutoff``); default the last period.
    burn_in : int
        Periods skipped before the first origin so that decayed lags have warmed up.

    Returns
    -------
    Design

    Raises
    ------
    ValueError
        On a missing or non-finite feature, a cutoff outside the panel, or no training rows.
    """
    features = tuple(features)
    missing = [f for f in (*features, "clash_any") if f not in panel.data_vars]
    if missing:
        raise ValueError(f"panel has no variable(s) {missing}")
    if horizon < 1:
        raise ValueError(f"horizon must be ≥ 1, got {horizon}")
    panel = panel.transpose("region", "period", ...)
    periods = pd.DatetimeIndex(panel["period"].values)
    if cutoff is None:
        cut = len(periods) - 1
    else:
        ts = pd.Timestamp(cutoff)
        cut = int(periods.searchsorted(ts, side="right")) - 1
        if cut < 0:
            raise ValueError(f"cutoff {ts.date()} is before the first period {periods[0].date()}")
    regions = tuple(str(r) for r in panel["region"].values)
    country_of = [str(c) for c in panel["country"].values]
    countries = tuple(sorted(set(country_of)))
    region_country_idx = np.array([countries.index(c) for c in country_of], dtype=np.int64)

    n_reg = len(regions)
    origins = np.arange(burn_in, cut)  # t + 1 ≤ cut
    if origins.size == 0:
        raise ValueError(f"no training origins: burn_in={burn_in}, cutoff index {cut}")
    r_grid, t_grid, s_grid = np.meshgrid(
        np.arange(n_reg), origins, np.arange(1, horizon + 1), indexing="ij"
    )
    keep = (t_grid + s_grid) <= cut
    r_i, t_i, s_i = r_grid[keep], t_grid[keep], s_grid[keep]
    order = np.lexsort((s_i, r_i, t_i))  # origin, then region, then step
    r_i, t_i, s_i = r_i[order], t_i[order], s_i[order]

    y_all = panel["clash_any"].values
    y = y_all[r_i, t_i + s_i].astype(np.int8)
    if features:
        raw = np.stack([panel[f].values.astype(np.float64) for f in features], axis=-1)
        X_raw = raw[r_i, t_i]
        bad = ~np.isfinite(X_raw).all(axis=0)
        if bad.any():
            names = [f for f, b in zip(features, bad, strict=True) if b]
            raise ValueError(f"features with NaN/inf in training rows: {names}")
        x_mean = X_raw.mean(axis=0)
        x_scale = X_raw.std(axis=0)
        x_scale = np.where(x_scale > 1e-12, x_scale, 1.0)
        X = (X_raw - x_mean) / x_scale
    else:
        x_mean = np.zeros(0)
        x_scale = np.ones(0)
        X = np.zeros((r_i.size, 0))
    return Design(
        X=X,
        y=y,
        region_idx=r_i.astype(np.int64),
        country_idx=region_country_idx[r_i],
        step_idx=(s_i - 1).astype(np.int64),
        origin_idx=t_i.astype(np.int64),
        regions=regions,
        countries=countries,
        region_country_idx=region_country_idx,
        features=features,
        x_mean=x_mean,
        x_scale=x_scale,
        horizon=int(horizon),
        periods=periods,
        cutoff=periods[cut],
    )


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

    A region's rows inform its effect with a standard error of about ``1 / sqrt(n p (1 − p))``,
    ``n`` its rows and ``p = (clash rows + ½) / (n + 1)``. Where that is below the prior median
    of ``sigma_region``, the likelihood dominates the prior and the centred form is the better
    geometry: a non-centred offset is then ``(effect − mean) / sigma_region``, which bends with
    ``sigma_region`` more sharply the more rows pin the effect, and NUTS trees grow with the
    rows (simulated panel of 36 regions × 520 weeks: mean tree 30 non-centred, 15 centred).
    Where the data are thin (a region with no clash) the prior dominates and non-centred is
    the better one. The choice changes how NUTS moves, not the model.

    Returns
    -------
    ndarray of bool (region,)
    """
    n_reg = len(design.regions)
    rows = np.bincount(design.region_idx, minlength=n_reg).astype(float)
    clashes = np.bincount(design.region_idx, weights=design.y, minlength=n_reg)
    rate = (clashes + 0.5) / (rows + 1.0)
    information = rows * rate * (1.0 - rate)
    return information * _prior_median(sigma_prior) ** 2 > 1.0


@functools.lru_cache(maxsize=16)
def _prior_median(spec: PriorSpec) -> float:
    """Median of a prior, from seeded draws (any distribution; compiled once per spec)."""
    prior = getattr(pm, spec.dist).dist(**spec.kwargs())
    with strict_float_math():
        return float(np.median(pm.draw(prior, draws=4001, random_seed=0)))


def build_clash_model(
    design: Design,
    priors: Mapping[str, PriorSpec],
    country_varying: Sequence[str] = (),
    parameterisation: Parameterisation = "auto",
) -> pm.Model:
    """Build the hierarchical Bernoulli-logit model of ``design`` (pure).

    Parameters
    ----------
    design : Design
        From :func:`make_design`.
    priors : mapping of str to PriorSpec
        Keys ``intercept``, ``sigma_region``, ``beta`` (prior of ``beta_mu``),
        ``sigma_beta_horizon``; ``sigma_country`` with two countries or more;
        ``sigma_beta_country`` with country-varying slopes.
    country_varying : sequence of str
        Features whose coefficient also varies by country (needs two countries or more).
    parameterisation : {"auto", "non_centred", "centred"}
        How region effects are sampled (the model is the same). ``auto`` (the default) samples
        centred the regions whose data pin their effect and non-centred the rest
        (:func:`centred_regions`); ``non_centred`` samples every region non-centred, with
        offsets that sum to zero (what ``auto`` also does when no region qualifies);
        ``centred`` is the straightforward version, country level included, kept for the
        sampler benchmark.

    Returns
    -------
    pymc.Model
        Named variables as in ``docs/interfaces.md``; constant data ``x_mean``, ``x_scale``
        (feature) and ``region_country_idx`` (region) let forecasts reuse the design. ``X`` is
        recorded as data for the posterior predictive check, but the graph multiplies each
        distinct (region, origin) row once, so predictions go through :mod:`model.forecast`
        (or a rebuilt model), not ``pm.set_data``.
    """
    n_country = len(design.countries)
    has_country = n_country > 1
    n_feat = len(design.features)
    _need(priors, "intercept", "sigma_region")
    if n_feat:
        _need(priors, "beta", "sigma_beta_horizon")
    if has_country:
        _need(priors, "sigma_country")
    cv = [f for f in country_varying if f in design.features] if has_country else []
    unknown = sorted(set(country_varying) - set(design.features))
    if unknown:
        raise ValueError(f"country_varying names features not in the design: {unknown}")
    if cv:
        _need(priors, "sigma_beta_country")
    coords = design.coords()
    if cv:
        coords["feature_cv"] = cv
    centred = parameterisation == "centred"
    if parameterisation == "auto":
        centre = centred_regions(design, priors["sigma_region"])
    else:
        centre = np.full(len(design.regions), centred)

    with pm.Model(coords=coords) as pm_model:
        region_idx = pm.Data("region_idx", design.region_idx, dims="obs_id")
        step_idx = pm.Data("step_idx", design.step_idx, dims="obs_id")
        pm.Data("x_mean", design.x_mean, dims="feature")
        pm.Data("x_scale", design.x_scale, dims="feature")
        rc_idx = pm.Data("region_country_idx", design.region_country_idx, dims="region")

        intercept = _prior("intercept", priors["intercept"])
        sigma_region = _prior("sigma_region", priors["sigma_region"])
        if has_country:
            sigma_country = _prior("sigma_country", priors["sigma_country"])
            if centred:
                country_eff = pm.Normal("country_eff", 0.0, sigma_country, dims="country")
            else:
                country_offset = pm.ZeroSumNormal("country_offset", sigma=1.0, dims="country")
                country_eff = sigma_country * country_offset
            base = intercept + country_eff[rc_idx]
        else:
            base = intercept * pt.ones(len(design.regions))
        if centre.all():
            region_eff = pm.Normal("region_eff", base, sigma_region, dims="region")
        elif not centre.any():
            if has_country:
                region_offset = pm.Normal("region_offset", 0.0, 1.0, dims="region")
                centring = zero_sum_within(design.region_country_idx, n_country)
                region_offset_zs = pt.dot(pt.constant(centring), region_offset)
            else:
                region_offset = pm.ZeroSumNormal("region_offset", sigma=1.0, dims="region")
                region_offset_zs = region_offset
            region_eff = pm.Deterministic(
                "region_eff", base + sigma_region * region_offset_zs, dims="region"
            )
        else:
            c_pos, n_pos = np.flatnonzero(centre), np.flatnonzero(~centre)
            pm_model.add_coord("region_centred", [design.regions[i] for i in c_pos])
            pm_model.add_coord("region_noncentred", [design.regions[i] for i in n_pos])
            eff_c = pm.Normal(
                "region_eff_centred", base[c_pos], sigma_region, dims="region_centred"
            )
            region_offset = pm.Normal("region_offset", 0.0, 1.0, dims="region_noncentred")
            eff_n = base[n_pos] + sigma_region * region_offset
            back = np.argsort(np.concatenate([c_pos, n_pos]))
            region_eff = pm.Deterministic(
                "region_eff", pt.concatenate([eff_c, eff_n])[back], dims="region"
            )
        eta = region_eff[region_idx]

        if n_feat:
            X = pm.Data("X", design.X, dims=("obs_id", "feature"))
            beta_mu = _prior("beta_mu", priors["beta"], dims="feature")
            sigma_bh = _prior("sigma_beta_horizon", priors["sigma_beta_horizon"])
            if centred:
                beta = pm.Normal("beta", beta_mu, sigma_bh, dims=("horizon", "feature"))
            else:
                beta_offset = pm.Normal("beta_offset", 0.0, 1.0, dims=("horizon", "feature"))
                beta = pm.Deterministic(
                    "beta", beta_mu + sigma_bh * beta_offset, dims=("horizon", "feature")
                )
            # Features depend on (region, origin) only, not on the step: multiply each distinct
            # row once by every step's coefficients, then pick each training row's own step.
            key = design.origin_idx * len(design.regions) + design.region_idx
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            xb = pt.dot(pt.constant(design.X[first]), beta.T)
            flat = pt.constant(inverse.astype(np.int64) * design.horizon) + step_idx
            eta = eta + xb.ravel()[flat]
            if cv:
                cv_pos = [design.features.index(f) for f in cv]
                sigma_bc = _prior("sigma_beta_country", priors["sigma_beta_country"])
                bc_offset = pm.Normal(
                    "beta_country_offset", 0.0, 1.0, dims=("country", "feature_cv")
                )
                beta_country = pm.Deterministic(
                    "beta_country", sigma_bc * bc_offset, dims=("country", "feature_cv")
                )
                country_idx = pm.Data("country_idx", design.country_idx, dims="obs_id")
                eta = eta + (X[:, cv_pos] * beta_country[country_idx]).sum(axis=-1)

        pm.Deterministic("p", pm.math.invlogit(eta), dims="obs_id")
        pm.Bernoulli("clash_any", logit_p=eta, observed=design.y, dims="obs_id")
    return pm_model


def stored_var_names(pm_model: pm.Model) -> list[str]:
    """Names of free and deterministic variables worth storing (everything but per-row ones)."""
    names = [v.name for v in (*pm_model.free_RVs, *pm_model.deterministics)]
    return [n for n in names if n not in ROW_VARS]

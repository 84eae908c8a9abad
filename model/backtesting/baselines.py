"""Baseline forecasters for the backtest, each using only what was known at the origin.

Every baseline forecasts ``P(clash_any[r, origin + s] = 1)`` for every region ``r`` and step
``s = 1..H`` from a panel in the ``panel.nc`` layout. Each first cuts the panel to the periods
up to and including the origin (:func:`known_at`), so no later event, outcome or feature can
reach it, whatever the panel holds after the origin.

- :func:`climatology` — the region's clash rate over the trailing ``window`` periods, shrunk
  toward the pooled rate of the same window by a Beta prior of ``prior_strength``
  pseudo-periods (a region with few clashes borrows from the theatre).
- :func:`ewma` — the region's exponentially weighted clash rate (half-life ``half_life``
  periods), shrunk toward the pooled rate the same way: a climatology that forgets.
- :func:`markov` — pooled ``P(clash at t+s | clash_any at t)`` per step, from every pair
  ``(t, t+s)`` with ``t + s`` up to the origin (Jeffreys-smoothed counts).
- :func:`logistic` — a pooled logistic regression per step on the model's offset at ``t``
  (coefficient 1, as the model enters it) and its features at ``t``, standardised with the
  training rows' means and scales, fit by Newton's method with a small ridge on the slopes;
  training rows as the model's design (``t >= first + burn_in``, ``t + s <= origin``). Without
  features it is the offset's own forecast recalibrated by an intercept: a fair reference at
  any prevalence (the offset was a free, standardised covariate before, and at a prevalence of
  2% that baseline was broken rather than beaten).
- :func:`global_rate` — the pooled clash rate over every period up to the origin.

"Within H" (at least one clash in steps 1..H) has baselines of its own, scored on the same
event: :func:`within_climatology` and :func:`within_ewma` are the same rates computed on the
series of H-period windows ("any clash in the H periods ending at u") over the windows that
ended at or before the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from model.data.features import decayed_share
from model.inference.standardise import fit_scaling, standardised

#: Standardised features are clipped to this many SDs in the logistic baseline.
Z_CLIP = 5.0


Origin = np.datetime64 | pd.Timestamp | str


@dataclass(frozen=True)
class Rates:
    """How the rate baselines remember: climatology's trailing ``window`` of periods, the EWMA's
    ``half_life`` and the pseudo-periods of the pooled rate each region is shrunk toward."""

    window: int = 52
    half_life: float = 13.0
    prior_strength: float = 2.0


RATES = Rates()


def known_at(panel: xr.Dataset, origin: Origin) -> xr.Dataset:
    """The panel cut to periods up to and including ``origin`` (which must be a period)."""
    origin = pd.Timestamp(origin)
    periods = pd.DatetimeIndex(panel["period"].values)
    if origin not in periods:
        raise ValueError(f"origin {origin.date()} is not a period of the panel")
    return panel.sel(period=slice(None, origin))


def _out(values: np.ndarray, panel: xr.Dataset, horizon: int, name: str) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=("region", "horizon"),
        coords={"region": panel["region"].values, "horizon": np.arange(1, horizon + 1)},
        name=name,
    )


def _outcomes(known: xr.Dataset) -> np.ndarray:
    """``clash_any`` as float (region, period)."""
    return known["clash_any"].transpose("region", "period").values.astype(float)


def climatology(
    panel: xr.Dataset, origin: Origin, horizon: int, rates: Rates = RATES
) -> xr.DataArray:
    """Each region's trailing-``window`` clash rate, smoothed toward the pooled rate.

    ``p_r = (k_r + a * pooled) / (n_r + a)`` with ``k_r`` clash periods among the ``n_r``
    periods in the window ending at the origin, ``pooled = sum k / sum n`` and
    ``a = rates.prior_strength``. The same value serves every step.
    """
    y = _outcomes(known_at(panel, origin))[:, -rates.window :]
    p = _shrunk_rate(y, rates.prior_strength)
    return _out(np.repeat(p[:, None], horizon, axis=1), panel, horizon, "climatology")


def _shrunk_rate(y: np.ndarray, prior_strength: float) -> np.ndarray:
    """Each row's rate of ``y`` (rows × periods), shrunk toward the pooled rate."""
    k = y.sum(axis=1)
    n = float(y.shape[1])
    pooled = k.sum() / (n * y.shape[0]) if y.size else 0.0
    return (k + prior_strength * pooled) / (n + prior_strength)


def ewma(panel: xr.Dataset, origin: Origin, horizon: int, rates: Rates = RATES) -> xr.DataArray:
    """Each region's exponentially weighted clash rate at the origin, shrunk to the pooled rate.

    :func:`model.data.features.decayed_share` of ``clash_any`` up to the origin: periods ``u``
    weigh ``0.5 ** ((origin − u) / half_life)``. The same value serves every step.
    """
    y = _outcomes(known_at(panel, origin))
    p = decayed_share(y, rates.half_life, rates.prior_strength)[:, -1]
    return _out(np.repeat(p[:, None], horizon, axis=1), panel, horizon, "ewma")


def window_events(y: np.ndarray, horizon: int) -> np.ndarray:
    """``z[:, u] = 1`` when a clash occurred in periods ``u − H + 1 … u`` (windows ending at u).

    Only complete windows: the result has ``T − H + 1`` columns, column ``j`` ending at
    period ``j + H − 1``.
    """
    y = np.asarray(y, dtype=float)
    if y.shape[1] < horizon:
        return np.zeros((y.shape[0], 0))
    cs = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
    return (cs[:, horizon:] - cs[:, :-horizon] > 0).astype(float)


def _window_events_known(panel: xr.Dataset, origin: Origin, horizon: int, what: str) -> np.ndarray:
    """The H-period window events that ended at or before the origin; raises when none did."""
    z = window_events(_outcomes(known_at(panel, origin)), horizon)
    if z.shape[1] == 0:
        raise ValueError(f"within-H {what}: fewer than {horizon} periods before {origin}")
    return z


def _within_out(values: np.ndarray, panel: xr.Dataset, name: str) -> xr.DataArray:
    return xr.DataArray(
        values, dims=("region",), coords={"region": panel["region"].values}, name=name
    )


def within_climatology(
    panel: xr.Dataset, origin: Origin, horizon: int, rates: Rates = RATES
) -> xr.DataArray:
    """P(any clash within H) as each region's share of H-period windows with a clash.

    Over the trailing ``window`` windows that ended at or before the origin, shrunk toward the
    pooled share like :func:`climatology`. Dims ``(region,)``.
    """
    z = _window_events_known(panel, origin, horizon, "climatology")[:, -rates.window :]
    return _within_out(_shrunk_rate(z, rates.prior_strength), panel, "climatology")


def within_ewma(
    panel: xr.Dataset, origin: Origin, horizon: int, rates: Rates = RATES
) -> xr.DataArray:
    """P(any clash within H) as the exponentially weighted share of H-period windows with one.

    :func:`model.data.features.decayed_share` of the window events that ended at or before the
    origin. Dims ``(region,)``.
    """
    z = _window_events_known(panel, origin, horizon, "EWMA")
    share = decayed_share(z, rates.half_life, rates.prior_strength)[:, -1]
    return _within_out(share, panel, "ewma")


def markov(panel: xr.Dataset, origin: Origin, horizon: int) -> xr.DataArray:
    """Pooled ``P(clash at t+s | clash_any at t)`` per step ``s``, applied to the origin's state.

    Transition counts are Jeffreys-smoothed, ``(n_11 + 1/2) / (n_1 + 1)``, so a state never
    seen yet gives 1/2 rather than 0/0.
    """
    y = _outcomes(known_at(panel, origin))
    state = y[:, -1]
    out = np.empty((y.shape[0], horizon))
    for s in range(1, horizon + 1):
        prev, nxt = y[:, :-s].ravel(), y[:, s:].ravel()
        for x in (0.0, 1.0):
            sel = prev == x
            rate = (nxt[sel].sum() + 0.5) / (sel.sum() + 1.0)
            out[state == x, s - 1] = rate
    return _out(out, panel, horizon, "markov")


def global_rate(panel: xr.Dataset, origin: Origin, horizon: int) -> xr.DataArray:
    """The pooled clash rate over all regions and periods up to the origin (Jeffreys-smoothed)."""
    y = _outcomes(known_at(panel, origin))
    p = (y.sum() + 0.5) / (y.size + 1.0)
    return _out(np.full((y.shape[0], horizon), p), panel, horizon, "global_rate")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    ridge: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-10,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge-penalised logistic regression by Newton's method (IRLS).

    Minimises ``-loglik(w) + ridge/2 * |slopes|^2``; the intercept (first coefficient, for a
    leading column of ones added here) is not penalised. The penalty keeps the fit finite
    under separation, which short training windows with rare clashes produce. An ``offset``
    (log-odds, one per row) enters the linear predictor with coefficient 1, so the penalty
    shrinks the fit toward the offset's own forecast shifted by the intercept.

    Returns
    -------
    numpy.ndarray
        ``[intercept, slopes...]``.
    """
    xb = np.column_stack([np.ones(len(x)), x])
    off = np.zeros(len(x)) if offset is None else np.asarray(offset, dtype=float)
    pen = np.full(xb.shape[1], ridge)
    pen[0] = 0.0
    w = np.zeros(xb.shape[1])
    mean_y = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    w[0] = np.log(mean_y / (1 - mean_y)) - off.mean()
    for _ in range(max_iter):
        mu = _sigmoid(off + xb @ w)
        grad = xb.T @ (mu - y) + pen * w
        hess = (xb.T * (mu * (1.0 - mu))) @ xb + np.diag(pen) + 1e-9 * np.eye(xb.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < tol:
            break
    return w


def feature_cube(panel: xr.Dataset, features: list[str]) -> np.ndarray:
    """Features as a float array (region, period, feature)."""
    if not features:
        return np.zeros((panel.sizes["region"], panel.sizes["period"], 0))
    return np.stack(
        [panel[f].transpose("region", "period").values.astype(float) for f in features], axis=-1
    )


def logistic(
    panel: xr.Dataset,
    origin: Origin,
    horizon: int,
    features: list[str],
    burn_in: int = 0,
    ridge: float = 1.0,
    offset: str | None = None,
) -> xr.DataArray:
    """Pooled logistic regression per step on the offset and standardised features at ``t``.

    The backtest gives it the model's inputs: its ``offset`` (a panel variable on the log-odds
    scale, entered with coefficient 1 as the model enters it, neither standardised nor
    clipped) and its ``features``. With no feature it is the offset's forecast recalibrated by
    an intercept; with neither, the pooled rate of the training rows.

    Training rows are ``(r, t)`` with ``t`` at least ``burn_in`` periods after the first and
    ``t + s`` up to the origin; features are standardised with those rows' means and standard
    deviations (a constant feature gets scale 1; a missing value becomes the mean). The fit is
    applied to the features at the origin. Steps without both classes in training get the
    training rate. Standardised values are clipped to ``±Z_CLIP``: a feature that is nearly
    constant in training (a proximity count that is zero in all but a few rows, say) has a tiny
    scale, and one unusual value at the origin would otherwise sit hundreds of SDs out and
    push the forecast to 0 or 1 — on a theatre with rare clashes that made this baseline
    score worse than the global rate.
    """
    known = known_at(panel, origin)
    y = _outcomes(known)
    x = feature_cube(known, features)
    off = _offset(known, offset, burn_in)
    n_periods = y.shape[1]
    out = np.empty((y.shape[0], horizon))
    for s in range(1, horizon + 1):
        t_idx = np.arange(burn_in, n_periods - s)
        if t_idx.size == 0:
            raise ValueError(
                f"logistic baseline: no training rows for step {s} at origin "
                f"{pd.Timestamp(origin).date()} (burn_in {burn_in}, {n_periods} periods known)"
            )
        x_train = x[:, t_idx, :].reshape(x.shape[0] * t_idx.size, x.shape[-1])
        y_train = y[:, t_idx + s].ravel()
        mean, scale = fit_scaling(x_train, ignore_nan=True, min_scale=0.0)
        z_train = standardised(x_train, mean, scale, missing_as_mean=True, clip=Z_CLIP)
        z_origin = standardised(x[:, -1, :], mean, scale, missing_as_mean=True, clip=Z_CLIP)
        if y_train.min() == y_train.max():
            out[:, s - 1] = (y_train.sum() + 0.5) / (y_train.size + 1.0)
            continue
        w = fit_logistic(z_train, y_train, ridge=ridge, offset=off[:, t_idx].ravel())
        out[:, s - 1] = _sigmoid(off[:, -1] + w[0] + z_origin @ w[1:])
    return _out(out, panel, horizon, "logistic")


def _offset(known: xr.Dataset, offset: str | None, burn_in: int) -> np.ndarray:
    """The offset as float (region, period); zeros without one. Non-finite values after the
    burn-in are refused, as the model's design refuses them."""
    if offset is None:
        return np.zeros((known.sizes["region"], known.sizes["period"]))
    values = known[offset].transpose("region", "period").values.astype(float)
    if not np.isfinite(values[:, burn_in:]).all():
        raise ValueError(f"logistic baseline: NaN/inf in the offset {offset!r}")
    return values


def all_baselines(
    panel: xr.Dataset,
    origin: Origin,
    *,
    horizon: int,
    features: list[str],
    burn_in: int = 0,
    rates: Rates = RATES,
    offset: str | None = None,
) -> dict[str, xr.DataArray]:
    """Every baseline's forecasts from one origin, keyed by the catalogue's names
    (:data:`model.backtesting.catalogue.BASELINES`; ``features`` and ``offset``: the model's,
    for the logistic baseline)."""
    return {
        "climatology": climatology(panel, origin, horizon, rates),
        "ewma": ewma(panel, origin, horizon, rates),
        "markov": markov(panel, origin, horizon),
        "logistic": logistic(panel, origin, horizon, features, burn_in, offset=offset),
        "global_rate": global_rate(panel, origin, horizon),
    }


def within_baselines(
    panel: xr.Dataset, origin: Origin, *, horizon: int, rates: Rates = RATES
) -> dict[str, xr.DataArray]:
    """The "within H" baselines from one origin, keyed by the catalogue's names
    (:data:`model.backtesting.catalogue.WITHIN_BASELINES`)."""
    return {
        "climatology": within_climatology(panel, origin, horizon, rates),
        "ewma": within_ewma(panel, origin, horizon, rates),
    }

"""Forecasts from the posterior: P(clash) per region and step, as draws, and their summary.

The linear predictor is recomputed from the posterior draws and the features at the origin,
standardised with the training means and scales stored in the posterior's ``constant_data`` —
no model rebuild or compilation is needed, and the same draws serve baseline and scenarios, so
their differences are paired draw by draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

SAMPLE = "draw"


def _stacked_posterior(idata: xr.DataTree) -> xr.Dataset:
    post = idata["posterior"].to_dataset()
    post = post.stack(sample=("chain", "draw")).reset_index("sample", drop=True)
    post = post.rename({"sample": SAMPLE}).assign_coords({SAMPLE: np.arange(post.sizes["sample"])})
    return post.transpose(SAMPLE, ...)


def fitted_features(idata: xr.DataTree) -> list[str]:
    """The feature names the posterior was fitted with (empty for intercepts only)."""
    const = idata["constant_data"].to_dataset()
    return [str(f) for f in const["feature"].values] if "feature" in const.coords else []


def resolve_origin(panel: xr.Dataset, origin: object | None) -> pd.Timestamp:
    """The origin period: ``origin`` (a date inside a period) or the panel's last period."""
    periods = pd.DatetimeIndex(panel["period"].values)
    if origin is None:
        return periods[-1]
    ts = pd.Timestamp(origin)
    i = int(periods.searchsorted(ts, side="right")) - 1
    if i < 0:
        raise ValueError(f"origin {ts.date()} is before the panel's first period")
    return periods[i]


def feature_values(
    panel: xr.Dataset, origin: object | None, features: Sequence[str], regions: Sequence[str]
) -> xr.DataArray:
    """Raw features at the origin, dims ``(region, feature)``, in the fitted region order."""
    t = resolve_origin(panel, origin)
    missing_r = sorted(set(regions) - {str(r) for r in panel["region"].values})
    if missing_r:
        raise ValueError(f"panel lacks fitted regions {missing_r}")
    missing_f = [f for f in features if f not in panel.data_vars]
    if missing_f:
        raise ValueError(f"panel lacks fitted features {missing_f}")
    at = panel.sel(period=t, region=list(regions))
    if not features:
        return xr.DataArray(
            np.zeros((len(regions), 0)),
            dims=("region", "feature"),
            coords={"region": list(regions), "feature": []},
        )
    values = xr.concat([at[f].astype(float) for f in features], dim="feature")
    values = values.assign_coords(feature=list(features)).transpose("region", "feature")
    bad = [f for f in features if not np.isfinite(values.sel(feature=f)).all()]
    if bad:
        raise ValueError(f"features {bad} are not finite at origin {t.date()}")
    return values.drop_vars([c for c in values.coords if c not in ("region", "feature")])


def linear_predictor(idata: xr.DataTree, x_raw: xr.DataArray) -> xr.DataArray:
    """logit P(clash) for each region, step and draw given raw features ``(region, feature)``."""
    post = _stacked_posterior(idata)
    const = idata["constant_data"].to_dataset()
    regions = [str(r) for r in post["region"].values] if "region" in post.coords else None
    if regions is None:
        raise ValueError("posterior has no region coordinate")
    rc_idx = const["region_country_idx"].values
    if "region_eff" in post:
        region_eff = post["region_eff"]
    else:
        region_eff = post["intercept"] + post["sigma_region"] * post["region_offset"]
        if "country_offset" in post:
            country_eff = (post["sigma_country"] * post["country_offset"]).isel(
                country=xr.DataArray(rc_idx, dims="region")
            )
            region_eff = region_eff + country_eff.drop_vars("country", errors="ignore")
    eta = region_eff.transpose(SAMPLE, "region")
    horizons = (
        post["horizon"].values
        if "horizon" in post.coords
        else np.arange(1, int(idata.attrs.get("horizon", 1)) + 1)
    )
    eta = eta.expand_dims(horizon=horizons, axis=-1)
    feats = list(x_raw["feature"].values)
    if feats:
        z = (x_raw - const["x_mean"]) / const["x_scale"]
        beta = post["beta"]
        eta = eta + xr.dot(z, beta, dim="feature")
        if "beta_country" in post:
            cv = list(post["feature_cv"].values)
            bc = post["beta_country"].isel(country=xr.DataArray(rc_idx, dims="region"))
            bc = bc.drop_vars("country", errors="ignore")
            zc = z.sel(feature=cv).rename(feature="feature_cv")
            eta = eta + xr.dot(zc, bc, dim="feature_cv")
    return eta.transpose("region", "horizon", SAMPLE)


def forecast_draws(idata: xr.DataTree, panel: xr.Dataset, origin: object | None) -> xr.DataArray:
    """P(clash) draws for every fitted region and step after ``origin``.

    Parameters
    ----------
    idata : xarray.DataTree
        A posterior from :func:`model.sampling.fit` (constant data included).
    panel : xarray.Dataset
        The panel (features at ``origin`` are read from it).
    origin : date-like or None
        The origin period (``None``: the panel's last period).

    Returns
    -------
    xarray.DataArray
        Dims ``(region, horizon, draw)``; coords ``country(region)``, ``period_start(horizon)``
        (start of the target period); attrs ``origin``.
    """
    t = resolve_origin(panel, origin)
    post_regions = [str(r) for r in idata["posterior"]["region"].values]
    x_raw = feature_values(panel, t, fitted_features(idata), post_regions)
    p = expit(linear_predictor(idata, x_raw))  # no overflow warning on extreme features
    freq = panel.attrs.get("freq", "W-MON")
    starts = pd.date_range(t, periods=p.sizes["horizon"] + 1, freq=freq)[1:]
    country = panel["country"].sel(region=post_regions).values
    p = p.assign_coords(
        region=post_regions,
        country=("region", [str(c) for c in country]),
        period_start=("horizon", pd.DatetimeIndex(starts).values.astype("datetime64[ns]")),
    )
    p.name = "p"
    p.attrs = {"origin": str(t.date()), "description": "P(clash_any) at origin + horizon"}
    return p


def p_any_within(p: xr.DataArray) -> xr.DataArray:
    """P(at least one clash within steps 1..h) per draw: 1 − ∏_{s ≤ h} (1 − p_s).

    Computed on joint draws (never from means); steps are independent given the parameters.
    Returns the cumulative version over ``horizon``.
    """
    return 1.0 - (1.0 - p).cumprod("horizon")


def summarise(p: xr.DataArray, interval: tuple[float, float] = (0.05, 0.95)) -> pd.DataFrame:
    """The rows of ``reports/forecast.csv`` from :func:`forecast_draws` output.

    ``p_any_within_horizon`` is P(≥ 1 clash within the full horizon H), the same on each of a
    region's rows; ``rank`` 1 is the region with the highest one.
    """
    lo, hi = interval
    q = p.quantile([lo, 0.5, hi], dim=SAMPLE)
    p_any = p_any_within(p).isel(horizon=-1).mean(SAMPLE)
    rank = p_any.to_series().rank(ascending=False, method="first").astype(int)
    rows = []
    for r in p["region"].values:
        for h in p["horizon"].values:
            rows.append(
                {
                    "origin": p.attrs["origin"],
                    "region": str(r),
                    "country": str(p["country"].sel(region=r).item()),
                    "horizon": int(h),
                    "period_start": str(
                        pd.Timestamp(p["period_start"].sel(horizon=h).item()).date()
                    ),
                    "p_mean": float(p.sel(region=r, horizon=h).mean()),
                    "p_median": float(q.sel(region=r, horizon=h, quantile=0.5)),
                    "p_q05": float(q.sel(region=r, horizon=h, quantile=lo)),
                    "p_q95": float(q.sel(region=r, horizon=h, quantile=hi)),
                    "p_any_within_horizon": float(p_any.sel(region=r)),
                    "rank": int(rank[r]),
                }
            )
    return pd.DataFrame(rows).sort_values(["rank", "horizon"], kind="stable").reset_index(drop=True)

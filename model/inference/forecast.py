"""Forecasts from the posterior: P(clash) per region and step, as draws, and their summary.

The linear predictor is recomputed from the posterior draws and the features at the origin,
standardised with the training means and scales stored in the posterior's ``constant_data`` —
no model rebuild or compilation is needed, and the same draws serve baseline and scenarios, so
their differences are paired draw by draw.

Each draw also carries one value of the block effect shared by the H steps after the origin
(:func:`block_effects`: stratified normal quantiles, the same for every forecast), so a draw is
a possible course of the coming weeks: P(clash) per step given it, and P(at least one clash
within h) as one minus the product of its steps. Means over draws are the forecasts (the block
effect integrated out); intervals say how high or low the coming weeks' risk may turn out, the
uncertainty of the parameters included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, ndtri

from model.data.panel_facts import PanelFacts
from model.inference import equation as eq
from model.inference.blocks import OFFSET_DIM
from model.inference.standardise import standardised

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


def fitted_regions(idata: xr.DataTree) -> list[str]:
    """The regions the posterior was fitted to (from its constant data, in model order)."""
    return [str(r) for r in idata["constant_data"]["region"].values]


def offset_name(idata: xr.DataTree) -> str | None:
    """The panel variable the posterior was fitted with as offset (None without one)."""
    const = idata["constant_data"].to_dataset()
    if OFFSET_DIM not in const.coords:
        return None
    return str(const[OFFSET_DIM].values[0])


def horizons_of(idata: xr.DataTree) -> np.ndarray:
    """The steps 1..H the posterior forecasts (from its coordinates, else its attributes)."""
    for group in ("posterior", "observed_data"):
        if group in idata.children and "horizon" in idata[group].coords:
            return np.asarray(idata[group]["horizon"].values)
    return np.arange(1, int(idata.attrs.get("horizon", 1)) + 1)


def block_scale(idata: xr.DataTree) -> np.ndarray:
    """``sigma_block`` per stacked draw (zeros when the steps are independent)."""
    return _sigma_block(_stacked_posterior(idata))


def _sigma_block(post: xr.Dataset) -> np.ndarray:
    if eq.SIGMA_BLOCK in post:
        return post[eq.SIGMA_BLOCK].values
    return np.zeros(post.sizes[SAMPLE])


def block_effects(n: int) -> np.ndarray:
    """One standard-normal block effect per draw: ``Φ⁻¹((k + ½) / n)`` in a fixed shuffled order.

    Stratified, so that means over draws integrate the effect out closely, and deterministic,
    so that forecasts are reproducible and scenarios paired with their baseline.
    """
    u = ndtri((np.arange(n) + 0.5) / n)
    return np.random.default_rng(20170518).permutation(u)


def linear_predictor(
    idata: xr.DataTree, x_raw: xr.DataArray, offset: xr.DataArray | None = None
) -> xr.DataArray:
    """logit P(clash | block effect 0) per region, step and draw, from raw features.

    :func:`model.inference.equation.linear_predictor` of every draw, at one origin.

    Parameters
    ----------
    idata : xarray.DataTree
    x_raw : xarray.DataArray
        Raw features ``(region, feature)`` in the fitted order.
    offset : xarray.DataArray, optional
        The offset variable per region (required when the posterior has one); it enters
        multiplied by ``sqrt(1 + π sigma_block² / 8)`` of each draw, as in the model.

    Returns
    -------
    xarray.DataArray
        Dims ``(region, horizon, draw)``; the ``draw`` coordinate where a per-draw region
        effect or coefficient entered.
    """
    post = _stacked_posterior(idata)
    coords = {"region": fitted_regions(idata), "horizon": horizons_of(idata)}
    if eq.REGION_EFF in post:
        level = post[eq.REGION_EFF].transpose(SAMPLE, "region")
        coords |= {"region": level["region"].values, SAMPLE: level[SAMPLE].values}
        level = level.values
    else:
        level = np.zeros((post.sizes[SAMPLE], len(coords["region"])))
    off = None
    if offset_name(idata) is not None:
        if offset is None:
            raise ValueError(f"the posterior needs the offset {offset_name(idata)!r}")
        off = _by_region(offset, coords["region"]).values
    const = idata["constant_data"].to_dataset()
    slopes = _slopes(post, const, _by_region(x_raw, coords["region"]))
    if slopes:
        coords[SAMPLE] = post[SAMPLE].values
    n_h = coords["horizon"].size
    eta = eq.linear_predictor(eq.NUMPY, n_h, level, off, _sigma_block(post), **slopes)
    eta = xr.DataArray(eta, dims=(SAMPLE, "region", "horizon"), coords=coords)
    return eta.transpose("region", "horizon", SAMPLE)


def _by_region(da: xr.DataArray, regions: Sequence[str]) -> xr.DataArray:
    """``da`` with ``region`` first, in the order of ``regions`` where it has their labels."""
    if "region" in da.coords:
        da = da.sel(region=regions)
    return da.transpose("region", ...)


def _slopes(post: xr.Dataset, const: xr.Dataset, x_raw: xr.DataArray) -> dict[str, object]:
    """The features' terms of :func:`model.inference.equation.linear_predictor` (none without
    features)."""
    if not list(x_raw["feature"].values):
        return {}
    z = standardised(x_raw, const[eq.X_MEAN], const[eq.X_SCALE]).transpose("region", "feature")
    out = {"x": z.values, "beta": post[eq.BETA].transpose(SAMPLE, "horizon", "feature").values}
    if eq.BETA_COUNTRY in post:
        features = [str(f) for f in z["feature"].values]
        bc = post[eq.BETA_COUNTRY].transpose(SAMPLE, "country", eq.FEATURE_CV).values
        out["beta_country"] = bc[:, const[eq.REGION_COUNTRY_IDX].values, :]
        out["cv_pos"] = [features.index(str(f)) for f in post[eq.FEATURE_CV].values]
    return out


def step_probability(eta: xr.DataArray, sigma_block: np.ndarray) -> xr.DataArray:
    """P(clash) per region, step and draw, given each draw's block effect."""
    shift = sigma_block * block_effects(eta.sizes[SAMPLE])
    return expit(eta + xr.DataArray(shift, dims=SAMPLE))


def within_probability(p: xr.DataArray) -> xr.DataArray:
    """P(at least one clash in steps 1..h) per draw, cumulative over ``horizon``.

    ``1 − Π_{s ≤ h} (1 − p_s)`` of one draw's steps: given the draw's block effect the steps
    are independent; across draws the shared effect makes them dependent.
    """
    return 1.0 - (1.0 - p).cumprod("horizon")


def _origin_inputs(
    idata: xr.DataTree, panel: xr.Dataset, origin: object | None, offset_as: str | None = None
) -> tuple[pd.Timestamp, xr.DataArray]:
    """The origin period and the linear predictor there (conditional on no block effect);
    ``offset_as`` reads another panel variable as the offset."""
    t = resolve_origin(panel, origin)
    regions = fitted_regions(idata)
    x_raw = feature_values(panel, t, fitted_features(idata), regions)
    off = offset_name(idata)
    if off is not None and offset_as is not None:
        off = offset_as
    offset = None
    if off is not None:
        offset = feature_values(panel, t, [off], regions).isel(feature=0, drop=True)
    return t, linear_predictor(idata, x_raw, offset)


def _label(p: xr.DataArray, panel: xr.Dataset, t: pd.Timestamp, name: str) -> xr.DataArray:
    regions = [str(r) for r in p["region"].values]
    freq = PanelFacts.from_attrs(panel).freq
    starts = pd.date_range(t, periods=p.sizes["horizon"] + 1, freq=freq)[1:]
    country = panel["country"].sel(region=regions).values
    p = p.assign_coords(
        region=regions,
        country=("region", [str(c) for c in country]),
        period_start=("horizon", pd.DatetimeIndex(starts).values.astype("datetime64[ns]")),
    )
    p.name = name
    return p


def forecast_draws(
    idata: xr.DataTree, panel: xr.Dataset, origin: object | None, offset_as: str | None = None
) -> xr.DataArray:
    """P(clash) draws for every fitted region and step after ``origin``.

    Parameters
    ----------
    idata : xarray.DataTree
        A posterior from :func:`model.inference.sampling.fit` (constant data included).
    panel : xarray.Dataset
        The panel (features and offset at ``origin`` are read from it).
    origin : date-like or None
        The origin period (``None``: the panel's last period).
    offset_as : str, optional
        Another panel variable to read as the offset (a candidate memory scored with this
        posterior, :mod:`model.backtesting.memory`); default the one it was fitted with.

    Returns
    -------
    xarray.DataArray
        Dims ``(region, horizon, draw)``, the block effect integrated out; coords
        ``country(region)``, ``period_start(horizon)`` (start of the target period); attrs
        ``origin``.
    """
    t, eta = _origin_inputs(idata, panel, origin, offset_as)
    p = _label(step_probability(eta, block_scale(idata)), panel, t, "p")
    p.attrs = {"origin": str(t.date()), "description": "P(clash_any) at origin + horizon"}
    return p


def within_draws(idata: xr.DataTree, panel: xr.Dataset, origin: object | None) -> xr.DataArray:
    """P(at least one clash within steps 1..h) draws, cumulative over ``horizon``.

    The same layout as :func:`forecast_draws`; the value at ``horizon = H`` is the headline
    "within H" forecast.
    """
    p = forecast_draws(idata, panel, origin)
    within = within_probability(p)
    within.name = "p_any_within"
    within.attrs = {
        "origin": p.attrs["origin"],
        "description": "P(any clash_any in steps 1..horizon)",
    }
    return within


def independent_within(p: xr.DataArray) -> xr.DataArray:
    """``1 − ∏_{s ≤ h} (1 − p̄_s)`` of the mean step forecasts: "within h" as a product of
    weekly forecasts has it, as if the steps were independent.

    Not the forecast (see :func:`within_draws`); the backtest scores it beside the model's to
    show what assuming independence costs. Dims ``(region, horizon)``.
    """
    return 1.0 - (1.0 - p.mean(SAMPLE)).cumprod("horizon")


def summarise(
    p: xr.DataArray, within: xr.DataArray, interval: tuple[float, float] = (0.05, 0.95)
) -> pd.DataFrame:
    """The rows of ``reports/forecast.csv`` from :func:`forecast_draws` and :func:`within_draws`.

    ``p_any_within_horizon`` is P(≥ 1 clash within the full horizon H) (posterior mean), with
    its interval in ``p_any_q05`` and ``p_any_q95``, the same on each of a region's rows;
    ``rank`` 1 is the region with the highest one.
    """
    lo, hi = interval
    q = p.quantile([lo, 0.5, hi], dim=SAMPLE)
    w = within.isel(horizon=-1)
    p_any = w.mean(SAMPLE)
    qa = w.quantile([lo, hi], dim=SAMPLE)
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
                    "p_any_q05": float(qa.sel(region=r, quantile=lo)),
                    "p_any_q95": float(qa.sel(region=r, quantile=hi)),
                    "rank": int(rank[r]),
                }
            )
    return pd.DataFrame(rows).sort_values(["rank", "horizon"], kind="stable").reset_index(drop=True)

"""Cell forecasts rolled up to governorates, coherently (issue 21, DESIGN §4).

A governorate has a clash when at least one of its cells has one. Given one posterior draw,
the cells' blocks are independent (each cell's block effect is its own; the model has no
governorate-wide effect yet), so

    P(no clash in governorate g within h | draw) = Π_c  Q_c(h)^(W[g, c])
    Q_c(h) = E_u[ Π_{s ≤ h} (1 − invlogit(eta[c, s] + sigma_block · u)) ],   u ~ Normal(0, 1)

with ``Q`` integrated over the block effect by Gauss–Hermite quadrature (the same effect the
likelihood integrates out), and ``W[g, c]`` the share of cell ``c``'s study area inside ``g``
(:func:`model.data.cells.rollup_weights`): a cell wholly inside counts once, a cell a border
splits counts in both, in proportion (a region smaller than a cell, Baghdad in the shipped
boundaries, still gets a forecast). The roll-up is a mean over draws of ``1 − Π``, so it
carries the posterior's uncertainty; for independent cells with weights 1 it is
``1 − Π (1 − p_c)``. Per step ``s`` the same with the single step.

Pure NumPy: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from model.inference.blocks import quadrature


def none_within(eta: np.ndarray, sigma_block: np.ndarray, cumulative: bool = True) -> np.ndarray:
    """``Q``: P(no clash in a cell within steps 1..h) (``cumulative``) or at step h alone, the
    block effect integrated out, per cell, step and draw.

    Parameters
    ----------
    eta : ndarray (cell, horizon, draw)
        The linear predictor with the block effect at 0.
    sigma_block : ndarray (draw,)
        The block effect's scale per draw (zeros: independent steps).
    """
    nodes, weights = quadrature()
    out = np.zeros(eta.shape)
    for x, w in zip(nodes, weights, strict=True):
        quiet = 1.0 - expit(eta + sigma_block[None, None, :] * x)
        out += w * (np.cumprod(quiet, axis=1) if cumulative else quiet)
    return out


def rollup(none: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(at least one clash) per group, step and draw from the cells' ``Q`` (:func:`none_within`).

    ``weights``: ``(group, cell)``. ``1 − Π_c Q_c^{W[g, c]}``, computed on the log scale.
    """
    log_q = np.log(np.clip(none, 1e-300, 1.0))
    return 1.0 - np.exp(np.einsum("gc,chd->ghd", weights, log_q))


def rollup_panel(panel: xr.Dataset) -> xr.Dataset:
    """The governorates' outcomes of a cell panel as a panel of their own (``region`` =
    governorate, ``clash_any``), for the baselines and the scoring of the roll-up."""
    y = panel["rollup_clash_any"].rename(rollup="region")
    return xr.Dataset({"clash_any": y.transpose("region", "period")})


def rollup_draws(
    idata: xr.DataTree, panel: xr.Dataset, origin: object | None
) -> tuple[xr.DataArray, xr.DataArray]:
    """The roll-up of a cell model's forecast at ``origin``: P(any clash in the governorate at
    step h) and P(any within steps 1..h), each ``(rollup, horizon, draw)``."""
    from model.inference.forecast import SAMPLE, _origin_inputs, block_scale

    t, eta = _origin_inputs(idata, panel, origin)
    w = panel["rollup_weight"].sel(region=eta["region"].values).transpose("rollup", "region")
    sigma = block_scale(idata)
    out = []
    for cumulative in (False, True):
        q = none_within(eta.transpose("region", "horizon", SAMPLE).values, sigma, cumulative)
        out.append(
            xr.DataArray(
                rollup(q, w.values),
                dims=("rollup", "horizon", SAMPLE),
                coords={"rollup": w["rollup"].values, "horizon": eta["horizon"].values},
                attrs={"origin": str(pd.Timestamp(t).date())},
            )
        )
    return out[0], out[1]


def rollup_table(
    step: xr.DataArray, within: xr.DataArray, p: xr.DataArray, panel: xr.Dataset, interval
) -> pd.DataFrame:
    """The governorates' rows of ``reports/forecast.csv`` (``level`` ``governorate``): the
    columns of :func:`model.inference.forecast.summarise`, ``p_*`` from the per-step roll-up
    and ``p_any_*`` from the within-H one; ``rank`` among the governorates."""
    from model.inference.forecast import summarise

    def as_regions(da: xr.DataArray) -> xr.DataArray:
        da = da.rename(rollup="region").assign_coords(
            country=("region", [str(c) for c in panel["rollup_country"].values]),
            period_start=("horizon", p["period_start"].values),
        )
        da.attrs = dict(p.attrs)
        return da

    table = summarise(as_regions(step), as_regions(within), interval)
    table.insert(2, "governorate", table["region"])
    return table

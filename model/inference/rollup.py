"""Cell forecasts rolled up to governorates, coherently (issue 21, DESIGN §4).

A governorate has a clash when at least one of its cells has one. Given one posterior draw of
a model whose block effect is each cell's own (``model.dependence_group: region``), the cells'
blocks are independent, so

    P(no clash in governorate g within h | draw) = Π_c  Q_c(h)^(W[g, c])
    Q_c(h) = E_u[ Π_{s ≤ h} (1 − invlogit(eta[c, s] + sigma_block · u)) ],   u ~ Normal(0, 1)

with ``Q`` integrated over the block effect by Gauss–Hermite quadrature (the same effect the
likelihood integrates out), and ``W[g, c]`` the share of cell ``c``'s hazard that falls in
``g`` (:func:`split_weights`; each cell's shares sum to 1): a cell wholly inside counts once, a
cell a border splits counts in both, in proportion (a region smaller than a cell, Baghdad in
the shipped boundaries, still gets a forecast). The roll-up is a mean over draws of ``1 − Π``,
so it carries the posterior's uncertainty; for independent cells with weights 1 it is
``1 − Π (1 − p_c)``. Per step ``s`` the same with the single step.

How a border cell's hazard splits: by where its clashes fell up to the origin, shrunk toward
its area shares ``A[g, c]`` (:func:`model.data.cells.rollup_weights`) by a pseudo-count ``k``
of clashes,

    W[g, c] = (n[g, c] + k · A[g, c]) / (n[c] + k),

``n[g, c]`` the cell's clashes in ``g`` (the panel's ``rollup_clash``), ``n[c]`` all of them.
Clashes are not spread by area: a city on a border holds its cell's fighting (Baghdad's
clashes in a cell whose area is mostly Babil's), and area shares alone gave Babil the city's
hazard. ``k`` is chosen on the dev window among :data:`SPLIT_PRIORS` (``None``: area shares
alone; the backtest stage, ``backtest.json`` ``rollup_split``).

When the model was fitted with one block effect per governorate and origin
(``model.dependence_group: governorate``, :mod:`model.inference.groups`; the posterior's constant
data then hold ``region_group_idx``), the cells of a group are independent only given their
shared effect ``v``, and the product over a group's cells moves inside the quadrature:

    P(no clash in g within h | draw) = Π_j E_v[ Π_{c ∈ group j} Q_c(h | v)^(W[g, c]) ]
    Q_c(h | v) = Π_{s ≤ h} (1 − invlogit(eta[c, s] + sigma_block · v))

over the groups ``j``, the cells' own (majority) governorates: a cell a border splits counts in
both governorates by its split ``W``, and shares the effect of its own. With ``sigma_block`` 0
this is the independent roll-up; with a positive one it is lower, the cells' clashes coming
together.

Pure NumPy: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from model.inference import equation as eq
from model.inference.blocks import quadrature

#: The pseudo-counts the dev window chooses among for :func:`split_weights` (None: area alone).
SPLIT_PRIORS: tuple[float | None, ...] = (0.5, 2.0, 8.0, 32.0, None)


def split_label(prior: float | None) -> str:
    """How ``backtest.json`` and ``memory.json`` name a split: its pseudo-count, or ``area``."""
    return "area" if prior is None else f"{prior:g}"


def split_prior(label: str) -> float | None:
    """The pseudo-count :func:`split_label` names."""
    return None if label == "area" else float(label)


def split_weights(panel: xr.Dataset, origin: object, prior: float | None) -> xr.DataArray:
    """``W`` ``(rollup, region)`` at ``origin``: each cell's hazard split over the governorates
    by its clashes there up to ``origin`` (the module docstring), area shares alone without a
    ``prior`` or without the panel's ``rollup_clash``."""
    area = panel["rollup_weight"].transpose("rollup", "region")
    if prior is None or "rollup_clash" not in panel:
        return area
    n = panel["rollup_clash"].sel(period=slice(None, pd.Timestamp(origin))).sum("period")
    n = n.transpose("rollup", "region").astype(float)
    return (n + prior * area) / (n.sum("rollup") + prior)


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


def rollup_shared(
    eta: np.ndarray,
    sigma_block: np.ndarray,
    weights: np.ndarray,
    region_group_idx: np.ndarray,
    cumulative: bool = True,
) -> np.ndarray:
    """P(at least one clash) per governorate, step and draw when each group of cells shares
    one block effect (the module docstring's second equation).

    Parameters
    ----------
    eta : ndarray (cell, horizon, draw)
        The linear predictor with the block effect at 0.
    sigma_block : ndarray (draw,)
    weights : ndarray (governorate, cell)
        ``W``: the share of each cell's area in each governorate of the roll-up.
    region_group_idx : ndarray (cell,)
        Each cell's group (its own governorate), codes 0..J-1.
    cumulative : bool
        Within steps 1..h, or at step h alone.

    Returns
    -------
    ndarray (governorate, horizon, draw)
    """
    nodes, node_weights = quadrature()
    pair_g, pair_w = _pairs(np.asarray(weights, dtype=float), np.asarray(region_group_idx))
    n_cell, n_h, n_draw = eta.shape
    log_sum = np.empty((nodes.size, pair_w.shape[0], n_h, n_draw))
    for k, x in enumerate(nodes):
        log_quiet = -np.logaddexp(0.0, eta + sigma_block[None, None, :] * x)
        log_sum[k] = (pair_w @ log_quiet.reshape(n_cell, -1)).reshape(-1, n_h, n_draw)
    if cumulative:  # a sum over the steps commutes with the sum over cells
        log_sum = np.cumsum(log_sum, axis=2)
    log_sum = log_sum.reshape(nodes.size, pair_w.shape[0], -1)
    top = log_sum.max(axis=0)  # log Σ_k w_k exp(·), by hand: scipy's logsumexp is 10x slower
    per_pair = top + np.log(np.einsum("k,kpn->pn", node_weights, np.exp(log_sum - top)))
    onto = (pair_g[None, :] == np.arange(weights.shape[0])[:, None]).astype(float)
    log_none = (onto @ per_pair).reshape(weights.shape[0], n_h, n_draw)
    return -np.expm1(log_none)


def _pairs(weights: np.ndarray, region_group_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (governorate g, group j) pairs with a cell of group j in g: each pair's governorate
    and its cells' weights ``W[g, c]·[group(c) = j]`` (pair, cell); other pairs contribute 0."""
    member = region_group_idx[None, :] == np.arange(region_group_idx.max() + 1)[:, None]
    pair_w = weights[:, None, :] * member[None, :, :]  # (g, j, c)
    g, j = np.nonzero((pair_w != 0).any(axis=-1))
    return g, pair_w[g, j]


def rollup_panel(panel: xr.Dataset) -> xr.Dataset:
    """The governorates' outcomes of a cell panel as a panel of their own (``region`` =
    governorate, ``clash_any``), for the baselines and the scoring of the roll-up."""
    y = panel["rollup_clash_any"].rename(rollup="region")
    return xr.Dataset({"clash_any": y.transpose("region", "period")})


def rollup_draws(
    idata: xr.DataTree, panel: xr.Dataset, origin: object | None, prior: float | None = None
) -> tuple[xr.DataArray, xr.DataArray]:
    """The roll-up of a cell model's forecast at ``origin``: P(any clash in the governorate at
    step h) and P(any within steps 1..h), each ``(rollup, horizon, draw)``; border cells split
    with pseudo-count ``prior`` (:func:`split_weights`); with the shared effect when the
    posterior was fitted with one (:func:`rollup_shared`)."""
    return rollup_splits(idata, panel, origin, (prior,))[0]


def rollup_splits(
    idata: xr.DataTree, panel: xr.Dataset, origin: object | None, priors: Sequence[float | None]
) -> list[tuple[xr.DataArray, xr.DataArray]]:
    """:func:`rollup_draws` for each of ``priors``, the linear predictor and the cells' ``Q``
    computed once."""
    from model.inference.forecast import SAMPLE, _origin_inputs, block_scale

    t, eta = _origin_inputs(idata, panel, origin)
    cells = eta["region"].values
    sigma = block_scale(idata)
    const = idata["constant_data"]
    shared = None
    if eq.REGION_GROUP_IDX in const:
        shared = const[eq.REGION_GROUP_IDX].sel(region=cells).values
    eta_v = eta.transpose("region", "horizon", SAMPLE).values
    # Without a shared effect the cells' Q (per step, and cumulative) do not depend on the split.
    none = None if shared is not None else [none_within(eta_v, sigma, c) for c in (False, True)]
    attrs = {"origin": str(pd.Timestamp(t).date())}
    out = []
    for prior in priors:
        w = split_weights(panel, t, prior).sel(region=cells)
        if none is not None:
            pair = [rollup(q, w.values) for q in none]
        else:
            pair = [rollup_shared(eta_v, sigma, w.values, shared, c) for c in (False, True)]
        coords = {"rollup": w["rollup"].values, "horizon": eta["horizon"].values}
        step, within = (
            xr.DataArray(p_any, dims=("rollup", "horizon", SAMPLE), coords=coords, attrs=attrs)
            for p_any in pair
        )
        out.append((step, within))
    return out


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

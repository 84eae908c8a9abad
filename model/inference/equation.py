"""The model's linear predictor, written once, and the names of the variables it reads.

With the block effect at 0, the log-odds of a clash in row ``r`` (a training block or a
region at the forecast origin) at step ``s`` are

    eta[..., r, s] = level[..., r] + c · offset[r] + x[r] · beta[..., s]
                     + x[r, cv] · beta_country[..., r]
    c = offset_scale(sigma_block)

``level`` is the region's effect (zeros without region effects), ``x`` the standardised
features, ``beta`` the coefficients per step and ``beta_country`` the country-varying slopes of
the row's country (the features at positions ``cv``). Leading dims (posterior draws) are
broadcast. :func:`linear_predictor` computes it with the array operations of a backend:
:data:`NUMPY` for the forecasts, the diagnostics and the simulators, :func:`pytensor_ops` for
the model (:func:`model.inference.clash_model.build_clash_model`). The NumPy operations are those
the forecast always used, so its numbers are the same to the bit.

The names under which the model stores its variables (posterior, constant data) are defined
here, and every module that reads a posterior by name imports them. Plain NumPy: the forecast
and the report import this module without PyMC.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from model.inference.blocks import offset_scale

# Posterior variables.
INTERCEPT = "intercept"
SIGMA_COUNTRY = "sigma_country"
COUNTRY_EFF = "country_eff"
COUNTRY_OFFSET = "country_offset"
SIGMA_REGION = "sigma_region"
REGION_EFF = "region_eff"
REGION_EFF_CENTRED = "region_eff_centred"
REGION_OFFSET = "region_offset"
SIGMA_BLOCK = "sigma_block"
BETA_MU = "beta_mu"
SIGMA_BETA_HORIZON = "sigma_beta_horizon"
BETA = "beta"
BETA_OFFSET = "beta_offset"
SIGMA_BETA_COUNTRY = "sigma_beta_country"
BETA_COUNTRY_OFFSET = "beta_country_offset"
BETA_COUNTRY = "beta_country"
#: Dim of the country-varying slopes (its labels are features).
FEATURE_CV = "feature_cv"

# Constant data.
X = "X"
X_MEAN = "x_mean"
X_SCALE = "x_scale"
OFFSET = "offset"
REGION_IDX = "region_idx"
COUNTRY_IDX = "country_idx"
REGION_COUNTRY_IDX = "region_country_idx"
#: With ``model.dependence_group: governorate``: each block's group (governorate, origin), and
#: each region's governorate, the group of cells that share one block effect at an origin.
GROUP_IDX = "group_idx"
REGION_GROUP_IDX = "region_group_idx"
#: Dim of the log-likelihood when a block effect is shared by a group of blocks.
OBS_GROUP = "obs_group"
#: With identical blocks merged (``model.aggregate_blocks``): the observed outcome's rows
#: (dim ``obs_distinct``), the first block of each (``block_rep``), how many blocks each stands
#: for (``block_count``) and each block's row (``block_of``, dim ``obs_id``).
OBS_DISTINCT = "obs_distinct"
BLOCK_REP = "block_rep"
BLOCK_COUNT = "block_count"
BLOCK_OF = "block_of"

#: The observed outcome.
OBSERVED = "clash_any"


class Ops(NamedTuple):
    """The array operations :func:`linear_predictor` needs from a backend.

    Attributes
    ----------
    feature_dot : callable
        ``(x (row, feature), beta (..., horizon, feature)) -> (..., row, horizon)``.
    row_dot : callable
        ``(x (row, k), b (..., row, k)) -> (..., row)``: one dot product per row.
    over_horizon : callable
        ``(eta (..., row), n) -> (..., row, n)``: the same value at every step.
    """

    feature_dot: Callable[[Any, Any], Any]
    row_dot: Callable[[Any, Any], Any]
    over_horizon: Callable[[Any, int], Any]


def _np_feature_dot(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    # beta before x: the BLAS call, and so the bits and the memory layout, of the xarray dot
    # (opt_einsum) the forecast used before
    return np.swapaxes(np.tensordot(beta, x, axes=(-1, -1)), -1, -2)


def _np_row_dot(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("rk,...rk->...r", x, b)


def _np_over_horizon(eta: np.ndarray, n: int) -> np.ndarray:
    eta = np.asarray(eta)
    return np.broadcast_to(eta[..., None], (*eta.shape, n))


#: NumPy arrays, with leading sample dims.
NUMPY = Ops(_np_feature_dot, _np_row_dot, _np_over_horizon)


@functools.cache
def pytensor_ops() -> Ops:
    """PyTensor tensors of the model's shapes (rows first, no sample dims)."""
    import pytensor.tensor as pt

    return Ops(
        feature_dot=lambda x, beta: pt.dot(x, beta.T),
        row_dot=lambda x, b: (x * b).sum(axis=-1),
        over_horizon=lambda eta, n: eta[:, None] * pt.ones((1, n)),
    )


def _per_sample(a: Any) -> Any:
    """A value per sample as a column against the rows (a scalar as it is)."""
    return a if getattr(a, "ndim", 0) == 0 else a[..., None]


def linear_predictor(
    ops: Ops,
    n_horizon: int,
    level: Any,
    offset: Any = None,
    sigma_block: Any = 0.0,
    *,
    x: Any = None,
    beta: Any = None,
    beta_country: Any = None,
    cv_pos: Sequence[int] = (),
) -> Any:
    """``eta`` per row and step with the block effect at 0 (the module docstring's equation).

    A term left out (``offset`` or ``x`` None, no ``cv_pos``) is not computed at all.

    Parameters
    ----------
    ops : Ops
        :data:`NUMPY` or :func:`pytensor_ops`.
    n_horizon : int
        Steps H.
    level : array (..., row)
        The region effect of each row (zeros without region effects).
    offset : array (row,), optional
        The offset variable; it enters multiplied by ``offset_scale(sigma_block)``.
    sigma_block : scalar or array (...)
        The block effect's scale (0 without dependence).
    x : array (row, feature), optional
        Standardised features; none: intercepts and offset only.
    beta : array (..., horizon, feature)
    beta_country : array (..., row, k), optional
        Country-varying slopes of each row's country, of the features at ``cv_pos``.
    cv_pos : sequence of int
        Positions in ``x`` of the ``k`` country-varying features.

    Returns
    -------
    array (..., row, horizon)
    """
    eta = level
    if offset is not None:
        eta = eta + _per_sample(offset_scale(sigma_block)) * offset
    eta = ops.over_horizon(eta, n_horizon)
    if x is not None:
        eta = eta + ops.feature_dot(x, beta)
        if len(cv_pos):
            eta = eta + ops.row_dot(x[:, list(cv_pos)], beta_country)[..., None]
    return eta

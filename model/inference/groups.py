"""A block effect shared by the cells of a governorate (``model.dependence_group: governorate``).

On a cell panel the cells of one governorate move together: an offensive or a quiet month is a
governorate's, not a single cell's. With a block effect per cell, the cells are independent
given the parameters, and a governorate's "any clash within H" rolled up from them is
over-forecast. With this option the training *group* ``g = (governorate, origin)`` shares one
effect across all its cells' blocks and their ``H`` steps:

    log p(y_g) = log Σ_k w_k Π_{b ∈ g} Π_s Bernoulli(y[b, s] | invlogit(eta[b, s] + σ · x_k))

with ``σ = sigma_block`` and the Gauss–Hermite nodes ``x_k`` and weights ``w_k`` of
:func:`model.inference.blocks.quadrature`.
It is computed per block and node (``Σ_s log Bernoulli``, block × node), summed over the blocks
of each group (an indexed increment, no dense block × group matrix), then a log-sum-exp over
the nodes: one term per group. A cell belongs to its majority governorate's group (a cell a
border splits is in one group only).

The observed variable keeps its ``(block, step)`` shape: each block carries an equal share of
its group's term, so the model's log-density is exact, and
:func:`model.inference.sampling.per_block_log_likelihood` sums the shares back into one term per
group for PSIS-LOO (which then leaves out one group at a time; a block alone has no
log-likelihood of its own once its group shares an effect).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy.special import expit

from model.inference.blocks import quadrature


def group_codes(
    region_group: Sequence[str], region_idx: np.ndarray, origin_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The group of each block, ``(governorate, origin)``, from each region's governorate.

    Parameters
    ----------
    region_group : sequence of str
        Each region's group label (a cell's majority governorate).
    region_idx, origin_idx : ndarray (block,)

    Returns
    -------
    group_idx : ndarray (block,)
        Codes 0..G-1, ordered by origin, then group label.
    region_group_idx : ndarray (region,)
        Each region's code in ``labels``.
    labels : tuple of str
        The group labels, sorted.
    """
    labels = tuple(sorted({str(g) for g in region_group}))
    code = {g: i for i, g in enumerate(labels)}
    region_group_idx = np.array([code[str(g)] for g in region_group], dtype=np.int64)
    key = np.asarray(origin_idx, dtype=np.int64) * len(labels) + region_group_idx[region_idx]
    _, group_idx = np.unique(key, return_inverse=True)
    return group_idx.astype(np.int64), region_group_idx, labels


def node_loglik(
    value: pt.TensorVariable,
    eta: pt.TensorVariable,
    sigma_block: pt.TensorVariable,
    steps_alike: bool = False,
) -> pt.TensorVariable:
    """``Σ_s log Bernoulli(y_s | invlogit(eta_s + sigma_block · x_k))`` per block and node ``k``.

    ``value`` and ``eta`` are ``(block, step)``; returns ``(block, node)``. Written as
    ``Σ_s (y_s e_s − softplus(e_s))`` (``log invlogit(e) = e − softplus(e)``): one softplus per
    step and node where the two Bernoulli branches took two. With ``steps_alike`` (``eta`` the
    same at every step of a block, as without step-varying slopes) it is ``k e − H softplus(e)``
    with ``k = Σ_s y_s`` and ``e`` the first step's: one softplus per block and node.
    """
    nodes, _ = quadrature()
    if steps_alike:
        e = eta[..., 0, None] + sigma_block * pt.constant(nodes)
        return step_loglik(value.sum(axis=-1)[..., None], e, value.shape[-1])
    e = eta[..., None] + sigma_block * pt.constant(nodes)
    return step_loglik(value[..., None], e).sum(axis=-2)


def step_loglik(
    clashes: pt.TensorVariable, e: pt.TensorVariable, steps: int | pt.TensorVariable = 1
) -> pt.TensorVariable:
    """``k e − n softplus(e)``: the log-likelihood of ``k`` clashes in ``n`` (``steps``)
    Bernoulli steps of log-odds ``e`` (``log invlogit(e) = e − softplus(e)``), one softplus
    where the two Bernoulli branches took two."""
    return clashes * e - steps * pt.softplus(e)


def group_block_logp(
    value: pt.TensorVariable,
    eta: pt.TensorVariable,
    sigma_block: pt.TensorVariable,
    group_idx: pt.TensorVariable,
    count: pt.TensorVariable | None = None,
    *,
    steps_alike: bool = False,
) -> pt.TensorVariable:
    """Log-likelihood of the groups' outcomes, one block effect per group integrated out.

    ``value`` and ``eta`` are ``(block, step)``, ``group_idx`` ``(block,)`` with codes 0..G-1.
    Returns ``(block,)``: each block's equal share of its group's term (the module docstring),
    so that the sum over blocks is the sum over groups. With ``count`` (block,), each row
    stands for that many identical blocks of its group: its terms enter the group's sum that
    many times and it returns the share of that many blocks. ``steps_alike``: as in
    :func:`node_loglik`.
    """
    _, weights = quadrature()
    per_block = node_loglik(value, eta, sigma_block, steps_alike)
    n_group = group_idx.max() + 1
    if count is not None:
        per_block = per_block * count[:, None]
    per_group = pt.inc_subtensor(pt.zeros((n_group, weights.size))[group_idx], per_block)
    group_ll = pm.math.logsumexp(per_group + np.log(weights), axis=-1)
    size = pt.inc_subtensor(pt.zeros(n_group)[group_idx], 1.0 if count is None else count)
    share = (group_ll / size)[group_idx]
    return share if count is None else share * count


def group_block_random(
    eta: np.ndarray,
    sigma_block: np.ndarray,
    group_idx: np.ndarray,
    rng: np.random.Generator | None = None,
    size=None,
) -> np.ndarray:
    """Draw blocks of outcomes with one normal effect per group, shared by its blocks' steps.

    ``eta`` is ``(..., block, step)``; ``size`` (PyMC's) is the batch shape, without the step.
    """
    rng = np.random.default_rng() if rng is None else rng
    eta = np.asarray(eta, dtype=float)
    batch = eta.shape[:-1] if size is None else tuple(np.atleast_1d(size).tolist())
    eta = np.broadcast_to(eta, (*batch, eta.shape[-1]))
    codes = np.broadcast_to(np.asarray(group_idx, dtype=np.int64), batch)
    sigma = np.broadcast_to(np.asarray(sigma_block, dtype=float), batch)
    u = rng.normal(size=(*batch[:-1], int(codes.max()) + 1))
    shift = sigma * np.take_along_axis(u, codes, axis=-1)
    p = expit(eta + shift[..., None])
    return (rng.random(eta.shape) < p).astype(np.int8)


def weighted_group_block_random(eta, sigma_block, group_idx, count, rng=None, size=None):
    """:func:`group_block_random` for :func:`group_block_logp` with counts (one block per row)."""
    return group_block_random(eta, sigma_block, group_idx, rng=rng, size=size)

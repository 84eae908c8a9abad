"""The block structure shared by the model (:mod:`model.inference.clash_model`) and the forecasts.

A training block is a region, an origin and the outcomes of the ``H`` steps after it; blocks
are ``H`` periods apart, so every outcome enters the likelihood once. The steps of a block
share a normal block effect, integrated out by Gauss–Hermite quadrature both in the likelihood
and in the forecasts. Blocks whose inputs and outcomes are identical (quiet cells: the same
offset, the same covariates, no clash) enter the likelihood once with their count
(:func:`distinct_rows`). Plain NumPy: the forecasts and the report import it without PyMC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

#: Gauss–Hermite nodes that integrate the block effect out (exact for polynomials of degree 17).
QUADRATURE_NODES = 9
#: Coordinate of the stored constant data whose single label names the offset variable.
OFFSET_DIM = "offset_feature"


def quadrature(n: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of Gauss–Hermite quadrature for a standard normal."""
    nodes, weights = hermegauss(n)
    return nodes, weights / weights.sum()


def block_origins(cut: int, burn_in: int, horizon: int) -> np.ndarray:
    """Origins ``t`` of the training blocks: ``H`` apart, the last one's outcomes end at ``cut``.

    Every outcome in ``burn_in + 1 … cut`` (but the fewer than ``H`` right after ``burn_in``)
    belongs to exactly one block.
    """
    return np.arange(cut - horizon, burn_in - 1, -horizon)[::-1]


def offset_scale(sigma_block):
    """``sqrt(1 + π sigma_block² / 8)``: the offset's multiplier in the model.

    With the block effect integrated out, ``E[invlogit(c·x + sigma·u)] ≈ invlogit(x)`` for
    ``c`` this (the logistic-normal approximation), so the offset keeps its meaning as the
    weekly log-odds whatever the dependence. Works on NumPy arrays and PyTensor tensors.
    """
    return (1.0 + np.pi * sigma_block**2 / 8.0) ** 0.5


@dataclass(frozen=True)
class Distinct:
    """Training blocks with identical inputs and outcomes, merged (the likelihood's rows).

    Attributes
    ----------
    rep : ndarray (distinct,)
        The first block of each distinct row, increasing (first-occurrence order, so that a
        design with no repeated block keeps its order).
    of : ndarray (block,)
        Each block's distinct row.
    count : ndarray (distinct,)
        How many blocks each distinct row stands for.
    """

    rep: np.ndarray
    of: np.ndarray
    count: np.ndarray

    @property
    def n_distinct(self) -> int:
        return int(self.rep.size)

    @property
    def n_blocks(self) -> int:
        return int(self.of.size)


def distinct_rows(*columns: np.ndarray) -> Distinct:
    """The distinct rows of the blocks' columns side by side (each ``(block, ...)``).

    Two blocks merge only when every column agrees exactly (integers compare exactly as
    float64; the columns are finite).
    """
    n = int(np.asarray(columns[0]).shape[0])
    key = np.concatenate([np.asarray(c, dtype=np.float64).reshape(n, -1) for c in columns], axis=1)
    _, first, inverse, count = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return Distinct(
        rep=first[order].astype(np.int64),
        of=rank[np.ravel(inverse)].astype(np.int64),
        count=count[order].astype(np.int64),
    )

"""Standardising features: one rule, with its options said where it is used.

``z = (x − mean) / scale``, column by column, with the mean and the standard deviation (``ddof
0``) of training rows; a column whose scale is not above ``min_scale`` gets scale 1 (a constant
feature carries no information and must not blow up). The model's design standardises finite
training rows (:func:`model.inference.clash_model.make_design`); the logistic baseline's rows may
hold missing values (a proximity distance with one side absent), so it ignores them, reads a
missing value as the mean, and clips ``z`` (:func:`model.backtesting.baselines.logistic`). Plain
NumPy; the functions also take xarray and pandas objects.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def fit_scaling(
    x: np.ndarray, *, ignore_nan: bool = False, min_scale: float = 1e-12
) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales of training rows ``x`` (rows, columns).

    Parameters
    ----------
    x : ndarray
        Training rows.
    ignore_nan : bool
        Compute over the non-missing values of each column (a column with none gets mean 0
        and scale 1); otherwise ``x`` must be finite.
    min_scale : float
        A scale not above this (or not finite) becomes 1.
    """
    if ignore_nan:
        with warnings.catch_warnings():  # a column without values: its mean and scale are set
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "Degrees of freedom <= 0", RuntimeWarning)
            mean, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
    else:
        mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(np.isfinite(scale) & (scale > min_scale), scale, 1.0)
    return mean, scale


def standardised(
    x: Any, mean: Any, scale: Any, *, missing_as_mean: bool = False, clip: float | None = None
) -> Any:
    """``(x − mean) / scale``; a missing value read as the mean (0) if asked; clipped to ±clip."""
    z = (x - mean) / scale
    if missing_as_mean:
        z = z.fillna(0.0) if hasattr(z, "fillna") else np.nan_to_num(z, nan=0.0)
    if clip is not None:
        z = np.clip(z, -clip, clip)
    return z


def standardise(
    x: np.ndarray, *, ignore_nan: bool = False, min_scale: float = 1e-12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(z, mean, scale)`` of training rows: :func:`fit_scaling` then :func:`standardised`."""
    mean, scale = fit_scaling(x, ignore_nan=ignore_nan, min_scale=min_scale)
    return standardised(x, mean, scale, missing_as_mean=ignore_nan), mean, scale

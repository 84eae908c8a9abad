"""Sampling: fit with NUTS.

:func:`fit` drives PyMC's own NUTS, nutpie or numpyro through ``pm.sample`` (all offline) and
returns an ``xarray.DataTree`` with the posterior, sample stats, observed and constant data and
the pointwise log-likelihood per training block (for PSIS-LOO; per block also when identical
blocks entered the likelihood once, :func:`on_blocks`), or per group of blocks when the
groups share one block effect (``model.dependence_group``, :mod:`model.inference.groups`). The
posterior file (save, load, provenance) is :mod:`model.inference.posterior`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pymc as pm
import xarray as xr

from model.config import FitParams, RuntimeParams
from model.inference import equation as eq
from model.inference.clash_model import stored_var_names
from model.numerics import reproducible_numerics

Sampler = Literal["nutpie", "pymc", "numpyro"]
_log = logging.getLogger(__name__)


def fit(
    pm_model: pm.Model,
    *,
    sampler: Sampler = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int = 2,
    target_accept: float = 0.9,
    seed: int = 0,
    progressbar: bool = True,
    log_likelihood: bool = True,
    low_rank_mass_matrix: bool = True,
    nuts_kwargs: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Sample the posterior of ``pm_model`` with NUTS, with one BLAS thread and strict math.

    Compilation, sampling and the log-likelihood run inside
    :func:`model.numerics.reproducible_numerics`.

    Parameters
    ----------
    pm_model : pymc.Model
    sampler : {"nutpie", "pymc", "numpyro"}
        The NUTS implementation (``nutpie`` is the measured default, see the README).
    draws, tune, chains, cores : int
    target_accept : float
    seed : int
    progressbar : bool
        Show progress while sampling.
    log_likelihood : bool
        Add the pointwise ``log_likelihood`` group (needed for PSIS-LOO).
    low_rank_mass_matrix : bool
        nutpie only: adapt a low-rank-modified mass matrix (captures the correlation between
        ``sigma_region`` and the region offsets; on the shipped panel it halved the tree size
        and multiplied the minimum bulk ESS by ~4 against the diagonal one).
    nuts_kwargs : mapping, optional
        Extra sampler options passed through ``pm.sample(nuts=...)`` (e.g. nutpie's
        ``adaptation``).

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats``, ``observed_data``, ``constant_data`` (and
        ``log_likelihood``: per block, dim ``obs_id``, or per group, dim ``obs_group``, when the
        model shares a block effect within groups); attrs ``sampling_seconds`` (wall time of
        the sampling call, compilation included) and ``sampler``.
    """
    var_names = stored_var_names(pm_model)
    nuts = _nuts_options(sampler, target_accept, low_rank_mass_matrix, nuts_kwargs)
    with reproducible_numerics(), pm_model:
        t0 = time.perf_counter()
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            nuts_sampler=sampler,
            var_names=var_names,
            progressbar=progressbar,
            compute_convergence_checks=False,
            nuts=nuts,
        )
        seconds = time.perf_counter() - t0
        if log_likelihood:
            idata = pm.compute_log_likelihood(
                idata, model=pm_model, extend_inferencedata=True, progressbar=False
            )
            idata["log_likelihood"] = per_block_log_likelihood(
                on_blocks(idata["log_likelihood"], model_rows(pm_model)), model_groups(pm_model)
            )
    idata.attrs["sampling_seconds"] = float(seconds)
    idata.attrs["sampler"] = sampler
    _log.info("sampled %s in %.1f s", sampler, seconds)
    return idata


def _nuts_options(
    sampler: str,
    target_accept: float,
    low_rank_mass_matrix: bool,
    nuts_kwargs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The sampler's options for ``pm.sample(nuts=...)``."""
    nuts: dict[str, Any] = {"target_accept": target_accept}
    if sampler == "nutpie" and low_rank_mass_matrix:
        nuts["adaptation"] = "low_rank"
    nuts.update(nuts_kwargs or {})
    if sampler == "numpyro":
        nuts["chain_method"] = "sequential"  # one JAX CPU device; chains run one after another
    return nuts


#: The keywords of :func:`fit` that the ``fit`` section of params sets.
FIT_SETTINGS = (
    "sampler",
    "draws",
    "tune",
    "chains",
    "target_accept",
    "seed",
    "low_rank_mass_matrix",
)
#: The keywords of :func:`fit` that the ``runtime`` section sets: how fast, never what.
RUNTIME_SETTINGS = ("cores", "progressbar")


def fit_with_params(
    pm_model: pm.Model, fp: FitParams, runtime: RuntimeParams | None = None, **overrides: Any
) -> xr.DataTree:
    """:func:`fit` with the settings of the ``fit`` section of params and, when given, the
    cores and progress bar of the ``runtime`` section; ``overrides`` (any keyword of
    :func:`fit`) win."""
    settings = {k: getattr(fp, k) for k in FIT_SETTINGS}
    if runtime is not None:
        settings |= {k: getattr(runtime, k) for k in RUNTIME_SETTINGS}
    return fit(pm_model, **(settings | overrides))


def sample_prior_predictive(pm_model: pm.Model, draws: int, seed: int) -> xr.DataTree:
    """Prior and prior predictive draws of every free variable and the outcome, reproducibly."""
    names = [v.name for v in pm_model.free_RVs] + ["clash_any"]
    with reproducible_numerics(), pm_model, warnings.catch_warnings():
        # The block likelihood draws its outcomes with NumPy, which Numba runs in object mode.
        warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
        return pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed)


def per_block_log_likelihood(
    group: xr.DataTree, group_idx: np.ndarray | None = None
) -> xr.DataTree:
    """The log-likelihood summed over steps, so that PSIS-LOO leaves out one block at a time,
    or, given ``group_idx`` (block,), summed over the blocks of each group (dim ``obs_group``)
    so that it leaves out one group at a time.

    With a block effect the likelihood is per block already; with independent steps PyMC
    gives one term per step, and the sum makes the two comparable (and the file smaller). When
    a group of blocks shares one effect, a block has no likelihood of its own: the model puts an
    equal share of its group's term on each block, and the sum over the group restores it.
    """
    ds = group.to_dataset()
    summed = {k: v.sum("horizon") if "horizon" in v.dims else v for k, v in ds.data_vars.items()}
    if group_idx is not None:
        summed = {
            k: sum_over_groups(v, group_idx) if "obs_id" in v.dims else v for k, v in summed.items()
        }
    return xr.DataTree(xr.Dataset(summed, attrs=ds.attrs), name="log_likelihood")


def sum_over_groups(da: xr.DataArray, group_idx: np.ndarray) -> xr.DataArray:
    """``da`` summed over the blocks (``obs_id``) of each group, codes 0..G-1: dim ``obs_group``."""
    group_idx = np.asarray(group_idx, dtype=np.int64)
    order = np.argsort(group_idx, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group_idx[order]) != 0])
    da = da.transpose(..., "obs_id")
    values = np.add.reduceat(da.values[..., order], starts, axis=-1)
    lead = da.dims[:-1]
    coords = {d: da[d].values for d in lead if d in da.coords}
    coords[eq.OBS_GROUP] = np.unique(group_idx)
    return xr.DataArray(values, dims=(*lead, eq.OBS_GROUP), coords=coords, attrs=da.attrs)


def on_blocks(group: xr.DataTree, rows: tuple[np.ndarray, np.ndarray] | None) -> xr.DataTree:
    """A log-likelihood over the distinct blocks (dim ``obs_distinct``, each term a row's count
    times one block's) given back one term per block (dim ``obs_id``): each block gets its
    row's term over the count, the term the unmerged model gives it. As is without ``rows``
    (``block_of`` (block,), ``block_count`` (distinct,)), from :func:`model_rows`."""
    if rows is None:
        return group
    of, count = rows
    ds = group.to_dataset()
    out = {}
    for k, v in ds.data_vars.items():
        if eq.OBS_DISTINCT in v.dims:
            per = v / xr.DataArray(count, dims=eq.OBS_DISTINCT)
            v = per.isel({eq.OBS_DISTINCT: of}).rename({eq.OBS_DISTINCT: "obs_id"})
            v = v.drop_vars(["obs_id"], errors="ignore").assign_coords(obs_id=np.arange(of.size))
        out[k] = v
    return xr.DataTree(xr.Dataset(out, attrs=ds.attrs), name=group.name)


def model_rows(pm_model: pm.Model) -> tuple[np.ndarray, np.ndarray] | None:
    """Each block's distinct row and the rows' counts when the model merged identical blocks
    (``model.aggregate_blocks``), else None."""
    if eq.BLOCK_OF not in pm_model.named_vars:
        return None
    return (
        np.asarray(pm_model[eq.BLOCK_OF].get_value()),
        np.asarray(pm_model[eq.BLOCK_COUNT].get_value()),
    )


def model_groups(pm_model: pm.Model) -> np.ndarray | None:
    """Each block's group when the model shares a block effect within groups, else None."""
    if eq.GROUP_IDX not in pm_model.named_vars:
        return None
    return np.asarray(pm_model[eq.GROUP_IDX].get_value())


def fitted_groups(idata: xr.DataTree) -> np.ndarray | None:
    """Each training block's group of a fit that shared a block effect within groups (its
    constant data), else None."""
    if "constant_data" not in idata.children or eq.GROUP_IDX not in idata["constant_data"]:
        return None
    return np.asarray(idata["constant_data"][eq.GROUP_IDX].values)


def on_groups(idata: xr.DataTree, group_idx: np.ndarray | None) -> xr.DataTree:
    """``idata`` with its per-block log-likelihood summed over ``group_idx``'s groups (as is
    without groups, or when it is per group already): a variant fitted without the groups
    compared by PSIS-LOO with a model fitted with them, on the same held-out groups."""
    if group_idx is None or "log_likelihood" not in idata.children:
        return idata
    if "obs_id" not in idata["log_likelihood"].dims:
        return idata
    n = idata["log_likelihood"].sizes["obs_id"]
    if n != np.size(group_idx):
        raise ValueError(f"{n} blocks in the log-likelihood, {np.size(group_idx)} group codes")
    out = idata.copy()
    out["log_likelihood"] = per_block_log_likelihood(idata["log_likelihood"], group_idx)
    return out

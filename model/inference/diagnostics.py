"""Diagnostics as a gate, PSIS-LOO comparison, the prior predictive check, and their figures.

Numbers first (:func:`sampling_summary`, :func:`gate`, :func:`loo_section`,
:func:`prior_predictive_summary`), pictures second: the ``plot_*`` functions return matplotlib
figures and never save them (the fit stage does). Plotting imports happen inside the plotting
functions so that importing this module for the gate alone stays light.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from model.config import DiagnosticsParams, ModelParams
from model.data import feature_names as fn
from model.diagnostics_results import THRESHOLDS, evaluate_gate, failed_checks
from model.inference import equation as eq
from model.inference.blocks import OFFSET_DIM

#: Hyper-parameters shown in rank/trace plots (those present in the posterior).
HYPER = (
    eq.INTERCEPT,
    eq.SIGMA_COUNTRY,
    eq.SIGMA_REGION,
    eq.SIGMA_BLOCK,
    eq.SIGMA_BETA_HORIZON,
    eq.SIGMA_BETA_COUNTRY,
)

#: LOO variants: each changes one thing of the fitted model.
VARIANTS = ("no_features", "no_proximity", "no_spatial", "no_dependence", "region_effects")


def variant_settings(variant: str, model: ModelParams) -> dict[str, Any]:
    """What a LOO variant fits: ``features``, ``dependence``, ``region_effects``.

    ``no_features`` drops every feature (the offset and effects stay), ``no_proximity`` and
    ``no_spatial`` the proximity and neighbour features, ``no_dependence`` the block effect
    (and so its sharing within groups, ``dependence_group``),
    and ``region_effects`` switches the intercept and region effects to the other setting.
    """
    out = {
        "features": list(model.features),
        "dependence": model.dependence,
        "region_effects": model.region_effects,
    }
    if variant == "model":
        return out
    if variant == "no_features":
        out["features"] = []
    elif variant == "no_proximity":
        out["features"] = [f for f in model.features if fn.parse(f).family != "proximity"]
    elif variant == "no_spatial":
        out["features"] = [f for f in model.features if fn.parse(f).kind != "nbr_clash"]
    elif variant == "no_dependence":
        out["dependence"] = False
        if model.dependence_group != "region":
            out["dependence_group"] = "region"  # no block effect to share
    elif variant == "region_effects":
        out["region_effects"] = not model.region_effects
        if not out["region_effects"] and model.offset is None:
            raise ValueError("the region_effects variant needs an offset to drop them")
    else:
        raise ValueError(f"unknown LOO variant {variant!r}")
    if not (out["features"] or out["dependence"] or out["region_effects"]):
        raise ValueError(f"the {variant} variant would have no parameter to fit")
    return out


def design_summary(design: Any, distinct_blocks: int | None = None) -> dict[str, Any]:
    """What the fit was trained on (``diagnostics.json``'s ``design``), from a
    :class:`model.inference.clash_model.Design`; ``distinct_blocks``, the likelihood's rows
    once identical blocks are merged (default: every block)."""
    return {
        "blocks": design.n_blocks,
        "distinct_blocks": design.n_blocks if distinct_blocks is None else int(distinct_blocks),
        "outcomes": design.n_obs,
        "regions": len(design.regions),
        "countries": len(design.countries),
        "clash_rate": design.clash_rate,
        "cutoff": str(design.cutoff.date()),
    }


def _min_max(result: xr.Dataset | xr.DataTree, how: str) -> float:
    ds = result["posterior"].to_dataset() if isinstance(result, xr.DataTree) else result
    values = [getattr(ds[v], how)().item() for v in ds.data_vars]
    return float(getattr(np, how)(values)) if values else float("nan")


def sampling_summary(idata: xr.DataTree, var_names: Sequence[str] | None = None) -> dict[str, Any]:
    """R-hat, ESS, divergences and E-BFMI over every stored posterior variable.

    The speed of the fit is not here: it differs on every run, and ``diagnostics.json`` must
    not (:func:`model.timing.sampling` puts it in the run log).

    Returns
    -------
    dict
        ``r_hat_max, ess_bulk_min, ess_tail_min, divergences, bfmi_min, sampler, chains,
        draws``.
    """
    post = idata["posterior"].to_dataset()
    if var_names is not None:
        post = post[list(var_names)]
    stats = idata["sample_stats"].to_dataset()
    ess_bulk = _min_max(az.ess(post, method="bulk"), "min")
    energy = stats["energy"].values
    bfmi = np.square(np.diff(energy, axis=1)).mean(axis=1) / energy.var(axis=1)
    return {
        "r_hat_max": _min_max(az.rhat(post), "max"),
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": _min_max(az.ess(post, method="tail"), "min"),
        "divergences": int(stats["diverging"].sum()),
        "bfmi_min": float(bfmi.min()),
        "sampler": str(idata.attrs.get("sampler", "unknown")),
        "chains": int(post.sizes["chain"]),
        "draws": int(post.sizes["draw"]),
    }


def gate(summary: Mapping[str, Any], thresholds: DiagnosticsParams) -> list[str]:
    """The failed checks of :data:`model.diagnostics_results.CHECKS`, named with value and
    threshold (empty: the gate passes).

    A non-finite statistic (NaN R-hat from a constant chain, say) fails its check.
    """
    return failed_checks(evaluate_gate(summary, thresholds_dict(thresholds)))


def thresholds_dict(thresholds: DiagnosticsParams) -> dict[str, float]:
    """The thresholds ``diagnostics.json`` records
    (:data:`~model.diagnostics_results.THRESHOLDS`)."""
    return {k: getattr(thresholds, k) for k in THRESHOLDS}


def pareto_k_counts(k: np.ndarray, bad: float = 0.7) -> dict[str, int]:
    """Counts of Pareto k: good (≤ 0.5), ok (≤ ``bad``), bad (≤ 1), very_bad (> 1)."""
    k = np.asarray(k).ravel()
    return {
        "good": int((k <= 0.5).sum()),
        "ok": int(((k > 0.5) & (k <= bad)).sum()),
        "bad": int(((k > bad) & (k <= 1.0)).sum()),
        "very_bad": int((k > 1.0).sum()),
    }


def loo_section(
    fits: Mapping[str, xr.DataTree], pareto_k_bad: float = 0.7
) -> tuple[dict[str, Any], dict[str, xr.Dataset]]:
    """PSIS-LOO of each fit (``model`` and its variants) and which is best.

    Returns
    -------
    section : dict
        ``{name: {elpd, se, p_loo, pareto_k_bad, elpd_diff, se_diff}, "best": name}``; the
        differences are against the best by ``az.compare``.
    pointwise : dict of str to Dataset
        Per fit, :func:`pointwise_loo`: what the posterior file keeps of its LOO.
    """
    with warnings.catch_warnings():
        # High Pareto k is reported in the counts below (and gated by whoever reads them).
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        loos = {name: az.loo(idata, pointwise=True) for name, idata in fits.items()}
    section: dict[str, Any] = {}
    for name, res in loos.items():
        section[name] = {
            "elpd": float(res.elpd),
            "se": float(res.se),
            "p_loo": float(res.p),
            "pareto_k_bad": int((np.asarray(res.pareto_k) > pareto_k_bad).sum()),
        }
    if len(loos) > 1:
        table = az.compare(dict(loos), round_to="none")
        for name in loos:
            section[name]["elpd_diff"] = float(table.loc[name, "elpd_diff"])
            section[name]["se_diff"] = float(table.loc[name, "dse"])
        section["best"] = str(table.index[0])
    else:
        section["best"] = next(iter(loos))
    return section, {name: pointwise_loo(res) for name, res in loos.items()}


def pointwise_loo(res: Any) -> xr.Dataset:
    """PSIS-LOO's result per held-out block: ``elpd_loo`` and ``pareto_k`` (obs_id; obs_group,
    one per group of blocks, when the fit shared its block effect within groups), the totals
    in the attributes.

    This is what the posterior file keeps instead of the pointwise log-likelihood (4 chains ×
    1000 draws × blocks, about 34 MB on the shipped data): it is enough to compare another fit
    on the same blocks (the elpd difference and its SE are sums over ``elpd_loo``) and to find
    the blocks LOO cannot leave out reliably (``pareto_k``).
    """
    return xr.Dataset(
        {
            "elpd_loo": res.elpd_i.astype(np.float64),
            "pareto_k": res.pareto_k.astype(np.float64),
        },
        attrs={
            "elpd_loo": float(res.elpd),
            "se": float(res.se),
            "p_loo": float(res.p),
            "n_samples": int(res.n_samples),
            "n_data_points": int(res.n_data_points),
        },
    )


def block_worth(with_block: xr.DataTree, without_block: xr.DataTree) -> dict[str, Any]:
    """PSIS-LOO of the model with the proximity block minus the model without it.

    Both fits hold the same training blocks, so the difference is taken block by block:
    ``loo_diff = Σ (elpd_i(with) − elpd_i(without))`` and ``loo_se = sqrt(n · var(diff_i))``
    (Vehtari, Gelman and Gabry 2017). ``clear`` is whether ``|loo_diff| > 2 loo_se``: within
    that, the data do not tell the two models apart.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        res = [az.loo(idata, pointwise=True) for idata in (with_block, without_block)]
    d = np.ravel(res[0].elpd_i.values) - np.ravel(res[1].elpd_i.values)
    diff, se = float(d.sum()), float(np.sqrt(d.size * d.var()))
    return {
        "loo_diff": diff,
        "loo_se": se,
        "clear": bool(abs(diff) > 2 * se),
        "elpd_with": float(res[0].elpd),
        "elpd_without": float(res[1].elpd),
    }


def prior_predictive_rates(prior_idata: xr.DataTree, var_name: str = eq.OBSERVED) -> np.ndarray:
    """Implied clash rate (share of rows with a clash) for each prior draw; with identical
    blocks merged (constant data ``block_count``), each distinct block weighted by its count."""
    y = prior_idata["prior_predictive"][var_name]
    if eq.OBS_DISTINCT in y.dims and "constant_data" in prior_idata.children:
        y = y.weighted(prior_idata["constant_data"][eq.BLOCK_COUNT])
    dims = [d for d in prior_idata["prior_predictive"][var_name].dims if d not in ("chain", "draw")]
    return np.asarray(y.mean(dims).values, dtype=float).ravel()


def prior_predictive_summary(rates: np.ndarray, observed_rate: float) -> dict[str, float]:
    """The prior predictive check as numbers: implied rates against the observed rate.

    ``observed_quantile`` is the share of prior draws below the observed rate: near 0 or 1
    means the priors put the data in their tail.
    """
    rates = np.asarray(rates, dtype=float)
    q05, q50, q95 = np.quantile(rates, [0.05, 0.5, 0.95])
    return {
        "observed_rate": float(observed_rate),
        "prior_rate_mean": float(rates.mean()),
        "prior_rate_q05": float(q05),
        "prior_rate_median": float(q50),
        "prior_rate_q95": float(q95),
        "observed_quantile": float((rates < observed_rate).mean()),
        "draws": int(rates.size),
    }


def _training_logits(post: xr.Dataset, const: xr.Dataset, sample: int, n_h: int) -> np.ndarray:
    """One draw's linear predictor of the training blocks, (block, step), block effect 0."""
    draw = post.isel(sample=sample)
    region_idx = const[eq.REGION_IDX].values
    level = np.zeros(region_idx.size)
    if eq.REGION_EFF in draw:
        level = draw[eq.REGION_EFF].values[region_idx]
    offset = const[eq.OFFSET].values[:, 0] if OFFSET_DIM in const.coords else None
    sigma = float(draw[eq.SIGMA_BLOCK]) if eq.SIGMA_BLOCK in draw else 0.0
    slopes = {}
    if eq.BETA in draw and const.sizes.get("feature", 0):
        X = const[eq.X].transpose("obs_id", "feature").values
        slopes = {"x": X, "beta": draw[eq.BETA].transpose("horizon", "feature").values}
        if eq.BETA_COUNTRY in draw:
            features = list(const["feature"].values)
            bc = draw[eq.BETA_COUNTRY].transpose("country", eq.FEATURE_CV).values
            slopes["beta_country"] = bc[const[eq.REGION_COUNTRY_IDX].values[region_idx]]
            slopes["cv_pos"] = [features.index(f) for f in draw[eq.FEATURE_CV].values]
    return eq.linear_predictor(eq.NUMPY, n_h, level, offset, sigma, **slopes)


def posterior_predictive_blocks(
    idata: xr.DataTree, n_draws: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Replicated training outcomes from ``n_draws`` thinned posterior draws.

    Rebuilds the linear predictor of the training blocks from constant data, draws each
    block's shared effect (each group's, when the fit shared it within groups) and its
    Bernoulli outcomes, as the model generates them.

    Returns
    -------
    replicated : ndarray (draw, obs_id, horizon) of 0/1
    kept : ndarray (draw,) of the stacked posterior draws used
    """
    const = idata["constant_data"].to_dataset()
    post = idata["posterior"].to_dataset().stack(sample=("chain", "draw"))
    n_total = post.sizes["sample"]
    keep = np.linspace(0, n_total - 1, min(n_draws, n_total)).astype(int)
    sigma = post[eq.SIGMA_BLOCK].values if eq.SIGMA_BLOCK in post else np.zeros(n_total)
    n_h = idata["observed_data"][eq.OBSERVED].sizes["horizon"]  # no posterior variable may have it
    groups = const[eq.GROUP_IDX].values if eq.GROUP_IDX in const else None
    rng = np.random.default_rng(seed)
    reps = []
    for d in keep:
        eta = _training_logits(post, const, int(d), n_h)
        if groups is None:
            eta = eta + sigma[d] * rng.normal(size=(eta.shape[0], 1))
        else:
            eta = eta + sigma[d] * rng.normal(size=int(groups.max()) + 1)[groups][:, None]
        reps.append(rng.random(eta.shape) < 1.0 / (1.0 + np.exp(-eta)))
    return np.asarray(reps, dtype=np.int8), keep


def observed_blocks(idata: xr.DataTree) -> np.ndarray:
    """The training outcomes, (block, step), one row per block also when identical blocks
    entered the likelihood once (``block_of`` maps them back)."""
    y = idata["observed_data"][eq.OBSERVED]
    const = idata["constant_data"]
    if eq.OBS_DISTINCT in y.dims:
        return y.transpose(eq.OBS_DISTINCT, ...).values[const[eq.BLOCK_OF].values]
    return y.transpose("obs_id", ...).values


def posterior_predictive_region_rates(
    idata: xr.DataTree, n_draws: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Replicated clash rates per region from posterior draws (for the PPC figure).

    Returns
    -------
    replicated : ndarray (draw, region)
    observed : ndarray (region,)
    regions : list of str
    """
    const = idata["constant_data"].to_dataset()
    y = observed_blocks(idata)
    y = y.reshape(y.shape[0], -1)
    region_idx = const[eq.REGION_IDX].values
    regions = [str(r) for r in const["region"].values]
    n_reg = len(regions)
    counts = np.maximum(np.bincount(region_idx, minlength=n_reg) * y.shape[1], 1)
    observed = np.bincount(region_idx, weights=y.sum(axis=1), minlength=n_reg) / counts
    blocks, _ = posterior_predictive_blocks(idata, n_draws, seed)
    per_block = blocks.sum(axis=2)
    rep = np.stack([np.bincount(region_idx, weights=b, minlength=n_reg) for b in per_block])
    return rep / counts, observed, regions


# --------------------------------------------------------------------------- figures


def plot_prior_predictive(rates: np.ndarray, observed_rate: float) -> tuple[Any, Any]:
    """Histogram of prior-implied clash rates with the observed rate marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.hist(rates, bins=40, range=(0, 1), color="0.6")
    ax.axvline(observed_rate, color="C3", label=f"observed {observed_rate:.3f}")
    ax.set(
        xlabel="clash rate implied by the priors",
        ylabel="prior draws",
        title="Prior predictive check",
    )
    ax.legend(loc="upper right")  # "best" searches the bars, slowly (and warns) on a busy machine
    return fig, ax


def plot_ppc(
    replicated: np.ndarray, observed: np.ndarray, regions: Sequence[str]
) -> tuple[Any, Any]:
    """Observed clash rate per region against its posterior predictive 90% interval."""
    import matplotlib.pyplot as plt

    order = np.argsort(observed)
    lo, med, hi = np.quantile(replicated, [0.05, 0.5, 0.95], axis=0)
    y = np.arange(len(regions))
    fig, ax = plt.subplots(figsize=(6, 0.25 * len(regions) + 1.5), layout="constrained")
    ax.hlines(y, lo[order], hi[order], color="0.5", lw=3, label="replicated 90%")
    ax.plot(med[order], y, "|", color="0.2")
    ax.plot(observed[order], y, "o", color="C3", ms=4, label="observed")
    ax.set_yticks(y, [regions[i] for i in order], fontsize=7)
    ax.set(xlabel="clash rate (training rows)", title="Posterior predictive check by region")
    ax.legend(loc="lower right", fontsize=7)
    return fig, ax


def _hyper(idata: xr.DataTree) -> list[str]:
    return [v for v in HYPER if v in idata["posterior"]]


def _figure(pc: Any) -> Any:
    return pc.get_viz("figure")


def plot_rank_hyper(idata: xr.DataTree) -> Any:
    """Rank plots of the hyper-parameters (one panel each)."""
    return _figure(az.plot_rank(idata, var_names=_hyper(idata), backend="matplotlib"))


def plot_trace_hyper(idata: xr.DataTree) -> Any:
    """Trace plots of the hyper-parameters."""
    return _figure(az.plot_trace(idata, var_names=_hyper(idata), backend="matplotlib"))


def plot_energy(idata: xr.DataTree) -> Any:
    """Marginal and transition energy with E-BFMI per chain."""
    return _figure(az.plot_energy(idata, backend="matplotlib"))


def plot_forest_effects(idata: xr.DataTree) -> Any:
    """Forest plot of the pooled coefficients, the intercept and the scales."""
    names = [
        v
        for v in (eq.INTERCEPT, eq.BETA_MU, eq.SIGMA_REGION, eq.SIGMA_BLOCK, eq.SIGMA_BETA_HORIZON)
        if v in idata["posterior"]
    ]
    if not names:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 1.2), layout="constrained")
        ax.text(0.5, 0.5, "no parameter to show", ha="center", va="center")
        ax.set_axis_off()
        return fig
    return _figure(az.plot_forest(idata, var_names=names, combined=True, backend="matplotlib"))

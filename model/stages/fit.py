"""The ``fit`` stage: prior predictive check, NUTS, the diagnostics gate, PSIS-LOO, figures.

Inputs: ``data/processed/panel.nc``, params ``model``, ``fit``, ``diagnostics``.
Outputs: ``data/fitted/idata.nc`` (posterior, sample stats, log-likelihood, observed and constant
data, prior) with provenance, ``reports/metrics/diagnostics.json`` and
``reports/figures/diagnostics/*.png``.

The LOO variants (``diagnostics.loo_variants``) are refitted here with half the draws and tune
of the main fit (PSIS-LOO needs a sound posterior, not a deep one), to keep the stage within its
time budget. When the gate fails and ``diagnostics.fail_on_gate`` is true, only
``diagnostics.json`` and the figures are written (to show why) and :class:`GateFailed` names
the failed checks; with ``fail_on_gate: false`` everything is written and ``gate`` is ``fail``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from model import diagnostics as diag
from model import io
from model.clash_model import design_from_params, model_from_params
from model.config import FitParams, ModelParams, Params
from model.errors import GateFailed, StageError
from model.numerics import reproducible_numerics
from model.paths import DIAGNOSTIC_FIGURES, DIAGNOSTICS, IDATA, PANEL
from model.posterior import posterior_attrs, save_idata
from model.sampling import fit_with_params

_log = logging.getLogger("clashcast.fit")


def _prior_check(pm_model: pm.Model, draws: int, seed: int, observed_rate: float):
    names = [v.name for v in pm_model.free_RVs] + ["clash_any"]
    with reproducible_numerics(), pm_model, warnings.catch_warnings():
        # The block likelihood draws its outcomes with NumPy, which Numba runs in object mode.
        warnings.filterwarnings("ignore", "Numba will use object mode", UserWarning)
        prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed)
    rates = diag.prior_predictive_rates(prior)
    return prior, rates, diag.prior_predictive_summary(rates, observed_rate)


def _save_figures(root: Path, idata: xr.DataTree, rates: np.ndarray, observed_rate: float) -> None:
    import matplotlib.pyplot as plt

    figures: dict[str, Any] = {}
    figures["prior_predictive"] = diag.plot_prior_predictive(rates, observed_rate)[0]
    figures["ppc_region_rates"] = diag.plot_ppc(*diag.posterior_predictive_region_rates(idata))[0]
    for name, plot in (
        ("rank_hyper", diag.plot_rank_hyper),
        ("trace_hyper", diag.plot_trace_hyper),
        ("energy", diag.plot_energy),
        ("forest_effects", diag.plot_forest_effects),
    ):
        figures[name] = plot(idata)
    with io.atomic_dir(root / DIAGNOSTIC_FIGURES) as folder:
        for name, fig in figures.items():
            fig.savefig(folder / f"{name}.png", dpi=110, format="png")
            plt.close(fig)


def _fit_variant(panel: xr.Dataset, mp: ModelParams, settings: dict, fp: FitParams) -> xr.DataTree:
    """A LOO variant, fitted with half the draws and tune of the main fit."""
    variant = mp.model_copy(update=settings)
    pm_model = model_from_params(design_from_params(panel, variant), variant)
    return fit_with_params(pm_model, fp, draws=variant_draws(fp), tune=max(fp.tune // 2, 200))


def variant_draws(fp: FitParams) -> int:
    """Draws of a LOO variant: half the main fit's, at least 200."""
    return max(fp.draws // 2, 200)


def run(params: Params, root: Path) -> None:
    """Run the fit stage (see the module docstring)."""
    mp, fp, dp = params.model, params.fit, params.diagnostics
    panel = io.load_panel(root)
    try:
        design = design_from_params(panel, mp)
    except ValueError as e:
        raise StageError(f"{PANEL}: {e}") from None
    pm_model = model_from_params(design, mp)
    _log.info(
        "design: %d blocks of %d steps, %d regions, %d countries, clash rate %.3f",
        design.n_blocks,
        design.horizon,
        len(design.regions),
        len(design.countries),
        design.clash_rate,
    )

    prior, rates, prior_summary = _prior_check(
        pm_model, fp.prior_samples, fp.seed, design.clash_rate
    )
    idata = fit_with_params(pm_model, fp)
    idata["prior"] = xr.DataTree(prior["prior"].to_dataset(), name="prior")

    summary = diag.sampling_summary(idata)
    failed = diag.gate(summary, dp)
    fits = {"model": idata}
    for variant in dp.loo_variants:
        try:
            settings = diag.variant_settings(variant, mp)
        except ValueError as e:
            raise StageError(f"diagnostics.loo_variants: {e}") from None
        fits[variant] = _fit_variant(panel, mp, settings, fp)
    loo, ks = diag.loo_section(fits, dp.pareto_k_bad)
    loo["variant_draws"] = variant_draws(fp)

    metrics = {
        **summary,
        "gate": "fail" if failed else "pass",
        "failed_checks": failed,
        "thresholds": diag.thresholds_dict(dp),
        "pareto_k": diag.pareto_k_counts(ks["model"], dp.pareto_k_bad),
        "prior_predictive": prior_summary,
        "loo": loo,
        "design": {
            "blocks": design.n_blocks,
            "outcomes": design.n_obs,
            "regions": len(design.regions),
            "countries": len(design.countries),
            "clash_rate": design.clash_rate,
            "cutoff": str(design.cutoff.date()),
        },
    }
    _save_figures(root, idata, rates, design.clash_rate)
    io.write_json(root / DIAGNOSTICS, metrics)
    if failed and dp.fail_on_gate:
        raise GateFailed("diagnostics gate failed: " + "; ".join(failed) + f" (see {DIAGNOSTICS})")
    attrs = posterior_attrs(params, root) | {"gate": metrics["gate"], "horizon": str(mp.horizon)}
    save_idata(idata, root / IDATA, attrs)
    _log.info("gate %s; %s", metrics["gate"], ", ".join(failed) or "all checks passed")

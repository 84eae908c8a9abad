"""The ``fit`` stage: prior predictive check, NUTS, the diagnostics gate, PSIS-LOO, figures.

Inputs: ``data/processed/panel.nc``, params ``model``, ``fit``, ``diagnostics``, and with
``memory.auto`` the offset the backtest chose on its dev window (``data/backtest/memory.json``,
:func:`model.data.memory.effective_params`), which replaces ``model.offset``.
Outputs: ``data/fitted/idata.nc`` (posterior, sample stats, observed and constant data, prior
and ``loo``: PSIS-LOO per block, or per group of blocks with ``model.dependence_group:
governorate``, in place of the pointwise log-likelihood it was computed
from) with provenance, ``reports/metrics/diagnostics.json`` and
``reports/figures/diagnostics/*.png``.

The LOO variants (``diagnostics.loo_variants``) are refitted here with half the draws and tune
of the main fit (PSIS-LOO needs a sound posterior, not a deep one), to keep the stage within its
time budget. When the gate fails and ``diagnostics.fail_on_gate`` is true, only
``diagnostics.json`` and the figures are written (to show why) and :class:`GateFailed` names
the failed checks; with ``fail_on_gate: false`` everything is written and ``gate`` is ``fail``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from model import io, timing
from model.config import FitParams, ModelParams, Params, RuntimeParams
from model.data.memory import effective_params
from model.diagnostics_results import DiagnosticsMetrics, Loo, ProximityLoo, SamplingSummary
from model.errors import GateFailed, StageError
from model.inference import diagnostics as diag
from model.inference.clash_model import design_from_params, model_from_params
from model.inference.posterior import posterior_attrs, save_idata
from model.inference.sampling import (
    fit_with_params,
    fitted_groups,
    model_rows,
    on_groups,
    sample_prior_predictive,
)
from model.paths import DIAGNOSTIC_FIGURES, DIAGNOSTICS, IDATA, MEMORY, PANEL
from model.readers import read_panel

_log = logging.getLogger(__name__)


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


def variant_draws(fp: FitParams) -> int:
    """Draws (and tuning steps) per chain of a LOO variant: a quarter of the main fit's, at
    least 200 (1,000 draws in all on the shipped settings: PSIS-LOO needs the pointwise
    log-likelihood's tails, not a publication-grade posterior)."""
    return max(fp.draws // 4, 200)


def _fit_variant(
    panel: xr.Dataset, variant: ModelParams, fp: FitParams, rt: RuntimeParams
) -> xr.DataTree:
    """A LOO variant refitted with :func:`variant_draws` draws and a quarter of the tuning."""
    pm_model = model_from_params(design_from_params(panel, variant), variant)
    return fit_with_params(pm_model, fp, rt, draws=variant_draws(fp), tune=max(fp.tune // 4, 200))


def _loo(panel: xr.Dataset, idata: xr.DataTree, params: Params) -> tuple[Loo, xr.Dataset]:
    """PSIS-LOO of the model and of each variant in params (each variant refitted here); the
    model's pointwise result. When the model shares a block effect within groups
    (``model.dependence_group``), every fit is scored on the model's groups."""
    mp, fp, dp = params.model, params.fit, params.diagnostics
    fits = {"model": idata}
    groups = fitted_groups(idata)
    for name in dp.loo_variants:
        try:
            variant = mp.model_copy(update=diag.variant_settings(name, mp))
        except ValueError as e:
            raise StageError(f"diagnostics.loo_variants: {e}") from None
        n = variant_draws(fp)
        _log.info("LOO variant %s: refitting with %d draws per chain", name, n)
        fits[name] = on_groups(_fit_variant(panel, variant, fp, params.runtime), groups)
    section, pointwise = diag.loo_section(fits, dp.pareto_k_bad)
    loo = Loo.from_json(section | {"variant_draws": variant_draws(fp)})
    model_loo = loo.fits["model"]
    _log.info("PSIS-LOO: elpd %.1f (SE %.1f); best %s", model_loo.elpd, model_loo.se, loo.best)
    return loo, pointwise["model"]


def _proximity_worth(panel: xr.Dataset, idata: xr.DataTree, params: Params) -> ProximityLoo | None:
    """The proximity block's PSIS-LOO worth: the model's other proximity variant refitted (as
    the LOO variants are) and compared block by block; None without a block."""
    mp, fp = params.model, params.fit
    if not mp.proximity_block:
        return None
    other = mp.proximity_variant(not mp.ships_proximity)
    n = variant_draws(fp)
    _log.info("proximity block: refitting the model %s it with %d draws per chain",
              "without" if mp.ships_proximity else "with", n)  # fmt: skip
    other_fit = on_groups(_fit_variant(panel, other, fp, params.runtime), fitted_groups(idata))
    pair = (idata, other_fit) if mp.ships_proximity else (other_fit, idata)
    worth = ProximityLoo(
        **diag.block_worth(*pair),
        block=tuple(mp.proximity_block),
        shipped="with" if mp.ships_proximity else "without",
        variant_draws=n,
    )
    _log.info("proximity block: PSIS-LOO with minus without %.1f (SE %.1f)", worth.loo_diff,
              worth.loo_se)  # fmt: skip
    return worth


def run(params: Params, root: Path) -> None:
    """Run the fit stage (see the module docstring)."""
    params = effective_params(params, root)
    if params.memory.auto and params.model.offset is not None:
        _log.info(
            "offset %s (chosen on the backtest's dev window, %s)", params.model.offset, MEMORY
        )
    mp, fp, dp = params.model, params.fit, params.diagnostics
    panel = read_panel(root)
    try:
        design = design_from_params(panel, mp)
    except ValueError as e:
        raise StageError(f"{PANEL}: {e}") from None
    pm_model = model_from_params(design, mp)
    rows = model_rows(pm_model)
    n_distinct = design.n_blocks if rows is None else rows[1].size
    _log.info(
        "design: %d blocks (%d distinct) of %d steps, %d regions, %d countries, clash rate %.3f",
        design.n_blocks,
        n_distinct,
        design.horizon,
        len(design.regions),
        len(design.countries),
        design.clash_rate,
    )
    _log.info("prior predictive check: %d draws", fp.prior_samples)
    prior = sample_prior_predictive(pm_model, fp.prior_samples, fp.seed)
    rates = diag.prior_predictive_rates(prior)
    _log.info("sampling %d chains of %d draws (%d tuning) with %s", fp.chains, fp.draws,
              fp.tune, fp.sampler)  # fmt: skip
    idata = fit_with_params(pm_model, fp, params.runtime)
    idata["prior"] = xr.DataTree(prior["prior"].to_dataset(), name="prior")
    summary = diag.sampling_summary(idata)
    timing.record(root, "fit", timing.sampling(idata, summary["ess_bulk_min"]))
    failed = diag.gate(summary, dp)
    _log.info("gate %s; %s", "fail" if failed else "pass", ", ".join(failed) or "all checks passed")
    loo, pointwise = _loo(panel, idata, params)
    metrics = DiagnosticsMetrics(
        sampling=SamplingSummary(**summary),
        gate="fail" if failed else "pass",
        failed_checks=tuple(failed),
        thresholds=diag.thresholds_dict(dp),
        pareto_k=diag.pareto_k_counts(pointwise["pareto_k"].values, dp.pareto_k_bad),
        prior_predictive=diag.prior_predictive_summary(rates, design.clash_rate),
        loo=loo,
        proximity=_proximity_worth(panel, idata, params),
        design=diag.design_summary(design, n_distinct),
    )
    _save_figures(root, idata, rates, design.clash_rate)
    io.write_json(root / DIAGNOSTICS, metrics.to_json())
    if failed and dp.fail_on_gate:
        raise GateFailed("diagnostics gate failed: " + "; ".join(failed) + f" (see {DIAGNOSTICS})")
    attrs = posterior_attrs(params, root) | {"gate": metrics.gate, "horizon": str(mp.horizon)}
    # The pointwise log-likelihood (chains × draws × blocks) is what makes the file large; LOO
    # has been computed from it above, and the file keeps LOO's result per block instead.
    stored = idata.drop_nodes("log_likelihood")
    stored["loo"] = xr.DataTree(pointwise, name="loo")
    save_idata(stored, root / IDATA, attrs)
    _log.info("wrote %s (%.1f MB)", IDATA, (root / IDATA).stat().st_size / 1e6)

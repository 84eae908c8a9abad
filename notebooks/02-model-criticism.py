# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 — Model criticism
#
# Is the fitted model believable? Convergence, the posterior predictive check, LOO-PIT
# calibration, pair plots of the hyper-parameters (with divergences), prior against posterior,
# and the PSIS-LOO comparison with simpler variants. ArviZ 1.x (`arviz_plots`, `arviz_stats`).
# Reads the pipeline's artefacts through `model.reporting.artefacts.load_run`; writes nothing.

# %%
# %matplotlib inline
import json
import os
from pathlib import Path

import arviz_plots as azp
import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr
from IPython.display import display
from matplotlib.figure import Figure

from model import timing
from model.reporting.artefacts import load_run
from model.inference.diagnostics import HYPER as HYPER_CANDIDATES

ROOT = Path(os.environ.get("CLASHCAST_ROOT", Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))
run = load_run(ROOT)
idata = run.idata
print(idata.groups)

# %% [markdown]
# ## The diagnostics gate

# %%
d = run.diagnostics
print(f"gate: {d.get('gate')}  failed checks: {d.get('failed_checks')}")
speed = timing.read(ROOT).get("fit", {})  # the run log: times are in no output DVC hashes
display(pd.Series({k: d.get(k) for k in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences",
                                         "bfmi_min", "sampler")}
                  | {k: speed.get(k) for k in ("sampling_seconds", "ess_bulk_per_second")}))

# %%
post = idata["posterior"].to_dataset()
HYPER = [v for v in HYPER_CANDIDATES if v in post and post[v].ndim == 2]
display(azs.summary(idata, var_names=HYPER + [v for v in ("beta_mu",) if v in post]))

# %% [markdown]
# ## Posterior predictive check
#
# The outcome is binary, so the check is a calibration curve (PAVA) of the posterior predictive
# against the observations, plus the overall clash rate as a test statistic. Each training block
# is an origin and the H weeks after it; replicated blocks are drawn as the model generates them
# (each block's shared effect, then its weeks), by `model.inference.diagnostics.posterior_predictive_blocks`.

# %%
from model.inference.diagnostics import observed_blocks, posterior_predictive_blocks

dt = idata.copy()
reps, _ = posterior_predictive_blocks(idata, n_draws=200, seed=0)
# 0/1 per block and step, as integers (the loader declares the outcome's dtype; PyMC keeps
# floats); one row per block also where identical blocks entered the likelihood once
y = observed_blocks(idata).reshape(len(reps[0]), -1)
# one value per week (block × step), as PAVA calibration wants
ppc = xr.DataTree.from_dict({
    "observed_data": xr.Dataset({"clash_any": ("week", y.ravel())}),
    "posterior_predictive": xr.Dataset(
        {"clash_any": (("chain", "draw", "week"), reps.reshape(1, len(reps), -1))}
    ),
})
azp.plot_ppc_pava(ppc, backend="matplotlib");

# %%
rates = reps.reshape(len(reps), -1).mean(axis=1)
fig = Figure(figsize=(5, 3), layout="constrained")
ax = fig.subplots()
ax.hist(rates, bins=30, color="#9ecae1")
ax.axvline(y.mean(), color="#c0392b", label=f"observed {y.mean():.1%}")
ax.set_xlabel("share of weeks with a clash (posterior predictive)")
ax.legend()
display(fig)

# %% [markdown]
# ## Clustering: weeks with a clash per block
#
# The block effect is there because clash weeks cluster: a block of H weeks holds 0 or H clash
# weeks more often than independent weeks would. The observed counts against the replicated ones
# (a model without the block effect would put too little mass at both ends).

# %%
h = y.shape[-1]
obs_counts = np.bincount(y.sum(axis=-1).ravel(), minlength=h + 1) / y.shape[0]
rep_counts = np.stack([np.bincount(r.sum(axis=-1), minlength=h + 1) / r.shape[0] for r in reps])
fig = Figure(figsize=(5, 3), layout="constrained")
ax = fig.subplots()
lo, hi = np.quantile(rep_counts, [0.05, 0.95], axis=0)
ax.bar(np.arange(h + 1), hi - lo, bottom=lo, color="#c6dbef", label="replicated 90%")
ax.plot(np.arange(h + 1), obs_counts, "o", color="#c0392b", label="observed")
ax.set_xlabel(f"weeks with a clash in a block of {h}")
ax.set_ylabel("share of blocks")
ax.legend()
display(fig)

# %% [markdown]
# ## Hyper-parameters: pair plot (divergences marked) and prior against posterior

# %%
if len(HYPER) > 1:
    azp.plot_pair(dt, var_names=HYPER, backend="matplotlib");
else:
    print(f"one hyper-parameter ({HYPER}): no pair to plot")

# %%
if "prior" in dt.children:
    azp.plot_prior_posterior(dt, var_names=HYPER, backend="matplotlib");
else:
    print("no prior group in the posterior file")

# %%
if "beta" in post:
    azp.plot_forest(dt, var_names=["beta"], combined=True, backend="matplotlib");
else:
    print("no features in the model: nothing to show")

# %% [markdown]
# ## PSIS-LOO: the full model against simpler variants

# %%
loo = d.get("loo", {})
display(pd.DataFrame({k: v for k, v in loo.items() if isinstance(v, dict)}).T)
print("best:", loo.get("best"), " Pareto k:", json.dumps(d.get("pareto_k", {})))
if "loo" in dt.children:  # PSIS-LOO per held-out block, kept by the fit stage
    pointwise = dt["loo"].to_dataset()
    print({k: pointwise.attrs[k] for k in ("elpd_loo", "se", "p_loo", "n_samples")})
    worst = pointwise["pareto_k"].to_series().sort_values(ascending=False).head(5)
    print("largest Pareto k (block: k):", worst.round(2).to_dict())

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
# Reads the pipeline's artefacts through `model.artefacts.load_run`; writes nothing.

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

from model.artefacts import load_run

ROOT = Path(os.environ.get("CLASHCAST_ROOT", Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))
run = load_run(ROOT)
idata = run.idata
print(idata.groups)

# %% [markdown]
# ## The diagnostics gate

# %%
d = run.diagnostics
print(f"gate: {d.get('gate')}  failed checks: {d.get('failed_checks')}")
display(pd.Series({k: d.get(k) for k in ("r_hat_max", "ess_bulk_min", "ess_tail_min", "divergences",
                                         "bfmi_min", "sampling_seconds", "ess_bulk_per_second", "sampler")}))

# %%
post = idata["posterior"].to_dataset()
HYPER = [v for v in ("intercept", "sigma_country", "sigma_region", "sigma_beta_horizon", "sigma_beta_country")
         if v in post and post[v].ndim == 2]
display(azs.summary(idata, var_names=HYPER + [v for v in ("beta_mu",) if v in post]))

# %% [markdown]
# ## Posterior predictive check
#
# The outcome is binary, so the check is a calibration curve (PAVA) of the posterior predictive
# against the observations, plus the overall clash rate as a test statistic. When the fit stored
# no posterior predictive, it is drawn here: P(clash) per row and draw is the posterior `p` if
# stored, else recovered exactly from the Bernoulli log-likelihood (p = e^ll where y = 1, else
# 1 − e^ll).

# %%
dt = idata.copy()
if "posterior_predictive" not in dt.children:
    y_obs = dt["observed_data"]["clash_any"]
    if "p" in post:
        p = post["p"]
    else:
        lik = np.exp(dt["log_likelihood"]["clash_any"])
        p = xr.where(y_obs == 1, lik, 1 - lik).transpose("chain", "draw", ...)
    rng = np.random.default_rng(0)
    dt["posterior_predictive"] = xr.DataTree(
        xr.Dataset({"clash_any": (p.dims, rng.binomial(1, p.clip(0, 1).values))}, coords=p.coords)
    )
azp.plot_ppc_pava(dt, backend="matplotlib");

# %%
y = dt["observed_data"]["clash_any"].values
rates = dt["posterior_predictive"]["clash_any"].mean("obs_id").values.ravel()
fig = Figure(figsize=(5, 3), layout="constrained")
ax = fig.subplots()
ax.hist(rates, bins=30, color="#9ecae1")
ax.axvline(y.mean(), color="#c0392b", label=f"observed {y.mean():.1%}")
ax.set_xlabel("share of rows with a clash (posterior predictive)")
ax.legend()
display(fig)

# %% [markdown]
# ## LOO-PIT
#
# For a calibrated model the leave-one-out probability integral transform is uniform; the
# envelope shows what sampling noise allows.

# %%
azp.plot_loo_pit(dt, backend="matplotlib");

# %% [markdown]
# ## Hyper-parameters: pair plot (divergences marked) and prior against posterior

# %%
azp.plot_pair(dt, var_names=HYPER, backend="matplotlib");

# %%
if "prior" in dt.children:
    azp.plot_prior_posterior(dt, var_names=HYPER, backend="matplotlib");
else:
    print("no prior group in the posterior file")

# %%
azp.plot_forest(dt, var_names=["beta"], combined=True, backend="matplotlib");

# %% [markdown]
# ## PSIS-LOO: the full model against simpler variants

# %%
loo = d.get("loo", {})
display(pd.DataFrame({k: v for k, v in loo.items() if isinstance(v, dict)}).T)
print("best:", loo.get("best"), " Pareto k:", json.dumps(d.get("pareto_k", {})))
if "log_likelihood" in dt.children:
    print(azs.loo(dt))

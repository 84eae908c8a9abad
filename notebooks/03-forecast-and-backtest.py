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
# # 03 — The forecast and the backtest
#
# The forecast behind the report, region by region, the scenarios, and how such forecasts did on
# data they had not seen: scores by step and origin against each baseline, skill with intervals,
# calibration. Reads the pipeline's artefacts through `model.reporting.artefacts.load_run`; writes nothing.

# %%
# %matplotlib inline
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from model.reporting import plots
from model.reporting.artefacts import contributions, level_breakdown, load_run, p_any_draws, previous_origin

ROOT = Path(os.environ.get("CLASHCAST_ROOT", Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))
run = load_run(ROOT)
print(f"origin {run.origin.date()}, horizon {run.horizon}, gate {run.diagnostics.get('gate')}")

# %% [markdown]
# ## Forecast table (every region)

# %%
fc = run.forecast
wide = fc.pivot_table(index=["rank", "region", "country"], columns="horizon",
                      values=["p_mean", "p_q05", "p_q95"]).sort_index()
display(wide.style.format("{:.1%}"))
any_ = p_any_draws(run)
if any_ is not None:
    display(any_.sort_values("any_mean", ascending=False).style.format("{:.1%}"))

# %%
prev = previous_origin(run)
print("previous origin:", prev["origin"], "—", prev["source"])
if prev["step1"] is not None:
    now = fc[fc.horizon == 1].set_index("region")["p_mean"]
    display((100 * (now - prev["step1"])).rename("change, pts").sort_values().to_frame())

# %%
fig, _ = plots.plot_risk_map(run.geometry, fc)
display(fig)

# %%
top = fc.sort_values("rank").drop_duplicates("region")["region"].head(run.params.report.regions_over_time)
fig, _ = plots.plot_risk_over_time(run.panel, fc, list(top), predictions=run.predictions,
                                   history_periods=run.params.report.history_periods)
display(fig)

# %% [markdown]
# ## Drivers

# %%
levels = level_breakdown(run, list(top))
if levels is not None:
    display(levels.style.format("{:.1%}").set_caption("Where each forecast starts (the offset)"))
contrib, how = contributions(run, list(top))
if contrib is None:
    print(how)
else:
    fig, _ = plots.plot_coefficients(run.idata)
    display(fig)
    print("standardised with", how)
    fig, _ = plots.plot_contributions(contrib)
    display(fig)

# %% [markdown]
# ## Scenarios

# %%
if run.scenarios is None:
    print(run.missing["scenarios"])
else:
    display(run.scenarios)

# %% [markdown]
# ## Backtest

# %%
if run.backtest is None:
    print(run.missing["backtest"])
else:
    bt = run.backtest
    for name, w in bt["windows"].items():
        print(name, {k: w.get(k) for k in ("first_origin", "last_origin", "origins", "rows", "prevalence")})
        skill = pd.DataFrame([{"baseline": b, "score": s, **v} for b, by in w["skill"].items()
                              for s, v in by.items()])
        display(skill.style.set_caption(f"{name} window: skill of the model against each baseline"))
        within = pd.DataFrame([{"baseline": b, "score": s, **v} for b, by in w["within_h"]["skill"].items()
                               for s, v in by.items()])
        display(within.style.set_caption(f"{name} window: skill of 'any clash within H'"))
    fig, _ = plots.plot_skill(bt["windows"]["test"]["skill"] if "test" in bt["windows"] else {})
    display(fig)

# %% [markdown]
# ## The memory chosen on the dev window
#
# Every candidate level (recent half-life, pooling, long-run half-life) with its dev scores,
# best Brier first; the one the test window and the forecast use is marked. A candidate close
# to the chosen one on Brier is no better in any sense the dev window can tell (README, "The
# memory").

# %%
if run.backtest is None or "model_selection" not in run.backtest:
    print(run.missing.get("backtest", "backtest.json has no model_selection (an older run)"))
else:
    from model.results import At, ModelSelection

    sel = ModelSelection.from_json(run.backtest["model_selection"], At("backtest.json"))
    print(sel.describe(run.facts.period_word))
    cands = pd.DataFrame([{**c.settings, **c.dev} for c in sel.candidates])
    cands["chosen"] = cands["offset"] == sel.chosen["offset"]
    display(cands.sort_values("brier").style.format(precision=4).set_caption(
        f"{len(cands)} candidate memories, dev window ({sel.criterion})"))

# %%
pred = run.predictions
if pred is not None:
    models = [c for c in ("model", "climatology", "ewma", "markov", "logistic", "global_rate") if c in pred]
    brier = pd.DataFrame({m: ((pred[m] - pred["y"]) ** 2).groupby(pred["horizon"]).mean() for m in models})
    display(brier.style.format("{:.4f}").set_caption("Brier score by step (lower is better)"))
    eps = 1e-9
    logs = pd.DataFrame({m: -(pred["y"] * np.log(pred[m] + eps) + (1 - pred["y"]) * np.log(1 - pred[m] + eps))
                         .groupby(pred["horizon"]).mean() for m in models})
    display(logs.style.format("{:.4f}").set_caption("Log score by step (lower is better)"))
    by_origin = pd.DataFrame({m: ((pred[m] - pred["y"]) ** 2).groupby(pred["origin"]).mean() for m in models})
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    by_origin.plot(ax=ax, lw=1, marker=".")
    ax.set_ylabel("Brier score")
    ax.set_title("Brier score by origin")
    display(fig)
    panels = {"each step": pred}
    if run.within is not None:
        panels["any within H"] = run.within
    fig, _ = plots.plot_reliability(panels, columns=["model", "ewma", "climatology"])
    display(fig)

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
# # 01 — Incidents and the panel
#
# What went into the model: the coded incidents that ingest kept (and what it rejected and
# why), and the region × period panel built from them — clash outcome, counts and features.
# Reads the pipeline's artefacts through `model.reporting.artefacts.load_run`; writes nothing.
# Set `CLASHCAST_ROOT` to read another run (default: the repository this notebook is in).

# %%
# %matplotlib inline
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from model.reporting.artefacts import load_run

ROOT = Path(os.environ.get("CLASHCAST_ROOT", Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))
run = load_run(ROOT)
panel = run.panel
print(f"run at {ROOT.resolve()}: {panel.sizes['region']} regions × {panel.sizes['period']} periods "
      f"({run.facts.freq}), window {panel.attrs.get('window_start')} – {panel.attrs.get('window_end')}")

# %% [markdown]
# ## Ingest: what was read, kept and rejected

# %%
if run.ingest is None:
    print(run.missing["ingest"])
else:
    sources = pd.DataFrame(run.ingest["sources"]).T
    display(sources.drop(columns=["reasons"], errors="ignore"))
    reasons = pd.DataFrame(
        [(s, r, n) for s, v in run.ingest["sources"].items() for r, n in v.get("reasons", {}).items()],
        columns=["source", "reason", "rows"],
    )
    display(reasons.sort_values("rows", ascending=False))

# %% [markdown]
# ## Incidents

# %%
events = run.events
if events is None:
    print(run.missing["events"])
else:
    display(events.groupby(["category", "side1", "side2"]).size().rename("events").reset_index()
            .sort_values("events", ascending=False).head(15))
    display(pd.concat([events["actor1"], events["actor2"]]).value_counts().head(15).rename("events"))
    display(events["placed_by"].value_counts().rename("events placed by"))

# %%
if events is not None:
    monthly = events.set_index("date").groupby("category").resample("MS").size().unstack(0).fillna(0)
    fig = Figure(figsize=(8, 3), layout="constrained")
    ax = fig.subplots()
    monthly.plot(ax=ax, lw=1)
    ax.set_ylabel("events per month")
    ax.set_title("Coded incidents by category")
    display(fig)

# %% [markdown]
# ## The panel: clashes by region and over time

# %%
clash_any = panel["clash_any"].to_pandas()
summary = pd.DataFrame({
    "country": panel["country"].to_pandas(),
    "clash_rate": clash_any.mean(axis=1),
    "clashes": panel["clash"].sum("period").to_pandas(),
    "events": panel["events"].sum("period").to_pandas(),
}).sort_values("clash_rate", ascending=False)
display(summary.style.format({"clash_rate": "{:.1%}"}))

# %%
fig = Figure(figsize=(9, 0.28 * panel.sizes["region"] + 1.5), layout="constrained")
ax = fig.subplots()
order = summary.index
im = ax.imshow(panel["clash"].sel(region=order).values, aspect="auto", cmap="Reds", interpolation="none")
ax.set_yticks(range(len(order)), [str(r) for r in order], fontsize=7)
periods = pd.DatetimeIndex(panel["period"].values)
ticks = np.linspace(0, len(periods) - 1, min(8, len(periods))).astype(int)
ax.set_xticks(ticks, [periods[i].strftime("%Y-%m") for i in ticks], fontsize=7)
fig.colorbar(im, ax=ax, label="clashes")
ax.set_title("Clashes per region and period")
display(fig)

# %% [markdown]
# ## Features
#
# Every feature at period t uses data up to the end of t only. `*_km` features may be NaN (a side
# absent); the model uses the derived `_near` / `_absent` features instead.

# %%
features = list(run.facts.feature_names)
frame = panel[features].to_dataframe()[features]
display(frame.describe().T.assign(missing=frame.isna().mean()))

# %%
corr = frame.corr()
fig = Figure(figsize=(7, 6), layout="constrained")
ax = fig.subplots()
im = ax.imshow(corr.values, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(len(features)), features, rotation=90, fontsize=6)
ax.set_yticks(range(len(features)), features, fontsize=6)
fig.colorbar(im, ax=ax, label="correlation")
ax.set_title("Feature correlations (all region × period rows)")
display(fig)

# %%
# How well does each feature at t separate periods followed by a clash at t + 1?
nxt = panel["clash_any"].shift(period=-1).to_dataframe()["clash_any"]
sep = pd.DataFrame({f: frame[f].groupby(nxt).mean() for f in features}).T
sep.columns = [f"mean when next period {'clash' if c else 'quiet'}" for c in sep.columns]
display(sep)

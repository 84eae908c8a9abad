"""Figures for the report and the notebooks: each ``plot_*`` returns ``(fig, ax)``.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), are never
saved here, and take plain data (DataFrames, DataArrays, dicts) so that they can be tested on a
tiny run. Probabilities are drawn on a 0–100 % scale and always with their interval.

Only the report, its stage and the notebooks import this module; the model core does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from model.inference import equation as eq

RISK_CMAP = "YlOrRd"
WIDTH_CMAP = "Blues"
FAN = "#c0392b"
OBS = "#7f8c8d"
BASELINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def _t(text: object) -> str:
    """Text from the data, safe for matplotlib (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _short(text: object, n: int = 28) -> str:
    s = _t(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def _geom_patch(geom: Any, **kwargs: Any) -> PathPatch:
    """A matplotlib patch for a shapely (Multi)Polygon, holes included."""
    polys = getattr(geom, "geoms", [geom])
    verts: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2]
            c = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
            c[0], c[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    return PathPatch(MplPath(np.concatenate(verts), np.concatenate(codes)), **kwargs)


def _overlay(ax: Any, borders: Mapping[str, Any], positions: pd.DataFrame | None) -> None:
    """Borders without fill (the governorates over a cell map) and positions as triangles."""
    for geom in borders.values():
        ax.add_patch(_geom_patch(geom, facecolor="none", edgecolor="#333", lw=0.6))
    if positions is not None and len(positions):
        ax.scatter(positions["longitude"], positions["latitude"], marker="^", s=8, c="k", lw=0)


def plot_risk_map(
    geometry: Mapping[str, Any],
    forecast: pd.DataFrame,
    *,
    horizon: int = 1,
    label_top: int = 6,
    borders: Mapping[str, Any] | None = None,
    positions: pd.DataFrame | None = None,
) -> tuple[Figure, np.ndarray]:
    """Map of P(clash) at one step (left) and the width of its 90% interval (right).

    Parameters
    ----------
    geometry : mapping
        Region name -> shapely geometry in lon/lat.
    forecast : DataFrame
        ``reports/forecast.csv`` rows (``region, horizon, p_mean, p_q05, p_q95``).
    horizon : int
        The step to map.
    label_top : int
        Label this many highest-risk regions by name (all would crowd a large map); with
        ``borders`` (cells) by their rank among the regions, as the report's tables number them.
    borders : mapping, optional
        Polygons drawn over the regions without fill: the governorates of a cell map.
    positions : DataFrame, optional
        ``latitude, longitude`` of positions to mark (triangles).
    """
    rows = forecast[forecast["horizon"] == horizon].set_index("region")
    fig = Figure(figsize=(7.2, 3.6), layout="constrained")
    axs = fig.subplots(1, 2)
    width = rows["p_q95"] - rows["p_q05"]
    panels = (
        (axs[0], rows["p_mean"], RISK_CMAP, f"P(clash), step {horizon} (mean)"),
        (axs[1], width, WIDTH_CMAP, "Uncertainty: 90% interval width"),
    )
    if borders and "rank" in rows:
        ranked = rows["rank"].nsmallest(label_top)
        numbers = {n: str(int(r)) for n, r in ranked.items()}
    else:
        ranked = rows["p_mean"].nlargest(label_top)
        numbers = {}
    top = set(ranked.index)
    for ax, values, cmap, title in panels:
        vmax = max(float(values.max()), 0.05) if len(values) else 1.0
        norm = Normalize(0, vmax)
        sm = ScalarMappable(norm=norm, cmap=cmap)
        for name, geom in geometry.items():
            if name in values.index:
                face = sm.to_rgba(float(values[name]))
                edge, lw = ("#bbb", 0.2) if borders else ("#444", 0.4)
                ax.add_patch(_geom_patch(geom, facecolor=face, edgecolor=edge, lw=lw))
            else:
                ax.add_patch(
                    _geom_patch(geom, facecolor="#eee", edgecolor="#999", lw=0.4, hatch="//")
                )
        _overlay(ax, borders or {}, positions)
        if ax is axs[0]:
            for name in top & set(geometry):
                pt = geometry[name].representative_point()
                ax.annotate(
                    numbers[name] if borders else _short(name, 16),
                    (pt.x, pt.y),
                    ha="center",
                    va="center",
                    fontsize=6,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
                )
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        cb = fig.colorbar(sm, ax=ax, shrink=0.8, format=lambda x, _: f"{100 * x:.0f}%")
        cb.ax.tick_params(labelsize=7)
    missing = sorted(set(rows.index) - set(geometry))
    if missing:
        fig.text(0.01, 0.01, f"no boundary for: {_short(', '.join(missing), 80)}", fontsize=6)
    return fig, axs


def plot_risk_over_time(
    panel: xr.Dataset,
    forecast: pd.DataFrame,
    regions: Sequence[str],
    *,
    history_periods: int = 52,
    predictions: pd.DataFrame | None = None,
    rate_window: int = 13,
) -> tuple[Figure, np.ndarray]:
    """Small multiples per region: observed clashes, trailing clash rate and the forecast fan.

    Bars (right axis) are observed clash counts; the grey line is the observed share of periods
    with a clash over the trailing ``rate_window`` periods; blue dots are the backtest's
    one-step forecasts (when given); red is the forecast mean with its 90% band.
    """
    n = max(len(regions), 1)
    ncols = 2 if n > 1 else 1
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(7.2, 1.9 * nrows + 0.4), layout="constrained")
    axs = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, squeeze=False)).ravel()
    periods = pd.DatetimeIndex(panel["period"].values)[-history_periods:]
    # The trailing rate over the whole panel, then cut: no spurious 0%/100% at the window's start.
    rates = panel["clash_any"].astype(float).rolling(period=rate_window, min_periods=rate_window)
    rates = rates.mean().sel(period=periods)
    for k, (ax, region) in enumerate(zip(axs, regions, strict=False)):
        counts = panel["clash"].sel(region=region, period=periods).values
        ax2 = ax.twinx()
        ax2.bar(periods, counts, width=5, color=OBS, alpha=0.35, label="clashes (count)")
        ax2.set_ylim(0, max(3, counts.max() * 2.2))
        ax2.tick_params(labelsize=6, colors=OBS)
        if k % ncols == ncols - 1 or k == len(regions) - 1:
            ax2.set_ylabel("clashes", fontsize=6, color=OBS)
        rate = rates.sel(region=region).values
        ax.plot(periods, 100 * rate, color="#555", lw=1, label=f"observed rate ({rate_window})")
        if predictions is not None and len(predictions):
            pr = predictions[(predictions["region"] == region) & (predictions["horizon"] == 1)]
            ax.plot(
                pd.to_datetime(pr["target_period"]),
                100 * pr["model"],
                "o",
                ms=2.5,
                color=BASELINE_COLOURS[0],
                label="backtest, 1 step",
            )
        fc = forecast[forecast["region"] == region].sort_values("horizon")
        x = pd.to_datetime(fc["period_start"])
        ax.fill_between(
            x, 100 * fc["p_q05"], 100 * fc["p_q95"], color=FAN, alpha=0.25, label="forecast 90%"
        )
        ax.plot(x, 100 * fc["p_mean"], color=FAN, lw=1.5, marker=".", label="forecast mean")
        ax.set_ylim(0, 100)
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.set_title(_short(region, 40), fontsize=8, loc="left")
        ax.tick_params(labelsize=6)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0f}%")
    for ax in axs[len(regions) :]:
        ax.set_visible(False)
    for ax in axs[-ncols:]:
        for lab in ax.get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
    handles, labels = axs[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=7, frameon=False)
    return fig, axs


def plot_coefficients(
    idata: xr.DataTree, *, var_name: str = eq.BETA, prob: float = 0.9
) -> tuple[Figure, Axes]:
    """Posterior mean and central interval of each feature's effect (log-odds per SD), by step."""
    post = idata["posterior"].to_dataset()
    da = post[var_name] if var_name in post else post[eq.BETA_MU]
    if "horizon" not in da.dims:
        da = da.expand_dims(horizon=[1])
    features = [str(f) for f in da["feature"].values]
    horizons = list(da["horizon"].values)
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    q = da.quantile([lo_q, 0.5, hi_q], dim=("chain", "draw"))
    mean = da.mean(("chain", "draw"))
    fig = Figure(figsize=(7.2, 0.32 * len(features) + 1.2), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(features))
    off = np.linspace(-0.3, 0.3, len(horizons)) if len(horizons) > 1 else [0.0]
    cmap = _colours(len(horizons))
    for k, h in enumerate(horizons):
        m = mean.sel(horizon=h).values
        lo = q.sel(horizon=h, quantile=lo_q).values
        hi = q.sel(horizon=h, quantile=hi_q).values
        ax.errorbar(
            m,
            y + off[k],
            xerr=[m - lo, hi - m],
            fmt="o",
            ms=3,
            lw=1,
            color=cmap[k],
            label=f"step {h}",
        )
    ax.axvline(0, color="#888", lw=0.8)
    ax.set_yticks(y, [_short(f, 40) for f in features], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"effect on log-odds per SD of the feature (mean, {prob:.0%} interval)", fontsize=8
    )
    ax.tick_params(axis="x", labelsize=7)
    fig.legend(fontsize=7, ncol=min(len(horizons), 8), loc="outside lower center", frameon=False)
    return fig, ax


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cm = colormaps["viridis"]
    return [cm(x) for x in np.linspace(0.1, 0.85, max(n, 1))]


def plot_contributions(contrib: pd.DataFrame) -> tuple[Figure, Axes]:
    """Heat map of each feature's contribution to each region's log-odds (rows: regions).

    Parameters
    ----------
    contrib : DataFrame
        Index regions, columns features, values the posterior-mean contribution
        (coefficient × standardised feature value at the origin) on the log-odds scale.
    """
    n_r, n_f = contrib.shape
    fig = Figure(figsize=(7.2, 0.34 * n_r + 1.9), layout="constrained")
    ax = fig.subplots()
    vals = contrib.to_numpy(dtype=float)
    vmax = max(float(np.nanmax(np.abs(vals))) if vals.size else 1.0, 0.1)
    im = ax.imshow(vals, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
    for i in range(n_r):
        for j in range(n_f):
            v = vals[i, j]
            ax.text(
                j,
                i,
                f"{v:+.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if abs(v) > 0.6 * vmax else "black",
            )
    ax.set_yticks(range(n_r), [_short(r, 26) for r in contrib.index], fontsize=7)
    ax.set_xticks(
        range(n_f), [_short(c, 24) for c in contrib.columns], fontsize=6, rotation=35, ha="right"
    )
    cb = fig.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label("log-odds contribution", fontsize=7)
    cb.ax.tick_params(labelsize=6)
    return fig, ax


def plot_reliability(
    panels: Mapping[str, pd.DataFrame],
    *,
    columns: Sequence[str] = ("model",),
    bins: int = 10,
    binning: str = "quantile",
) -> tuple[Figure, np.ndarray]:
    """Reliability diagrams: observed clash rate against forecast probability, by bin.

    Parameters
    ----------
    panels : mapping of str to DataFrame
        Title → prediction rows (``y`` and one column per forecaster), one panel each (e.g.
        "next weeks" and "within H").
    columns : sequence of str
        Forecasters drawn in every panel (those a panel's rows lack are skipped).
    bins, binning : int, str
        The calibration bins of the backtest's ECE (``backtest.calibration_bins`` and
        ``calibration_binning``: quantile bins by default, about equal counts, so that low
        probabilities are resolved; :func:`model.backtesting.scoring.bin_index`); marker area
        follows the bin's count. Each panel's axes end a little above its largest point (at
        least 5%), so that a rare dyad's bins are not crowded into a corner.
    """
    from model.backtesting.scoring import reliability_table

    fig = Figure(figsize=(3.5 * max(len(panels), 1), 3.5), layout="constrained")
    axs = np.atleast_1d(fig.subplots(1, max(len(panels), 1), squeeze=False)[0])
    for ax, (title, rows) in zip(axs, panels.items(), strict=False):
        ax.plot([0, 100], [0, 100], color="#888", lw=0.8, ls="--", label="perfect")
        top = 0.0
        for k, name in enumerate(c for c in columns if c in rows):
            tab = reliability_table(rows, bins, forecaster=name, binning=binning)
            size = 8 + 60 * tab["count"] / max(tab["count"].max(), 1)
            colour = BASELINE_COLOURS[k % len(BASELINE_COLOURS)]
            x, y = 100 * tab["forecast_mean"], 100 * tab["observed_rate"]
            ax.plot(x, y, "-", lw=1, color=colour, label=_t(name))
            ax.scatter(x, y, s=size, color=colour)
            top = max(top, np.nanmax([x.max(), y.max(), 0.0]))
        lim = float(min(100.0, max(5.0, 1.1 * top)))
        ax.set(xlim=(0, lim), ylim=(0, lim), title=_t(title))
        ax.title.set_fontsize(9)
        ax.set_xlabel("forecast probability", fontsize=8)
        ax.set_ylabel("observed frequency", fontsize=8)
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}%")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}%")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    return fig, axs


def plot_skill(skill: Mapping[str, Mapping[str, Mapping[str, float]]]) -> tuple[Figure, Axes]:
    """Skill of the model against each baseline, per score, with its interval.

    Parameters
    ----------
    skill : mapping
        ``baseline -> score -> {mean, ci_low, ci_high}`` (``backtest.json``'s ``skill``).
    """
    baselines = list(skill)
    scores = sorted({s for b in skill.values() for s in b})
    fig = Figure(
        figsize=(7.2, 0.26 * len(baselines) * max(len(scores), 1) + 1.0), layout="constrained"
    )
    ax = fig.subplots()
    y = np.arange(len(baselines), dtype=float)
    height = 0.8 / max(len(scores), 1)
    for k, s in enumerate(scores):
        vals = [skill[b].get(s, {}) for b in baselines]
        m, lo, hi = (
            100 * np.array([np.nan if v.get(k) is None else v[k] for v in vals], dtype=float)
            for k in ("mean", "ci_low", "ci_high")
        )
        yy = y + (k - (len(scores) - 1) / 2) * height
        ax.barh(
            yy,
            m,
            height=height * 0.9,
            color=BASELINE_COLOURS[k % 5],
            alpha=0.8,
            label=f"{_t(s)} skill",
        )
        ax.errorbar(
            m,
            yy,
            xerr=[np.nan_to_num(m - lo), np.nan_to_num(hi - m)],
            fmt="none",
            color="black",
            lw=1,
            capsize=2,
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"vs {_t(b)}" for b in baselines], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        "skill = 1 − score(model) / score(baseline)  (90% interval; > 0 is better)", fontsize=8
    )
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0f}%")
    ax.tick_params(axis="x", labelsize=7)
    fig.legend(fontsize=7, frameon=False, loc="outside lower center", ncol=len(scores))
    return fig, ax

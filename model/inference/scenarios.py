"""What-if scenarios: change features at the origin for named regions, compare forecasts.

A change names a panel variable and either sets it or shifts it, for the scenario's regions at
the origin period only:

- a distance ``prox_<pair>_km`` (km; NaN = absent): the model's derived ``prox_<pair>_near`` and
  ``prox_<pair>_absent`` are recomputed with :func:`model.data.features.derive_proximity`, the one
  place that transform lives (``set`` makes the pair present; ``shift`` of an absent distance
  leaves it absent);
- ``clash`` (the count at the origin): ``clash_any`` and the features computed from it at that
  period are recomputed — ``clash_decay_hl{h}`` (the decayed sum moves by the same amount),
  ``event_decay_hl{h}`` (the added clashes are events too), ``clash_share_hl{h}`` and
  ``clash_level_hl{h}`` (the decayed shares of weeks with a clash; the model's offset is one)
  and ``since_clash``.
  Neighbours' spill-over features are not propagated (the panel carries no neighbour lists);
- any other variable: its value, in its own units.

Baseline and scenario use the same posterior draws, so their difference is paired draw by draw
and a scenario without an effective change gives exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from model.config import Scenario, ScenarioChange
from model.data import feature_names as fn
from model.data.features import decayed_share_logit, derive_proximity, level_logit
from model.data.panel_facts import PanelFacts
from model.inference.forecast import SAMPLE, forecast_draws, resolve_origin


def _new_value(old: np.ndarray, change: ScenarioChange) -> np.ndarray:
    if change.set is not None:
        return np.full_like(old, float(change.set), dtype=np.float64)
    return old + float(change.shift)


def _apply_km(panel: xr.Dataset, change: ScenarioChange, sel: dict, scale_km: float) -> None:
    old = panel[change.feature].loc[sel].values.astype(np.float64)
    km = _new_value(old, change)
    if np.any(km[np.isfinite(km)] < 0):
        raise ValueError(f"scenario makes {change.feature} negative")
    panel[change.feature].loc[sel] = km
    near, absent = derive_proximity(km, scale_km)
    pair = fn.parse(change.feature).pair
    if fn.proximity(pair, "near") in panel:
        panel[fn.proximity(pair, "near")].loc[sel] = near
    if fn.proximity(pair, "absent") in panel:
        panel[fn.proximity(pair, "absent")].loc[sel] = np.asarray(absent, dtype=np.float64)


def _apply_clash(panel: xr.Dataset, change: ScenarioChange, sel: dict) -> None:
    old = panel["clash"].loc[sel].values.astype(np.float64)
    new = np.maximum(np.round(_new_value(old, change)), 0.0)
    delta = new - old
    panel["clash"].loc[sel] = new.astype(panel["clash"].dtype)
    panel["clash_any"].loc[sel] = (new > 0).astype(panel["clash_any"].dtype)
    for name in list(panel.data_vars):
        f = fn.parse(str(name))
        if f.family == "decay" and f.kind in ("clash", "event"):
            current = np.expm1(panel[name].loc[sel].values.astype(np.float64))
            panel[name].loc[sel] = np.log1p(np.maximum(current + delta, 0.0))
    _recompute_shares(panel, sel["period"])
    if fn.SINCE_CLASH in panel:
        cap = PanelFacts.from_attrs(panel).since_clash_cap
        t = sel["period"]
        history = panel["clash"].sel(region=sel["region"], period=slice(None, t))
        values = []
        for r in sel["region"]:
            occurred = np.flatnonzero(history.sel(region=r).values > 0)
            n = history.sizes["period"]
            gap = cap if occurred.size == 0 else min(n - 1 - occurred[-1], cap)
            values.append(np.log1p(gap))
        panel[fn.SINCE_CLASH].loc[sel] = np.array(values, dtype=np.float64)


def _recompute_shares(panel: xr.Dataset, t: pd.Timestamp) -> None:
    """``clash_share_hl{h}`` and ``clash_level_hl{h}`` at ``t`` for every region, from the
    changed ``clash_any`` history (with the panel's own settings, from its attributes).

    Every region moves a little, because the shares are shrunk toward the pooled share.
    """
    history = panel["clash_any"].sel(period=slice(None, t)).transpose("region", "period")
    occurred = history.values > 0
    where = {"period": t, "region": history["region"].values}
    facts = PanelFacts.from_attrs(panel)
    for name in list(panel.data_vars):
        f = fn.parse(str(name))
        if f.family not in fn.SHARE_KINDS:
            continue
        h = f.half_life
        if f.family == "share":
            value = decayed_share_logit(occurred, h)
        else:  # a candidate memory names its own pooling (model.data.memory)
            long = f.long_half_life or facts.level_long_half_life
            value = level_logit(occurred, h, long, f.prior or facts.level_prior)
        panel[name].loc[where] = value[:, -1]


def apply_scenario(
    panel: xr.Dataset, scenario: Scenario, origin: object | None, scale_km: float
) -> xr.Dataset:
    """A copy of ``panel`` with the scenario's changes applied at the origin.

    Raises
    ------
    ValueError
        A region or variable the panel does not have.
    """
    out = panel.copy(deep=True)
    for name in out.data_vars:
        if out[name].dtype.kind in "iu":
            out[name] = (
                out[name].astype(np.float64) if name not in ("clash", "clash_any") else out[name]
            )
    t = resolve_origin(panel, origin)
    sel = {"region": scenario_regions(panel, scenario), "period": t}
    for change in scenario.changes:
        if change.feature not in out.data_vars:
            raise ValueError(
                f"scenario {scenario.name!r}: panel has no variable {change.feature!r}"
            )
        if fn.parse(change.feature).part == "km":
            _apply_km(out, change, sel, scale_km)
        elif change.feature == "clash":
            _apply_clash(out, change, sel)
        else:
            old = out[change.feature].loc[sel].values.astype(np.float64)
            out[change.feature].loc[sel] = _new_value(old, change)
    return out


def scenario_regions(panel: xr.Dataset, scenario: Scenario) -> list[str]:
    """The panel regions a scenario names: ``*`` for all; on a cell panel a governorate's name
    stands for its cells (those holding most of their area in it) and a cell may be named by its
    ``gid``. Raises on a name the panel does not know."""
    all_regions = [str(r) for r in panel["region"].values]
    if scenario.regions == ["*"]:
        return all_regions
    aliases: dict[str, list[str]] = {r: [r] for r in all_regions}
    if "governorate" in panel.coords:
        for r, g, gid in zip(
            all_regions, panel["governorate"].values, panel["gid"].values, strict=True
        ):
            aliases.setdefault(str(g), []).append(r)
            aliases.setdefault(str(int(gid)), [r])
    unknown = sorted(set(scenario.regions) - set(aliases))
    if unknown:
        raise ValueError(f"scenario {scenario.name!r}: unknown regions {unknown}")
    return list(dict.fromkeys(r for name in scenario.regions for r in aliases[name]))


def compare(
    baseline: xr.DataArray, scenario: xr.DataArray, interval: tuple[float, float]
) -> xr.Dataset:
    """Posterior summaries of scenario − baseline per region and horizon (paired draws)."""
    diff = scenario - baseline
    lo, hi = interval
    q = diff.quantile([lo, hi], dim=SAMPLE)
    return xr.Dataset(
        {
            "p_baseline_mean": baseline.mean(SAMPLE),
            "p_scenario_mean": scenario.mean(SAMPLE),
            "diff_mean": diff.mean(SAMPLE),
            "diff_q05": q.sel(quantile=lo, drop=True),
            "diff_q95": q.sel(quantile=hi, drop=True),
            "p_scenario_gt_baseline": (scenario > baseline).mean(SAMPLE),
        }
    )


def run_scenarios(
    idata: xr.DataTree,
    panel: xr.Dataset,
    origin: object | None,
    scenarios: Sequence[Scenario],
    scale_km: float,
    interval: tuple[float, float] = (0.05, 0.95),
    baseline: xr.DataArray | None = None,
) -> pd.DataFrame:
    """The rows of ``reports/scenarios.csv``: one per scenario, named region and horizon."""
    if baseline is None:
        baseline = forecast_draws(idata, panel, origin)
    columns = [
        "scenario",
        "description",
        "region",
        "country",
        "horizon",
        "p_baseline_mean",
        "p_scenario_mean",
        "diff_mean",
        "diff_q05",
        "diff_q95",
        "p_scenario_gt_baseline",
    ]
    rows = []
    for sc in scenarios:
        changed = forecast_draws(idata, apply_scenario(panel, sc, origin, scale_km), origin)
        regions = scenario_regions(panel, sc)
        summary = compare(baseline.sel(region=regions), changed.sel(region=regions), interval)
        df = summary.to_dataframe().reset_index()
        df["scenario"] = sc.name
        df["description"] = sc.description
        rows.append(df)
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True)
    out["horizon"] = out["horizon"].astype(int)
    return out[columns]

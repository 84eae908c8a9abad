"""The forecast report: one plain-data context, rendered to HTML and to PDF from one template.

:func:`build_context` turns a :class:`~model.reporting.artefacts.Run` into a dict of strings,
numbers, lists and embedded figures (base64 PNG data URIs); :func:`render_html` renders
``reports/templates/forecast.html.j2`` with the CSS inlined into one self-contained file (no
network request of any kind); :func:`render_pdf` renders the same HTML to A4 with WeasyPrint,
whose print rules (``@page``) add the title page and page numbers. Jinja autoescaping is on, so
text from the data (region and actor names, notes) is shown as text, never as markup.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from model.backtesting.catalogue import FORECASTERS, REPORTED, WITHIN_FORECASTERS
from model.config import ReportParams
from model.diagnostics_results import DiagnosticsMetrics
from model.inference import equation as eq
from model.inference.forecast import offset_name
from model.paths import TIMING
from model.provenance import code_sha256, package_versions
from model.reporting import plots
from model.reporting.artefacts import (
    Run,
    contributions,
    input_hashes,
    level_breakdown,
    p_any_draws,
    previous_origin,
)
from model.results import BacktestMetrics, Scores, Skill, SkillTable, WindowScores

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[2] / "reports" / "templates"
REPORT_PACKAGES = ("matplotlib", "jinja2", "weasyprint")
DPI = 110


def pct(p: float, digits: int = 0) -> str:
    """A probability as a percentage: "> 99%" above 99%, "< 0.1%" below 0.1%, one decimal below 1%.

    So small risks keep their size and no forecast ever reads as certain ("100%") or impossible.
    """
    if p is None or not np.isfinite(p):
        return "n/a"
    v = 100 * float(p)
    if v == 0:
        return "0%"
    if v < 0.1:
        return "< 0.1%"
    if v > 99:
        return "> 99%"
    if v < 1 and digits == 0:
        return f"{v:.1f}%"
    return f"{v:.{digits}f}%"


def pct_interval(mean: float, lo: float, hi: float) -> str:
    """``12% (7–19%)``: the mean with its interval, compact at the extremes: ``86% (60–>99%)``,
    ``0.3% (<0.1–0.6%)``, ``> 99% (>99%)`` (the table of every region must fit a page)."""
    a, b = (pct(v).replace(" ", "") for v in (lo, hi))
    if a == b:
        return f"{pct(mean)} ({a})"
    return f"{pct(mean)} ({a.rstrip('%')}–{b})"


def fig_uri(fig: Any) -> str:
    """A figure as a base64 PNG data URI (the figure is then closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _forecast_rows(run: Run, prev: dict[str, Any], p_any: pd.DataFrame | None) -> list[dict]:
    fc = run.forecast
    rows = []
    for region, g in fc.sort_values(["rank", "horizon"]).groupby("region", sort=False):
        g = g.set_index("horizon")
        steps = [
            pct_interval(g.at[h, "p_mean"], g.at[h, "p_q05"], g.at[h, "p_q95"])
            for h in sorted(g.index)
        ]
        if p_any is not None and region in p_any.index:
            a = p_any.loc[region]
            any_txt = pct_interval(a["any_mean"], a["any_q05"], a["any_q95"])
        else:
            first = g.iloc[0]
            any_txt = (
                pct_interval(first["p_any_within_horizon"], first["p_any_q05"], first["p_any_q95"])
                if "p_any_q05" in g
                else pct(first["p_any_within_horizon"]) + " (interval n/a)"
            )
        change = None
        if prev["step1"] is not None and region in prev["step1"].index:
            change = 100 * (g.at[1, "p_mean"] - float(prev["step1"][region]))
        rows.append(
            {
                "rank": int(g["rank"].iloc[0]),
                "region": region,
                "gid": int(g["gid"].iloc[0]) if "gid" in g else None,
                "governorate": str(g["governorate"].iloc[0]) if "governorate" in g else None,
                "country": str(g["country"].iloc[0]),
                "steps": steps,
                "any": any_txt,
                "p1": float(g.at[1, "p_mean"]),
                "p_any": float(g["p_any_within_horizon"].iloc[0]),
                "change": "n/a" if change is None else _pts(change),
            }
        )
    return rows


#: Cells listed in a cell run's report table (the rest are in reports/forecast.csv).
CELLS_SHOWN = 30


def _rollup_rows(rollup: pd.DataFrame) -> list[dict[str, Any]]:
    """The governorates of a cell run, rolled up from the cells, ranked by P(any within H)."""
    rows = []
    for region, g in rollup.sort_values(["rank", "horizon"]).groupby("region", sort=False):
        g = g.set_index("horizon")
        first = g.iloc[0]
        rows.append(
            {
                "rank": int(first["rank"]),
                "region": region,
                "steps": [
                    pct_interval(g.at[h, "p_mean"], g.at[h, "p_q05"], g.at[h, "p_q95"])
                    for h in sorted(g.index)
                ],
                "any": pct_interval(
                    first["p_any_within_horizon"], first["p_any_q05"], first["p_any_q95"]
                ),
            }
        )
    return rows


def _pts(change: float) -> str:
    """A change in percentage points; no "-0.0"."""
    return "0.0 pts" if abs(change) < 0.05 else f"{change:+.1f} pts"


def _check_rows(d: DiagnosticsMetrics) -> list[dict[str, Any]]:
    """The gate's checks (:data:`model.diagnostics_results.CHECKS`): value, threshold, outcome."""
    rows = []
    for r in d.checks:
        fmt, op = r.check.fmt, "≤" if r.check.upper else "≥"
        rows.append(
            {
                "name": r.check.label,
                "value": "n/a" if r.value is None else fmt.format(r.value),
                "threshold": "" if r.limit is None else f"{op} {fmt.format(r.limit)}",
                "ok": r.ok,
            }
        )
    return rows


def _loo_rows(d: DiagnosticsMetrics) -> list[dict[str, Any]]:
    """PSIS-LOO of the model and its variants, best first."""
    fits = d.loo.fits
    top = max((v.elpd for v in fits.values()), default=np.nan)
    rows = []
    for k, v in sorted(fits.items(), key=lambda kv: -kv[1].elpd):
        diff = v.elpd - top if v.elpd_diff is None else v.elpd_diff
        rows.append(
            {
                "name": k,
                "elpd": f"{v.elpd:.1f}",
                "se": f"{v.se:.1f}",
                "diff": f"{diff:+.1f}" + ("" if v.se_diff is None else f" ({v.se_diff:.1f})"),
                "p_loo": f"{v.p_loo:.1f}",
                "k_bad": v.pareto_k_bad,
            }
        )
    return rows


def _diagnostics(d: DiagnosticsMetrics) -> dict[str, Any]:
    return {
        "status": str(d.gate).upper(),
        "failed_checks": list(d.failed_checks),
        "checks": _check_rows(d),
        "pareto_k": d.pareto_k,
        "loo": _loo_rows(d),
        "loo_best": d.loo.best,
        "sampler": d.sampling.sampler,
    }


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def _skill_rows(skill: SkillTable) -> list[dict[str, Any]]:
    """Rows of a skill table: baseline, score, skill, interval, DM p-value, interval above 0."""
    rows = []
    for base, by in skill.items():
        for score, v in by.items():
            if not v.defined:
                continue
            p = v.dm_pvalue
            rows.append(
                {
                    "baseline": base,
                    "score": score,
                    "skill": f"{100 * v.mean:+.1f}%",
                    "interval": f"{100 * v.ci_low:+.1f}% to {100 * v.ci_high:+.1f}%",
                    "pvalue": "–" if not _num(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}"),
                    "positive": v.ci_low > 0,
                }
            )
    return rows


def _score_table(scores: Scores, names: Sequence[str]) -> tuple[list[str], list]:
    """The report's scores (:data:`model.backtesting.catalogue.REPORTED`) of each forecaster in
    ``names``; a score no forecaster has is left out."""
    names = [f for f in names if f in scores]
    cols = [s for s in REPORTED if any(_num(scores[f][s.name]) for f in names)]
    return [s.name for s in cols], [
        (f, [s.format(scores[f][s.name]) if _num(scores[f][s.name]) else "–" for s in cols])
        for f in names
    ]


def _window(w: WindowScores) -> dict[str, Any]:
    """One window's figures for the report (test in full, dev in small print)."""
    cols, scores = _score_table(w.scores, FORECASTERS)
    wh = w.within_h
    wcols, wscores = _score_table(wh.scores, WITHIN_FORECASTERS)
    return {
        "span": f"{w.first_origin} – {w.last_origin}",
        "origins": w.origins,
        "rows": w.rows,
        "prevalence": pct(w.prevalence, 1),
        "skill": _skill_rows(w.skill),
        "score_columns": cols,
        "scores": scores,
        "within_rows": wh.rows,
        "within_prevalence": pct(wh.prevalence, 1),
        "within_skill": _skill_rows(wh.skill),
        "within_columns": wcols,
        "within_scores": wscores,
    }


def _bins_words(bins: int, binning: str) -> str:
    """How the calibration bins of ECE and the reliability diagrams were drawn, in words."""
    if binning == "quantile":
        return f"{bins} quantile bins (edges at the forecasts' quantiles: about equal counts)"
    if binning == "events":
        return (
            f"{bins} bins of about equal expected clashes "
            "(edges where the sorted forecasts' running sum splits evenly)"
        )
    return f"{bins} equal-width bins"


def _skill_figure(skill: Skill) -> str:
    """A skill and its 90% interval in percent: ``+6.8% [+3.7, +10.2]``."""
    return f"{100 * skill.mean:+.1f}% [{100 * skill.ci_low:+.1f}, {100 * skill.ci_high:+.1f}]"


def _below_climatology(bt: BacktestMetrics | None, window: int, word: str) -> dict | None:
    """What the report's first page says when the test window's Brier skill against
    climatology is below zero: ``{skill, sentence}`` in plain words (None otherwise, or without
    a test window)."""
    test = None if bt is None else bt.windows.get("test")
    skill = None if test is None else test.skill.get("climatology", {}).get("brier")
    if skill is None or not skill.defined or skill.mean >= 0:
        return None
    figure = _skill_figure(skill)
    sentence = (
        f"On the test window ({test.first_origin} – {test.last_origin}) this model forecast "
        f"worse than climatology, each region's clash rate over the last {window} {word}s: "
        f"Brier skill {figure}. Read its probabilities against that rate, and do not act on "
        "where they differ from it."
    )
    return {"skill": figure, "sentence": sentence}


def _versus(skill: Skill | None, baseline: str, label: str = "") -> str | None:
    """``better than``/``level with``/``worse than`` a baseline, by where the Brier skill's 90%
    interval lies, with the figure (after ``label``); None when the skill is undefined."""
    if skill is None or not skill.defined:
        return None
    if skill.ci_low > 0:
        word = "better than"
    elif skill.ci_high < 0:
        word = "worse than"
    else:
        word = "level with"
    return f"{word} {baseline} ({label}{_skill_figure(skill)})"


def _track_record(bt: BacktestMetrics | None, word: str, horizon: int) -> dict | None:
    """The first page's line on how the forecasts scored on the test window: weekly against
    climatology and each region's recent rate (the EWMA), and "within H" against the recent
    rate of H-period windows, each as better than, level with or worse than it by its 90%
    interval (None without a test window)."""
    test = None if bt is None else bt.windows.get("test")
    if test is None:
        return None
    hl = ""
    if _num(bt.ewma_half_life):
        hl = f", an EWMA with a {bt.ewma_half_life:g}-{word} half-life"
    clauses = [
        _versus(test.skill.get("climatology", {}).get("brier"), "climatology", "Brier skill "),
        _versus(test.skill.get("ewma", {}).get("brier"), f"each region's recent rate{hl}"),
    ]
    clauses = [c for c in clauses if c]
    within = _versus(
        test.within_h.skill.get("ewma", {}).get("brier"),
        f"the same rate of {horizon}-{word} windows",
    )
    if not clauses and within is None:
        return None
    span = f"{test.first_origin} – {test.last_origin}, {test.origins} origins"
    text = f"On the test window ({span}), the forecast of each {word} was " + " and ".join(clauses)
    if within is not None:
        text += f"; of a clash within {horizon} {word}s, {within}"
    return {"sentence": text + "."}


def _resolution(bt: BacktestMetrics | None) -> dict[str, str] | None:
    """What the cells buy over a governorate forecast, from the backtest's test window: the
    cells' skill against the governorate's EWMA handed down to each cell (given whole, split by
    area), weekly and within H, and the roll-up's skill against the governorate's EWMA."""
    w = None if bt is None else bt.windows.get("test") or next(iter(bt.windows.values()), None)
    if w is None or w.handed_down is None:
        return None

    def skill(s: Any) -> str:
        if not s.defined:
            return "n/a"
        return f"{100 * s.mean:+.0f}% [{100 * s.ci_low:+.0f}, {100 * s.ci_high:+.0f}]"

    h = w.handed_down
    out = {
        "window": f"{w.first_origin} – {w.last_origin}",
        "whole": skill(h.weekly.skill["governorate"]["brier"]),
        "split": skill(h.weekly.skill["split"]["brier"]),
        "split_within": skill(h.within_h.skill["split"]["brier"]),
        "rollup": None,
    }
    if w.rollup is not None:
        out["rollup"] = skill(w.rollup.skill["ewma"]["brier"])
    return out


def _split_words(bt: BacktestMetrics | None) -> str:
    """How the roll-up splits a cell a border cuts (:func:`model.inference.rollup.
    split_weights`), as the backtest chose it on the dev window."""
    chosen = None if bt is None or bt.rollup_split is None else bt.rollup_split.get("chosen")
    if chosen in (None, "area"):
        return "by its area in each"
    return (
        f"by where its past clashes fell, shrunk toward its area by {chosen} pseudo-clashes as "
        "the backtest's dev window chose"
    )


def _backtest(run: Run, bt: BacktestMetrics | None) -> dict[str, Any] | None:
    """The backtest page: the test window first (weekly and within H), dev beside it."""
    from model.backtesting.evaluation import in_window

    if bt is None or not bt.windows:
        return None
    bins, binning = run.params.backtest.calibration_bins, run.params.backtest.calibration_binning
    windows = {name: _window(w) for name, w in bt.windows.items()}
    test = bt.windows.get("test") or next(iter(bt.windows.values()))
    skill = {
        b: {s: v.to_json() for s, v in by.items() if v.defined} for b, by in test.skill.items()
    }
    rel_fig = None
    if run.predictions is not None and run.within is not None:
        origins = pd.date_range(test.first_origin, test.last_origin, freq="D")
        panels = {
            f"next {bt.horizon} periods, each": in_window(run.predictions, origins),
            f"any within {bt.horizon}": in_window(run.within, origins),
        }
        cols = ("model", "ewma", "climatology")
        rel_fig = fig_uri(
            plots.plot_reliability(panels, columns=cols, bins=bins, binning=binning)[0]
        )
    return {
        "horizons": bt.horizon,
        "test": windows.get("test"),
        "dev": windows.get("dev"),
        "ewma_half_life": bt.ewma_half_life,
        "memory": bt.model_selection.describe(run.facts.period_word)
        if bt.model_selection is not None
        else None,
        "failed_origins": [str(o) for o in bt.failed_origins or []],
        "skill_fig": fig_uri(plots.plot_skill({b: v for b, v in skill.items() if v})[0])
        if any(skill.values())
        else None,
        "reliability_fig": rel_fig,
        "bins": _bins_words(bins, binning),
    }


_MD_MARKUP = re.compile(r"\*\*|\*|__|`")


def _label(item: str) -> dict[str, str]:
    m = re.match(r"^([A-Z][\w /-]{0,30}):\s+(.*)$", item)
    return {"label": m[1], "text": m[2]} if m else {"label": "", "text": item}


def _provenance_sections(text: str | None, used: list[str]) -> list[dict[str, Any]]:
    """PROVENANCE.md as sections of plain paragraphs (markdown markup stripped, never rendered).

    Only the preamble and the sections whose heading names a file this run used (``used``,
    paths under ``data/raw``) are kept; when no heading names one, every section is kept.
    """
    if not text:
        return []
    sections: list[dict[str, Any]] = [{"title": "", "items": []}]
    new_item = True
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("#"):
            sections.append({"title": _MD_MARKUP.sub("", line.lstrip("#")).strip(), "items": []})
            new_item = True
        elif not stripped or set(stripped) <= {"-", "*", "_"}:
            new_item = True
        else:
            bullet = re.match(r"^\s*[-*+]\s+", line)
            clean = _MD_MARKUP.sub("", line[bullet.end() :] if bullet else stripped).strip()
            if bullet or new_item or not sections[-1]["items"]:
                sections[-1]["items"].append(clean)
            else:
                sections[-1]["items"][-1] += " " + clean
            new_item = False
    for sec in sections:
        sec["items"] = [_label(i) for i in sec["items"]]
    sections = [s for s in sections if s["items"] or s["title"]]
    names = [u.removeprefix("data/raw/") for u in used]
    hits = [s for s in sections[1:] if any(n and n in s["title"] for n in names)]
    return sections[:1] + hits if hits else sections


def _used_inputs(run: Run) -> list[str]:
    ing = run.params.ingest
    paths = [s.path for s in ing.sources] + [b.path for b in ing.regions.boundaries]
    paths += [p for p in (ing.regions.aliases, ing.positions) if p is not None]
    return [Path(p).as_posix() for p in paths]


def _coverage(run: Run) -> dict[str, Any] | None:
    """Kept events and actors per side and the largest unmatched actors (``ingest.json``);
    None for an ingest that did not record them."""
    ingest = run.ingest or {}
    if not isinstance(ingest.get("sides"), dict):
        return None
    clash = set(run.facts.clash_sides)
    rows = [
        {
            "side": side,
            "clash": side in clash,
            "events": c.get("events", 0),
            "actors": c.get("actors", 0),
            "top": "; ".join(f"{name} ({n})" for name, n in c.get("top_actors", [])),
        }
        for side, c in sorted(ingest["sides"].items(), key=lambda kv: -kv[1].get("events", 0))
    ]
    unknown = [(str(name), n) for name, n in ingest.get("unknown_side_top", [])]
    return {"sides": rows, "unknown_side": ingest.get("unknown_side"), "unknown": unknown}


def _provenance(run: Run) -> dict[str, Any]:
    ingest = run.ingest or {}
    sources = [
        {
            "name": s.name,
            "path": s.path.as_posix(),
            "format": s.format,
            "licence": s.licence or "see below",
            "kept": ingest.get("sources", {}).get(s.name, {}).get("rows_kept", "n/a"),
        }
        for s in run.params.ingest.sources
    ]
    fit_versions = {
        k.removeprefix("version_"): str(v)
        for k, v in run.idata.attrs.items()
        if k.startswith("version_")
    }
    now_versions = package_versions()
    for p in REPORT_PACKAGES:
        try:
            now_versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            now_versions[p] = "not installed"
    names = list(dict.fromkeys([*fit_versions, *now_versions]))
    return {
        "sources": sources,
        "coverage": _coverage(run),
        "notes": _provenance_sections(run.provenance_md, _used_inputs(run)),
        "input_hashes": sorted(input_hashes(run).items()),
        "artefact_hashes": sorted(run.hashes.items()),
        "params_yaml": yaml.safe_dump(
            run.params.model_dump(mode="json", exclude_none=True),
            sort_keys=False,
            width=100,
            allow_unicode=True,
        ),
        "code_fit": str(run.idata.attrs.get("code_sha256", "not stamped")),
        "code_report": code_sha256("report"),
        "timing_log": TIMING.as_posix(),
        "versions": [(n, fit_versions.get(n, "–"), now_versions.get(n, "–")) for n in names],
        "missing": sorted(run.missing.values()),
    }


def _scenarios(s: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """Each scenario's rows; ``inert`` when it moves no forecast at all (it changes only
    variables the model does not use), which the report then says in words."""
    if s is None or not len(s):
        return None
    return [
        {
            "name": str(n),
            "description": str(g["description"].iloc[0]) if "description" in g else "",
            "inert": bool((g[["diff_mean", "diff_q05", "diff_q95"]] == 0).all().all()),
            "rows": [
                {
                    "region": str(r.region),
                    "horizon": int(r.horizon),
                    "baseline": pct(r.p_baseline_mean),
                    "scenario": pct(r.p_scenario_mean),
                    "diff": f"{100 * r.diff_mean:+.1f} pts ({100 * r.diff_q05:+.1f} to "
                    f"{100 * r.diff_q95:+.1f})",
                    "p_gt": pct(r.p_scenario_gt_baseline),
                }
                for r in g.itertuples()
            ],
        }
        for n, g in s.groupby("scenario", sort=False)
    ]


def _drivers(run: Run, regions: list[str]) -> dict[str, Any]:
    """The drivers page: where each top region's forecast starts, the dependence between
    steps, and the features' effects and contributions when the model has features."""
    contrib, how = contributions(run, regions)
    out: dict[str, Any] = {"contrib_how": how, "coefficients": None, "contributions": None}
    if contrib is not None:
        out["coefficients"] = fig_uri(plots.plot_coefficients(run.idata)[0])
        out["contributions"] = fig_uri(plots.plot_contributions(contrib)[0])
    levels = level_breakdown(run, regions)
    out["levels"] = None
    if levels is not None:
        out["levels"] = [
            {
                "region": r,
                "recent": pct(row["recent"]) if "recent" in row else "–",
                "long_run": pct(row["long_run"]) if "long_run" in row else "–",
                "level": pct(row["level"]),
            }
            for r, row in levels.iterrows()
        ]
        out["offset"] = offset_name(run.idata)
        out["half_life"] = levels.attrs.get("half_life")
        out["long_half_life"] = levels.attrs.get("long_half_life")
    post = run.idata["posterior"]
    out["sigma_block"] = None
    if eq.SIGMA_BLOCK in post:
        q = post[eq.SIGMA_BLOCK].quantile([0.05, 0.95]).values
        out["sigma_block"] = f"{float(post[eq.SIGMA_BLOCK].mean()):.2f} ({q[0]:.2f}–{q[1]:.2f})"
    return out


def _active_positions(run: Run) -> pd.DataFrame | None:
    """The positions active at the origin inside the study area, marked on a cell map (None
    for a governorate run)."""
    import shapely

    pos = run.positions
    if not run.boundaries or pos is None or pos.empty:
        return None
    t = run.origin
    active = (pos["start_date"].isna() | (pos["start_date"] <= t)) & (
        pos["end_date"].isna() | (pos["end_date"] >= t)
    )
    study = shapely.union_all(list(run.boundaries.values()))
    inside = shapely.contains_xy(study, pos["longitude"].to_numpy(), pos["latitude"].to_numpy())
    return pos.loc[active.to_numpy() & inside]


def build_context(run: Run, params: ReportParams) -> dict[str, Any]:
    """Everything the template shows, as plain data (strings, numbers, lists, data URIs); no
    time or date of the run, so that equal inputs render equal bytes."""
    diagnostics = DiagnosticsMetrics.from_json(run.diagnostics)
    backtest = None if run.backtest is None else BacktestMetrics.from_json(run.backtest)
    fc = run.forecast
    horizon = run.horizon
    word = run.facts.period_word
    periods = pd.DatetimeIndex(run.panel["period"].values)
    prev = previous_origin(run)
    p_any = p_any_draws(run)
    table = _forecast_rows(run, prev, p_any)
    top_next = sorted(table, key=lambda r: -r["p1"])[: params.top_n]
    top_any = sorted(table, key=lambda r: -r["p_any"])[: params.top_n]
    over_time = [r["region"] for r in top_any[: params.regions_over_time]]
    drivers = _drivers(run, [r["region"] for r in top_any[: min(params.top_n, 12)]])
    figures = {
        "map": fig_uri(
            plots.plot_risk_map(
                run.geometry, fc, borders=run.boundaries, positions=_active_positions(run)
            )[0]
        )
        if run.geometry
        else None,
        "over_time": fig_uri(
            plots.plot_risk_over_time(
                run.panel,
                fc,
                over_time,
                history_periods=params.history_periods,
                predictions=run.predictions,
            )[0]
        ),
    }
    scen = _scenarios(run.scenarios)
    cells = run.rollup is not None
    ranked = sorted(table, key=lambda r: r["rank"])
    ctx = {
        "cells": cells,
        # A cell run shows its top cells, every cell on screen (folded; the PDF leaves them to
        # forecast.csv) and the governorates rolled up from them.
        "cell_rows": ranked[:CELLS_SHOWN] if cells else None,
        "all_cells": ranked if cells else None,
        "rollup": _rollup_rows(run.rollup) if cells else None,
        "resolution": _resolution(backtest) if cells else None,
        "rollup_split": _split_words(backtest) if cells else None,
        "title": params.title,
        "origin": run.origin.date().isoformat(),
        "window": f"{periods[0].date().isoformat()} – {periods[-1].date().isoformat()}",
        "n_regions": len(table),
        "several_countries": len({r["country"] for r in table}) > 1,
        "has_predictions": run.predictions is not None,
        "n_periods": len(periods),
        "period_word": word,
        "horizon": horizon,
        "gate_failed": run.gate_failed,
        "below_climatology": _below_climatology(
            backtest, run.params.backtest.climatology_window, word
        ),
        "track_record": _track_record(backtest, word, horizon),
        "diagnostics": _diagnostics(diagnostics),
        "top_next": top_next,
        "top_any": top_any,
        "table": table,
        "change_source": prev["source"],
        "change_origin": None
        if prev["origin"] is None
        else pd.Timestamp(prev["origin"]).date().isoformat(),
        "over_time_regions": over_time,
        "drivers": drivers,
        "figures": figures,
        "scenarios": scen,
        "backtest": _backtest(run, backtest),
        "missing": run.missing,
    }
    ctx["proximity"] = _proximity(run, diagnostics, backtest, over_time, scen)
    ctx["provenance"] = _provenance(run)
    return ctx


def _proximity(
    run: Run,
    diagnostics: DiagnosticsMetrics,
    backtest: BacktestMetrics | None,
    regions: list[str],
    scen: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The proximity section (:mod:`model.reporting.report_proximity`); adds each scenario's
    ``notes``."""
    from model.reporting import report_proximity as rp

    worth = rp.worth(diagnostics.proximity, {} if backtest is None else backtest.windows)
    changes = {s.name: s.changes for s in run.params.scenarios}
    post = run.idata["posterior"]
    for s in scen or []:
        rows = run.scenarios.loc[run.scenarios["scenario"].astype(str) == s["name"]]
        s["notes"] = rp.scenario_notes(rows, changes.get(s["name"], []), post, worth)
    return {"worth": worth, "evidence": rp.evidence_rows(run.evidence, regions)}


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict[str, Any]) -> str:
    """The report as one self-contained HTML string (CSS inline, figures as data URIs)."""
    # Our own stylesheet, not data: the one string the template does not escape.
    css = Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))
    return _env().get_template("forecast.html.j2").render(css=css, **context)


def render_pdf(context: dict[str, Any]) -> bytes:
    """The same HTML rendered to an A4 PDF by WeasyPrint (no network: URLs are refused)."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_html(context)
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=["data"])).write_pdf()

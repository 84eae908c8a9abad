"""The results of a run as small frozen dataclasses, each owning one part of a metrics file.

``backtest.json`` (:class:`BacktestMetrics`, built by :mod:`model.backtesting.evaluation` and the
backtest stage) is written from these and read back through them by the report, the headline and the
stage; ``diagnostics.json`` has its own in :mod:`model.diagnostics_results`, on the same
footing. Each class has ``to_json()``, returning exactly the dict the file holds (the keys of
``docs/interfaces.md``, in the order they are written, with the values as given), and
``from_json(d)``, which reads that dict back and raises :class:`~model.errors.StageError`
naming the file and the key when one is missing. The forecasters and scores of a window come
from :mod:`model.backtesting.catalogue`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from model.backtesting.catalogue import (
    BASELINES,
    FORECASTERS,
    HANDED_DOWN,
    PER_STEP_SCORES,
    SCORE_NAMES,
    SKILL_SCORES,
    WITHIN_BASELINES,
    WITHIN_FORECASTERS,
)
from model.errors import StageError
from model.paths import BACKTEST_METRICS

Number = float | int | None
#: A forecaster's scores (``score name -> value``), per forecaster.
Scores = Mapping[str, Mapping[str, Number]]


@dataclass(frozen=True)
class At:
    """Where a part of a metrics file is read from: the file and the keys leading to it."""

    file: str
    keys: tuple[str, ...] = ()

    def __truediv__(self, key: str) -> At:
        return At(self.file, (*self.keys, key))

    def __call__(self, d: Any, key: str) -> Any:
        """``d[key]``, or a :class:`StageError` naming the file and the missing key."""
        if not isinstance(d, Mapping) or key not in d:
            where = ".".join((*self.keys, key))
            raise StageError(f"{self.file}: missing key {where!r} (see docs/interfaces.md)")
        return d[key]


def optional_field(default: Any = None) -> Any:
    """A field whose key the file leaves out when it is None."""
    return field(default=default, metadata={"optional": True})


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class FlatResult:
    """``to_json``/``from_json`` for a dataclass of plain values (lists are held as tuples)."""

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: plain(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if not (f.metadata.get("optional") and getattr(self, f.name) is None)
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> Any:
        at = At(cls.__name__) if at is None else at
        values = {
            f.name: at(d, f.name)
            for f in fields(cls)  # type: ignore[arg-type]
            if not f.metadata.get("optional") or (isinstance(d, Mapping) and f.name in d)
        }
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (None, NaN and booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Interval(FlatResult):
    """A skill (or a difference of skills) with its 90% circular block bootstrap interval."""

    mean: Number
    ci_low: Number
    ci_high: Number

    @property
    def defined(self) -> bool:
        """Whether the skill and both ends of its interval are finite numbers."""
        return finite(self.mean) and finite(self.ci_low) and finite(self.ci_high)

    def interval(self) -> Interval:
        return Interval(self.mean, self.ci_low, self.ci_high)


@dataclass(frozen=True)
class Skill(Interval):
    """Skill against a baseline with its interval and the Diebold–Mariano p-value
    (:func:`model.backtesting.scoring.skill_with_uncertainty`)."""

    dm_pvalue: Number


#: Skill of the model against each baseline, per score: ``baseline -> score -> Skill``.
SkillTable = Mapping[str, Mapping[str, Skill]]


def _skill_table(d: Mapping[str, Any], baselines: Sequence[str], at: At) -> SkillTable:
    return {
        b: {s: Skill.from_json(at(at(d, b), s), at / b / s) for s in SKILL_SCORES}
        for b in baselines
    }


def _skill_json(table: SkillTable) -> dict[str, Any]:
    return {b: {s: v.to_json() for s, v in by.items()} for b, by in table.items()}


def _scores(d: Mapping[str, Any], names: Sequence[str], at: At, scores=SCORE_NAMES) -> Scores:
    """Each forecaster's scores (``{forecaster: {score: value}}``) from a part of the file."""
    return {f: {s: (at / f)(at(d, f), s) for s in scores} for f in names}


@dataclass(frozen=True)
class _ScoredRows:
    """Rows scored, the share with a clash, and each forecaster's scores on them."""

    rows: int
    prevalence: Number
    scores: Scores

    def _head(self) -> dict[str, Any]:
        return {"rows": self.rows, "prevalence": self.prevalence, **self.scores}

    @staticmethod
    def _read_head(d: Mapping[str, Any], at: At, names: Sequence[str], scores=SCORE_NAMES) -> tuple:
        return at(d, "rows"), at(d, "prevalence"), _scores(d, names, at, scores)


@dataclass(frozen=True)
class StepScores(_ScoredRows):
    """The scores of one step (``per_horizon``): each forecaster's and the Brier skill of the
    model against each baseline."""

    brier_skill: Mapping[str, Number]

    def to_json(self) -> dict[str, Any]:
        return {**self._head(), "brier_skill": dict(self.brier_skill)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> StepScores:
        at = At("StepScores") if at is None else at
        skill = at(d, "brier_skill")
        brier_skill = {b: (at / "brier_skill")(skill, b) for b in BASELINES}
        return cls(*cls._read_head(d, at, FORECASTERS, PER_STEP_SCORES), brier_skill)


@dataclass(frozen=True)
class Hindsight(FlatResult):
    """The hindsight ceiling (:func:`model.backtesting.evaluation.hindsight_ceiling`)."""

    brier: Number
    log_score: Number
    brier_skill_vs_climatology: Number
    log_score_skill_vs_climatology: Number


@dataclass(frozen=True)
class WithinScores(_ScoredRows):
    """Scores of "within H" on one window: each forecaster's and the model's skill."""

    skill: SkillTable
    #: The forecasters scored and the baselines of the skill table.
    names: ClassVar[tuple[str, ...]] = WITHIN_FORECASTERS
    baselines: ClassVar[tuple[str, ...]] = WITHIN_BASELINES

    def to_json(self) -> dict[str, Any]:
        return {**self._head(), "skill": _skill_json(self.skill)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> WithinScores:
        at = At(cls.__name__) if at is None else at
        skill = _skill_table(at(d, "skill"), cls.baselines, at / "skill")
        return cls(*cls._read_head(d, at, cls.names), skill)


class HandedDownScores(WithinScores):
    """The model against the governorate forecast handed down to its cells on one window and
    event (weekly or within H): each forecaster's scores and the model's skill."""

    names = ("model", *HANDED_DOWN)
    baselines = HANDED_DOWN


@dataclass(frozen=True)
class HandedDown:
    """A cell run's window scored against the governorate forecast handed down to the cells
    (:mod:`model.backtesting.handed_down`): weekly and "within H"."""

    weekly: HandedDownScores
    within_h: HandedDownScores

    def to_json(self) -> dict[str, Any]:
        return {"weekly": self.weekly.to_json(), "within_h": self.within_h.to_json()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> HandedDown:
        at = At("HandedDown") if at is None else at
        return cls(*(HandedDownScores.from_json(at(d, k), at / k) for k in ("weekly", "within_h")))


@dataclass(frozen=True)
class ProximityWorth:
    """The proximity block's worth on one window
    (:func:`model.backtesting.evaluation.proximity_worth`): skill against ``reference`` with the
    block minus without it, and both models' scores;
    ``refit_every`` is added by the backtest stage."""

    reference: str
    rows: int
    brier_skill_diff: Interval
    brier_with: Number
    brier_without: Number
    log_skill_diff: Interval
    log_score_with: Number
    log_score_without: Number
    refit_every: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("brier_skill_diff", "log_skill_diff"):
            out[key] = out[key].to_json()
        if self.refit_every is None:
            del out["refit_every"]
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> ProximityWorth:
        at = At("ProximityWorth") if at is None else at
        names = [f.name for f in fields(cls) if f.name != "refit_every"]
        values = {k: at(d, k) for k in names}
        for key in ("brier_skill_diff", "log_skill_diff"):
            values[key] = Interval.from_json(values[key], at / key)
        return cls(**values, refit_every=d.get("refit_every"))


_WINDOW_HEAD = ("first_origin", "last_origin", "origins", "rows", "prevalence")


@dataclass(frozen=True)
class WindowScores:
    """One window of the backtest (``backtest.json``'s ``windows.<name>``): its origins, each
    forecaster's scores, the model's skill, scores per step, the hindsight ceiling, "within H"
    and, with the comparison folds, the proximity block's worth."""

    first_origin: str
    last_origin: str
    origins: int
    rows: int
    prevalence: Number
    scores: Scores
    skill: SkillTable
    per_horizon: Mapping[str, StepScores]
    hindsight: Hindsight
    within_h: WithinScores
    proximity: ProximityWorth | None = None
    # A cell run's governorates rolled up from the cells (P any clash within H), scored on the
    # governorates' outcomes against their own climatology and EWMA.
    rollup: WithinScores | None = None
    # A cell run's cells scored against their governorate's forecast handed down to them.
    handed_down: HandedDown | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in _WINDOW_HEAD} | dict(self.scores)
        out |= {
            "skill": _skill_json(self.skill),
            "per_horizon": {h: s.to_json() for h, s in self.per_horizon.items()},
            "hindsight": self.hindsight.to_json(),
            "within_h": self.within_h.to_json(),
        }
        if self.proximity is not None:
            out["proximity"] = self.proximity.to_json()
        if self.rollup is not None:
            out["rollup"] = self.rollup.to_json()
        if self.handed_down is not None:
            out["handed_down"] = self.handed_down.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> WindowScores:
        at = At("WindowScores") if at is None else at
        steps = at(d, "per_horizon")
        proximity = d.get("proximity")
        return cls(
            **{k: at(d, k) for k in _WINDOW_HEAD},
            scores=_scores(d, FORECASTERS, at),
            skill=_skill_table(at(d, "skill"), BASELINES, at / "skill"),
            per_horizon={
                h: StepScores.from_json(s, at / "per_horizon" / h) for h, s in steps.items()
            },
            hindsight=Hindsight.from_json(at(d, "hindsight"), at / "hindsight"),
            within_h=WithinScores.from_json(at(d, "within_h"), at / "within_h"),
            proximity=None
            if proximity is None
            else ProximityWorth.from_json(proximity, at / "proximity"),
            rollup=WithinScores.from_json(d["rollup"], at / "rollup") if "rollup" in d else None,
            handed_down=HandedDown.from_json(d["handed_down"], at / "handed_down")
            if "handed_down" in d
            else None,
        )


@dataclass(frozen=True)
class FoldSummary(FlatResult):
    """A fold of the backtest: its fit cutoff, how many origins it served, its divergences."""

    fit_cutoff: str
    origins: int
    divergences: int


@dataclass(frozen=True)
class Candidate(FlatResult):
    """One candidate of a choice made on the dev window: its settings and its dev scores
    (``brier``, ``log_score``, ``ece``)."""

    settings: Mapping[str, Any]
    dev: Mapping[str, float]


def _candidates(d: Mapping[str, Any], at: At) -> tuple[Candidate, ...]:
    return tuple(Candidate.from_json(c, at / "candidates") for c in at(d, "candidates"))


@dataclass(frozen=True)
class ModelSelection:
    """``backtest.json``'s ``model_selection``: the memory chosen on the dev window
    (:mod:`model.backtesting.memory`).

    ``candidates`` are the level memories scored (each with its ``settings``: the offset
    variable and its half-life, pooling and long-run half-life), ``chosen`` the settings used
    on the test window and by the final fit, ``reference`` those of ``model.offset`` (whose
    fits every candidate reused), ``best`` the rule's pick before the step that keeps the reference
    (its Brier difference to the reference and Diebold-Mariano statistic, and whether the
    reference was kept), ``ewma`` the EWMA baseline's half-lives scored and the one chosen.
    With ``auto`` false the one candidate is the pinned setting, scored.
    """

    auto: bool
    criterion: str
    candidates: tuple[Candidate, ...]
    chosen: Mapping[str, Any]
    reference: Mapping[str, Any]
    ewma_candidates: tuple[Candidate, ...]
    ewma_chosen: float
    ece_max: float | None = None
    min_gain: float | None = None
    dm_min: float | None = None
    best: Mapping[str, Any] | None = None
    ewma_criterion: str = "lowest dev Brier score"

    def to_json(self) -> dict[str, Any]:
        out = {
            "auto": self.auto,
            "criterion": self.criterion,
            "ece_max": self.ece_max,
            "min_gain": self.min_gain,
            "dm_min": self.dm_min,
            "candidates": [c.to_json() for c in self.candidates],
            "chosen": dict(self.chosen),
            "reference": dict(self.reference),
            "ewma": {
                "criterion": self.ewma_criterion,
                "candidates": [c.to_json() for c in self.ewma_candidates],
                "chosen": self.ewma_chosen,
            },
        }
        if self.best is not None:
            out["best"] = dict(self.best)
        return out

    def describe(self, period: str = "week") -> str:
        """One sentence: which memory was chosen, and why."""
        c = self.chosen
        what = f"the offset {c['offset']}"
        if "level_half_life" in c:
            what = (
                f"the level's half-life {c['level_half_life']:g} {period}s, pooled by "
                f"{c['level_prior']:g} pseudo-{period}s toward a {c['level_long_half_life']:g}-"
                f"{period} share"
            )
        ewma_hl = f"; the EWMA baseline's half-life is {self.ewma_chosen:g} {period}s"
        if not self.auto:
            return f"Memory pinned by params (memory.auto: false): {what}{ewma_hl}."
        scores = next(x.dev for x in self.candidates if x.settings["offset"] == c["offset"])
        n, ece_max = len(self.candidates), self.ece_max or 0.0
        met = sum(x.dev["ece"] <= ece_max for x in self.candidates)
        why = (
            f"the best dev Brier score ({scores['brier']:.4f}) of the {met} of {n} candidates "
            f"whose dev ECE is at most {ece_max:g}"
            if met
            else f"no candidate's dev ECE is at most {ece_max:g}, so the lowest "
            f"({scores['ece']:.3f}) of {n} candidates"
        )
        best = self.best or {}
        if best.get("kept_reference"):
            gain = -best["brier_minus_reference"] / scores["brier"]
            why = (
                f"kept from params: the best of {n} candidates within the ECE threshold "
                f"({best['offset']}) has a dev Brier score lower by {gain:.1%} with a "
                f"Diebold-Mariano statistic of {best['dm_statistic']:+.2f}, short of the "
                f"evidence a change needs (at least {self.min_gain or 0:.0%} lower, a statistic "
                f"below -{self.dm_min or 0:g})"
            )
        return f"Memory chosen on the dev window: {what}, {why}{ewma_hl}."

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At) -> ModelSelection:
        ewma = at(d, "ewma")
        return cls(
            auto=at(d, "auto"),
            criterion=at(d, "criterion"),
            candidates=_candidates(d, at),
            chosen=at(d, "chosen"),
            reference=at(d, "reference"),
            ewma_candidates=_candidates(ewma, at / "ewma"),
            ewma_chosen=(at / "ewma")(ewma, "chosen"),
            ece_max=d.get("ece_max"),
            min_gain=d.get("min_gain"),
            dm_min=d.get("dm_min"),
            best=d.get("best"),
            ewma_criterion=ewma.get("criterion", "lowest dev Brier score"),
        )


@dataclass(frozen=True)
class BacktestMetrics:
    """``reports/metrics/backtest.json``: the horizon and the scores of each window
    (:func:`model.backtesting.evaluation.backtest_metrics`); the backtest stage adds the EWMA's
    half-life, the folds, the comparison folds (only with the proximity comparison) and the failed
    origins."""

    horizon: int
    windows: Mapping[str, WindowScores]
    ewma_half_life: float | None = optional_field()
    folds: tuple[FoldSummary, ...] | None = optional_field()
    proximity_folds: tuple[FoldSummary, ...] | None = optional_field()
    failed_origins: tuple[str, ...] | None = optional_field()
    model_selection: ModelSelection | None = optional_field()  # noqa: RUF009 (a None default)
    # The units of space forecast (``ingest.regions.unit``): admin1 regions or PRIO-GRID cells
    # (``grid``); the backtest stage sets it.
    unit: str | None = optional_field()
    # A cell run's split of the border cells' hazard over the governorates, chosen on the dev
    # window (model.backtesting.backtest.SplitChoice.to_json: chosen, dev_brier).
    rollup_split: Mapping[str, Any] | None = optional_field()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "horizon": self.horizon,
            "windows": {name: w.to_json() for name, w in self.windows.items()},
        }
        if self.unit is not None:
            out["unit"] = self.unit
        if self.ewma_half_life is not None:
            out["ewma_half_life"] = self.ewma_half_life
        if self.model_selection is not None:
            out["model_selection"] = self.model_selection.to_json()
        if self.rollup_split is not None:
            out["rollup_split"] = dict(self.rollup_split)
        for key in ("folds", "proximity_folds"):
            if getattr(self, key) is not None:
                out[key] = [f.to_json() for f in getattr(self, key)]
        if self.failed_origins is not None:
            out["failed_origins"] = list(self.failed_origins)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], file: str = str(BACKTEST_METRICS)) -> BacktestMetrics:
        at = At(file)
        windows = at(d, "windows")
        folds = {
            k: tuple(FoldSummary.from_json(f, at / k) for f in d[k])
            for k in ("folds", "proximity_folds")
            if k in d
        }
        return cls(
            horizon=at(d, "horizon"),
            unit=d.get("unit"),
            windows={k: WindowScores.from_json(w, at / "windows" / k) for k, w in windows.items()},
            ewma_half_life=d.get("ewma_half_life"),
            rollup_split=d.get("rollup_split"),
            failed_origins=tuple(d["failed_origins"]) if "failed_origins" in d else None,
            model_selection=ModelSelection.from_json(d["model_selection"], at / "model_selection")
            if "model_selection" in d
            else None,
            **folds,
        )

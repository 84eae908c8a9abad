"""The diagnostics gate and ``diagnostics.json`` as small frozen dataclasses.

The five checks of the gate (R-hat, bulk and tail ESS, divergences, E-BFMI) are declared once,
in :data:`CHECKS`: each names its statistic, its threshold in params ``diagnostics`` and which
side of it passes. :func:`model.inference.diagnostics.gate` evaluates them after a fit, and the
report shows them from the file. :class:`DiagnosticsMetrics` is what the fit stage writes to
``reports/metrics/diagnostics.json`` and what the report and the headline read back, with
``to_json``/``from_json`` as in :mod:`model.results`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.paths import DIAGNOSTICS
from model.results import At, FlatResult, Number, optional_field, plain


@dataclass(frozen=True)
class Check:
    """One check of the diagnostics gate: a sampling statistic against a threshold of params.

    ``key`` names the statistic (:func:`model.inference.diagnostics.sampling_summary` and
    ``diagnostics.json``), ``threshold`` its limit in params ``diagnostics``; ``upper``: the
    statistic must stay at or below the limit (else at or above). ``label`` and ``fmt`` are how
    the report shows it.
    """

    key: str
    threshold: str
    upper: bool
    label: str
    fmt: str

    def passes(self, value: Number, limit: Number) -> bool | None:
        """Whether the value meets the limit (a non-finite value fails); None without both."""
        if value is None or limit is None:
            return None
        return bool(math.isfinite(value) and (value <= limit if self.upper else value >= limit))

    def failure(self, value: Number, limit: float) -> str:
        """The failed check as ``diagnostics.json``'s ``failed_checks`` names it."""
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.key} {shown} {'>' if self.upper else '<'} {limit:g}"


#: The diagnostics gate (DESIGN §4): a fit passes when every check holds.
CHECKS = (
    # three decimals: 1.005 against a 1.01 threshold must not read "1.01 ≤ 1.01"
    Check("r_hat_max", "r_hat_max", True, "max R-hat", "{:.3f}"),
    Check("ess_bulk_min", "ess_bulk_min", False, "min bulk ESS", "{:.0f}"),
    Check("ess_tail_min", "ess_tail_min", False, "min tail ESS", "{:.0f}"),
    Check("divergences", "divergences_max", True, "divergences", "{:.0f}"),
    Check("bfmi_min", "bfmi_min", False, "min E-BFMI", "{:.2f}"),
)
#: The thresholds ``diagnostics.json`` records: the gate's and the Pareto k counted as bad.
THRESHOLDS = (*(c.threshold for c in CHECKS), "pareto_k_bad")


@dataclass(frozen=True)
class CheckResult:
    """A gate check on one fit: the observed value, the limit and whether it passed."""

    check: Check
    value: Number
    limit: Number

    @property
    def ok(self) -> bool | None:
        return self.check.passes(self.value, self.limit)


def evaluate_gate(
    summary: Mapping[str, Any], thresholds: Mapping[str, Any], at: At | None = None
) -> tuple[CheckResult, ...]:
    """Every check of :data:`CHECKS` on a sampling summary against ``thresholds`` (by name)."""
    at = At("diagnostics") if at is None else at
    return tuple(
        CheckResult(c, at(summary, c.key), (at / "thresholds")(thresholds, c.threshold))
        for c in CHECKS
    )


def failed_checks(results: Sequence[CheckResult]) -> list[str]:
    """The failed checks named with value and threshold (empty: the gate passes)."""
    return [r.check.failure(r.value, r.limit) for r in results if r.ok is not True]


# ------------------------------------------------------------------------- diagnostics.json


@dataclass(frozen=True)
class SamplingSummary(FlatResult):
    """Convergence of a fit (:func:`model.inference.diagnostics.sampling_summary`); its speed is in
    the run log (:mod:`model.timing`)."""

    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    sampler: str
    chains: int
    draws: int


@dataclass(frozen=True)
class LooFit(FlatResult):
    """PSIS-LOO of one fit; the differences against the best only when variants are compared."""

    elpd: float
    se: float
    p_loo: float
    pareto_k_bad: int
    elpd_diff: float | None = optional_field()
    se_diff: float | None = optional_field()


@dataclass(frozen=True)
class Loo:
    """PSIS-LOO of the model and its variants (``model`` first), the best and the variants'
    draws per chain."""

    fits: Mapping[str, LooFit]
    best: str
    variant_draws: int

    def to_json(self) -> dict[str, Any]:
        fits = {name: fit.to_json() for name, fit in self.fits.items()}
        return {**fits, "best": self.best, "variant_draws": self.variant_draws}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], at: At | None = None) -> Loo:
        at = At("loo") if at is None else at
        at(d, "model")
        fits = {k: LooFit.from_json(v, at / k) for k, v in d.items() if isinstance(v, Mapping)}
        return cls(fits, at(d, "best"), at(d, "variant_draws"))


@dataclass(frozen=True)
class ProximityLoo(FlatResult):
    """The proximity block's PSIS-LOO worth (:func:`model.inference.diagnostics.block_worth`): with
    minus without, its SE, whether it is clear (beyond 2 SE), which of the two ships."""

    loo_diff: float
    loo_se: float
    clear: bool
    elpd_with: float
    elpd_without: float
    block: tuple[str, ...]
    shipped: str
    variant_draws: int


_DIAGNOSTICS_TAIL = ("gate", "failed_checks", "thresholds", "pareto_k", "prior_predictive")


@dataclass(frozen=True)
class DiagnosticsMetrics:
    """``reports/metrics/diagnostics.json``: the fit's convergence, gate, PSIS-LOO and design.

    ``gate`` is ``pass`` or ``fail`` and ``failed_checks`` the failed checks as the fit stage
    named them; :attr:`checks` evaluates each check of :data:`CHECKS` again from the recorded
    values and thresholds (for the report's table). ``pareto_k``, ``prior_predictive`` and
    ``design`` are flat mappings (``docs/interfaces.md``).
    """

    sampling: SamplingSummary
    gate: str
    failed_checks: tuple[str, ...]
    thresholds: Mapping[str, Number]
    pareto_k: Mapping[str, int]
    prior_predictive: Mapping[str, Number]
    loo: Loo
    proximity: ProximityLoo | None
    design: Mapping[str, Any]

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return evaluate_gate(self.sampling.to_json(), self.thresholds, At(str(DIAGNOSTICS)))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.sampling.to_json(),
            **{k: plain(getattr(self, k)) for k in _DIAGNOSTICS_TAIL},
            "loo": self.loo.to_json(),
            "proximity": None if self.proximity is None else self.proximity.to_json(),
            "design": self.design,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], file: str = str(DIAGNOSTICS)) -> DiagnosticsMetrics:
        at = At(file)
        proximity = at(d, "proximity")
        return cls(
            sampling=SamplingSummary.from_json(d, at),
            gate=at(d, "gate"),
            failed_checks=tuple(at(d, "failed_checks")),
            thresholds=at(d, "thresholds"),
            pareto_k=at(d, "pareto_k"),
            prior_predictive=at(d, "prior_predictive"),
            loo=Loo.from_json(at(d, "loo"), at / "loo"),
            proximity=None
            if proximity is None
            else ProximityLoo.from_json(proximity, at / "proximity"),
            design=at(d, "design"),
        )

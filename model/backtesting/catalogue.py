"""The catalogue of forecasters and scores: what the backtest scores, and how each score reads.

One place, as VIEWS keeps its metric catalogue: :mod:`model.backtesting.scoring` and
:mod:`model.backtesting.evaluation` compute the scores named here for the forecasters named here,
:mod:`model.results` reads them back from ``backtest.json`` by these names, the report formats
them with each score's formatter and the headline quotes :data:`HEADLINE_SCORES`. A score added
here (with its computation in :func:`model.backtesting.scoring.summarize`) reaches every one of
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The baselines of the weekly forecasts (each a function of :mod:`model.backtesting.baselines`).
BASELINES = ("climatology", "ewma", "markov", "logistic", "global_rate")
#: The baselines of "within H" (at least one clash in steps 1..H).
WITHIN_BASELINES = ("climatology", "ewma")
#: A cell run's governorate forecast handed down to its cells
#: (:mod:`model.backtesting.handed_down`): the governorate's own EWMA given to each cell it holds
#: most of, and the same spread over its cells by area. Scored weekly and "within H": what
#: resolution buys.
HANDED_DOWN = ("governorate", "split")
#: Every forecaster the backtest scores, the model first: the columns of its prediction rows.
FORECASTERS = ("model", *BASELINES)
#: "Within H" forecasters: the model, the product of its weekly forecasts as if the steps were
#: independent (not a forecaster we print; it shows what the dependence buys) and baselines.
WITHIN_FORECASTERS = ("model", "independent", *WITHIN_BASELINES)


@dataclass(frozen=True)
class Score:
    """One score of a forecaster on pooled rows (``backtest.json``: ``<forecaster>.<name>``).

    ``better`` says which way is better (None for ``uncertainty``: a property of the outcomes,
    the same for every forecaster); ``fmt`` is how the report's score tables print it (None:
    not shown there). Every score is given for every forecaster of :data:`FORECASTERS` and of
    :data:`WITHIN_FORECASTERS`.
    """

    name: str
    better: Literal["lower", "higher"] | None
    fmt: str | None = None

    def format(self, value: float) -> str:
        """The value as the report prints it."""
        return (self.fmt or "{}").format(value)


#: Every pooled score, in the order of ``backtest.json``
#: (:func:`model.backtesting.scoring.summarize`).
SCORES = (
    Score("brier", "lower", "{:.3f}"),
    Score("log_score", "lower", "{:.3f}"),
    Score("auc_roc", "higher", "{:.3f}"),
    Score("auc_pr", "higher", "{:.3f}"),
    Score("ece", "lower", "{:.3f}"),
    Score("reliability", "lower"),
    Score("resolution", "higher"),
    Score("uncertainty", None),
)
SCORE_NAMES = tuple(s.name for s in SCORES)
#: The scores of the report's tables, with their formatters.
REPORTED = tuple(s for s in SCORES if s.fmt is not None)
#: Mean losses whose skill against each baseline is given with an interval and a DM p-value.
SKILL_SCORES = ("brier", "log_score")
#: The scores given per step (``per_horizon``), for every forecaster of :data:`FORECASTERS`.
PER_STEP_SCORES = ("brier", "log_score", "auc_pr")
#: What the headline quotes of the model: accuracy, calibration, discrimination.
HEADLINE_SCORES = ("brier", "ece", "auc_pr")

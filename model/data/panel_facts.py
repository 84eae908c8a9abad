"""The panel's facts: its period length and the settings its features were built with.

The panel stage writes one :class:`PanelFacts` into the panel's attributes
(:meth:`PanelFacts.to_attrs`, the attribute names of ``docs/interfaces.md``); every reader of
a panel (forecast, scenarios, backtest, report, notebooks) takes them back with
:meth:`PanelFacts.from_attrs`, which refuses a panel that lacks one, instead of falling back on
a weekly default of its own. A year's number of periods lives here, once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.config import PanelParams
from model.errors import StageError

#: Periods in a year, per panel frequency: the ``since_clash`` cap, the backtest's first year.
PERIODS_PER_YEAR: dict[str, int] = {"W-MON": 52, "MS": 12}
#: What one period is called in prose, per frequency.
PERIOD_WORD: dict[str, str] = {"W-MON": "week", "MS": "month"}
#: The panel attributes :meth:`PanelFacts.from_attrs` requires.
FACT_ATTRS = (
    "freq",
    "clash_sides",
    "feature_names",
    "half_lives",
    "level_long_half_life",
    "level_prior",
)


@dataclass(frozen=True)
class PanelFacts:
    """What a panel is made of, as its attributes record it.

    Attributes
    ----------
    freq : str
        ``W-MON`` (weeks starting on Monday) or ``MS`` (calendar months).
    half_lives : tuple of float
        The half-lives of the decayed features, in periods.
    level_long_half_life : float
        Half-life of the long-run share that ``clash_level_hl{h}`` is shrunk toward.
    level_prior : float
        Pseudo-periods of that shrinkage.
    clash_sides : tuple of str
        The sides whose encounters count as a clash.
    feature_names : tuple of str
        The panel's feature variables, in panel order.
    """

    freq: str
    half_lives: tuple[float, ...]
    level_long_half_life: float
    level_prior: float
    clash_sides: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.freq not in PERIODS_PER_YEAR:
            raise ValueError(f"unsupported freq {self.freq!r} ({' or '.join(PERIODS_PER_YEAR)})")

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.freq]

    @property
    def since_clash_cap(self) -> int:
        """``since_clash`` counts periods since the last clash up to a year."""
        return self.periods_per_year

    @property
    def period_word(self) -> str:
        return PERIOD_WORD[self.freq]

    @classmethod
    def from_params(cls, panel: PanelParams, feature_names: Sequence[str] = ()) -> PanelFacts:
        """The facts of a panel built with the ``panel`` params."""
        return cls(
            freq=panel.freq,
            half_lives=tuple(panel.half_lives),
            level_long_half_life=float(panel.level_long_half_life),
            level_prior=float(panel.level_prior),
            clash_sides=tuple(panel.clash.sides),
            feature_names=tuple(feature_names),
        )

    @classmethod
    def defaults(cls, freq: str = "W-MON", feature_names: Sequence[str] = ()) -> PanelFacts:
        """The facts of a panel built with the params' defaults (simulated panels)."""
        fields = PanelParams.model_fields
        return cls(
            freq=freq,
            half_lives=tuple(fields["half_lives"].get_default(call_default_factory=True)),
            level_long_half_life=float(fields["level_long_half_life"].get_default()),
            level_prior=float(fields["level_prior"].get_default()),
            feature_names=tuple(feature_names),
        )

    def to_attrs(self) -> dict[str, Any]:
        """The panel attributes that record these facts (lists as JSON, as netCDF keeps them)."""
        return {
            "freq": self.freq,
            "clash_sides": json.dumps(list(self.clash_sides)),
            "feature_names": json.dumps(list(self.feature_names)),
            "half_lives": json.dumps(list(self.half_lives)),
            "level_long_half_life": float(self.level_long_half_life),
            "level_prior": float(self.level_prior),
            "since_clash_cap": int(self.since_clash_cap),
        }

    @classmethod
    def from_attrs(cls, panel_or_attrs: Any) -> PanelFacts:
        """The facts recorded on a panel (an ``xarray.Dataset`` or its ``attrs``).

        Raises
        ------
        StageError
            An attribute is missing (the panel was not made by the panel stage of this
            version; rerun it).
        """
        attrs: Mapping[str, Any] = getattr(panel_or_attrs, "attrs", panel_or_attrs)
        lacking = [k for k in FACT_ATTRS if k not in attrs]
        if lacking:
            raise StageError(
                f"panel attributes {lacking} missing (written by the panel stage; "
                "rerun `dvc repro panel`)"
            )
        return cls(
            freq=str(attrs["freq"]),
            half_lives=tuple(float(h) for h in json.loads(attrs["half_lives"])),
            level_long_half_life=float(attrs["level_long_half_life"]),
            level_prior=float(attrs["level_prior"]),
            clash_sides=tuple(str(s) for s in json.loads(attrs["clash_sides"])),
            feature_names=tuple(str(f) for f in json.loads(attrs["feature_names"])),
        )

"""The panel's facts: written into its attributes as before, read back whole or refused."""

from __future__ import annotations

import json

import pytest

from model.config import PanelParams
from model.data.panel_facts import FACT_ATTRS, PanelFacts
from model.errors import StageError


def _params(freq: str = "W-MON") -> PanelParams:
    return PanelParams.model_validate(
        {
            "freq": freq,
            "clash": {"categories": ["sb"], "sides": ["gov", "rebels"]},
            "half_lives": [1, 4, 2.5],
            "level_long_half_life": 26,
        }
    )


def test_the_attributes_are_those_the_panel_wrote_before() -> None:
    """panel.nc keeps its attribute names and values (readers of older panels agree)."""
    p = _params()
    names = p.feature_names()
    attrs = PanelFacts.from_params(p, names).to_attrs()
    assert attrs == {
        "freq": p.freq,
        "clash_sides": json.dumps(list(p.clash.sides)),
        "feature_names": json.dumps(names),
        "half_lives": json.dumps(list(p.half_lives)),
        "level_long_half_life": float(p.level_long_half_life),
        "level_prior": float(p.level_prior),
        "since_clash_cap": 52,
    }
    assert attrs["half_lives"] == "[1.0, 4.0, 2.5]"


def test_facts_round_trip_through_the_attributes() -> None:
    facts = PanelFacts.from_params(_params("MS"), ["clash_decay_hl1"])
    back = PanelFacts.from_attrs(facts.to_attrs())
    assert back == facts
    assert (back.periods_per_year, back.since_clash_cap, back.period_word) == (12, 12, "month")
    assert back.level_long_half_life == 26.0 and back.clash_sides == ("gov", "rebels")


@pytest.mark.parametrize("name", FACT_ATTRS)
def test_a_panel_without_a_fact_is_refused_naming_it(name: str) -> None:
    attrs = PanelFacts.defaults().to_attrs()
    del attrs[name]
    with pytest.raises(StageError, match=rf"\['{name}'\].*panel stage"):
        PanelFacts.from_attrs(attrs)


def test_defaults_are_the_params_defaults() -> None:
    defaults = PanelParams.model_fields
    facts = PanelFacts.defaults()
    assert facts.level_long_half_life == defaults["level_long_half_life"].get_default()
    assert facts.level_prior == defaults["level_prior"].get_default()
    assert list(facts.half_lives) == defaults["half_lives"].get_default(call_default_factory=True)
    assert (facts.freq, facts.periods_per_year, facts.period_word) == ("W-MON", 52, "week")


def test_an_unknown_frequency_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported freq"):
        PanelFacts(freq="D", half_lives=(1.0,), level_long_half_life=52.0, level_prior=4.0)

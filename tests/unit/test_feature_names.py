"""The feature-name grammar: what it writes it reads back, and the panel spells names with it."""

import pytest

from model.config import PanelParams
from model.data import feature_names as fn
from model.data.panel import feature_names


@pytest.mark.parametrize(
    ("name", "family", "kind", "half_life", "pair", "part"),
    [
        ("clash_decay_hl4", "decay", "clash", 4.0, None, None),
        ("event_decay_hl2.5", "decay", "event", 2.5, None, None),
        ("nbr_clash_decay_hl13", "decay", "nbr_clash", 13.0, None, None),
        ("country_clash_decay_hl52", "decay", "country_clash", 52.0, None, None),
        ("clash_share_hl13", "share", None, 13.0, None, None),
        ("clash_level_hl8", "level", None, 8.0, None, None),
        ("since_clash", "since", None, None, None, None),
        (
            "prox_us_coalition__iran_aligned_km",
            "proximity",
            None,
            None,
            "us_coalition__iran_aligned",
            "km",
        ),
        ("prox_a__b_n_within", "proximity", None, None, "a__b", "n_within"),
        ("x_exo", "other", None, None, None, None),
        ("clash_decay_hlx", "other", None, None, None, None),
    ],
)
def test_parse_reads_each_family(name, family, kind, half_life, pair, part) -> None:
    assert fn.parse(name) == fn.FeatureName(family, kind, half_life, pair, part)


def test_what_is_written_parses_back() -> None:
    for h in (1, 2.5, 13):
        for kind in fn.DECAY_KINDS:
            f = fn.parse(fn.decay(kind, h))
            assert (f.family, f.kind, f.half_life) == ("decay", kind, h)
        assert fn.parse(fn.share(h)).half_life == h
        assert fn.parse(fn.level(h)).family == "level"
    stem = fn.pair_stem("us_coalition", "armed_group")
    for part in fn.PROXIMITY_PARTS:
        f = fn.parse(fn.proximity(stem, part))
        assert (f.pair, f.part) == (stem, part)
        assert fn.proximity(f.pair, "absent") == "prox_us_coalition__armed_group_absent"
    with pytest.raises(ValueError, match="unknown"):
        fn.decay("fatality", 4)
    with pytest.raises(ValueError, match="unknown"):
        fn.proximity(stem, "metres")


def test_half_lives_are_written_with_g() -> None:
    assert fn.decay("clash", 4.0) == "clash_decay_hl4"
    assert fn.share(2.5) == "clash_share_hl2.5"


def test_memory_of_counts_the_long_run_level() -> None:
    assert fn.memory_of("clash_share_hl13") == 13
    assert fn.memory_of("clash_level_hl8", level_long_half_life=52) == 52
    assert fn.memory_of("clash_decay_hl4", level_long_half_life=52) == 4
    assert fn.memory_of("since_clash") == 0 and fn.memory_of("prox_a__b_near") == 0


def test_panel_features_in_order() -> None:
    names = fn.feature_names(
        [1, 4],
        [("a", "b")],
        exposure_kinds=[["base"]],
        contact_categories=["deployment"],
        contact_half_life=2,
    )
    assert names[:2] == ["clash_decay_hl1", "clash_decay_hl4"]
    assert names[8] == "since_clash"
    assert names[-10:] == [
        "prox_a__b_km",
        "prox_a__b_near",
        "prox_a__b_absent",
        "prox_a__b_n_within",
        "prox_a__b_copresent",
        "prox_a__b_closing",
        "prox_a__b_closing_km",
        "prox_a__b_first_contact",
        "prox_a__b_exposure_base",
        "contact_deployment_hl2",
    ]
    assert len(names) == 4 * 2 + 1 + 2 * 2 + 10
    families = {fn.parse(n).family for n in names}
    assert families == {"decay", "share", "level", "since", "proximity", "contact"}
    assert [n for n in names if fn.is_proximity(n)] == names[-10:]


@pytest.mark.parametrize(
    ("name", "kind", "pair", "part"),
    [
        ("prox_a__b_copresent", None, "a__b", "copresent"),
        (
            "prox_us_coalition__armed_group_closing_km",
            None,
            "us_coalition__armed_group",
            "closing_km",
        ),
        ("prox_a__b_first_contact", None, "a__b", "first_contact"),
        (
            "prox_us_coalition__iran_aligned_exposure_base",
            "base",
            "us_coalition__iran_aligned",
            "exposure",
        ),
    ],
)
def test_precursor_parts_parse_back(name, kind, pair, part) -> None:
    assert fn.parse(name) == fn.FeatureName("proximity", kind, None, pair, part)
    f = fn.parse(name)
    rebuilt = fn.exposure(f.pair, f.kind) if f.part == "exposure" else fn.precursor(f.pair, f.part)
    assert rebuilt == name


def test_contact_names_parse_back_and_bad_tokens_fail() -> None:
    assert fn.parse(fn.contact("show_of_force", 4)) == fn.FeatureName(
        "contact", "show_of_force", 4.0
    )
    assert fn.memory_of("contact_deployment_hl13") == 13
    with pytest.raises(ValueError, match="letters"):
        fn.exposure("a__b", "air-field")
    with pytest.raises(ValueError, match="letters"):
        fn.contact("show of force", 4)
    with pytest.raises(ValueError, match="unknown"):
        fn.precursor("a__b", "km")


def test_the_panel_names_its_features_through_the_grammar() -> None:
    panel = PanelParams(
        clash={"categories": ["x"], "sides": ["a", "b"]},
        half_lives=[2, 6],
        proximity=[{"a": "a", "b": "b"}],
    )
    assert feature_names(panel) == fn.feature_names([2, 6], [("a", "b")])

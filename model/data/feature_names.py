"""The grammar of the panel's feature names: the one module that writes them and reads them.

=================================  ===========================================================
``{kind}_decay_hl{h}``             log1p of a decayed sum of counts, half-life ``h`` periods;
                                   ``kind`` is ``clash``, ``event``, ``nbr_clash`` (mean over
                                   the neighbours) or ``country_clash`` (mean over the country);
                                   cells add ``ring2_clash`` (mean over the second ring) and
                                   ``gov_clash`` (the governorate's clashes, those located
                                   only to the governorate included)
``clash_share_hl{h}``              log-odds of the decayed share of periods with a clash
``clash_level_hl{h}``              the same shrunk toward the region's long-run share
                                   (``panel.level_prior``, ``panel.level_long_half_life``)
``clash_level_hl{h}_p{k}_l{L}``    the same with ``k`` pseudo-periods of a half-life-``L``
                                   long-run share: a candidate memory (``memory``)
``since_clash``                    log1p of the periods since the last clash
``pool_{group}_hl{h}``              cells only (``unit: grid``): the log-odds of the decayed
                                   share of the ``group``'s cell-weeks with a clash (``gov``:
                                   the cell's governorate, ``country``) minus the cell's own;
                                   its coefficient is a learned pooling weight
``prox_{a}__{b}_{part}``           proximity of side ``a`` to side ``b``'s events; ``part`` is
                                   ``km``, ``near``, ``absent`` or ``n_within``, or a
                                   precursor: ``copresent``, ``closing``, ``closing_km``,
                                   ``first_contact``, ``exposure_{kind}`` (position kind)
``contact_{category}_hl{h}``       log1p of a decayed count of a non-violent contact category
=================================  ===========================================================

Half-lives are written with ``:g`` (``hl1``, ``hl13``, ``hl2.5``). The panel builds its
variables, the scenarios recompute them, the diagnostics group them and the params validator
checks their warm-up through the functions here, so a change of spelling is made once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DECAY_KINDS = ("clash", "event", "nbr_clash", "country_clash", "ring2_clash", "gov_clash")
#: Groups a cell's level is pooled toward (``pool_{group}_hl{h}``).
POOL_GROUPS = ("gov", "country")
SHARE_KINDS = ("share", "level")
PROXIMITY_PARTS = ("km", "near", "absent", "n_within")
#: Precursor parts of a proximity pair (model.data.features.precursors); ``exposure`` takes a kind.
PRECURSOR_PARTS = ("copresent", "closing", "closing_km", "first_contact")
EXPOSURE = "exposure"
SINCE_CLASH = "since_clash"
#: Families whose features form the proximity block (model.config.ModelParams.proximity_block).
PROXIMITY_FAMILIES = ("proximity", "contact")

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_DECAY = re.compile(rf"^({'|'.join(DECAY_KINDS)})_decay_hl{_NUMBER}$")
_SHARE = re.compile(rf"^clash_({'|'.join(SHARE_KINDS)})_hl{_NUMBER}$")
_POOL = re.compile(rf"^pool_({'|'.join(POOL_GROUPS)})_hl{_NUMBER}$")
_LEVEL = re.compile(rf"^clash_level_hl{_NUMBER}_p{_NUMBER}_l{_NUMBER}$")
_PARTS = "|".join((*PROXIMITY_PARTS, *PRECURSOR_PARTS))
_PROXIMITY = re.compile(rf"^prox_(.+?__.+?)_({_PARTS}|{EXPOSURE}_([A-Za-z0-9]+))$")
_CONTACT = re.compile(rf"^contact_([A-Za-z0-9_]+?)_hl{_NUMBER}$")


@dataclass(frozen=True)
class FeatureName:
    """A parsed feature name.

    Attributes
    ----------
    family : str
        ``decay``, ``share``, ``level``, ``since``, ``pool``, ``proximity``, ``contact`` or
        ``other`` (a name outside the grammar, e.g. an exogenous series of a simulated panel).
    kind : str or None
        The decayed count (one of :data:`DECAY_KINDS`) of a ``decay`` feature, the position
        kind of an ``exposure_{kind}`` part, the category of a ``contact`` feature, the group
        of a ``pool`` feature.
    half_life : float or None
        Of ``decay``, ``share`` and ``level`` features.
    pair : str or None
        ``{a}__{b}`` of a proximity feature (:func:`proximity` rebuilds its other parts).
    part : str or None
        One of :data:`PROXIMITY_PARTS`, :data:`PRECURSOR_PARTS` or ``exposure`` for a proximity
        feature.
    prior, long_half_life : float or None
        Of a ``level`` feature that names them (``clash_level_hl{h}_p{k}_l{L}``); None for
        ``clash_level_hl{h}``, whose are the panel's (``panel.level_prior``,
        ``panel.level_long_half_life``).
    """

    family: str
    kind: str | None = None
    half_life: float | None = None
    pair: str | None = None
    part: str | None = None
    prior: float | None = None
    long_half_life: float | None = None


def _hl(half_life: float) -> str:
    return f"hl{half_life:g}"


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r} (one of {allowed})")
    return value


def decay(kind: str, half_life: float) -> str:
    """``{kind}_decay_hl{h}``."""
    return f"{_one_of(kind, DECAY_KINDS, 'decayed count')}_decay_{_hl(half_life)}"


def share(half_life: float) -> str:
    """``clash_share_hl{h}``."""
    return f"clash_share_{_hl(half_life)}"


def level(half_life: float, prior: float | None = None, long_half_life: float | None = None) -> str:
    """``clash_level_hl{h}`` (the panel's pooling), or ``clash_level_hl{h}_p{k}_l{L}`` with
    ``prior`` and ``long_half_life`` both given."""
    if (prior is None) != (long_half_life is None):
        raise ValueError("a level names both its prior and its long half-life, or neither")
    if prior is None:
        return f"clash_level_{_hl(half_life)}"
    return f"clash_level_{_hl(half_life)}_p{prior:g}_l{long_half_life:g}"


def pool(group: str, half_life: float) -> str:
    """``pool_{group}_hl{h}`` (cells only)."""
    return f"pool_{_one_of(group, POOL_GROUPS, 'pooling group')}_{_hl(half_life)}"


def pair_stem(a: str, b: str) -> str:
    """``{a}__{b}``: the pair part of a proximity feature's name."""
    return f"{a}__{b}"


def proximity(pair: str, part: str) -> str:
    """``prox_{pair}_{part}`` (``pair`` from :func:`pair_stem` or :attr:`FeatureName.pair`)."""
    return f"prox_{pair}_{_one_of(part, PROXIMITY_PARTS, 'proximity part')}"


def precursor(pair: str, part: str) -> str:
    """``prox_{pair}_{part}`` for a precursor part (:data:`PRECURSOR_PARTS`)."""
    return f"prox_{pair}_{_one_of(part, PRECURSOR_PARTS, 'precursor part')}"


def _token(value: str, what: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]+", value):
        raise ValueError(f"{what} {value!r} must be letters and digits only")
    return value


def exposure(pair: str, kind: str) -> str:
    """``prox_{pair}_exposure_{kind}``: B events near A's active positions of one kind."""
    return f"prox_{pair}_{EXPOSURE}_{_token(kind, 'position kind')}"


def contact(category: str, half_life: float) -> str:
    """``contact_{category}_hl{h}``: a decayed count of a non-violent contact category."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", category):
        raise ValueError(f"contact category {category!r} must be letters, digits and _ only")
    return f"contact_{category}_{_hl(half_life)}"


def is_proximity(name: str) -> bool:
    """Whether a feature belongs to the proximity block's families (proximity and contact)."""
    return parse(name).family in PROXIMITY_FAMILIES


def parse(name: str) -> FeatureName:
    """What a feature name says (``other`` for a name outside the grammar)."""
    if name == SINCE_CLASH:
        return FeatureName("since")
    if m := _DECAY.match(name):
        return FeatureName("decay", kind=m.group(1), half_life=float(m.group(2)))
    if m := _SHARE.match(name):
        return FeatureName(m.group(1), half_life=float(m.group(2)))
    if m := _LEVEL.match(name):
        h, prior, long = (float(g) for g in m.groups())
        return FeatureName("level", half_life=h, prior=prior, long_half_life=long)
    if m := _POOL.match(name):
        return FeatureName("pool", kind=m.group(1), half_life=float(m.group(2)))
    if m := _PROXIMITY.match(name):
        if m.group(3) is not None:
            return FeatureName("proximity", kind=m.group(3), pair=m.group(1), part=EXPOSURE)
        return FeatureName("proximity", pair=m.group(1), part=m.group(2))
    if m := _CONTACT.match(name):
        return FeatureName("contact", kind=m.group(1), half_life=float(m.group(2)))
    return FeatureName("other")


def memory_of(name: str, level_long_half_life: float = 0.0) -> float:
    """The longest half-life a feature remembers (``clash_share_hl13`` → 13), else 0.

    ``clash_level_hl{h}`` also remembers the long-run level it is shrunk toward (its own
    ``_l{L}``, else ``level_long_half_life``).
    """
    f = parse(name)
    if f.half_life is None:
        return 0.0
    if f.family != "level":
        return f.half_life
    return max(f.half_life, f.long_half_life or level_long_half_life)


def pair_names(a: str, b: str, exposure_kinds: Sequence[str] = ()) -> list[str]:
    """The variables of one proximity pair, in panel order: distance parts, then precursors."""
    stem = pair_stem(a, b)
    names = [proximity(stem, part) for part in PROXIMITY_PARTS]
    names += [precursor(stem, part) for part in PRECURSOR_PARTS]
    return names + [exposure(stem, k) for k in exposure_kinds]


def feature_names(
    half_lives: Sequence[float],
    pairs: Iterable[tuple[str, str]],
    *,
    exposure_kinds: Sequence[Sequence[str]] | None = None,
    contact_categories: Sequence[str] = (),
    contact_half_life: float = 4.0,
    unit: str = "admin1",
) -> list[str]:
    """Every feature of a panel with these half-lives and proximity pairs, in panel order.

    ``exposure_kinds[i]`` are the position kinds of pair ``i`` (none by default). ``unit``
    ``grid`` adds the cells' features (:func:`cell_feature_names`) after the others.
    """
    names = [decay("clash", h) for h in half_lives]
    names += [decay("event", h) for h in half_lives]
    names += [share(h) for h in half_lives]
    names += [level(h) for h in half_lives]
    names.append(SINCE_CLASH)
    names += [decay("nbr_clash", h) for h in half_lives]
    names += [decay("country_clash", h) for h in half_lives]
    pairs = list(pairs)
    kinds = list(exposure_kinds) if exposure_kinds is not None else [()] * len(pairs)
    for (a, b), ks in zip(pairs, kinds, strict=True):
        names += pair_names(a, b, ks)
    names += [contact(c, contact_half_life) for c in contact_categories]
    if unit == "grid":
        names += cell_feature_names(half_lives)
    return names


def cell_feature_names(half_lives: Sequence[float]) -> list[str]:
    """The features a cell panel adds: the second ring's and the governorate's decayed clashes,
    and the pooling contrasts toward the governorate and the country."""
    names = [decay("ring2_clash", h) for h in half_lives]
    names += [decay("gov_clash", h) for h in half_lives]
    return names + [pool(g, h) for g in POOL_GROUPS for h in half_lives]

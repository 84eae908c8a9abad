"""Actor → side mapping from ``ingest.sides``: :class:`SideMapper` resolves each actor.

The pattern language (exact names, ``contains:`` and ``re:``) and how params spell it live in
:mod:`model.side_grammar`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from model.side_grammar import CONTAINS, EXACT, normalise, parse_entry

AMBIGUOUS = "actor matches two sides"
UNMATCHED = "actor matches no side"

#: Why an actor got its side (``SideMapper.resolve``; ``clashcast actors`` prints them).
BY_NAME, BY_PATTERN, VIA_ASSOCIATES, BY_DEFAULT, BOTH = (
    "exact",
    "pattern",
    "via associates",
    "unknown",
    "ambiguous",
)


class Match(NamedTuple):
    """Sides whose entries match a name, and those entries as written (both sorted)."""

    sides: tuple[str, ...]
    entries: tuple[str, ...]
    exact: bool


class Resolution(NamedTuple):
    """The side of one actor in one row, why (:data:`BY_NAME` …), and the problem if any."""

    side: str
    how: str
    reason: str | None
    value: str


class SideMapper:
    """Map actor names to sides (the pattern language is in the module docstring).

    An actor that matches entries of two sides is ambiguous and its row is quarantined:
    deciding for the user which side it fights on would silently change the clash outcome.
    An actor that matches nothing takes the side its associated actors (ACLED's
    ``assoc_actor_1``/``_2``, ``;``-separated) agree on, else ``unknown_side`` (or its row is
    quarantined when that is None).

    Parameters
    ----------
    sides : dict
        Side name to its list of entries (validated by ``model.config``).
    unknown_side : str or None
        Side for actors that match no entry.

    Examples
    --------
    >>> m = SideMapper({"sdf": ["contains:QSD:"], "gov": ["re:Military Forces of Syria .*"]}, "-")
    >>> m.resolve("QSD: Syrian Democratic Forces - Intelligence", "").side
    'sdf'
    >>> m.resolve("Unidentified Armed Group (Syria)", "Military Forces of Syria (2000-)")[:2]
    ('gov', 'via associates')
    """

    def __init__(self, sides: dict[str, list[str]], unknown_side: str | None) -> None:
        self.unknown_side = unknown_side
        self._exact: dict[str, list[tuple[str, str]]] = {}
        self._contains: list[tuple[str, str, str]] = []
        self._regex: list[tuple[str, str, re.Pattern[str]]] = []
        for side, entries in sides.items():
            for entry in entries:
                kind, text = parse_entry(entry)
                if kind == EXACT:
                    self._exact.setdefault(text.casefold(), []).append((side, entry))
                elif kind == CONTAINS:
                    self._contains.append((side, entry, text.casefold()))
                else:
                    self._regex.append((side, entry, re.compile(text, re.IGNORECASE)))
        self._cache: dict[str, Match] = {}

    def explain(self, actor: str) -> Match:
        """Every side whose entries match ``actor`` and the entries that do."""
        hit = self._cache.get(actor)
        if hit is None:
            name = normalise(actor)
            folded = name.casefold()
            exact = self._exact.get(folded, [])
            found = list(exact)
            found += [(s, e) for s, e, needle in self._contains if needle in folded]
            found += [(s, e) for s, e, rx in self._regex if rx.fullmatch(name)]
            hit = self._cache[actor] = Match(
                tuple(sorted({s for s, _ in found})),
                tuple(sorted({e for _, e in found})),
                bool(exact),
            )
        return hit

    def sides_of(self, actor: str) -> tuple[str, ...]:
        """Every side whose entries match ``actor`` (sorted; empty when none)."""
        return self.explain(actor).sides

    def _via(self, assoc: str) -> tuple[str, ...]:
        via: set[str] = set()
        for a in assoc.split(";"):
            if a.strip():
                via |= set(self.sides_of(a.strip()))
        return tuple(via)

    def resolve(self, actor: str, assoc: str = "") -> Resolution:
        """The side of ``actor`` fighting alongside ``assoc`` (``;``-separated), and why.

        A blank actor gets side ``""`` and no problem; callers decide whether blank is allowed.
        """
        if not actor.strip():
            return Resolution("", "", None, "")
        own = self.explain(actor)
        if len(own.sides) == 1:
            return Resolution(own.sides[0], BY_NAME if own.exact else BY_PATTERN, None, "")
        if len(own.sides) > 1:
            return Resolution("", BOTH, AMBIGUOUS, f"{actor} (sides: {', '.join(own.sides)})")
        via = self._via(assoc) if assoc.strip() else ()
        if len(via) == 1:
            return Resolution(via[0], VIA_ASSOCIATES, None, "")
        if self.unknown_side is not None:
            return Resolution(self.unknown_side, BY_DEFAULT, None, "")
        return Resolution("", BY_DEFAULT, UNMATCHED, actor)

    def map(
        self, actors: Iterable[str], assoc: Iterable[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sides, problem reasons (None where fine) and problem values, one per actor."""
        actors = list(actors)
        assoc_l = list(assoc) if assoc is not None else [""] * len(actors)
        memo: dict[tuple[str, str], Resolution] = {}
        side = np.empty(len(actors), dtype=object)
        reason = np.empty(len(actors), dtype=object)
        value = np.empty(len(actors), dtype=object)
        for i, pair in enumerate(zip(actors, assoc_l, strict=True)):
            hit = memo.get(pair)
            if hit is None:
                hit = memo[pair] = self.resolve(*pair)
            side[i], _, reason[i], value[i] = hit
        return side, reason, value

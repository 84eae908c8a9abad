"""Actor → side mapping from ``ingest.sides`` (exact names or ``re:`` regular expressions)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

AMBIGUOUS = "actor matches two sides"
UNMATCHED = "actor matches no side"


def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


class SideMapper:
    """Map actor names to sides.

    An entry is an exact, case-insensitive name (spaces collapsed), or, when it starts with
    ``re:``, a regular expression that must match the whole name, case-insensitively. An actor
    that matches entries of two sides is ambiguous and its row is quarantined: deciding for
    the user which side it fights on would silently change the clash outcome. An actor that
    matches nothing gets ``unknown_side`` (or is quarantined when that is None).

    Parameters
    ----------
    sides : dict
        Side name to its list of actor entries.
    unknown_side : str or None
        Side for actors that match no entry.
    """

    def __init__(self, sides: dict[str, list[str]], unknown_side: str | None) -> None:
        self.unknown_side = unknown_side
        self._exact: dict[str, set[str]] = {}
        self._regex: list[tuple[str, re.Pattern[str]]] = []
        for side, entries in sides.items():
            for entry in entries:
                if entry.startswith("re:"):
                    self._regex.append((side, re.compile(entry[3:], re.IGNORECASE)))
                else:
                    self._exact.setdefault(_key(entry), set()).add(side)
        self._cache: dict[str, tuple[str, ...]] = {}

    def sides_of(self, actor: str) -> tuple[str, ...]:
        """Every side whose entries match ``actor`` (sorted; empty when none)."""
        hit = self._cache.get(actor)
        if hit is None:
            name = " ".join(str(actor).split())
            found = set(self._exact.get(name.casefold(), ()))
            found |= {side for side, rx in self._regex if rx.fullmatch(name)}
            hit = self._cache[actor] = tuple(sorted(found))
        return hit

    def _one(self, actor: str, assoc: str) -> tuple[str, str | None, str]:
        """(side, problem reason or None, value for the problem) for one actor."""
        if not actor.strip():
            return "", None, ""
        found = self.sides_of(actor)
        if not found and assoc.strip():
            # ACLED: an unlisted primary actor fighting alongside listed associates
            # takes their side when they agree on one.
            via: set[str] = set()
            for a in assoc.split(";"):
                if a.strip():
                    via |= set(self.sides_of(a.strip()))
            if len(via) == 1:
                found = tuple(via)
        if len(found) == 1:
            return found[0], None, ""
        if len(found) > 1:
            return "", AMBIGUOUS, f"{actor} (sides: {', '.join(found)})"
        if self.unknown_side is not None:
            return self.unknown_side, None, ""
        return "", UNMATCHED, actor

    def map(
        self, actors: Iterable[str], assoc: Iterable[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sides, problem reasons (None where fine) and problem values, one per actor.

        A blank actor gets side ``""`` and no problem; callers decide whether blank is allowed.
        """
        actors = list(actors)
        assoc_l = list(assoc) if assoc is not None else [""] * len(actors)
        memo: dict[tuple[str, str], tuple[str, str | None, str]] = {}
        side = np.empty(len(actors), dtype=object)
        reason = np.empty(len(actors), dtype=object)
        value = np.empty(len(actors), dtype=object)
        for i, pair in enumerate(zip(actors, assoc_l, strict=True)):
            hit = memo.get(pair)
            if hit is None:
                hit = memo[pair] = self._one(*pair)
            side[i], reason[i], value[i] = hit
        return side, reason, value

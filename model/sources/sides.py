"""Actor → side mapping from ``ingest.sides``: exact names, ``contains:`` and ``re:`` patterns.

This module is the one home of the pattern language (``model.config`` validates every entry
with :func:`parse_entry`). An entry is one of:

``Hezbollah``
    the exact name. Names are compared without case, with runs of whitespace collapsed
    (``"QSD:  Syrian Democratic Forces"`` is ``"qsd: syrian democratic forces"``).
``contains:National Defen``
    the name contains this text anywhere, compared the same way: catches ACLED's suffixed
    and re-dated variants (``QDW: National Defense Forces``, ``… Defence Forces``).
``re:Military Forces of Syria \\(2000-(2024)?\\).*``
    a regular expression that must match the WHOLE name, without case. Use it where a prefix
    or a date range decides (``(2000-2024)`` is the Assad-era army, ``(2024-)`` is not).

Text after ``contains:`` or ``re:`` is stripped (a ``contains:`` text also has its inner
whitespace collapsed), so ``"contains: QSD:"`` works. In YAML quote
an entry that holds ``": "`` (``- "QSD: Syrian Democratic Forces"``) or write it as a one-key
mapping (``- {contains: "QSD:"}``); ``model.config`` turns the mapping into the string form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

AMBIGUOUS = "actor matches two sides"
UNMATCHED = "actor matches no side"

EXACT, CONTAINS, REGEX = "exact", "contains", "re"
#: The prefixed forms, as written before the colon.
PATTERN_KINDS = (CONTAINS, REGEX)
#: Why an actor got its side (``SideMapper.resolve``; ``clashcast actors`` prints them).
BY_NAME, BY_PATTERN, VIA_ASSOCIATES, BY_DEFAULT, BOTH = (
    "exact",
    "pattern",
    "via associates",
    "unknown",
    "ambiguous",
)


def normalise(name: object) -> str:
    """A name with leading, trailing and repeated whitespace removed."""
    return " ".join(str(name).split())


def parse_entry(entry: str) -> tuple[str, str]:
    """``(kind, text)`` of one side entry: ``exact``, ``contains`` or ``re``.

    Raises
    ------
    ValueError
        An empty name or pattern, or a regular expression that does not compile.
    """
    for kind in PATTERN_KINDS:
        if entry.startswith(kind + ":"):
            body = entry[len(kind) + 1 :]
            body = normalise(body) if kind == CONTAINS else body.strip()
            if not body:
                raise ValueError(f"{entry!r}: empty {kind}: pattern")
            if kind == REGEX:
                try:
                    re.compile(body)
                except re.error as e:
                    raise ValueError(f"bad regex {entry!r}: {e}") from None
            return kind, body
    name = normalise(entry)
    if not name:
        raise ValueError("empty actor name")
    return EXACT, name


def entry_text(entry: object) -> object:
    """An entry written as a YAML mapping (``{contains: "QSD:"}``) in its string form.

    Anything but a mapping is returned as it is. An unquoted ``- QSD: Syrian Democratic Forces``
    is a mapping to YAML too: it is refused with the fix, rather than guessed.

    Raises
    ------
    ValueError
        A mapping that is not one of ``{exact: …}``, ``{contains: …}``, ``{re: …}``.
    """
    if not isinstance(entry, dict):
        return entry
    if len(entry) == 1:
        ((kind, text),) = entry.items()
        if kind in (EXACT, *PATTERN_KINDS) and isinstance(text, str):
            return text if kind == EXACT else f"{kind}:{text}"
    shown = "; ".join(f"{k}: {v}" for k, v in entry.items())
    raise ValueError(
        f"entry {entry!r} is a YAML mapping, not a name: quote it "
        f'("{shown}") or write one of {{exact: …}}, {{contains: …}}, {{re: …}}'
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

"""The side pattern language of ``ingest.sides``: exact names, ``contains:`` and ``re:``.

This module is the one home of the pattern language: :mod:`model.config` validates every entry
with :func:`parse_entry` and :class:`model.data.sources.sides.SideMapper` matches actors with it. It
imports nothing of the package, so that the settings do not depend on the source adapters. An
entry is one of:

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
mapping (``- {contains: "QSD:"}``); :func:`entry_text` turns the mapping into the string form.
"""

from __future__ import annotations

import re

EXACT, CONTAINS, REGEX = "exact", "contains", "re"
#: The prefixed forms, as written before the colon.
PATTERN_KINDS = (CONTAINS, REGEX)


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

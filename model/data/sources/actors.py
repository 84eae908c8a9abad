"""Which actors a file or a run holds, how often, and which side each gets and why.

:func:`actor_table` lists every actor of a raw export, with its events as actor
(``actor1``/``actor2``, GED's ``side_a``/``side_b``) and as associate (ACLED's
``assoc_actor_1``/``_2``), the side ``ingest.sides`` gives it and why: what ``clashcast actors``
prints (:func:`actors_report`), and how a user writes a side map. :func:`side_coverage`
summarises the kept events per side for ``reports/metrics/ingest.json``, and
:func:`unmatched_warnings` names the unmatched actors with more events than a clash side.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from model.config import IngestParams
from model.data.sources.reading import RawTable, column, printable, read_table
from model.data.sources.sides import BOTH, BY_DEFAULT, BY_NAME, VIA_ASSOCIATES, Match, SideMapper

QUARANTINED = "(quarantined)"
COLUMNS = ["actor", "as_actor", "as_associate", "side", "why", "unmatched", "as_unknown"]
TOP_ACTORS = 10  # per side in ingest.json
UNKNOWN_TOP = 20  # largest unmatched actors in ingest.json


def _long(table: RawTable, columns: Sequence[tuple[str, str | None]]) -> pd.DataFrame:
    """One row per (file row, actor column): ``row, actor, assoc``."""
    parts = [
        pd.DataFrame(
            {
                "row": table.data["_line"].to_numpy(),
                "actor": column(table, actor).to_numpy(),
                "assoc": column(table, assoc).to_numpy() if assoc else "",
            }
        )
        for actor, assoc in columns
    ]
    return pd.concat(parts, ignore_index=True)


def _associates(long: pd.DataFrame) -> pd.Series:
    """Rows in which each name is an associate (``;``-separated), counted once per row."""
    names = long[["row"]].assign(name=long["assoc"].str.split(";")).explode("name")
    names["name"] = names["name"].fillna("").str.strip()
    names = names[names["name"] != ""].drop_duplicates()
    return names.groupby("name").size()


def _resolved(long: pd.DataFrame, mapper: SideMapper) -> pd.DataFrame:
    """Actors with their ``side`` and ``how`` in each row (once per row and name)."""
    long = long[long["actor"] != ""].drop_duplicates(["row", "actor"])
    pairs = long[["actor", "assoc"]].drop_duplicates()
    got = [mapper.resolve(a, s) for a, s in pairs.itertuples(index=False)]
    pairs = pairs.assign(side=[g.side for g in got], how=[g.how for g in got])
    return long.merge(pairs, on=["actor", "assoc"], how="left")


def _describe(own: Match, n: int, via: int, via_sides: str, unknown: str | None) -> tuple[str, str]:
    """Side and why for one name: its own match, else its ``n`` events as actor (``via`` of
    them given a side by their associates)."""
    if len(own.sides) == 1:
        return own.sides[0], BY_NAME if own.exact else "pattern " + ", ".join(own.entries)
    if own.sides:
        return QUARANTINED, f"{BOTH}: sides {', '.join(own.sides)} ({', '.join(own.entries)})"
    fallback = unknown if unknown is not None else QUARANTINED
    if not via:
        return fallback, BY_DEFAULT if n else f"{BY_DEFAULT} (only an associate)"
    if via == n:
        return via_sides, VIA_ASSOCIATES
    return fallback, f"{BY_DEFAULT}; {via} of {n} {VIA_ASSOCIATES} ({via_sides})"


def actor_table(
    table: RawTable, columns: Sequence[tuple[str, str | None]], mapper: SideMapper
) -> pd.DataFrame:
    """Every actor of ``table`` with its counts, side and why, largest first.

    Parameters
    ----------
    table : RawTable
        The raw file, as read.
    columns : sequence of (str, str or None)
        The (actor, associates) column pairs of its format (``model.data.sources.<format>.ACTORS``).
    mapper : SideMapper
        The side map from params.

    Returns
    -------
    DataFrame
        ``actor, as_actor, as_associate, side, why, unmatched, as_unknown``: rows of the file
        in which the name is an actor and an associate; its side (``(quarantined)`` when
        ambiguous, or unmatched with no ``unknown_side``); why (``exact``,
        ``pattern <entries>``, ``via associates``, ``unknown``, ``ambiguous``); whether it
        matches no entry and some of its rows (or all, for a name seen only as associate) fall
        to the unknown side; and how many rows do. Sorted by rows as actor plus as associate,
        descending, then by name.
    """
    long = _long(table, columns)
    resolved = _resolved(long, mapper)
    as_assoc = _associates(long)
    as_actor = resolved.groupby("actor").size()
    via = resolved[resolved["how"] == VIA_ASSOCIATES].groupby("actor")["side"]
    via_n, via_sides = via.size(), via.agg(lambda s: ", ".join(sorted(set(s))))
    fallen = resolved[resolved["how"] == BY_DEFAULT].groupby("actor").size()
    rows = []
    for name in as_actor.index.union(as_assoc.index):
        own, n, v = mapper.explain(name), int(as_actor.get(name, 0)), int(via_n.get(name, 0))
        side, why = _describe(own, n, v, via_sides.get(name, ""), mapper.unknown_side)
        unmatched = not own.sides and (n == 0 or name in fallen.index)
        to_unknown = int(fallen.get(name, 0))
        rows.append((name, n, int(as_assoc.get(name, 0)), side, why, unmatched, to_unknown))
    out = pd.DataFrame(rows, columns=COLUMNS)
    out = out.assign(total=out["as_actor"] + out["as_associate"])
    out = out.sort_values(["total", "actor"], ascending=[False, True], kind="stable")
    return out.drop(columns="total").reset_index(drop=True)


def read_actors(
    path: Path, fmt: str, ip: IngestParams, file: str | None = None
) -> tuple[RawTable, pd.DataFrame] | None:
    """Read ``path`` in format ``fmt`` and list its actors; None when the format has none."""
    columns = importlib.import_module(f"model.data.sources.{fmt}").ACTORS
    if not columns:
        return None
    table = read_table(path, file or path.as_posix(), [columns[0][0]], ip.max_field_bytes)
    return table, actor_table(table, columns, SideMapper(ip.sides, ip.unknown_side))


def format_actor_table(actors: pd.DataFrame, width: int = 48) -> list[str]:
    """The table as aligned text lines (names escaped for the terminal)."""
    names = [printable(a) for a in actors["actor"]]
    w_name = min(max((len(n) for n in names), default=5), width)
    w_side = max((len(s) for s in actors["side"]), default=4)
    lines = [f"{'as actor':>8} {'assoc':>7}  {'side':<{w_side}}  {'actor':<{w_name}}  why"]
    for name, r in zip(names, actors.itertuples(index=False), strict=True):
        lines.append(
            f"{r.as_actor:>8} {r.as_associate:>7}  {r.side:<{w_side}}  {name:<{w_name}}  {r.why}"
        )
    return lines


def actors_report(
    path: Path, fmt: str, ip: IngestParams, unmatched: bool = False, file: str | None = None
) -> list[str]:
    """What ``clashcast actors`` prints: a summary line, then the table.

    Raises
    ------
    StageError
        The file cannot be read or lacks its actor column (``file:line: field=…``).
    """
    file = file or path.as_posix()
    got = read_actors(path, fmt, ip, file)
    if got is None:
        return [f"{file}: a {fmt} file has no actors: its side is the source's `side` in params"]
    table, actors = got
    n_missed, fallen = int(actors["unmatched"].sum()), int(actors["as_unknown"].sum())
    to = f"side {ip.unknown_side!r}" if ip.unknown_side else "quarantine"
    head = (
        f"{file}: {len(table.data)} rows, {len(actors)} actors; {n_missed} match no side, and "
        f"{fallen} of their places as actor fall to {to}. Counts are rows of the file (window "
        "and regions not applied): 'as actor' as either actor, 'assoc' among the associates."
    )
    shown = actors[actors["unmatched"]] if unmatched else actors
    return [head, *format_actor_table(shown)]


def _per_actor(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, side, actor) of the kept events, actor1's and actor2's."""
    parts = [
        pd.DataFrame(
            {
                "event": events["event_id"].astype(str).to_numpy(),
                "side": events[f"side{k}"].astype(str).to_numpy(),
                "actor": events[f"actor{k}"].fillna("").astype(str).to_numpy(),
            }
        )
        for k in ("1", "2")
    ]
    long = pd.concat(parts, ignore_index=True)
    return long[long["side"] != ""].drop_duplicates()


def _top(per_actor: pd.DataFrame, n: int) -> list[list]:
    named = per_actor[per_actor["actor"] != ""]
    counts = named.groupby("actor")["event"].nunique().reset_index(name="events")
    counts = counts.sort_values(["events", "actor"], ascending=[False, True]).head(n)
    return [[a, int(e)] for a, e in counts.itertuples(index=False)]


def side_coverage(events: pd.DataFrame, unknown_side: str | None) -> dict:
    """Events and actors per side, and the largest actors left to the unknown side.

    Returns
    -------
    dict
        ``sides: {side: {events, actors, top_actors: [[name, events], ...]}}`` (kept events in
        which the side is ``side1`` or ``side2``; distinct named actors given the side; the
        :data:`TOP_ACTORS` largest), ``unknown_side`` and ``unknown_side_top``: the
        :data:`UNKNOWN_TOP` largest actors given it (empty when unmatched actors are
        quarantined instead).
    """
    long = _per_actor(events)
    sides = {}
    for side, g in long.groupby("side", sort=True):
        sides[str(side)] = {
            "events": int(g["event"].nunique()),
            "actors": int(g.loc[g["actor"] != "", "actor"].nunique()),
            "top_actors": _top(g, TOP_ACTORS),
        }
    unknown = long[long["side"] == unknown_side] if unknown_side else long.iloc[:0]
    return {
        "sides": sides,
        "unknown_side": unknown_side,
        "unknown_side_top": _top(unknown, UNKNOWN_TOP),
    }


def unmatched_warnings(coverage: dict, clash_sides: Sequence[str]) -> list[str]:
    """A message per unmatched actor with more events than the smaller clash side."""
    counts = {s: coverage["sides"].get(s, {}).get("events", 0) for s in clash_sides}
    smaller = min(counts, key=lambda s: (counts[s], s))
    return [
        f"actor {printable(name)!r} matches no side and is in {n} kept events, more than "
        f"clash side {smaller!r} ({counts[smaller]}): add it to ingest.sides if it belongs to "
        "one (clashcast actors FILE --format F --unmatched lists all)"
        for name, n in coverage["unknown_side_top"]
        if n > counts[smaller]
    ]

"""What every adapter shares after reading: field checks, sides, regions, the canonical frame.

An adapter reads its file (:mod:`model.data.sources.reading`) and builds a *staged* frame of raw
text in common columns (``id, date, country, admin1, latitude, longitude, actor1, assoc1,
actor2, assoc2, category, category_key, fatalities`` and, where the source codes how precisely
its coordinates place an event, ``precision``); :func:`finish` checks every field of every row,
quarantines each row with all its problems, places events in regions, says whether each is
located to a point or only to its region, and returns the kept events in the contract of
:mod:`model.data.schema`, so that ``rows_read == rows_kept + rows_rejected`` holds by
construction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from model.config import IngestParams, SourceSpec
from model.data.regions import Regions, normalise_name
from model.data.schema import LOCATED, REJECTED_COLUMNS, coerce_events, empty_events
from model.data.sources.reading import RawTable, column, preview
from model.data.sources.sides import SideMapper
from model.errors import StageError

MISSING = "missing value"
BAD_DATE = "date not parseable"
IMPOSSIBLE_DATE = "date impossible"
OUTSIDE_WINDOW = "outside window"
NOT_NUMERIC = "coordinate not numeric"
OUT_OF_RANGE = "coordinate out of range"
OUTSIDE_REGIONS = "outside every region"
UNKNOWN_REGION = "unknown region name"
NO_LOCATION = "no coordinates or region name"
NEGATIVE = "fatalities negative"
NOT_INTEGER = "fatalities not an integer"
TOO_MANY = "fatalities implausibly large"
MAX_FATALITIES = 1_000_000  # more than any single coded event; beyond it a typo or a unit error
DUPLICATE = "duplicate event id"
UNKNOWN_CATEGORY = "unknown category"
UNKNOWN_PRECISION = "location precision not one of {codes}"
POINT, REGION = LOCATED

_DATE_SHAPE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[ -/][A-Za-z]+[ -/]\d{4})\s*$")


@dataclass(frozen=True)
class SourceContext:
    """Everything an adapter needs: its params entry, the ingest params and the regions."""

    spec: SourceSpec
    params: IngestParams
    regions: Regions
    root: Path

    @property
    def file(self) -> str:
        return self.spec.path.as_posix()

    @property
    def path(self) -> Path:
        return self.spec.path if self.spec.path.is_absolute() else self.root / self.spec.path


class SourceResult(NamedTuple):
    """Kept events (canonical columns), quarantined rows and the source's ingest metrics."""

    events: pd.DataFrame
    rejected: pd.DataFrame
    stats: dict


class Problems:
    """Row-level problems of one source, collected column by column."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, lines: object, field: str, values: object, reason: str | object) -> None:
        lines_a = np.asarray(lines, dtype=np.int64).ravel()
        if lines_a.size == 0:
            return
        values_a = np.broadcast_to(np.asarray(values, dtype=object), lines_a.shape)
        reasons_a = np.broadcast_to(np.asarray(reason, dtype=object), lines_a.shape)
        self._parts.append(
            pd.DataFrame(
                {
                    "line": lines_a,
                    "field": field,
                    "value": [preview(v) for v in values_a],
                    "reason": reasons_a,
                }
            )
        )

    def mask(
        self, staged: pd.DataFrame, bad: np.ndarray, field: str, values: object, reason: str
    ) -> None:
        bad = np.asarray(bad, dtype=bool)
        vals = np.asarray(values, dtype=object)
        self.add(staged["_line"].to_numpy()[bad], field, vals[bad] if vals.ndim else vals, reason)

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(
                {"line": pd.Series(dtype="int64"), "field": [], "value": [], "reason": []}
            )
        return pd.concat(self._parts, ignore_index=True)


def category_map(ctx: SourceContext, fmt: str) -> dict[str, str]:
    """The source-type → category map for ``fmt``; a format without one cannot be coded."""
    cats = ctx.params.categories.get(fmt)
    if not cats:
        raise StageError(
            f"{ctx.file}: params ingest.categories has no map for format {fmt!r}, "
            "so no event of this source can be given a category"
        )
    return cats


def parse_dates(raw: pd.Series, formats: list[str]) -> tuple[pd.Series, np.ndarray]:
    """Dates (NaT where bad) and a reason per value (None where fine)."""
    text = raw.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        got = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        out[todo] = got.astype("datetime64[ns]")
    reason = np.full(len(raw), None, dtype=object)
    blank = (text == "").to_numpy()
    nat = out.isna().to_numpy()
    shaped = text.str.match(_DATE_SHAPE).to_numpy()
    reason[blank] = MISSING
    reason[nat & ~blank & shaped] = IMPOSSIBLE_DATE
    reason[nat & ~blank & ~shaped] = BAD_DATE
    return out, reason


def parse_coord(raw: pd.Series, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where blank or bad) and a reason per value (None where fine or blank)."""
    text = raw.fillna("").astype(str).str.strip()
    num = pd.to_numeric(text.where(text != "", None), errors="coerce")
    num = num.to_numpy(dtype=float, copy=True)
    reason = np.full(len(raw), None, dtype=object)
    blank = (text == "").to_numpy()
    reason[~blank & np.isnan(num)] = NOT_NUMERIC
    bad_range = ~np.isnan(num) & ((np.abs(num) > limit) | ~np.isfinite(num))
    reason[bad_range] = OUT_OF_RANGE
    num[~blank & (reason != None)] = np.nan  # noqa: E711
    return num, reason


def parse_fatalities(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers (blank means 0, as in ACLED) and a reason per value."""
    text = raw.fillna("").astype(str).str.strip()
    num = pd.to_numeric(text.where(text != "", "0"), errors="coerce")
    num = num.to_numpy(dtype=float, copy=True)
    reason = np.full(len(raw), None, dtype=object)
    finite = np.isfinite(num)
    whole = finite & (np.floor(np.where(finite, num, 0.0)) == num)
    reason[~whole] = NOT_INTEGER
    reason[whole & (num < 0)] = NEGATIVE
    reason[whole & (num > MAX_FATALITIES)] = TOO_MANY
    ok = reason == None  # noqa: E711
    out = np.zeros(len(raw), dtype=np.int64)
    out[ok] = num[ok].astype(np.int64)
    return out, reason


def _by_reason(
    problems: Problems, staged: pd.DataFrame, field: str, values: object, reason: np.ndarray
) -> None:
    for r in pd.unique(reason[reason != None]):  # noqa: E711
        problems.mask(staged, reason == r, field, values, r)


class RowCheck(NamedTuple):
    """A source's own consistency check: rows where ``bad``, quarantined with ``reason``."""

    bad: np.ndarray
    field: str
    values: object
    reason: str


def staged_frame(
    table: RawTable,
    same: Sequence[str],
    renamed: Mapping[str, str],
    computed: Mapping[str, Any],
) -> pd.DataFrame:
    """The rows to check, as text by common column (:func:`finish` reads them by name).

    ``_line``; the columns named alike in the source (``same``); the common columns read from
    a source column of another name (``renamed``: common → source); and ``computed`` ones.
    """
    out = {"_line": table.data["_line"], **{c: column(table, c) for c in same}}
    out |= {c: column(table, src) for c, src in renamed.items()}
    return pd.DataFrame(out | dict(computed))


def finish(
    ctx: SourceContext,
    table: RawTable,
    staged: pd.DataFrame,
    fields: dict[str, str],
    date_formats: list[str],
    require_actor: bool = True,
    checks: Iterable[RowCheck] = (),
    precision: Mapping[str, str] | None = None,
) -> SourceResult:
    """Check the staged rows, quarantine the bad ones and build the canonical events.

    Parameters
    ----------
    ctx : SourceContext
    table : RawTable
        What was read (rows quarantined while reading are counted here).
    staged : DataFrame
        Raw text per common column, plus ``_line``; optional ``side1``/``side2`` preset.
    fields : dict
        Common column to the source's column name, for the messages.
    date_formats : list of str
        ``strftime`` formats tried in order.
    require_actor : bool
        Whether a blank ``actor1`` is a problem (point streams have no actors).
    checks : iterable of RowCheck
        The source's own consistency checks (GED: ``date_end`` before ``date_start``).
    precision : mapping, optional
        The source's codes in the staged ``precision`` column → ``point`` or ``region``
        (:func:`locate`); None when the source has no such codes.
    """
    problems = Problems()
    for line, field, value, reason in table.problems:
        problems.add([line], field, value, reason)
    _check_ids(problems, staged, fields)
    dates = _check_dates(problems, staged, fields, date_formats, ctx.params)
    lat, lon = _check_coordinates(problems, staged, fields)
    fat, r_fat = parse_fatalities(staged["fatalities"])
    _by_reason(problems, staged, _field(fields, "fatalities"), staged["fatalities"], r_fat)
    unknown_cat = staged["category"].isna().to_numpy()
    problems.mask(
        staged, unknown_cat, _field(fields, "category"), staged["category_key"], UNKNOWN_CATEGORY
    )
    for check in checks:
        problems.mask(staged, check.bad, check.field, check.values, check.reason)
    mapper = SideMapper(ctx.params.sides, ctx.params.unknown_side)
    side1, side2 = _map_sides(problems, staged, fields, mapper)
    if require_actor:
        problems.mask(
            staged, (staged["actor1"] == "").to_numpy(), _field(fields, "actor1"), "", MISSING
        )
    region, how, disagree = _place(ctx.regions, staged, lat, lon, problems, fields)
    located = locate(problems, staged, fields, precision or {}, how)

    rej = problems.frame()
    keep = ~staged["_line"].isin(set(rej["line"].tolist())).to_numpy()
    parsed = {
        "date": dates.to_numpy(),
        "latitude": lat,
        "longitude": lon,
        "side1": side1,
        "side2": side2,
        "fatalities": fat,
        "region": region,
        "placed_by": how,
        "located": located,
    }
    events = _events(ctx, staged[keep], {k: v[keep] for k, v in parsed.items()})
    return SourceResult(
        events, _rejected_frame(ctx, rej), _stats(ctx, table, rej, events, disagree[keep])
    )


def _field(fields: dict[str, str], key: str) -> str:
    """The source's name for a common column, for the messages."""
    return fields.get(key, key)


def _check_ids(problems: Problems, staged: pd.DataFrame, fields: dict[str, str]) -> None:
    ids = staged["id"]
    problems.mask(staged, (ids == "").to_numpy(), _field(fields, "id"), "", MISSING)
    dup = (ids.duplicated(keep="first") & (ids != "")).to_numpy()
    problems.mask(staged, dup, _field(fields, "id"), ids, DUPLICATE)


def _check_dates(
    problems: Problems,
    staged: pd.DataFrame,
    fields: dict[str, str],
    date_formats: list[str],
    p: IngestParams,
) -> pd.Series:
    dates, reason = parse_dates(staged["date"], date_formats)
    _by_reason(problems, staged, _field(fields, "date"), staged["date"], reason)
    start, end = pd.Timestamp(p.window.start), pd.Timestamp(p.window.end)
    outside = (dates.notna() & ((dates < start) | (dates > end))).to_numpy()
    problems.mask(staged, outside, _field(fields, "date"), staged["date"], OUTSIDE_WINDOW)
    return dates


def _check_coordinates(
    problems: Problems, staged: pd.DataFrame, fields: dict[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    lat, r_lat = parse_coord(staged["latitude"], 90.0)
    lon, r_lon = parse_coord(staged["longitude"], 180.0)
    _by_reason(problems, staged, _field(fields, "latitude"), staged["latitude"], r_lat)
    _by_reason(problems, staged, _field(fields, "longitude"), staged["longitude"], r_lon)
    one_blank = (staged["latitude"] == "").to_numpy() != (staged["longitude"] == "").to_numpy()
    problems.mask(staged, one_blank, "latitude/longitude", "one of the pair is blank", MISSING)
    lat[one_blank], lon[one_blank] = np.nan, np.nan
    return lat, lon


def _map_sides(
    problems: Problems, staged: pd.DataFrame, fields: dict[str, str], mapper: SideMapper
) -> tuple[np.ndarray, np.ndarray]:
    """``side1``, ``side2`` per row: preset by the adapter, or mapped from the actors."""
    sides = []
    for k in ("1", "2"):
        if f"side{k}" in staged.columns:
            sides.append(staged[f"side{k}"].to_numpy(dtype=object))
            continue
        assoc = staged[f"assoc{k}"] if f"assoc{k}" in staged.columns else None
        side, reason, value = mapper.map(staged[f"actor{k}"], assoc)
        _by_reason(problems, staged, _field(fields, f"actor{k}"), value, reason)
        sides.append(side)
    return sides[0], sides[1]


def _events(ctx: SourceContext, kept: pd.DataFrame, parsed: dict[str, np.ndarray]) -> pd.DataFrame:
    """The kept rows as canonical events (:data:`model.data.schema.EVENTS`).

    ``kept`` holds their staged text, ``parsed`` their checked values (dates, coordinates,
    sides, fatalities, region and how it was found), one array per column.
    """
    rid = dict(zip(ctx.regions.table["region"], ctx.regions.table["region_id"], strict=True))
    region = parsed["region"]
    events = pd.DataFrame(
        {
            "event_id": (ctx.spec.name + ":" + kept["id"]).to_numpy(),
            "date": parsed["date"],
            "country": [ctx.regions.country_of(r) for r in region],
            "region": region,
            "region_id": [rid[r] for r in region],
            "latitude": parsed["latitude"],
            "longitude": parsed["longitude"],
            "actor1": kept["actor1"].to_numpy(),
            "actor2": kept["actor2"].to_numpy(),
            "side1": parsed["side1"],
            "side2": parsed["side2"],
            "category": kept["category"].to_numpy(),
            "fatalities": parsed["fatalities"],
            "source_dataset": ctx.spec.name,
            "source_row": [f"{ctx.file}:{n}" for n in kept["_line"].to_numpy()],
            "placed_by": parsed["placed_by"],
            "located": parsed["located"],
            "place": kept["place"].to_numpy() if "place" in kept else "",
        }
    )
    return coerce_events(events) if len(events) else empty_events()


def _place(
    regions: Regions,
    staged: pd.DataFrame,
    lat: np.ndarray,
    lon: np.ndarray,
    problems: Problems,
    fields: dict[str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region per row: polygon (or snap) first, the source's admin-1 name as fallback.

    A disagreement (both found, different regions) keeps the polygon's and is counted.
    """
    by_point, how = regions.place(lat, lon)
    admin1 = staged["admin1"].to_numpy(dtype=object)
    country = staged["country"].to_numpy(dtype=object)
    for i in np.flatnonzero(how == "snap"):
        # Never snap across a border: a point just inside Turkey stays out of Syria.
        if country[i] and normalise_name(country[i]) != normalise_name(
            regions.country_of(by_point[i])
        ):
            by_point[i], how[i] = None, ""
    memo: dict[tuple[str, str], str | None] = {}
    by_name = np.empty(len(staged), dtype=object)
    for i, key in enumerate(zip(admin1, country, strict=True)):
        if key not in memo:
            memo[key] = regions.match_name(*key) if key[0] else None
        by_name[i] = memo[key]
    placed = np.array([r is not None for r in by_point], dtype=bool)
    named = np.array([r is not None for r in by_name], dtype=bool)
    has_point = ~np.isnan(lat) & ~np.isnan(lon)
    has_name = admin1 != ""
    region = np.where(placed, by_point, by_name)
    how = np.where(placed, how, np.where(named, "name", ""))
    disagree = placed & named & (by_point != by_name)
    unplaced = ~placed & ~named
    admin_field = fields.get("admin1", "admin1")
    problems.mask(
        staged,
        unplaced & has_point,
        "latitude/longitude",
        np.array([f"{a:.5f},{b:.5f}" for a, b in zip(lat, lon, strict=True)], dtype=object),
        OUTSIDE_REGIONS,
    )
    problems.mask(staged, unplaced & has_name, admin_field, admin1, UNKNOWN_REGION)
    coords_given = (staged["latitude"] != "").to_numpy() | (staged["longitude"] != "").to_numpy()
    problems.mask(
        staged, unplaced & ~has_name & ~has_point & ~coords_given, admin_field, "", NO_LOCATION
    )
    return region, how, disagree


def locate(
    problems: Problems,
    staged: pd.DataFrame,
    fields: dict[str, str],
    codes: Mapping[str, str],
    how: np.ndarray,
) -> np.ndarray:
    """``point`` or ``region`` per row: how precisely the event can be placed.

    ``point``: its coordinates place it to about a PRIO-GRID cell (0.5°); ``region``: only its
    admin-1 region is known. The source's code in the staged ``precision`` column (numbers
    like ``4.0`` read as ``4``, text without case) is looked up in ``codes``; a blank code
    means ``point``; any other code quarantines the row. An event placed by its region's name
    (no coordinates, or coordinates outside every region) is ``region`` whatever the code says.
    """
    raw = staged["precision"] if "precision" in staged.columns else pd.Series("", staged.index)
    code = raw.fillna("").astype(str).str.strip().str.casefold()
    code = code.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    mapped = code.map(dict(codes)).to_numpy(dtype=object)
    unknown = (code != "").to_numpy() & pd.isna(mapped)
    reason = UNKNOWN_PRECISION.format(codes=", ".join(codes))
    problems.mask(staged, unknown, _field(fields, "precision"), raw, reason)
    located = np.where(mapped == REGION, REGION, POINT).astype(object)
    located[how == "name"] = REGION
    return located


def located_counts(events: pd.DataFrame) -> dict[str, int]:
    """Events per ``located`` value (every value, zero included)."""
    return {k: int((events["located"] == k).sum()) for k in LOCATED}


def _rejected_frame(ctx: SourceContext, rej: pd.DataFrame) -> pd.DataFrame:
    rej = rej.sort_values("line", kind="stable").reset_index(drop=True)
    rej.insert(0, "file", ctx.file)
    rej.insert(0, "source", ctx.spec.name)
    out = rej[REJECTED_COLUMNS].copy()
    for c in ("source", "file", "field", "value", "reason"):
        out[c] = out[c].fillna("").astype("string")
    out["line"] = out["line"].astype("int64")
    return out


def _stats(
    ctx: SourceContext,
    table: RawTable,
    rej: pd.DataFrame,
    events: pd.DataFrame,
    disagree: np.ndarray,
) -> dict:
    rows_rejected = int(rej["line"].nunique())
    per_row = rej.drop_duplicates(["line", "reason"])
    stats = {
        "path": ctx.file,
        "format": ctx.spec.format,
        "encoding": table.encoding,
        "rows_read": int(table.rows_read),
        "rows_kept": len(events),
        "rows_rejected": rows_rejected,
        "reasons": dict(sorted(Counter(per_row["reason"]).items())),
        "duplicates": int((per_row["reason"] == DUPLICATE).sum()),
        "region_disagreements": int(disagree.sum()),
        "placed_by": {k: int(v) for k, v in sorted(Counter(events["placed_by"]).items())},
        "located": located_counts(events),
        "notes": list(table.notes),
    }
    if stats["rows_read"] != stats["rows_kept"] + stats["rows_rejected"]:
        raise StageError(
            f"{ctx.file}: internal error: {stats['rows_read']} rows read but "
            f"{stats['rows_kept']} kept + {stats['rows_rejected']} rejected"
        )
    return stats

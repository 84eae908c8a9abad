"""What every adapter shares after reading: field checks, sides, regions, the canonical frame.

An adapter reads its file (:mod:`model.sources.reading`) and builds a *staged* frame of raw
text in common columns (``id, date, country, admin1, latitude, longitude, actor1, assoc1,
actor2, assoc2, category, category_key, fatalities``); :func:`finish` checks every field of
every row, quarantines each row with all its problems, places events in regions and returns
the kept events in the contract of :mod:`model.schema`, so that
``rows_read == rows_kept + rows_rejected`` holds by construction.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from model.config import IngestParams, SourceSpec
from model.errors import StageError
from model.regions import Regions, normalise_name
from model.schema import REJECTED_COLUMNS, coerce_events, empty_events
from model.sources.reading import RawTable, preview
from model.sources.sides import SideMapper

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


def finish(
    ctx: SourceContext,
    table: RawTable,
    staged: pd.DataFrame,
    fields: dict[str, str],
    date_formats: list[str],
    require_actor: bool = True,
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
    """
    p = ctx.params
    problems = Problems()
    for line, field, value, reason in table.problems:
        problems.add([line], field, value, reason)
    f = fields.get

    ids = staged["id"]
    problems.mask(staged, (ids == "").to_numpy(), f("id", "id"), "", MISSING)
    dup = (ids.duplicated(keep="first") & (ids != "")).to_numpy()
    problems.mask(staged, dup, f("id", "id"), ids, DUPLICATE)

    dates, reason = parse_dates(staged["date"], date_formats)
    _by_reason(problems, staged, f("date", "date"), staged["date"], reason)
    start, end = pd.Timestamp(p.window.start), pd.Timestamp(p.window.end)
    outside = (dates.notna() & ((dates < start) | (dates > end))).to_numpy()
    problems.mask(staged, outside, f("date", "date"), staged["date"], OUTSIDE_WINDOW)

    lat, r_lat = parse_coord(staged["latitude"], 90.0)
    lon, r_lon = parse_coord(staged["longitude"], 180.0)
    _by_reason(problems, staged, f("latitude", "latitude"), staged["latitude"], r_lat)
    _by_reason(problems, staged, f("longitude", "longitude"), staged["longitude"], r_lon)
    one_blank = (staged["latitude"] == "").to_numpy() != (staged["longitude"] == "").to_numpy()
    problems.mask(staged, one_blank, "latitude/longitude", "one of the pair is blank", MISSING)
    lat[one_blank], lon[one_blank] = np.nan, np.nan

    fat, r_fat = parse_fatalities(staged["fatalities"])
    _by_reason(problems, staged, f("fatalities", "fatalities"), staged["fatalities"], r_fat)

    unknown_cat = staged["category"].isna().to_numpy()
    problems.mask(
        staged, unknown_cat, f("category", "category"), staged["category_key"], UNKNOWN_CATEGORY
    )

    mapper = SideMapper(p.sides, p.unknown_side)
    sides = {}
    for k in ("1", "2"):
        if f"side{k}" in staged.columns:
            sides[k] = staged[f"side{k}"].to_numpy(dtype=object)
            continue
        actor = staged[f"actor{k}"]
        assoc = staged[f"assoc{k}"] if f"assoc{k}" in staged.columns else None
        side, reason, value = mapper.map(actor, assoc)
        _by_reason(problems, staged, f(f"actor{k}", f"actor{k}"), value, reason)
        sides[k] = side
    if require_actor:
        problems.mask(
            staged, (staged["actor1"] == "").to_numpy(), f("actor1", "actor1"), "", MISSING
        )

    region, how, disagree = _place(ctx.regions, staged, lat, lon, problems, fields)

    rej = problems.frame()
    bad_lines = set(rej["line"].tolist())
    keep = ~staged["_line"].isin(bad_lines).to_numpy()
    rid = dict(zip(ctx.regions.table["region"], ctx.regions.table["region_id"], strict=True))
    kept_region = region[keep]
    events = pd.DataFrame(
        {
            "event_id": (ctx.spec.name + ":" + ids[keep]).to_numpy(),
            "date": dates[keep].to_numpy(),
            "country": [ctx.regions.country_of(r) for r in kept_region],
            "region": kept_region,
            "region_id": [rid[r] for r in kept_region],
            "latitude": lat[keep],
            "longitude": lon[keep],
            "actor1": staged["actor1"].to_numpy()[keep],
            "actor2": staged["actor2"].to_numpy()[keep],
            "side1": sides["1"][keep],
            "side2": sides["2"][keep],
            "category": staged["category"].to_numpy()[keep],
            "fatalities": fat[keep],
            "source_dataset": ctx.spec.name,
            "source_row": [f"{ctx.file}:{n}" for n in staged["_line"].to_numpy()[keep]],
            "placed_by": how[keep],
        }
    )
    events = coerce_events(events) if len(events) else empty_events()
    return SourceResult(
        events, _rejected_frame(ctx, rej), _stats(ctx, table, rej, events, disagree[keep])
    )


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
        "notes": list(table.notes),
    }
    if stats["rows_read"] != stats["rows_kept"] + stats["rows_rejected"]:
        raise StageError(
            f"{ctx.file}: internal error: {stats['rows_read']} rows read but "
            f"{stats['rows_kept']} kept + {stats['rows_rejected']} rejected"
        )
    return stats

"""Force positions: fixed installations of a side, active over a date range.

Columns ``side, name, latitude, longitude`` are required; ``kind, start_date, end_date,
country`` optional (blank dates mean open-ended: NaT). Each position is placed in a region
when it lies in (or within ``snap_km`` of) one; positions outside every region (a base just
across a border) are kept with a blank region, because they still matter for distances to
nearby regions; a position is not snapped across a border into a country other than
its own ``country``. Rows with bad coordinates or dates, an end before the start, or a side that
params do not know are quarantined.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.config import IngestParams
from model.data.regions import Regions
from model.data.schema import POSITION_COLUMNS, POSITIONS, REJECTED_COLUMNS, validate
from model.data.sources.common import MISSING, Problems, parse_coord, parse_dates
from model.data.sources.reading import RawTable, column, read_table

REQUIRED = ["side", "name", "latitude", "longitude"]
UNKNOWN_SIDE = "unknown side"
END_BEFORE_START = "end_date before start_date"
DATE_FORMATS = ["%Y-%m-%d"]


def known_sides(params: IngestParams) -> set[str]:
    """Sides a position may name: actor-map sides, position sides and point-stream sides."""
    sides = set(params.sides) | set(params.position_sides)
    sides |= {s.side for s in params.sources if s.side}
    if params.unknown_side:
        sides.add(params.unknown_side)
    return sides


def read_positions(
    path: Path, file: str, params: IngestParams, regions: Regions
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Validated positions, quarantined rows (``rejected.csv`` columns) and metrics."""
    table = read_table(path, file, REQUIRED, params.max_field_bytes)
    problems, coords, dates = _checked(table, params)
    rej = problems.frame()
    keep = ~table.data["_line"].isin(set(rej["line"])).to_numpy()
    lat, lon = coords["latitude"][keep], coords["longitude"][keep]
    region, country = _placed(lat, lon, column(table, "country").to_numpy()[keep], regions)
    out = pd.DataFrame(
        {
            "side": column(table, "side").to_numpy()[keep],
            "name": column(table, "name").to_numpy()[keep],
            "kind": column(table, "kind").to_numpy()[keep],
            "latitude": lat.astype("float64"),
            "longitude": lon.astype("float64"),
            "start_date": dates["start_date"].to_numpy()[keep],
            "end_date": dates["end_date"].to_numpy()[keep],
            "region": pd.array(list(region), dtype="string"),
            "country": pd.array(country, dtype="string"),
        }
    )
    for c in ("side", "name", "kind"):
        out[c] = out[c].astype("string")
    for c in ("start_date", "end_date"):
        out[c] = out[c].astype("datetime64[ns]")
    out = validate(out[POSITION_COLUMNS], POSITIONS)
    rej = rej.sort_values("line", kind="stable").reset_index(drop=True)
    rej.insert(0, "file", file)
    rej.insert(0, "source", "positions")
    rej = rej[REJECTED_COLUMNS]
    stats = {
        "path": file,
        "rows_read": int(table.rows_read),
        "rows_kept": len(out),
        "rows_rejected": int(rej["line"].nunique()),
        "outside_regions": int(out["region"].isna().sum()),
        "encoding": table.encoding,
    }
    return out, rej, stats


def _checked(
    table: RawTable, params: IngestParams
) -> tuple[Problems, dict[str, np.ndarray], dict[str, pd.Series]]:
    """Every row's problems, and the parsed coordinates and dates (blank dates: open-ended)."""
    staged = table.data
    problems = Problems()
    for line, field, value, reason in table.problems:
        problems.add([line], field, value, reason)
    side = column(table, "side")
    name = column(table, "name")
    problems.mask(staged, (side == "").to_numpy(), "side", "", MISSING)
    problems.mask(staged, (name == "").to_numpy(), "name", "", MISSING)
    problems.mask(
        staged,
        ((side != "") & ~side.isin(known_sides(params))).to_numpy(),
        "side",
        side,
        UNKNOWN_SIDE,
    )
    coords = {}
    for fld, limit in (("latitude", 90.0), ("longitude", 180.0)):
        raw = column(table, fld)
        coords[fld], reason = parse_coord(raw, limit)
        problems.mask(staged, (raw == "").to_numpy(), fld, "", MISSING)
        for r in pd.unique(reason[reason != None]):  # noqa: E711
            problems.mask(staged, reason == r, fld, raw, r)
    dates = {}
    for fld in ("start_date", "end_date"):
        raw = column(table, fld)
        dates[fld], reason = parse_dates(raw, DATE_FORMATS)
        reason[(raw == "").to_numpy()] = None  # blank: open-ended
        for r in pd.unique(reason[reason != None]):  # noqa: E711
            problems.mask(staged, reason == r, fld, raw, r)
    backwards = (dates["end_date"] < dates["start_date"]).to_numpy()
    problems.mask(staged, backwards, "end_date", column(table, "end_date"), END_BEFORE_START)
    return problems, coords, dates


def _placed(
    lat: np.ndarray, lon: np.ndarray, country_col: np.ndarray, regions: Regions
) -> tuple[np.ndarray, list[str | None]]:
    """The region (None outside every one) and country of each kept position."""
    region, how = regions.place(lat, lon)
    for i in range(len(region)):
        # A point snapped across a border into another country than the row says
        # (Tower 22 in Jordan, a few km from Syria) stays outside every region.
        if how[i] == "snap" and country_col[i] and country_col[i] != regions.country_of(region[i]):
            region[i] = None
    country = [
        regions.country_of(r) if r is not None else (c or None)
        for r, c in zip(region, country_col, strict=True)
    ]
    return region, country

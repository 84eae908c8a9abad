"""UCDP Georeferenced Event Dataset (GED) CSV, as downloaded from UCDP or HDX.

One row per event; ``side_a``/``side_b`` are the actors, ``type_of_violence`` (1 state-based,
2 non-state, 3 one-sided) is the source type mapped through ``ingest.categories.ucdp_ged``,
``best`` the fatality estimate, ``date_start`` the day. HDX exports carry an HXL tag row
under the header; it is skipped (and noted in the metrics). ``where_prec`` (optional) says how
precisely the coordinates place the event (:data:`LOCATED_BY_WHERE_PREC`).

Two consistency checks quarantine a row GED contradicts itself on: ``date_end`` before
``date_start`` (or a ``date_end`` that is not a date), and ``best`` outside ``low..high`` (checked
where all three are numbers; a column the file lacks is not checked).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.data.sources.common import (
    RowCheck,
    SourceContext,
    SourceResult,
    category_map,
    finish,
    parse_dates,
    staged_frame,
)
from model.data.sources.reading import RawTable, column, read_table

REQUIRED = [
    "id",
    "date_start",
    "type_of_violence",
    "side_a",
    "side_b",
    "latitude",
    "longitude",
    "best",
]
FIELDS = {
    "id": "id",
    "date": "date_start",
    "latitude": "latitude",
    "longitude": "longitude",
    "actor1": "side_a",
    "actor2": "side_b",
    "category": "type_of_violence",
    "fatalities": "best",
    "admin1": "adm_1",
    "precision": "where_prec",
}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y"]
#: (actor, associates) column pairs; GED has no associates.
ACTORS = (("side_a", None), ("side_b", None))
END_BEFORE_START = "date_end before date_start"
BEST_OUTSIDE_RANGE = "best outside low..high"
#: GED codebook ``where_prec``: 1 the exact place, 2 within about 25 km of it, 3 only the
#: second-order division (district, ``Qaḑā’``) — a point to about a PRIO-GRID cell; 4 only the
#: governorate, 5 a larger area or a line (``Northern Iraq``, a river), 6 only the country,
#: 7 international waters or airspace (a lake) — no nearer than the region.
LOCATED_BY_WHERE_PREC = {"1": "point", "2": "point", "3": "point"}
LOCATED_BY_WHERE_PREC |= {"4": "region", "5": "region", "6": "region", "7": "region"}


def consistency_checks(table: RawTable) -> list[RowCheck]:
    """Rows whose ``date_end`` precedes ``date_start`` or whose ``best`` is outside ``low..high``.

    A ``date_end`` that is not a date is quarantined too (with the date reasons); a blank one,
    or a blank or non-numeric ``low``/``high``, leaves its check undecided and the row kept.
    """
    checks = []
    start_raw, end_raw = column(table, "date_start"), column(table, "date_end")
    start, _ = parse_dates(start_raw, DATE_FORMATS)
    end, reason = parse_dates(end_raw, DATE_FORMATS)
    for r in pd.unique(reason[(reason != None) & (end_raw != "").to_numpy()]):  # noqa: E711
        checks.append(RowCheck(reason == r, "date_end", end_raw, r))
    before = (end < start).to_numpy()
    shown = "date_end=" + end_raw + " < date_start=" + start_raw
    checks.append(RowCheck(before, "date_end", shown, END_BEFORE_START))
    text = {k: column(table, k) for k in ("low", "best", "high")}
    num = {k: pd.to_numeric(v, errors="coerce").to_numpy(dtype=float) for k, v in text.items()}
    with np.errstate(invalid="ignore"):
        outside = (num["best"] < num["low"]) | (num["best"] > num["high"])
    shown = "best=" + text["best"] + ", low=" + text["low"] + ", high=" + text["high"]
    checks.append(RowCheck(outside, "best", shown, BEST_OUTSIDE_RANGE))
    return checks


def read(ctx: SourceContext) -> SourceResult:
    """Read a GED file into canonical events and quarantined rows."""
    table = read_table(ctx.path, ctx.file, REQUIRED, ctx.params.max_field_bytes)
    cats = category_map(ctx, "ucdp_ged")
    key = column(table, "type_of_violence")
    # GED writes the type as 1, 2, 3; some exports as 1.0.
    key = key.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    renamed = {"date": "date_start", "admin1": "adm_1", "fatalities": "best"}
    renamed |= {"precision": "where_prec", "place": "where_coordinates"}
    renamed |= {"actor1": ACTORS[0][0], "actor2": ACTORS[1][0]}
    computed = {
        "id": column(table, "id").str.replace(r"^(\d+)\.0+$", r"\1", regex=True),
        "category": key.map(cats),
        "category_key": key,
    }
    staged = staged_frame(table, ["country", "latitude", "longitude"], renamed, computed)
    checks = consistency_checks(table)
    return finish(
        ctx, table, staged, FIELDS, DATE_FORMATS, checks=checks, precision=LOCATED_BY_WHERE_PREC
    )

"""Point streams without actors: ``date, latitude, longitude, type`` (e.g. air operations).

The side is the source's ``side`` in params, the category ``ingest.categories.points[type]``.
Actors are blank. An ``event_id`` (or ``id``) column is used when present; otherwise the line
number is the id. Extra columns are ignored. A point with coordinates is located to a point
(``located``), one placed by its ``admin1`` name to its region.
"""

from __future__ import annotations

import pandas as pd

from model.data.sources.common import SourceContext, SourceResult, category_map, finish
from model.data.sources.reading import column, read_table
from model.errors import StageError

REQUIRED = ["date", "latitude", "longitude", "type"]
FIELDS = {"category": "type", "admin1": "admin1", "id": "event_id"}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y"]
#: No actor columns: the side is the source's.
ACTORS: tuple[tuple[str, str | None], ...] = ()


def read(ctx: SourceContext) -> SourceResult:
    """Read a point stream into canonical events and quarantined rows."""
    if not ctx.spec.side:
        raise StageError(f"{ctx.file}: a points source needs `side` in params")
    table = read_table(ctx.path, ctx.file, REQUIRED, ctx.params.max_field_bytes)
    cats = category_map(ctx, "points")
    lines = table.data["_line"]
    id_col = next((c for c in ("event_id", "id") if c in table.header), None)
    ids = column(table, id_col) if id_col else lines.astype(str).astype(object)
    kind = column(table, "type")
    n = len(table.data)
    staged = pd.DataFrame(
        {
            "_line": lines,
            "id": ids,
            "date": column(table, "date"),
            "country": column(table, "country"),
            "admin1": column(table, "admin1"),
            "latitude": column(table, "latitude"),
            "longitude": column(table, "longitude"),
            "actor1": [""] * n,
            "actor2": [""] * n,
            "side1": [ctx.spec.side] * n,
            "side2": [""] * n,
            "category": kind.map(cats),
            "category_key": kind,
            "fatalities": column(table, "fatalities"),
        }
    )
    fields = {**FIELDS, "id": id_col or "line"}
    return finish(ctx, table, staged, fields, DATE_FORMATS, require_actor=False)

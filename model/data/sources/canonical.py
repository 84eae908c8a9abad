"""clashcast's own event CSV: the canonical columns (DESIGN §2), sides left to the actor map.

Columns ``event_id, date, actor1, category, fatalities`` and either ``region`` or
``latitude, longitude`` are required; ``country, actor2, located`` are optional. ``category``
must already be a coded category (one produced by ``ingest.categories``), or is translated by an
``ingest.categories.canonical`` map when params give one. Dates are ISO (``2017-05-18``).
``located`` is ``point`` or ``region`` (blank: a point when the row has coordinates).
"""

from __future__ import annotations

from model.data.schema import LOCATED
from model.data.sources.common import SourceContext, SourceResult, finish, staged_frame
from model.data.sources.reading import column, read_table
from model.errors import StageError

REQUIRED = ["event_id", "date", "actor1", "category", "fatalities"]
FIELDS = {"id": "event_id", "admin1": "region", "precision": "located"}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"]
#: (actor, associates) column pairs; a canonical file has no associates.
ACTORS = (("actor1", None), ("actor2", None))


def read(ctx: SourceContext) -> SourceResult:
    """Read a canonical CSV into events and quarantined rows."""
    table = read_table(ctx.path, ctx.file, REQUIRED, ctx.params.max_field_bytes)
    has = set(table.header)
    if "region" not in has and not {"latitude", "longitude"} <= has:
        raise StageError(
            f"{ctx.file}:1: field=region: missing column(s): a canonical file needs `region` "
            "or both `latitude` and `longitude`"
        )
    raw = column(table, "category")
    translate = ctx.params.categories.get("canonical")
    if translate:
        category = raw.map(translate)
    else:
        known = ctx.params.all_categories()
        category = raw.where((raw != "") & (raw.isin(known) if known else True), None)
    same = ["date", "country", "latitude", "longitude", "actor1", "actor2", "fatalities", "place"]
    computed = {"category": category, "category_key": raw}
    renamed = {"id": "event_id", "admin1": "region", "precision": "located"}
    staged = staged_frame(table, same, renamed, computed)
    return finish(ctx, table, staged, FIELDS, DATE_FORMATS, precision={k: k for k in LOCATED})

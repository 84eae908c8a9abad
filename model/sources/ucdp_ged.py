"""UCDP Georeferenced Event Dataset (GED) CSV, as downloaded from UCDP or HDX.

One row per event; ``side_a``/``side_b`` are the actors, ``type_of_violence`` (1 state-based,
2 non-state, 3 one-sided) is the source type mapped through ``ingest.categories.ucdp_ged``,
``best`` the fatality estimate, ``date_start`` the day. HDX exports carry an HXL tag row
under the header; it is skipped (and noted in the metrics).
"""

from __future__ import annotations

import pandas as pd

from model.sources.common import SourceContext, SourceResult, category_map, finish
from model.sources.reading import column, read_table

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
}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y"]


def read(ctx: SourceContext) -> SourceResult:
    """Read a GED file into canonical events and quarantined rows."""
    table = read_table(ctx.path, ctx.file, REQUIRED, ctx.params.max_field_bytes)
    cats = category_map(ctx, "ucdp_ged")
    key = column(table, "type_of_violence")
    # GED writes the type as 1, 2, 3; some exports as 1.0.
    key = key.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    staged = pd.DataFrame(
        {
            "_line": table.data["_line"],
            "id": column(table, "id").str.replace(r"^(\d+)\.0+$", r"\1", regex=True),
            "date": column(table, "date_start"),
            "country": column(table, "country"),
            "admin1": column(table, "adm_1"),
            "latitude": column(table, "latitude"),
            "longitude": column(table, "longitude"),
            "actor1": column(table, "side_a"),
            "actor2": column(table, "side_b"),
            "category": key.map(cats),
            "category_key": key,
            "fatalities": column(table, "best"),
        }
    )
    return finish(ctx, table, staged, FIELDS, DATE_FORMATS)

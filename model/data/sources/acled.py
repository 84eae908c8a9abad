"""ACLED export CSV (as downloaded from the ACLED Explorer or API, any country).

Actors: ``actor1``/``actor2`` as coded; their sides come from ``ingest.sides``, and an actor
that matches no entry takes the side of its associated actors (``assoc_actor_1``/``_2``,
``;``-separated) when they agree on one. Category: ``ingest.categories.acled`` keyed by
``"event_type/sub_event_type"`` (more specific, wins) or ``"event_type"``, compared without
case. Dates like ``2017-05-18`` or ``18 May 2017``. ``geo_precision`` (optional) says how
precisely the coordinates place the event (:data:`LOCATED_BY_GEO_PRECISION`).
"""

from __future__ import annotations

import pandas as pd

from model.data.sources.common import (
    SourceContext,
    SourceResult,
    category_map,
    finish,
    staged_frame,
)
from model.data.sources.reading import column, read_table

#: Every column of an ACLED export, in the order ACLED writes them (the adapter needs REQUIRED and
#: reads a few more; tests and benchmarks write synthetic exports in this layout).
COLUMNS = (
    "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,"
    "actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,"
    "region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,"
    "source_scale,notes,fatalities,tags,timestamp"
).split(",")
REQUIRED = [
    "event_id_cnty",
    "event_date",
    "event_type",
    "actor1",
    "latitude",
    "longitude",
    "fatalities",
]
FIELDS = {
    "id": "event_id_cnty",
    "date": "event_date",
    "latitude": "latitude",
    "longitude": "longitude",
    "actor1": "actor1",
    "actor2": "actor2",
    "category": "event_type/sub_event_type",
    "fatalities": "fatalities",
    "admin1": "admin1",
    "precision": "geo_precision",
}
#: (actor, associates) column pairs: who fought, and who fought alongside (``;``-separated).
ACTORS = (("actor1", "assoc_actor_1"), ("actor2", "assoc_actor_2"))
DATE_FORMATS = ["%Y-%m-%d", "%d %B %Y", "%d %b %Y", "%d-%B-%Y", "%d-%b-%Y", "%d/%m/%Y"]
#: ACLED codebook ``geo_precision``: 1 the named town, 2 near it or a part of a region — a point
#: to about a PRIO-GRID cell; 3 only a larger region (its provincial capital's coordinates).
LOCATED_BY_GEO_PRECISION = {"1": "point", "2": "point", "3": "region"}


def _norm(key: str) -> str:
    return " ".join(key.split()).casefold()


def categorise(
    event_type: pd.Series, sub_event_type: pd.Series, cats: dict[str, str]
) -> tuple[pd.Series, pd.Series]:
    """Category per row (NaN when unmapped) and the key shown in a problem report."""
    lookup = {_norm(k): v for k, v in cats.items()}
    specific = event_type + "/" + sub_event_type
    by_specific = specific.map(lambda k: lookup.get(_norm(k)))
    by_type = event_type.map(lambda k: lookup.get(_norm(k)))
    category = by_specific.where(by_specific.notna() & (sub_event_type != ""), by_type)
    return category, specific.where(sub_event_type != "", event_type)


def read(ctx: SourceContext) -> SourceResult:
    """Read an ACLED export into canonical events and quarantined rows."""
    table = read_table(ctx.path, ctx.file, REQUIRED, ctx.params.max_field_bytes)
    (_, assoc1), (_, assoc2) = ACTORS
    category, key = categorise(
        column(table, "event_type"), column(table, "sub_event_type"), category_map(ctx, "acled")
    )
    same = ["country", "admin1", "latitude", "longitude", "actor1", "actor2", "fatalities"]
    renamed = {"id": "event_id_cnty", "date": "event_date", "assoc1": assoc1, "assoc2": assoc2}
    renamed |= {"precision": "geo_precision", "place": "location"}
    staged = staged_frame(table, same, renamed, {"category": category, "category_key": key})
    return finish(ctx, table, staged, FIELDS, DATE_FORMATS, precision=LOCATED_BY_GEO_PRECISION)

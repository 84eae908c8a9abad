"""Data contracts: canonical events, rejected rows and positions (pandera, every failure at once).

The ingest stage validates what it writes against these schemas, and the panel stage can
validate what it reads, so a change of shape shows up as a named failing column and check,
not as a wrong number three stages later. The shapes are those of ``docs/interfaces.md``.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from model.errors import StageError

EVENT_COLUMNS = [
    "event_id",
    "date",
    "country",
    "region",
    "region_id",
    "latitude",
    "longitude",
    "actor1",
    "actor2",
    "side1",
    "side2",
    "category",
    "fatalities",
    "source_dataset",
    "source_row",
    "placed_by",
    "located",
    "place",
]
REJECTED_COLUMNS = ["source", "file", "line", "field", "value", "reason"]
POSITION_COLUMNS = [
    "side",
    "name",
    "kind",
    "latitude",
    "longitude",
    "start_date",
    "end_date",
    "region",
    "country",
]
PLACED_BY = ("polygon", "snap", "name")
#: How precisely an event is located: its coordinates place it to about a PRIO-GRID cell
#: (0.5°), or only its admin-1 region is known.
LOCATED = ("point", "region")

_STR = "string"
_NONEMPTY = pa.Check.str_length(min_value=1)


def _text(*checks: pa.Check, unique: bool = False) -> pa.Column:
    return pa.Column(_STR, list(checks), nullable=False, unique=unique)


EVENTS = pa.DataFrameSchema(
    {
        "event_id": _text(_NONEMPTY, unique=True),
        "date": pa.Column("datetime64[ns]", nullable=False),
        "country": _text(_NONEMPTY),
        "region": _text(_NONEMPTY),
        "region_id": _text(_NONEMPTY),
        "latitude": pa.Column("float64", pa.Check.in_range(-90, 90), nullable=True),
        "longitude": pa.Column("float64", pa.Check.in_range(-180, 180), nullable=True),
        "actor1": _text(),
        "actor2": _text(),
        "side1": _text(_NONEMPTY),
        "side2": _text(),
        "category": _text(_NONEMPTY),
        "fatalities": pa.Column("int64", pa.Check.ge(0), nullable=False),
        "source_dataset": _text(_NONEMPTY),
        "source_row": _text(pa.Check.str_matches(r"^.+:\d+$")),
        "placed_by": _text(pa.Check.isin(PLACED_BY)),
        "located": _text(pa.Check.isin(LOCATED)),
        "place": _text(),
    },
    strict=True,
    ordered=True,
    name="events",
)

POSITIONS = pa.DataFrameSchema(
    {
        "side": _text(_NONEMPTY),
        "name": _text(_NONEMPTY),
        "kind": _text(),
        "latitude": pa.Column("float64", pa.Check.in_range(-90, 90), nullable=False),
        "longitude": pa.Column("float64", pa.Check.in_range(-180, 180), nullable=False),
        "start_date": pa.Column("datetime64[ns]", nullable=True),
        "end_date": pa.Column("datetime64[ns]", nullable=True),
        "region": pa.Column(_STR, nullable=True),
        "country": pa.Column(_STR, nullable=True),
    },
    checks=[
        pa.Check(
            lambda df: (
                df["end_date"].isna()
                | df["start_date"].isna()
                | (df["end_date"] >= df["start_date"])
            ),
            name="end_date >= start_date",
        )
    ],
    strict=True,
    ordered=True,
    name="positions",
)

REJECTED = pa.DataFrameSchema(
    {
        "source": _text(),
        "file": _text(),
        "line": pa.Column("int64", pa.Check.ge(0)),
        "field": _text(),
        "value": _text(),
        "reason": _text(_NONEMPTY),
    },
    strict=True,
    ordered=True,
    name="rejected",
)


def empty_events() -> pd.DataFrame:
    """A zero-row frame with the event columns and dtypes."""
    return coerce_events(pd.DataFrame({c: [] for c in EVENT_COLUMNS}))


def empty_positions() -> pd.DataFrame:
    """A zero-row positions frame (written when params name no positions file)."""
    cols: dict[str, pd.Series] = {}
    for c in POSITION_COLUMNS:
        if c in ("latitude", "longitude"):
            cols[c] = pd.Series(dtype="float64")
        elif c.endswith("_date"):
            cols[c] = pd.Series(dtype="datetime64[ns]")
        else:
            cols[c] = pd.Series(dtype=_STR)
    return pd.DataFrame(cols)


def coerce_events(df: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame holding the event columns to the contract's dtypes (no checks)."""
    out = df[EVENT_COLUMNS].copy()
    for c in EVENT_COLUMNS:
        if c == "date":
            out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
        elif c in ("latitude", "longitude"):
            out[c] = out[c].astype("float64")
        elif c == "fatalities":
            out[c] = out[c].astype("int64")
        else:
            out[c] = out[c].fillna("").astype(_STR)
    return out.reset_index(drop=True)


def validate(df: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Validate lazily; raise :class:`StageError` listing every failing column and check."""
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as e:
        cases = e.failure_cases
        lines = [
            f"  - {row.column}: {row.check} (e.g. {row.failure_case!r})"
            for row in cases.drop_duplicates(["column", "check"]).head(20).itertuples()
        ]
        raise StageError(
            f"{schema.name}: {len(cases)} contract violation(s):\n" + "\n".join(lines)
        ) from None

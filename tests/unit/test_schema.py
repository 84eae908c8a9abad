"""The event, positions and rejected-row contracts."""

import pandas as pd
import pytest

from model.data.schema import (
    EVENT_COLUMNS,
    EVENTS,
    POSITIONS,
    coerce_events,
    empty_events,
    validate,
)
from model.errors import StageError


def one_event(**over) -> pd.DataFrame:
    row = {
        "event_id": "s:1",
        "date": pd.Timestamp("2018-01-01"),
        "country": "Iraq",
        "region": "Ninawa",
        "region_id": "IQ-NI",
        "latitude": 36.3,
        "longitude": 43.1,
        "actor1": "IS",
        "actor2": "",
        "side1": "armed_group",
        "side2": "",
        "category": "state_based",
        "fatalities": 2,
        "source_dataset": "s",
        "source_row": "data/raw/x.csv:2",
        "placed_by": "polygon",
        "located": "point",
        "place": "",
    }
    row.update(over)
    return coerce_events(pd.DataFrame([row]))


def test_empty_and_valid_events_pass():
    assert list(empty_events().columns) == EVENT_COLUMNS
    validate(empty_events(), EVENTS)
    ok = validate(one_event(), EVENTS)
    assert ok["date"].dtype == "datetime64[ns]" and ok["fatalities"].dtype == "int64"
    assert ok["event_id"].dtype == "string"


def test_violations_are_reported_together():
    bad = one_event(fatalities=-1, placed_by="guess", latitude=95.0, located="cell")
    bad = pd.concat([one_event(), bad])
    with pytest.raises(StageError) as e:
        validate(bad, EVENTS)
    msg = str(e.value)
    for col in ("event_id", "fatalities", "placed_by", "latitude", "located"):
        assert f"- {col}:" in msg


def test_positions_end_before_start_fails():
    pos = pd.DataFrame(
        {
            "side": pd.array(["us"], dtype="string"),
            "name": pd.array(["b"], dtype="string"),
            "kind": pd.array(["base"], dtype="string"),
            "latitude": [33.0],
            "longitude": [44.0],
            "start_date": pd.to_datetime(["2019-01-01"]).astype("datetime64[ns]"),
            "end_date": pd.to_datetime(["2018-01-01"]).astype("datetime64[ns]"),
            "region": pd.array([None], dtype="string"),
            "country": pd.array(["Iraq"], dtype="string"),
        }
    )
    with pytest.raises(StageError, match="end_date >= start_date"):
        validate(pos, POSITIONS)

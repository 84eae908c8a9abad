"""The evidence behind a region's proximity indicators: the incidents and positions that drive
them at the forecast origin, so that an analyst can check each number against its sources.

For a proximity pair (side A's positions and events, side B's events; ``panel.proximity``) and
a region, at the origin period ``t``: the B events of the trailing window counted for the region
(placed in it or within ``near_km`` of it, as :func:`model.data.features.proximity` counts them),
each with its distance to the nearest A location, closest first; and A's positions active at
``t`` within ``near_km`` of the region (``category`` holds the position's kind, ``date`` its
start), each with its distance to the nearest B event of the window.
Pure: data frames in, a data frame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from model.config import ProximityPair
from model.data import feature_names as fn
from model.data.features import active_positions, point_region_km
from model.data.regions import haversine_km
from model.readers import TABLES

COLUMNS = tuple(TABLES["evidence"])


def _side(events: pd.DataFrame, side: str) -> pd.DataFrame:
    has = (events["side1"].astype(str) == side) | (events["side2"].astype(str) == side)
    return events.loc[has & events["latitude"].notna() & events["longitude"].notna()]


def _in_window(events: pd.DataFrame, first_day: pd.Timestamp, last_day: pd.Timestamp):
    day = pd.to_datetime(events["date"]).dt.normalize()
    return events.loc[(day >= first_day) & (day <= last_day)].reset_index(drop=True)


def _nearest(lat, lon, to_lat, to_lon, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Distance from each point to the nearest target and that target's name (inf, "")."""
    if len(to_lat) == 0 or len(lat) == 0:
        return np.full(len(lat), np.inf), [""] * len(lat)
    d = haversine_km(np.asarray(lat)[:, None], np.asarray(lon)[:, None], to_lat[None], to_lon[None])
    j = d.argmin(axis=1)
    return d[np.arange(len(lat)), j], [names[k] for k in j]


def _labels(events: pd.DataFrame) -> list[str]:
    """``actor1 – actor2, date`` of each event (what an analyst looks up)."""
    dates = pd.to_datetime(events["date"]).dt.strftime("%Y-%m-%d")
    return [
        f"{a} – {b}, {d}" for a, b, d in zip(events["actor1"], events["actor2"], dates, strict=True)
    ]


def _a_locations(
    a_pos: pd.DataFrame, a_ev: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = [f"{n} ({k})" for n, k in zip(a_pos["name"], a_pos["kind"], strict=True)]
    names += _labels(a_ev)
    lat = np.concatenate([a_pos["latitude"].to_numpy(float), a_ev["latitude"].to_numpy(float)])
    lon = np.concatenate([a_pos["longitude"].to_numpy(float), a_ev["longitude"].to_numpy(float)])
    return lat, lon, names


def pair_evidence(
    events: pd.DataFrame,
    positions: pd.DataFrame,
    geometry: Mapping[str, object],
    regions: Sequence[str],
    pair: ProximityPair,
    period: tuple[pd.Timestamp, pd.Timestamp],
    window_start: pd.Timestamp,
    top: int = 5,
) -> pd.DataFrame:
    """The ``top`` closest B events and A positions per region for one pair (module docstring).

    ``period`` is the origin period's first and last day; ``window_start`` the first day of the
    pair's trailing window. Rows are closest first within each region; ``distance_km`` is NaN
    when the other side has no location to measure to.
    """
    start, end = period
    pos = positions.loc[(positions["side"].astype(str) == pair.a) & pair.use_positions]
    pos = pos.loc[pos["latitude"].notna() & pos["longitude"].notna()]
    act = active_positions(
        pos["start_date"].to_numpy("datetime64[ns]"),
        pos["end_date"].to_numpy("datetime64[ns]"),
        np.array([start], dtype="datetime64[ns]"),
        np.array([end], dtype="datetime64[ns]"),
    )[:, 0]
    pos = pos.loc[act].reset_index(drop=True)
    a_ev = _in_window(_side(events, pair.a), window_start, end)
    b_ev = _in_window(_side(events, pair.b), window_start, end)
    a_lat, a_lon, a_names = _a_locations(pos, a_ev)
    b_d, b_near = _nearest(b_ev["latitude"], b_ev["longitude"], a_lat, a_lon, a_names)
    b_lat, b_lon = b_ev["latitude"].to_numpy(float), b_ev["longitude"].to_numpy(float)
    p_d, p_near = _nearest(pos["latitude"], pos["longitude"], b_lat, b_lon, _labels(b_ev))
    b_cons = point_region_km(b_lat, b_lon, regions, geometry) <= pair.near_km
    b_cons |= b_ev["region"].astype(str).to_numpy()[:, None] == np.asarray(regions)[None, :]
    p_cons = point_region_km(pos["latitude"], pos["longitude"], regions, geometry) <= pair.near_km
    stem = fn.pair_stem(pair.a, pair.b)
    rows = []
    for j, region in enumerate(regions):
        ev = b_ev.loc[b_cons[:, j]].assign(distance_km=b_d[b_cons[:, j]], kind="event")
        ev["nearest"] = [b_near[i] for i in np.flatnonzero(b_cons[:, j])]
        ev["side"] = pair.b
        ps = pos.loc[p_cons[:, j]].rename(columns={"kind": "category", "start_date": "date"})
        ps = ps.assign(distance_km=p_d[p_cons[:, j]], kind="position")
        ps["nearest"] = [p_near[i] for i in np.flatnonzero(p_cons[:, j])]
        for part in (ev.nsmallest(top, "distance_km"), ps.nsmallest(top, "distance_km")):
            rows.append(part.assign(region=region, pair=stem))
    return _tidy(rows)


def _tidy(rows: list[pd.DataFrame]) -> pd.DataFrame:
    rows = [r for r in rows if len(r)]
    if not rows:
        return pd.DataFrame(columns=list(COLUMNS))
    out = pd.concat(rows, ignore_index=True).reindex(columns=list(COLUMNS))
    out["distance_km"] = out["distance_km"].replace(np.inf, np.nan).astype(float).round(1)
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    return out


def proximity_evidence(
    events: pd.DataFrame,
    positions: pd.DataFrame,
    geometry: Mapping[str, object],
    regions: Sequence[str],
    pairs: Sequence[ProximityPair],
    period_starts: pd.DatetimeIndex,
    period_ends: pd.DatetimeIndex,
    origin_index: int,
    top: int = 5,
) -> pd.DataFrame:
    """:func:`pair_evidence` of every pair at the origin period (``reports/evidence.csv``)."""
    t = origin_index
    parts = [
        pair_evidence(
            events,
            positions,
            geometry,
            regions,
            p,
            (period_starts[t], period_ends[t]),
            period_starts[max(t - p.window + 1, 0)],
            top,
        )
        for p in pairs
    ]
    return _tidy(parts)

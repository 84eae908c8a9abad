"""PRIO-GRID cells: ids, the cell set of a study's boundaries, neighbours, names (issue 21).

PRIO-GRID (Tollefsen, Strand and Buhaug 2012) divides the globe into 0.5° × 0.5° cells, about
55 km across at the equator, numbered row-major from the south-west corner: row
``floor(2 (lat + 90)) + 1`` (1 … 360), column ``floor(2 (lon + 180)) + 1`` (1 … 720) and
``gid = (row − 1) · 720 + col`` — the ids VIEWS forecasts on, so a user can join PRIO-GRID or
VIEWS covariates by ``gid``. A point on a cell's south or west edge belongs to that cell; the
north pole and the antimeridian fall in the last row and column.

The cell set of a study comes from its boundaries alone (:func:`cells_of`): every cell whose
area overlaps one of the polygons, never the cells where events happened, so a quiet cell is a
cell with zeros, not a missing one. Each cell gets the region (governorate) that holds most of
its overlapping area, that region's country, and the share of the cell inside the study area.
Areas are computed on the sphere's tangent plane at each cell's centre (the cell is small), so
cells far from the equator are not over-weighted in longitude. A region smaller than a cell may
hold most of none (Baghdad, 916 km² in the shipped boundaries): a roll-up from cells to
regions weighs each cell by its area in each region (:func:`region_shares`), not by the majority
region alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

#: Degrees per cell side, and the grid's size.
CELL_DEG = 0.5
N_ROWS, N_COLS = 360, 720


def row_col(lat: np.ndarray | float, lon: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """PRIO-GRID rows and columns (1-based) of points; raises on coordinates off the globe."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    if np.any(~np.isfinite(lat) | (lat < -90) | (lat > 90)):
        raise ValueError("latitudes must be finite and in [-90, 90]")
    if np.any(~np.isfinite(lon) | (lon < -180) | (lon > 180)):
        raise ValueError("longitudes must be finite and in [-180, 180]")
    row = np.minimum(np.floor((lat + 90.0) / CELL_DEG).astype(np.int64) + 1, N_ROWS)
    col = np.minimum(np.floor((lon + 180.0) / CELL_DEG).astype(np.int64) + 1, N_COLS)
    return row, col


def gid_of(lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """The PRIO-GRID ``gid`` of points (``(row − 1) · 720 + col``)."""
    row, col = row_col(lat, lon)
    return (row - 1) * N_COLS + col


def gid_row_col(gid: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (1-based) of PRIO-GRID ids."""
    gid = np.asarray(gid, dtype=np.int64)
    if np.any((gid < 1) | (gid > N_ROWS * N_COLS)):
        raise ValueError(f"gids must be in 1 … {N_ROWS * N_COLS}")
    return (gid - 1) // N_COLS + 1, (gid - 1) % N_COLS + 1


def cell_bounds(gid: int) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` of a cell."""
    row, col = (int(v) for v in gid_row_col(gid))
    lon0 = -180.0 + (col - 1) * CELL_DEG
    lat0 = -90.0 + (row - 1) * CELL_DEG
    return lon0, lat0, lon0 + CELL_DEG, lat0 + CELL_DEG


def cell_centre(gid: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of cells' centres."""
    row, col = gid_row_col(gid)
    return -90.0 + (row - 0.5) * CELL_DEG, -180.0 + (col - 0.5) * CELL_DEG


def _local_area(geom: object, lat0: float) -> float:
    """Area in km² of a small lon/lat geometry, on the tangent plane at latitude ``lat0``."""
    km_per_deg = 111.32
    scaled = shapely.transform(
        geom, lambda xy: xy * np.array([km_per_deg * np.cos(np.radians(lat0)), km_per_deg])
    )
    return float(shapely.area(scaled))


def cells_of(
    geometry: Mapping[str, object], country: Mapping[str, str], min_share: float = 0.0
) -> pd.DataFrame:
    """The PRIO-GRID cells whose area overlaps the regions' polygons.

    Parameters
    ----------
    geometry : mapping
        Region name → shapely (multi)polygon in lon/lat degrees.
    country : mapping
        Region name → its country.
    min_share : float
        Drop cells with at most this share of their area inside the study's polygons (0: any
        overlap of positive area; a cell touching a border only along an edge has none).

    Returns
    -------
    pandas.DataFrame
        One row per cell, sorted by ``gid``: ``gid, row, col, lat, lon`` (centre), ``region``
        (holding most of the cell's overlapping area; ties to the first name in sort order),
        ``country``, ``share`` (of the cell's area inside the study's polygons) and
        ``area_km2`` (the cell's whole area).
    """
    names = sorted(geometry)
    if not names:
        raise ValueError("no region polygons to lay the grid on")
    bounds = np.array([shapely.bounds(geometry[n]) for n in names])
    r0, c0 = row_col(bounds[:, 1].min(), bounds[:, 0].min())
    r1, c1 = row_col(bounds[:, 3].max(), bounds[:, 2].max())
    rows = []
    for row in range(int(r0), int(r1) + 1):
        for col in range(int(c0), int(c1) + 1):
            rows.append(_overlap((row - 1) * N_COLS + col, names, geometry, country))
    cells = pd.DataFrame([r for r in rows if r is not None])
    if cells.empty:
        raise ValueError("no PRIO-GRID cell overlaps the region polygons")
    cells = cells[cells["share"] > min_share]
    return cells.sort_values("gid", ignore_index=True)


def _overlap(
    gid: int, names: Sequence[str], geometry: Mapping[str, object], country: Mapping[str, str]
) -> dict | None:
    """One cell's row of :func:`cells_of`, or None when no polygon overlaps it by any area."""
    cell = box(*cell_bounds(gid))
    lat, lon = (float(v) for v in cell_centre(gid))
    areas = {n: _local_area(shapely.intersection(cell, geometry[n]), lat) for n in names}
    inside = sum(areas.values())
    if inside <= 0.0:
        return None
    region = max(names, key=lambda n: (areas[n], -names.index(n)))
    total = _local_area(cell, lat)
    row, col = (int(v) for v in gid_row_col(gid))
    return {
        "gid": gid, "row": row, "col": col, "lat": lat, "lon": lon, "region": region,
        "country": country[region], "share": min(inside / total, 1.0), "area_km2": total,
    }  # fmt: skip


def clipped(gids: Iterable[int], geometry: Mapping[str, object]) -> dict[int, object]:
    """Each cell's polygon clipped to the union of the regions' polygons (the land a cell of
    the study covers), by gid."""
    study = shapely.union_all(list(geometry.values()))
    return {int(g): shapely.intersection(box(*cell_bounds(int(g))), study) for g in gids}


def neighbours(gids: Iterable[int], ring: int = 1) -> dict[int, list[int]]:
    """Each cell's neighbours in the set at Chebyshev distance exactly ``ring`` (ring 1: the 8
    cells around it; ring 2: the 16 around those), by row and column; columns wrap at the
    antimeridian."""
    if ring < 1:
        raise ValueError("ring must be at least 1")
    cells = {int(g) for g in gids}
    out = {}
    for g in sorted(cells):
        row, col = (int(v) for v in gid_row_col(g))
        found = []
        for dr in range(-ring, ring + 1):
            for dc in range(-ring, ring + 1):
                if max(abs(dr), abs(dc)) != ring or not 1 <= row + dr <= N_ROWS:
                    continue
                c = (col + dc - 1) % N_COLS + 1
                other = (row + dr - 1) * N_COLS + c
                if other in cells:
                    found.append(other)
        out[g] = sorted(found)
    return out


def display_names(cells: pd.DataFrame, places: pd.DataFrame) -> pd.Series:
    """A name for each cell from the named place nearest its centre, with its region: the
    place's own name when it lies inside the cell ("Abu Kamal (Deir-ez-Zor)"), else the
    distance and bearing from it ("40 km SW of Rutba (Al-Anbar)"); the cell's gid and region
    when no place is known.

    ``places``: ``name, latitude, longitude`` (events' location fields, positions); blank names
    are ignored. Indexed like ``cells``.
    """
    from model.data.regions import haversine_km

    named = places.dropna(subset=["name", "latitude", "longitude"])
    named = named[named["name"].astype(str).str.strip() != ""]
    named = named.drop_duplicates(subset=["name", "latitude", "longitude"])
    if named.empty:
        return pd.Series(
            [f"cell {g} ({r})" for g, r in zip(cells["gid"], cells["region"], strict=True)],
            index=cells.index,
        )
    p_lat, p_lon = named["latitude"].to_numpy(float), named["longitude"].to_numpy(float)
    p_gid = gid_of(p_lat, p_lon)
    p_name = named["name"].astype(str).str.strip().to_numpy()
    out = []
    for gid, lat, lon, region in cells[["gid", "lat", "lon", "region"]].itertuples(index=False):
        inside = p_gid == gid
        pool = np.flatnonzero(inside) if inside.any() else np.arange(len(p_name))
        d = haversine_km(lat, lon, p_lat[pool], p_lon[pool])
        i = pool[int(np.argmin(d))]
        if inside.any():
            out.append(f"{p_name[i]} ({region})")
            continue
        km = float(haversine_km(lat, lon, p_lat[i], p_lon[i]))
        out.append(
            f"{km:.0f} km {_bearing(p_lat[i], p_lon[i], lat, lon)} of {p_name[i]} ({region})"
        )
    return pd.Series(out, index=cells.index)


def _bearing(lat0: float, lon0: float, lat1: float, lon1: float) -> str:
    """The eight-point compass direction from (lat0, lon0) to (lat1, lon1)."""
    dx = (lon1 - lon0) * np.cos(np.radians((lat0 + lat1) / 2))
    angle = (np.degrees(np.arctan2(dx, lat1 - lat0)) + 360.0) % 360.0
    return ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int((angle + 22.5) // 45) % 8]


def region_shares(cells: pd.DataFrame, geometry: Mapping[str, object]) -> pd.DataFrame:
    """The share of each cell's area in each region: ``gid, region, share`` (rows with a share
    above 0 only), for rolling cells up to regions that hold no cell of their own."""
    names = sorted(geometry)
    rows = []
    for gid, lat in cells[["gid", "lat"]].itertuples(index=False):
        cell = box(*cell_bounds(int(gid)))
        total = _local_area(cell, float(lat))
        for n in names:
            a = _local_area(shapely.intersection(cell, geometry[n]), float(lat))
            if a > 0:
                rows.append({"gid": int(gid), "region": n, "share": a / total})
    return pd.DataFrame(rows, columns=["gid", "region", "share"])

"""Admin-1 regions: names and aliases, polygons, neighbours, and placing points in them.

Sources spell the same governorate many ways ("Nīnawá province", "Ninawa", "Nineveh";
"Deir ez Zor", "Dayr az Zawr", "Deir-ez-Zor"). Every name is first normalised (accents
stripped, case-folded, apostrophes, hyphens and other punctuation removed, words such as
"province" or "governorate" dropped, spaces removed), so the alias table only has to list
names that are genuinely different. Points are placed by polygon; a point just outside every
polygon (simplified borders cut off river banks and border posts) is snapped to the nearest
polygon within ``snap_km``.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from model.config import RegionsSpec
from model.errors import StageError

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0
# Borders from two providers, or simplified ones, rarely touch exactly: polygons closer than
# this (in degrees, about 1 km) are neighbours.
NEIGHBOUR_TOLERANCE_DEG = 0.01

_DROP_WORDS = frozenset(
    {"province", "governorate", "governate", "muhafazat", "muhafazah", "muhafaza", "wilayat"}
)
_APOSTROPHES = re.compile(r"['’‘`´ʼʻʿʾ]")
_NON_WORD = re.compile(r"[\W_]+")


def normalise_name(name: object) -> str:
    """The matching key of a place name: no accents, case, punctuation, spaces or "province".

    Examples
    --------
    >>> normalise_name("Al Başrah  province")
    'albasrah'
    >>> normalise_name("Deir-ez-Zor") == normalise_name("Deir ez Zor")
    True
    """
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return ""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _NON_WORD.sub(" ", _APOSTROPHES.sub("", text))
    return "".join(w for w in text.split() if w not in _DROP_WORDS)


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class Regions:
    """The regions of the study: table, polygons, neighbours, name matching and placement.

    Parameters
    ----------
    table : DataFrame
        ``region_id, region, country, lat, lon`` (a representative point inside each region).
    geometry : dict
        Region name to shapely (Multi)Polygon in lon/lat.
    aliases : dict
        ``(normalised country, normalised alias) -> region``.
    snap_km : float
        Points outside every polygon but within this distance of one are placed in it.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        geometry: dict[str, BaseGeometry],
        aliases: dict[tuple[str, str], str] | None = None,
        snap_km: float = 5.0,
        neighbour_tolerance_deg: float = NEIGHBOUR_TOLERANCE_DEG,
    ) -> None:
        self.table = table.sort_values(["country", "region"], ignore_index=True)
        self.geometry = dict(geometry)
        self.snap_km = float(snap_km)
        self._names = np.array(list(self.geometry), dtype=object)
        self._geoms = np.array([self.geometry[n] for n in self._names], dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        pos = {r: i for i, r in enumerate(self.table["region"])}
        self._rank = np.array([pos[str(n)] for n in self._names], dtype=np.int64)
        self.neighbours = self._find_neighbours(neighbour_tolerance_deg)
        self._country_of = dict(zip(self.table["region"], self.table["country"], strict=True))
        self._by_key: dict[tuple[str, str], str] = {}
        for row in self.table.itertuples(index=False):
            c = normalise_name(row.country)
            self._by_key[(c, normalise_name(row.region))] = row.region
            self._by_key[(c, normalise_name(row.region_id))] = row.region
        for key, region in (aliases or {}).items():
            self._by_key.setdefault(key, region)
        self._countries = {normalise_name(c) for c in self.table["country"]}
        self._any_country: dict[str, set[str]] = {}
        for (_, k), region in self._by_key.items():
            self._any_country.setdefault(k, set()).add(region)

    def __repr__(self) -> str:
        return f"Regions({len(self.table)} regions in {sorted(set(self.table['country']))})"

    @property
    def names(self) -> list[str]:
        """Region names in table order (country, then region)."""
        return list(self.table["region"])

    def country_of(self, region: str) -> str:
        return self._country_of[region]

    def _find_neighbours(self, tol: float) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {str(n): [] for n in self._names}
        grown = shapely.buffer(self._geoms, tol)
        src, dst = self._tree.query(grown, predicate="intersects")
        for i, j in zip(src, dst, strict=True):
            if i != j:
                out[str(self._names[i])].append(str(self._names[j]))
        return {k: sorted(set(v)) for k, v in out.items()}

    def match_name(self, name: object, country: object = None) -> str | None:
        """The canonical region for a source's admin-1 name, or None when unknown.

        With ``country`` (a name of a country in the table) only that country's regions are
        considered; an unknown or blank country searches all, and a name that fits regions
        of two countries is then ambiguous (None).
        """
        key = normalise_name(name)
        if not key:
            return None
        c = normalise_name(country)
        if c in self._countries:
            return self._by_key.get((c, key))
        hits = self._any_country.get(key, set())
        return next(iter(hits)) if len(hits) == 1 else None

    def locate(self, lat: object, lon: object) -> np.ndarray:
        """Region of each point (None where outside every polygon beyond ``snap_km``)."""
        return self.place(lat, lon)[0]

    def place(self, lat: object, lon: object) -> tuple[np.ndarray, np.ndarray]:
        """Region of each point and how it was found.

        Parameters
        ----------
        lat, lon : array_like
            Degrees (WGS84), same shape.

        Returns
        -------
        region : ndarray of object
            Region name, or None (outside every polygon beyond ``snap_km``, or invalid
            coordinates: NaN, |lat| > 90, |lon| > 180).
        how : ndarray of object
            ``"polygon"``, ``"snap"`` or ``""``.

        Notes
        -----
        A point on a shared border, or in an overlap of two simplified polygons, goes to the
        first region in table order. Snapping measures the great-circle distance to the
        nearest point of the nearest polygon.
        """
        lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
        lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
        if lat_a.shape != lon_a.shape:
            raise ValueError(f"lat and lon differ in shape: {lat_a.shape} vs {lon_a.shape}")
        region = np.full(lat_a.shape, None, dtype=object)
        how = np.full(lat_a.shape, "", dtype=object)
        ok = (
            np.isfinite(lat_a) & np.isfinite(lon_a) & (np.abs(lat_a) <= 90) & (np.abs(lon_a) <= 180)
        )
        idx = np.flatnonzero(ok)
        if idx.size == 0 or self._names.size == 0:
            return region, how
        points = shapely.points(lon_a[idx], lat_a[idx])
        p_i, g_i = self._tree.query(points, predicate="intersects")
        if p_i.size:
            order = self._rank[g_i]
            sort = np.lexsort((order, p_i))
            p_i, g_i = p_i[sort], g_i[sort]
            first = np.unique(p_i, return_index=True)[1]
            region[idx[p_i[first]]] = self._names[g_i[first]]
            how[idx[p_i[first]]] = "polygon"
        if self.snap_km > 0:
            unplaced = np.array([r is None for r in region[idx]], dtype=bool)
            self._snap(lat_a, lon_a, idx[unplaced], region, how)
        return region, how

    def _snap(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        todo: np.ndarray,
        region: np.ndarray,
        how: np.ndarray,
    ) -> None:
        if todo.size == 0:
            return
        # A degree of longitude is shortest at the highest latitude: a bound in degrees that
        # can only over-select; the exact great-circle distance decides.
        max_lat = min(float(np.abs(lat[todo]).max()) + 1.0, 89.0)
        bound = self.snap_km / (KM_PER_DEGREE * math.cos(math.radians(max_lat)))
        points = shapely.points(lon[todo], lat[todo])
        p_i, g_i = self._tree.query_nearest(points, max_distance=bound, all_matches=False)
        if p_i.size == 0:
            return
        lines = shapely.shortest_line(points[p_i], self._geoms[g_i])
        ends = shapely.get_coordinates(shapely.get_point(lines, 1))
        km = haversine_km(lat[todo[p_i]], lon[todo[p_i]], ends[:, 1], ends[:, 0])
        near = km <= self.snap_km
        region[todo[p_i[near]]] = self._names[g_i[near]]
        how[todo[p_i[near]]] = "snap"


def _read_boundary(path: Path, country: str, name_prop: str, id_prop: str) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise StageError(f"{path}: boundary file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{path}: not valid GeoJSON: {e}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not features:
        raise StageError(f"{path}: no features (expected a GeoJSON FeatureCollection)")
    rows = []
    for i, feat in enumerate(features):
        props = feat.get("properties") or {}
        for prop in (name_prop, id_prop):
            if not props.get(prop):
                raise StageError(f"{path}: feature {i}: property {prop!r} is missing or blank")
        try:
            geom = shape(feat["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise StageError(
                f"{path}: feature {i} ({props[name_prop]}): bad geometry: {e}"
            ) from None
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        rows.append(
            {
                "region_id": str(props[id_prop]),
                "region": str(props[name_prop]),
                "country": country,
                "geometry": geom,
            }
        )
    return rows


def read_aliases(path: Path, table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """Read ``alias,region,country``; every target must be a region of that country."""
    known = {(normalise_name(c), r) for r, c in zip(table["region"], table["country"], strict=True)}
    out: dict[tuple[str, str], str] = {}
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise StageError(f"{path}: alias file not found") from None
    with fh:
        reader = csv.DictReader(fh)
        missing = {"alias", "region", "country"} - set(reader.fieldnames or [])
        if missing:
            raise StageError(f"{path}:1: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            c = normalise_name(row["country"])
            if (c, row["region"]) not in known:
                # An alias for a country that is not in this study is fine; a wrong target
                # in a country that is, is a typo.
                if c in {k for k, _ in known}:
                    raise StageError(
                        f"{path}:{line}: region={row['region']!r}: not a region of {row['country']}"
                    )
                continue
            out[(c, normalise_name(row["alias"]))] = row["region"]
    return out


def load_regions(spec: RegionsSpec, root: Path) -> Regions:
    """Read the boundary files and alias table named in ``spec``.

    Parameters
    ----------
    spec : RegionsSpec
        ``ingest.regions`` from params: GeoJSON files with their name/id properties and
        country, the alias table, ``snap_km``.
    root : Path
        Project root; relative paths in ``spec`` are relative to it.

    Returns
    -------
    Regions

    Raises
    ------
    StageError
        A file is missing or unreadable, a feature lacks its name or id, names or ids repeat
        across files, or an alias points at a region its country does not have.
    """
    rows: list[dict] = []
    for b in spec.boundaries:
        rows += _read_boundary(Path(root) / b.path, b.country, b.name_property, b.id_property)
    names = [r["region"] for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise StageError(f"region names repeat across boundary files: {dupes}")
    ids = [r["region_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise StageError(f"region ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    geometry = {r["region"]: r["geometry"] for r in rows}
    reps = shapely.point_on_surface(np.array([r["geometry"] for r in rows], dtype=object))
    table = pd.DataFrame(
        {
            "region_id": ids,
            "region": names,
            "country": [r["country"] for r in rows],
            "lat": shapely.get_y(reps),
            "lon": shapely.get_x(reps),
        }
    )
    aliases = read_aliases(Path(root) / spec.aliases, table) if spec.aliases else {}
    return Regions(table, geometry, aliases, snap_km=spec.snap_km)

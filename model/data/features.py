"""Features on the region × period grid: decays, time since a clash, spill-over, proximity.

Every function here is causal: the value at period ``t`` is computed from counts at periods
``≤ t`` and from events and positions known by the end of ``t``. Inputs are plain arrays and
data frames (no files, no params loading), so each piece is testable on a handful of numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from model.data.regions import haversine_km

# --------------------------------------------------------------------------- temporal


def decayed_sum(counts: np.ndarray, half_life: float) -> np.ndarray:
    """Exponentially decayed running sum along the last axis.

    ``out[..., t] = Σ_{u≤t} counts[..., u] · 0.5 ** ((t − u) / half_life)``, computed by the
    first-order recursion ``out[t] = a · out[t − 1] + counts[t]`` with ``a = 0.5 ** (1 /
    half_life)``, so the value at ``t`` never sees ``u > t``. The recursion steps over periods
    and is vectorised over everything else; it gives the same numbers as
    ``scipy.signal.lfilter([1], [1, -a], counts)`` without that module's seconds-long import.

    Parameters
    ----------
    counts : np.ndarray
        Non-negative counts, periods on the last axis.
    half_life : float
        Half-life in periods (> 0).

    Returns
    -------
    np.ndarray
        float64 array of the same shape, ≥ 0.
    """
    if half_life <= 0:
        raise ValueError(f"half_life must be > 0, got {half_life}")
    a = 0.5 ** (1.0 / half_life)
    x = np.asarray(counts, dtype=np.float64)
    out = np.empty_like(x)
    acc = np.zeros(x.shape[:-1])
    for t in range(x.shape[-1]):
        acc = acc * a + x[..., t]
        out[..., t] = acc
    return out


def decayed_share(
    occurred: np.ndarray,
    half_life: float,
    prior: float = 2.0,
    target: np.ndarray | None = None,
) -> np.ndarray:
    """The decayed share of periods with an occurrence, shrunk toward a target share.

    Per row (region) and period ``t``: ``(k + prior · target) / (n + prior)``, with
    ``k = decayed_sum(occurred)`` and ``n = decayed_sum(1)`` (the decayed number of periods so
    far). The target is by default the pooled share over all rows at ``t`` (Jeffreys-smoothed,
    so never exactly 0 or 1). It is an exponentially weighted rate of a binary outcome (the
    EWMA baseline of the backtest) and, on the logit scale, the ``clash_share_hl*`` features.
    Causal: uses periods ``≤ t`` only.

    Parameters
    ----------
    occurred : np.ndarray
        0/1 array (rows × periods).
    half_life : float
        Half-life in periods (> 0).
    prior : float
        Pseudo-periods of the target share added to each row (> 0, keeps the share off 0 and 1).
    target : np.ndarray, optional
        Share to shrink toward, rows × periods (values in (0, 1)); default the pooled share.
    """
    if prior <= 0:
        raise ValueError(f"prior must be > 0, got {prior}")
    occ = np.asarray(occurred, dtype=np.float64)
    k = decayed_sum(occ, half_life)
    n = decayed_sum(np.ones_like(occ), half_life)
    if target is None:
        target = (k.sum(axis=0) + 0.5) / (n.sum(axis=0) + 1.0)
    return (k + prior * target) / (n + prior)


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def decayed_share_logit(occurred: np.ndarray, half_life: float, prior: float = 2.0) -> np.ndarray:
    """Log-odds of :func:`decayed_share` (shrunk toward the pooled share).

    It is the climatology of a binary outcome with exponential memory: on the scale of the
    outcome's log-odds, it does not depend on how many events a busy period held, so it carries
    over from a war's intense phases to an insurgency's sporadic ones.
    """
    return _logit(decayed_share(occurred, half_life, prior))


def level_logit(
    occurred: np.ndarray,
    half_life: float,
    long_half_life: float,
    prior: float = 4.0,
    long_prior: float = 2.0,
) -> np.ndarray:
    """Log-odds of a region's recent rate, shrunk toward its own long-run rate (two levels).

    The share over the last weeks (``half_life``) borrows ``prior`` pseudo-periods from the
    region's long-run share (``long_half_life``), which borrows ``long_prior`` from the pooled
    share: a region that has been quiet for years stays near zero after one quiet month, and
    one that has fought every week stays high, where a single shrinkage toward the theatre
    would pull both toward the middle. Causal: uses periods ``≤ t`` only.
    """
    long_run = decayed_share(occurred, long_half_life, long_prior)
    return _logit(decayed_share(occurred, half_life, prior, target=long_run))


def periods_since(occurred: np.ndarray, cap: int) -> np.ndarray:
    """Periods since the last period with an occurrence (0 when it occurred at ``t``), capped.

    Parameters
    ----------
    occurred : np.ndarray
        Boolean (or 0/1) array, periods on the last axis.
    cap : int
        Value used when there has been none yet, and the maximum returned.

    Returns
    -------
    np.ndarray
        int64 array of the same shape, in ``[0, cap]``.
    """
    occurred = np.asarray(occurred, dtype=bool)
    idx = np.arange(occurred.shape[-1])
    last = np.where(occurred, idx, -1)
    last = np.maximum.accumulate(last, axis=-1)
    since = np.where(last >= 0, idx - last, cap)
    return np.minimum(since, cap).astype(np.int64)


def neighbour_mean(
    values: np.ndarray, regions: Sequence[str], neighbours: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """Mean over each region's neighbours of ``values`` (regions × periods); 0 without any.

    Neighbours not in ``regions`` (outside the panel) are ignored.
    """
    pos = {r: i for i, r in enumerate(regions)}
    w = np.zeros((len(regions), len(regions)))
    for r, nbrs in neighbours.items():
        if r not in pos:
            continue
        js = sorted({pos[n] for n in nbrs if n in pos and n != r})
        if js:
            w[pos[r], js] = 1.0 / len(js)
    return w @ np.asarray(values, dtype=np.float64)


# --------------------------------------------------------------------------- proximity


def derive_proximity(km: np.ndarray | float, scale_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn distances (NaN = absent) into the model's ``near`` and ``absent`` features.

    ``near = exp(−km / scale_km)`` (1 at 0 km, falling with distance) and 0 when absent;
    ``absent`` is 1 where ``km`` is NaN. This is the single place the transform lives: the
    panel and the scenarios both call it, so a scenario that sets a distance moves ``near``
    exactly as observed data would.

    Parameters
    ----------
    km : array_like
        Distances in km, NaN where A or B is absent; negative values are rejected.
    scale_km : float
        Distance scale (> 0).

    Returns
    -------
    near, absent : np.ndarray
        float64 arrays shaped like ``km``.
    """
    if scale_km <= 0:
        raise ValueError(f"scale_km must be > 0, got {scale_km}")
    km = np.asarray(km, dtype=np.float64)
    if np.any(km < 0):
        raise ValueError("distances must be ≥ 0 km")
    absent = np.isnan(km)
    near = np.where(absent, 0.0, np.exp(-np.where(absent, 0.0, km) / scale_km))
    return near, absent.astype(np.float64)


def point_region_km(
    lat: np.ndarray, lon: np.ndarray, regions: Sequence[str], geometry: Mapping[str, object]
) -> np.ndarray:
    """Distance in km from each point to each region's polygon (0 inside); shape (points, regions).

    The nearest point of the polygon is found in a local equirectangular projection centred on
    the region (x scaled by cos of its latitude), and the distance to it is then measured on the
    sphere (haversine), so the result is accurate to well under 1% at the scales used here.
    Regions without a geometry get +inf.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    out = np.full((lat.size, len(regions)), np.inf)
    if lat.size == 0:
        return out
    for j, r in enumerate(regions):
        geom = geometry.get(r)
        if geom is None or shapely.is_empty(geom):
            continue
        lat0 = shapely.centroid(geom).y
        k = np.cos(np.radians(lat0))
        proj = shapely.transform(geom, lambda xy, k=k: xy * np.array([k, 1.0]))
        pts = shapely.points(lon * k, lat)
        line = shapely.shortest_line(pts, proj)
        coords = shapely.get_coordinates(line).reshape(-1, 2, 2)
        near_lon, near_lat = coords[:, 1, 0] / k, coords[:, 1, 1]
        inside = shapely.intersects(pts, proj)
        d = haversine_km(lat, lon, near_lat, near_lon)
        out[:, j] = np.where(inside, 0.0, d)
    return out


def active_positions(
    start: np.ndarray, end: np.ndarray, period_start: np.ndarray, period_end: np.ndarray
) -> np.ndarray:
    """Which positions are active in which period: (positions, periods) boolean.

    Active at ``t`` when ``start ≤ period_end(t)`` and (``end`` is blank or
    ``end ≥ period_start(t)``). A blank start means active from the first period.
    """
    start = np.asarray(start, dtype="datetime64[ns]")[:, None]
    end = np.asarray(end, dtype="datetime64[ns]")[:, None]
    ps = np.asarray(period_start, dtype="datetime64[ns]")[None, :]
    pe = np.asarray(period_end, dtype="datetime64[ns]")[None, :]
    started = np.isnat(start) | (start <= pe)
    not_ended = np.isnat(end) | (end >= ps)
    return started & not_ended


@dataclass
class ProximityGrids:
    """What :func:`proximity` measures for one pair, each (regions, periods).

    ``km``: smallest A–B distance (NaN when either side is absent); ``n_within``: B events
    within ``radius_km`` of an A location; ``a_present`` / ``b_present``: the side has a
    location counted for the region (in it or within ``near_km``) in the trailing window;
    ``exposure[kind]``: B events within ``radius_km`` of A's active positions of that kind.
    """

    km: np.ndarray
    n_within: np.ndarray
    a_present: np.ndarray
    b_present: np.ndarray
    exposure: dict[str, np.ndarray]

    @classmethod
    def empty(cls, n_r: int, n_t: int, kinds: Sequence[str]) -> ProximityGrids:
        def zeros() -> np.ndarray:
            return np.zeros((n_r, n_t), dtype=np.int64)

        return cls(
            np.full((n_r, n_t), np.nan),
            zeros(),
            zeros().astype(bool),
            zeros().astype(bool),
            {k: zeros() for k in kinds},
        )


def proximity(
    a_positions: pd.DataFrame,
    a_events: pd.DataFrame,
    b_events: pd.DataFrame,
    *,
    regions: Sequence[str],
    geometry: Mapping[str, object],
    period_start: np.ndarray,
    period_end: np.ndarray,
    window: int,
    radius_km: float,
    near_km: float,
    exposure_kinds: Sequence[str] = (),
) -> ProximityGrids:
    """Distance between side A and side B's recent events, per region and period.

    At period ``t``, A's locations are ``a_positions`` active at ``t`` and ``a_events`` in
    periods ``t − window + 1 … t``; B's are ``b_events`` in the same trailing window. For region
    ``r`` the B events considered are those placed in ``r`` or within ``near_km`` of its
    polygon. ``km[r, t]`` is the smallest great-circle distance from any of them to any A
    location (NaN when either side is absent), ``n_within[r, t]`` the number of them within
    ``radius_km`` of some A location and ``exposure[kind][r, t]`` the number within
    ``radius_km`` of an active A position of that ``kind`` (the positions' ``kind`` column).

    Parameters
    ----------
    a_positions : pd.DataFrame
        ``latitude, longitude, start_date, end_date`` (NaT = blank), and ``kind`` when
        ``exposure_kinds`` is given.
    a_events, b_events : pd.DataFrame
        ``latitude, longitude, region, period_idx`` (index into the periods); rows without
        coordinates must already be dropped.
    regions : sequence of str
        Panel regions, in panel order.
    geometry : mapping
        Region name → shapely polygon in lon/lat.
    period_start, period_end : np.ndarray
        datetime64 start and last day of each period.
    window : int
        Trailing periods of events, the current one included.
    radius_km, near_km : float
        Count radius around A; how far outside a region events still count for it.
    exposure_kinds : sequence of str
        Position kinds with their own exposure count.
    """
    n_r, n_t = len(regions), len(period_start)
    grids = ProximityGrids.empty(n_r, n_t, exposure_kinds)
    a = _EventPoints.of(a_events)
    pos = _Positions.of(a_positions, period_start, period_end, exposure_kinds)
    a_cons = _considered(a, regions, geometry, near_km)
    pos_cons = point_region_km(pos.lat, pos.lon, regions, geometry) <= near_km
    grids.a_present = (trailing_sum(_region_counts(a, a_cons, n_t), window) > 0) | (
        pos_cons.T.astype(np.int64) @ pos.active.astype(np.int64) > 0
    )
    if b_events.empty:
        return grids
    b = _EventPoints.of(b_events)
    considered = _considered(b, regions, geometry, near_km)
    grids.b_present = trailing_sum(_region_counts(b, considered, n_t), window) > 0
    # One pass over periods; within a period everything is vectorised over events × locations.
    b_lo, b_hi = b.window_bounds(n_t, window)
    a_lo, a_hi = a.window_bounds(n_t, window)
    for t in range(n_t):
        bs, act = slice(b_lo[t], b_hi[t]), pos.active[:, t]
        loc_lat = np.concatenate([pos.lat[act], a.lat[a_lo[t] : a_hi[t]]])
        loc_lon = np.concatenate([pos.lon[act], a.lon[a_lo[t] : a_hi[t]]])
        if bs.start == bs.stop or loc_lat.size == 0:
            continue
        d = haversine_km(b.lat[bs, None], b.lon[bs, None], loc_lat[None, :], loc_lon[None, :])
        nearest = d.min(axis=1)
        cons = considered[bs]
        dist = np.where(cons, nearest[:, None], np.inf).min(axis=0)
        grids.km[:, t] = np.where(np.isfinite(dist), dist, np.nan)
        grids.n_within[:, t] = (cons & (nearest <= radius_km)[:, None]).sum(axis=0)
        _count_exposure(grids.exposure, t, d[:, : int(act.sum())], pos.kind[act], cons, radius_km)
    return grids


def _count_exposure(exposure, t, d_pos, kinds, cons, radius_km) -> None:
    """Fill ``exposure[kind][:, t]``: considered B events within the radius of an active
    position of each kind (``d_pos``: B events × active positions, in km)."""
    for kind, counts in exposure.items():
        of_kind = kinds == kind
        if of_kind.any():
            near_kind = (d_pos[:, of_kind] <= radius_km).any(axis=1)
            counts[:, t] = (cons & near_kind[:, None]).sum(axis=0)


def trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over periods ``t − window + 1 … t`` (last axis), fewer at the start."""
    x = np.asarray(x, dtype=np.int64)
    c = np.concatenate([np.zeros((*x.shape[:-1], 1), dtype=np.int64), np.cumsum(x, axis=-1)], -1)
    idx = np.arange(x.shape[-1])
    return c[..., idx + 1] - c[..., np.maximum(idx + 1 - window, 0)]


def first_contact(n_within: np.ndarray, memory: int) -> np.ndarray:
    """1 where B is within the radius of A at ``t`` after ``memory`` periods without (0/1).

    The periods before the panel count as without: the burn-in keeps them out of training.
    """
    contact = np.asarray(n_within) > 0
    before = trailing_sum(contact, memory + 1) - contact
    return (contact & (before == 0)).astype(np.float64)


def closing(near: np.ndarray, km: np.ndarray, trend_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Are the sides converging? Nearness now minus ``trend_window`` periods before.

    ``closing = near[t] − near[t − k]`` (in ``[−1, 1]``; a side appearing counts as closing,
    since an absent pair has nearness 0 by construction, and two absences give 0);
    ``closing_km = km[t − k] − km[t]`` (km closed, NaN unless both are observed). The first
    ``k`` periods compare with the first period.
    """
    k = int(trend_window)
    lag = np.maximum(np.arange(near.shape[-1]) - k, 0)
    return near - near[..., lag], km[..., lag] - km


@dataclass(frozen=True)
class _Positions:
    """A side's positions: coordinates, kind, and which are active in which period."""

    lat: np.ndarray
    lon: np.ndarray
    kind: np.ndarray
    active: np.ndarray  # (positions, periods)

    @classmethod
    def of(
        cls, frame: pd.DataFrame, period_start: np.ndarray, period_end: np.ndarray, kinds
    ) -> _Positions:
        if kinds and "kind" not in frame.columns:
            raise ValueError("positions lack a kind column, needed by exposure_kinds")
        kind = frame["kind"] if "kind" in frame.columns else pd.Series("", index=frame.index)
        return cls(
            frame["latitude"].to_numpy(float),
            frame["longitude"].to_numpy(float),
            kind.astype(str).to_numpy(),
            active_positions(
                frame["start_date"].to_numpy("datetime64[ns]"),
                frame["end_date"].to_numpy("datetime64[ns]"),
                period_start,
                period_end,
            ),
        )


def _region_counts(points: _EventPoints, considered: np.ndarray, n_t: int) -> np.ndarray:
    """(regions, periods): how many of the points each region considers, per period."""
    grid = np.zeros((considered.shape[1], n_t), dtype=np.int64)
    rows, cols = np.nonzero(considered)
    np.add.at(grid, (cols, points.t[rows]), 1)
    return grid


@dataclass(frozen=True)
class _EventPoints:
    """Events' coordinates and periods, sorted by period (stable)."""

    frame: pd.DataFrame
    lat: np.ndarray
    lon: np.ndarray
    t: np.ndarray

    @classmethod
    def of(cls, events: pd.DataFrame) -> _EventPoints:
        e = events.sort_values("period_idx", kind="stable")
        return cls(
            e,
            e["latitude"].to_numpy(float),
            e["longitude"].to_numpy(float),
            e["period_idx"].to_numpy(np.int64),
        )

    def window_bounds(self, n_t: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Per period ``t``, the slice of events in periods ``t − window + 1 … t``."""
        t_idx = np.arange(n_t)
        lo = np.searchsorted(self.t, t_idx - window + 1, side="left")
        hi = np.searchsorted(self.t, t_idx, side="right")
        return lo, hi


def _considered(
    b: _EventPoints,
    regions: Sequence[str],
    geometry: Mapping[str, object],
    near_km: float,
) -> np.ndarray:
    """(events, regions): whether a region counts an event (in it or within ``near_km``)."""
    pos = {r: i for i, r in enumerate(regions)}
    b_reg = b.frame["region"].map(pos).fillna(-1).to_numpy(np.int64)
    considered = point_region_km(b.lat, b.lon, regions, geometry) <= near_km
    considered[b_reg >= 0, b_reg[b_reg >= 0]] = True
    return considered

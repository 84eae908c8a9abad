"""The region × period panel: every region, every period of the study window, zeros kept.

:func:`build_panel` turns the kept events (``data/interim/events.parquet``), the positions and
the regions (table, neighbours, polygons) into an :class:`xarray.Dataset` with dims
``(region, period)``: counts per coded category, fatalities, the clash outcome, and the
features of :mod:`model.features` (docs/interfaces.md names them all). It takes plain data
frames and mappings, not :class:`model.data.regions.Regions`, so it is testable on a few squares.

Periods are labelled by their start (``W-MON``: weeks starting on Monday; ``MS``: calendar
months). The grid holds the complete periods inside the study window: a week or month cut by
the window's start or end is left out, because its counts would not be comparable with a full
period's (a one-day "week" has a lower clash rate) and the last period is the default forecast
origin. Events on those edge days are counted in ``attrs["events_outside_panel"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from model.config import PanelParams, Window
from model.data import feature_names as fn
from model.data import features as ft
from model.data.panel_facts import PERIODS_PER_YEAR, PanelFacts

if TYPE_CHECKING:  # the cells' module loads shapely; admin-1 panels never need it
    from model.data.cells import CellSpace

COUNT_COLUMNS = ("event_id", "date", "region", "side1", "side2", "category", "fatalities")


@dataclass(frozen=True)
class Periods:
    """The period grid: start (label) and last day of each period."""

    start: pd.DatetimeIndex
    end: pd.DatetimeIndex
    freq: str

    def __len__(self) -> int:
        return len(self.start)

    def index_of(self, dates: pd.Series | np.ndarray) -> np.ndarray:
        """Period index of each date; -1 before the first period, len() after the last."""
        d = np.asarray(pd.to_datetime(dates), dtype="datetime64[D]").astype("datetime64[ns]")
        idx = np.searchsorted(self.start.to_numpy(), d, side="right") - 1
        return np.where(d > self.end[-1].to_datetime64(), len(self), idx)


def make_periods(start: object, end: object, freq: str) -> Periods:
    """The complete periods (``W-MON`` or ``MS``) within the days ``start … end`` inclusive.

    Raises
    ------
    ValueError
        For an unknown ``freq`` or a window that holds no complete period.
    """
    s, e = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if freq == "W-MON":
        first = s + pd.Timedelta(days=(7 - s.weekday()) % 7)
        starts = pd.date_range(first, e, freq="W-MON")
        ends = starts + pd.Timedelta(days=6)
    elif freq == "MS":
        first = s if s.day == 1 else s + pd.offsets.MonthBegin(1)
        starts = pd.date_range(first, e, freq="MS")
        ends = starts + pd.offsets.MonthEnd(0)
    else:
        raise ValueError(f"unsupported freq {freq!r} (W-MON or MS)")
    keep = ends <= e
    if not keep.any():
        raise ValueError(f"the window {s.date()} … {e.date()} holds no complete {freq} period")
    starts = pd.DatetimeIndex(starts[keep].as_unit("ns"), name="period")
    return Periods(starts, pd.DatetimeIndex(ends[keep].as_unit("ns")), freq)


def feature_names(panel: PanelParams, unit: str = "admin1") -> list[str]:
    """Names of the feature variables, in the order they are written."""
    return panel.feature_names(unit)


@dataclass(frozen=True)
class CellInputs:
    """What a cell panel adds to :func:`build_panel`: the cells' space and the clashes of
    their governorates (every event, those located only to a governorate included)."""

    space: CellSpace
    gov_clash: np.ndarray
    governorates: list[str]


def clash_grid(
    events: pd.DataFrame, names: Sequence[str], panel: PanelParams, window: Window
) -> np.ndarray:
    """Clashes per region (``names``, as the events' ``region``) and panel period."""
    periods = make_periods(window.start, window.end, panel.freq)
    ev, _ = _events_in_panel(events, periods, list(names))
    m = _is_clash(ev, panel)
    r_idx, t_idx = ev["region_idx"].to_numpy(np.int64)[m], ev["period_idx"].to_numpy(np.int64)[m]
    return _grid_sum(r_idx, t_idx, np.ones(int(m.sum())), (len(names), len(periods)))


def _grid_sum(
    r_idx: np.ndarray, t_idx: np.ndarray, weights: np.ndarray, shape: tuple
) -> np.ndarray:
    flat = np.bincount(r_idx * shape[1] + t_idx, weights=weights, minlength=shape[0] * shape[1])
    return np.rint(flat).astype(np.int64).reshape(shape)


def _is_clash(events: pd.DataFrame, panel: PanelParams) -> np.ndarray:
    a, b = panel.clash.sides
    s1, s2 = events["side1"].astype(str), events["side2"].astype(str)
    pair = ((s1 == a) & (s2 == b)) | ((s1 == b) & (s2 == a))
    return (events["category"].isin(panel.clash.categories) & pair).to_numpy(bool)


def _side_events(events: pd.DataFrame, side: str) -> pd.DataFrame:
    has = (events["side1"].astype(str) == side) | (events["side2"].astype(str) == side)
    return events.loc[has & events["latitude"].notna() & events["longitude"].notna()]


def build_panel(
    events: pd.DataFrame,
    positions: pd.DataFrame | None,
    regions: pd.DataFrame,
    neighbours: Mapping[str, Sequence[str]],
    geometry: Mapping[str, object],
    *,
    panel: PanelParams,
    window: Window,
    categories: Iterable[str] = (),
    cells: CellInputs | None = None,
) -> xr.Dataset:
    """Build the region × period panel.

    Parameters
    ----------
    events : pd.DataFrame
        Kept events with at least ``date, region, side1, side2, category, fatalities,
        latitude, longitude`` (docs/interfaces.md). Events outside the panel's complete
        periods are ignored (``attrs["events_outside_panel"]`` counts them); an event in an
        unknown region is an error.
    positions : pd.DataFrame or None
        ``side, latitude, longitude, start_date, end_date`` (NaT for blank dates).
    regions : pd.DataFrame
        ``region_id, region, country``; its row order is the panel's region order.
    neighbours : mapping
        Region → touching regions.
    geometry : mapping
        Region → shapely polygon (lon/lat), used by the proximity features.
    panel : PanelParams
        Frequency, clash definition, half-lives, proximity pairs.
    window : Window
        Study window (inclusive days).
    categories : iterable of str
        Coded categories that get a ``count_`` variable even when no event has them.
    cells : CellInputs, optional
        The regions are PRIO-GRID cells (``regions`` is ``CellSpace.table``): the cells'
        features are added (:func:`model.data.cells.cell_features`) and the table's ``gid``
        and ``governorate`` become coordinates.

    Returns
    -------
    xr.Dataset
        Dims ``(region, period)``; see docs/interfaces.md for variables and attrs.
    """
    missing = [c for c in COUNT_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"events lack columns {missing}")
    periods = make_periods(window.start, window.end, panel.freq)
    names = regions["region"].astype(str).tolist()
    if len(set(names)) != len(names):
        raise ValueError("region names repeat in the regions table")
    ev, n_outside = _events_in_panel(events, periods, names)
    data, clash, events_n = _counts(ev, (len(names), len(periods)), panel, categories)
    countries = regions["country"].astype(str).to_numpy()
    feats = _history_features(clash, events_n, names, neighbours, countries, panel)
    feats |= _proximity_features(ev, positions, names, geometry, periods, panel)
    feats |= _contact_features(data, panel)
    unit = "admin1"
    if cells is not None:
        from model.data.cells import cell_features

        unit = "grid"
        feats |= cell_features(
            clash, cells.gov_clash, cells.space, cells.governorates, panel.half_lives,
            panel.level_prior,
        )  # fmt: skip
    fnames = feature_names(panel, unit)
    assert list(feats) == fnames, (list(feats), fnames)
    for k in fnames:
        data[k] = (("region", "period"), feats[k].astype(np.float64))
    return _assemble(data, regions, periods, panel, window, n_outside, unit)


def _events_in_panel(
    events: pd.DataFrame, periods: Periods, names: list[str]
) -> tuple[pd.DataFrame, int]:
    """The events inside the panel's periods with ``region_idx`` and ``period_idx``; the number
    outside. Raises on an event without region or category, or in an unknown region."""
    ev = events.copy()
    ev["date"] = pd.to_datetime(ev["date"])
    day = ev["date"].dt.normalize()
    in_panel = (day >= periods.start[0]) & (day <= periods.end[-1])
    n_outside = int((~in_panel).sum())
    ev = ev.loc[in_panel].reset_index(drop=True)
    for col in ("region", "category"):
        if ev[col].isna().any():
            raise ValueError(f"{int(ev[col].isna().sum())} event(s) have no {col}")
    unknown = sorted(set(ev["region"].astype(str)) - set(names))
    if unknown:
        raise ValueError(f"events name regions not in the regions table: {unknown[:10]}")
    pos = pd.Series(np.arange(len(names)), index=names)
    ev["region_idx"] = pos.loc[ev["region"].astype(str)].to_numpy(np.int64)
    ev["period_idx"] = periods.index_of(ev["date"])
    return ev, n_outside


def _counts(
    ev: pd.DataFrame, shape: tuple[int, int], panel: PanelParams, categories: Iterable[str]
) -> tuple[dict[str, tuple[tuple[str, str], np.ndarray]], np.ndarray, np.ndarray]:
    """Counts per category, events, fatalities and the clash outcome; the clash and event grids."""
    r_idx = ev["region_idx"].to_numpy(np.int64)
    t_idx = ev["period_idx"].to_numpy(np.int64)
    ones = np.ones(len(ev))
    data: dict[str, tuple[tuple[str, str], np.ndarray]] = {}
    cats = sorted(set(categories) | set(ev["category"].astype(str)))
    ev_cat = ev["category"].astype(str).to_numpy()
    for c in cats:
        m = ev_cat == c
        data[f"count_{c}"] = (("region", "period"), _grid_sum(r_idx[m], t_idx[m], ones[m], shape))
    events_n = _grid_sum(r_idx, t_idx, ones, shape)
    fat = ev["fatalities"].to_numpy(np.float64)
    is_clash = _is_clash(ev, panel)
    clash = _grid_sum(r_idx[is_clash], t_idx[is_clash], ones[is_clash], shape)
    data["events"] = (("region", "period"), events_n)
    data["fatalities"] = (("region", "period"), _grid_sum(r_idx, t_idx, fat, shape))
    data["clash"] = (("region", "period"), clash)
    data["clash_any"] = (("region", "period"), (clash > 0).astype(np.int8))
    return data, clash, events_n


def _history_features(
    clash: np.ndarray,
    events_n: np.ndarray,
    names: list[str],
    neighbours: Mapping[str, Sequence[str]],
    countries: np.ndarray,
    panel: PanelParams,
) -> dict[str, np.ndarray]:
    """The features of the clash and event history: decays, shares, levels, time since the last
    clash, and the neighbours' and the country's decayed clashes."""
    hls = panel.half_lives
    feats: dict[str, np.ndarray] = {}
    for h in hls:
        feats[fn.decay("clash", h)] = np.log1p(ft.decayed_sum(clash, h))
    for h in hls:
        feats[fn.decay("event", h)] = np.log1p(ft.decayed_sum(events_n, h))
    for h in hls:
        feats[fn.share(h)] = ft.decayed_share_logit(clash > 0, h)
    for h in hls:
        feats[fn.level(h)] = ft.level_logit(
            clash > 0, h, panel.level_long_half_life, panel.level_prior
        )
    since = ft.periods_since(clash > 0, PERIODS_PER_YEAR[panel.freq])
    feats[fn.SINCE_CLASH] = np.log1p(since.astype(np.float64))
    for h in hls:
        nbr = ft.neighbour_mean(ft.decayed_sum(clash, h), names, neighbours)
        feats[fn.decay("nbr_clash", h)] = np.log1p(nbr)
    # The national regime (a war winding down, a new front opening): the mean decayed clash
    # count over the country's regions, the same for each of them.
    country_codes = pd.factorize(countries)[0]
    for h in hls:
        dec = ft.decayed_sum(clash, h)
        sums = np.zeros((country_codes.max() + 1, dec.shape[1]))
        np.add.at(sums, country_codes, dec)
        means = sums / np.bincount(country_codes)[:, None]
        feats[fn.decay("country_clash", h)] = np.log1p(means[country_codes])
    return feats


def _proximity_features(
    ev: pd.DataFrame,
    positions: pd.DataFrame | None,
    names: list[str],
    geometry: Mapping[str, object],
    periods: Periods,
    panel: PanelParams,
) -> dict[str, np.ndarray]:
    """The variables of each proximity pair: distance parts (``km``, ``near``, ``absent``,
    ``n_within``), then precursors (``copresent``, ``closing``, ``closing_km``,
    ``first_contact``, ``exposure_{kind}``)."""
    pos_df = positions if positions is not None else _empty_positions()
    feats: dict[str, np.ndarray] = {}
    shape = (len(names), len(periods))
    for p in panel.proximity:
        stem = fn.pair_stem(p.a, p.b)
        a_pos = pos_df.loc[(pos_df["side"].astype(str) == p.a) & p.use_positions]
        a_pos = a_pos.loc[a_pos["latitude"].notna() & a_pos["longitude"].notna()]
        g = ft.proximity(
            a_pos,
            _side_events(ev, p.a),
            _side_events(ev, p.b),
            regions=names,
            geometry=geometry,
            period_start=periods.start.to_numpy(),
            period_end=periods.end.to_numpy(),
            window=p.window,
            radius_km=p.radius_km,
            near_km=p.near_km,
            exposure_kinds=p.exposure_kinds,
        )
        near, absent = ft.derive_proximity(g.km, panel.proximity_scale_km)
        feats[fn.proximity(stem, "km")] = g.km
        feats[fn.proximity(stem, "near")] = near
        feats[fn.proximity(stem, "absent")] = absent
        feats[fn.proximity(stem, "n_within")] = np.log1p(g.n_within.astype(np.float64))
        # Both sides about, and no event between them in the region in the same window.
        dyad = ft.trailing_sum(_dyad_counts(ev, p.a, p.b, shape), p.window) > 0
        copresent = g.a_present & g.b_present & ~dyad
        closing, closing_km = ft.closing(near, g.km, p.trend_window)
        feats[fn.precursor(stem, "copresent")] = copresent.astype(np.float64)
        feats[fn.precursor(stem, "closing")] = closing
        feats[fn.precursor(stem, "closing_km")] = closing_km
        feats[fn.precursor(stem, "first_contact")] = ft.first_contact(g.n_within, p.contact_memory)
        for kind in p.exposure_kinds:
            feats[fn.exposure(stem, kind)] = np.log1p(g.exposure[kind].astype(np.float64))
    return feats


def _dyad_counts(ev: pd.DataFrame, a: str, b: str, shape: tuple[int, int]) -> np.ndarray:
    """Events between sides ``a`` and ``b`` (either order) per region and period."""
    s1, s2 = ev["side1"].astype(str), ev["side2"].astype(str)
    m = (((s1 == a) & (s2 == b)) | ((s1 == b) & (s2 == a))).to_numpy(bool)
    r_idx, t_idx = ev["region_idx"].to_numpy(np.int64)[m], ev["period_idx"].to_numpy(np.int64)[m]
    return _grid_sum(r_idx, t_idx, np.ones(int(m.sum())), shape)


def _contact_features(
    data: dict[str, tuple[tuple[str, str], np.ndarray]], panel: PanelParams
) -> dict[str, np.ndarray]:
    """``contact_{c}_hl{h}``: log1p of the decayed count of each non-violent contact category
    (a category no event has counts zero: ``build_panel``'s ``categories`` name them all)."""
    feats: dict[str, np.ndarray] = {}
    for c in panel.contact_categories:
        if f"count_{c}" not in data:
            raise ValueError(f"panel.contact_categories: no category {c!r} in the events")
        counts = data[f"count_{c}"][1]
        feats[fn.contact(c, panel.contact_half_life)] = np.log1p(
            ft.decayed_sum(counts, panel.contact_half_life)
        )
    return feats


def _assemble(
    data: dict[str, tuple[tuple[str, str], np.ndarray]],
    regions: pd.DataFrame,
    periods: Periods,
    panel: PanelParams,
    window: Window,
    n_outside: int,
    unit: str = "admin1",
) -> xr.Dataset:
    """The panel dataset: variables, coordinates and the attributes that record its making."""
    names = regions["region"].astype(str).tolist()
    coords = {
        "region": ("region", np.asarray(names, dtype=object)),
        "period": ("period", periods.start.to_numpy()),
        "period_end": ("period", periods.end.to_numpy()),
        "country": ("region", regions["country"].astype(str).to_numpy(dtype=object)),
        "region_id": ("region", regions["region_id"].astype(str).to_numpy(dtype=object)),
    }
    if unit == "grid":
        coords["gid"] = ("region", regions["gid"].to_numpy(np.int64))
        coords["governorate"] = ("region", regions["governorate"].astype(str).to_numpy(object))
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            **PanelFacts.from_params(panel, feature_names(panel, unit)).to_attrs(),
            "unit": unit,
            "window_start": str(window.start),
            "window_end": str(window.end),
            "clash_categories": json.dumps(list(panel.clash.categories)),
            "proximity_pairs": json.dumps([p.model_dump(mode="json") for p in panel.proximity]),
            "proximity_scale_km": float(panel.proximity_scale_km),
            "contact_categories": json.dumps(list(panel.contact_categories)),
            "contact_half_life": float(panel.contact_half_life),
            "events_outside_panel": n_outside,
        },
    )


def _empty_positions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": pd.Series([], dtype=str),
            "latitude": pd.Series([], dtype=float),
            "longitude": pd.Series([], dtype=float),
            "start_date": pd.Series([], dtype="datetime64[ns]"),
            "end_date": pd.Series([], dtype="datetime64[ns]"),
        }
    )


def blank_start_positions(positions: pd.DataFrame | None, panel: PanelParams) -> int:
    """How many positions used by a proximity pair have a blank start (active from the start)."""
    if positions is None or positions.empty:
        return 0
    sides = {p.a for p in panel.proximity if p.use_positions}
    used = positions["side"].astype(str).isin(sides)
    return int((used & positions["start_date"].isna()).sum())


def panel_summary(ds: xr.Dataset) -> dict[str, object]:
    """The figures for ``reports/metrics/panel.json`` (docs/interfaces.md).

    ``missing_share[f]`` is the share of cells where feature ``f`` carries no observation:
    NaN cells, and for the distance parts of a proximity pair the cells where the pair is
    absent (``_near`` and ``_n_within`` hold 0 there by construction, which is not an
    observation). The precursors are observed everywhere (not co-present, no first contact,
    no exposure are facts), except ``_closing_km``, NaN where it is unknown.
    """
    fnames = list(PanelFacts.from_attrs(ds).feature_names)
    periods = pd.DatetimeIndex(ds["period"].to_numpy())
    n_cells = ds.sizes["region"] * ds.sizes["period"]
    missing: dict[str, float] = {}
    for f in fnames:
        miss = np.isnan(ds[f].to_numpy())
        parsed = fn.parse(f)
        if parsed.pair is not None and parsed.part in fn.PROXIMITY_PARTS:
            miss = miss | (ds[fn.proximity(parsed.pair, "absent")].to_numpy() == 1)
        missing[f] = float(miss.mean()) if n_cells else 0.0
    return {
        "regions": int(ds.sizes["region"]),
        "periods": int(ds.sizes["period"]),
        "first_period": periods[0].date().isoformat() if len(periods) else None,
        "last_period": periods[-1].date().isoformat() if len(periods) else None,
        "clash_rate": float(ds["clash_any"].mean()) if n_cells else 0.0,
        "rows": int(n_cells),
        "missing_share": missing,
    }

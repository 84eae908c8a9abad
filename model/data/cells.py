"""PRIO-GRID cells as the panel's units of space (``ingest.regions.unit: grid``, issue 21).

:func:`cell_space` lays the cells of :mod:`model.data.grid` over the study's admin-1 polygons and
gives the panel what it needs to treat each cell as a region: a table (``region`` is the cell's
display name, ``region_id`` its ``gid``), neighbours (the first ring: the eight cells around;
cells share edges or corners), polygons (the cell clipped to the study area, so that distances
to a cell are distances to the land it covers), and for the cells' own features the second
ring, each cell's governorate and its area in every governorate (the roll-up's area shares).

:func:`place_events` puts the events in cells. An event whose coordinates place it to about a
cell (``located == "point"``) goes to the cell of its coordinates; an event located only to its
governorate (GED ``where_prec`` ≥ 4, ACLED ``geo_precision`` 3, or no coordinates) has no cell:
it is never given one, and enters the cells' features through its governorate
(``gov_clash_decay_hl*``) alone. The cell outcome therefore misses those clashes (README,
"Cells").

:func:`cell_features` are the features a cell panel adds (:func:`model.data.feature_names.
cell_feature_names`): the second ring's decayed clashes, the governorate's (every clash in it,
the coarse ones included), and the pooling contrasts: the log-odds of the decayed share of the
governorate's (or the country's) cell-weeks with a clash minus the cell's own. The model learns
their coefficients, so how far a cell's level is pulled toward its governorate's and country's
is estimated, not fixed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.data import feature_names as fn
from model.data import features as ft
from model.data import grid

#: The ``located`` value of an event whose coordinates place it in a cell.
POINT = "point"


@dataclass(frozen=True)
class CellSpace:
    """The cells of a study and what the panel and the roll-up need of them.

    Attributes
    ----------
    table : DataFrame
        One row per cell, in ``gid`` order: ``region_id`` (the gid as text), ``region`` (the
        display name, unique), ``country``, ``gid``, ``governorate``, ``lat``, ``lon``
        (centre), ``share`` (of the cell's area inside the study area).
    neighbours, ring2 : dict
        Cell name → the cells of its first and second ring.
    geometry : dict
        Cell name → the cell clipped to the study's polygons.
    shares : DataFrame
        ``region`` (cell name), ``governorate``, ``weight``: the share of the cell's area
        inside the study that lies in that governorate (each cell's weights sum to 1).
    """

    table: pd.DataFrame
    neighbours: dict[str, list[str]]
    ring2: dict[str, list[str]]
    geometry: dict[str, object]
    shares: pd.DataFrame

    @property
    def names(self) -> list[str]:
        return self.table["region"].astype(str).tolist()

    def name_of_gid(self) -> dict[int, str]:
        return dict(zip(self.table["gid"].astype(int), self.names, strict=True))


def unique_names(names: Sequence[str], gids: Sequence[int]) -> list[str]:
    """Display names made unique: a name two cells share gets each cell's gid appended."""
    counts = pd.Series(list(names)).value_counts()
    return [n if counts[n] == 1 else f"{n} #{g}" for n, g in zip(names, gids, strict=True)]


def cell_space(
    geometry: Mapping[str, object],
    country: Mapping[str, str],
    places: pd.DataFrame,
    min_share: float = 0.0,
) -> CellSpace:
    """The cells overlapping the regions' polygons (:func:`model.data.grid.cells_of`), named
    after the nearest place (``places``: ``name, latitude, longitude``)."""
    cells = grid.cells_of(geometry, country, min_share)
    gids = cells["gid"].astype(int).tolist()
    names = unique_names(grid.display_names(cells, places).tolist(), gids)
    by_gid = dict(zip(gids, names, strict=True))
    table = pd.DataFrame(
        {
            "region_id": [str(g) for g in gids],
            "region": names,
            "country": cells["country"].astype(str).to_numpy(),
            "gid": np.asarray(gids, dtype=np.int64),
            "governorate": cells["region"].astype(str).to_numpy(),
            "lat": cells["lat"].to_numpy(float),
            "lon": cells["lon"].to_numpy(float),
            "share": cells["share"].to_numpy(float),
        }
    )
    rings = [grid.neighbours(gids, ring) for ring in (1, 2)]
    nbrs = [{by_gid[g]: [by_gid[o] for o in r[g]] for g in gids} for r in rings]
    clipped = {by_gid[g]: geom for g, geom in grid.clipped(gids, geometry).items()}
    shares = grid.region_shares(cells, geometry)
    shares["weight"] = shares["share"] / shares.groupby("gid")["share"].transform("sum")
    shares = pd.DataFrame(
        {
            "region": [by_gid[int(g)] for g in shares["gid"]],
            "governorate": shares["region"].astype(str),
            "weight": shares["weight"].to_numpy(float),
        }
    )
    return CellSpace(table, nbrs[0], nbrs[1], clipped, shares)


@dataclass(frozen=True)
class PlacedEvents:
    """Events put in cells: those with a cell (``region`` is the cell's name), and the counts
    of those without one."""

    in_cells: pd.DataFrame
    region_only: int
    outside_cells: int


def place_events(events: pd.DataFrame, space: CellSpace) -> PlacedEvents:
    """The events located to a point, each in the cell of its coordinates.

    Events located only to a governorate stay out (``region_only`` counts them); a point
    whose cell is not one of the study's (a point snapped onto a border from outside it)
    also stays out, counted in ``outside_cells``.
    """
    located = events["located"].astype(str).to_numpy() if "located" in events else None
    has_xy = events["latitude"].notna().to_numpy() & events["longitude"].notna().to_numpy()
    point = has_xy if located is None else has_xy & (located == POINT)
    gid = np.zeros(len(events), dtype=np.int64)
    gid[point] = grid.gid_of(
        events.loc[point, "latitude"].to_numpy(float),
        events.loc[point, "longitude"].to_numpy(float),
    )
    cell = pd.Series(gid, index=events.index).map(space.name_of_gid()).where(point)
    inside = cell.notna().to_numpy()
    out = events.loc[inside].copy()
    out["governorate"] = out["region"]
    out["region"] = cell[inside].astype(str)
    out["gid"] = gid[inside]
    return PlacedEvents(
        out.reset_index(drop=True), int((~point).sum()), int((point & ~inside).sum())
    )


def _group_mean(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (cells × periods) over each group of cells, given back per cell."""
    sums = np.zeros((codes.max() + 1, values.shape[1]))
    np.add.at(sums, codes, values)
    return (sums / np.bincount(codes)[:, None])[codes]


def cell_features(
    clash: np.ndarray,
    gov_clash: np.ndarray,
    space: CellSpace,
    governorates: Sequence[str],
    half_lives: Sequence[float],
    prior: float,
) -> dict[str, np.ndarray]:
    """The cells' own features (``cell_feature_names`` order).

    Parameters
    ----------
    clash : ndarray (cell, period)
        Clashes per cell (located events only).
    gov_clash : ndarray (governorate, period)
        Clashes per governorate, the events located only to it included.
    space : CellSpace
    governorates : sequence of str
        The rows of ``gov_clash``.
    half_lives : sequence of float
    prior : float
        Pseudo-periods of the pooled share each decayed share is shrunk by (``level_prior``).
    """
    names = space.names
    gov_row = {g: i for i, g in enumerate(governorates)}
    own_gov = np.array([gov_row[g] for g in space.table["governorate"]], dtype=np.int64)
    country = pd.factorize(space.table["country"].astype(str))[0]
    occurred = (clash > 0).astype(np.float64)
    feats: dict[str, np.ndarray] = {}
    for h in half_lives:
        ring2 = ft.neighbour_mean(ft.decayed_sum(clash, h), names, space.ring2)
        feats[fn.decay("ring2_clash", h)] = np.log1p(ring2)
    for h in half_lives:
        feats[fn.decay("gov_clash", h)] = np.log1p(ft.decayed_sum(gov_clash, h))[own_gov]
    own = {h: ft.decayed_share_logit(occurred, h, prior) for h in half_lives}
    groups = {"gov": pd.factorize(own_gov)[0], "country": country}
    for g in fn.POOL_GROUPS:
        mean = _group_mean(occurred, groups[g])
        for h in half_lives:
            feats[fn.pool(g, h)] = ft.decayed_share_logit(mean, h, prior) - own[h]
    return feats


def rollup_weights(space: CellSpace, governorates: Sequence[str]) -> np.ndarray:
    """``(governorate, cell)`` weights: the share of each cell's study area in each
    governorate (a cell split by a border counts in both, in proportion)."""
    g_pos = {g: i for i, g in enumerate(governorates)}
    c_pos = {c: i for i, c in enumerate(space.names)}
    w = np.zeros((len(governorates), len(c_pos)))
    for r, g, v in space.shares[["region", "governorate", "weight"]].itertuples(index=False):
        w[g_pos[g], c_pos[r]] += v
    return w

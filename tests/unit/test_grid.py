"""PRIO-GRID cells (model.data.grid): the codebook's ids, the cell set from the boundaries
alone, the governorate holding most of a cell, ring neighbours, names."""

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from model.data import grid


@pytest.mark.parametrize(
    ("lat", "lon", "gid"),
    [
        (-90.0, -180.0, 1),  # the south-west corner is cell 1
        (-89.9, 179.9, 720),  # the end of the first row
        (-89.5, -180.0, 721),  # a south edge belongs to the cell north of it
        (89.99, 179.99, 259200),  # the last cell
        (90.0, 180.0, 259200),  # the pole and the antimeridian fall in the last row/column
        (27.1, 11.2, 168863),  # priogridtools' example: (row 235 - 1) * 720 + column 383
        (33.31, 44.37, 177569),  # Baghdad: row 247, column 449
    ],
)
def test_gids_follow_the_codebook(lat, lon, gid) -> None:
    assert int(grid.gid_of(lat, lon)) == gid
    row, col = grid.gid_row_col(gid)
    assert (int(row) - 1) * 720 + int(col) == gid
    lon0, lat0, lon1, lat1 = grid.cell_bounds(gid)
    assert lon0 <= lon <= lon1 and lat0 <= lat <= lat1 and lon1 - lon0 == 0.5


def test_coordinates_off_the_globe_are_refused() -> None:
    with pytest.raises(ValueError, match="latitudes"):
        grid.gid_of(91.0, 0.0)
    with pytest.raises(ValueError, match="longitudes"):
        grid.gid_of(0.0, np.nan)
    with pytest.raises(ValueError, match="gids"):
        grid.gid_row_col(0)


def test_the_cell_set_comes_from_the_polygons_and_each_cell_from_its_largest_region() -> None:
    # two regions splitting a 1 x 1 degree square at lon 40.7: the west column of cells is all
    # "West"; the east column is 0.2 degrees "West" and 0.3 "East", so it is "East's"
    geometry = {"West": box(40.0, 30.0, 40.7, 31.0), "East": box(40.7, 30.0, 41.0, 31.0)}
    cells = grid.cells_of(geometry, {"West": "A", "East": "B"})
    assert len(cells) == 4
    west, east = cells[cells["lon"] < 40.5], cells[cells["lon"] > 40.5]
    assert (west["region"] == "West").all() and (west["country"] == "A").all()
    assert (east["region"] == "East").all() and (east["country"] == "B").all()
    np.testing.assert_allclose(cells["share"], 1.0)
    # a polygon that only touches a cell along an edge does not put it in the set
    edge = grid.cells_of({"R": box(40.0, 30.0, 40.5, 30.5)}, {"R": "A"})
    assert list(edge["gid"]) == [int(grid.gid_of(30.25, 40.25))]
    # a partly covered cell keeps its share, and min_share drops it
    half = grid.cells_of({"Half": box(40.0, 30.0, 40.25, 30.5)}, {"Half": "A"})
    assert len(half) == 1 and half["share"].iloc[0] == pytest.approx(0.5, rel=1e-3)
    assert grid.cells_of({"Half": box(40.0, 30.0, 40.25, 30.5)}, {"Half": "A"}, 0.6).empty


def test_iraq_on_the_grid() -> None:
    from conftest import ROOT

    from model.config import RegionsSpec
    from model.data.regions import load_regions

    spec = RegionsSpec(
        boundaries=[{"path": "data/raw/boundaries/iraq_adm1.geojson", "country": "Iraq",
                     "name_property": "shapeName", "id_property": "shapeISO"}],
        aliases="data/raw/boundaries/region_aliases.csv",
    )  # fmt: skip
    regions = load_regions(spec, ROOT)
    country = dict(zip(regions.table["region"], regions.table["country"], strict=True))
    cells = grid.cells_of(regions.geometry, country)
    # Iraq is about 438,000 km2: a few hundred cells of about 2,600 km2 (with border cells)
    assert 150 <= len(cells) <= 260
    inside = (cells["share"] * cells["area_km2"]).sum()
    assert 400_000 < inside < 480_000
    # every governorate holds most of some cell but Baghdad (916 km2 in these boundaries, split
    # between two cells whose larger part lies in its neighbours): a roll-up to governorates
    # must weigh cells by their area in each, not by the majority region alone
    assert set(regions.table["region"]) - set(cells["region"]) == {"Baghdad"}
    assert cells["gid"].is_unique and int(grid.gid_of(33.31, 44.37)) in set(cells["gid"])
    shares = grid.region_shares(cells, regions.geometry)
    baghdad = shares[shares["region"] == "Baghdad"]
    assert 800 < (baghdad["share"] * cells.set_index("gid").loc[baghdad["gid"], "area_km2"]
                    .to_numpy()).sum() < 1_100  # fmt: skip
    np.testing.assert_allclose(
        shares.groupby("gid")["share"].sum().loc[cells["gid"]].to_numpy(), cells["share"], rtol=1e-9
    )


def test_ring_neighbours_wrap_at_the_antimeridian() -> None:
    centre = int(grid.gid_of(33.3, 44.3))
    block = {int(grid.gid_of(33.3 + 0.5 * dr, 44.3 + 0.5 * dc))
             for dr in range(-2, 3) for dc in range(-2, 3)}  # fmt: skip
    assert len(grid.neighbours(block, 1)[centre]) == 8
    assert len(grid.neighbours(block, 2)[centre]) == 16
    assert set(grid.neighbours(block, 1)[centre]).isdisjoint(grid.neighbours(block, 2)[centre])
    east, west = int(grid.gid_of(0.1, 179.9)), int(grid.gid_of(0.1, -179.9))
    assert grid.neighbours([east, west], 1)[east] == [west]


def test_cells_are_named_by_the_nearest_place_inside_them() -> None:
    cells = pd.DataFrame(
        {"gid": [int(grid.gid_of(34.45, 40.95)), int(grid.gid_of(36.3, 43.1))],
         "lat": [34.25, 36.25], "lon": [40.75, 43.25], "region": ["Deir-ez-Zor", "Ninawa"]}
    )  # fmt: skip
    places = pd.DataFrame(
        {"name": ["Abu Kamal", "Mayadin", " ", "Mosul"],
         "latitude": [34.45, 35.02, 34.3, 36.34], "longitude": [40.92, 40.45, 40.8, 43.13]}
    )  # fmt: skip
    names = grid.display_names(cells, places)
    assert list(names) == ["Abu Kamal (Deir-ez-Zor)", "Mosul (Ninawa)"]
    none = grid.display_names(cells, places.iloc[:0])
    assert none.iloc[0] == f"cell {cells['gid'].iloc[0]} (Deir-ez-Zor)"

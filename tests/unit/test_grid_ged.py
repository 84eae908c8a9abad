"""The shipped GED file against model.data.grid: every event's cell, computed from its
coordinates, is the ``priogrid_gid`` GED gives it (issue 21's acceptance point). 555 of its
7,473 points lie on a cell edge (a latitude or longitude that is a multiple of 0.5°, mostly
governorate and country centroids); they agree too, so edges go north and east as in GED."""

import numpy as np
import pandas as pd
from conftest import ROOT

from model.data import grid

GED = ROOT / "data/raw/ucdp_ged/conflict_data_irq.csv"


def _ged() -> pd.DataFrame:
    """The file as text; the HDX export's second line is its HXL tag row (``,#date+year,…``)."""
    with GED.open(encoding="utf-8") as f:
        f.readline()
        hxl = f.readline().startswith(",#")
    return pd.read_csv(GED, dtype=str, keep_default_na=False, skiprows=[1] if hxl else None)


def test_every_shipped_ged_event_falls_in_the_cell_ged_gives_it() -> None:
    ged = _ged()
    placed = ged[(ged["latitude"] != "") & (ged["longitude"] != "")]
    assert len(placed) == len(ged) == 7473
    lat, lon = placed["latitude"].astype(float), placed["longitude"].astype(float)
    gid = grid.gid_of(lat.to_numpy(), lon.to_numpy())
    expected = placed["priogrid_gid"].astype(float).astype(int).to_numpy()
    wrong = placed.assign(computed=gid)[gid != expected]
    assert wrong.empty, wrong[["id", "latitude", "longitude", "priogrid_gid", "computed"]]
    on_edge = (np.mod(lat * 2, 1) == 0) | (np.mod(lon * 2, 1) == 0)
    assert on_edge.sum() == 555  # the edge cases are really exercised

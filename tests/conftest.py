"""Shared test set-up: compile caches outside the repo, a headless matplotlib."""

import os
from pathlib import Path

CACHE = Path.home() / ".cache" / "clashcast"
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE / "numba"))
# base_compiledir, not compiledir: PyTensor keeps its Numba cache under the base.
os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={CACHE / 'pytensor'}")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# The shipped admin-1 boundaries, as params name them (tests build their own params around them).
IRAQ_BOUNDARY = {
    "path": "data/raw/boundaries/iraq_adm1.geojson",
    "country": "Iraq",
    "name_property": "shapeName",
    "id_property": "shapeISO",
}
SYRIA_BOUNDARY = {
    "path": "data/raw/boundaries/syria_adm1.geojson",
    "country": "Syria",
    "name_property": "ADM1_EN",
    "id_property": "ADM1_PCODE",
}
ALIASES = "data/raw/boundaries/region_aliases.csv"

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
#: The governorate example (Iraq's 18 governorates, the shipped default before issue 21 made
#: cells the default): the tiny run and the tests written for governorates read it.
GOVERNORATES = ROOT / "params/examples/ged_iraq_governorates.yaml"

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

# Priors of the small models the unit tests build (params as data, as in params.yaml).
PRIORS = {
    "intercept": {"dist": "Normal", "mu": -2.0, "sigma": 1.5},
    "sigma_country": {"dist": "HalfNormal", "sigma": 0.5},
    "sigma_region": {"dist": "HalfNormal", "sigma": 1.0},
    "beta": {"dist": "Normal", "mu": 0.0, "sigma": 1.0},
    "sigma_beta_horizon": {"dist": "HalfNormal", "sigma": 0.25},
    "sigma_beta_country": {"dist": "HalfNormal", "sigma": 0.25},
    "sigma_block": {"dist": "HalfNormal", "sigma": 1.0},
}

"""Regions: name normalisation, aliases, neighbours, point placement with snapping."""

from pathlib import Path

import numpy as np
import pytest
from conftest import ALIASES, IRAQ_BOUNDARY, SYRIA_BOUNDARY
from shapely.geometry import box

from model.config import RegionsSpec
from model.data.regions import Regions, haversine_km, load_regions, normalise_name
from model.errors import StageError

ROOT = Path(__file__).resolve().parents[2]

IRAQ, SYRIA = IRAQ_BOUNDARY, SYRIA_BOUNDARY


@pytest.fixture(scope="module")
def both() -> Regions:
    spec = RegionsSpec(boundaries=[IRAQ, SYRIA], aliases=ALIASES, snap_km=5.0)
    return load_regions(spec, ROOT)


def test_normalise_name_strips_accents_case_punctuation_and_province():
    assert normalise_name("Al Başrah  province") == normalise_name("Al-Basrah")
    assert normalise_name("Karbalā’ province") == "karbala"
    assert normalise_name("Deir-ez-Zor") == normalise_name("deir ez zor")
    assert normalise_name("Muhafazat Dar'a") == normalise_name("Dar'a") == "dara"
    assert normalise_name(None) == "" and normalise_name(float("nan")) == ""


def test_table_shape_and_order(both):
    t = both.table
    assert list(t.columns) == ["region_id", "region", "country", "lat", "lon"]
    assert len(t) == 32 and (t["country"] == "Iraq").sum() == 18
    assert list(t.sort_values(["country", "region"])["region"]) == list(t["region"])
    # the representative point lies inside its own region
    assert list(both.locate(t["lat"], t["lon"])) == list(t["region"])


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("Nīnawá province", "Ninawa"),
        ("At-Ta'mim province", "Kirkuk"),
        ("Arbīl province", "Erbil"),
        ("Dahūk province", "Dohuk"),
        ("As Sulaymānīyah province", "Al-Sulaimaniyah"),
        ("Şalāḩ ad Dīn province", "Salah al-Din"),
        ("Al Başrah  province", "Al-Basrah"),
        ("Karbalā’ province", "Karbala"),
        ("IQ-NI", "Ninawa"),
    ],
)
def test_ged_spellings_match_iraq(both, name, region):
    assert both.match_name(name, "Iraq") == region


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("Deir ez Zor", "Deir-ez-Zor"),
        ("Dayr az Zawr", "Deir-ez-Zor"),
        ("Deir-ez-Zor", "Deir-ez-Zor"),
        ("Raqqa", "Ar-Raqqa"),
        ("Ar-Raqqa", "Ar-Raqqa"),
        ("Idlib", "Idleb"),
        ("Idleb", "Idleb"),
        ("Hasakah", "Al-Hasakeh"),
        ("Homs", "Homs"),
        ("Rif Dimashq", "Rural Damascus"),
        ("Damascus", "Damascus"),
    ],
)
def test_syria_spellings_match(both, name, region):
    assert both.match_name(name, "Syria") == region
    assert both.match_name(name) == region  # unique across countries


def test_unknown_and_wrong_country_names_are_none(both):
    assert both.match_name("Atlantis") is None
    assert both.match_name("") is None and both.match_name(None) is None
    assert both.match_name("Raqqa", "Iraq") is None


def test_iraq_neighbours_are_sensible(both):
    nb = both.neighbours
    assert set(nb) == set(both.names)
    assert all(nb[r] for r in both.names)  # nobody is an island
    assert {"Erbil", "Dohuk", "Salah al-Din", "Al-Hasakeh", "Deir-ez-Zor"} <= set(nb["Ninawa"])
    assert set(nb["Karbala"]) == {"Al-Anbar", "An-Najaf", "Babil"}
    assert set(nb["Al-Basrah"]) == {"Al-Muthanna", "Dhi Qar", "Maysan"}
    assert "Al-Basrah" not in nb["Ninawa"]
    for r, others in nb.items():  # symmetric
        for o in others:
            assert r in nb[o]


def test_locate_points_snap_and_invalid(both):
    lat = [36.34, 33.31, 35.33, np.nan, 95.0, 10.0]
    lon = [43.13, 44.37, 40.14, 44.0, 44.0, 10.0]  # Mosul, Baghdad, Deir ez-Zor, nan, bad, Sahara
    regions, how = both.place(lat, lon)
    assert list(regions) == ["Ninawa", "Baghdad", "Deir-ez-Zor", None, None, None]
    assert list(how) == ["polygon", "polygon", "polygon", "", "", ""]


def test_snap_within_km_only():
    r = Regions(
        _table(), {"A": box(0, 0, 1, 1), "B": box(2, 0, 3, 1)}, snap_km=5.0
    )  # 1 deg lon at the equator ~ 111 km
    regions, how = r.place([0.5, 0.5, 0.5], [1.03, 1.2, -0.01])
    assert list(regions) == ["A", None, "A"]
    assert list(how) == ["snap", "", "snap"]
    assert r.neighbours == {"A": [], "B": []}


def _table():
    import pandas as pd

    return pd.DataFrame(
        {
            "region_id": ["X-A", "X-B"],
            "region": ["A", "B"],
            "country": ["X", "X"],
            "lat": [0.5, 0.5],
            "lon": [0.5, 2.5],
        }
    )


def test_haversine_one_degree_latitude():
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.19, abs=0.05)


def test_bad_alias_target_is_an_error(tmp_path: Path):
    (tmp_path / "a.csv").write_text(
        "alias,region,country\nMosul,Mosul City,Iraq\n", encoding="utf-8"
    )
    spec = RegionsSpec(
        boundaries=[{**IRAQ, "path": str(ROOT / IRAQ["path"])}], aliases=tmp_path / "a.csv"
    )
    with pytest.raises(StageError, match=r"a\.csv:2: region='Mosul City'"):
        load_regions(spec, tmp_path)


def test_missing_boundary_property_is_an_error():
    spec = RegionsSpec(boundaries=[{**IRAQ, "name_property": "NAME_1"}])
    with pytest.raises(StageError, match="NAME_1"):
        load_regions(spec, ROOT)


def test_missing_boundary_file_is_an_error(tmp_path: Path):
    spec = RegionsSpec(boundaries=[{**IRAQ, "path": "nope.geojson"}])
    with pytest.raises(StageError, match="not found"):
        load_regions(spec, tmp_path)


ACLED_ADMIN1 = {
    "Iraq": "Al Anbar,Baghdad,Babylon,Erbil,Ninewa,Salah al Din,Kirkuk,Diyala,Basrah,Duhok,"
    "Sulaymaniyah,Wasit,Maysan,Thi-Qar,Muthanna,Qadissiya,Najaf,Kerbala,Halabja",
    "Syria": "Aleppo,Al Hasakeh,Ar-Raqqa,Deir ez Zor,Hama,Homs,Idleb,Lattakia,Quneitra,"
    "Rural Damascus,Damascus,Dara,As-Sweida,Tartous",
}


@pytest.mark.parametrize("country", ["Iraq", "Syria"])
def test_every_acled_admin1_spelling_matches(both, country):
    names = ACLED_ADMIN1[country].split(",")
    found = {n: both.match_name(n, country) for n in names}
    assert None not in found.values(), found
    expected = 14 if country == "Syria" else 18  # Halabja is inside Al-Sulaimaniyah's polygon
    assert len(set(found.values())) == expected

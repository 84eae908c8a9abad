"""A synthetic ACLED export of Syria and Iraq, 2017-2024: realistic in shape, made up in content.

ACLED's terms forbid redistributing its data, so the example's tests run on this instead. What is
realistic: every column of an ACLED export in its order; actor names written the way ACLED writes
them (state forces with their period, ``Military Forces of the United States (2017-2021)`` then
``(2021-)``; units after the bracket; acronym prefixes, ``QSD: Syrian Democratic Forces``,
``QDW: National Defense Forces``; generic militias, ``Militia (Pro-Iran)``); allies in
``assoc_actor_1/2``, ``;``-separated; perpetrators known only through an associate
(``Unidentified Armed Group (Syria)`` with ``Kataib Hezbollah``); inter codes, interaction,
civilian targeting; governorates spelled ACLED's way. What is made up: every event. Clashes
between the US-backed and the Iran-aligned side come in runs of weeks in a few hotspots (Deir ez
Zor, Al Tanf, Hasakeh, Anbar, Baghdad, Erbil, Babylon), among background violence everywhere.

``generate(seed)`` returns the rows and, for each, whether it is a clash between the two sides
in truth (what the example's side map must catch); ``write(path, seed)`` writes the CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from model.data.sources.acled import COLUMNS

START, END = dt.date(2017, 1, 2), dt.date(2024, 12, 29)
ISO = {"Syria": 760, "Iraq": 368}

# (country, admin1 as ACLED spells it, location, latitude, longitude)
PLACES = {
    "deir": ("Syria", "Deir ez Zor", "Al Mayadin", 35.019, 40.451),
    "conoco": ("Syria", "Deir ez Zor", "Conoco gas field", 35.289, 40.356),
    "bukamal": ("Syria", "Deir ez Zor", "Al Bukamal", 34.453, 40.918),
    "tanf": ("Syria", "Homs", "Al Tanf", 33.506, 38.618),
    "palmyra": ("Syria", "Homs", "Palmyra", 34.560, 38.280),
    "hasakeh": ("Syria", "Hasakeh", "Shaddadi", 36.050, 40.730),
    "raqqa": ("Syria", "Raqqa", "Ar-Raqqa", 35.950, 39.010),
    "aleppo": ("Syria", "Aleppo", "Manbij", 36.530, 37.950),
    "idleb": ("Syria", "Idleb", "Saraqab", 35.860, 36.800),
    "damascus": ("Syria", "Rural Damascus", "Sayyida Zaynab", 33.440, 36.340),
    "daraa": ("Syria", "Dar'a", "Tafas", 32.740, 36.070),
    "qaim": ("Iraq", "Al Anbar", "Al Qaim", 34.368, 41.094),
    "asad": ("Iraq", "Al Anbar", "Ain al Asad", 33.800, 42.440),
    "baghdad": ("Iraq", "Baghdad", "Baghdad", 33.340, 44.390),
    "erbil": ("Iraq", "Erbil", "Erbil", 36.237, 43.963),
    "jurf": ("Iraq", "Babylon", "Jurf al Sakhar", 32.880, 44.120),
    "kirkuk": ("Iraq", "Kirkuk", "K-1 Air Base", 35.514, 44.283),
    "mosul": ("Iraq", "Ninewa", "Mosul", 36.340, 43.130),
    "tikrit": ("Iraq", "Salah al Din", "Tikrit", 34.610, 43.680),
    "diyala": ("Iraq", "Diyala", "Baqubah", 33.750, 44.640),
    "basra": ("Iraq", "Basrah", "Basrah", 30.510, 47.780),
}
# Where the two clash sides meet, and how often (weekly chance a run of clashes starts).
HOTSPOTS = {"deir": 0.05, "conoco": 0.03, "bukamal": 0.04, "tanf": 0.02, "hasakeh": 0.02,
            "qaim": 0.03, "asad": 0.03, "baghdad": 0.03, "erbil": 0.02, "jurf": 0.02}  # fmt: skip


def us_forces(day: dt.date) -> str:
    """The US military's ACLED name on ``day`` (named for the administration's period)."""
    return "Military Forces of the United States " + (
        "(2017-2021)" if day < dt.date(2021, 1, 20) else "(2021-)"
    )


# Actors with their inter code (1 state, 2 rebel, 3 political militia, 4 identity militia,
# 6 protesters, 7 civilians, 8 external/other forces), by side and country.
US_BACKED = {
    "Syria": [("QSD: Syrian Democratic Forces", 2), ("Maghawir al Thawra", 2),
              ("QSD: Syrian Democratic Forces - Intelligence", 2),
              ("YPG: Peoples Protection Units", 2), ("Global Coalition Against Daesh", 8)],
    "Iraq": [("Global Coalition Against Daesh", 8),
             ("Military Forces of the United Kingdom (2010-)", 8),
             ("Military Forces of France (2017-)", 8)],
}  # fmt: skip
IRAN_ALIGNED = {
    "Syria": [("Military Forces of Syria (2000-2024)", 1), ("QDW: National Defense Forces", 3),
              ("Military Forces of Syria (2000-2024) Syrian Arab Air Force", 1),
              ("Police Forces of Syria (2000-2024)", 1), ("Militia (Pro-Government)", 3),
              ("Militia (Pro-Iran)", 3), ("Kataib Hezbollah", 3), ("Hezbollah", 8),
              ("Liwa Fatemiyoun", 3), ("Harakat Hezbollah al Nujaba", 3),
              ("Military Forces of Iran (1989-) Islamic Revolutionary Guard Corps", 8)],
    "Iraq": [("Kataib Hezbollah", 3), ("PMF: Popular Mobilization Forces", 3),
             ("Military Forces of Iraq (2014-) Popular Mobilization Forces", 1),
             ("Asaib Ahl al Haq", 3), ("Kataib Sayyid al Shuhada", 3),
             ("Islamic Resistance in Iraq", 3), ("Harakat Hezbollah al Nujaba", 3),
             ("Militia (Pro-Iran)", 3), ("Military Forces of Iran (1989-)", 8)],
}  # fmt: skip
UNIDENTIFIED = {
    "Syria": "Unidentified Armed Group (Syria)",
    "Iraq": "Unidentified Armed Group (Iraq)",
}
CLASH_TYPES = [
    ("Battles", "Armed clash"),
    ("Explosions/Remote violence", "Air/drone strike"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
]
# Background: (places, actor1, inter1, actor2, inter2, event_type, sub_event_type, weekly rate)
BACKGROUND = [
    (["deir", "hasakeh", "raqqa"], "QSD: Syrian Democratic Forces", 2, "Islamic State (Syria)", 2,
     "Battles", "Armed clash", 0.35),
    (["palmyra", "deir"], "Military Forces of Syria (2000-2024)", 1, "Islamic State (Syria)", 2,
     "Battles", "Armed clash", 0.25),
    (["idleb", "aleppo"], "Military Forces of Syria (2000-2024)", 1, "HTS: Hayat Tahrir al Sham", 2,
     "Explosions/Remote violence", "Shelling/artillery/missile attack", 0.6),
    (["idleb"], "Military Forces of Russia (2000-)", 8, "Opposition Rebels (Syria)", 2,
     "Explosions/Remote violence", "Air/drone strike", 0.3),
    (["idleb"], "Allied Syrian and/or Russian Forces", 8, "Civilians (Syria)", 7,
     "Explosions/Remote violence", "Air/drone strike", 0.15),
    (["aleppo", "raqqa"], "Military Forces of Turkey (2016-)", 8,
     "QSD: Syrian Democratic Forces", 2,
     "Explosions/Remote violence", "Shelling/artillery/missile attack", 0.3),
    (["damascus", "deir"], "Military Forces of Israel (2022-)", 8, "Militia (Pro-Iran)", 3,
     "Explosions/Remote violence", "Air/drone strike", 0.08),
    (["daraa"], "Unidentified Armed Group (Syria)", 3, "Civilians (Syria)", 7,
     "Violence against civilians", "Attack", 0.4),
    (["mosul", "tikrit", "diyala", "kirkuk"], "Military Forces of Iraq (2014-)", 1,
     "Islamic State (Iraq)", 2, "Battles", "Armed clash", 0.5),
    (["mosul", "tikrit"], "Global Coalition Against Daesh", 8, "Islamic State (Iraq)", 2,
     "Explosions/Remote violence", "Air/drone strike", 0.2),
    (["basra", "baghdad"], "Protesters (Iraq)", 6, "", 0, "Protests", "Peaceful protest", 0.5),
    (["baghdad"], "Police Forces of Iraq (2014-)", 1, "Protesters (Iraq)", 6,
     "Protests", "Protest with intervention", 0.1),
    (["deir", "bukamal"], "Militia (Pro-Iran)", 3, "", 0,
     "Strategic developments", "Headquarters or base established", 0.05),
]  # fmt: skip


def _weeks() -> list[dt.date]:
    n = (END - START).days // 7 + 1
    return [START + dt.timedelta(weeks=i) for i in range(n)]


def _row(rng: np.random.Generator, day: dt.date, place: str, actors: tuple, kind: tuple) -> dict:
    """One event at ``place`` on a day of the week starting ``day``."""
    (a1, s1, i1), (a2, s2, i2) = actors
    country, admin1, location, lat, lon = PLACES[place]
    day = day + dt.timedelta(days=int(rng.integers(0, 7)))
    low, high = sorted((i1, i2)) if i2 else (i1, 0)
    violent = kind[0] not in ("Protests", "Strategic developments")
    return {
        "event_date": day.isoformat(),
        "year": day.year,
        "time_precision": int(rng.choice([1, 1, 1, 2])),
        "disorder_type": "Political violence" if violent else (
            "Demonstrations" if kind[0] == "Protests" else "Strategic developments"),
        "event_type": kind[0],
        "sub_event_type": kind[1],
        "actor1": a1, "assoc_actor_1": s1, "inter1": i1,
        "actor2": a2, "assoc_actor_2": s2, "inter2": i2 or "",
        "interaction": f"{low}{high}",
        "civilian_targeting": "Civilian targeting" if i2 == 7 else "",
        "iso": ISO[country], "region": "Middle East", "country": country, "admin1": admin1,
        "admin2": "", "admin3": "", "location": location,
        "latitude": f"{lat + rng.normal(0, 0.02):.4f}",
        "longitude": f"{lon + rng.normal(0, 0.02):.4f}",
        "geo_precision": int(rng.choice([1, 1, 2, 3])), "source": "Synthetic",
        "source_scale": "National", "notes": f"Synthetic {kind[1].lower()} near {location}.",
        "fatalities": int(rng.poisson(1.5)) if violent else 0, "tags": "",
        "timestamp": 1700000000 + int(rng.integers(0, 10**7)),
    }  # fmt: skip


def _pick(rng: np.random.Generator, options: list) -> object:
    return options[rng.integers(0, len(options))]


def _clash(rng: np.random.Generator, day: dt.date, place: str) -> tuple[dict, bool]:
    """A clash between the two sides: named, via an associate, or by an unknown perpetrator.

    The last kind (an unidentified group, no associate) is not a clash between the sides in
    truth: nobody can tell who fired.
    """
    country = PLACES[place][0]
    us = (us_forces(day), 8) if rng.random() < 0.7 else _pick(rng, US_BACKED[country])
    iran = _pick(rng, IRAN_ALIGNED[country])
    us_assoc = "QSD: Syrian Democratic Forces" if country == "Syria" and rng.random() < 0.2 else ""
    iran_assoc = "Militia (Pro-Iran); Hezbollah" if rng.random() < 0.1 else ""
    how = rng.choice(["named", "via associate", "unknown"], p=[0.8, 0.12, 0.08])
    if how != "named":  # the perpetrator is an unidentified group
        iran_assoc = iran[0] if how == "via associate" else ""
        iran = (UNIDENTIFIED[country], 3)
    actors = [(us[0], us_assoc, us[1]), (iran[0], iran_assoc, iran[1])]
    if rng.random() < 0.5:
        actors.reverse()
    row = _row(rng, day, place, tuple(actors), _pick(rng, CLASH_TYPES))
    return row, how != "unknown"


def _post_assad(rng: np.random.Generator, day: dt.date) -> dict:
    """After 8 December 2024 the Syrian army is a new government's: not the Iran-aligned side."""
    actors = (("Military Forces of Syria (2024-)", "", 1), ("QSD: Syrian Democratic Forces", "", 2))
    return _row(rng, day, "aleppo", actors, ("Battles", "Armed clash"))


def generate(seed: int = 13) -> tuple[pd.DataFrame, pd.Series]:
    """The export's rows (ACLED's columns, in order) and, per row, whether it is a clash
    between the US-backed and the Iran-aligned side in truth."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    active = dict.fromkeys(HOTSPOTS, 0)  # weeks left in a run of clashes
    for day in _weeks():
        surge = 3.0 if day.year in (2019, 2020, 2023, 2024) else 1.0
        for place, rate in HOTSPOTS.items():
            if active[place] == 0 and rng.random() < rate * surge:
                active[place] = int(rng.integers(1, 6))
            if active[place] > 0:
                active[place] -= 1
                for _ in range(int(rng.integers(1, 4))):
                    row, is_clash = _clash(rng, day, place)
                    rows.append(row)
                    truth.append(is_clash)
        for places, a1, i1, a2, i2, etype, sub, rate in BACKGROUND:
            for _ in range(rng.poisson(rate)):
                place = places[rng.integers(0, len(places))]
                rows.append(_row(rng, day, place, ((a1, "", i1), (a2, "", i2)), (etype, sub)))
                truth.append(False)
        if day >= dt.date(2024, 12, 9):
            rows.append(_post_assad(rng, day))
            truth.append(False)
    frame = pd.DataFrame(rows)
    prefix = frame["country"].map({"Syria": "SYR", "Iraq": "IRQ"})
    frame.insert(0, "event_id_cnty", prefix + (10000 + np.arange(len(frame))).astype(str))
    return frame[COLUMNS], pd.Series(truth, index=frame["event_id_cnty"], name="us_vs_iran")


def write(path: Path, seed: int = 13) -> pd.Series:
    """Write the export to ``path`` (as ACLED's CSV export) and return the truth per event id."""
    frame, truth = generate(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return truth


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "acled_synthetic.csv")
    truth = write(out)
    print(f"{out}: {len(truth)} rows, {int(truth.sum())} clashes between the two sides")

"""``clashcast actors`` on a 25,000-row ACLED-shaped export: wall time as a user sees it.

Writes a synthetic export (ACLED's 31 columns in their order; ACLED's naming conventions; no
ACLED data) into a temporary directory: a few hundred named actors with most of the events
(state forces with their period, ``QSD:``/``QDW:`` prefixed groups, ``Militia (Pro-…)``), and
a long tail of local groups, tribes and unidentified actors, about 2,000 distinct names in
all, with associated actors (``;``-separated) in about a third of the rows. Then runs
``clashcast actors FILE --format acled --params params/examples/acled_us_iran.yaml`` (all
actors, and ``--unmatched``) in a child process, so the time includes the interpreter start and
the imports. Prints the median of the repeats as a Markdown table; asserts nothing. Target
(issue 13): under 5 s.

Usage: ``python benchmarks/bench_actors.py [--rows 25000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from model.data.sources.acled import COLUMNS  # noqa: E402

PARAMS = ROOT / "params/examples/acled_us_iran.yaml"
CORE = [
    "Military Forces of Syria (2000-2024)",
    "Military Forces of Syria (2000-2024) Syrian Arab Air Force",
    "Military Forces of the United States (2017-2021)",
    "Military Forces of the United States (2021-)",
    "QSD: Syrian Democratic Forces",
    "QDW: National Defense Forces",
    "Militia (Pro-Government)",
    "Militia (Pro-Iran)",
    "Kataib Hezbollah",
    "Hezbollah",
    "Military Forces of Iran (1989-) Islamic Revolutionary Guard Corps",
    "PMF: Popular Mobilization Forces",
    "Islamic State (Syria)",
    "Islamic State (Iraq)",
    "HTS: Hayat Tahrir al Sham",
    "Military Forces of Turkey (2016-)",
    "Military Forces of Russia (2000-)",
    "Military Forces of Iraq (2014-)",
    "Unidentified Armed Group (Syria)",
    "Unidentified Armed Group (Iraq)",
    "Civilians (Syria)",
    "Civilians (Iraq)",
    "Protesters (Iraq)",
]
KINDS = [
    ("{} Tribal Militia (Syria)", 4),
    ("{} Clan Militia (Iraq)", 4),
    ("Militia (Pro-Government) - {} Brigade", 3),
    ("QSD: Syrian Democratic Forces - {} Military Council", 2),
    ("Opposition Rebels (Syria) - {} Front", 2),
    ("Liwa {}", 3),
]
EVENT_TYPES = [
    ("Battles", "Armed clash"),
    ("Explosions/Remote violence", "Air/drone strike"),
    ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    ("Violence against civilians", "Attack"),
    ("Protests", "Peaceful protest"),
    ("Strategic developments", "Headquarters or base established"),
]


def actor_names(rng: np.random.Generator, n_tail: int) -> list[str]:
    """The core actors, then ``n_tail`` local groups (the long tail of a real export)."""
    syllables = ["al", "Abu", "Bani", "Shaitat", "Bakir", "Jabour", "Uqaydat", "Hamdan", "Tayy"]
    tail = set()
    while len(tail) < n_tail:
        name = " ".join(rng.choice(syllables, 2)) + f" {rng.integers(1, 99)}"
        tail.add(KINDS[rng.integers(0, len(KINDS))][0].format(name))
    return CORE + sorted(tail)


def _row(rng: np.random.Generator, i: int, actors: list[str]) -> dict[str, str]:
    """One export row: two actors, and associates for about a third of the rows."""
    a1, a2, s1, s2, s3 = actors
    etype, sub = EVENT_TYPES[rng.integers(0, len(EVENT_TYPES))]
    day = str(np.datetime64("2017-01-01") + rng.integers(0, 8 * 365))
    syria = i % 5 < 3
    country, iso, admin1 = ("Syria", "760", "Deir ez Zor") if syria else ("Iraq", "368", "Anbar")
    return dict.fromkeys(COLUMNS, "") | {
        "event_id_cnty": f"{country[:3].upper()}{100000 + i}", "event_date": day,
        "year": day[:4], "time_precision": "1", "disorder_type": "Political violence",
        "event_type": etype, "sub_event_type": sub,
        "actor1": a1, "inter1": "3", "actor2": a2, "inter2": "1", "interaction": "13",
        "assoc_actor_1": "; ".join([s1, s2][: rng.integers(1, 3)]) if rng.random() < 0.3 else "",
        "assoc_actor_2": s3 if rng.random() < 0.1 else "",
        "iso": iso, "region": "Middle East", "country": country, "admin1": admin1,
        "location": "Synthetic", "latitude": "35.0", "longitude": "40.5", "geo_precision": "1",
        "source": "Synthetic", "source_scale": "National", "notes": "Synthetic row.",
        "fatalities": str(rng.poisson(1)), "timestamp": "1700000000",
    }  # fmt: skip


def write_export(path: Path, rows: int, seed: int = 25) -> int:
    """Write ``rows`` ACLED-shaped rows; return the number of distinct actor names used."""
    rng = np.random.default_rng(seed)
    names = actor_names(rng, 2000)
    weights = 1.0 / np.arange(1, len(names) + 1) ** 0.9  # a few actors hold most events
    pick = rng.choice(len(names), size=(rows, 5), p=weights / weights.sum())
    used: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for i in range(rows):
            rec = _row(rng, i, [names[j] for j in pick[i]])
            out.writerow([rec[c] for c in COLUMNS])
            for c in ("actor1", "actor2", "assoc_actor_1", "assoc_actor_2"):
                used.update(n for n in rec[c].split("; ") if n)
    return len(used)


def run_actors(path: Path, *extra: str) -> tuple[float, int, str]:
    """``clashcast actors`` in a child process: (wall s, lines printed, first line)."""
    cmd = [sys.executable, "-m", "model.cli", "actors", str(path), "--format", "acled"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "--params", str(PARAMS), *extra], cwd=ROOT, capture_output=True, text=True
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"clashcast actors failed ({proc.returncode}): {proc.stderr[-1500:]}")
    lines = proc.stdout.splitlines()
    return took, len(lines), lines[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_actors_") as tmp:
        path = Path(tmp) / "acled_syria_iraq.csv"
        t0 = time.perf_counter()
        distinct = write_export(path, args.rows)
        written = time.perf_counter() - t0
        runs = {
            label: [run_actors(path, *extra) for _ in range(args.repeat)]
            for label, extra in (("all actors", ()), ("--unmatched", ("--unmatched",)))
        }
        size = path.stat().st_size
    print(
        f"`clashcast actors` on a synthetic ACLED export: {args.rows:,} rows, {distinct:,} "
        f"distinct actor names, {size / 2**20:.1f} MiB (written in {written:.1f} s); params "
        f"{PARAMS.relative_to(ROOT)}; median of {args.repeat}, each in its own process "
        "(interpreter start and imports included)"
    )
    print()
    print("| listing | wall time (s) | lines printed |")
    print("|---|---:|---:|")
    worst = 0.0
    for label, got in runs.items():
        wall = statistics.median(r[0] for r in got)
        worst = max(worst, wall)
        print(f"| {label} | {wall:.2f} | {got[0][1]:,} |")
    print()
    print(f"First line: {runs['all actors'][0][2]}")
    verdict = "met" if worst < 5 else "NOT met"
    print(f"Target < 5 s on {args.rows:,} rows: {verdict} ({worst:.2f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

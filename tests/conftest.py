"""Shared test set-up: compile caches outside the repo, a headless matplotlib."""

import os
from pathlib import Path

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache/clashcast/numba"))
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={Path.home() / '.cache/clashcast/pytensor'}")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

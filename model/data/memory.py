"""The memory of the model's level offset: the candidates the dev window chooses among.

The model's forecast starts from a region's clash level (``clash_level_hl{h}``, the offset): the
share of recent periods with a clash (half-life ``h``), shrunk by ``prior`` pseudo-periods toward
the region's own long-run share (half-life ``long_half_life``). How long that memory should be
depends on the dyad: a common one forgets within weeks, a rare one (a few clash weeks a year)
needs years and more pooling. ``memory`` in params declares a grid of such settings; the panel
stage writes one offset column per candidate (:func:`candidate_columns`), the backtest scores
them on the dev window and the fit uses the one it chose (:mod:`model.backtesting.memory`).

A candidate is named by the feature grammar (``clash_level_hl{h}_p{k}_l{L}``), so every stage
that reads an offset by name (forecast, scenarios, the report's level breakdown) reads a
candidate's settings from its name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.config import MemoryParams, Params
from model.data import feature_names as fn
from model.data.features import level_logit
from model.errors import StageError
from model.paths import MEMORY

#: The ``memory`` keys the panel's candidate columns depend on (the panel stage's params).
MEMORY_GRID = {"auto", "level_half_lives", "level_priors", "long_half_lives"}


@dataclass(frozen=True, order=True)
class LevelMemory:
    """One memory of the level: recent half-life, pooling, long-run half-life (periods)."""

    half_life: float
    prior: float
    long_half_life: float

    @property
    def name(self) -> str:
        """The candidate's panel variable, ``clash_level_hl{h}_p{k}_l{L}``."""
        return fn.level(self.half_life, self.prior, self.long_half_life)

    def logit(self, occurred: np.ndarray) -> np.ndarray:
        """The level's log-odds (rows × periods) from a 0/1 history (causal)."""
        return level_logit(occurred, self.half_life, self.long_half_life, self.prior)

    def to_json(self) -> dict[str, float]:
        return {
            "level_half_life": self.half_life,
            "level_prior": self.prior,
            "level_long_half_life": self.long_half_life,
        }

    def describe(self, period: str = "week") -> str:
        """In words: "half-life 8 weeks, pooled by 2 pseudo-weeks toward a 52-week share"."""
        return (
            f"half-life {self.half_life:g} {period}s, pooled by {self.prior:g} pseudo-{period}s "
            f"toward a {self.long_half_life:g}-{period} share"
        )


def candidates(memory: MemoryParams) -> list[LevelMemory]:
    """The grid's candidates, sorted (half-life, then prior, then long-run half-life)."""
    grid = itertools.product(memory.level_half_lives, memory.level_priors, memory.long_half_lives)
    return sorted({LevelMemory(float(h), float(k), float(L)) for h, k, L in grid})


def of_offset(offset: str | None, prior: float, long_half_life: float) -> LevelMemory | None:
    """The memory an offset name stands for (None when it is not a level): a candidate's from
    its name, ``clash_level_hl{h}``'s with the panel's ``prior`` and ``long_half_life``."""
    if offset is None:
        return None
    f = fn.parse(offset)
    if f.family != "level" or f.half_life is None:
        return None
    if f.prior is None or f.long_half_life is None:
        return LevelMemory(f.half_life, float(prior), float(long_half_life))
    return LevelMemory(f.half_life, f.prior, f.long_half_life)


def candidate_columns(clash_any: np.ndarray, memory: MemoryParams) -> dict[str, np.ndarray]:
    """One offset column (regions × periods, log-odds) per candidate of the grid; none when
    ``memory.auto`` is off."""
    if not memory.auto:
        return {}
    occurred = np.asarray(clash_any) > 0
    return {c.name: c.logit(occurred) for c in candidates(memory)}


def chosen_offset(params: Params, root: Path | str) -> str | None:
    """The offset the final fit uses: ``model.offset``, or with ``memory.auto`` the one the
    backtest chose on the dev window (:data:`model.paths.MEMORY`)."""
    offset = params.model.offset
    if not params.memory.auto or offset is None:
        return offset
    path = Path(root) / MEMORY
    if not path.exists():
        raise StageError(
            f"{path}: missing. memory.auto chooses the model's memory on the backtest's dev "
            "window, so the backtest stage runs before the fit (`dvc repro` orders them); "
            "set memory.auto: false to fit model.offset as it is"
        )
    from model.readers import read_json

    return str(read_json(root, "memory")["offset"])


def effective_params(params: Params, root: Path | str) -> Params:
    """``params`` with ``model.offset`` as the fit uses it (:func:`chosen_offset`)."""
    offset = chosen_offset(params, root)
    if offset == params.model.offset:
        return params
    model = params.model.model_copy(update={"offset": offset})
    return params.model_copy(update={"model": model})

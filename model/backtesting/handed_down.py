"""The governorate's forecast handed down to its cells: the reference that shows what a cell run's
resolution buys (issue 21, item 6).

A cell run's panel holds each governorate's own outcome (``rollup_clash_any``: a clash in any of
its cells) and each cell's share of area in each governorate (``rollup_weight``). From the
governorate's EWMA of that outcome at each origin (:func:`model.backtesting.baselines.ewma` and
:func:`~model.backtesting.baselines.within_ewma` on the governorates, the backtest's own EWMA
half-life), two forecasts of each cell:

- ``governorate``: the governorate's probability given whole to each cell whose majority it holds
  (what an analyst reading a governorate forecast assumes of any place in it);
- ``split``: the same probability spread over the governorate's area as a constant hazard, so a
  cell gets ``1 − exp(−Σ_g w_gc · λ_g)`` with ``λ_g = −log(1 − p_g) / Σ_c w_gc`` (a cell a border
  splits takes its share from each side): independent cells with these probabilities roll up to
  about the governorate's own.

Both use only what was known at the origin (the governorates' outcomes up to it). The rows carry
the model's forecast beside them, for :func:`model.backtesting.evaluation.handed_down_scores`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from model.backtesting.baselines import Rates, ewma, known_at, within_ewma
from model.inference.rollup import rollup_panel


def hand_down(p_gov: np.ndarray, weight: np.ndarray, majority: np.ndarray) -> dict[str, np.ndarray]:
    """Each cell's forecast from its governorates' probabilities ``p_gov`` (governorate,).

    ``weight`` is ``(governorate, cell)``, each cell's share of area in each governorate;
    ``majority`` the index of each cell's majority governorate. Returns ``governorate`` and
    ``split`` forecasts, ``(cell,)``.
    """
    p = np.clip(np.asarray(p_gov, dtype=float), 0.0, 1.0 - 1e-12)
    area = weight.sum(axis=1)
    hazard = -np.log1p(-p) / np.where(area > 0, area, 1.0)
    return {"governorate": p[majority], "split": -np.expm1(-(weight.T @ hazard))}


def _cells_of(panel: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The ``(governorate, cell)`` weights and each cell's majority governorate's index, in the
    order of the panel's ``rollup`` and ``region``."""
    weight = panel["rollup_weight"].transpose("rollup", "region").values.astype(float)
    majority = pd.Index(panel["rollup"].values).get_indexer(panel["governorate"].values)
    return weight, majority


def handed_down_rows(
    panel: xr.Dataset, steps: pd.DataFrame, within: pd.DataFrame, rates: Rates
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest's cell rows (per step, within H) with ``governorate`` and ``split`` beside
    ``model``: the governorate's EWMA at each row's origin handed down to the cell."""
    horizon = int(steps["horizon"].max())
    govs = rollup_panel(panel)
    weight, majority = _cells_of(panel)
    cells = pd.Index(panel["region"].values)
    weekly, window = [], []
    for origin in sorted(steps["origin"].unique()):
        known = known_at(govs, origin)
        for out, p in (
            (weekly, ewma(known, origin, horizon, rates).isel(horizon=0).values),
            (window, within_ewma(known, origin, horizon, rates).values),
        ):
            frame = pd.DataFrame(hand_down(p, weight, majority), index=cells)
            out.append(frame.rename_axis("region").reset_index().assign(origin=origin))
    keys = ["origin", "region"]
    on_steps = steps[[*keys, "horizon", "y", "model"]].merge(
        pd.concat(weekly, ignore_index=True), on=keys, how="left", validate="many_to_one"
    )
    on_within = within[[*keys, "y", "model"]].merge(
        pd.concat(window, ignore_index=True), on=keys, how="left", validate="one_to_one"
    )
    return on_steps, on_within

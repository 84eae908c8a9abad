"""Proper scores, discrimination, calibration and skill for binary forecasts, in plain NumPy.

Every function takes forecast probabilities ``p`` and outcomes ``y`` (0/1) as 1-d arrays of
equal length. Per-row scores (:func:`brier_score`, :func:`log_score`) are losses (lower is
better) so that they can be averaged over any grouping; the aggregate metrics work on the
pooled rows. Skill is ``1 - score_model / score_baseline``: positive when the model beats the
baseline, 1 for a perfect model, unbounded below.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from model.backtesting.catalogue import PER_STEP_SCORES, SCORE_NAMES

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

LOG_EPS = 1e-6


def _check(p: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(p, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError(f"p and y differ in length: {p.size} vs {y.size}")
    if p.size == 0:
        raise ValueError("no rows to score")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("forecast probabilities must be finite and in [0, 1]")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("outcomes must be 0 or 1")
    return p, y


def brier_score(p: ArrayLike, y: ArrayLike) -> FloatArray:
    """Brier score per row, ``(p - y)^2``."""
    p, y = _check(p, y)
    return (p - y) ** 2


def log_score(p: ArrayLike, y: ArrayLike, eps: float = LOG_EPS) -> FloatArray:
    """Logarithmic score per row as a positive loss, ``-ln p(y)``.

    Probabilities are clipped to ``[eps, 1 - eps]`` so that one confident miss costs at most
    ``-ln(eps)`` (13.8 nats at the default) instead of infinity.
    """
    p, y = _check(p, y)
    q = np.clip(p, eps, 1.0 - eps)
    return -(y * np.log(q) + (1.0 - y) * np.log1p(-q))


#: The per-row losses of the scores with a skill (:data:`model.backtesting.catalogue.SKILL_SCORES`).
LOSSES = {"brier": brier_score, "log_score": log_score}


def _average_ranks(x: FloatArray) -> FloatArray:
    """Ranks 1..n of ``x`` with ties given the mean of the ranks they span."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)  # rank of the last member of each tie group
    mean_rank = upper - (counts - 1) / 2.0
    return mean_rank[inverse]


def auc_roc(p: ArrayLike, y: ArrayLike) -> float:
    """Area under the ROC curve by the Mann–Whitney statistic (ties count one half).

    NaN when ``y`` holds a single class.
    """
    p, y = _check(p, y)
    n_pos = float(y.sum())
    n_neg = float(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(p)
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auc_pr(p: ArrayLike, y: ArrayLike) -> float:
    """Area under the precision–recall curve as average precision.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct thresholds in decreasing order, rows
    with tied forecasts entering together (the step-wise definition, no interpolation). Its
    no-skill value is the prevalence. NaN when there is no positive.
    """
    p, y = _check(p, y)
    n_pos = y.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1.0 - y_sorted)
    last_of_group = np.r_[np.flatnonzero(np.diff(p_sorted)), p_sorted.size - 1]
    tp, fp = tp[last_of_group], fp[last_of_group]
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


#: How the calibration bins are drawn (``backtest.calibration_binning``): ``quantile``, edges
#: at quantiles of the forecasts, so that each bin holds about as many forecasts, also when
#: almost all of them are a few percent (a rare dyad); ``events``, edges at quantiles of the
#: forecasts weighted by themselves, so that each bin holds about as many expected clashes (on
#: cells, where most forecasts are near 0 and the clashes fall in the few percent above, the
#: bins resolve 1-10% where quantile bins spend most of theirs below 0.1%); ``uniform``, equal
#: widths on [0, 1].
BINNINGS = ("quantile", "events", "uniform")


def bin_edges(p: ArrayLike, bins: int, binning: str = "quantile") -> FloatArray:
    """The ``bins + 1`` edges of the calibration bins of forecasts ``p``.

    ``quantile``: the forecasts' percentiles at ``0, 100 / bins, …, 100`` (scikit-learn's
    ``calibration_curve(strategy="quantile")``); edges repeat where many forecasts are equal,
    and the bins between repeated edges stay empty. ``events``: the smallest and largest
    forecast and, between them, the forecast at which the running sum of the sorted forecasts
    first reaches ``1 / bins, 2 / bins, …`` of their total (all zero: every edge 0, one bin).
    ``uniform``: ``0, 1 / bins, …, 1``.
    """
    if binning == "uniform":
        return np.linspace(0.0, 1.0, bins + 1)
    if binning == "quantile":
        return np.percentile(np.asarray(p, dtype=float), np.linspace(0, 1, bins + 1) * 100)
    if binning == "events":
        q = np.sort(np.asarray(p, dtype=float))
        mass = np.cumsum(q)
        if mass[-1] <= 0.0:
            return np.full(bins + 1, q[0])
        inner = q[np.searchsorted(mass, mass[-1] * np.arange(1, bins) / bins, side="left")]
        return np.r_[q[0], inner, q[-1]]
    raise ValueError(f"unknown binning {binning!r}: one of {BINNINGS}")


def bin_index(p: ArrayLike, bins: int, binning: str = "quantile") -> npt.NDArray[np.int64]:
    """The calibration bin of each forecast, ``0 … bins - 1`` (:func:`bin_edges`).

    A function of the value alone, so equal forecasts share a bin (all equal: one bin). A
    quantile bin holds the forecasts above its lower edge up to its upper one, the first from
    the smallest; a uniform bin ``[lower, upper)``, 1.0 in the last.
    """
    p = np.asarray(p, dtype=float)
    if binning == "uniform":
        return np.minimum((p * bins).astype(np.int64), bins - 1)
    inner = bin_edges(p, bins, binning)[1:-1]
    return np.searchsorted(inner, p, side="left").astype(np.int64)


def reliability_curve(
    p: ArrayLike, y: ArrayLike, bins: int = 10, binning: str = "quantile"
) -> dict[str, np.ndarray]:
    """Mean forecast and observed frequency per calibration bin (:func:`bin_index`).

    Returns arrays of length ``bins``: ``bin`` (0-based), ``lower``, ``upper`` (bin edges),
    ``forecast_mean``, ``observed_rate`` (NaN in empty bins) and ``count``.
    """
    p, y = _check(p, y)
    k = bin_index(p, bins, binning)
    count = np.bincount(k, minlength=bins).astype(np.int64)
    sum_p = np.bincount(k, weights=p, minlength=bins)
    sum_y = np.bincount(k, weights=y, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        forecast_mean = np.where(count > 0, sum_p / count, np.nan)
        observed_rate = np.where(count > 0, sum_y / count, np.nan)
    edges = bin_edges(p, bins, binning)
    return {
        "bin": np.arange(bins),
        "lower": edges[:-1],
        "upper": edges[1:],
        "forecast_mean": forecast_mean,
        "observed_rate": observed_rate,
        "count": count,
    }


def reliability_table(
    rows: pd.DataFrame, bins: int = 10, forecaster: str = "model", binning: str = "quantile"
) -> pd.DataFrame:
    """One forecaster's reliability curve as a table (``y`` and the forecaster's column in
    ``rows``): ``bin, forecast_mean, observed_rate, count``, empty bins left out."""
    if rows.empty:
        return pd.DataFrame(columns=["bin", "forecast_mean", "observed_rate", "count"])
    curve = reliability_curve(rows[forecaster].to_numpy(), rows["y"].to_numpy(), bins, binning)
    df = pd.DataFrame({k: curve[k] for k in ("bin", "forecast_mean", "observed_rate", "count")})
    return df[df["count"] > 0].reset_index(drop=True)


def expected_calibration_error(
    p: ArrayLike, y: ArrayLike, bins: int = 10, binning: str = "quantile"
) -> float:
    """ECE: the row-weighted mean over the calibration bins of ``|mean forecast - observed
    rate|`` (:func:`bin_index`)."""
    curve = reliability_curve(p, y, bins, binning)
    n = curve["count"]
    gap = np.abs(curve["forecast_mean"] - curve["observed_rate"])
    return float(np.sum(np.where(n > 0, gap, 0.0) * n) / n.sum())


def murphy_decomposition(
    p: ArrayLike, y: ArrayLike, bins: int = 10, binning: str = "quantile"
) -> dict[str, float]:
    """Murphy's decomposition of the Brier score over the calibration bins (:func:`bin_index`).

    With ``n_k`` rows, mean forecast ``f_k`` and observed rate ``o_k`` in bin ``k`` and the
    overall rate ``o``:

    - ``reliability = sum_k n_k (f_k - o_k)^2 / N`` (lower is better),
    - ``resolution = sum_k n_k (o_k - o)^2 / N`` (higher is better),
    - ``uncertainty = o (1 - o)``.

    Murphy's identity ``BS = REL - RES + UNC`` is exact only when every forecast in a bin is
    the same value. Binning continuous forecasts leaves a within-bin term,
    ``within_bin = sum_i [(p_i - f_k)^2 - 2 (p_i - f_k)(y_i - o_k)] / N``, so that
    ``brier = reliability - resolution + uncertainty + within_bin`` holds to rounding; it is
    returned so that the identity can be checked and its size judged (small for narrow bins).
    """
    p, y = _check(p, y)
    n = p.size
    k = bin_index(p, bins, binning)
    curve = reliability_curve(p, y, bins, binning)
    count = curve["count"].astype(float)
    f_k = np.nan_to_num(curve["forecast_mean"])  # empty bins: 0, weighted by a count of 0
    o_k = np.nan_to_num(curve["observed_rate"])
    o = y.mean()
    dev_p = p - f_k[k]
    dev_y = y - o_k[k]
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "reliability": float(np.sum(count * (f_k - o_k) ** 2) / n),
        "resolution": float(np.sum(count * (o_k - o) ** 2) / n),
        "uncertainty": float(o * (1.0 - o)),
        "within_bin": float(np.sum(dev_p**2 - 2.0 * dev_p * dev_y) / n),
    }


def summarize(
    p: ArrayLike, y: ArrayLike, bins: int = 10, eps: float = LOG_EPS, binning: str = "quantile"
) -> dict[str, float]:
    """Every pooled score of :data:`model.backtesting.catalogue.SCORES` of one forecaster, in its
    order (the backtest's per-forecaster block); ECE and Murphy's terms on the same bins."""
    murphy = murphy_decomposition(p, y, bins, binning)
    values = {
        "brier": murphy["brier"],
        "log_score": float(np.mean(log_score(p, y, eps))),
        "auc_roc": auc_roc(p, y),
        "auc_pr": auc_pr(p, y),
        "ece": expected_calibration_error(p, y, bins, binning),
        "reliability": murphy["reliability"],
        "resolution": murphy["resolution"],
        "uncertainty": murphy["uncertainty"],
    }
    return {name: values[name] for name in SCORE_NAMES}


def step_scores(p: ArrayLike, y: ArrayLike) -> dict[str, float]:
    """The scores of :data:`model.backtesting.catalogue.PER_STEP_SCORES`, on the rows of one
    step."""
    values = {
        "brier": lambda: float(brier_score(p, y).mean()),
        "log_score": lambda: float(log_score(p, y).mean()),
        "auc_pr": lambda: auc_pr(p, y),
    }
    return {name: values[name]() for name in PER_STEP_SCORES}


def skill(score_model: float, score_baseline: float) -> float:
    """``1 - score_model / score_baseline`` for mean losses (Brier, log score)."""
    if score_baseline == 0:
        return float("nan")
    return float(1.0 - score_model / score_baseline)


def _per_group_sums(
    loss_model: ArrayLike, loss_baseline: ArrayLike, groups: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Sums of each loss and row counts per group, groups in sorted (time) order."""
    lm = np.asarray(loss_model, dtype=float).ravel()
    lb = np.asarray(loss_baseline, dtype=float).ravel()
    g = np.asarray(groups).ravel()
    if not (lm.shape == lb.shape == g.shape):
        raise ValueError("loss_model, loss_baseline and groups differ in length")
    if lm.size == 0:
        raise ValueError("no rows to score")
    _, gi = np.unique(g, return_inverse=True)
    n_groups = int(gi.max()) + 1
    sum_m = np.bincount(gi, weights=lm, minlength=n_groups)
    sum_b = np.bincount(gi, weights=lb, minlength=n_groups)
    count = np.bincount(gi, minlength=n_groups).astype(float)
    return sum_m, sum_b, count


def block_bootstrap_skill(
    loss_model: ArrayLike,
    loss_baseline: ArrayLike,
    groups: ArrayLike,
    *,
    block: int = 4,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int = 0,
) -> dict[str, float]:
    """Skill with a circular block bootstrap interval over ordered groups (forecast origins).

    Rows of one origin share weather, so they are not independent, and neighbouring origins
    overlap in their targets (steps 1..H). The bootstrap therefore resamples whole origins in
    runs of ``block`` consecutive ones, wrapping from the last origin to the first (Politis and
    Romano's circular blocks, so every origin is equally likely to be drawn):
    ``ceil(G / block)`` block starts are drawn uniformly from all ``G`` origins, their origins
    concatenated and cut to ``G``. Skill of a replicate is
    ``1 - sum(loss_model) / sum(loss_baseline)`` over its rows. Use ``block`` at least the
    horizon, so that the overlap of targets stays within blocks.

    Parameters
    ----------
    loss_model, loss_baseline
        Per-row losses of the model and the baseline on the same rows.
    groups
        The origin of each row; sorted order of the distinct values is time order.
    block
        Consecutive origins per block (clipped to the number of origins).
    n_boot
        Bootstrap replicates.
    level
        Central interval coverage (0.9 gives the 5th and 95th percentiles).
    seed
        Seed of the replicates, for a bit-reproducible interval.

    Returns
    -------
    dict
        ``mean`` (skill on all rows), ``ci_low``, ``ci_high``.
    """
    sum_m, sum_b, _ = _per_group_sums(loss_model, loss_baseline, groups)
    idx = circular_block_indices(sum_m.size, block, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = 1.0 - sum_m[idx].sum(axis=1) / sum_b[idx].sum(axis=1)
    return _interval(skill(sum_m.sum(), sum_b.sum()), reps, level)


def circular_block_indices(n_groups: int, block: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_groups) indices of Politis and Romano's circular block bootstrap: runs of
    ``block`` consecutive groups (clipped to ``n_groups``) from uniform starts, wrapping."""
    block = max(1, min(block, n_groups))
    n_blocks = -(-n_groups // block)
    starts = np.random.default_rng(seed).integers(0, n_groups, size=(n_boot, n_blocks))
    return ((starts[:, :, None] + np.arange(block)) % n_groups).reshape(n_boot, -1)[:, :n_groups]


def _interval(mean: float, reps: np.ndarray, level: float) -> dict[str, float]:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan")}
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return {"mean": mean, "ci_low": float(low), "ci_high": float(high)}


def skill_difference(
    loss_with: ArrayLike, loss_without: ArrayLike, loss_reference: ArrayLike, groups: ArrayLike,
    *, block: int = 4, n_boot: int = 1000, level: float = 0.9, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """Skill of one model minus skill of another against the same reference, with its interval.

    ``skill(with) − skill(without) = (Σ loss_without − Σ loss_with) / Σ loss_reference`` on the
    same rows: positive when the first model is the better. The interval resamples origins by
    the circular block bootstrap of :func:`block_bootstrap_skill` (the same ``seed`` draws the
    same resamples), each replicate pairing the two models and the reference on the same rows.
    """
    s_w, s_wo, _ = _per_group_sums(loss_with, loss_without, groups)
    s_ref, _, _ = _per_group_sums(loss_reference, loss_with, groups)
    idx = circular_block_indices(s_w.size, block, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = (s_wo[idx].sum(axis=1) - s_w[idx].sum(axis=1)) / s_ref[idx].sum(axis=1)
    mean = float((s_wo.sum() - s_w.sum()) / s_ref.sum()) if s_ref.sum() > 0 else float("nan")
    return _interval(mean, reps, level)


def newey_west_variance(d: ArrayLike, lag: int) -> float:
    """Long-run variance of a series by Newey and West's Bartlett-weighted autocovariances.

    ``gamma_0 + 2 * sum_{k=1}^{lag} (1 - k / (lag + 1)) * gamma_k``, with ``gamma_k`` the
    lag-``k`` autocovariance (divided by ``n``). Never negative (the Bartlett kernel keeps it so).
    """
    d = np.asarray(d, dtype=float).ravel()
    n = d.size
    e = d - d.mean()
    lrv = float(e @ e) / n
    for k in range(1, min(lag, n - 1) + 1):
        lrv += 2.0 * (1.0 - k / (lag + 1.0)) * float(e[k:] @ e[:-k]) / n
    return max(lrv, 0.0)


def diebold_mariano(
    loss_model: ArrayLike, loss_baseline: ArrayLike, groups: ArrayLike, *, horizon: int = 1
) -> dict[str, float]:
    """Diebold–Mariano test of equal expected loss, on per-origin mean loss differences.

    ``d_t`` is the model's mean loss minus the baseline's over the rows of origin ``t``. Its
    variance is Newey–West (HAC) with ``lag = max(horizon - 1, floor(4 (G / 100)^(2/9)))``:
    forecasts ``horizon`` steps ahead overlap in their targets up to ``horizon - 1`` origins
    apart, and conflict persists beyond that. The statistic gets Harvey, Leybourne and
    Newbold's small-sample correction and is referred to Student's t with ``G - 1`` degrees of
    freedom (two-sided). A negative statistic means the model's loss is lower.

    Returns
    -------
    dict
        ``statistic``, ``pvalue``, ``lag``, ``origins``; NaN statistic and p-value when the
        differences have no variance (identical forecasts) or there are fewer than 3 origins.
    """
    from scipy import stats

    sum_m, sum_b, count = _per_group_sums(loss_model, loss_baseline, groups)
    d = (sum_m - sum_b) / count
    n = d.size
    lag = max(horizon - 1, int(np.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))))
    lrv = newey_west_variance(d, lag) if n >= 3 else 0.0
    if lrv <= 0.0:
        return {"statistic": float("nan"), "pvalue": float("nan"), "lag": lag, "origins": n}
    dm = float(d.mean()) / np.sqrt(lrv / n)
    h = max(int(horizon), 1)
    correction = np.sqrt(max((n + 1.0 - 2.0 * h + h * (h - 1.0) / n) / n, 1e-12))
    stat = dm * correction
    pvalue = float(2.0 * stats.t.sf(abs(stat), df=n - 1))
    return {"statistic": float(stat), "pvalue": pvalue, "lag": lag, "origins": n}


def skill_with_uncertainty(
    loss_model: ArrayLike, loss_baseline: ArrayLike, groups: ArrayLike, *, horizon: int, **boot: Any
) -> dict[str, float]:
    """Skill with its circular block bootstrap interval and the Diebold–Mariano p-value.

    ``{mean, ci_low, ci_high, dm_pvalue}``: the skill on all rows, the bootstrap interval of
    :func:`block_bootstrap_skill` (``boot``: its ``block``, ``n_boot``, ``level``, ``seed``)
    and the two-sided p-value of :func:`diebold_mariano` at ``horizon``.
    """
    out = block_bootstrap_skill(loss_model, loss_baseline, groups, **boot)
    out["dm_pvalue"] = diebold_mariano(loss_model, loss_baseline, groups, horizon=horizon)["pvalue"]
    return out

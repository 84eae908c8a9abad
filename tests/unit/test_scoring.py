"""Metric functions against values computed by hand (the arithmetic is in the comments)."""

import math

import numpy as np
import pytest

from model.backtesting import scoring


def test_brier_per_row():
    # (0.1-0)^2, (0.8-1)^2, (0.5-1)^2
    got = scoring.brier_score([0.1, 0.8, 0.5], [0, 1, 1])
    np.testing.assert_allclose(got, [0.01, 0.04, 0.25])


def test_log_score_is_positive_natural_log_loss():
    # -ln(1-0.1), -ln(0.8), -ln(0.5)
    got = scoring.log_score([0.1, 0.8, 0.5], [0, 1, 1])
    np.testing.assert_allclose(got, [0.105360516, 0.223143551, 0.693147181], rtol=1e-8)


def test_log_score_clips_certain_misses():
    # p=0 for an event would be +inf; clipped at eps it costs -ln(eps)
    got = scoring.log_score([0.0, 1.0], [1, 0], eps=1e-6)
    np.testing.assert_allclose(got, [-math.log(1e-6)] * 2)


def test_auc_roc_no_ties():
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 0.35>0.1, 0.35<0.4, 0.8>both -> 3/4
    assert scoring.auc_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)


def test_auc_roc_ties_count_half():
    # positives {0.5, 0.9} vs negatives {0.5, 0.2}: tie 0.5 + 1 + 1 + 1 = 3.5 of 4 pairs
    assert scoring.auc_roc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == pytest.approx(0.875)


def test_auc_roc_one_class_is_nan():
    assert math.isnan(scoring.auc_roc([0.2, 0.3], [0, 0]))


def test_average_precision_no_ties():
    # ranked 0.8(+) 0.4(-) 0.35(+) 0.1(-): recall steps 0.5 at precision 1, 0.5 at 2/3
    # AP = 0.5*1 + 0.5*2/3 = 0.8333
    assert scoring.auc_pr([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(5 / 6)


def test_average_precision_ties_enter_together():
    # 0.9(+) then the tied pair {0.5+, 0.5-} as one threshold: P=2/3 at R=1; AP = 0.5 + 0.5*2/3
    assert scoring.auc_pr([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == pytest.approx(5 / 6)
    # all forecasts tied: one threshold, precision = prevalence
    assert scoring.auc_pr([0.3] * 4, [1, 0, 0, 0]) == pytest.approx(0.25)


@pytest.mark.parametrize("binning", ["quantile", "uniform"])
def test_reliability_curve_and_ece(binning):
    # bins of width 0.5, and here the quantile bins too (the median is 0.45):
    # {0.1, 0.3} mean 0.2 observed 1/2; {0.6, 0.9} mean 0.75 observed 1
    p, y = [0.1, 0.3, 0.6, 0.9], [0, 1, 1, 1]
    curve = scoring.reliability_curve(p, y, bins=2, binning=binning)
    np.testing.assert_allclose(curve["forecast_mean"], [0.2, 0.75])
    np.testing.assert_allclose(curve["observed_rate"], [0.5, 1.0])
    np.testing.assert_array_equal(curve["count"], [2, 2])
    # ECE = 2/4*|0.2-0.5| + 2/4*|0.75-1| = 0.15 + 0.125
    assert scoring.expected_calibration_error(p, y, 2, binning) == pytest.approx(0.275)


def test_uniform_bins_empty_ones_are_nan_and_one_is_last_bin():
    curve = scoring.reliability_curve([1.0, 0.95], [1, 1], bins=4, binning="uniform")
    assert curve["count"].tolist() == [0, 0, 0, 2]
    assert np.isnan(curve["forecast_mean"][0])


def test_quantile_bins_by_hand():
    # 8 forecasts, 4 bins: edges at the 0, 25, 50, 75, 100th percentiles (linear, at sorted
    # positions 0, 1.75, 3.5, 5.25, 7): 0.01, 0.0275, 0.035, 0.0525, 0.2; a bin takes
    # (lower, upper], the first from 0.01
    p = [0.01, 0.02, 0.03, 0.03, 0.04, 0.05, 0.06, 0.2]
    y = [0, 0, 0, 1, 0, 0, 1, 1]
    curve = scoring.reliability_curve(p, y, bins=4)
    np.testing.assert_allclose(curve["lower"], [0.01, 0.0275, 0.035, 0.0525])
    np.testing.assert_allclose(curve["upper"], [0.0275, 0.035, 0.0525, 0.2])
    np.testing.assert_array_equal(curve["count"], [2, 2, 2, 2])
    np.testing.assert_allclose(curve["forecast_mean"], [0.015, 0.03, 0.045, 0.13])
    np.testing.assert_allclose(curve["observed_rate"], [0.0, 0.5, 0.0, 1.0])
    # ECE = (2*0.015 + 2*0.47 + 2*0.045 + 2*0.87) / 8 = 2.8 / 8
    assert scoring.expected_calibration_error(p, y, bins=4) == pytest.approx(0.35)
    # equal-width bins (0.25 wide) put them all in the first
    assert scoring.reliability_curve(p, y, 4, "uniform")["count"].tolist() == [8, 0, 0, 0]


def test_quantile_bins_keep_equal_forecasts_together():
    # 0.02 is 6 of 10 forecasts: the edges at the 0, 20, 40, 60, 80, 100th percentiles are
    # 0.02, 0.02, 0.02, 0.024, 0.056, 0.4, so all six share the first bin, the next two stay
    # empty, and 0.03, 0.05 | 0.08, 0.4 fill the last two; all equal: one bin holds them all
    p = [0.02] * 6 + [0.03, 0.05, 0.08, 0.4]
    k = scoring.bin_index(p, 5)
    assert len(set(k[:6])) == 1 and k[6] != k[0]
    curve = scoring.reliability_curve(p, [0] * 9 + [1], bins=5)
    assert curve["count"].tolist() == [6, 0, 0, 2, 2]
    same = scoring.reliability_curve([0.3] * 7, [0, 1, 0, 0, 1, 0, 0], bins=10)
    assert curve["count"].sum() == 10 and same["count"].max() == 7
    assert scoring.expected_calibration_error([0.3] * 7, [0, 1, 0, 0, 1, 0, 0]) == (
        pytest.approx(abs(0.3 - 2 / 7))
    )


def test_events_bins_by_hand():
    # sorted forecasts 1/8 x4, 1/4 x2, 1/2: sum 3/2, so each of 3 bins should hold 1/2 of it.
    # The running sum first reaches 1/2 at the fourth 1/8 and 1 at the second 1/4: edges 1/8,
    # 1/8, 1/4, 1/2, and the bins hold {1/8 x4}, {1/4 x2}, {1/2}, each summing to 1/2
    p = [0.25, 0.125, 0.5, 0.125, 0.25, 0.125, 0.125]
    y = [0, 0, 1, 0, 1, 0, 1]
    curve = scoring.reliability_curve(p, y, bins=3, binning="events")
    np.testing.assert_allclose(curve["lower"], [0.125, 0.125, 0.25])
    np.testing.assert_allclose(curve["upper"], [0.125, 0.25, 0.5])
    np.testing.assert_array_equal(curve["count"], [4, 2, 1])
    np.testing.assert_allclose(curve["observed_rate"], [0.25, 0.5, 1.0])
    # ECE = (4*|1/8-1/4| + 2*|1/4-1/2| + 1*|1/2-1|) / 7 = 1.5 / 7
    assert scoring.expected_calibration_error(p, y, 3, "events") == pytest.approx(1.5 / 7)
    # all zero: one bin holds them all
    assert scoring.reliability_curve([0.0] * 5, [0] * 5, 4, "events")["count"].max() == 5


def test_events_bins_resolve_the_few_percent_where_a_cell_panels_clashes_fall():
    """Cells: nine forecasts in ten near zero, the clashes in the few cells at 1-40%. Quantile
    bins spend most edges below 0.1%; bins of equal expected clashes put their edges where the
    clashes are, each bin holding about a tenth of the forecasts' sum."""
    rng = np.random.default_rng(3)
    p = np.r_[rng.uniform(1e-5, 1e-3, 90_000), rng.beta(1.2, 12, 10_000)]
    quantile = scoring.bin_edges(p, 10, "quantile")
    events = scoring.bin_edges(p, 10, "events")
    assert (quantile[1:-1] < 1e-3).sum() >= 8
    assert (events[1:-1] > 0.01).all() and events[1] < 0.05  # 1-5% is resolved
    k = scoring.bin_index(p, 10, "events")
    mass = np.bincount(k, weights=p, minlength=10) / p.sum()
    assert mass.min() > 0.08 and mass.max() < 0.12


def test_unknown_binning_is_refused():
    with pytest.raises(ValueError, match="unknown binning"):
        scoring.expected_calibration_error([0.1, 0.2], [0, 1], binning="log")


def test_ece_of_a_panel_at_one_percent_is_computed_on_bins_that_hold_forecasts():
    """A rare dyad: 60 regions x 200 weeks at about 1% clashes, forecasts near each region's
    wandering rate. Equal-width bins put almost every forecast in the first (0-10%); quantile
    bins hold about a tenth each, none more than half."""
    rng = np.random.default_rng(7)
    logit = rng.normal(-5.2, 0.8, 60)[:, None] + np.cumsum(rng.normal(0, 0.1, (60, 200)), axis=1)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(p.shape) < p).astype(int)
    forecast = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.3, p.shape))))
    assert 0.005 < y.mean() < 0.02
    quantile = scoring.reliability_curve(forecast.ravel(), y.ravel(), bins=10)
    uniform = scoring.reliability_curve(forecast.ravel(), y.ravel(), 10, "uniform")
    assert uniform["count"][0] > 0.95 * p.size
    assert quantile["count"].max() <= p.size / 2
    assert (quantile["count"] > 0).sum() == 10 and quantile["count"].min() >= p.size / 11
    assert quantile["upper"][0] < 0.01  # the first bin resolves below 1%


def test_murphy_decomposition_by_hand():
    # same rows as above; o = 3/4
    # REL = (2*(0.2-0.5)^2 + 2*(0.75-1)^2)/4 = (0.18+0.125)/4 = 0.07625
    # RES = (2*(0.5-0.75)^2 + 2*(1-0.75)^2)/4 = 0.0625 ; UNC = 0.75*0.25 = 0.1875
    # BS  = (0.01 + 0.49 + 0.16 + 0.01)/4 = 0.1675
    # within-bin: bin0 dev_p=(-.1,.1) dev_y=(-.5,.5): 0.02 - 2*0.1 = -0.18;
    #             bin1 dev_p=(-.15,.15) dev_y=0: 0.045 -> (-0.18+0.045)/4 = -0.03375
    m = scoring.murphy_decomposition([0.1, 0.3, 0.6, 0.9], [0, 1, 1, 1], bins=2)
    assert m["reliability"] == pytest.approx(0.07625)
    assert m["resolution"] == pytest.approx(0.0625)
    assert m["uncertainty"] == pytest.approx(0.1875)
    assert m["brier"] == pytest.approx(0.1675)
    assert m["within_bin"] == pytest.approx(-0.03375)
    identity = m["reliability"] - m["resolution"] + m["uncertainty"] + m["within_bin"]
    assert identity == pytest.approx(m["brier"])


def test_murphy_identity_exact_when_forecasts_constant_in_bins():
    rng = np.random.default_rng(1)
    p = rng.choice([0.05, 0.35, 0.85], size=200)
    y = (rng.random(200) < p).astype(int)
    m = scoring.murphy_decomposition(p, y, bins=10)
    assert m["within_bin"] == pytest.approx(0.0, abs=1e-15)
    assert m["reliability"] - m["resolution"] + m["uncertainty"] == pytest.approx(m["brier"])


def test_summarize_keys():
    out = scoring.summarize([0.1, 0.3, 0.6, 0.9], [0, 1, 1, 1], bins=2)
    assert set(out) == {
        "brier", "log_score", "auc_roc", "auc_pr", "ece", "reliability", "resolution",
        "uncertainty",
    }  # fmt: skip


def test_skill():
    assert scoring.skill(0.1, 0.2) == pytest.approx(0.5)
    assert scoring.skill(0.3, 0.2) == pytest.approx(-0.5)


def test_block_bootstrap_mean_and_degenerate_interval():
    # 4 origins x 2 rows; totals model 0.1*8=0.8, baseline 0.2*8=1.6 -> skill 0.5 exactly,
    # and every resample has the same ratio, so the interval collapses onto it.
    groups = np.repeat([1, 2, 3, 4], 2)
    out = scoring.block_bootstrap_skill(np.full(8, 0.1), np.full(8, 0.2), groups, block=2)
    assert out == pytest.approx({"mean": 0.5, "ci_low": 0.5, "ci_high": 0.5})


def test_block_bootstrap_is_seeded_and_brackets_the_mean():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(26), 18)
    lb = rng.random(groups.size) * 0.2
    lm = lb * rng.uniform(0.6, 1.0, groups.size)
    a = scoring.block_bootstrap_skill(lm, lb, groups, block=4, n_boot=500, seed=3)
    b = scoring.block_bootstrap_skill(lm, lb, groups, block=4, n_boot=500, seed=3)
    assert a == b
    assert a["ci_low"] < a["mean"] < a["ci_high"]


def test_circular_blocks_reach_the_last_origins():
    # 6 origins, the model loses only at the last one (loss 1 there, 0 elsewhere; baseline 1):
    # a replicate's skill is 1 - (times the last origin was drawn) / 6. Moving blocks of 3 that
    # may not wrap start at 0..3, so 2 blocks miss the last origin with probability (3/4)^2;
    # circular blocks start anywhere and miss it with probability (3/6)^2 = 1/4.
    lm = np.array([0, 0, 0, 0, 0, 1.0])
    lb = np.ones(6)
    out = scoring.block_bootstrap_skill(lm, lb, np.arange(6), block=3, n_boot=4000, level=0.2)
    # the 60% quantile: below 1 when P(skill = 1) = 1/4 (circular), 1 when it is 9/16
    assert out["ci_high"] < 1.0
    assert out["mean"] == pytest.approx(1 - 1 / 6)


def test_newey_west_by_hand():
    # d = [1, 2, 3, 4]: e = [-1.5, -0.5, 0.5, 1.5]; gamma_0 = 5/4; gamma_1 = (0.75 - 0.25 + 0.75)/4
    d = np.array([1.0, 2.0, 3.0, 4.0])
    g0, g1 = 5.0 / 4.0, 1.25 / 4.0
    assert scoring.newey_west_variance(d, 0) == pytest.approx(g0)
    assert scoring.newey_west_variance(d, 1) == pytest.approx(g0 + 2 * 0.5 * g1)


def test_diebold_mariano_by_hand():
    # 6 origins of one row each; d = model - baseline = [-0.1, -0.3, -0.2, -0.2, -0.1, -0.3]
    lb = np.full(6, 0.5)
    d = np.array([-0.1, -0.3, -0.2, -0.2, -0.1, -0.3])
    out = scoring.diebold_mariano(lb + d, lb, np.arange(6), horizon=2)
    e = d - d.mean()
    lag = max(2 - 1, int(np.floor(4 * (6 / 100) ** (2 / 9))))
    lrv = e @ e / 6 + sum(2 * (1 - k / (lag + 1)) * (e[k:] @ e[:-k]) / 6 for k in range(1, lag + 1))
    stat = d.mean() / np.sqrt(lrv / 6) * np.sqrt((6 + 1 - 2 * 2 + 2 * 1 / 6) / 6)
    from scipy import stats

    assert out["lag"] == lag and out["origins"] == 6
    assert out["statistic"] == pytest.approx(stat)
    assert out["pvalue"] == pytest.approx(2 * stats.t.sf(abs(stat), df=5))
    assert out["statistic"] < 0 and out["pvalue"] < 0.05  # the model is better every time


def test_diebold_mariano_averages_rows_within_an_origin_and_handles_ties():
    groups = np.repeat(np.arange(30), 3)
    rng = np.random.default_rng(1)
    lb = rng.random(90)
    same = scoring.diebold_mariano(lb, lb, groups, horizon=4)
    assert np.isnan(same["statistic"]) and np.isnan(same["pvalue"])
    noise = scoring.diebold_mariano(lb + rng.normal(0, 0.05, 90), lb, groups, horizon=4)
    assert 0 <= noise["pvalue"] <= 1 and noise["lag"] == 3
    out = scoring.skill_with_uncertainty(lb * 0.8, lb, groups, horizon=4, block=4, n_boot=100)
    assert set(out) == {"mean", "ci_low", "ci_high", "dm_pvalue"}
    assert out["mean"] == pytest.approx(0.2) and out["dm_pvalue"] < 0.001


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="differ"):
        scoring.brier_score([0.1], [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        scoring.brier_score([1.2], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        scoring.brier_score([0.2], [2])


def test_skill_difference_by_hand_and_paired():
    from model.backtesting.scoring import block_bootstrap_skill, skill_difference

    groups = np.repeat(np.arange(6), 2)
    ref = np.full(12, 0.25)
    without = np.full(12, 0.2)
    with_ = np.where(groups % 2 == 0, 0.1, 0.2)
    out = skill_difference(with_, without, ref, groups, block=2, n_boot=200, seed=1)
    # skill(with) - skill(without) against the reference: (2.4 - 1.8) / 3.0 = 0.2
    assert out["mean"] == pytest.approx(0.2)
    a = block_bootstrap_skill(with_, ref, groups)["mean"]
    b = block_bootstrap_skill(without, ref, groups)["mean"]
    assert out["mean"] == pytest.approx(a - b)
    assert out["ci_low"] <= out["mean"] <= out["ci_high"]
    same = skill_difference(without, without, ref, groups, block=2, n_boot=50)
    assert same == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}

"""Intervals and tests of `servicepulse.kpi.statistics`, each against an independent computation:
a published worked value, a hand computation (written out), or scipy/statsmodels run on the raw
data the sufficient statistics summarise."""

from __future__ import annotations

import math
import statistics as pystatistics
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from servicepulse.kpi.statistics import (
    Comparison,
    compare,
    compare_means,
    compare_nps,
    compare_proportions,
    mean_std_from_sums,
    quantile_rank_interval,
    wilson_interval,
)
from tests.kpi.scalar_reference import mean_interval, nps_interval, nps_value

Z95 = 1.959963984540054  # Φ⁻¹(0.975)

# Raw samples the sufficient statistics below are taken from.
SAMPLE_X = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]  # n 8, Σx 40, Σx² 232, mean 5, s² 32/7
SAMPLE_Y = [1.0, 3.0, 3.0, 8.0, 2.0]  # n 5, mean 3.4


# --- Wilson ---------------------------------------------------------------------------------

def test_wilson_delighted_csat_example() -> None:
    # REFERENCES.md (Delighted): 74 satisfied answers of 107 = 69.16%. The Wilson interval from
    # two independent implementations (statsmodels and scipy's binomtest) is 59.87%..77.12%.
    low, high = wilson_interval(74, 107)  # type: ignore[misc]
    expected_statsmodels = proportion_confint(74, 107, alpha=0.05, method="wilson")
    expected_scipy = stats.binomtest(74, 107).proportion_ci(0.95, method="wilson")
    assert low == pytest.approx(expected_statsmodels[0], abs=1e-12)
    assert high == pytest.approx(expected_statsmodels[1], abs=1e-12)
    assert (low, high) == pytest.approx((expected_scipy.low, expected_scipy.high), abs=1e-12)
    assert (round(low, 6), round(high, 6)) == (0.598715, 0.771183)


def test_wilson_zero_successes_has_closed_form_upper_bound() -> None:
    # p = 0: centre = (z²/2n)/(1 + z²/n) equals the half width, so the interval is
    # [0, z²/(n + z²)] = [0, 3.841459 / 13.841459] = [0, 0.277530] for n = 10.
    assert wilson_interval(0, 10) == pytest.approx((0.0, Z95**2 / (10 + Z95**2)), abs=1e-12)
    # and symmetrically all successes: [1 − 0.277530, 1]
    assert wilson_interval(10, 10) == pytest.approx((1 - Z95**2 / (10 + Z95**2), 1.0), abs=1e-12)


def test_wilson_other_confidence_levels() -> None:
    expected = proportion_confint(30, 40, alpha=0.10, method="wilson")
    assert wilson_interval(30, 40, confidence=0.90) == pytest.approx(expected, abs=1e-12)


def test_wilson_without_data_is_none_and_bad_counts_are_refused() -> None:
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="successes must be between 0 and n"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 10, confidence=95)


# --- means ----------------------------------------------------------------------------------

def test_mean_std_from_sums_matches_the_raw_sample() -> None:
    # n 8, Σx 40, Σx² 4 + 3·16 + 2·25 + 49 + 81 = 232 -> mean 5, s² = (232 − 40²/8)/7 = 32/7
    mean, std = mean_std_from_sums(8, 40.0, 232.0)
    assert mean == 5.0
    assert std == pytest.approx(math.sqrt(32 / 7), rel=1e-15)
    assert std == pytest.approx(pystatistics.stdev(SAMPLE_X), rel=1e-15)


def test_mean_std_from_sums_survives_cancellation() -> None:
    # x = a, a+1, a+2 with a = 2^25: Σx² = 3a² + 6a + 5 is exact in a double (< 2^53) but (Σx)²
    # is not, so the float formula gives variance 1.25 instead of the true 1.
    a = 2**25
    total, total_of_squares = float(3 * a + 3), float(a * a + (a + 1) ** 2 + (a + 2) ** 2)
    naive_variance = (total_of_squares - total * total / 3) / 2
    assert naive_variance != 1.0  # the case really does defeat plain floats
    assert mean_std_from_sums(3, total, total_of_squares) == (a + 1.0, 1.0)


def test_mean_std_from_sums_small_n_and_negative_rounding() -> None:
    assert mean_std_from_sums(0, 0.0, 0.0) == (None, None)
    assert mean_std_from_sums(1, 7.0, 49.0) == (7.0, None)
    # Σx² a hair below (Σx)²/n, as a database's rounding can leave it: clamped to 0, not NaN.
    assert mean_std_from_sums(2, 0.2, 0.02 - 1e-18) == (0.1, 0.0)


def test_mean_interval_is_scipys_one_sample_t_interval() -> None:
    expected = stats.ttest_1samp(SAMPLE_X, 0.0).confidence_interval(0.95)
    # hand: t(0.975, 7) = 2.364624, s/√n = 0.755929 -> 5 ± 1.787488
    interval = mean_interval(5.0, math.sqrt(32 / 7), 8)
    assert interval == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert interval == pytest.approx((3.212512, 6.787488), abs=1e-6)


def test_mean_interval_needs_two_values() -> None:
    assert mean_interval(5.0, None, 1) is None
    assert mean_interval(5.0, 0.0, 0) is None
    assert mean_interval(5.0, 0.0, 4) == (5.0, 5.0)


# --- NPS ------------------------------------------------------------------------------------

def test_nps_interval_reference_vector() -> None:
    # REFERENCES.md: n 400, p 0.50, d 0.20 -> 30 ± 7.65
    # variance = 100² (0.7 − 0.09) / 400 = 15.25; 1.959964 · √15.25 = 7.653904
    low, high = nps_interval(200, 80, 400)  # type: ignore[misc]
    assert nps_value(200, 80, 400) == 30.0
    assert (round(30 - low, 2), round(high - 30, 2)) == (7.65, 7.65)
    assert (low, high) == pytest.approx((30 - Z95 * math.sqrt(15.25), 30 + Z95 * math.sqrt(15.25)))


def test_nps_interval_equals_the_coded_mean_normal_interval() -> None:
    # Independent method: code answers +100 / 0 / −100; NPS is their mean and the §3 variance
    # is the population variance of the codes over n.
    codes = np.array([100.0] * 13 + [0.0] * 9 + [-100.0] * 8)
    half_width = Z95 * math.sqrt(codes.var(ddof=0) / codes.size)
    expected = (codes.mean() - half_width, codes.mean() + half_width)
    assert nps_interval(13, 8, 30) == pytest.approx(expected, abs=1e-9)


def test_nps_interval_edges() -> None:
    assert nps_interval(0, 0, 0) is None
    assert nps_value(0, 0, 0) is None
    assert nps_interval(5, 0, 5) == (100.0, 100.0)  # all promoters: no spread
    # 2 promoters of 3: NPS 66.67, variance 100² (2/3 − 4/9) / 3 = 740.74, half width 53.34
    low, high = nps_interval(2, 0, 3)  # type: ignore[misc]
    assert low == pytest.approx(200 / 3 - Z95 * math.sqrt(1e4 * (2 / 9) / 3), abs=1e-9)
    assert high == 100.0  # 120.0, clipped to the scale
    with pytest.raises(ValueError, match="exceed the n = 10 answers"):
        nps_interval(6, 5, 10)


# --- order-statistic intervals --------------------------------------------------------------

def test_median_ranks_for_one_hundred_values() -> None:
    # Campbell & Gardner (Statistics with Confidence, BMJ): for n = 100 the 95% interval for
    # the median runs from the 40th to the 61st value (n/2 ∓ 1.96·√n/2 = 40.2 and 60.8 + 1).
    assert quantile_rank_interval(100, 0.5) == (40, 61)


@pytest.mark.parametrize(("n", "q"), [(6, 0.5), (37, 0.5), (250, 0.9), (36, 0.9), (1000, 0.1)])
def test_quantile_ranks_cover_with_equal_tails(n: int, q: float) -> None:
    # The defining property, checked with the binomial CDF: B = number of values below the
    # quantile ~ Binomial(n, q); the lower tail P(B < lower) and the upper tail P(B >= upper)
    # are each at most 2.5%, and moving either rank inwards would push its tail over 2.5%.
    lower, upper = quantile_rank_interval(n, q)  # type: ignore[misc]
    lower_tail = stats.binom.cdf(lower - 1, n, q)
    upper_tail = stats.binom.sf(upper - 1, n, q)
    assert lower_tail <= 0.025 and upper_tail <= 0.025
    assert 1 - lower_tail - upper_tail >= 0.95
    assert stats.binom.cdf(lower, n, q) > 0.025
    assert stats.binom.sf(upper - 2, n, q) > 0.025


def test_quantile_ranks_none_when_too_few_values() -> None:
    # Median: (1, n) covers 1 − 2·0.5^n, which reaches 95% from n = 6 (0.96875) not n = 5.
    assert quantile_rank_interval(5, 0.5) is None
    assert quantile_rank_interval(6, 0.5) == (1, 6)
    # p90: the upper tail P(B >= n) = 0.9^n is at most 2.5% from n = 36 (0.0225; 0.9^35 = 0.025+).
    assert quantile_rank_interval(35, 0.9) is None
    assert quantile_rank_interval(36, 0.9) == (29, 36)
    assert quantile_rank_interval(0, 0.5) is None
    with pytest.raises(ValueError, match="q must be between 0 and 1"):
        quantile_rank_interval(10, 1.0)


# --- comparisons ----------------------------------------------------------------------------

def test_compare_proportions_against_statsmodels() -> None:
    comparison = compare_proportions(74, 107, 50, 100)
    assert comparison is not None
    _, expected_p = proportions_ztest([74, 50], [107, 100])
    expected_low, expected_high = confint_proportions_2indep(
        74, 107, 50, 100, method="newcomb", compare="diff"
    )
    assert comparison.difference == pytest.approx(74 / 107 - 0.5, abs=1e-15)
    assert comparison.p_value == pytest.approx(expected_p, rel=1e-9)
    assert (comparison.low, comparison.high) == pytest.approx(
        (expected_low, expected_high), abs=1e-12
    )
    assert comparison.significant  # p = 0.0049
    assert round(comparison.p_value, 4) == 0.0049


def test_compare_proportions_not_significant_and_degenerate() -> None:
    comparison = compare_proportions(21, 40, 18, 40)
    assert comparison is not None
    _, expected_p = proportions_ztest([21, 18], [40, 40])
    assert comparison.p_value == pytest.approx(expected_p, rel=1e-9)
    assert not comparison.significant
    assert comparison.low < 0 < comparison.high
    # both sides all successes: no difference, no evidence
    same = compare_proportions(5, 5, 8, 8)
    assert same is not None and same.difference == 0 and same.p_value == 1.0
    assert compare_proportions(0, 0, 3, 8) is None


def test_compare_means_is_welchs_t_test_on_the_raw_data() -> None:
    expected = stats.ttest_ind(SAMPLE_X, SAMPLE_Y, equal_var=False)
    expected_interval = expected.confidence_interval(0.95)
    comparison = compare_means(
        pystatistics.mean(SAMPLE_X), pystatistics.stdev(SAMPLE_X), len(SAMPLE_X),
        pystatistics.mean(SAMPLE_Y), pystatistics.stdev(SAMPLE_Y), len(SAMPLE_Y),
    )
    assert comparison is not None
    assert comparison.difference == pytest.approx(1.6, abs=1e-12)  # 5 − 3.4
    assert comparison.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (comparison.low, comparison.high) == pytest.approx(
        (expected_interval.low, expected_interval.high), abs=1e-9
    )
    assert not comparison.significant  # p = 0.298


def test_compare_means_significant_and_edges() -> None:
    a = [10.0, 12.0, 11.0, 13.0, 12.0, 11.0]
    b = [20.0, 22.0, 19.0, 21.0]
    expected = stats.ttest_ind(a, b, equal_var=False)
    comparison = compare_means(
        pystatistics.mean(a), pystatistics.stdev(a), 6, pystatistics.mean(b),
        pystatistics.stdev(b), 4,
    )
    assert comparison is not None and comparison.significant
    assert comparison.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert compare_means(1.0, 0.0, 1, 2.0, 1.0, 5) is None
    # no spread on either side: a difference is certain
    flat = compare_means(3.0, 0.0, 4, 2.0, 0.0, 4)
    assert flat == Comparison(1.0, 0.0, True, 1.0, 1.0)


def test_compare_nps_against_the_coded_answers() -> None:
    # A: 200 promoters, 120 passives, 80 detractors (NPS 30); B: 150/50/100 (NPS 16.67).
    # Independent method: z test of the difference of the means of the +100/0/−100 codes with
    # population variances, as the §3 standard error prescribes.
    codes_a = np.array([100.0] * 200 + [0.0] * 120 + [-100.0] * 80)
    codes_b = np.array([100.0] * 150 + [0.0] * 50 + [-100.0] * 100)
    standard_error = math.sqrt(codes_a.var() / codes_a.size + codes_b.var() / codes_b.size)
    difference = codes_a.mean() - codes_b.mean()
    comparison = compare_nps(200, 80, 400, 150, 100, 300)
    assert comparison is not None
    assert comparison.difference == pytest.approx(40 / 3, abs=1e-12)
    assert comparison.p_value == pytest.approx(
        2 * stats.norm.sf(difference / standard_error), rel=1e-9
    )
    assert (comparison.low, comparison.high) == pytest.approx(
        (difference - Z95 * standard_error, difference + Z95 * standard_error), abs=1e-9
    )
    assert comparison.significant and round(comparison.p_value, 4) == 0.0399
    assert compare_nps(1, 0, 1, 0, 0, 0) is None


def test_verdict_wording() -> None:
    higher = Comparison(2.0, 0.01, True, 0.5, 3.5)
    assert higher.verdict() == "significantly higher"
    assert higher.verdict(higher_is_better=True) == "significantly better"
    assert higher.verdict(higher_is_better=False) == "significantly worse"  # e.g. AHT up
    assert Comparison(-2.0, 0.01, True, -3.5, -0.5).verdict() == "significantly lower"
    assert Comparison(2.0, 0.2, False, -1.0, 5.0).verdict(True) == "no significant difference"


# --- dispatch -------------------------------------------------------------------------------

@dataclass
class _ProportionStats:
    successes: float
    n: int


def test_compare_dispatches_on_the_kind() -> None:
    assert compare("proportion", {"successes": 74, "n": 107}, _ProportionStats(50, 100)) == (
        compare_proportions(74, 107, 50, 100)
    )
    assert compare(
        "nps",
        {"promoters": 200, "detractors": 80, "n": 400},
        {"promoters": 150, "detractors": 100, "n": 300},
    ) == compare_nps(200, 80, 400, 150, 100, 300)
    by_mean = compare(
        "mean",
        {"mean": 5.0, "std": math.sqrt(32 / 7), "n": 8},
        {"mean": 3.4, "std": pystatistics.stdev(SAMPLE_Y), "n": 5},
    )
    # The rollup form: n, Σx, Σx² (Y: Σ 17, Σx² 1 + 9 + 9 + 64 + 4 = 87)
    by_sums = compare(
        "mean",
        {"n": 8, "total": 40.0, "total_of_squares": 232.0},
        {"n": 5, "total": 17.0, "total_of_squares": 87.0},
    )
    expected = stats.ttest_ind(SAMPLE_X, SAMPLE_Y, equal_var=False).pvalue
    assert by_mean is not None and by_sums is not None
    assert by_mean.p_value == pytest.approx(expected, rel=1e-9)
    assert by_sums.p_value == pytest.approx(expected, rel=1e-9)


def test_compare_with_too_little_data_or_a_wrong_kind() -> None:
    one_value = {"mean": 5.0, "std": None, "n": 1}
    assert compare("mean", one_value, {"mean": 1.0, "std": 1.0, "n": 9}) is None
    assert compare("mean", {"n": 0, "total": 0.0, "total_of_squares": 0.0},
                   {"n": 5, "total": 17.0, "total_of_squares": 87.0}) is None
    assert compare("proportion", {"successes": 0, "n": 0}, {"successes": 1, "n": 2}) is None
    with pytest.raises(ValueError, match="needs successes, n; missing n"):
        compare("proportion", {"successes": 3}, {"successes": 1, "n": 2})
    with pytest.raises(ValueError, match="no significance test for statistic kind 'median'"):
        compare("median", {"n": 3}, {"n": 4})
    # the engine's kinds without a test: no verdict rather than an error
    for kind in ("sum", "ratio", "median-distribution"):
        assert compare(kind, {"n": 3}, {"n": 4}) is None


def test_compare_accepts_the_engines_names() -> None:
    # servicepulse.kpi.kinds calls NPS "score" and keeps mean sums as n, sum, sumsq
    assert compare("score", {"promoters": 200, "detractors": 80, "n": 400},
                   {"promoters": 150, "detractors": 100, "n": 300}) == compare_nps(
        200, 80, 400, 150, 100, 300)
    by_sums = compare("mean", {"n": 8, "sum": 40.0, "sumsq": 232.0},
                      {"n": 5, "sum": 17.0, "sumsq": 87.0})
    expected = stats.ttest_ind(SAMPLE_X, SAMPLE_Y, equal_var=False).pvalue
    assert by_sums is not None and by_sums.p_value == pytest.approx(expected, rel=1e-9)

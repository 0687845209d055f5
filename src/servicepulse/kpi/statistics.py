"""Confidence intervals and significance tests for KPI values (docs/kpis.md, issue 3 item 4).

Every function takes *sufficient statistics* (counts, sums, means), never rows: the engine
aggregates inside the database and only the per-group figures come back to Python.

Conventions:
- Proportions are 0-1 here (the engine turns them into percentages); NPS is in points (-100..100);
  means are in the unit of the KPI.
- `None` means "cannot be computed from this much data" (n = 0, or n < 2 for a t interval), in
  line with the rule that a KPI with n = 0 is null, never 0.
- Comparisons are at 95%: `significant` is `p_value < 0.05`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

# scipy.special is imported by the functions that use it, not here (issue 16): importing it
# costs a process 0.15 s (with numpy.f2py and charset_normalizer, which its array-API layer
# pulls in), and a command that computes no interval or test should not pay that. Only its
# ufuncs, never scipy.stats: they are what scipy.stats computes with, without its half second.

COMPARISON_CONFIDENCE = 0.95
SIGNIFICANCE_LEVEL = 1 - COMPARISON_CONFIDENCE

StatisticKind = Literal["proportion", "mean", "nps"]
STATISTIC_KINDS: tuple[str, ...] = ("proportion", "mean", "nps")
# The KPI engine's names (servicepulse.kpi.kinds): "score" is its NPS kind; sums, ratios and
# medians have no significance test, so compare() answers None for them rather than failing.
_KIND_ALIASES = {"score": "nps"}
KINDS_WITHOUT_TEST: frozenset[str] = frozenset({"sum", "ratio", "median-distribution"})


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


@lru_cache(maxsize=64)
def _two_sided_z(confidence: float) -> float:
    """The normal quantile z with P(|Z| <= z) = confidence (1.959964 for 95%).

    Memoised, and through the ufuncs behind scipy.stats (`norm.ppf` is `special.ndtri`, `t.sf`
    and `t.ppf` are `special.stdtr` / `special.stdtrit`): the same numbers without the
    distribution objects' argument checking, which costs tens of microseconds a call and a
    scorecard asks for hundreds of thousands of intervals and tests.
    """
    from scipy import special

    _check_confidence(confidence)
    return float(special.ndtri(0.5 + confidence / 2))


def _check_count(name: str, value: float, n: float) -> None:
    if value < 0 or value > n:
        raise ValueError(f"{name} must be between 0 and n = {n}, got {value!r}")


def wilson_interval(
    successes: float, n: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Wilson score interval for the proportion successes / n (0-1); None for n = 0.

    Wilson rather than the textbook Wald interval because it stays inside 0-1 and keeps its
    coverage for small n and proportions near 0 or 1, which is where agents' scorecards live.
    `successes` may be fractional (weighted answers).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if n == 0:
        return None
    _check_count("successes", successes, n)
    z = _two_sided_z(confidence)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half_width = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (max(0.0, centre - half_width), min(1.0, centre + half_width))


def mean_std_from_sums(
    n: int, total: float, total_of_squares: float
) -> tuple[float | None, float | None]:
    """(mean, sample standard deviation) from n, Σx and Σx².

    The variance is (Σx² − (Σx)²/n) / (n − 1). In floats that subtraction cancels
    catastrophically when the mean is large next to the spread, so it is done exactly on the
    given binary floats (integers over powers of two): no digit is lost beyond those the sums
    themselves lost.
    Those sums are only as good as the database's float addition, so sum values near zero
    (durations, not epoch instants). A result below zero (rounding in the sums) is clamped to
    0. Mean None for n = 0, standard deviation None for n < 2.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if n == 0:
        return None, None
    mean = total / n
    if n == 1:
        return mean, None
    # Σx = p/a and Σx² = q/b exactly (a, b powers of two); over the common denominator
    # a²·b·n the sum of squared deviations is an integer: integer arithmetic, one correctly
    # rounded division (as exact as Fraction, several times faster)
    p, a = total.as_integer_ratio()
    q, b = total_of_squares.as_integer_ratio()
    deviations = q * a * a * n - p * p * b
    return mean, math.sqrt(max(0, deviations) / (a * a * b * n * (n - 1)))


def _nps_variance(promoters: float, detractors: float, n: int) -> float:
    # docs/kpis.md: variance = 100² (p + d − (p − d)²) / n. It is the variance
    # of the mean of answers coded +100 (promoter), 0 (passive), −100 (detractor).
    _check_count("promoters", promoters, n)
    _check_count("detractors", detractors, n)
    if promoters + detractors > n:
        raise ValueError(
            f"promoters + detractors ({promoters} + {detractors}) exceed the n = {n} answers"
        )
    p, d = promoters / n, detractors / n
    return 100.0**2 * max(0.0, p + d - (p - d) ** 2) / n


def _binomial_quantile(probability: float, n: int, q: float) -> int:
    """The smallest k in 0..n with P(X <= k) >= probability for X ~ Binomial(n, q), 0 <
    probability < 1: what `scipy.stats.binom.ppf` answers (tests/kpi/test_binomial_quantile.py
    checks that they agree), from the ufuncs of scipy.special. `bdtrik` inverts the CDF;
    the exact CDF `bdtr` then moves to the integer the definition names (a step or none)."""
    from scipy import special

    rank = min(n, max(0, math.ceil(float(special.bdtrik(probability, n, q)))))
    while rank > 0 and special.bdtr(rank - 1, n, q) >= probability:
        rank -= 1
    while rank < n and special.bdtr(rank, n, q) < probability:
        rank += 1
    return rank


def quantile_rank_interval(
    n: int, q: float, confidence: float = 0.95
) -> tuple[int, int] | None:
    """1-based ranks (lower, upper) of the order statistics that bound the q-quantile.

    Distribution-free: the number of values below the true q-quantile is Binomial(n, q), so
    P(X(lower) <= quantile <= X(upper)) = F(upper − 1) − F(lower − 1) >= confidence, with each
    tail at most (1 − confidence) / 2 (equal-tailed, conservative). The engine then fetches
    those two order statistics. None when n is too small for the confidence (at 95% a median
    needs n >= 6, a p90 n >= 36): reporting (min, max) would claim coverage it does not have.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be between 0 and 1 (exclusive), got {q!r}")
    _check_confidence(confidence)
    if n < 1:
        return None
    tail = (1 - confidence) / 2
    # smallest k with F(k) >= tail (so F(k − 1) < tail), and the upper rank with
    # F(upper − 1) >= 1 − tail
    lower = _binomial_quantile(tail, n, q)
    upper = _binomial_quantile(1 - tail, n, q) + 1
    if lower < 1 or upper > n:
        return None
    return (lower, upper)


@dataclass(frozen=True)
class Comparison:
    """Group A minus group B, with a two-sided p-value and a 95% interval for the difference.

    `difference`, `low` and `high` are in the unit of the statistic compared: 0-1 for
    proportions, points for NPS, the KPI's unit for means.
    """

    difference: float
    p_value: float
    significant: bool
    low: float
    high: float

    def verdict(self, higher_is_better: bool | None = None) -> str:
        """A short sentence for reports: "significantly better", "no significant difference"…"""
        if not self.significant:
            return "no significant difference"
        if higher_is_better is None:
            return "significantly higher" if self.difference > 0 else "significantly lower"
        better = (self.difference > 0) == higher_is_better
        return "significantly better" if better else "significantly worse"


def _comparison(difference: float, standard_error: float, p_value: float) -> Comparison:
    z = _two_sided_z(COMPARISON_CONFIDENCE)
    return Comparison(
        difference=difference,
        p_value=p_value,
        significant=p_value < SIGNIFICANCE_LEVEL,
        low=difference - z * standard_error,
        high=difference + z * standard_error,
    )


def _z_p_value(difference: float, standard_error: float) -> float:
    from scipy import special

    if standard_error == 0:
        # No spread at all: any difference is certain, none is no evidence.
        return 1.0 if difference == 0 else 0.0
    return float(2 * special.ndtr(-(abs(difference) / standard_error)))


def compare_proportions(
    successes_1: float, n_1: int, successes_2: float, n_2: int
) -> Comparison | None:
    """Two-proportion z test of p1 − p2 (proportions 0-1); None when a side has n = 0.

    The p-value is the classic pooled z test (what statsmodels' `proportions_ztest` gives);
    the interval is Newcombe's hybrid score interval (method 10), built from the two Wilson
    intervals, which keeps its coverage for small groups and proportions near 0 or 1 where the
    Wald interval does not. The two agree except, rarely, at the edge of significance;
    `significant` follows the test.
    """
    if n_1 == 0 or n_2 == 0:
        return None
    _check_count("successes_1", successes_1, n_1)
    _check_count("successes_2", successes_2, n_2)
    p_1, p_2 = successes_1 / n_1, successes_2 / n_2
    difference = p_1 - p_2
    pooled = (successes_1 + successes_2) / (n_1 + n_2)
    pooled_error = math.sqrt(pooled * (1 - pooled) * (1 / n_1 + 1 / n_2))
    p_value = _z_p_value(difference, pooled_error)
    wilson_1 = wilson_interval(successes_1, n_1, COMPARISON_CONFIDENCE)
    wilson_2 = wilson_interval(successes_2, n_2, COMPARISON_CONFIDENCE)
    assert wilson_1 is not None and wilson_2 is not None  # n > 0 on both sides
    (low_1, high_1), (low_2, high_2) = wilson_1, wilson_2
    low = difference - math.sqrt((p_1 - low_1) ** 2 + (high_2 - p_2) ** 2)
    high = difference + math.sqrt((high_1 - p_1) ** 2 + (p_2 - low_2) ** 2)
    return Comparison(difference, p_value, p_value < SIGNIFICANCE_LEVEL, low, high)


def compare_means(
    mean_1: float, std_1: float, n_1: int, mean_2: float, std_2: float, n_2: int
) -> Comparison | None:
    """Welch's t test of mean1 − mean2 (unequal variances); None when a side has n < 2.

    The interval uses the same Welch–Satterthwaite degrees of freedom as the test, so
    `significant` is exactly "the interval excludes 0".
    """
    from scipy import special

    if n_1 < 2 or n_2 < 2:
        return None
    if std_1 < 0 or std_2 < 0:
        raise ValueError(f"standard deviations must be >= 0, got {std_1!r} and {std_2!r}")
    difference = mean_1 - mean_2
    variance_1, variance_2 = std_1**2 / n_1, std_2**2 / n_2
    standard_error = math.sqrt(variance_1 + variance_2)
    if standard_error == 0:
        p_value = 1.0 if difference == 0 else 0.0
        return Comparison(difference, p_value, p_value < SIGNIFICANCE_LEVEL, difference,
                          difference)
    degrees_of_freedom = (variance_1 + variance_2) ** 2 / (
        variance_1**2 / (n_1 - 1) + variance_2**2 / (n_2 - 1)
    )
    t_statistic = difference / standard_error
    p_value = float(2 * special.stdtr(degrees_of_freedom, -abs(t_statistic)))
    half_width = (
        float(special.stdtrit(degrees_of_freedom, 0.5 + COMPARISON_CONFIDENCE / 2))
        * standard_error
    )
    return Comparison(
        difference, p_value, p_value < SIGNIFICANCE_LEVEL,
        difference - half_width, difference + half_width,
    )


def compare_nps(
    promoters_1: float, detractors_1: float, n_1: int,
    promoters_2: float, detractors_2: float, n_2: int,
) -> Comparison | None:
    """z test of NPS1 − NPS2 in points, with the §3 variance of each side; None if a side is empty.

    The two groups are independent, so the variance of the difference is the sum of the two
    NPS variances; the interval is difference ± 1.96·√(sum).
    """
    if n_1 == 0 or n_2 == 0:
        return None
    variance_1 = _nps_variance(promoters_1, detractors_1, n_1)
    variance_2 = _nps_variance(promoters_2, detractors_2, n_2)
    difference = 100 * ((promoters_1 - detractors_1) / n_1 - (promoters_2 - detractors_2) / n_2)
    standard_error = math.sqrt(variance_1 + variance_2)
    return _comparison(difference, standard_error, _z_p_value(difference, standard_error))


def _field(statistic: Mapping[str, Any] | object, name: str) -> Any:
    if isinstance(statistic, Mapping):
        return statistic.get(name)
    return getattr(statistic, name, None)


def _require(statistic: Mapping[str, Any] | object, kind: str, names: tuple[str, ...]) -> list[Any]:
    values = [_field(statistic, name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if value is None]
    if missing:
        raise ValueError(
            f"a {kind} statistic needs {', '.join(names)}; missing {', '.join(missing)} "
            f"in {statistic!r}"
        )
    return values


def _mean_statistic(
    statistic: Mapping[str, Any] | object,
) -> tuple[float | None, float | None, int]:
    # (mean, std, n), or the additive sums a rollup keeps: n with total and total_of_squares
    # (the engine's measure names sum and sumsq are accepted too).
    for total_name, squares_name in (("total", "total_of_squares"), ("sum", "sumsq")):
        names = ("n", total_name, squares_name)
        if _field(statistic, total_name) is not None or _field(statistic, squares_name) is not None:
            n, total, total_of_squares = _require(statistic, "mean", names)
            mean, std = mean_std_from_sums(int(n), float(total), float(total_of_squares))
            return mean, std, int(n)
    (n,) = _require(statistic, "mean", ("n",))
    if int(n) < 2:
        return None, None, int(n)  # no standard deviation: nothing to test
    mean, std = _require(statistic, "mean", ("mean", "std"))
    return float(mean), float(std), int(n)


def compare(
    kind: StatisticKind | str,
    stats_a: Mapping[str, Any] | object,
    stats_b: Mapping[str, Any] | object,
) -> Comparison | None:
    """The significance verdict of A − B (two groups, or this period against the previous one)
    for a KPI's kind of statistic.

    `stats_a` / `stats_b` are mappings (or objects with these attributes):
    - "proportion": successes, n
    - "mean": mean, std, n — or n, total, total_of_squares (the additive sums of a rollup;
      also spelt n, sum, sumsq)
    - "nps" (the engine's "score"): promoters, detractors, n
    Returns None when either side has too little data to compare (see the compare_* functions)
    and for the kinds with no test here (sum, ratio, median-distribution). Raises ValueError
    for an unknown kind or missing fields.
    """
    kind = _KIND_ALIASES.get(kind, kind)
    if kind == "proportion":
        s_a, n_a = _require(stats_a, kind, ("successes", "n"))
        s_b, n_b = _require(stats_b, kind, ("successes", "n"))
        return compare_proportions(float(s_a), int(n_a), float(s_b), int(n_b))
    if kind == "mean":
        mean_a, std_a, n_a = _mean_statistic(stats_a)
        mean_b, std_b, n_b = _mean_statistic(stats_b)
        if mean_a is None or mean_b is None or std_a is None or std_b is None:
            return None  # n < 2 on a side
        return compare_means(mean_a, std_a, n_a, mean_b, std_b, n_b)
    if kind == "nps":
        p_a, d_a, n_a = _require(stats_a, kind, ("promoters", "detractors", "n"))
        p_b, d_b, n_b = _require(stats_b, kind, ("promoters", "detractors", "n"))
        return compare_nps(float(p_a), float(d_a), int(n_a), float(p_b), float(d_b), int(n_b))
    if kind in KINDS_WITHOUT_TEST:
        return None
    known = (*STATISTIC_KINDS, *_KIND_ALIASES, *sorted(KINDS_WITHOUT_TEST))
    raise ValueError(
        f"no significance test for statistic kind {kind!r}; compare() knows {', '.join(known)}"
    )


# --- the same, for every group at once ----------------------------------------------------
# The KPI engine answers a scorecard of tens of thousands of groups (agent x day) in one go, so
# it needs these figures column-wise. Each function below is its scalar namesake applied element
# by element, with the same floating-point operations in the same order (a test checks that
# they agree), NaN standing for None. The scalar intervals of a mean and of an NPS serve only
# as that check: they live in the tests (tests/kpi/scalar_reference.py).

FloatArray = np.ndarray
IntArray = np.ndarray


def wilson_intervals(successes: IntArray, n: IntArray, confidence: float = 0.95
                     ) -> tuple[FloatArray, FloatArray]:
    """`wilson_interval` of every (successes, n): (low, high), NaN where n = 0."""
    z = _two_sided_z(confidence)
    n_float = n.astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n_float
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n_float)
        half_width = z / (1 + z2 / n_float) * np.sqrt(p * (1 - p) / n_float
                                                      + z2 / (4 * n * n))
    low = np.where(n > 0, np.maximum(0.0, centre - half_width), np.nan)
    high = np.where(n > 0, np.minimum(1.0, centre + half_width), np.nan)
    return low, high


def mean_std_arrays(n: IntArray, total: FloatArray, total_of_squares: FloatArray
                    ) -> tuple[FloatArray, FloatArray]:
    """`mean_std_from_sums` of every group: (mean, std), NaN where it gives None.

    The sum of squared deviations is worked out in extended precision; where it cancels
    badly (below a thousandth of Σx², e.g. groups whose values are all equal) it is redone
    exactly, as the scalar function does everywhere.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
    # Extended precision only where there is a spread: x87 long doubles are slow, and
    # slower still (microcode assists) on the NaNs and infinities of groups with n < 2.
    spread = np.flatnonzero(n >= 2)
    std = np.full(len(n), np.nan)
    spread_n = n[spread]
    wide_total = total[spread].astype(np.longdouble)
    squares = total_of_squares[spread]
    with np.errstate(divide="ignore", invalid="ignore"):
        deviations = squares.astype(np.longdouble) - wide_total * wide_total / spread_n
        std[spread] = np.sqrt(np.maximum(deviations / (spread_n - 1), 0).astype("float64"))
    for index in spread[~(deviations > 1e-3 * np.abs(squares))]:
        std[index] = mean_std_from_sums(int(n[index]), float(total[index]),
                                        float(total_of_squares[index]))[1]
    return mean, std


def t_half_widths(std: FloatArray, n: IntArray, confidence: float = 0.95) -> FloatArray:
    """Half the width of the Student-t interval of each group's mean, t · std / √n (t at
    n − 1 degrees of freedom); NaN for n < 2."""
    from scipy import special

    # the t quantile once per distinct n (a few dozen), not once per group
    sizes, group_size = np.unique(n, return_inverse=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = special.stdtrit(sizes - 1, 0.5 + confidence / 2)[group_size.reshape(-1)]
        half_width = t * std / np.sqrt(n)
    return np.where(n >= 2, half_width, np.nan)


def nps_intervals(promoters: IntArray, detractors: IntArray, n: IntArray,
                  confidence: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """The normal interval of each group's NPS, NPS ± z·√variance (the variance of
    `_nps_variance`), clipped to −100..100: (low, high) in points, NaN where n = 0.
    REFERENCES.md: n = 400, p = 0.50, d = 0.20 gives 30 ± 7.65."""
    with np.errstate(divide="ignore", invalid="ignore"):
        half_width = _two_sided_z(confidence) * np.sqrt(
            _nps_variances(promoters, detractors, n))
        value = 100 * (promoters - detractors) / n
    return (np.where(n > 0, np.maximum(-100.0, value - half_width), np.nan),
            np.where(n > 0, np.minimum(100.0, value + half_width), np.nan))


def _nps_variances(promoters: IntArray, detractors: IntArray, n: IntArray) -> FloatArray:
    p, d = promoters / n, detractors / n
    return 100.0**2 * np.maximum(0.0, p + d - (p - d) ** 2) / n


def _z_p_values(difference: FloatArray, standard_error: FloatArray) -> FloatArray:
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        tested = 2 * special.ndtr(-(np.abs(difference) / standard_error))
    return np.where(standard_error == 0, np.where(difference == 0, 1.0, 0.0), tested)


def proportion_p_values(successes_1: IntArray, n_1: IntArray, successes_2: IntArray,
                        n_2: IntArray) -> FloatArray:
    """The p-value of `compare_proportions` for every pair; NaN where a side has n = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = successes_1 / n_1 - successes_2 / n_2
        pooled = (successes_1 + successes_2) / (n_1 + n_2)
        pooled_error = np.sqrt(pooled * (1 - pooled) * (1 / n_1 + 1 / n_2))
        p_values = _z_p_values(difference, pooled_error)
    return np.where((n_1 > 0) & (n_2 > 0), p_values, np.nan)


def mean_p_values(mean_1: FloatArray, std_1: FloatArray, n_1: IntArray,
                  mean_2: FloatArray, std_2: FloatArray, n_2: IntArray) -> FloatArray:
    """The p-value of `compare_means` (Welch) for every pair; NaN where a side has n < 2."""
    from scipy import special

    with np.errstate(divide="ignore", invalid="ignore"):
        difference = mean_1 - mean_2
        variance_1, variance_2 = std_1**2 / n_1, std_2**2 / n_2
        standard_error = np.sqrt(variance_1 + variance_2)
        degrees_of_freedom = (variance_1 + variance_2) ** 2 / (
            variance_1**2 / (n_1 - 1) + variance_2**2 / (n_2 - 1))
        t_statistic = difference / standard_error
        tested = 2 * special.stdtr(degrees_of_freedom, -np.abs(t_statistic))
    p_values = np.where(standard_error == 0, np.where(difference == 0, 1.0, 0.0), tested)
    known = (n_1 >= 2) & (n_2 >= 2) & ~np.isnan(std_1) & ~np.isnan(std_2)
    return np.where(known, p_values, np.nan)


def nps_p_values(promoters_1: IntArray, detractors_1: IntArray, n_1: IntArray,
                 promoters_2: IntArray, detractors_2: IntArray, n_2: IntArray) -> FloatArray:
    """The p-value of `compare_nps` for every pair; NaN where a side has n = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_1 = _nps_variances(promoters_1, detractors_1, n_1)
        variance_2 = _nps_variances(promoters_2, detractors_2, n_2)
        difference = 100 * ((promoters_1 - detractors_1) / n_1
                            - (promoters_2 - detractors_2) / n_2)
        p_values = _z_p_values(difference, np.sqrt(variance_1 + variance_2))
    return np.where((n_1 > 0) & (n_2 > 0), p_values, np.nan)

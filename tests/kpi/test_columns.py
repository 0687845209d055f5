"""The column-wise statistics agree with their scalar namesakes, element by element.

The engine computes every group's figures at once (servicepulse.kpi.statistics' array
functions, servicepulse.kpi.columns); the scalar functions are the reference: each has its
own tests against published vectors (test_statistics.py, test_reference_vectors.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from servicepulse.kpi import statistics
from servicepulse.kpi.columns import Measures, json_floats, json_pairs, round_like_python
from tests.kpi.scalar_reference import mean_interval, nps_interval

# every (successes, n) with n up to 40, and a few large groups
COUNTS = [(s, n) for n in range(0, 41) for s in range(0, n + 1)] + [
    (0, 5000), (1, 5000), (2500, 5000), (4999, 5000), (5000, 5000), (123, 457)]


def _same(array: np.ndarray, expected: list[float | None]) -> None:
    """Element by element: equal floats, NaN exactly where the scalar function gave None."""
    got = array.tolist()
    assert len(got) == len(expected)
    mismatches = [(index, value, want) for index, (value, want) in enumerate(
        zip(got, expected, strict=True))
        if not ((want is None and math.isnan(value)) or value == want)]
    assert mismatches == []


def test_wilson_intervals_match_the_scalar_function() -> None:
    successes = np.array([s for s, _ in COUNTS])
    n = np.array([n for _, n in COUNTS])
    low, high = statistics.wilson_intervals(successes, n)
    expected = [statistics.wilson_interval(s, n) for s, n in COUNTS]
    _same(low, [None if e is None else e[0] for e in expected])
    _same(high, [None if e is None else e[1] for e in expected])


def test_nps_intervals_match_the_scalar_function() -> None:
    cases = [(p, d, n) for n in (0, 1, 2, 7, 30, 400) for p in range(0, n + 1, max(1, n // 6))
             for d in range(0, n - p + 1, max(1, n // 5))]
    promoters, detractors, n = (np.array(column) for column in zip(*cases, strict=True))
    low, high = statistics.nps_intervals(promoters, detractors, n)
    expected = [nps_interval(p, d, n) for p, d, n in cases]
    _same(low, [None if e is None else e[0] for e in expected])
    _same(high, [None if e is None else e[1] for e in expected])
    # REFERENCES.md: n = 400, p = 0.50, d = 0.20 gives 30 ± 7.65
    one_low, one_high = statistics.nps_intervals(np.array([200]), np.array([80]), np.array([400]))
    assert (round(float(one_low[0]), 2), round(float(one_high[0]), 2)) == (22.35, 37.65)


def test_means_and_t_intervals_match_the_scalar_functions() -> None:
    rng = np.random.default_rng(3)
    samples = [rng.gamma(2.0, 150.0, size) for size in (0, 1, 2, 3, 10, 57, 400)]
    samples += [np.full(6, 4.0), np.array([1e9 + 1, 1e9 + 2, 1e9 + 3])]  # equal / offset
    n = np.array([len(sample) for sample in samples])
    total = np.array([float(sample.sum()) for sample in samples])
    squares = np.array([float((sample * sample).sum()) for sample in samples])
    mean, std = statistics.mean_std_arrays(n, total, squares)
    expected = [statistics.mean_std_from_sums(int(k), t, q)
                for k, t, q in zip(n, total, squares, strict=True)]
    _same(mean, [e[0] for e in expected])
    for got, (_, want) in zip(std.tolist(), expected, strict=True):
        assert (math.isnan(got) and want is None) or got == want
    half = statistics.t_half_widths(std, n)
    for index, (m, s) in enumerate(expected):
        interval = mean_interval(m, s, int(n[index])) if m is not None else None
        if interval is None:
            assert math.isnan(half[index])
        else:
            assert (m - half[index], m + half[index]) == interval


def test_p_values_match_the_scalar_comparisons() -> None:
    pairs = [(s1, n1, s2, n2) for s1, n1 in COUNTS[::37] for s2, n2 in COUNTS[::53]]
    s1, n1, s2, n2 = (np.array(column) for column in zip(*pairs, strict=True))
    p_values = statistics.proportion_p_values(s1, n1, s2, n2)
    for got, pair in zip(p_values.tolist(), pairs, strict=True):
        comparison = statistics.compare_proportions(*pair)
        assert (math.isnan(got) and comparison is None) or (
            comparison is not None and got == comparison.p_value)
    means = [(310.0, 120.0, 40, 270.0, 95.0, 35), (5.0, 0.0, 3, 5.0, 0.0, 8),
             (5.0, 0.0, 3, 6.0, 0.0, 8), (1.0, 2.0, 1, 1.0, 2.0, 9)]
    columns = [np.array(column) for column in zip(*means, strict=True)]
    p_values = statistics.mean_p_values(*columns)
    for got, case in zip(p_values.tolist(), means, strict=True):
        comparison = statistics.compare_means(*case)
        assert (math.isnan(got) and comparison is None) or (
            comparison is not None and got == comparison.p_value)
    nps = [(200, 80, 400, 150, 100, 380), (3, 1, 5, 0, 0, 0), (5, 0, 5, 5, 0, 5)]
    columns = [np.array(column) for column in zip(*nps, strict=True)]
    for got, case in zip(statistics.nps_p_values(*columns).tolist(), nps, strict=True):
        comparison = statistics.compare_nps(*case)
        assert (math.isnan(got) and comparison is None) or (
            comparison is not None and got == comparison.p_value)


def test_rounding_matches_python_round_also_at_ties() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate([
        rng.normal(0, 1000, 20000),
        np.array([2.67495, 0.00005, 1.00005, -2.50005, 0.12345, 1e12 + 0.123456, 5e15,
                  -0.0, 0.0]),
        np.arange(0, 2, 0.00005)])  # many exact and near ties of the 4th decimal
    rounded = round_like_python(values).tolist()
    assert rounded == [round(value, 4) for value in values.tolist()]


def test_json_values_and_measures() -> None:
    assert json_floats(np.array([1.23456, math.nan, 2.0])) == [1.2346, None, 2.0]
    assert json_pairs(np.array([1.0, math.nan]), np.array([2.00004, 3.0])) == [[1.0, 2.0], None]
    measures = Measures(pd.DataFrame({"x__n": [3.0, None], "x__sum": [1.5, 2.0]}))
    assert measures.count("x__n").tolist() == [3, 0]
    assert measures.number("missing").tolist() == [0.0, 0.0]
    assert [math.isnan(v) for v in measures.raw("x__n").tolist()] == [False, True]

"""Scalar intervals of one mean and one NPS, kept in the tests only: the product computes them
column-wise (`statistics.t_half_widths`, `statistics.nps_intervals`), and these, checked
against SciPy and the reference vectors by hand (tests/kpi/test_statistics.py), are what the
column functions must equal float for float (tests/kpi/test_columns.py)."""

from __future__ import annotations

import math

from scipy import special


def mean_interval(mean: float, std: float | None, n: int, confidence: float = 0.95
                  ) -> tuple[float, float] | None:
    """Student-t interval for a mean from its sample standard deviation; None for n < 2."""
    if n < 2 or std is None:
        return None
    half_width = float(special.stdtrit(n - 1, 0.5 + confidence / 2)) * std / math.sqrt(n)
    return (mean - half_width, mean + half_width)


def nps_value(promoters: float, detractors: float, n: int) -> float | None:
    """% promoters − % detractors (−100..100); None for n = 0."""
    return None if n == 0 else 100 * (promoters - detractors) / n


def nps_interval(promoters: float, detractors: float, n: int, confidence: float = 0.95
                 ) -> tuple[float, float] | None:
    """NPS ± z·√variance in points, clipped to −100..100; None for n = 0. The variance is
    docs/kpis.md's 100² (p + d − (p − d)²) / n."""
    if n == 0:
        return None
    if promoters + detractors > n:
        raise ValueError(f"promoters + detractors ({promoters} + {detractors}) exceed the "
                         f"n = {n} answers")
    p, d = promoters / n, detractors / n
    variance = 100.0**2 * max(0.0, p + d - (p - d) ** 2) / n
    half_width = float(special.ndtri(0.5 + confidence / 2)) * math.sqrt(variance)
    value = 100 * (promoters - detractors) / n
    return (max(-100.0, value - half_width), min(100.0, value + half_width))

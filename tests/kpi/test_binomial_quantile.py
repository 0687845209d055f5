"""The order-statistic ranks of a quantile's interval come from scipy.special's binomial
ufuncs (scipy.stats costs the engine half a second to import, issue 16): they must be the ranks
scipy.stats.binom.ppf gives, exactly, over the sizes and quantiles the engine meets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from servicepulse.kpi.statistics import _binomial_quantile, quantile_rank_interval

SIZES = np.arange(1, 1501)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize("q", [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])
def test_ranks_are_scipy_stats_binomial_quantiles(confidence: float, q: float) -> None:
    tail = (1 - confidence) / 2
    lower = stats.binom.ppf(tail, SIZES, q).astype(int)
    upper = stats.binom.ppf(1 - tail, SIZES, q).astype(int)
    ours = np.array([(_binomial_quantile(tail, int(n), q), _binomial_quantile(1 - tail, int(n), q))
                     for n in SIZES])
    assert np.array_equal(ours[:, 0], lower)
    assert np.array_equal(ours[:, 1], upper)


def test_interval_ranks_at_known_sizes() -> None:
    # median of 100 at 95%: the 40th and 61st values; the smallest n with a 95% interval of
    # the median is 6, of the p90 36 (the module's docstring)
    assert quantile_rank_interval(100, 0.5) == (40, 61)
    assert quantile_rank_interval(5, 0.5) is None
    assert quantile_rank_interval(6, 0.5) == (1, 6)
    assert quantile_rank_interval(35, 0.9) is None
    assert quantile_rank_interval(36, 0.9) is not None

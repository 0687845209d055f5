"""Arrival forecasts: the seasonal baseline and Holt-Winters on simulated series with a known
weekly pattern (generated here with numpy), the WAPE backtest, and interval parsing."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from servicepulse.workforce.forecast import (
    ArrivalSeries,
    ForecastError,
    ForecastMethod,
    backtest,
    forecast,
    holt_winters,
    parse_interval,
    seasonal_baseline,
    wape,
)

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, midnight UTC
HOURLY_WEEK = 7 * 24


def weekly_pattern(interval_s: int = 3600) -> np.ndarray:
    """Expected arrivals per interval of one week: a daytime hump on weekdays (peak 40 an hour
    at 11:00-12:00), a quarter of that at weekends, 1 an hour at night."""
    per_day = 86400 // interval_s
    hours = (np.arange(per_day) + 0.5) * interval_s / 3600
    day_shape = 1.0 + 39.0 * np.exp(-((hours - 11.5) / 3.0) ** 2)
    scale = np.array([1, 1, 1, 1, 0.9, 0.25, 0.25])
    return np.concatenate([day_shape * s for s in scale]) * interval_s / 3600


def test_parse_interval() -> None:
    assert parse_interval("15m") == 900
    assert parse_interval("30m") == 1800
    assert parse_interval("60m") == 3600
    assert parse_interval("1h") == 3600
    assert parse_interval("1800") == 1800
    for bad in ("20m", "2h", "half an hour", "0"):
        with pytest.raises(ForecastError, match="15m, 30m or 1h"):
            parse_interval(bad)


def test_wape_by_hand() -> None:
    # |10−8| + |0−1| + |20−21| = 4 over 30 arrivals.
    assert wape(np.array([10.0, 0.0, 20.0]), np.array([8.0, 1.0, 21.0])) == pytest.approx(4 / 30)
    assert wape(np.zeros(3), np.ones(3)) is None  # undefined without arrivals


def test_baseline_is_the_mean_of_the_same_weekday_and_hour() -> None:
    # Two weeks of hourly counts: week 1 all 2s with 10 on Monday 09:00, week 2 all 4s with
    # 20 on Monday 09:00. Forecast for week 3: Monday 09:00 = (10 + 20) / 2 = 15, every other
    # hour (2 + 4) / 2 = 3.
    week1 = np.full(HOURLY_WEEK, 2.0)
    week1[9] = 10
    week2 = np.full(HOURLY_WEEK, 4.0)
    week2[9] = 20
    history = ArrivalSeries(MONDAY, 3600, np.concatenate([week1, week2]))
    result = seasonal_baseline(history, MONDAY + timedelta(weeks=2), HOURLY_WEEK)
    assert result.values[9] == 15
    assert set(np.delete(result.values, 9)) == {3.0}
    # With weeks=1 only the latest week counts.
    latest = seasonal_baseline(history, MONDAY + timedelta(weeks=2), 24, weeks=1)
    assert latest.values[9] == 20 and latest.values[8] == 4


def test_baseline_uses_local_weekday_and_time_across_daylight_saving() -> None:
    # London: GMT (UTC+0) until 29 March 2026, BST (UTC+1) after. Calls arrive at 09:00 local
    # every day. Two weeks of history in March before the change; the forecast for the week
    # after it must put them at 08:00 UTC, where a UTC-keyed forecast would keep 09:00.
    start = datetime(2026, 3, 9, tzinfo=UTC)
    values = np.zeros(2 * HOURLY_WEEK)
    values[9::24] = 12
    history = ArrivalSeries(start, 3600, values)
    after = datetime(2026, 3, 30, tzinfo=UTC)  # Monday after the change
    local = seasonal_baseline(history, after, 24, timezone="Europe/London")
    assert local.values[8] == 12 and local.values[9] == 0
    utc = seasonal_baseline(history, after, 24)
    assert utc.values[9] == 12 and utc.values[8] == 0
    with pytest.raises(ForecastError, match="unknown time zone"):
        seasonal_baseline(history, after, 24, timezone="Mars/Olympus")


def test_noise_free_pattern_is_forecast_exactly() -> None:
    pattern = weekly_pattern()
    history = ArrivalSeries(MONDAY, 3600, np.tile(pattern, 4))
    result = backtest(history, holdout_weeks=2)
    assert result.wape == pytest.approx(0.0, abs=1e-12)
    assert [w.week_start for w in result.weeks] == [MONDAY + timedelta(weeks=2),
                                                    MONDAY + timedelta(weeks=3)]
    assert result.weeks[0].actual == pytest.approx(pattern.sum())
    smoothed = backtest(history, holdout_weeks=1, method=ForecastMethod.holt_winters)
    assert smoothed.wape is not None and smoothed.wape < 0.01


def test_baseline_backtest_on_poisson_arrivals_matches_theory() -> None:
    # Poisson arrivals around the known pattern, 30-minute intervals, 8 weeks, the last 2
    # held out. The baseline averages the 6 weeks before each held-out week, so its error per
    # interval is N − m̂ with variance λ (1 + 1/6); for a normal-ish error E|e| = σ √(2/π).
    # Expected WAPE = Σ √(2λ·7/6/π) / Σ λ (computed from λ alone, independently of the code).
    pattern = weekly_pattern(1800)
    rng = np.random.default_rng(7)
    history = ArrivalSeries(MONDAY, 1800, rng.poisson(np.tile(pattern, 8)).astype(float))
    result = backtest(history, holdout_weeks=2, weeks=6)
    expected = float(np.sum(np.sqrt(2 * pattern * (7 / 6) / math.pi)) / pattern.sum())
    assert result.wape is not None
    assert result.wape == pytest.approx(expected, rel=0.12)
    # And it is only a little worse than knowing λ exactly (the oracle forecast).
    held_out = history.values[-2 * len(pattern):]
    oracle = wape(held_out, np.tile(pattern, 2))
    assert oracle is not None and oracle < result.wape < 1.2 * oracle


def test_holt_winters_follows_growth_that_the_baseline_lags() -> None:
    # Volume grows 8% a week. The baseline forecasts the mean of the past 6 weeks, centred
    # 3.5 weeks back: 1.08^-3.5 ≈ 0.76 of the held-out week; Holt-Winters tracks the level.
    pattern = weekly_pattern()
    growth = np.repeat(1.08 ** np.arange(8), HOURLY_WEEK)
    rng = np.random.default_rng(11)
    history = ArrivalSeries(MONDAY, 3600,
                            rng.poisson(np.tile(pattern, 8) * growth).astype(float))
    baseline = backtest(history, holdout_weeks=1)
    smoothed = backtest(history, holdout_weeks=1, method=ForecastMethod.holt_winters)
    assert baseline.wape is not None and smoothed.wape is not None
    assert baseline.weeks[0].forecast < 0.8 * baseline.weeks[0].actual
    assert smoothed.wape < 0.85 * baseline.wape
    assert abs(smoothed.weeks[0].forecast - smoothed.weeks[0].actual) < 0.6 * abs(
        baseline.weeks[0].forecast - baseline.weeks[0].actual)


def test_holt_winters_needs_two_weeks_and_never_forecasts_negative() -> None:
    short = ArrivalSeries(MONDAY, 3600, np.ones(HOURLY_WEEK + 5))
    with pytest.raises(ForecastError, match="at least 2 full weeks"):
        holt_winters(short, short.end, 24)
    # A collapse to no calls at all in the last days: whatever the model makes of it, no
    # interval is forecast below zero.
    values = np.tile(weekly_pattern(), 3)
    values[-48:] = 0
    history = ArrivalSeries(MONDAY, 3600, values)
    result = forecast(history, history.end + timedelta(days=1), 48,
                      ForecastMethod.holt_winters)
    assert result.values.min() >= 0
    assert result.start == history.end + timedelta(days=1)


def test_backtest_needs_enough_weeks() -> None:
    history = ArrivalSeries(MONDAY, 3600, np.ones(2 * HOURLY_WEEK))
    with pytest.raises(ForecastError, match="needs 3 whole weeks"):
        backtest(history, holdout_weeks=2)

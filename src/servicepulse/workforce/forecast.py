"""Arrivals per interval: history from the store, forecasts by weekday, backtests.

- History: inbound interactions of the chosen channels counted per interval of 15, 30 or 60
  minutes by `created_at` (epoch seconds UTC), counted by the database (one GROUP BY).
- Seasonal baseline: each interval is forecast as the mean of the same weekday and time of
  day over the last `weeks` weeks of history (weekday and time of day in `timezone`, so a
  centre's Monday 09:00 stays 09:00 across daylight-saving changes).
- Holt-Winters (statsmodels, multiplicative weekly season over counts + 1, optional damped
  trend): for histories whose volume grows or shrinks; needs two full weeks.
- Backtest: each of the last `holdout_weeks` weeks is forecast from the history before it and
  scored by WAPE = Σ|actual − forecast| / Σ actual.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Integer, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from servicepulse.errors import InvalidRequest
from servicepulse.store.tables import interactions
from servicepulse.workforce import defaults

WEEK_S = 7 * 24 * 3600
ALLOWED_INTERVALS_S = defaults.PLAN_INTERVALS_S


class ForecastMethod(StrEnum):
    baseline = "baseline"
    holt_winters = "holt-winters"


class ForecastError(InvalidRequest):
    """The history cannot support the forecast asked for; the message says what to do."""


def parse_interval(text: str | int) -> int:
    """'15m', '30m', '1h' or seconds ('1800') -> seconds (900, 1800 or 3600): the shared
    interval parser (`defaults.parse_interval`) held to the intervals a forecast supports."""
    try:
        return defaults.parse_interval(text, allowed=ALLOWED_INTERVALS_S)
    except defaults.IntervalError as error:
        raise ForecastError(str(error)) from None


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ForecastError(f"unknown time zone {timezone!r}: use an IANA name such as "
                            "'Europe/London' or 'UTC'") from exc


@dataclass(frozen=True)
class ArrivalSeries:
    """Counts (or forecast counts) per interval from `start` (UTC, on an interval boundary)."""

    start: datetime
    interval_s: int
    values: np.ndarray  # float64, one value per interval
    method: str = "actual"

    @property
    def starts(self) -> list[datetime]:
        return [self.start + timedelta(seconds=i * self.interval_s)
                for i in range(len(self.values))]

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=len(self.values) * self.interval_s)


def _bucket(created_at: ColumnElement[float], start_s: float, interval_s: int,
            dialect: str) -> ColumnElement[int]:
    offset = (created_at - start_s) / float(interval_s)
    if dialect == "sqlite":
        # Non-negative here, so truncation is the floor; CAST works on every SQLite build.
        return cast(offset, Integer)
    # PostgreSQL's CAST rounds to nearest, so floor explicitly.
    return cast(func.floor(offset), Integer)


def arrival_history(engine: Engine, start: datetime, end: datetime, interval_s: int,
                    channels: Sequence[str] = ("phone",)) -> ArrivalSeries:
    """Inbound interactions of `channels` created in [start, end), counted per interval.

    `start` must lie on an interval boundary (UTC); intervals without arrivals count 0.
    """
    if interval_s not in ALLOWED_INTERVALS_S:
        raise ForecastError(f"interval of {interval_s} s is not supported: use 900, 1800, 3600")
    start_s, end_s = start.timestamp(), end.timestamp()
    if start_s % interval_s:
        raise ForecastError(f"start {start.isoformat()} is not on a {interval_s // 60}-minute "
                            "boundary")
    count = math.ceil((end_s - start_s) / interval_s)
    values = np.zeros(max(count, 0), dtype=float)
    if count <= 0:
        return ArrivalSeries(start, interval_s, values)
    bucket = _bucket(interactions.c.created_at, start_s, interval_s, engine.dialect.name)
    query = (
        select(bucket.label("bucket"), func.count().label("arrivals"))
        .where(interactions.c.direction == "inbound",
               interactions.c.channel.in_(list(channels)),
               interactions.c.created_at >= start_s,
               interactions.c.created_at < end_s)
        .group_by(bucket)
    )
    with engine.connect() as connection:
        for index, arrivals in connection.execute(query):
            values[int(index)] = arrivals
    return ArrivalSeries(start, interval_s, values)


def first_arrival(engine: Engine, channels: Sequence[str], before: datetime) -> datetime | None:
    """When the first stored inbound interaction of `channels` before `before` was created."""
    query = select(func.min(interactions.c.created_at)).where(
        interactions.c.direction == "inbound",
        interactions.c.channel.in_(list(channels)),
        interactions.c.created_at < before.timestamp())
    with engine.connect() as connection:
        first = connection.execute(query).scalar()
    return None if first is None else datetime.fromtimestamp(first, UTC)


def _week_slot_keys(start: datetime, interval_s: int, count: int, timezone: str) -> np.ndarray:
    """Weekday × time-of-day slot (in `timezone`) of each interval's start."""
    stamps = pd.date_range(start, periods=count, freq=f"{interval_s}s", tz="UTC")
    local = stamps.tz_convert(_zone(timezone))
    slots_per_day = 86400 // interval_s
    minutes = local.hour * 60 + local.minute
    return np.asarray(local.weekday * slots_per_day + minutes * 60 // interval_s, dtype=int)


def seasonal_baseline(history: ArrivalSeries, start: datetime, count: int, weeks: int = 6,
                      timezone: str = "UTC") -> ArrivalSeries:
    """Forecast `count` intervals from `start`: each the mean of the same weekday and time of
    day over the last `weeks` weeks of `history` (all weekdays' mean for that time of day when
    the weekday never occurs, 0 when nothing does)."""
    if len(history.values) == 0:
        raise ForecastError("no history to forecast from")
    interval_s = history.interval_s
    slots_per_week = WEEK_S // interval_s
    keys = _week_slot_keys(history.start, interval_s, len(history.values), timezone)
    # Keep the last `weeks` occurrences of each key: the most recent weeks of history.
    recent = len(history.values) - weeks * slots_per_week
    frame = pd.DataFrame({"key": keys, "value": history.values})
    if recent > 0:
        frame = frame.iloc[recent:]
    by_key = frame.groupby("key")["value"].mean()
    slots_per_day = 86400 // interval_s
    by_time_of_day = frame.assign(slot=frame["key"] % slots_per_day).groupby("slot")["value"].mean()
    wanted = _week_slot_keys(start, interval_s, count, timezone)
    values = by_key.reindex(wanted).to_numpy(dtype=float)
    missing = np.isnan(values)
    if missing.any():
        fallback = by_time_of_day.reindex(wanted[missing] % slots_per_day).to_numpy(dtype=float)
        values[missing] = np.nan_to_num(fallback, nan=0.0)
    return ArrivalSeries(start, interval_s, values, ForecastMethod.baseline.value)


def holt_winters(history: ArrivalSeries, start: datetime, count: int,
                 trend: bool = False) -> ArrivalSeries:
    """Forecast `count` intervals from `start` with Holt-Winters over a weekly season
    (statsmodels); negative forecasts are clipped to 0. `start` may lie after the history's
    end (the gap is forecast and dropped)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    interval_s = history.interval_s
    season = WEEK_S // interval_s
    if len(history.values) < 2 * season:
        raise ForecastError(
            f"Holt-Winters needs at least 2 full weeks of history ({2 * season} intervals), "
            f"got {len(history.values)}: use the baseline method or import more history")
    gap = round((start - history.end).total_seconds() / interval_s)
    if gap < 0:
        raise ForecastError("the forecast must start at or after the end of the history")
    # Multiplicative season: growth scales the daily peaks, not only the night-time floor
    # (an additive season lags growing volume worse than the plain baseline does). The
    # counts are shifted by 1 because a multiplicative model needs strictly positive data.
    model = ExponentialSmoothing(
        history.values + 1.0, trend="add" if trend else None, damped_trend=trend,
        seasonal="mul", seasonal_periods=season, initialization_method="heuristic")
    with warnings.catch_warnings():
        # Flat stretches (nights with no calls) make the optimiser warn about convergence;
        # the fit is still the best it found and the backtest says how good it is.
        warnings.simplefilter("ignore")
        fitted = model.fit()
        values = np.asarray(fitted.forecast(gap + count), dtype=float)[gap:] - 1.0
    return ArrivalSeries(start, interval_s, np.clip(values, 0.0, None),
                         ForecastMethod.holt_winters.value)


def forecast(history: ArrivalSeries, start: datetime, count: int,
             method: ForecastMethod = ForecastMethod.baseline, weeks: int = 6,
             timezone: str = "UTC") -> ArrivalSeries:
    if method is ForecastMethod.holt_winters:
        return holt_winters(history, start, count)
    return seasonal_baseline(history, start, count, weeks=weeks, timezone=timezone)


def wape(actual: np.ndarray, forecast_values: np.ndarray) -> float | None:
    """Weighted absolute percentage error, 0-1: Σ|actual − forecast| / Σ actual (None when
    nothing arrived: the ratio is undefined)."""
    total = float(np.sum(actual))
    if total <= 0:
        return None
    return float(np.sum(np.abs(np.asarray(actual) - np.asarray(forecast_values)))) / total


@dataclass(frozen=True)
class WeekError:
    week_start: datetime
    actual: float
    forecast: float
    wape: float | None


@dataclass(frozen=True)
class BacktestResult:
    method: str
    interval_s: int
    weeks: list[WeekError] = field(default_factory=list)

    @property
    def wape(self) -> float | None:
        """Over all held-out weeks together (weighted by volume, like WAPE itself)."""
        actual = sum(w.actual for w in self.weeks)
        if actual <= 0:
            return None
        return sum((w.wape or 0.0) * w.actual for w in self.weeks) / actual


def backtest(history: ArrivalSeries, holdout_weeks: int = 2,
             method: ForecastMethod = ForecastMethod.baseline, weeks: int = 6,
             timezone: str = "UTC") -> BacktestResult:
    """Forecast each of the last `holdout_weeks` whole weeks of `history` from the history
    before it (rolling origin) and report WAPE per week and overall."""
    season = WEEK_S // history.interval_s
    if holdout_weeks < 1:
        raise ForecastError("hold out at least 1 week")
    minimum_training = 2 if method is ForecastMethod.holt_winters else 1
    available = len(history.values) // season
    if available < holdout_weeks + minimum_training:
        raise ForecastError(
            f"a backtest of {holdout_weeks} week(s) with {method.value} needs "
            f"{holdout_weeks + minimum_training} whole weeks of history, got {available}")
    results = []
    end = len(history.values)
    for k in range(holdout_weeks, 0, -1):
        cut = end - k * season
        training = ArrivalSeries(history.start, history.interval_s, history.values[:cut])
        actual = history.values[cut:cut + season]
        predicted = forecast(training, training.end, season, method, weeks, timezone).values
        results.append(WeekError(training.end, float(actual.sum()), float(predicted.sum()),
                                 wape(actual, predicted)))
    return BacktestResult(method.value, history.interval_s, results)

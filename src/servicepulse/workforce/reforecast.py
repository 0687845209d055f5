"""Intraday reforecast: how today is running against its forecast, what that means for the
rest of the day, and the agents each interval needs against the agents on shift.

A floor manager at 10:30 knows more than the forecast made last night: the calls that have
arrived. The day's forecast (the same seasonal baseline or Holt-Winters as `staffing
forecast`) is scaled for the rest of the day by how the day has run so far:

- ratio (the classic): R = arrivals so far / forecast so far (the interval in progress
  counted for the part already past), and every later interval's reforecast is R × its
  forecast; the interval in progress is its arrivals so far plus R × the forecast of its
  remaining part. With no forecast volume so far (before the day's first calls) R = 1.
- weighted (credibility): R = (arrivals so far + k) / (forecast so far + k), k a number of
  calls of prior belief in the forecast (CREDIBILITY_CALLS): early in the day a few calls
  above forecast move the reforecast little, by mid-morning the day's own evidence wins.

`reforecast_backtest` replays past days at given times of day and scores each method (and
the untouched forecast) by WAPE over the rest of the day; docs/workforce.md gives its figures
on the simulator's data and why the default is the default.

Agents: per interval for the reforecast arrivals, by Erlang A where the channels' contacts
abandon (the mean patience estimated from the history: the exponential patience's maximum
likelihood, all the time contacts spent waiting / the contacts that abandoned), else by
Erlang C; after shrinkage, against agents scheduled (shift time inside the interval / its
length, as the staffing plan counts them); gap = scheduled − required (negative: short).

Days and times are local to `timezone` (a day of 23 or 25 hours where the clocks change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, select

from servicepulse.store.tables import interactions
from servicepulse.workforce import defaults
from servicepulse.workforce.erlang import check_targets, required_agents_for_intervals
from servicepulse.workforce.forecast import (
    ArrivalSeries,
    ForecastError,
    ForecastMethod,
    arrival_history,
    first_arrival,
    forecast,
)
from servicepulse.workforce.plan import mean_handle_time, scheduled_agents

# Prior belief in the forecast, in calls: the weighted reforecast moves halfway to the plain
# ratio once this many calls were forecast so far. Chosen by the backtest of
# docs/workforce.md (30, 60 and 200 tried on two weeks of simulated days, checked on two more).
CREDIBILITY_CALLS = defaults.REFORECAST_CREDIBILITY_CALLS


class ReforecastMethod(StrEnum):
    ratio = "ratio"
    weighted = "weighted"


# The plain ratio over-reacts to the first hour's few calls; the backtest favours the weighted.
DEFAULT_METHOD = ReforecastMethod.weighted


class ReforecastInterval(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime  # UTC
    forecast: float
    actual: int | None  # arrivals so far; None for intervals starting at or after `at`
    reforecast: float
    agents_required: int  # for the reforecast, after shrinkage (agents to have on shift)
    agents_required_forecast: int  # the same for the original forecast
    agents_scheduled: float
    gap: float  # agents_scheduled − agents_required; negative: short


class Reforecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    at: datetime  # UTC
    timezone: str
    interval_s: int
    channels: list[str]
    forecast_method: str
    method: str
    ratio: float  # the factor applied to the rest of the day
    arrived: int  # arrivals before `at`
    forecast_so_far: float  # forecast arrivals before `at`
    aht_s: float
    target_service_level: float
    target_time_s: float
    max_occupancy: float
    shrinkage: float
    patience_s: float | None
    intervals: list[ReforecastInterval]

    @property
    def model(self) -> str:
        return "Erlang C" if self.patience_s is None else "Erlang A"

    @property
    def forecast_total(self) -> float:
        return float(sum(row.forecast for row in self.intervals))

    @property
    def reforecast_total(self) -> float:
        return float(sum(row.reforecast for row in self.intervals))

    @property
    def short_intervals(self) -> int:
        """Intervals from the one in progress on that are short of agents."""
        return sum(1 for row in self.intervals
                   if row.gap < 0 and row.start + timedelta(seconds=self.interval_s) > self.at)

    def as_dict(self) -> dict[str, object]:
        """The JSON of `servicepulse staffing reforecast --format json` and the API."""
        return {
            "date": self.day.isoformat(), "at": self.at.isoformat(),
            "timezone": self.timezone, "interval_s": self.interval_s,
            "channels": self.channels, "forecast_method": self.forecast_method,
            "method": self.method, "ratio": round(self.ratio, 4), "arrived": self.arrived,
            "forecast_so_far": round(self.forecast_so_far, 4),
            "forecast_total": round(self.forecast_total, 4),
            "reforecast_total": round(self.reforecast_total, 4),
            "aht_s": round(self.aht_s, 2), "target_service_level": self.target_service_level,
            "target_time_s": self.target_time_s, "max_occupancy": self.max_occupancy,
            "shrinkage": self.shrinkage,
            "patience_s": None if self.patience_s is None else round(self.patience_s, 2),
            "model": self.model,
            "intervals": [{"start": row.start.isoformat(), "forecast": row.forecast,
                           "actual": row.actual, "reforecast": row.reforecast,
                           "agents_required": row.agents_required,
                           "agents_required_forecast": row.agents_required_forecast,
                           "agents_scheduled": row.agents_scheduled, "gap": row.gap}
                          for row in self.intervals]}


def zone_of(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ForecastError(f"unknown time zone {timezone!r}: use an IANA name such as "
                            "'Europe/London' or 'UTC'") from None


def day_bounds(day: date, timezone: str, interval_s: int) -> tuple[datetime, datetime]:
    """The local day's start and end in UTC; both must fall on interval boundaries."""
    zone = zone_of(timezone)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    if start.timestamp() % interval_s:
        raise ForecastError(f"midnight in {timezone} is not on a {interval_s // 60}-minute "
                            "boundary of UTC: use a shorter --interval (15m or 30m)")
    return start, end


def history_before(engine: Engine, start: datetime, interval_s: int, channels: Sequence[str],
                   weeks: int) -> ArrivalSeries:
    """Up to `weeks` weeks of arrivals before `start`, from the first stored arrival's
    interval when the data begins later (weeks before it are not weeks without calls)."""
    history_start = start - timedelta(weeks=weeks)
    first = first_arrival(engine, channels, start)
    if first is None:
        raise ForecastError(
            f"no inbound {'/'.join(channels)} interactions stored before "
            f"{start:%Y-%m-%d %H:%M} UTC: import some history first (the forecast is built "
            "from it)")
    if first > history_start:
        offset = (first - history_start).total_seconds()
        history_start += timedelta(seconds=offset - offset % interval_s)
    return arrival_history(engine, history_start, start, interval_s, channels)


def estimate_patience(engine: Engine, channels: Sequence[str], start: datetime,
                      end: datetime) -> float | None:
    """Mean patience (s) of inbound contacts of `channels` created in [start, end): the time
    all of them waited (until answered or until they gave up) / the number that gave up, the
    maximum-likelihood estimate of an exponential patience whose waits are cut short by
    answers. None when none abandoned (no abandonment to model: Erlang C)."""
    ended = func.coalesce(interactions.c.answered_at, interactions.c.abandoned_at)
    query = select(func.sum(ended - interactions.c.created_at),
                   func.count(interactions.c.abandoned_at)).where(
        interactions.c.direction == "inbound", interactions.c.channel.in_(list(channels)),
        interactions.c.created_at >= start.timestamp(),
        interactions.c.created_at < end.timestamp(),
        ended.is_not(None), ended >= interactions.c.created_at)
    with engine.connect() as connection:
        row = connection.execute(query).one()
    waited, abandoned = float(row[0] or 0.0), int(row[1] or 0)
    if abandoned == 0 or waited <= 0:
        return None
    return waited / abandoned


@dataclass(frozen=True)
class Scaled:
    """The reforecast of one day from its forecast and its arrivals up to `at`."""

    ratio: float
    arrived: int
    forecast_so_far: float
    actual: list[int | None]
    values: np.ndarray


def scale(forecast_values: np.ndarray, arrivals: np.ndarray, start: datetime,
          interval_s: int, at: datetime, method: ReforecastMethod = DEFAULT_METHOD,
          credibility: float = CREDIBILITY_CALLS) -> Scaled:
    """Scale the rest of a day's forecast by how it has run up to `at`.

    `arrivals[k]` holds interval k's arrivals before `at` (0 after it). The interval in
    progress keeps what has arrived and adds the scaled forecast of its part still to come.
    """
    elapsed = (at - start).total_seconds() / interval_s  # intervals past, fractional
    past = np.clip(elapsed - np.arange(len(forecast_values)), 0.0, 1.0)  # share of each past
    forecast_so_far = float(np.sum(forecast_values * past))
    arrived = int(np.sum(arrivals[past > 0]))
    if method is ReforecastMethod.weighted:
        ratio = (arrived + credibility) / (forecast_so_far + credibility)
    else:
        ratio = arrived / forecast_so_far if forecast_so_far > 0 else 1.0
    values = np.where(past > 0, arrivals, 0.0) + ratio * forecast_values * (1.0 - past)
    actual: list[int | None] = [int(arrivals[k]) if past[k] > 0 else None
                                for k in range(len(forecast_values))]
    return Scaled(ratio, arrived, forecast_so_far, actual, values)


def intraday_reforecast(engine: Engine, day: date, at: time | datetime,
                        interval_s: int = defaults.INTERVAL_S,
                        channels: Sequence[str] = (defaults.CHANNEL,),
                        timezone: str = "UTC",
                        target_sl: float = defaults.TARGET_SERVICE_LEVEL_PCT / 100,
                        target_time_s: float | None = None,
                        max_occupancy: float = defaults.MAX_OCCUPANCY_PCT / 100,
                        shrinkage: float = defaults.SHRINKAGE_PCT / 100,
                        patience_s: float | Literal["auto"] | None = "auto",
                        aht_s: float | None = None,
                        forecast_method: ForecastMethod = ForecastMethod.baseline,
                        history_weeks: int = defaults.HISTORY_WEEKS,
                        method: ReforecastMethod = DEFAULT_METHOD) -> Reforecast:
    """The day's forecast, its arrivals up to `at` (a local time of `day`, or a moment) and
    the reforecast of the rest, with agents required and scheduled per interval.

    Fractions are 0-1. `patience_s`: "auto" estimates it from the history (Erlang A where
    contacts abandon, else Erlang C), None is Erlang C. Raises ForecastError without history
    or handle times."""
    channels = list(channels)
    if not channels:
        raise ForecastError("name at least one channel")
    if interval_s not in defaults.PLAN_INTERVALS_S:
        raise ForecastError(f"interval of {interval_s} s is not supported: use 15m, 30m or 1h")
    if target_time_s is None:
        target_time_s = defaults.target_time_s(channels[0])
    check_targets(target_sl, target_time_s, max_occupancy, shrinkage)
    start, end = day_bounds(day, timezone, interval_s)
    moment = (at.astimezone(UTC) if isinstance(at, datetime)
              else datetime.combine(day, at, zone_of(timezone)).astimezone(UTC))
    if not start <= moment <= end:
        raise ForecastError(f"--at {moment.astimezone(zone_of(timezone)):%Y-%m-%d %H:%M} is "
                            f"not within {day} ({timezone})")
    count = round((end - start).total_seconds() / interval_s)
    history = history_before(engine, start, interval_s, channels, history_weeks)
    predicted = forecast(history, start, count, forecast_method, weeks=history_weeks,
                         timezone=timezone)
    arrivals = arrival_history(engine, start, moment, interval_s, channels).values
    arrivals = np.concatenate([arrivals, np.zeros(count - len(arrivals))])
    scaled = scale(predicted.values, arrivals, start, interval_s, moment, method)
    if aht_s is None:
        aht_s = mean_handle_time(engine, channels, history.start, start, timezone)
        if aht_s is None:
            raise ForecastError(
                f"no handle times stored for {'/'.join(channels)} before {day}: pass the "
                "average handle time (--aht SECONDS)")
    if patience_s == "auto":
        patience_s = estimate_patience(engine, channels, history.start, start)
    on_shift = scheduled_agents(engine, start, interval_s, count)
    needed = required_agents_for_intervals(scaled.values.tolist(), interval_s, aht_s,
                                           target_sl, target_time_s, max_occupancy, shrinkage,
                                           patience_s)
    planned = required_agents_for_intervals(predicted.values.tolist(), interval_s, aht_s,
                                            target_sl, target_time_s, max_occupancy, shrinkage,
                                            patience_s)
    rows = []
    for k, begins in enumerate(predicted.starts):
        required = needed[k].agents_with_shrinkage
        rows.append(ReforecastInterval(
            start=begins, forecast=round(float(predicted.values[k]), 4),
            actual=scaled.actual[k], reforecast=round(float(scaled.values[k]), 4),
            agents_required=required,
            agents_required_forecast=planned[k].agents_with_shrinkage,
            agents_scheduled=round(float(on_shift[k]), 4),
            gap=round(float(on_shift[k]) - required, 4)))
    return Reforecast(
        day=day, at=moment, timezone=timezone, interval_s=interval_s, channels=channels,
        forecast_method=predicted.method, method=method.value, ratio=scaled.ratio,
        arrived=scaled.arrived, forecast_so_far=scaled.forecast_so_far, aht_s=aht_s,
        target_service_level=target_sl, target_time_s=target_time_s,
        max_occupancy=max_occupancy, shrinkage=shrinkage, patience_s=patience_s,
        intervals=rows)


# --- backtest -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReforecastScore:
    """WAPE of the rest of the day, over every replayed day and time of day."""

    method: str  # "forecast" (no reforecast), "ratio", "weighted"
    at: time
    days: int
    actual: float
    wape: float | None


def reforecast_backtest(engine: Engine, days: Sequence[date], times: Sequence[time],
                        interval_s: int = defaults.INTERVAL_S,
                        channels: Sequence[str] = (defaults.CHANNEL,), timezone: str = "UTC",
                        forecast_method: ForecastMethod = ForecastMethod.baseline,
                        history_weeks: int = defaults.HISTORY_WEEKS,
                        credibility: float = CREDIBILITY_CALLS) -> list[ReforecastScore]:
    """Replay each day at each time of day: forecast it from the weeks before, reforecast the
    rest of the day from its arrivals up to that time with each method, and score each (and
    the forecast left alone) by WAPE = Σ|actual − predicted| / Σ actual over the rest of the
    days."""
    errors: dict[tuple[str, time], list[float]] = {}
    volume: dict[time, float] = {}
    for day in days:
        start, end = day_bounds(day, timezone, interval_s)
        count = round((end - start).total_seconds() / interval_s)
        history = history_before(engine, start, interval_s, channels, history_weeks)
        predicted = forecast(history, start, count, forecast_method, weeks=history_weeks,
                             timezone=timezone).values
        actual = arrival_history(engine, start, end, interval_s, channels).values
        for moment in times:
            at = datetime.combine(day, moment, zone_of(timezone)).astimezone(UTC)
            cutoff = at.timestamp()
            # arrivals before `at`: whole intervals before it, and the one in progress
            # counted from the stored arrival times
            so_far = arrival_history(engine, start, at, interval_s, channels).values
            so_far = np.concatenate([so_far, np.zeros(count - len(so_far))])
            elapsed = (cutoff - start.timestamp()) / interval_s
            future = 1.0 - np.clip(elapsed - np.arange(count), 0.0, 1.0)
            rest_actual = actual - so_far  # arrivals from `at` on
            volume[moment] = volume.get(moment, 0.0) + float(rest_actual.sum())
            candidates = {"forecast": predicted * future}
            for method in ReforecastMethod:
                scaled = scale(predicted, so_far, start, interval_s, at, method, credibility)
                candidates[method.value] = scaled.values - np.where(future < 1, so_far, 0.0)
            for name, rest in candidates.items():
                errors.setdefault((name, moment), []).append(
                    float(np.sum(np.abs(rest_actual - rest))))
    scores = []
    for (name, moment), absolute in errors.items():
        total = volume[moment]
        scores.append(ReforecastScore(name, moment, len(days), total,
                                      None if total <= 0 else sum(absolute) / total))
    return sorted(scores, key=lambda s: (s.at, s.method))


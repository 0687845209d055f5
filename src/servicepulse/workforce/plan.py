"""Staffing plan: agents required by the forecast against agents scheduled by shifts.

Per interval of [start, end):
- forecast arrivals (seasonal baseline or Holt-Winters from the `history_weeks` weeks before
  `start`) and the arrivals actually stored for the interval, if any;
- required agents by Erlang C (Erlang A with a patience) for the service-level target under the
  occupancy cap, and required scheduled agents after shrinkage;
- scheduled agents: agent-time on shift inside the interval / interval length (an agent on
  shift for half the interval counts 0.5; overlapping shifts of one agent count once);
- over/under = scheduled − required with shrinkage (negative: under-staffed);
- projected service level, occupancy, ASA (and abandonment) with the productive scheduled
  agents, floor(scheduled × (1 − shrinkage)).
AHT, unless given, is the KPI engine's `aht` of the channels over the history's days (the
figure `servicepulse kpi --kpis aht --by channel` gives for the same days): AHT is defined
once, in servicepulse.kpi.definitions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, func, select

from servicepulse.store.tables import interactions, shifts
from servicepulse.workforce import defaults
from servicepulse.workforce.erlang import (
    QueueMetrics,
    check_targets,
    erlang_a_metrics,
    erlang_c_metrics,
    required_agents_for_intervals,
)
from servicepulse.workforce.forecast import (
    WEEK_S,
    ArrivalSeries,
    ForecastError,
    ForecastMethod,
    arrival_history,
    first_arrival,
    forecast,
)
from servicepulse.workforce.simulation import HandleTime, IntervalLoad, WhatIf, what_if


class PlanInterval(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    forecast_calls: float
    actual_calls: int
    required_agents: int
    required_scheduled: int  # required agents after shrinkage
    scheduled_agents: float
    over_under: float  # scheduled − required_scheduled; negative = under-staffed
    projected_service_level: float  # 0-1, share of all arrivals answered in time
    projected_occupancy: float  # 0-1
    projected_asa: float | None  # seconds; None when the queue cannot keep up (Erlang C)
    projected_abandon: float | None  # 0-1, only with a patience


class StaffingPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    interval_s: int
    channels: list[str]
    method: str
    history_start: datetime
    aht_s: float
    target_service_level: float
    target_time_s: float
    max_occupancy: float
    shrinkage: float
    patience_s: float | None
    intervals: list[PlanInterval]

    @property
    def under_staffed(self) -> int:
        return sum(1 for row in self.intervals if row.over_under < 0)

    @property
    def required_agent_hours(self) -> float:
        return sum(row.required_scheduled for row in self.intervals) * self.interval_s / 3600

    @property
    def scheduled_agent_hours(self) -> float:
        return sum(row.scheduled_agents for row in self.intervals) * self.interval_s / 3600


def scheduled_agents(engine: Engine, start: datetime, interval_s: int, count: int) -> np.ndarray:
    """Agent-equivalents on shift per interval (time on shift inside it / its length)."""
    start_s = start.timestamp()
    end_s = start_s + count * interval_s
    query = (select(shifts.c.agent_id, shifts.c.start, shifts.c.end)
             .where(and_(shifts.c.start < end_s, shifts.c.end > start_s))
             .order_by(shifts.c.agent_id, shifts.c.start))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # Merge each agent's overlapping shifts, so a duplicated shift does not add a second agent.
    spans: list[tuple[float, float]] = []
    current_agent: str | None = None
    for row in rows:
        agent_id = str(row[0])
        begin, finish = max(float(row[1]), start_s), min(float(row[2]), end_s)
        if finish <= begin:
            continue
        if agent_id == current_agent and spans and begin <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], finish))
        else:
            spans.append((begin, finish))
        current_agent = agent_id
    on_shift = np.zeros(count)
    if not spans:
        return on_shift
    begins = np.array([s for s, _ in spans])
    finishes = np.array([f for _, f in spans])
    edges = start_s + np.arange(count + 1) * interval_s
    for k in range(count):
        overlap = np.minimum(finishes, edges[k + 1]) - np.maximum(begins, edges[k])
        on_shift[k] = overlap[overlap > 0].sum() / interval_s
    return on_shift


def mean_handle_time(engine: Engine, channels: Sequence[str], start: datetime,
                     end: datetime, timezone: str = "UTC") -> float | None:
    """The KPI engine's AHT (docs/kpis.md: handled interactions, talk + hold + wrap for phone
    and chat with talk time, else handle_s) of `channels` over the organisation's days from
    `start`'s to the day before `end`'s: `servicepulse kpi --kpis aht --by channel` over the
    same days gives it for one channel; for several, the engine's AHT of them together (the
    mean over all their handled contacts). None when no contact of the range has a handle
    time. Asked of the engine so that AHT is defined once: the plan and the dashboards read
    the same figure."""

    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery
    from servicepulse.kpi.settings import KpiSettings

    zone = ZoneInfo(timezone)
    first, stop = start.astimezone(zone).date(), end.astimezone(zone).date()
    if stop <= first:
        return None
    query = KpiQuery.model_validate({"kpis": ["aht"], "from": first, "to": stop,
                                     "filters": {"channel": list(channels)},
                                     "compare": False})
    # the engine's AHT reads no setting but the time zone (which days are in the range)
    figure = run_kpi_query(engine, query, KpiSettings(timezone=timezone)).figure("aht")
    return None if figure is None or figure.value is None else float(figure.value)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def default_plan_day(engine: Engine, timezone: str) -> date:
    """The day planned when none is asked, for the page and the command line alike: today,
    or the day after the newest stored contact when the data ends before today
    (`defaults.plan_day`)."""
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(interactions.c.created_at))).scalar()
    after = None
    if newest is not None:
        after = (datetime.fromtimestamp(float(newest), ZoneInfo(timezone)).date()
                 + timedelta(days=1))
    return defaults.plan_day(timezone, after)


def staffing_plan(engine: Engine, start: date, end: date,
                  interval_s: int = defaults.INTERVAL_S,
                  channels: Sequence[str] = (defaults.CHANNEL,),
                  target_sl: float = defaults.TARGET_SERVICE_LEVEL_PCT / 100,
                  target_time_s: float | None = None,
                  max_occupancy: float = defaults.MAX_OCCUPANCY_PCT / 100,
                  shrinkage: float = defaults.SHRINKAGE_PCT / 100,
                  patience_s: float | None = None, aht_s: float | None = None,
                  method: ForecastMethod = ForecastMethod.baseline,
                  history_weeks: int = defaults.HISTORY_WEEKS,
                  timezone: str = "UTC") -> StaffingPlan:
    """The plan for the days `start` to `end` (both included, UTC days).

    Fractions are 0-1; the defaults are `servicepulse.workforce.defaults`'. `target_time_s`
    defaults to the first channel's default service-level threshold (phone 20 s, chat 30 s).
    Raises ForecastError when there is no history to forecast from or no AHT.
    """
    if end < start:
        raise ForecastError(f"--to {end} is before --from {start}")
    channels = list(channels)
    if not channels:
        raise ForecastError("name at least one channel")
    if target_time_s is None:
        target_time_s = defaults.target_time_s(channels[0])
    check_targets(target_sl, target_time_s, max_occupancy, shrinkage)
    plan_start = _midnight(start)
    plan_end = _midnight(end) + timedelta(days=1)
    count = int((plan_end - plan_start).total_seconds()) // interval_s

    history_start = plan_start - timedelta(weeks=history_weeks)
    first = first_arrival(engine, channels, plan_start)
    if first is None:
        raise ForecastError(
            f"no inbound {'/'.join(channels)} interactions stored before {start}: import "
            "some history first (the forecast is built from it)")
    if first > history_start:
        # Start at the first stored arrival's interval, so the weeks before the data began
        # do not count as weeks without calls.
        offset = (first - history_start).total_seconds()
        history_start += timedelta(seconds=offset - offset % interval_s)
    history = arrival_history(engine, history_start, plan_start, interval_s, channels)
    predicted = forecast(history, plan_start, count, method, weeks=history_weeks,
                         timezone=timezone)
    actual = arrival_history(engine, plan_start, plan_end, interval_s, channels)

    if aht_s is None:
        aht_s = mean_handle_time(engine, channels, history_start, plan_start, timezone)
        if aht_s is None:
            raise ForecastError(
                f"no handle times stored for {'/'.join(channels)} before {start}: pass the "
                "average handle time (--aht SECONDS)")
    on_shift = scheduled_agents(engine, plan_start, interval_s, count)

    requirements = required_agents_for_intervals(
        predicted.values.tolist(), interval_s, aht_s, target_sl, target_time_s, max_occupancy,
        shrinkage, patience_s)
    rows = []
    for k, begins in enumerate(predicted.starts):
        calls = float(predicted.values[k])
        requirement = requirements[k]
        productive = math.floor(round(on_shift[k] * (1.0 - shrinkage), 9))
        projected = _projection(productive, calls, interval_s, aht_s, target_time_s,
                                patience_s)
        rows.append(PlanInterval(
            start=begins, end=begins + timedelta(seconds=interval_s),
            forecast_calls=round(calls, 4), actual_calls=int(actual.values[k]),
            required_agents=requirement.agents,
            required_scheduled=requirement.agents_with_shrinkage,
            scheduled_agents=round(float(on_shift[k]), 4),
            over_under=round(float(on_shift[k]) - requirement.agents_with_shrinkage, 4),
            projected_service_level=projected.service_level,
            projected_occupancy=projected.occupancy, projected_asa=projected.asa,
            projected_abandon=projected.probability_of_abandon))
    return StaffingPlan(
        start=plan_start, end=plan_end, interval_s=interval_s, channels=channels,
        method=predicted.method, history_start=history_start, aht_s=aht_s,
        target_service_level=target_sl, target_time_s=target_time_s,
        max_occupancy=max_occupancy, shrinkage=shrinkage, patience_s=patience_s,
        intervals=rows)


def _projection(agents: int, calls: float, interval_s: int, aht_s: float,
                target_time_s: float, patience_s: float | None) -> QueueMetrics:
    if patience_s is None:
        return erlang_c_metrics(agents, calls, interval_s, aht_s, target_time_s)
    return erlang_a_metrics(agents, calls, interval_s, aht_s, target_time_s, patience_s)


def history_series(engine: Engine, before: date, interval_s: int, channels: Sequence[str],
                   weeks: int) -> ArrivalSeries:
    """Whole weeks of history ending at midnight UTC of `before` (for forecasts and backtests),
    starting no earlier than the week of the first stored arrival."""
    end = _midnight(before)
    start = end - timedelta(weeks=weeks)
    first = first_arrival(engine, channels, end)
    if first is None:
        raise ForecastError(f"no inbound {'/'.join(channels)} interactions stored before "
                            f"{before}: import some history first")
    if first > start:
        whole_weeks = int((end - first).total_seconds() // WEEK_S)
        if whole_weeks < 1:
            raise ForecastError(f"less than one whole week of {'/'.join(channels)} history "
                                f"before {before}")
        start = end - timedelta(weeks=whole_weeks)
    return arrival_history(engine, start, end, interval_s, channels)


def plan_what_if(plan: StaffingPlan, staffing: str = "scheduled",
                 handle_time: HandleTime = HandleTime.exponential, handle_cv: float = 1.0,
                 replications: int = 20, seed: int = 0) -> WhatIf:
    """Simulate a plan's forecast arrivals with its productive scheduled agents
    (floor(scheduled × (1 − shrinkage))) or its required agents, against Erlang."""
    if staffing not in ("scheduled", "required"):
        raise ForecastError(f"staffing {staffing!r} is not known: use scheduled or required")
    loads = [IntervalLoad(row.forecast_calls,
                          math.floor(round(row.scheduled_agents * (1.0 - plan.shrinkage), 9))
                          if staffing == "scheduled" else row.required_agents)
             for row in plan.intervals]
    return what_if(loads, plan.interval_s, plan.aht_s, plan.target_time_s, plan.patience_s,
                   handle_time, handle_cv, replications, seed)

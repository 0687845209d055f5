"""Staffing in the web service: the staffing plan page with its charts, an Erlang calculator,
and the plan as JSON (or CSV) under `/api/v1`.

- GET /api/v1/staffing/plan[?format=csv]: `staffing_plan(...)` as JSON (the StaffingPlan
  model), or its intervals as a CSV download.
- GET /staffing: required against scheduled agents per interval (chart and table), projected
  service level and occupancy, and an Erlang C calculator (query parameters `calc_*`).
- GET /api/v1/staffing/reforecast and GET /staffing/today: the intraday reforecast
  (`servicepulse staffing reforecast`): today's forecast, the arrivals so far, the rest of the
  day reforecast from how it is running, agents required against scheduled. The page is for
  today as of now (it reloads every minute); `date` and `at` ask another day or moment.

Managers, admins and team leads (the whole plan: shifts are per agent and the forecast is for
the whole centre); 403 for agents, 401 without credentials. Dates follow the web service's
convention: `from` inclusive, `to` exclusive (UTC days); without them the plan is for today in
the organisation's time zone (or the day after the newest contact, when the data ends before
today), as `servicepulse staffing plan`'s. Percent inputs are 0-100, as
on the command line, and every default (interval, targets, occupancy cap, shrinkage, the
calculator's) is the command line's: both read `servicepulse.workforce.defaults`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, cast, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from servicepulse.errors import InvalidRequest
from servicepulse.web.access import Access
from servicepulse.web.csv_export import csv_response
from servicepulse.web.deps import LeadUser, ServicesDep
from servicepulse.web.routes.params import Format, FromDate, ToDate
from servicepulse.web.runners import RunContext
from servicepulse.web.services import Services, cache_key
from servicepulse.web.templating import templates
from servicepulse.web.users import User
from servicepulse.workforce import defaults
from servicepulse.workforce.erlang import ErlangInputError, required_agents
from servicepulse.workforce.forecast import ForecastError
from servicepulse.workforce.plan import StaffingPlan, default_plan_day, staffing_plan
from servicepulse.workforce.reforecast import (
    Reforecast,
    ReforecastMethod,
    intraday_reforecast,
)

router = APIRouter()
pages = APIRouter(include_in_schema=False)

IntervalMinutes = Literal[15, 30, 60]
INTERVAL_MINUTES: tuple[int, ...] = get_args(IntervalMinutes)
DEFAULT_INTERVAL_MINUTES = defaults.INTERVAL_S // 60
assert tuple(60 * m for m in INTERVAL_MINUTES) == defaults.PLAN_INTERVALS_S
MAX_PLAN_DAYS = 31  # a month of 15-minute intervals is ~3000 rows; longer is a typo


# --- runner ----------------------------------------------------------------------------------


class StaffingInput(BaseModel):
    """The plan's question; percentages 0-100 as on the command line."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None  # exclusive
    interval_minutes: IntervalMinutes = cast(IntervalMinutes, DEFAULT_INTERVAL_MINUTES)
    channel: str = Field(default=defaults.CHANNEL, min_length=1, max_length=50)
    target_sl: float = Field(default=defaults.TARGET_SERVICE_LEVEL_PCT, ge=0, lt=100)
    target_time_s: float | None = Field(default=None, ge=0)  # None: the channel's threshold
    max_occupancy: float = Field(default=defaults.MAX_OCCUPANCY_PCT, gt=0, le=100)
    shrinkage: float = Field(default=defaults.SHRINKAGE_PCT, ge=0, lt=100)


class StaffingRunner:
    """The staffing plan for a window: typed input, `run()`, the StaffingPlan as output."""

    def __init__(self, context: RunContext, params: StaffingInput) -> None:
        self.context, self.params = context, params

    def days(self) -> tuple[date, date]:
        """First and last day of the plan, both included."""
        start = self.params.from_ or (
            self.params.to - timedelta(days=1) if self.params.to
            else default_plan_day(self.context.engine, self.context.settings.timezone))
        end = self.params.to or start + timedelta(days=1)
        if end <= start:
            raise InvalidRequest(f"'to' ({end}) must be after 'from' ({start}); 'to' is exclusive")
        if (end - start).days > MAX_PLAN_DAYS:
            raise InvalidRequest(f"the plan {start} to {end} is longer than {MAX_PLAN_DAYS} days; "
                                 "narrow it")
        return start, end - timedelta(days=1)

    def run(self) -> StaffingPlan:
        start, last = self.days()
        p = self.params
        settings = self.context.settings
        target_time_s = p.target_time_s
        if target_time_s is None:  # the configured threshold (the app's KPI settings)
            target_time_s = defaults.target_time_s(p.channel, settings.service_level_thresholds)
        return staffing_plan(
            self.context.engine, start, last, interval_s=p.interval_minutes * 60,
            channels=(p.channel,), target_sl=p.target_sl / 100, target_time_s=target_time_s,
            max_occupancy=p.max_occupancy / 100, shrinkage=p.shrinkage / 100,
            timezone=self.context.settings.timezone)


def _staffing_input(
    from_: FromDate = None, to: ToDate = None,
    interval: Annotated[int, Query(description="minutes: 15, 30 or 60")
                        ] = DEFAULT_INTERVAL_MINUTES,
    channel: Annotated[str, Query(min_length=1, max_length=50)] = defaults.CHANNEL,
    target_sl: Annotated[float, Query(ge=0, lt=100, description="percent")
                         ] = defaults.TARGET_SERVICE_LEVEL_PCT,
    target_time: Annotated[float | None, Query(ge=0, description="seconds")] = None,
    max_occupancy: Annotated[float, Query(gt=0, le=100, description="percent")
                             ] = defaults.MAX_OCCUPANCY_PCT,
    shrinkage: Annotated[float, Query(ge=0, lt=100, description="percent")
                         ] = defaults.SHRINKAGE_PCT,
) -> StaffingInput:
    if interval not in INTERVAL_MINUTES:
        raise HTTPException(422, f"interval must be 15, 30 or 60 (minutes), got {interval}")
    return StaffingInput(**{"from": from_}, to=to,
                         interval_minutes=cast(IntervalMinutes, interval), channel=channel,
                         target_sl=target_sl, target_time_s=target_time,
                         max_occupancy=max_occupancy, shrinkage=shrinkage)


StaffingParams = Annotated[StaffingInput, Depends(_staffing_input)]


async def _plan(services: Services, params: StaffingInput) -> StaffingPlan:
    # The plan does not depend on who asks (leads see the whole plan), so all share it.
    context = services.context(Access())
    key = cache_key((), params.model_dump(mode="json"), {})
    plan: StaffingPlan = await services.run_cached(
        "staffing-plan", context, key, StaffingRunner(context, params).run)
    return plan


# --- Erlang calculator -----------------------------------------------------------------------


class ErlangResult(BaseModel):
    agents: int
    agents_with_shrinkage: int
    service_level: float  # percent
    asa: float | None  # seconds
    occupancy: float  # percent
    probability_of_waiting: float  # percent


def erlang_calculator(calls: float, interval_s: float, aht_s: float, target_sl: float,
                      target_time_s: float,
                      max_occupancy: float = defaults.MAX_OCCUPANCY_PCT,
                      shrinkage: float = defaults.SHRINKAGE_PCT) -> ErlangResult:
    """`servicepulse staffing erlang` for the page: percentages 0-100 in and out."""
    requirement = required_agents(calls, interval_s, aht_s, target_sl / 100, target_time_s,
                                  max_occupancy / 100, shrinkage / 100)
    metrics = requirement.metrics
    return ErlangResult(agents=requirement.agents,
                        agents_with_shrinkage=requirement.agents_with_shrinkage,
                        service_level=100 * metrics.service_level, asa=metrics.asa,
                        occupancy=100 * metrics.occupancy,
                        probability_of_waiting=100 * metrics.probability_of_waiting)


def _calculator(request: Request) -> tuple[dict[str, str], ErlangResult | None, str | None]:
    """The calculator's form values (from `calc_*` parameters) and its answer, if asked."""
    initial = {name: f"{value:g}" for name, value in (
        ("calls", defaults.CALCULATOR_CALLS),
        ("aht", defaults.CALCULATOR_AHT_S), ("target_sl", defaults.TARGET_SERVICE_LEVEL_PCT),
        ("target_time", defaults.target_time_s(defaults.CHANNEL)),
        ("max_occupancy", defaults.MAX_OCCUPANCY_PCT), ("shrinkage", defaults.SHRINKAGE_PCT))}
    initial = {"interval": defaults.INTERVAL, **initial}
    given = {name: request.query_params.get(f"calc_{name}", "").strip() for name in initial}
    values = {name: given[name] or default for name, default in initial.items()}
    if not given["calls"]:
        return values, None, None
    try:
        # the interval as on the command line: 15m, 30m, 1h or seconds
        interval_s = defaults.parse_interval(values["interval"],
                                             minimum_s=defaults.MIN_STAFFING_INTERVAL_S)
    except defaults.IntervalError as error:
        return values, None, str(error)
    plain = {name: text for name, text in values.items() if name != "interval"}
    try:
        numbers = {name: float(text) for name, text in plain.items()}
    except ValueError:
        bad = [name for name, text in plain.items() if not _is_number(text)]
        return values, None, f"not a number: {', '.join(bad)}; enter plain numbers"
    try:
        result = erlang_calculator(numbers["calls"], interval_s, numbers["aht"],
                                   numbers["target_sl"], numbers["target_time"],
                                   numbers["max_occupancy"], numbers["shrinkage"])
    except ErlangInputError as error:
        return values, None, str(error)
    return values, result, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- chart and table -------------------------------------------------------------------------


def plan_rows(plan: StaffingPlan) -> list[dict[str, Any]]:
    """One row per interval, percentages 0-100 (the table and the CSV download)."""
    return [{"start": row.start.isoformat(), "end": row.end.isoformat(),
             "forecast_calls": row.forecast_calls, "actual_calls": row.actual_calls,
             "required_agents": row.required_agents,
             "required_scheduled": row.required_scheduled,
             "scheduled_agents": row.scheduled_agents, "over_under": row.over_under,
             "projected_service_level": round(100 * row.projected_service_level, 2),
             "projected_occupancy": round(100 * row.projected_occupancy, 2),
             "projected_asa": None if row.projected_asa is None else round(row.projected_asa, 1)}
            for row in plan.intervals]


def chart_data(plan: StaffingPlan) -> dict[str, Any]:
    """What static/staffing.js draws: epoch seconds and one list per line."""
    rows = plan.intervals
    return {"x": [row.start.timestamp() for row in rows],
            "required": [row.required_scheduled for row in rows],
            "scheduled": [row.scheduled_agents for row in rows],
            "service_level": [round(100 * row.projected_service_level, 2) for row in rows],
            "occupancy": [round(100 * row.projected_occupancy, 2) for row in rows],
            "target_sl": 100 * plan.target_service_level,
            "max_occupancy": 100 * plan.max_occupancy}


# --- routes ----------------------------------------------------------------------------------


@router.get("/api/v1/staffing/plan", response_model=StaffingPlan)
async def staffing_plan_api(services: ServicesDep, _user: LeadUser, params: StaffingParams,
                            format: Format = "json") -> Response:
    """`servicepulse staffing plan`: forecast, required and scheduled agents per interval."""
    plan = await _plan(services, params)
    if format == "csv":
        return csv_response(plan_rows(plan), f"staffing-{plan.start.date()}.csv")
    return JSONResponse(plan.model_dump(mode="json"))


@pages.get("/staffing", response_class=HTMLResponse)
async def staffing_page(request: Request, services: ServicesDep, user: LeadUser,
                        params: StaffingParams) -> Response:
    calculator, result, calc_error = _calculator(request)
    plan: StaffingPlan | None = None
    error: str | None = None
    try:
        plan = await _plan(services, params)
    except InvalidRequest as problem:  # a ForecastError, an ErlangInputError, a window
        # No history yet, or a window the plan cannot use: say so next to the form.
        error = str(problem)
    return _render(request, user, plan=plan, error=error, input=params,
                   rows=plan_rows(plan) if plan else [],
                   chart=chart_data(plan) if plan else None,
                   calc=calculator, calc_result=result, calc_error=calc_error)


# --- intraday reforecast ----------------------------------------------------------------------

REFRESH_S = 60  # the page for today reloads this often: a new interval's arrivals show up


class ReforecastInput(BaseModel):
    model_config = ConfigDict(frozen=True)
    day: date | None = None  # None: today in the organisation's time zone
    at: time | None = None  # local time; None: now (today), the end of the day (a past day)
    interval_minutes: IntervalMinutes = cast(IntervalMinutes, DEFAULT_INTERVAL_MINUTES)
    channel: str = Field(default=defaults.CHANNEL, min_length=1, max_length=50)
    method: ReforecastMethod = ReforecastMethod.weighted


def _reforecast_input(
    day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD; default today")
                   ] = None,
    at: Annotated[str | None, Query(max_length=5, description="HH:MM local; default now")
                  ] = None,
    interval: Annotated[int, Query(description="minutes: 15, 30 or 60")
                        ] = DEFAULT_INTERVAL_MINUTES,
    channel: Annotated[str, Query(min_length=1, max_length=50)] = defaults.CHANNEL,
    method: ReforecastMethod = ReforecastMethod.weighted,
) -> ReforecastInput:
    if interval not in INTERVAL_MINUTES:
        raise HTTPException(422, f"interval must be 15, 30 or 60 (minutes), got {interval}")
    if day is not None and not 1970 <= day.year <= 9000:
        raise HTTPException(422, f"date: {day} is out of range; use a day between 1970 and 9000")
    clock = None
    if at:
        try:
            clock = datetime.strptime(at, "%H:%M").time()
        except ValueError:
            raise HTTPException(422, f"at: {at!r} is not a time of day; write HH:MM, e.g. "
                                     "10:30") from None
    return ReforecastInput(day=day, at=clock, interval_minutes=cast(IntervalMinutes, interval),
                           channel=channel, method=method)


ReforecastParams = Annotated[ReforecastInput, Depends(_reforecast_input)]


def run_reforecast(context: RunContext, params: ReforecastInput) -> Reforecast:
    timezone = context.settings.timezone
    zone = ZoneInfo(timezone)
    now = datetime.now(zone)
    day = params.day or now.date()
    moment: time | datetime
    if params.at is not None:
        moment = params.at
    elif day == now.date():
        moment = now
    elif day < now.date():
        moment = datetime.combine(day + timedelta(days=1), time(0), zone)
    else:
        moment = time(0)
    thresholds = context.settings.service_level_thresholds  # the app's KPI settings
    return intraday_reforecast(
        context.engine, day, moment, params.interval_minutes * 60, [params.channel], timezone,
        target_time_s=defaults.target_time_s(params.channel, thresholds),
        method=params.method)


async def _reforecast(services: Services, params: ReforecastInput) -> Reforecast:
    # The whole centre's queue, as the plan (leads see all of it); "now" moves, so a moment
    # of today is cached only within the minute asked.
    context = services.context(Access())
    minute = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    key = cache_key((), params.model_dump(mode="json"), minute)
    result: Reforecast = await services.run_cached(
        "staffing-reforecast", context, key, lambda: run_reforecast(context, params))
    return result


@router.get("/api/v1/staffing/reforecast")
async def staffing_reforecast_api(services: ServicesDep, _user: LeadUser,
                                  params: ReforecastParams) -> JSONResponse:
    """`servicepulse staffing reforecast --format json`: per interval the forecast, the
    arrivals so far (null after `at`), the reforecast, agents required, scheduled, the gap."""
    try:
        result = await _reforecast(services, params)
    except ForecastError as problem:
        raise HTTPException(422, str(problem)) from None
    return JSONResponse(result.as_dict())


@pages.get("/staffing/today", response_class=HTMLResponse)
async def staffing_today_page(request: Request, services: ServicesDep, user: LeadUser,
                              params: ReforecastParams) -> Response:
    result: Reforecast | None = None
    error: str | None = None
    try:
        result = await _reforecast(services, params)
    except InvalidRequest as problem:  # a ForecastError, an ErlangInputError, a window
        error = str(problem)
    zone = ZoneInfo(services.context(Access()).settings.timezone)
    rows = []
    if result is not None:
        at = result.at
        for row in result.intervals:
            ends = row.start + timedelta(seconds=result.interval_s)
            rows.append({**row.model_dump(), "time": f"{row.start.astimezone(zone):%H:%M}",
                         "state": "past" if ends <= at else ("now" if row.start <= at else
                                                             "later")})
    live = params.day is None and params.at is None
    params_now = dict(request.query_params.multi_items())
    return templates.TemplateResponse(request, "reforecast.html", {
        "user": user, "page": "staffing", "params": params_now, "input": params,
        "result": result, "error": error, "rows": rows, "live": live,
        "refresh_s": REFRESH_S, "zone": zone,
        "chart": None if result is None else {
            "x": [row.start.timestamp() for row in result.intervals],
            "forecast": [row.forecast for row in result.intervals],
            "actual": [row.actual for row in result.intervals],
            "reforecast": [row.reforecast for row in result.intervals],
            "required": [row.agents_required for row in result.intervals],
            "scheduled": [row.agents_scheduled for row in result.intervals],
            "at": result.at.timestamp(), "timezone": str(zone)}})


def _render(request: Request, user: User, **context: Any) -> Response:
    params = dict(request.query_params.multi_items())
    return templates.TemplateResponse(request, "staffing.html", {
        "user": user, "page": "staffing", "params": params, **context})


router.include_router(pages)

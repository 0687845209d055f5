"""`servicepulse staffing ...`: Erlang staffing, plans against shifts, forecasts, what-if runs.

Percentages on the command line are 0-100; the library works in fractions 0-1. Every default
(interval, targets, occupancy cap, shrinkage, the day planned, the time zone) comes from
`servicepulse.workforce.defaults` and the organisation's configuration, as on the staffing
page, so the same question gives the same plan in both. Every `--interval` takes 15m, 30m, 1h
or seconds. Bad input
exits with code 2 and says which option was wrong and what it accepts; a store without the
history a plan needs exits with code 1.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state
from servicepulse.workforce import defaults

if TYPE_CHECKING:
    from servicepulse.config import Settings

staffing_app = typer.Typer(help="Staffing: Erlang C/A, plans against shifts, forecasts, "
                                "what-if simulation.", no_args_is_help=True)
console = Console()


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Method(StrEnum):
    baseline = "baseline"
    holt_winters = "holt-winters"


class HandleTimeOption(StrEnum):
    exponential = "exponential"
    lognormal = "lognormal"


def register(app: typer.Typer) -> None:
    from servicepulse.cli.bench import bench_app

    app.add_typer(staffing_app, name="staffing")
    bench_app.command("workforce")(bench_workforce)


def bench_workforce(
    runs: Annotated[int, typer.Option("--runs", min=3, help="Runs; medians are reported.")] = 7,
) -> None:
    """Required-agent solving for a day of 96 intervals, against pyworkforce."""
    from servicepulse.bench.workforce import run_workforce_bench

    typer.echo(run_workforce_bench(runs))


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _require(ok: bool, option: str, message: str) -> None:
    if not ok:
        raise typer.BadParameter(message, param_hint=option)


def _percent(value: float, option: str, *, allow_100: bool, allow_0: bool = True) -> float:
    upper_ok = value <= 100 if allow_100 else value < 100
    lower_ok = value >= 0 if allow_0 else value > 0
    if not (_finite(value) and upper_ok and lower_ok):
        low = "at least 0" if allow_0 else "above 0"
        high = "at most 100" if allow_100 else "below 100"
        raise typer.BadParameter(f"{value:g} is out of range: give a percentage {low} and "
                                 f"{high}", param_hint=option)
    return value / 100.0


def _positive(value: float, option: str, what: str = "seconds") -> float:
    _require(_finite(value) and value > 0, option, f"{value:g} must be a positive number of "
             f"{what}")
    return value


def _nonnegative(value: float, option: str, what: str) -> float:
    _require(_finite(value) and value >= 0, option, f"{value:g} must be 0 or more {what}")
    return value


def _settings(ctx: typer.Context) -> Settings:
    """The configuration, loaded once by the command line's start (cli/context.py)."""
    return state(ctx).settings()


def _timezone(ctx: typer.Context, value: str | None) -> str:
    """--timezone, else the organisation's (`timezone` in servicepulse.toml)."""
    return value or str(_settings(ctx).timezone)


def _target_time(ctx: typer.Context, value: float | None, channel: str) -> float:
    """--target-time, else the channel's service-level threshold (the organisation's
    `service_level_threshold_s`: phone 20 s, chat 30 s by default)."""
    if value is not None:
        return _nonnegative(value, "--target-time", "seconds")
    return defaults.target_time_s(channel, _settings(ctx).service_level_threshold_s)


def _plan_day(ctx: typer.Context, timezone: str) -> date:
    """Today, or the day after the newest stored contact when the data ends before today:
    the staffing page's default (`plan.default_plan_day`)."""
    from servicepulse.workforce.plan import default_plan_day

    return default_plan_day(state(ctx).engine(), timezone)


def _any_interval(value: str) -> int:
    """An Erlang or what-if interval: any length of a minute or more."""
    try:
        return defaults.parse_interval(value, minimum_s=defaults.MIN_STAFFING_INTERVAL_S)
    except defaults.IntervalError as exc:
        raise typer.BadParameter(str(exc), param_hint="--interval") from None


def _fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _fmt_seconds(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} s"


# --- erlang -------------------------------------------------------------------------------

@staffing_app.command("erlang")
def erlang(
    ctx: typer.Context,
    calls: Annotated[float, typer.Option("--calls", help="Calls arriving in the interval.")],
    aht: Annotated[float, typer.Option("--aht", help="Average handle time, seconds.")],
    interval: Annotated[str, typer.Option(
        "--interval", help="Interval length: 15m, 30m, 1h or seconds.")] = defaults.INTERVAL,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Service-level target, %.")
                         ] = defaults.TARGET_SERVICE_LEVEL_PCT,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Answer within this many seconds; default the phone "
                              "service-level threshold (20 s unless configured).")] = None,
    max_occupancy: Annotated[float, typer.Option(
        "--max-occupancy", help="Occupancy cap, % (100 = no cap).")
    ] = defaults.MAX_OCCUPANCY_PCT,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Share of paid time not on the phones, %.")
    ] = defaults.SHRINKAGE_PCT,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean customer patience, seconds: switches to Erlang A.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Agents required for a service-level target (Erlang C, or Erlang A with --patience)."""
    from servicepulse.workforce.erlang import ErlangInputError, required_agents

    _nonnegative(calls, "--calls", "calls")
    interval_s = _any_interval(interval)
    _positive(aht, "--aht")
    sl = _percent(target_sl, "--target-sl", allow_100=False)
    target_time = _target_time(ctx, target_time, defaults.CHANNEL)
    cap = _percent(max_occupancy, "--max-occupancy", allow_100=True, allow_0=False)
    shrink = _percent(shrinkage, "--shrinkage", allow_100=False)
    if patience is not None:
        _positive(patience, "--patience")
    try:
        requirement = required_agents(calls, interval_s, aht, sl, target_time, cap, shrink,
                                      patience)
    except ErlangInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    result = requirement.as_dict()
    if output is OutputFormat.json:
        typer.echo(json.dumps(result))
        return
    m = requirement.metrics
    table = Table(title="Erlang A" if patience is not None else "Erlang C",
                  caption=f"{calls:g} calls in {_interval_text(interval_s)}, AHT {aht:g} s: "
                          f"{m.traffic:.2f} Erlangs; occupancy cap {100 * cap:g}%")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("agents required", str(requirement.agents))
    table.add_row(f"agents with {shrinkage:g}% shrinkage", str(requirement.agents_with_shrinkage))
    table.add_row(f"service level ({target_time:g} s; target {target_sl:g}%)",
                  _fmt_pct(m.service_level))
    table.add_row("occupancy", _fmt_pct(m.occupancy))
    table.add_row("average speed of answer", _fmt_seconds(m.asa))
    table.add_row("probability of waiting", _fmt_pct(m.probability_of_waiting))
    if m.probability_of_abandon is not None:
        table.add_row("probability of abandoning", _fmt_pct(m.probability_of_abandon))
    console.print(table)


# --- plan ---------------------------------------------------------------------------------



def _interval_seconds(value: str) -> int:
    """A plan or forecast interval: 15m, 30m or 1h (they repeat through the day)."""
    try:
        return defaults.parse_interval(value, allowed=defaults.PLAN_INTERVALS_S)
    except defaults.IntervalError as exc:
        raise typer.BadParameter(str(exc), param_hint="--interval") from None


def _interval_text(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def _fail(message: str) -> typer.Exit:
    # soft_wrap: a message is one line, whatever the terminal width, so scripts can grep it.
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(1)


ChannelOption = Annotated[list[str] | None, typer.Option(
    "--channel", help=f"Channel(s) forming the queue (repeat the option); default "
                      f"{defaults.CHANNEL}.")]


def _channels(values: list[str] | None) -> list[str]:
    from servicepulse.records.models import Channel

    chosen = values or [defaults.CHANNEL]
    known = {channel.value for channel in Channel}
    for value in chosen:
        _require(value in known, "--channel",
                 f"{value!r} is not a channel: use one of {', '.join(sorted(known))}")
    return chosen


@staffing_app.command("plan")
def plan(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help="First day, YYYY-MM-DD; default today (organisation time zone), or "
                       "the day after the newest contact if the data ends before.")
    ] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Last day, included; default the --from day.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 1h.")
                        ] = defaults.INTERVAL,
    channel: ChannelOption = None,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Target, %.")
                         ] = defaults.TARGET_SERVICE_LEVEL_PCT,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Seconds; default the channel's service-level threshold "
                              "(phone 20, chat 30 unless configured).")] = None,
    max_occupancy: Annotated[float, typer.Option("--max-occupancy", help="Cap, %.")
                             ] = defaults.MAX_OCCUPANCY_PCT,
    shrinkage: Annotated[float, typer.Option("--shrinkage", help="%.")
                         ] = defaults.SHRINKAGE_PCT,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds (Erlang A).")] = None,
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Average handle time, seconds; default from the stored history.")] = None,
    method: Annotated[Method, typer.Option("--method")] = Method.baseline,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)
                             ] = defaults.HISTORY_WEEKS,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="IANA zone in which weekdays and times of day repeat; default the "
                           "organisation's.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Required against scheduled agents per interval, with projected service level."""
    from servicepulse.workforce.erlang import ErlangInputError
    from servicepulse.workforce.forecast import ForecastError, ForecastMethod
    from servicepulse.workforce.plan import staffing_plan

    interval_s = _interval_seconds(interval)
    zone = _timezone(ctx, timezone)
    first = parse_date(start, "--from") or _plan_day(ctx, zone)
    last = parse_date(end, "--to") or first
    _require(last >= first, "--to", f"{last} is before --from {first}")
    sl = _percent(target_sl, "--target-sl", allow_100=False)
    cap = _percent(max_occupancy, "--max-occupancy", allow_100=True, allow_0=False)
    shrink = _percent(shrinkage, "--shrinkage", allow_100=False)
    if patience is not None:
        _positive(patience, "--patience")
    if aht is not None:
        _positive(aht, "--aht")
    channels = _channels(channel)
    target_time = _target_time(ctx, target_time, channels[0])
    engine = state(ctx).engine()
    try:
        result = staffing_plan(engine, first, last, interval_s, channels, sl, target_time, cap,
                               shrink, patience, aht, ForecastMethod(method.value),
                               history_weeks, zone)
    except ErlangInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except ForecastError as exc:
        raise _fail(str(exc)) from exc
    if output is OutputFormat.json:
        payload = result.model_dump(mode="json")
        payload["summary"] = {"under_staffed_intervals": result.under_staffed,
                              "required_agent_hours": round(result.required_agent_hours, 2),
                              "scheduled_agent_hours": round(result.scheduled_agent_hours, 2)}
        typer.echo(json.dumps(payload))
        return
    table = Table(title=f"Staffing plan {first} to {last} ({'/'.join(channels)})")
    legend = (f"{interval_s // 60}-minute intervals (UTC); target {100 * sl:g}% "
                           f"in {result.target_time_s:g} s, occupancy ≤ {100 * cap:g}%, "
                           f"shrinkage {100 * shrink:g}%, AHT {result.aht_s:.0f} s, forecast "
                           f"{result.method}; fcst = forecast arrivals, act. = stored "
                           "arrivals, req+shr = required after shrinkage, sched = agents "
                           "on shift")
    table.box = None  # 80 columns fit ten numeric columns only without rules
    table.pad_edge = False
    for name in ("time", "fcst", "act.", "req", "req+shr", "sched", "+/-", "SL", "occ",
                 "ASA"):
        table.add_column(name, justify="left" if name == "time" else "right", no_wrap=True)
    several_days = last > first
    for row in result.intervals:
        style = "red" if row.over_under < 0 else None
        table.add_row(
            f"{row.start:%m-%d %H:%M}" if several_days else f"{row.start:%H:%M}",
            f"{row.forecast_calls:.1f}", str(row.actual_calls), str(row.required_agents),
            str(row.required_scheduled), f"{row.scheduled_agents:.2f}",
            f"{row.over_under:+.2f}", _fmt_pct(row.projected_service_level, 1),
            _fmt_pct(row.projected_occupancy, 1), _fmt_seconds(row.projected_asa, 0),
            style=style)
    console.print(table)
    console.print(legend)
    console.print(f"under-staffed intervals: {result.under_staffed} of {len(result.intervals)}; "
                  f"agent-hours required {result.required_agent_hours:.1f}, scheduled "
                  f"{result.scheduled_agent_hours:.1f}")


# --- forecast -----------------------------------------------------------------------------

@staffing_app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help="First forecast day, YYYY-MM-DD; default today (organisation time "
                       "zone), or the day after the newest contact if the data ends before.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 1h.")
                        ] = defaults.INTERVAL,
    channel: ChannelOption = None,
    method: Annotated[Method, typer.Option("--method")] = Method.baseline,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)
                             ] = defaults.HISTORY_WEEKS,
    backtest_weeks: Annotated[int, typer.Option(
        "--backtest-weeks", min=0, help="Held-out weeks scored by WAPE (0: none).")
    ] = defaults.BACKTEST_WEEKS,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="IANA zone in which weekdays and times of day repeat; default the "
                           "organisation's.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Forecast arrivals per interval from the stored history, with a WAPE backtest."""
    from servicepulse.workforce.forecast import ForecastError, ForecastMethod, backtest, forecast
    from servicepulse.workforce.plan import history_series

    interval_s = _interval_seconds(interval)
    zone = _timezone(ctx, timezone)
    first = parse_date(start, "--from") or _plan_day(ctx, zone)
    last = parse_date(end, "--to") or first
    _require(last >= first, "--to", f"{last} is before --from {first}")
    channels = _channels(channel)
    chosen = ForecastMethod(method.value)
    engine = state(ctx).engine()
    try:
        history = history_series(engine, first, interval_s, channels, history_weeks)
        count = ((last - first).days + 1) * 86400 // interval_s
        predicted = forecast(history, datetime(first.year, first.month, first.day, tzinfo=UTC),
                             count, chosen, history_weeks, zone)
    except ForecastError as exc:
        raise _fail(str(exc)) from exc
    tested, skipped = None, None
    if backtest_weeks:
        try:
            tested = backtest(history, backtest_weeks, chosen, history_weeks, zone)
        except ForecastError as exc:
            skipped = f"backtest skipped: {exc}"  # the forecast itself is still useful
    if output is OutputFormat.json:
        typer.echo(json.dumps({
            "method": predicted.method, "interval_s": interval_s, "channels": channels,
            "history_start": history.start.isoformat(),
            "intervals": [{"start": s.isoformat(), "forecast": round(float(v), 4)}
                          for s, v in zip(predicted.starts, predicted.values, strict=True)],
            "backtest_skipped": skipped,
            "backtest": None if tested is None else {
                "wape": None if tested.wape is None else round(tested.wape, 6),
                "weeks": [{"week_start": w.week_start.isoformat(), "actual": w.actual,
                           "forecast": round(w.forecast, 4),
                           "wape": None if w.wape is None else round(w.wape, 6)}
                          for w in tested.weeks]},
        }))
        return
    table = Table(title=f"Forecast of inbound {'/'.join(channels)} arrivals ({predicted.method})")
    table.add_column("day (UTC)")
    table.add_column("arrivals", justify="right")
    table.add_column("peak interval", justify="right")
    per_day = 86400 // interval_s
    for d in range(len(predicted.values) // per_day):
        values = predicted.values[d * per_day:(d + 1) * per_day]
        peak = int(values.argmax())
        peak_start = predicted.start + timedelta(seconds=(d * per_day + peak) * interval_s)
        table.add_row(f"{first + timedelta(days=d):%a %Y-%m-%d}", f"{values.sum():.0f}",
                      f"{peak_start:%H:%M} ({values[peak]:.1f})")
    console.print(table)
    if skipped is not None:
        console.print(skipped, soft_wrap=True)
    if tested is not None:
        for week in tested.weeks:
            console.print(f"backtest week from {week.week_start:%Y-%m-%d}: actual "
                          f"{week.actual:.0f}, forecast {week.forecast:.0f}, "
                          f"WAPE {_fmt_pct(week.wape)}")
        console.print(f"backtest WAPE over {len(tested.weeks)} held-out week(s): "
                      f"{_fmt_pct(tested.wape)}")


# --- intraday reforecast -------------------------------------------------------------------

class ReforecastMethodOption(StrEnum):
    weighted = "weighted"
    ratio = "ratio"


def _clock(value: str, option: str) -> Any:
    """HH:MM (24-hour) -> a time of day."""
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time of day: write HH:MM, e.g. 10:30",
                                 param_hint=option) from None


def _patience(value: str) -> float | Literal["auto"] | None:
    """--patience: auto (estimated from the history), none (Erlang C) or seconds."""
    text = value.strip().lower()
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        seconds = float(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not understood: write auto, none or a number "
                                 "of seconds", param_hint="--patience") from None
    return _positive(seconds, "--patience")


@staffing_app.command("reforecast")
def reforecast_command(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option(
        "--date", help="The day, YYYY-MM-DD (local to --timezone); default today.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="Local time HH:MM up to which arrivals are known; default now (today) "
                     "or the end of the day (a past day).")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 1h.")
                        ] = defaults.INTERVAL,
    channel: ChannelOption = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="IANA zone of the day and --at; default the organisation's.")
    ] = None,
    method: Annotated[ReforecastMethodOption, typer.Option(
        "--method", help="weighted (the default: the day's ratio trusted as its volume "
                         "grows) or ratio (actual / forecast so far, the classic).")
    ] = ReforecastMethodOption.weighted,
    forecast_method: Annotated[Method, typer.Option(
        "--forecast-method", help="The day's forecast, as `staffing forecast --method`.")
    ] = Method.baseline,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Target, %.")
                         ] = defaults.TARGET_SERVICE_LEVEL_PCT,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Seconds; default the channel's service-level threshold.")
    ] = None,
    max_occupancy: Annotated[float, typer.Option("--max-occupancy", help="Cap, %.")
                             ] = defaults.MAX_OCCUPANCY_PCT,
    shrinkage: Annotated[float, typer.Option("--shrinkage", help="%.")
                         ] = defaults.SHRINKAGE_PCT,
    patience: Annotated[str, typer.Option(
        "--patience", help="Mean patience: auto (estimated from the history's abandoned "
                           "contacts: Erlang A, or Erlang C when none abandon), none "
                           "(Erlang C) or seconds.")] = "auto",
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Average handle time, seconds; default from the stored history.")] = None,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)
                             ] = defaults.HISTORY_WEEKS,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")
                      ] = OutputFormat.table,
) -> None:
    """Intraday reforecast: the day's forecast, arrivals so far, the rest of the day
    reforecast from how it is running, and agents required against scheduled."""
    from zoneinfo import ZoneInfo

    from servicepulse.workforce.erlang import ErlangInputError
    from servicepulse.workforce.forecast import ForecastError, ForecastMethod
    from servicepulse.workforce.reforecast import (
        ReforecastMethod,
        intraday_reforecast,
        zone_of,
    )

    interval_s = _interval_seconds(interval)
    zone = _timezone(ctx, timezone)
    try:
        zone_of(zone)
    except ForecastError as exc:
        raise typer.BadParameter(str(exc), param_hint="--timezone") from None
    now = datetime.now(ZoneInfo(zone))
    chosen_day = parse_date(day, "--date") or now.date()
    if at is not None:
        moment: Any = _clock(at, "--at")
    elif chosen_day == now.date():
        moment = now
    elif chosen_day < now.date():
        moment = datetime.combine(chosen_day + timedelta(days=1), datetime.min.time(),
                                  ZoneInfo(zone))
    else:
        moment = datetime.min.time()
    sl = _percent(target_sl, "--target-sl", allow_100=False)
    cap = _percent(max_occupancy, "--max-occupancy", allow_100=True, allow_0=False)
    shrink = _percent(shrinkage, "--shrinkage", allow_100=False)
    if aht is not None:
        _positive(aht, "--aht")
    channels = _channels(channel)
    target_s = _target_time(ctx, target_time, channels[0])
    try:
        result = intraday_reforecast(
            state(ctx).engine(), chosen_day, moment, interval_s, channels, zone, sl,
            target_s, cap, shrink, _patience(patience), aht,
            ForecastMethod(forecast_method.value), history_weeks,
            ReforecastMethod(method.value))
    except ErlangInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except ForecastError as exc:
        raise _fail(str(exc)) from exc
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_dict()))
        return
    local = ZoneInfo(zone)
    at_text = f"{result.at.astimezone(local):%H:%M}"
    table = Table(title=f"Reforecast of {chosen_day} at {at_text} ({'/'.join(channels)}, "
                        f"{zone})")
    table.box = None
    table.pad_edge = False
    for name in ("time", "fcst", "actual", "refcst", "req", "sched", "gap"):
        table.add_column(name, justify="left" if name == "time" else "right", no_wrap=True)
    for row in result.intervals:
        table.add_row(f"{row.start.astimezone(local):%H:%M}", f"{row.forecast:.1f}",
                      "" if row.actual is None else str(row.actual), f"{row.reforecast:.1f}",
                      str(row.agents_required), f"{row.agents_scheduled:.2f}",
                      f"{row.gap:+.2f}", style="red" if row.gap < 0 else None)
    console.print(table)
    console.print(
        f"{result.arrived} arrived by {at_text} against {result.forecast_so_far:.1f} forecast: "
        f"the rest of the day scaled by {result.ratio:.3f} ({result.method}); day forecast "
        f"{result.forecast_total:.0f}, reforecast {result.reforecast_total:.0f}.", soft_wrap=True)
    model = (f"Erlang A (patience {result.patience_s:.0f} s)" if result.patience_s is not None
             else "Erlang C")
    console.print(
        f"{interval_s // 60}-minute intervals, local times; req = agents required for "
        f"{100 * sl:g}% in {result.target_time_s:g} s by {model}, occupancy ≤ {100 * cap:g}%, "
        f"shrinkage {100 * shrink:g}%, AHT {result.aht_s:.0f} s; sched = agents on shift; "
        f"gap = sched − req (red: short). Short from now: {result.short_intervals} "
        "interval(s).", soft_wrap=True)


@staffing_app.command("reforecast-backtest")
def reforecast_backtest_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day replayed, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day replayed, included.")],
    at: Annotated[list[str] | None, typer.Option(
        "--at", help="Times of day HH:MM to replay (repeat); default 09:00, 11:00, 13:00, "
                     "15:00.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 1h.")
                        ] = defaults.INTERVAL,
    channel: ChannelOption = None,
    timezone: Annotated[str | None, typer.Option("--timezone")] = None,
    credibility: Annotated[float, typer.Option(
        "--credibility", help="The weighted method's prior, in calls.")
    ] = defaults.REFORECAST_CREDIBILITY_CALLS,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)
                             ] = defaults.HISTORY_WEEKS,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Score the reforecast methods on past days: WAPE of the rest of each day."""
    from servicepulse.workforce.forecast import ForecastError
    from servicepulse.workforce.reforecast import reforecast_backtest

    first = parse_date(start, "--from")
    last = parse_date(end, "--to")
    assert first is not None and last is not None
    _require(last >= first, "--to", f"{last} is before --from {first}")
    _nonnegative(credibility, "--credibility", "calls")
    times = [_clock(value, "--at") for value in (at or ["09:00", "11:00", "13:00", "15:00"])]
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    try:
        scores = reforecast_backtest(state(ctx).engine(), days, times, _interval_seconds(interval),
                                     _channels(channel), _timezone(ctx, timezone),
                                     history_weeks=history_weeks, credibility=credibility)
    except ForecastError as exc:
        raise _fail(str(exc)) from exc
    if output is OutputFormat.json:
        typer.echo(json.dumps([{"method": s.method, "at": s.at.strftime("%H:%M"),
                                "days": s.days, "actual": s.actual,
                                "wape": None if s.wape is None else round(s.wape, 4)}
                               for s in scores]))
        return
    methods = list(dict.fromkeys(s.method for s in scores))
    table = Table(title=f"Reforecast backtest, {first} to {last} ({len(days)} days): WAPE of "
                        "the rest of the day")
    table.add_column("at")
    table.add_column("arrivals after", justify="right")
    for method in methods:
        table.add_column(method, justify="right")
    for moment in times:
        row = {s.method: s for s in scores if s.at == moment}
        table.add_row(moment.strftime("%H:%M"), f"{next(iter(row.values())).actual:.0f}",
                      *[_fmt_pct(row[m].wape, 1) for m in methods])
    console.print(table)
    console.print("forecast: the day's forecast left alone; ratio: scaled by actual / forecast "
                  f"so far; weighted: the ratio with a prior of {credibility:g} calls.",
                  soft_wrap=True)


# --- what-if ------------------------------------------------------------------------------

class Staffing(StrEnum):
    scheduled = "scheduled"
    required = "required"


@staffing_app.command("whatif")
def whatif(
    ctx: typer.Context,
    calls: Annotated[list[float] | None, typer.Option(
        "--calls", help="Calls per interval; repeat for several intervals.")] = None,
    agents: Annotated[list[int] | None, typer.Option(
        "--agents", help="Agents on duty per interval; one value applies to every interval.")
    ] = None,
    start: Annotated[str | None, typer.Option(
        "--from", help="Instead of --calls/--agents: simulate the stored plan from this day "
                       "(YYYY-MM-DD, UTC).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last plan day, included.")] = None,
    staffing: Annotated[Staffing, typer.Option(
        "--staffing", help="Plan mode: the productive scheduled agents or the required ones.")
    ] = Staffing.scheduled,
    channel: ChannelOption = None,
    interval: Annotated[str, typer.Option(
        "--interval", help="15m, 30m, 1h or seconds (plan mode: 15m, 30m or 1h).")
    ] = defaults.INTERVAL,
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Average handle time, seconds (plan mode: default from history).")
    ] = None,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Seconds; default the channel's service-level threshold "
                              "(phone 20, chat 30 unless configured).")] = None,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Plan mode, %.")
                         ] = defaults.TARGET_SERVICE_LEVEL_PCT,
    max_occupancy: Annotated[float, typer.Option("--max-occupancy", help="Plan mode, %.")
                             ] = defaults.MAX_OCCUPANCY_PCT,
    shrinkage: Annotated[float, typer.Option("--shrinkage", help="Plan mode, %.")
                         ] = defaults.SHRINKAGE_PCT,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds (exponential; compares with Erlang A).")
    ] = None,
    handle_time: Annotated[HandleTimeOption, typer.Option(
        "--handle-time", help="Handle-time distribution.")] = HandleTimeOption.exponential,
    handle_cv: Annotated[float, typer.Option(
        "--handle-cv", help="Coefficient of variation of a lognormal handle time.")] = 1.0,
    repeat: Annotated[int, typer.Option(
        "--repeat", min=1, help="Run the given intervals this many times in a row.")] = 1,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)
                             ] = defaults.HISTORY_WEEKS,
    replications: Annotated[int, typer.Option("--replications", min=1)] = 20,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Simulate a proposed staffing (or a stored plan's) against the Erlang prediction."""
    from servicepulse.workforce.erlang import ErlangInputError
    from servicepulse.workforce.forecast import ForecastError
    from servicepulse.workforce.plan import plan_what_if, staffing_plan
    from servicepulse.workforce.simulation import HandleTime, IntervalLoad, what_if

    if aht is not None:
        _positive(aht, "--aht")
    channels = _channels(channel)
    target_time = _target_time(ctx, target_time, channels[0])
    if patience is not None:
        _positive(patience, "--patience")
    _positive(handle_cv, "--handle-cv", "(a ratio)")
    distribution = HandleTime(handle_time.value)
    if start is not None:
        _require(not calls and not agents, "--from",
                 "give either --from (simulate the stored plan) or --calls/--agents, not both")
        first = parse_date(start, "--from") or datetime.now(UTC).date()
        last = parse_date(end, "--to") or first
        _require(last >= first, "--to", f"{last} is before --from {first}")
        try:
            plan = staffing_plan(
                state(ctx).engine(), first, last, _interval_seconds(interval),
                channels, _percent(target_sl, "--target-sl", allow_100=False),
                target_time, _percent(max_occupancy, "--max-occupancy", allow_100=True,
                                      allow_0=False),
                _percent(shrinkage, "--shrinkage", allow_100=False), patience, aht,
                history_weeks=history_weeks, timezone=_timezone(ctx, None))
            result = plan_what_if(plan, staffing.value, distribution, handle_cv,
                                  replications, seed)
        except ErlangInputError as exc:
            raise typer.BadParameter(str(exc)) from exc
        except ForecastError as exc:
            raise _fail(str(exc)) from exc
    else:
        _require(bool(calls), "--calls", "give --calls (one per interval) and --agents, or "
                 "--from to simulate the stored plan")
        _require(bool(agents), "--agents", "give the agents on duty (one value, or one per "
                 "--calls)")
        _require(aht is not None, "--aht", "give the average handle time in seconds")
        assert calls is not None and agents is not None and aht is not None
        for value in calls:
            _nonnegative(value, "--calls", "calls")
        for count in agents:
            _require(count >= 0, "--agents", f"{count} must be 0 or more agents")
        _require(len(agents) in (1, len(calls)), "--agents",
                 f"give one --agents or one per --calls ({len(calls)}), not {len(agents)}")
        interval_s = _any_interval(interval)
        proposed = agents if len(agents) == len(calls) else agents * len(calls)
        loads = [IntervalLoad(c, a) for c, a in zip(calls, proposed, strict=True)] * repeat
        result = what_if(loads, interval_s, aht, target_time, patience, distribution,
                         handle_cv, replications, seed)
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.as_dict()))
        return
    model = "Erlang A" if patience is not None else "Erlang C"
    table = Table(title=f"What-if: simulation ({replications} runs, seed {seed}, "
                        f"{handle_time.value} handle time) against {model}")
    table.box = None  # 80 columns fit eleven numeric columns only without rules
    table.pad_edge = False
    headers = ["#", "calls", "agents", "SL", "SL E", "occ", "occ E", "ASA", "ASA E"]
    if patience is not None:
        headers += ["aband.", "aband. E"]
    for name in headers:
        table.add_column(name, justify="right", no_wrap=True)
    for k, row in enumerate(result.intervals, start=1):
        cells = [str(k), f"{row.load.calls:g}", str(row.load.agents),
                 _fmt_pct(row.simulated.service_level, 1),
                 _fmt_pct(row.predicted.service_level, 1),
                 _fmt_pct(row.simulated.occupancy, 1), _fmt_pct(row.predicted.occupancy, 1),
                 _fmt_seconds(row.simulated.asa), _fmt_seconds(row.predicted.asa)]
        if patience is not None:
            cells += [_fmt_pct(row.simulated.abandon_rate, 1),
                      _fmt_pct(row.predicted.probability_of_abandon, 1)]
        table.add_row(*cells)
    console.print(table)
    sim = result.simulation
    console.print(f"E = {model}'s prediction, beside the simulated figure; simulated overall: "
                  f"service level {_fmt_pct(sim.service_level)} "
                  f"(± {_fmt_pct(sim.service_level_ci95)}), occupancy {_fmt_pct(sim.occupancy)}, "
                  f"ASA {_fmt_seconds(sim.asa)}, not answered (abandoned, or nobody on duty to the "
                  f"end) {_fmt_pct(sim.abandon_rate)}")

"""`servicepulse staffing ...`: Erlang staffing, plans against shifts, forecasts, what-if runs.

Percentages on the command line are 0-100; the library works in fractions 0-1. Bad input
exits with code 2 and says which option was wrong and what it accepts; a store without the
history a plan needs exits with code 1.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state

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


def _fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _fmt_seconds(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} s"


# --- erlang -------------------------------------------------------------------------------

@staffing_app.command("erlang")
def erlang(
    calls: Annotated[float, typer.Option("--calls", help="Calls arriving in the interval.")],
    interval: Annotated[float, typer.Option("--interval", help="Interval length, seconds.")],
    aht: Annotated[float, typer.Option("--aht", help="Average handle time, seconds.")],
    target_sl: Annotated[float, typer.Option("--target-sl", help="Service-level target, %.")],
    target_time: Annotated[float, typer.Option(
        "--target-time", help="Answer within this many seconds.")],
    max_occupancy: Annotated[float, typer.Option(
        "--max-occupancy", help="Occupancy cap, % (100 = no cap).")] = 100.0,
    shrinkage: Annotated[float, typer.Option(
        "--shrinkage", help="Share of paid time not on the phones, %.")] = 0.0,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean customer patience, seconds: switches to Erlang A.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Agents required for a service-level target (Erlang C, or Erlang A with --patience)."""
    from servicepulse.workforce.erlang import ErlangInputError, required_agents

    _nonnegative(calls, "--calls", "calls")
    _positive(interval, "--interval")
    _positive(aht, "--aht")
    sl = _percent(target_sl, "--target-sl", allow_100=False)
    _nonnegative(target_time, "--target-time", "seconds")
    cap = _percent(max_occupancy, "--max-occupancy", allow_100=True, allow_0=False)
    shrink = _percent(shrinkage, "--shrinkage", allow_100=False)
    if patience is not None:
        _positive(patience, "--patience")
    try:
        requirement = required_agents(calls, interval, aht, sl, target_time, cap, shrink,
                                      patience)
    except ErlangInputError as exc:
        raise typer.BadParameter(str(exc)) from exc
    result = requirement.as_dict()
    if output is OutputFormat.json:
        typer.echo(json.dumps(result))
        return
    m = requirement.metrics
    table = Table(title="Erlang A" if patience is not None else "Erlang C",
                  caption=f"{calls:g} calls in {interval:g} s, AHT {aht:g} s: "
                          f"{m.traffic:.2f} Erlangs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("agents required", str(requirement.agents))
    table.add_row(f"agents with {shrinkage:g}% shrinkage", str(requirement.agents_with_shrinkage))
    table.add_row(f"service level ({target_time:g} s)", _fmt_pct(m.service_level))
    table.add_row("occupancy", _fmt_pct(m.occupancy))
    table.add_row("average speed of answer", _fmt_seconds(m.asa))
    table.add_row("probability of waiting", _fmt_pct(m.probability_of_waiting))
    if m.probability_of_abandon is not None:
        table.add_row("probability of abandoning", _fmt_pct(m.probability_of_abandon))
    console.print(table)


# --- plan ---------------------------------------------------------------------------------



def _interval_seconds(value: str) -> int:
    from servicepulse.workforce.forecast import ForecastError, parse_interval

    try:
        return parse_interval(value)
    except ForecastError as exc:
        raise typer.BadParameter(str(exc), param_hint="--interval") from exc


def _fail(message: str) -> typer.Exit:
    # soft_wrap: a message is one line, whatever the terminal width, so scripts can grep it.
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    return typer.Exit(1)


ChannelOption = Annotated[list[str] | None, typer.Option(
    "--channel", help="Channel(s) forming the queue (repeat the option); default phone.")]


def _channels(values: list[str] | None) -> list[str]:
    from servicepulse.records.models import Channel

    chosen = values or ["phone"]
    known = {channel.value for channel in Channel}
    for value in chosen:
        _require(value in known, "--channel",
                 f"{value!r} is not a channel: use one of {', '.join(sorted(known))}")
    return chosen


@staffing_app.command("plan")
def plan(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option(
        "--from", help="First day, YYYY-MM-DD (UTC); default today.")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Last day, included; default the --from day.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 60m.")] = "30m",
    channel: ChannelOption = None,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Target, %.")] = 80.0,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Seconds; default phone 20, chat 30.")] = None,
    max_occupancy: Annotated[float, typer.Option("--max-occupancy", help="%.")] = 85.0,
    shrinkage: Annotated[float, typer.Option("--shrinkage", help="%.")] = 0.0,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds (Erlang A).")] = None,
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Average handle time, seconds; default from the stored history.")] = None,
    method: Annotated[Method, typer.Option("--method")] = Method.baseline,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)] = 8,
    timezone: Annotated[str, typer.Option(
        "--timezone", help="IANA zone in which weekdays and times of day repeat.")] = "UTC",
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Required against scheduled agents per interval, with projected service level."""
    from servicepulse.workforce.erlang import ErlangInputError
    from servicepulse.workforce.forecast import ForecastError, ForecastMethod
    from servicepulse.workforce.plan import staffing_plan

    interval_s = _interval_seconds(interval)
    first = parse_date(start, "--from") or datetime.now(UTC).date()
    last = parse_date(end, "--to") or first
    _require(last >= first, "--to", f"{last} is before --from {first}")
    sl = _percent(target_sl, "--target-sl", allow_100=False)
    cap = _percent(max_occupancy, "--max-occupancy", allow_100=True, allow_0=False)
    shrink = _percent(shrinkage, "--shrinkage", allow_100=False)
    if target_time is not None:
        _nonnegative(target_time, "--target-time", "seconds")
    if patience is not None:
        _positive(patience, "--patience")
    if aht is not None:
        _positive(aht, "--aht")
    channels = _channels(channel)
    engine = state(ctx).engine()
    try:
        result = staffing_plan(engine, first, last, interval_s, channels, sl, target_time, cap,
                               shrink, patience, aht, ForecastMethod(method.value),
                               history_weeks, timezone)
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
        "--from", help="First forecast day, YYYY-MM-DD (UTC); default today.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    interval: Annotated[str, typer.Option("--interval", help="15m, 30m or 60m.")] = "30m",
    channel: ChannelOption = None,
    method: Annotated[Method, typer.Option("--method")] = Method.baseline,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)] = 8,
    backtest_weeks: Annotated[int, typer.Option(
        "--backtest-weeks", min=0, help="Held-out weeks scored by WAPE (0: none).")] = 2,
    timezone: Annotated[str, typer.Option("--timezone")] = "UTC",
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Forecast arrivals per interval from the stored history, with a WAPE backtest."""
    from servicepulse.workforce.forecast import ForecastError, ForecastMethod, backtest, forecast
    from servicepulse.workforce.plan import history_series

    interval_s = _interval_seconds(interval)
    first = parse_date(start, "--from") or datetime.now(UTC).date()
    last = parse_date(end, "--to") or first
    _require(last >= first, "--to", f"{last} is before --from {first}")
    channels = _channels(channel)
    chosen = ForecastMethod(method.value)
    engine = state(ctx).engine()
    try:
        history = history_series(engine, first, interval_s, channels, history_weeks)
        count = ((last - first).days + 1) * 86400 // interval_s
        predicted = forecast(history, datetime(first.year, first.month, first.day, tzinfo=UTC),
                             count, chosen, history_weeks, timezone)
    except ForecastError as exc:
        raise _fail(str(exc)) from exc
    tested, skipped = None, None
    if backtest_weeks:
        try:
            tested = backtest(history, backtest_weeks, chosen, history_weeks, timezone)
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
        "--interval", help="Seconds (or 15m/30m/60m in plan mode).")] = "1800",
    aht: Annotated[float | None, typer.Option(
        "--aht", help="Average handle time, seconds (plan mode: default from history).")
    ] = None,
    target_time: Annotated[float | None, typer.Option(
        "--target-time", help="Seconds; default phone 20, chat 30.")] = None,
    target_sl: Annotated[float, typer.Option("--target-sl", help="Plan mode, %.")] = 80.0,
    max_occupancy: Annotated[float, typer.Option("--max-occupancy", help="Plan mode, %.")
                             ] = 85.0,
    shrinkage: Annotated[float, typer.Option("--shrinkage", help="Plan mode, %.")] = 0.0,
    patience: Annotated[float | None, typer.Option(
        "--patience", help="Mean patience, seconds (exponential; compares with Erlang A).")
    ] = None,
    handle_time: Annotated[HandleTimeOption, typer.Option(
        "--handle-time", help="Handle-time distribution.")] = HandleTimeOption.exponential,
    handle_cv: Annotated[float, typer.Option(
        "--handle-cv", help="Coefficient of variation of a lognormal handle time.")] = 1.0,
    repeat: Annotated[int, typer.Option(
        "--repeat", min=1, help="Run the given intervals this many times in a row.")] = 1,
    history_weeks: Annotated[int, typer.Option("--history-weeks", min=1)] = 8,
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
    if target_time is not None:
        _nonnegative(target_time, "--target-time", "seconds")
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
                _channels(channel), _percent(target_sl, "--target-sl", allow_100=False),
                target_time, _percent(max_occupancy, "--max-occupancy", allow_100=True,
                                      allow_0=False),
                _percent(shrinkage, "--shrinkage", allow_100=False), patience, aht,
                history_weeks=history_weeks)
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
        try:
            interval_s = float(interval)
        except ValueError:
            raise typer.BadParameter(f"{interval!r} is not a number of seconds",
                                     param_hint="--interval") from None
        _positive(interval_s, "--interval")
        proposed = agents if len(agents) == len(calls) else agents * len(calls)
        loads = [IntervalLoad(c, a) for c, a in zip(calls, proposed, strict=True)] * repeat
        result = what_if(loads, interval_s, aht, 20.0 if target_time is None else target_time,
                         patience, distribution, handle_cv, replications, seed)
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

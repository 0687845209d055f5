"""`servicepulse simulate`: write a realistic simulated contact centre as canonical JSON Lines;
`servicepulse bench simulate`: how fast it does so."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state
from servicepulse.errors import InvalidRequest


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    from servicepulse.cli.bench import bench_app

    bench_app.command("simulate")(bench_simulate)


def current_time() -> datetime:
    """Now (a function of its own so that tests can fix the moment)."""
    return datetime.now(UTC)


def organisation_today(moment: datetime, timezone: str) -> date:
    """The date of `moment` in the organisation's time zone (the `timezone` setting)."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def choose_days(
    days: int | None, start: date | None, end: date | None, today: date
) -> tuple[date, int, bool]:
    """(first day, number of days, whether the last day is today, cut at now) from the
    options: `--end` (default today) and `--days` (default 30), or `--start` and `--days`,
    or `--start` and `--end`."""
    if start is not None and end is not None:
        if end < start:
            raise typer.BadParameter(f"{end} is before --start {start}", param_hint="--end")
        span = (end - start).days + 1
        if days is not None and days != span:
            raise typer.BadParameter(
                f"--start {start} to --end {end} is {span} days, not {days}: give two of the"
                " three", param_hint="--days")
        return start, span, end == today
    count = 30 if days is None else days
    if count < 1:
        raise typer.BadParameter(f"{count} must be at least 1", param_hint="--days")
    if start is not None:
        return start, count, start + timedelta(days=count - 1) == today
    last = today if end is None else end
    return last - timedelta(days=count - 1), count, last == today


def simulate(
    ctx: typer.Context,
    agents: Annotated[int, typer.Option(help="Agents in the centre (at least 12).")] = 40,
    days: Annotated[
        int | None, typer.Option(help="Days to simulate (default 30).", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = 1,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output JSON Lines file, or - for stdout.")
    ] = Path("demo.jsonl"),
    end: Annotated[
        str | None,
        typer.Option(help="Last local day, YYYY-MM-DD, simulated whole. Default: today in the"
                          " organisation's time zone, up to now.", show_default=False),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First local day, YYYY-MM-DD (instead of --end).")
    ] = None,
    around_the_clock: Annotated[
        bool, typer.Option(help="Care teams in New York and Manila: someone at work at any"
                                " hour (as the live demo).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Simulate a contact centre (teams, agents, customers, contacts with events, surveys,
    agent states, shifts, orders, social) as canonical records. By default the last day is
    today and the file holds what has happened up to now (calls in progress, emails not yet
    answered); `--end` or `--start` give whole days. The same seed and days give the same
    file. About 800 agents over 60 days give a million interactions."""
    from servicepulse.simulate import SimulationConfig, special_agents, write_jsonl

    moment = current_time()
    today = organisation_today(moment, state(ctx).settings().timezone)
    first, count, ends_today = choose_days(
        days, parse_date(start, "--start"), parse_date(end, "--end"), today)
    # Only the default (no day given) stops at now: a day named is simulated whole.
    as_of = moment if ends_today and start is None and end is None else None
    try:
        config = SimulationConfig(agents=agents, days=count, seed=seed, start=first,
                                  around_the_clock=around_the_clock)
    except InvalidRequest as exc:  # a centre the simulator cannot make
        raise typer.BadParameter(str(exc)) from None
    started = time.perf_counter()
    to_stdout = str(out) == "-"
    if not to_stdout and out.parent and not out.parent.exists():
        raise typer.BadParameter(
            f"folder {out.parent} does not exist; create it first", param_hint="--out"
        )
    summary = write_jsonl(config, "-" if to_stdout else out, progress=not quiet, as_of=as_of)
    elapsed = time.perf_counter() - started
    if quiet:
        return
    console = Console(stderr=True)
    last = first + timedelta(days=count - 1)
    until = (f"up to now ({as_of:%H:%M} UTC)" if as_of is not None else "whole days")
    console.print(f"Simulated {agents} agents, {first} to {last} ({count} days, {until};"
                  f" seed {seed})")
    table = Table()
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, number in summary.by_kind.items():
        table.add_row(kind, f"{number:,}")
    table.add_row("total", f"{summary.records:,}")
    console.print(table)
    interactions = summary.by_kind.get("interaction", 0)
    console.print(
        f"{summary.records / elapsed:,.0f} records/s, {interactions / elapsed:,.0f} "
        f"interactions/s ({elapsed:.1f} s) -> "
        f"{'stdout' if to_stdout else out}"
    )
    special = special_agents(config)
    console.print(
        f"busy but not effective: {special['busy_not_effective']}; "
        f"overloaded: {special['overloaded']}"
    )


def bench_simulate(
    agents: Annotated[int, typer.Option(help="Agents (800 x 60 days ~ 1M interactions).")] = 800,
    days: Annotated[int, typer.Option(help="Days.")] = 60,
    runs: Annotated[int, typer.Option(min=1, help="Measured runs; the median is reported.")] = 3,
    out: Annotated[Path, typer.Option(help="Scratch file written by each run.")] = Path(
        "/tmp/servicepulse-bench-simulate.jsonl"
    ),
) -> None:
    """Time `simulate` to a file: records/s and interactions/s (median of runs), against the
    baseline of serialising the same records alone, measured in the same process."""
    from servicepulse.bench.simulate import run_simulate_bench
    from servicepulse.simulate import SimulationConfig

    try:  # a centre the simulator cannot make is a usage error, said before the run
        SimulationConfig(agents=agents, days=days, seed=1)
    except InvalidRequest as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(run_simulate_bench(agents, days, runs, out))

"""`servicepulse simulate`: write a realistic simulated contact centre as canonical JSON Lines;
`servicepulse bench simulate`: how fast it does so."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    from servicepulse.cli.bench import bench_app

    bench_app.command("simulate")(bench_simulate)




def simulate(
    agents: Annotated[int, typer.Option(help="Agents in the centre (at least 12).")] = 40,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = 1,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output JSON Lines file, or - for stdout.")
    ] = Path("demo.jsonl"),
    start: Annotated[
        str | None, typer.Option(help="First local day, YYYY-MM-DD (default 2026-08-24, a Monday).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
) -> None:
    """Simulate a contact centre (teams, agents, customers, contacts with events, surveys,
    agent states, shifts, orders, social) as canonical records. About 800 agents over 60 days
    give a million interactions."""
    from servicepulse.simulate import DEFAULT_START, SimulationConfig, special_agents, write_jsonl

    try:
        config = SimulationConfig(
            agents=agents, days=days, seed=seed, start=parse_date(start, "--start") or DEFAULT_START
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    started = time.perf_counter()
    to_stdout = str(out) == "-"
    if not to_stdout and out.parent and not out.parent.exists():
        raise typer.BadParameter(
            f"folder {out.parent} does not exist; create it first", param_hint="--out"
        )
    summary = write_jsonl(config, "-" if to_stdout else out, progress=not quiet)
    elapsed = time.perf_counter() - started
    if quiet:
        return
    console = Console(stderr=True)
    table = Table(title=f"Simulated {agents} agents x {days} days (seed {seed})")
    table.add_column("kind")
    table.add_column("records", justify="right")
    for kind, count in summary.by_kind.items():
        table.add_row(kind, f"{count:,}")
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
    from servicepulse.simulate.bench import run_simulate_bench

    typer.echo(run_simulate_bench(agents, days, runs, out))

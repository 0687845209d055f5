"""`servicepulse demo`: realistic data in the embedded store, then what the product offers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from servicepulse.cli.context import state

console = Console()
DEMO_DATA = Path("demo-data/demo.jsonl")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def ensure_demo_data(ctx: typer.Context, agents: int, days: int, seed: int) -> None:
    """Simulate (when there is no demo file yet) and import into the store (idempotent)."""
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths
    from servicepulse.simulate import SimulationConfig, write_jsonl

    if not DEMO_DATA.exists():
        DEMO_DATA.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"Simulating {agents} agents over {days} days into {DEMO_DATA} ...")
        write_jsonl(SimulationConfig(agents=agents, days=days, seed=seed), DEMO_DATA)
    engine = state(ctx).engine()
    console.print(f"Importing {DEMO_DATA} into {engine.url.render_as_string(hide_password=True)}"
                  " ...")
    summary = Importer(engine).import_rows(read_paths([DEMO_DATA]))
    inserted = sum(summary.inserted.values())
    console.print(f"{inserted:,} records new, {sum(summary.unchanged.values()):,} already there,"
                  f" {summary.quarantined:,} quarantined ({summary.seconds:.1f} s).")


def demo(
    ctx: typer.Context,
    agents: Annotated[int, typer.Option(min=12, max=5000)] = 40,
    days: Annotated[int, typer.Option(min=1, max=365)] = 30,
    seed: Annotated[int, typer.Option()] = 1,
    serve: Annotated[bool, typer.Option(help="Start the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Simulate a contact centre, import it into the store, and open the dashboard."""
    ensure_demo_data(ctx, agents, days, seed)
    from servicepulse.cli.demo_summary import print_agent_summary

    print_agent_summary(state(ctx).engine(), console)
    if serve:
        from servicepulse.cli.web import serve_demo

        serve_demo(state(ctx).engine(), port)

"""Commands about the store itself: init, schema."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from servicepulse.cli.context import state

console = Console()


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("schema")(schema)


def init(ctx: typer.Context) -> None:
    """Create the store, or migrate it to the newest schema."""
    from servicepulse.store.database import create_store_engine, migrate

    url = state(ctx).db_url
    engine = create_store_engine(url)
    applied = migrate(engine)
    shown = engine.url.render_as_string(hide_password=True)
    console.print(f"{'migrated' if applied else 'up to date'}: {shown}")


def schema() -> None:
    """Print the JSON Schema of the canonical record format (one object per line kind)."""
    from servicepulse.records.schema import record_json_schema

    typer.echo(json.dumps(record_json_schema(), indent=2))

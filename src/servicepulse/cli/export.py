"""`servicepulse export --format parquet DIR`: the store's tables as Parquet files, for the
DuckDB and Spark engines (`servicepulse kpi --engine duckdb --parquet DIR`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from servicepulse.cli.context import state


class ExportFormat(StrEnum):
    parquet = "parquet"


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ctx: typer.Context,
        directory: Annotated[Path, typer.Argument(help="Directory to write the files into.")],
        output: Annotated[ExportFormat, typer.Option("--format", help="parquet.")
                          ] = ExportFormat.parquet,
    ) -> None:
        """Write every record table of the store to DIR/<table>.parquet."""
        from servicepulse.kpi.backends import export_parquet

        if directory.exists() and not directory.is_dir():
            raise typer.BadParameter(f"{directory} is a file: give a directory",
                                     param_hint="DIR")
        written = export_parquet(state(ctx).engine(), directory)
        for name, rows in written.items():
            typer.echo(f"{directory / (name + '.parquet')}: {rows} rows")

"""`servicepulse export --format parquet DIR`: the store's records and the data derived from
them as Parquet files, for the DuckDB and Spark engines (`servicepulse kpi --engine duckdb
--parquet DIR`) and other analytics tools. Never credentials: the tables written are an
allow-list (`servicepulse.kpi.backends.EXPORTED_TABLES`)."""

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
        """Write the record tables and the data derived from them (sentiment scores, KPI
        rollups) to DIR/<table>.parquet; users, sessions, API tokens and other credentials
        are never exported."""
        from servicepulse.kpi.backends import export_parquet, leftover_files

        if directory.exists() and not directory.is_dir():
            raise typer.BadParameter(f"{directory} is a file: give a directory",
                                     param_hint="DIR")
        written = export_parquet(state(ctx).engine(), directory)
        for name, rows in written.items():
            typer.echo(f"{directory / (name + '.parquet')}: {rows} rows")
        for path in leftover_files(directory):
            typer.echo(f"warning: {path} was left by an earlier export (this table is no "
                       "longer exported: it may hold credentials); delete it", err=True)

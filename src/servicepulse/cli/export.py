"""`servicepulse export`: the store's data for other tools.

- `--kind tables` (the default), `--format parquet DIR`: the records and the data derived
  from them as Parquet files, for the DuckDB and Spark engines (`servicepulse kpi --engine
  duckdb --parquet DIR`) and other analytics tools. Never credentials: the tables written are
  an allow-list (`servicepulse.kpi.backends.EXPORTED_TABLES`).
- `--kind interactions`, `--format csv|parquet FILE`: one row per conversation with every input
  of every KPI (docs/kpis.md, "One row per conversation"), filtered like the Interactions page
  and streamed, so any number of rows fits in memory.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from servicepulse.cli.context import parse_date, state


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


class ExportKind(StrEnum):
    tables = "tables"
    interactions = "interactions"


def _filters(values: list[str]) -> dict[str, list[str]]:
    from servicepulse.kpi.sources import DIMENSIONS

    filters: dict[str, list[str]] = {}
    for item in values:
        name, sep, allowed = item.partition("=")
        chosen = [value.strip() for value in allowed.split(",") if value.strip()]
        if not sep or not chosen:
            raise typer.BadParameter(f"{item!r} is not DIM=VALUE[,VALUE...] (e.g. "
                                     "channel=phone,chat)", param_hint="--filter")
        if name.strip() not in DIMENSIONS:
            raise typer.BadParameter(f"{name.strip()!r} is not a dimension; use one of "
                                     f"{', '.join(DIMENSIONS)}", param_hint="--filter")
        filters.setdefault(name.strip(), []).extend(chosen)
    return filters


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        ctx: typer.Context,
        path: Annotated[Path, typer.Argument(
            metavar="PATH", help="--kind tables: the directory to write the files into; "
                                 "--kind interactions: the file to write ('-' for standard "
                                 "output, CSV only).")],
        output: Annotated[ExportFormat, typer.Option(
            "--format", help="parquet, or csv (interactions only).")] = ExportFormat.parquet,
        kind: Annotated[ExportKind, typer.Option(
            "--kind", help="tables: every record table; interactions: one row per "
                           "conversation.")] = ExportKind.tables,
        from_: Annotated[str | None, typer.Option(
            "--from", help="interactions: created on or after this local day (YYYY-MM-DD).")
        ] = None,
        to: Annotated[str | None, typer.Option(
            "--to", help="interactions: created before this local day (exclusive).")] = None,
        filter_: Annotated[list[str] | None, typer.Option(
            "--filter", help="interactions: keep only DIM=VALUE[,VALUE...] (agent, team, "
                             "role, channel, queue, category, language, segment; "
                             "repeatable).")] = None,
        kpi: Annotated[str | None, typer.Option(
            "--kpi", help="interactions: only those this KPI counts (its drill-down).")
        ] = None,
    ) -> None:
        """Write the record tables (--kind tables, Parquet files in PATH) or one row per
        conversation (--kind interactions, a CSV or Parquet file). Users, sessions, API
        tokens and other credentials are never exported."""
        if kind is ExportKind.interactions:
            _export_interactions(ctx, path, output, from_, to, filter_ or [], kpi)
            return
        if output is not ExportFormat.parquet:
            raise typer.BadParameter("the record tables are exported as Parquet only; for a "
                                     "CSV of conversations use --kind interactions",
                                     param_hint="--format")
        if from_ or to or filter_ or kpi:
            raise typer.BadParameter("--from, --to, --filter and --kpi choose interactions: "
                                     "use them with --kind interactions", param_hint="--kind")
        _export_tables(ctx, path)


def _export_tables(ctx: typer.Context, directory: Path) -> None:
    from servicepulse.kpi.backends import export_parquet, leftover_files

    if directory.exists() and not directory.is_dir():
        raise typer.BadParameter(f"{directory} is a file: give a directory", param_hint="PATH")
    written = export_parquet(state(ctx).engine(), directory)
    for name, rows in written.items():
        typer.echo(f"{directory / (name + '.parquet')}: {rows} rows")
    for path in leftover_files(directory):
        typer.echo(f"warning: {path} was left by an earlier export (this table is no "
                   "longer exported: it may hold credentials); delete it", err=True)


def _export_interactions(ctx: typer.Context, path: Path, output: ExportFormat,
                         from_: str | None, to: str | None, filters: list[str],
                         kpi: str | None) -> None:
    from servicepulse.errors import InvalidRequest
    from servicepulse.web.access import Access
    from servicepulse.web.kpi import engine_kpi_function
    from servicepulse.web.runners.base import RunContext
    from servicepulse.web.runners.export import (
        export_statement,
        iter_rows,
        write_csv,
        write_parquet,
    )
    from servicepulse.web.runners.records import InteractionQuery

    to_stdout = str(path) == "-"
    if to_stdout and output is ExportFormat.parquet:
        raise typer.BadParameter("Parquet needs a file: give a path, or --format csv for "
                                 "standard output", param_hint="PATH")
    if not to_stdout and path.is_dir():
        raise typer.BadParameter(f"{path} is a directory: give a file name (e.g. "
                                 f"{path / ('interactions.' + output.value)})",
                                 param_hint="PATH")
    if not to_stdout and not path.parent.is_dir():
        raise typer.BadParameter(f"{path.parent} does not exist", param_hint="PATH")
    params = InteractionQuery(**{"kpi": kpi, "from": parse_date(from_, "--from"),
                                 "to": parse_date(to, "--to"), "filters": _filters(filters)})
    settings = state(ctx).kpi_settings()
    context = RunContext(engine=state(ctx).engine(), kpi=engine_kpi_function(settings),
                         access=Access(), settings=settings)
    try:
        export_statement(context, params)  # bad filters and KPIs are said before writing
    except InvalidRequest as error:
        raise typer.BadParameter(str(error)) from None
    rows = iter_rows(context, params)
    if to_stdout:
        write_csv(rows, sys.stdout)
        return
    if output is ExportFormat.csv:
        with path.open("w", encoding="utf-8", newline="") as out:
            written = write_csv(rows, out)
    else:
        written = write_parquet(rows, path)
    typer.echo(f"{path}: {written} interactions")

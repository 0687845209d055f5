"""`import`, `check` and `quarantine`: getting records in, and seeing what did not get in."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from servicepulse.cli.context import state

if TYPE_CHECKING:  # the importer (the store, the records' models) loads when a command runs
    from servicepulse.ingest.importer import ImportSummary

console = Console(stderr=True)
out = Console()

OUTPUT_FORMATS = ("table", "json")
EXIT_QUARANTINED = 3

quarantine_app = typer.Typer(help="Rows that failed validation: list, retry after a fix, drop.",
                             no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("check")(check_command)
    app.add_typer(quarantine_app, name="quarantine")


def apply_plausible_values(ctx: typer.Context) -> None:
    """Validation in this process (and the workers it forks) holds records to the plausible
    values of the configuration (docs/records.md): set once, before anything is imported
    (loading the command's settings does it, `CliState.settings`)."""
    state(ctx).settings()


def _split_formats(formats: list[str], output: str | None) -> tuple[str | None, str]:
    """`--format` names the source format; `--output` the summary's. `--format table|json`
    named the summary's before `--output` existed: still accepted, with a note on stderr."""
    from servicepulse.ingest.connectors import CONNECTORS

    if output is not None and output not in OUTPUT_FORMATS:
        raise typer.BadParameter(f"unknown summary format {output!r}; use table or json",
                                 param_hint="--output")
    source: str | None = None
    for value in formats:
        if value in OUTPUT_FORMATS:
            typer.echo(f"note: `--format {value}` for the summary is deprecated and will be "
                       f"removed: use `--output {value}` (--format names the source format)",
                       err=True)
            output = output or value
            continue
        if value == "canonical":
            continue  # the default: canonical records
        if value not in CONNECTORS:
            known = ", ".join(["canonical", *sorted(CONNECTORS)])
            raise typer.BadParameter(f"unknown source format {value!r}; use one of {known} "
                                     "(the summary's format is --output table|json)",
                                     param_hint="--format")
        source = value
    return source, output or "table"


def _print_summary(summary: ImportSummary, output: str) -> None:
    if output == "json":
        out.print_json(json.dumps(summary.as_json()))
        return
    table = Table(title="Import summary", title_justify="left")
    for column in ("kind", "inserted", "updated", "unchanged"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    kinds = sorted(set(summary.inserted) | set(summary.updated) | set(summary.unchanged))
    for kind in kinds:
        table.add_row(kind, f"{summary.inserted[kind]:,}", f"{summary.updated[kind]:,}",
                      f"{summary.unchanged[kind]:,}")
    out.print(table)
    rate = summary.rows / summary.seconds if summary.seconds else 0
    rows = f"{summary.rows:,} row" + ("" if summary.rows == 1 else "s")
    out.print(f"{rows} in {summary.seconds:.1f} s ({rate:,.0f} rows/s); "
              f"quarantined: {summary.quarantined:,}")
    if summary.quarantined:
        out.print("[yellow]Some rows were quarantined: `servicepulse quarantine list` shows "
                  "where and why; fix the source and import it again, or `quarantine retry`.")


def import_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.jsonl, .csv, .gz).")],
    format: Annotated[
        list[str] | None,
        typer.Option("--format", "-f", help="Source format: canonical (the default: records "
                     "as JSON Lines or per-kind CSV), zendesk, freshdesk, chatwoot, asterisk, "
                     "asterisk-cdr, social or csv."),
    ] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", help="The summary: table (default) or json.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="Settings file (TOML) for a source format: the column mapping of csv and social "
             "exports, and the options of the others (docs/connectors.md).")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="IANA time zone of local times in a source export (connectors only).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
    workers: Annotated[int | None, typer.Option(
        min=0, max=16, help="Processes validating ahead of the writer (default: cores - 1).")]
    = None,
) -> None:
    """Import canonical records (JSON Lines, per-kind CSV) or a helpdesk/phone export."""
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import (
        UnreadableFile,
        UsageError,
        check_readable,
        expand_paths,
        read_paths,
    )

    source_format, output = _split_formats(format or [], output)
    try:
        files = expand_paths(paths, any_file=source_format is not None)
    except UsageError as exc:
        raise typer.BadParameter(str(exc), param_hint="PATHS") from exc
    if source_format is None:
        # a file that is not text at all is refused before anything is imported (connectors
        # read their own formats and encodings, and report such files as a quarantined row)
        for file in files:
            try:
                check_readable(file)
            except UnreadableFile as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
    apply_plausible_values(ctx)
    engine = state(ctx).engine()
    total_bytes = sum(f.stat().st_size for f in files)
    show_progress = sys.stderr.isatty() and output != "json"
    progress = Progress(TextColumn("importing"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeRemainingColumn(), console=console,
                        disable=not show_progress)
    with progress:
        task = progress.add_task("import", total=total_bytes)

        def advance(n: int) -> None:
            progress.advance(task, n)

        rows: Any
        if workers is None:
            workers = min(3, max(0, (os.cpu_count() or 1) - 1))
        unreadable: list[UnreadableFile] = []
        if source_format is None:
            rows = read_paths(files, on_bytes=advance, parse=workers == 0,
                              unreadable=unreadable)
        else:
            from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions, MappingError

            try:
                options = ConnectorOptions(
                    mapping=mapping, timezone=timezone,
                    zendesk_channels=state(ctx).settings().zendesk_channels)
                rows = CONNECTORS[source_format].read(files, options)
            except MappingError as exc:
                raise typer.BadParameter(str(exc), param_hint="--mapping") from exc
        summary = Importer(engine, batch_size, workers).import_rows(rows)
    _print_summary(summary, output)
    if unreadable:
        # damaged compressed data, met while reading: the rows before it were imported (the
        # summary counts them), the rest of that file was not
        for problem in unreadable:
            typer.echo(f"error: {problem}", err=True)
        typer.echo("The rows before the damage were imported; the rest of the file was not. "
                   "Import the repaired file again: what was imported stays unchanged.",
                   err=True)
        raise typer.Exit(2)
    if summary.quarantined:
        raise typer.Exit(EXIT_QUARANTINED)


def check_command(
    ctx: typer.Context,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Report references that never resolved (an event whose interaction never arrived, ...)."""
    from servicepulse.ingest.references import unresolved_references

    engine = state(ctx).engine()
    problems = unresolved_references(engine)
    if format == "json":
        out.print_json(json.dumps([p.as_json() for p in problems]))
    else:
        if not problems:
            out.print("All references resolve.")
        else:
            table = Table(title="Unresolved references", title_justify="left")
            for column in ("kind", "field", "refers to", "records", "example ids"):
                table.add_column(column)
            for p in problems:
                table.add_row(p.kind, p.field, p.target, f"{p.count:,}", ", ".join(p.examples))
            out.print(table)
    if problems:
        raise typer.Exit(1)


@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only rows from this file.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """List quarantined rows with their file, line, field and reason."""
    from servicepulse.ingest import quarantine

    engine = state(ctx).engine()
    rows = quarantine.rows(engine, source=source, limit=limit)
    if format == "json":
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"Quarantine ({quarantine.count(engine):,} rows)", title_justify="left")
    for column in ("id", "source", "line", "kind", "record id", "field", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["source"], str(row["line"] or ""), row["kind"] or "",
                      row["record_id"] or "", row["field"] or "", row["reason"])
    out.print(table)


@quarantine_app.command("retry")
def quarantine_retry(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Quarantine ids (default: all).")] = None,
    source: Annotated[str | None, typer.Option(help="Only rows from this file.")] = None,
) -> None:
    """Validate quarantined rows again (after a fix to the configuration or the software);
    the ones that pass are imported and leave the quarantine."""
    from servicepulse.ingest import quarantine

    apply_plausible_values(ctx)
    result = quarantine.retry(state(ctx).engine(), ids, source)
    still = result.still
    out.print(f"retried {result.selected:,}: {result.passed:,} imported, {still:,} still "
              "quarantined" + ("" if not result.not_canonical else
                               f" ({result.not_canonical:,} are not canonical records: fix the "
                               "source file and import it again, with its --format for a "
                               "helpdesk export)"))
    if still:
        raise typer.Exit(EXIT_QUARANTINED)


@quarantine_app.command("drop")
def quarantine_drop(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Quarantine ids to drop.")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Drop every quarantined row.")] = False,
    source: Annotated[str | None, typer.Option(help="Drop the rows from this file.")] = None,
) -> None:
    """Drop quarantined rows you have decided not to import."""
    if not (ids or all_rows or source):
        raise typer.BadParameter("name quarantine ids, --source FILE or --all")
    from servicepulse.ingest import quarantine

    dropped = quarantine.drop(state(ctx).engine(), ids, source, everything=all_rows)
    out.print(f"dropped {dropped:,} quarantined rows")

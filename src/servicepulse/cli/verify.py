"""`servicepulse verify [--repair]`: derived data recomputed from the records and compared.

This is the composition root of the checks: it imports each area's check module and
registers it in `servicepulse.store.derived`, in the order they must run (business-hours
durations before the rollup that reads them), so the store layer knows no area by name.
Exit status: 0 consistent (after the repair, with --repair), 1 something differs or a
rebuild is pending, 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from servicepulse.cli.context import state

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads when a check runs, not at start-up
    from servicepulse.store.derived import DerivedCheck, Difference, VerifyReport
    from servicepulse.store.derived import Progress as ProgressCallback

console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def default_checks() -> list[DerivedCheck]:
    """Every kind of derived data, registered in the order the checks must run."""
    from servicepulse.insights import sentiment_verify
    from servicepulse.kpi import business_hours_verify, rollup_verify
    from servicepulse.store.derived import DERIVED_CHECKS, register_check

    for check in (business_hours_verify.CHECK, rollup_verify.CHECK, sentiment_verify.CHECK):
        register_check(check)
    return list(DERIVED_CHECKS)


@contextmanager
def progress_bar(show: bool) -> Iterator[ProgressCallback]:
    """A progress callback drawing on the terminal (stderr), or nothing when not shown."""
    if not show:
        from servicepulse.store.derived import NO_PROGRESS

        yield NO_PROGRESS
        return
    bar = Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True)
    tasks: dict[str, Any] = {}

    def advance(done: int, total: int, step: str) -> None:
        kind = step.split(" ", 1)[0].rstrip(":")
        if kind not in tasks:
            tasks[kind] = bar.add_task(step, total=total)
        bar.update(tasks[kind], completed=done, total=total, description=step)

    with bar:
        yield advance


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, dict):
        text = ", ".join(f"{key}={_value(item)}" for key, item in value.items())
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def render_table(report: VerifyReport, limit: int, out: Console) -> None:
    summary = Table(title="Derived data", title_justify="left")
    columns = ["kind", "checked", "differences", "pending rebuild"]
    if report.repair:
        columns += ["repaired", "differences after", "pending after"]
    for column in columns:
        summary.add_column(column, justify="left" if column == "kind" else "right")
    for kind in report.kinds:
        cells = [kind.kind, f"{kind.found.checked:,}", f"{len(kind.found.differing):,}",
                 f"{len(kind.found.pending):,}"]
        if report.repair:
            cells += [f"{kind.repaired or 0:,}", f"{len(kind.final.differing):,}",
                      f"{len(kind.final.pending):,}"]
        summary.add_row(*cells)
    out.print(summary)
    found: list[Difference] = [item for kind in report.kinds
                               for item in kind.found.differences]
    if found:
        shown = found[:limit]
        title = "Found" + (" (before the repair)" if report.repair else "") + (
            f": the first {len(shown):,} of {len(found):,}" if len(shown) < len(found) else "")
        table = Table(title=title, title_justify="left")
        for column in ("kind", "day", "group", "what", "stored", "recomputed"):
            table.add_column(column, overflow="fold")
        for item in shown:
            table.add_row(item.kind, item.day or "", item.group, item.detail,
                          "pending rebuild" if item.pending else _value(item.stored),
                          "" if item.pending else _value(item.recomputed))
        out.print(table)
    if report.consistent:
        out.print("Derived data is consistent with the records"
                  + (" after the repair." if report.repair and found else "."))
    elif report.repair:
        out.print("[red]Some derived data still differs after the repair: see above, and "
                  "run `servicepulse verify --format json` for every difference.")
    else:
        out.print("[yellow]Derived data differs from the records or has rebuilds pending: "
                  "`servicepulse verify --repair` rewrites it.")


def verify_command(
    ctx: typer.Context,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Rewrite what differs and complete pending rebuilds, then check "
                         "again.")] = False,
    output: Annotated[OutputFormat, typer.Option(
        "--format", help="table (a summary and the first differences) or json (all).")
    ] = OutputFormat.table,
    limit: Annotated[int, typer.Option(
        "--limit", min=1, help="Differences listed in table format.")] = 20,
) -> None:
    """Recompute the derived data (rollups, business-hours durations, sentiment scores)
    from the records and compare it with the store; exit 1 when anything differs."""
    from servicepulse.store.derived import run_checks

    engine = state(ctx).engine()
    checks = default_checks()
    with progress_bar(sys.stderr.isatty() and output is OutputFormat.table) as progress:
        report = run_checks(engine, checks, repair=repair, progress=progress)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        render_table(report, limit, Console())
    if not report.consistent:
        raise typer.Exit(1)


def bench_verify(
    interactions: Annotated[int, typer.Option(
        help="Interactions in the store (built once per size and backend, then reused).")
    ] = 1_000_000,
    runs: Annotated[int, typer.Option(min=1, help="Runs per store; the median counts.")] = 3,
    postgres_url: Annotated[str, typer.Option(
        help="Server for the PostgreSQL store; '' for SQLite only.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    backends: Annotated[str, typer.Option(help="sqlite,postgresql or one of them.")]
    = "sqlite,postgresql",
) -> None:
    """Time `servicepulse verify` on a store of a given size on SQLite and PostgreSQL."""
    from servicepulse.bench.verify import run_verify_bench

    names = [name.strip() for name in backends.split(",") if name.strip()]
    unknown = set(names) - {"sqlite", "postgresql"}
    if unknown or not names:
        raise typer.BadParameter(f"unknown backend(s) {', '.join(sorted(unknown)) or '(none)'}:"
                                 " use sqlite, postgresql or both", param_hint="--backends")
    if "postgresql" in names and not postgres_url:
        raise typer.BadParameter("--backends postgresql needs a --postgres-url",
                                 param_hint="--postgres-url")
    typer.echo(run_verify_bench(interactions, runs, names, postgres_url, default_checks()))


def register(app: typer.Typer) -> None:
    from servicepulse.cli.bench import bench_app

    app.command("verify")(verify_command)
    bench_app.command("verify")(bench_verify)

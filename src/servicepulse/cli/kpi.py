"""`servicepulse kpi`: every KPI, grouped and by period, as a table, JSON or CSV.

Contract (scripts depend on it):
`servicepulse [--db URL] kpi [--by DIM[,DIM...]] [--period day|week|month|quarter|all]
[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--kpi NAME[,NAME...]] [--format table|json|csv]`
(`--to` exclusive). `--engine duckdb|spark --parquet DIR` runs the same definitions on a
Parquet export instead of the store.
"""

from __future__ import annotations

import csv
import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Engine(StrEnum):
    store = "store"
    duckdb = "duckdb"
    spark = "spark"


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]




def _filters(values: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in values:
        name, sep, allowed = item.partition("=")
        if not sep or not allowed:
            raise typer.BadParameter(f"{item!r} is not DIM=VALUE[,VALUE...]",
                                     param_hint="--filter")
        filters.setdefault(name.strip(), []).extend(_split(allowed))
    return filters


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def render_table(document: dict[str, Any], console: Console) -> None:
    from servicepulse.kpi.definitions import KPIS

    rows = document["rows"]
    group_names = [*document["by"], *(["period"] if document["period"] != "all" else [])]
    names = list(rows[0]["kpis"]) if rows else []
    table = Table(title=f"KPIs {document['from']} – {document['to']}",
                  caption=f"to exclusive, {document['timezone']}; * = low sample")
    for name in group_names:
        table.add_column(name)
    for name in names:
        unit = KPIS[name].unit if name in KPIS else ""
        suffix = {"percent": " %", "seconds": " s"}.get(unit, "")
        table.add_column(f"{name}{suffix}", justify="right")
    for row in rows:
        cells = [str(row["group"].get(name) if row["group"].get(name) is not None else "—")
                 for name in group_names]
        for name in names:
            result = row["kpis"][name]
            text = _number(result.get("value"))
            if result.get("low_sample"):
                text += "*"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)


CSV_FIELDS = ("kpi", "value", "n", "ci_low", "ci_high", "low_sample", "previous_value",
              "previous_n", "change", "significant")


def render_csv(document: dict[str, Any]) -> str:
    """One line a group and KPI (long format, easy to pivot)."""
    group_names = [*document["by"], *(["period"] if document["period"] != "all" else [])]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*group_names, *CSV_FIELDS])
    for row in document["rows"]:
        group = [row["group"].get(name) for name in group_names]
        for name, result in row["kpis"].items():
            ci = result.get("ci") or [None, None]
            previous = result.get("previous") or {}
            writer.writerow(["" if v is None else v for v in [
                *group, name, result.get("value"), result.get("n"), ci[0], ci[1],
                result.get("low_sample"), previous.get("value"), previous.get("n"),
                result.get("change"), result.get("significant")]])
    return out.getvalue()


def bench_kpi(
    sizes: Annotated[str, typer.Option(help="Interactions for the scaling series.")
                     ] = "1000000,2000000,4000000,8000000",
    large: Annotated[int, typer.Option(help="The large size (0 to skip).")] = 10_000_000,
    store_sizes: Annotated[str, typer.Option(
        help="Sizes also loaded into SQLite and PostgreSQL.")] = "1000000,10000000",
    runs: Annotated[int, typer.Option(min=1, help="Runs a measurement; the median counts.")
                    ] = 3,
    postgres_url: Annotated[str, typer.Option(
        help="Server for a scratch database; '' to skip PostgreSQL.")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    workdir: Annotated[Path | None, typer.Option(
        help="Keep the generated data here (default: a temporary directory).")] = None,
) -> None:
    """Scorecard by agent x day: the engine on DuckDB, SQLite and PostgreSQL against a
    hand-written DuckDB query and pandas; scaling; the rollup query."""
    from servicepulse.bench.kpi import run_kpi_bench

    typer.echo(run_kpi_bench(
        [int(item) for item in _split(sizes)], large or None,
        [int(item) for item in _split(store_sizes)], runs, postgres_url or None, workdir,
        echo=typer.echo))


def bench_rollup(
    ctx: typer.Context,
    runs: Annotated[int, typer.Option(min=1, help="Runs a query (at least 5); the median "
                                                  "counts.")] = 5,
) -> None:
    """The dashboards' rollup queries on the --db store as it is (its last 30 days by team x
    day, its year by channel x month)."""
    from servicepulse.bench.kpi import run_rollup_bench

    try:
        typer.echo(run_rollup_bench(state(ctx).engine(), runs))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


def register(app: typer.Typer) -> None:
    from servicepulse.cli.bench import bench_app

    bench_app.command("kpi")(bench_kpi)
    bench_app.command("rollup")(bench_rollup)

    @app.command("kpi")
    def kpi_command(
        ctx: typer.Context,
        by: Annotated[str | None, typer.Option(
            "--by", help="Group by DIM[,DIM...]: agent, team, role, channel, queue, category, "
                         "language, segment.")] = None,
        period: Annotated[str, typer.Option(
            "--period", help="day, week (from Monday), month, quarter or all.")] = "all",
        from_: Annotated[str | None, typer.Option(
            "--from", help="First day (YYYY-MM-DD, organisation time zone).")] = None,
        to: Annotated[str | None, typer.Option(
            "--to", help="Day after the last (YYYY-MM-DD, exclusive).")] = None,
        kpi: Annotated[str | None, typer.Option(
            "--kpi", help="KPI NAME[,NAME...] (default: all).")] = None,
        output: Annotated[OutputFormat, typer.Option(
            "--format", help="table, json or csv.")] = OutputFormat.table,
        filter_: Annotated[list[str] | None, typer.Option(
            "--filter", help="Keep only DIM=VALUE[,VALUE...] (repeatable).")] = None,
        engine: Annotated[Engine, typer.Option(
            "--engine", help="store (the --db database), or duckdb / spark over --parquet.")
        ] = Engine.store,
        parquet: Annotated[Path | None, typer.Option(
            "--parquet", help="Directory of `servicepulse export --format parquet`.")] = None,
    ) -> None:
        """Compute KPIs (DESIGN.md §3) with n, confidence intervals and the previous period."""
        from servicepulse.kpi.engine import run_kpi_query, run_on_backend
        from servicepulse.kpi.query import KpiQuery

        try:
            query = KpiQuery.model_validate({
                "by": _split(by), "period": period, "from": parse_date(from_, "--from"),
                "to": parse_date(to, "--to"), "kpis": _split(kpi) or None,
                "filters": _filters(filter_ or [])})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'query'}: {item['msg']}"
                for item in error.errors())
            raise typer.BadParameter(problems) from None
        if engine is Engine.store:
            document = run_kpi_query(state(ctx).engine(), query)
        else:
            if parquet is None:
                raise typer.BadParameter(f"--engine {engine.value} reads a Parquet export: "
                                         "give --parquet DIR", param_hint="--parquet")
            from servicepulse.kpi.backends import duckdb_backend, spark_backend

            try:
                backend = duckdb_backend(parquet) if engine is Engine.duckdb \
                    else spark_backend(parquet)
            except FileNotFoundError as error:
                raise typer.BadParameter(str(error), param_hint="--parquet") from None
            document = run_on_backend(backend, query)
        if output is OutputFormat.json:
            sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        elif output is OutputFormat.csv:
            sys.stdout.write(render_csv(document))
        else:
            render_table(document, Console())

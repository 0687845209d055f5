"""`servicepulse kpi`: every KPI, grouped and by period, as a table, JSON or CSV.

Contract (scripts depend on it):
`servicepulse [--db URL] kpi [--by DIM[,DIM...]] [--period day|week|month|quarter|all]
[--from YYYY-MM-DD] [--to YYYY-MM-DD] [--kpi NAME[,NAME...]|all] [--format table|json|csv]`
(`--to` exclusive; without both, the window the pages open on: the last `default_window_days`
whole days with data). JSON and CSV hold every KPI unless `--kpi` names some; the table, read by a
person in a terminal, shows a default set for the grouping (`default_kpis`) and splits its
columns over several tables rather than cutting values to fit the width.
`--engine duckdb|spark --parquet DIR` runs the same definitions on a Parquet export instead
of the store.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import default_window, parse_date, state

if TYPE_CHECKING:
    from servicepulse.kpi.results import KpiFigure, KpiResult


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


# The table's default KPIs: what a team lead reads first. Occupancy is measured from agent
# states, so it exists only for people groupings; for other groupings the next one in
# FALLBACK_KPIS that can group by them takes its place.
DEFAULT_KPIS: tuple[str, ...] = ("contacts", "csat", "fcr", "aht", "frt_within_target",
                                 "service_level", "occupancy")
FALLBACK_KPIS: tuple[str, ...] = ("abandon_rate", "resolution_rate")
# Abbreviations every contact centre uses; a header uses them and the legend spells them out.
ABBREVIATIONS: dict[str, str] = {
    "csat": "CSAT", "fcr": "FCR", "aht": "AHT", "asa": "ASA", "ttr": "TTR", "nps": "NPS",
    "ces": "CES", "cltv": "CLTV", "frt": "FRT", "frt_within_target": "FRT in target",
    "iqs": "IQS"}
# First response is judged per channel against the channel's own target, so across channels
# the table shows the share within target; one median over phone (seconds) and email (hours)
# means nothing, so the median is shown only when the rows are split by channel.
FRT_WITHIN = "FRT in target"


def default_kpis(by: list[str]) -> list[str]:
    """The table's KPIs when none are named: DEFAULT_KPIS that can group by every `by`
    dimension, topped up from FALLBACK_KPIS to the same count."""
    from servicepulse.kpi.definitions import KPIS

    def fits(name: str) -> bool:
        return set(by) <= KPIS[name].dimensions

    preferred = [name if name in KPIS else "frt" for name in DEFAULT_KPIS]
    chosen = [name for name in preferred if name in KPIS and fits(name)]
    for name in FALLBACK_KPIS:
        if len(chosen) >= len(DEFAULT_KPIS):
            break
        if fits(name) and name not in chosen:
            chosen.append(name)
    return chosen


def _group_text(name: str, value: Any) -> str:
    if value is None:
        return "(unassigned)" if name == "agent" else "(none)"
    return str(value)


def _value(figure: KpiFigure | None) -> Any:
    return figure.value if figure is not None else None


def _columns(names: list[str], by: list[str]) -> list[tuple[str, str, Any]]:
    """(header, KPI name, cell function) per column of the table."""
    from servicepulse.kpi.definitions import KPIS
    from servicepulse.kpi.display import format_kpi, format_unit

    columns: list[tuple[str, str, Any]] = []
    for name in names:
        label = ABBREVIATIONS.get(name) or (KPIS[name].label if name in KPIS else name)
        if name == "frt":
            if "channel" in by:  # within one channel a median is meaningful
                columns.append(("FRT median", name,
                                lambda figure: format_kpi("frt", _value(figure))))
            elif "frt_within_target" not in names:
                columns.append((FRT_WITHIN, name, lambda figure: format_unit(
                    "percent", figure.extra("within_target") if figure is not None else None)))
            continue
        columns.append((label, name,
                        lambda figure, name=name: format_kpi(name, _value(figure))))
    return columns


def _legend(columns: list[tuple[str, str, Any]]) -> str:
    """The abbreviations among the headers, spelled out."""
    from servicepulse.kpi.definitions import KPIS

    parts: list[str] = []
    for header, name, _ in columns:
        if header == FRT_WITHIN:
            parts.append("FRT in target: share of first responses within their channel's "
                         "first-response target")
        elif header == "FRT median":
            parts.append("FRT median: first response time, median")
        elif header == ABBREVIATIONS.get(name) and name in KPIS:
            parts.append(f"{header} {KPIS[name].label.lower()}")
    return "; ".join(parts)


def render_table(result: KpiResult, console: Console) -> None:
    """The KPIs as tables that fit `console`'s width: the group columns, then as many KPI
    columns as fit; the KPIs that do not fit follow in further tables with the same group
    columns (never a cut value: cells fold rather than end in "…")."""
    rows = result.rows
    by = list(result.by)
    group_names = [*by, *(["period"] if result.period != "all" else [])]
    names = list(rows[0].figures) if rows else []
    columns = _columns(names, by)
    group_cells = [[_group_text(name, row.group.get(name)) for name in group_names]
                   for row in rows]
    if "period" in group_names:
        for cells, row in zip(group_cells, rows, strict=True):
            if row.partial:
                cells[-1] += " (partial)"
    value_cells: list[list[str]] = []
    for _, name, cell in columns:
        texts = []
        for row in rows:
            figure = row.figure(name)
            text = cell(figure)
            texts.append(text + ("*" if figure is not None and figure.low_sample else ""))
        value_cells.append(texts)

    console.print(f"KPIs {result.from_} to {result.to} (exclusive), "
                  f"{result.timezone}", style="bold", overflow="fold")
    widths = _widths(group_cells, group_names, columns, value_cells)
    for chunk in _chunks(console.width, widths):
        chosen = [widths[1][i] for i in chunk]
        # headers on one line where the table still fits, wrapped over their words if not
        whole = [max(width, len(columns[i][0])) for width, i in zip(chosen, chunk, strict=True)]
        if _EDGE + sum(w + _PER_COLUMN for w in [*widths[0], *whole]) <= console.width:
            chosen = whole
        console.print(_table(group_names, group_cells, [columns[i] for i in chunk],
                             [value_cells[i] for i in chunk], (widths[0], chosen)))
    legend = _legend(columns)
    notes = []
    if any(text.endswith("*") for texts in value_cells for text in texts):
        notes.append("* = low sample (below the minimum; shown, not ranked)")
    if "period" in group_names and any(row.partial for row in rows):
        notes.append("(partial) = a period the range or the data covers only in part")
    if "frt" in names and "channel" not in by:
        notes.append("FRT median: only by channel (--by channel), each channel has its own "
                     "target")
    if legend:
        notes.append(legend)
    for note in notes:
        console.print(note, overflow="fold")


# The table has a rule under its header only (80 columns then hold the default KPIs by agent):
# beyond its columns' widths it spends one space of padding and one of separation a column,
# less both at the right edge.
_PER_COLUMN = 2
_EDGE = -2


def _widths(group_cells: list[list[str]], group_names: list[str],
            columns: list[tuple[str, str, Any]], value_cells: list[list[str]]
            ) -> tuple[list[int], list[int]]:
    """Each column's width: the widest value (values never wrap); a header wraps over its
    words instead, so only its longest word counts."""
    groups = [max([len(name), *(len(cells[index]) for cells in group_cells)])
              for index, name in enumerate(group_names)]
    values = [max([len(text) for text in texts] + [len(word) for word in header.split()])
              for (header, _, _), texts in zip(columns, value_cells, strict=True)]
    return groups, values


def _table(group_names: list[str], group_cells: list[list[str]],
           columns: list[tuple[str, str, Any]], value_cells: list[list[str]],
           widths: tuple[list[int], list[int]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), pad_edge=False,
                  header_style="bold")
    for name, width in zip(group_names, widths[0], strict=True):
        # fold (never "…") if the group columns alone are wider than the terminal
        table.add_column(name.capitalize(), overflow="fold", min_width=width)
    for (header, _, _), width in zip(columns, widths[1], strict=True):
        table.add_column(header, justify="right", overflow="fold", min_width=width,
                         max_width=width)
    for index, cells in enumerate(group_cells):
        table.add_row(*cells, *(texts[index] for texts in value_cells))
    return table


def _chunks(width: int, widths: tuple[list[int], list[int]]) -> list[list[int]]:
    """Indexes of the KPI columns of each table: greedily as many as fit `width`, at least
    one a table."""
    used = _EDGE + sum(w + _PER_COLUMN for w in widths[0])
    chunks: list[list[int]] = []
    current: list[int] = []
    total = used
    for index, column_width in enumerate(widths[1]):
        if current and total + column_width + _PER_COLUMN > width:
            chunks.append(current)
            current, total = [], used
        current.append(index)
        total += column_width + _PER_COLUMN
    if current or not chunks:
        chunks.append(current)
    return chunks


CSV_FIELDS = ("kpi", "value", "n", "ci_low", "ci_high", "low_sample", "previous_value",
              "previous_n", "change", "significant")


def render_csv(result: KpiResult) -> str:
    """One line a group and KPI (long format, easy to pivot)."""
    group_names = [*result.by, *(["period"] if result.period != "all" else [])]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*group_names, "partial", *CSV_FIELDS])  # partial: docs/kpis.md
    for row in result.rows:
        group = [row.group.get(name) for name in group_names]
        for name, figure in row.figures.items():
            # a field the figure does not report is an empty cell
            previous = figure.previous
            writer.writerow(["" if v is None else v for v in [
                *group, row.partial, name, figure.value,
                figure.n if figure.reports("n") else None, figure.ci_low, figure.ci_high,
                figure.low_sample if figure.reports("low_sample") else None,
                previous.value if previous is not None else None,
                previous.n if previous is not None else None,
                figure.change, figure.significant]])
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

    # an empty store or rollup is an InvalidRequest: its message and exit 2 (cli/main.py)
    typer.echo(run_rollup_bench(state(ctx).engine(), runs))


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
            "--from", help="First day (YYYY-MM-DD, organisation time zone); without --from "
                           "and --to the pages' default window (default_window_days).")
        ] = None,
        to: Annotated[str | None, typer.Option(
            "--to", help="Day after the last (YYYY-MM-DD, exclusive).")] = None,
        kpi: Annotated[str | None, typer.Option(
            "--kpi", help="KPI NAME[,NAME...] or 'all'. Default: all for json and csv; for "
                          "the table contacts, CSAT, FCR, AHT, FRT in target, service level "
                          "and occupancy (or abandon rate where occupancy cannot group).")
        ] = None,
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
        """Compute KPIs (docs/kpis.md) with n, confidence intervals and the previous period.

        The table fits the terminal: KPIs that do not fit follow in further tables."""
        import orjson
        from pydantic import ValidationError

        from servicepulse.kpi.engine import run_kpi_query, run_on_backend
        from servicepulse.kpi.query import KpiQuery

        names: list[str] | None = _split(kpi) or None
        if names == ["all"]:
            names = None
        elif names is None and output is OutputFormat.table:
            names = default_kpis(_split(by))
        first, last = parse_date(from_, "--from"), parse_date(to, "--to")
        if engine is Engine.store:
            # the pages' default window (one default for pages and commands)
            first, last = default_window(state(ctx).engine(), first, last,
                                         state(ctx).kpi_settings())
        try:
            query = KpiQuery.model_validate({
                "by": _split(by), "period": period, "from": first,
                "to": last, "kpis": names,
                "filters": _filters(filter_ or [])})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'query'}: {item['msg']}"
                for item in error.errors())
            raise typer.BadParameter(problems) from None
        started = time.time()  # the figures are as of the query's start
        if engine is Engine.store:
            result = run_kpi_query(state(ctx).engine(), query, state(ctx).kpi_settings())
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
            result = run_on_backend(backend, query, state(ctx).kpi_settings())
        if output is OutputFormat.json:
            sys.stdout.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode()
                             + "\n")
        elif output is OutputFormat.csv:
            sys.stdout.write(render_csv(result))
        else:
            from servicepulse.cli.as_of import as_of_line

            render_table(result, Console())
            typer.echo(as_of_line(started, state(ctx).kpi_settings().timezone))

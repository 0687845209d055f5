"""The KPI engine: runs the definitions of `servicepulse.kpi.definitions` on a backend.

For each source the requested KPIs read, ONE grouped aggregate query returns their sufficient
statistics (counts, sums, sums of squares) per group and period; medians and p90s come from
a second, rank-based query that returns only the few order statistics needed (the quantile
itself and its order-statistic interval), or on DuckDB from each group's values, sorted by
the same aggregate query. Everything runs inside the database through Ibis:
SQLite and PostgreSQL (the store), DuckDB (a Parquet export) or Spark.

The result is a `servicepulse.kpi.results.KpiResult` (rows of figures); its `to_json()` is
the document of `servicepulse kpi --format json` (see docs/kpis.md).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from itertools import repeat
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import sqlalchemy
from cachetools import LRUCache
from ibis.backends import BaseBackend

from servicepulse.kpi import statistics
from servicepulse.kpi.analytical import (
    analytical_store,
    ensure_views,
    schema_digest,
    store_file,
    time_bounds,
)
from servicepulse.kpi.bound_sql import STORE_BACKENDS, BoundStatement, bound_executor
from servicepulse.kpi.columns import (
    Measures,
    json_flags,
    json_floats,
    json_ints,
    records,
    round_like_python,
)
from servicepulse.kpi.compiled_sql import kept_sql
from servicepulse.kpi.definitions import KPIS, KpiDefinition
from servicepulse.kpi.kinds import (
    Quantiles,
    Statistic,
    Total,
    quantile_rank_interval,
    whole_or_rounded,
)
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import (
    NO_EXTRAS,
    STANDARD_FIELDS,
    KpiFigure,
    KpiResult,
    KpiRow,
    PreviousFigure,
    no_garbage_collection,
)
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.kpi.sources import (
    BEFORE,
    NONE,
    NOW_STAND_IN,
    REPEAT_KPIS,
    SOURCES,
    Frame,
    Period,
    day_number,
    local_midnight,
    next_period_start,
    period_start,
    previous_period_start,
)

GroupKey = tuple[Any, ...]  # by-dimension values..., period key
Executor = Callable[[ir.Expr], pd.DataFrame]


def run_kpi_query(engine: sqlalchemy.Engine, query: KpiQuery,
                  settings: Any | None = None) -> KpiResult:
    """The figures of `query` over the store behind `engine` (where it runs:
    `servicepulse.kpi.analytical.analytical_store`)."""
    with analytical_store(engine) as backend:
        return run_on_backend(backend, query, settings)


def run_on_backend(backend: BaseBackend, query: KpiQuery, settings: Any | None = None,
                   expressions: ExpressionCache | None = None) -> KpiResult:
    """The same, on any Ibis backend holding the store's tables (DuckDB, Spark, ...).
    `expressions`: built expressions kept for this backend (see `ExpressionCache`)."""
    resolved = kpi_settings(settings)
    result, columns = columns_on_backend(backend, query, resolved, expressions)
    result.rows = columns.rows()
    return mark_partial(result, coverage_days(backend, resolved), local_today(resolved))


@dataclass(frozen=True)
class AgentGroup:
    """Agents whose figures are wanted together (a team's members), and the KPIs asked."""

    agents: list[str]
    kpis: list[str]


def run_with_group_totals(engine: sqlalchemy.Engine, query: KpiQuery,
                          groups: dict[str, AgentGroup], settings: Any | None = None
                          ) -> tuple[KpiResult, dict[str, KpiResult]]:
    """`query` (grouped by agent, every group's agents among its filter), and each group's
    figures over its agents together: the document of the same query without `by`,
    filtered to the group's agents, and with the group's KPIs.

    From one pass over the store: a figure is made from sums (counts, sums, sums of
    squares, seconds), and a group's sums are its agents' sums added up, so only the
    medians and p90s, which are not sums, are asked of the store again (their rank query,
    over the group's agents). A scorecard's team totals thus cost a rank query, not
    another pass over every source."""
    if query.by != ["agent"] or "agent" not in query.filters:
        raise ValueError("group totals come from a query by agent, filtered to its agents")
    asked = set(query.filters["agent"])
    with analytical_store(engine) as backend:
        resolved = kpi_settings(settings)
        header, runner = _run(backend, query, resolved)
        result = header
        result.rows = runner.columns().rows()
        span, today = coverage_days(backend, resolved), local_today(resolved)
        totals: dict[str, KpiResult] = {}
        for name, group in groups.items():
            if not set(group.agents) <= asked or not set(group.kpis) <= set(
                    runner.frame.kpis):
                raise ValueError(f"group {name!r}: its agents and KPIs must be among the "
                                 "query's")
            totals[name] = mark_partial(_group_totals(runner, group, header), span, today)
    return mark_partial(result, span, today), totals


def _group_totals(runner: Runner, group: AgentGroup, header: KpiResult) -> KpiResult:
    """A group's figures from the by-agent run's sums (see `run_with_group_totals`)."""
    query = runner.query.model_copy(update={
        "by": [], "kpis": list(group.kpis), "filters": {"agent": sorted(group.agents)}})
    frame = replace(runner.frame, kpis=set(group.kpis), agents=frozenset(group.agents))
    totals = Runner(frame, query, [KPIS[name] for name in group.kpis], compute=False)
    sums = [name for name in totals.measure_names() if name in runner.table]
    mine = runner.table[runner.table["agent"].isin(group.agents)]
    # every period of the run has its row, with or without data (as a query without `by`)
    table = mine.groupby("period", sort=True)[sums].sum(min_count=1).reset_index()
    totals.add_columns(table)
    distributions: dict[str, dict[str, Quantiles]] = defaultdict(dict)
    for prefix, request in totals.quantile_requests().items():
        distributions[request.source][prefix] = request
    for source, requests in distributions.items():
        totals._order_statistics(source, requests)
    result = KpiResult(header.from_, header.to, [], query.period,
                       {"agent": sorted(group.agents)}, header.timezone)
    result.rows = totals.columns().rows()
    return result


def _run(backend: BaseBackend, query: KpiQuery, resolved: KpiSettings,
         expressions: ExpressionCache | None = None) -> tuple[KpiResult, Runner]:
    """The result's header (without rows) and the runner holding its figures' sums."""
    names = query.kpis if query.kpis is not None else list(KPIS)
    first, end = _date_range(backend, query, resolved)
    periods = periods_for(first, end, query.period, resolved)
    if not query.compare:
        periods = [period for period in periods if period.current]
    frame = Frame(backend, resolved, query.period, periods, kpis=set(names),
                  dimensions=frozenset(query.by) | frozenset(query.filters),
                  agents=frozenset(query.filters["agent"]) if "agent" in query.filters
                  else None)
    runner = Runner(frame, query, [KPIS[name] for name in names], expressions=expressions)
    header = KpiResult(first, end, list(query.by), query.period,
                       {name: list(values) for name, values in query.filters.items()},
                       resolved.timezone)
    return header, runner


def columns_on_backend(backend: BaseBackend, query: KpiQuery, settings: Any | None = None,
                       expressions: ExpressionCache | None = None
                       ) -> tuple[KpiResult, KpiColumns]:
    """The result's header (without rows) and its figures column-wise (before building
    one figure per group and KPI, which a caller that wants a table can skip)."""
    header, runner = _run(backend, query, kpi_settings(settings), expressions)
    return header, runner.columns()


# --- dates and periods -----------------------------------------------------------------


# The records whose times bound a default range (when `from` or `to` is not given) ...
RANGE_COLUMNS = (("interactions", "created_at"), ("surveys", "submitted_at"),
                 ("agent_states", "start"), ("social_posts", "posted_at"))
# ... and those whose times say which days the data covers (partial periods): both indexed
# by time, so asking costs two index seeks each, whatever the size of the store.
COVERAGE_COLUMNS = (("interactions", "created_at"), ("surveys", "submitted_at"))
# A store may hold contacts created before it recorded any work: the backlog open when its
# records begin (a weekend's emails, old tickets of a helpdesk export). Those days are not
# covered: the data covers from its first contact or its first resolution, whichever is later.
WORK_START_COLUMNS = (("interactions", "resolved_at"),)


def data_days(backend: BaseBackend, settings: KpiSettings,
              columns: tuple[tuple[str, str], ...] = COVERAGE_COLUMNS
              ) -> tuple[date, date] | None:
    """The local days (organisation's time zone) of the first and the last record of the
    data (the tables' time `columns`); None when there is none.

    One `min` or `max` a statement: SQLite answers a lone min or max from the column's
    index, never both in one statement."""
    instants: list[float] = []
    bounds = time_bounds(backend, columns)
    if bounds is None:
        bounds = []
        for table, column in columns:
            column_expression = backend.table(table)[column]
            bounds.append((backend.execute(column_expression.min()),
                           backend.execute(column_expression.max())))
    for low, high in bounds:
        instants += [float(value) for value in (low, high)
                     if value is not None and not (isinstance(value, float) and math.isnan(value))]
    if not instants:
        return None
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)
    return (datetime.fromtimestamp(min(instants), zone).date(),
            datetime.fromtimestamp(max(instants), zone).date())


def coverage_days(backend: BaseBackend, settings: KpiSettings) -> tuple[date, date] | None:
    """The local days the data covers, first and last (each only in part): `data_days` of
    `COVERAGE_COLUMNS`, starting no earlier than the first resolution (`WORK_START_COLUMNS`)."""
    span = data_days(backend, settings)
    work = data_days(backend, settings, WORK_START_COLUMNS)
    if span is not None and work is not None and span[0] < work[0] <= span[1]:
        return work[0], span[1]
    return span


def local_today(settings: KpiSettings) -> date:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(settings.timezone)).date()


def _date_range(backend: BaseBackend, query: KpiQuery, settings: KpiSettings
                ) -> tuple[date, date]:
    """[from, to) in local dates: as asked, else the days that hold data."""
    if query.from_ is not None and query.to is not None:
        return query.from_, query.to
    span = data_days(backend, settings, RANGE_COLUMNS)
    today = local_today(settings)
    first = query.from_ or (span[0] if span else today)
    end = query.to or ((span[1] + timedelta(days=1)) if span else first + timedelta(days=1))
    if end <= first:
        end = first + timedelta(days=1)
    return first, end


def period_bounds(day: date, period: str, first: date, end: date) -> tuple[date, date]:
    """The whole period a row stands for, [start, stop) in local dates: the calendar day,
    week (Monday to Sunday), month or quarter that starts on `day`, or for `all` the range
    [first, end) itself."""
    if period == "all":
        return first, end
    return day, next_period_start(day, period)


def is_partial(start: date, stop: date, first: date, end: date,
               span: tuple[date, date] | None, today: date) -> bool:
    """Whether the period [start, stop) is covered only in part (or not at all): some of its
    days lie outside the range asked [first, end), are not wholly within the data (`span`:
    the days of its first and last record, which the data covers only from the first
    record or up to the last; no data covers nothing), or are today or later (today is not
    over). See docs/kpis.md, "Partial periods"."""
    if start < first or stop > end or stop > today:
        return True
    return span is None or start <= span[0] or stop > span[1]


def mark_partial(result: KpiResult, span: tuple[date, date] | None,
                 today: date) -> KpiResult:
    """The result with `partial` set on every row (see `is_partial`); `span`: the data's
    first and last local days (`data_days`)."""
    first, end = result.from_, result.to
    period = result.period
    flags: dict[str, bool] = {}
    for row in result.rows:
        key = row.group.get("period") if period != "all" else None
        text = str(key) if key is not None else ""
        if text not in flags:
            start, stop = (period_bounds(date.fromisoformat(text[:10]), period, first, end)
                           if text else (first, end))
            flags[text] = is_partial(start, stop, first, end, span, today)
        row.partial = flags[text]
    return result


def periods_for(first: date, end: date, period: str, settings: KpiSettings) -> list[Period]:
    """The periods shown (clipped to [first, end)) and the one before the first, which
    they are compared with."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.timezone)

    def make(key: date, start: date, stop: date, current: bool) -> Period:
        return Period(day_number(key), start, stop, local_midnight(start, zone),
                      local_midnight(stop, zone), current)

    if period == "all":
        length = end - first
        return [make(first - length, first - length, first, False),
                make(first, first, end, True)]
    start = period_start(first, period)
    previous = previous_period_start(start, period)
    periods = [make(previous, previous, start, False)]
    while start < end:
        following = next_period_start(start, period)
        periods.append(make(start, max(start, first), min(following, end), True))
        start = following
    return periods


# --- running the definitions --------------------------------------------------------------


class ExpressionCache:
    """Built Ibis expressions of queries asked again and again on one backend connection
    (the web app's wallboard and views recompute the same query after every write).

    Building a query's expressions costs about as much Python as the database spends on a
    day of data; the SQL of an expression is cached by the connection (kpi.kept_backends).
    An entry is keyed by everything the expression is built from: settings, period and
    periods, KPIs, grouping, filters and the part of the query. Only sources marked
    `reusable` are kept (not those that read the clock). The tables' schemas are read at
    the first build: a connection keeping a cache must not outlive a schema migration.
    Not thread-safe: one per connection, which serves one query at a time.
    """

    def __init__(self, max_entries: int = 128) -> None:
        self._entries: LRUCache[Hashable, Any] = LRUCache(max_entries)
        self.hits = 0
        self.misses = 0

    @property
    def max_entries(self) -> int:
        return int(self._entries.maxsize)

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key in self._entries:
            self.hits += 1
            return self._entries[key]  # a hit counts as a use
        self.misses += 1
        value = self._entries[key] = build()  # the entry used longest ago makes room
        return value


class Runner:
    """Runs the definitions for one query: measures from the database, then every KPI of
    every group at once (column-wise), then the rows of the document.

    `table` holds one row per group and period (the by-dimensions, `period`) with every
    measure (`{kpi}__...`) and order statistic (`{prefix}.median`, ...) as columns. The
    rollup fills it from its stored sums instead of the database (compute=False).
    """

    def __init__(self, frame: Frame, query: KpiQuery, definitions: list[KpiDefinition],
                 execute: Executor | None = None, compute: bool = True,
                 order_statistics: bool = True, expressions: ExpressionCache | None = None):
        self.frame = frame
        self.expressions = expressions
        self._tables: dict[str, ir.Table] = {}
        self.execute: Executor = execute or _executor(frame.backend)
        self._own_executor = execute is None
        if self._keeps_statements():  # the clock goes into each statement as it runs
            self.frame = frame = replace(frame, now_stand_in=NOW_STAND_IN)
        self.query = query
        self.definitions = definitions
        self.by = list(query.by)
        self.keys = [*self.by, "period"]
        self.table = pd.DataFrame({key: pd.Series(dtype="int64" if key == "period" else object)
                                   for key in self.keys})
        self.unavailable: dict[str, str] = {}
        needed = set(self.by) | set(query.filters)
        runnable = []
        for definition in definitions:
            missing = sorted(needed - definition.dimensions)
            if missing:
                self.unavailable[definition.name] = (
                    f"not defined by {', '.join(missing)} (its records have no such field)")
            else:
                runnable.append(definition)
        self.runnable = runnable
        if compute:
            self._compute(order_statistics)

    def _statistics(self) -> Iterator[tuple[str, Statistic]]:
        for definition in self.runnable:
            yield definition.name, definition.statistic
            for extra, statistic in definition.extras.items():
                yield f"{definition.name}__{extra}", statistic

    def _reused(self, source: str, part: Hashable, build: Callable[[], Any],
                frame: Frame | None = None) -> Any:
        """`build()`, or the expression an identical earlier query built (see
        `ExpressionCache`)."""
        if self.expressions is None or not self._reusable(source, frame):
            return build()
        return self.expressions.get(self._query_key(source, part, frame), build)

    def filtered_source(self, source: str, frame: Frame | None = None) -> ir.Table:
        """A source's rows after the query's filters (on another frame if given)."""
        def build() -> ir.Table:
            table = SOURCES[source].build(frame or self.frame)
            for dimension, allowed in self.query.filters.items():
                table = table.filter(table[dimension].isin(list(allowed)))
            return table

        result: ir.Table = self._reused(source, "rows", build, frame)
        return result

    def quantile_requests(self) -> dict[str, Quantiles]:
        """Distributions whose median and p90 the requested KPIs report."""
        quantiles: dict[str, Quantiles] = {}
        for prefix, statistic in self._statistics():
            quantiles.update(statistic.quantiles(prefix))
        return quantiles

    def measure_names(self) -> list[str]:
        return [name for prefix, statistic in self._statistics()
                for name in statistic.measures(prefix)]

    def source_table(self, source: str) -> ir.Table:
        """The rows of a source after the query's filters (built once per run)."""
        if source not in self._tables:
            self._tables[source] = self.filtered_source(source)
        return self._tables[source]

    def add_columns(self, frame: pd.DataFrame) -> None:
        """Merge per-group columns (the key columns and any measures) into `table` (`frame`
        is the caller's fresh result: its key columns are converted in place)."""
        frame["period"] = frame["period"].astype("int64")
        for name in self.by:
            frame[name] = frame[name].astype(object)
        if self.table.empty and len(self.table.columns) == len(self.keys):
            self.table = frame.reset_index(drop=True)
        else:
            self.table = self.table.merge(frame, on=self.keys, how="outer")

    def _compute(self, order_statistics: bool = True) -> None:
        by_source: dict[str, dict[str, Any]] = defaultdict(dict)
        for prefix, statistic in self._statistics():
            for name, (source, build) in statistic.measures(prefix).items():
                by_source[source][name] = build
        distributions: dict[str, dict[str, Quantiles]] = defaultdict(dict)
        if order_statistics:
            for prefix, request in self.quantile_requests().items():
                distributions[request.source][prefix] = request
        frames: list[tuple[str, list[str], pd.DataFrame]] = []
        aside: list[tuple[str, BoundStatement]] = []  # (source, statement) for a 2nd lane
        for source, builders in by_source.items():
            # On DuckDB each distribution's values come back sorted with the aggregate
            # (one scan, one sort per group), rather than ranked by a second windowed query.
            collected = (distributions.pop(source, {}) if self._collects_values()
                         and not SOURCES[source].cumulative else {})

            def aggregate_of(source: str = source, builders: dict[str, Any] = builders,
                             collected: dict[str, Quantiles] = collected) -> ir.Table:
                table = self.source_table(source)
                measures = {name: build(table) for name, build in builders.items()}
                for prefix, request in collected.items():
                    value, condition = _distribution_rows(request, table)
                    measures[f"{prefix}{VALUES}"] = value.collect(order_by=value,
                                                                  where=condition)
                return table.group_by(self.keys).aggregate(**measures)

            part = ("aggregate", tuple(builders), tuple(collected))
            if self._collects_values():  # DuckDB: statements may be kept across processes
                arrow = self._aggregate_arrow(source, part, aggregate_of)
                frame = (self._with_collected_quantiles(arrow, list(collected)) if collected
                         else arrow.to_pandas())
            elif self._keeps_statements():  # the SQLite store: kept across processes too
                aside.append((source, self._statement(source, part, aggregate_of)))
                continue
            else:
                frame = self.execute(self._reused(source, part, aggregate_of))
            frames.append((source, list(builders), frame))
        frames += self._in_two_lanes(aside, {source: list(by_source[source])
                                             for source, _statement in aside})
        order = list(by_source)
        for source, columns, frame in sorted(frames, key=lambda item: order.index(item[0])):
            if SOURCES[source].cumulative:
                frame = self._cumulative(frame, columns)
            self.add_columns(frame)  # in the sources' order, as one lane would
        for source, requests in distributions.items():
            self._order_statistics(source, requests)

    def _in_two_lanes(self, statements: list[tuple[str, BoundStatement]],
                      columns: dict[str, list[str]]
                      ) -> list[tuple[str, list[str], pd.DataFrame]]:
        """Run the SQLite store's grouped statements in two lanes: this connection, and a
        second connection to the same file in a thread (the sqlite3 module lets go of the
        GIL while SQLite works, so two cores each run a query). A statement joining an
        in-memory table (registered on this connection only) stays in this lane; the
        others go aside (at least one stays here). Each statement reads the store's
        committed state when it runs, as one after the other on one connection would."""
        path = store_file(self.frame.backend) if len(statements) > 1 else None
        here = [item for item in statements if path is None or _MEMTABLE in item[1].sql]
        away = [item for item in statements if path is not None and _MEMTABLE not in item[1].sql]
        if not here and away:
            here.append(away.pop(0))
        if path is None or not away:
            return [(source, columns[source], self._statement_frame(statement))
                    for source, statement in here]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as lane:
            elsewhere = lane.submit(_run_aside, path, [statement for _s, statement in away])
            results = [(source, columns[source], self._statement_frame(statement))
                       for source, statement in here]
            results += [(source, columns[source], frame) for (source, _statement), frame
                        in zip(away, elsewhere.result(), strict=True)]
        return results

    def _collects_values(self) -> bool:
        """Whether distributions' values come back as sorted lists with the aggregate."""
        return (self._own_executor and self.frame.backend is not None
                and self.frame.backend.name == "duckdb")

    def _keeps_statements(self) -> bool:
        """Whether this run's queries go through `_statement` (statements kept across
        processes): on DuckDB, and on an SQLite store whose schema is known."""
        backend = self.frame.backend
        return (self._own_executor and backend is not None
                and (backend.name == "duckdb"
                     or (backend.name == "sqlite" and schema_digest(backend) is not None)))

    def _statement_frame(self, statement: BoundStatement) -> pd.DataFrame:
        """A table statement's result, converted as `execute` converts its expression's."""
        executor = bound_executor(self.frame.backend)
        if self.frame.backend.name == "duckdb":
            frame: pd.DataFrame = executor.table_arrow(statement).to_pandas()
            return frame
        return executor.table_frame(statement)

    def _aggregate_arrow(self, source: str, part: Hashable,
                         build: Callable[[], ir.Table]) -> Any:
        """A source's grouped query run on DuckDB, as Arrow (its statement: `_statement`)."""
        executor = bound_executor(self.frame.backend)
        return executor.table_arrow(self._statement(source, part, build))

    def _statement(self, source: str, part: Hashable, build: Callable[[], ir.Table],
                   frame: Frame | None = None) -> BoundStatement:
        """The bound statement of a source's query (`part`, on this run's frame or
        `frame`): kept across processes when the source is reusable and the backend's
        schema is known (`kpi.compiled_sql`), else built and compiled."""
        executor = bound_executor(self.frame.backend)
        kept = kept_sql() if self._reusable(source, frame) else None
        digest = schema_digest(self.frame.backend)
        key = (kept.key(self._query_key(source, part, frame), digest)
               if kept is not None and digest is not None else None)
        statement = kept.get(key) if kept is not None and key is not None else None
        if statement is None:
            expression = self._reused(source, part, build, frame)
            # in-memory tables the expression joins (a zone's offsets) registered, as Ibis'
            # own execute would
            self.frame.backend._run_pre_execute_hooks(expression)
            statement = executor.statement(expression)
            if kept is not None and key is not None and self._keepable(expression):
                kept.put(key, statement)
        else:
            ensure_views(self.frame.backend, statement.sql)  # built lazily, by `table()`
            self._register_periods(statement.sql)
        return self._clocked(source, statement)

    def _keepable(self, expression: ir.Table) -> bool:
        """Whether a statement may be kept across processes: it joins no in-memory table
        (registered by this process), or, on SQLite, only the periods' table, which the
        process running the kept statement registers again under its name (the periods
        are part of the statement's key, so its rows are the same)."""
        memtables = expression.op().find(ops.InMemoryTable)
        return not memtables or (self.frame.backend.name == "sqlite" and all(
            tuple(table.schema.names) == PERIOD_COLUMNS for table in memtables))

    def _register_periods(self, sql: str) -> None:
        """The periods' table under each in-memory table name a kept SQLite statement
        reads (see `_keepable`), unless this connection has it already."""
        if self.frame.backend.name != "sqlite":
            return
        rows = [(p.key, p.start_utc, p.end_utc) for p in self.frame.periods]
        con: Any = self.frame.backend.con
        for name in sorted(set(_MEMTABLE_NAME.findall(sql))):
            con.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{name}" '
                        '("period" INTEGER, "p_start" REAL, "p_end" REAL)')
            if con.execute(f'SELECT COUNT(*) FROM temp."{name}"').fetchone()[0] == 0:
                con.executemany(f'INSERT INTO temp."{name}" VALUES (?, ?, ?)', rows)

    def _reusable(self, source: str, frame: Frame | None = None) -> bool:
        """Whether a source's expression and statement may serve a later query: built from
        the frame alone, or reading the clock through the stand-in (`Frame.now_stand_in`)."""
        kind = SOURCES[source]
        return kind.reusable and (not kind.reads_clock
                                  or (frame or self.frame).now_stand_in is not None)

    def _clocked(self, source: str, statement: BoundStatement) -> BoundStatement:
        """The statement with this run's `now` where the clock's stand-in is (see
        `Frame.now_stand_in`): numbers stay literal in the SQL (`kpi.bound_sql`)."""
        stand_in = self.frame.now_stand_in
        if stand_in is None:
            return statement
        text = repr(stand_in)
        if text not in statement.sql:
            if SOURCES[source].reads_clock:  # never run a clock-reading query without it
                raise RuntimeError(f"the {source} query does not hold the clock's stand-in")
            return statement
        return BoundStatement(statement.sql.replace(text, repr(float(self.frame.now))),
                              statement.values, statement.schema)

    def _at_ranks(self, source: str, part: Hashable,
                  build: Callable[[list[int]], ir.Table], pairs: set[int],
                  frame: Frame) -> pd.DataFrame:
        """The order-statistics query's rows (see `_order_statistics`) through a statement
        that can be kept: which (n, rank) pairs are wanted depends on the data, the rest of
        the query does not, so it is compiled with two stand-in pairs, whose IN list the
        wanted pairs replace in the SQL text (numbers stay literal: `kpi.bound_sql`)."""
        statement = self._statement(source, part, partial(build, list(_STAND_IN)), frame)
        stand_in = ", ".join(str(pair) for pair in _STAND_IN)
        if statement.sql.count(stand_in) != 1:  # never seen; the full query, compiled
            executor = bound_executor(self.frame.backend)
            return self._statement_frame(
                self._clocked(source, executor.statement(build(sorted(pairs)))))
        wanted = ", ".join(str(pair) for pair in sorted(pairs))
        return self._statement_frame(BoundStatement(
            statement.sql.replace(stand_in, wanted), statement.values, statement.schema))

    def _query_key(self, source: str, part: Hashable, frame: Frame | None = None) -> str:
        """Everything a source's query is built from (on this run's frame or `frame`), as
        text that is the same in every process (sets sorted): the key of its expression
        kept in this process (`ExpressionCache`) and of its statement kept across processes
        (`kpi.compiled_sql`)."""
        frame, query = frame or self.frame, self.query
        return repr((source, part, repr(frame.settings), frame.period, tuple(frame.periods),
                     sorted(frame.kpis),
                     None if frame.dimensions is None else sorted(frame.dimensions),
                     # (asked of the data only when the repeat windows need it)
                     frame.uncategorised if frame.kpis & REPEAT_KPIS else None,
                     sorted((name, tuple(values)) for name, values in query.filters.items()),
                     tuple(self.keys)))

    def _with_collected_quantiles(self, arrow: Any, prefixes: list[str]) -> pd.DataFrame:
        """The aggregate's measures (an Arrow table), and each distribution's order
        statistics worked out from its sorted values (the lists never become Python
        objects)."""
        import pyarrow.compute as pc

        lists = {prefix: arrow.column(f"{prefix}{VALUES}").combine_chunks()
                 for prefix in prefixes}
        arrow = arrow.drop_columns([f"{prefix}{VALUES}" for prefix in prefixes])
        frame: pd.DataFrame = arrow.to_pandas()
        quantiles: dict[str, np.ndarray] = {}
        for prefix, values in lists.items():
            counts = pc.list_value_length(values).fill_null(0).to_numpy().astype("int64")
            flat = values.flatten().to_numpy(zero_copy_only=False).astype("float64")
            quantiles.update(_sorted_quantiles(prefix, counts, flat))
        # one block of columns (added one by one, pandas would copy them together later)
        return pd.concat([frame, pd.DataFrame(quantiles, index=frame.index)], axis=1)

    def _cumulative(self, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """Running sums over periods: the value at each period's end, for every period.

        Whole columns at once: every group gets a row for "before" and for each period (0
        where it has none), and a grouped cumsum adds them in period order, as a running
        total would.
        """
        if frame.empty:
            return frame
        keys = sorted(p.key for p in self.frame.periods)
        order = [BEFORE, *(key for key in keys if key != BEFORE)]
        frame = frame.copy()
        frame["period"] = frame["period"].astype("int64")
        frame[columns] = frame[columns].astype("float64").fillna(0.0)
        group_columns = self.by
        groups = (frame[group_columns].drop_duplicates() if group_columns
                  else pd.DataFrame(index=[0]))
        grid = groups.merge(pd.DataFrame({"period": order}), how="cross")
        kept = frame[frame["period"].isin(order)]
        summed = kept.groupby([*group_columns, "period"], dropna=False, sort=False,
                              as_index=False)[columns].sum()
        merged = grid.merge(summed, on=[*group_columns, "period"], how="left")
        merged[columns] = merged[columns].fillna(0.0)
        if group_columns:
            merged[columns] = merged.groupby(group_columns, dropna=False, sort=False
                                             )[columns].cumsum()
        else:
            merged[columns] = merged[columns].cumsum()
        result = merged[merged["period"] != BEFORE] if BEFORE not in keys else merged
        return result.reset_index(drop=True)

    def _order_statistics(self, source: str, requests: dict[str, Quantiles]) -> None:
        """Medians and p90s (linear interpolation between order statistics, as PostgreSQL's
        percentile_cont) with order-statistic intervals, for every distribution of a source
        in one query: ranks are worked out from each group's n, and only the rows at those
        ranks come back."""
        keys = self.keys
        counts: dict[str, pd.DataFrame] = {}
        pairs: set[int] = set()
        for prefix in requests:
            if f"{prefix}__n" not in self.table:
                continue
            found = self.table[[*keys, f"{prefix}__n"]].rename(columns={f"{prefix}__n": "n"})
            found = found[found["n"].fillna(0) > 0]
            if found.empty:
                continue
            found = found.astype({"n": "int64"})
            plans = _rank_plans(sorted(set(found["n"].tolist())))
            counts[prefix] = found.merge(plans["table"], on="n")
            # The wanted ranks depend only on a group's n: the query keeps the rows whose
            # (n, rank) pair is wanted, through an IN list, rather than joining a table of
            # groups (SQLite would nest-loop that join).
            pairs |= {n * RANK_KEY + rank for n, ranks in plans["ranks"].items()
                      for rank in ranks}
        if not counts:
            return
        # Order statistics need no repeat contacts: a source without those windows.
        frame = self.frame.without_repeats()

        def ranked_rows() -> ir.Table:
            table = self.filtered_source(source, frame)
            parts = []
            for index, prefix in enumerate(counts):
                value, condition = _distribution_rows(requests[prefix], table)
                parts.append(table.filter(condition).select(
                    *keys, distribution=ibis.literal(index, type="int64"), v=value))
            rows = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
            group = [*(rows[k] for k in keys), rows.distribution]
            return rows.mutate(
                rank=ibis.row_number().over(ibis.window(group_by=group, order_by=[rows.v])) + 1,
                n=rows.v.count().over(ibis.window(group_by=group)))

        def at_ranks(wanted: list[int]) -> ir.Table:
            ranked = self._reused(source, ("ranked", tuple(counts)), ranked_rows, frame)
            return (ranked.filter((ranked.n.cast("int64") * RANK_KEY
                                   + ranked.rank.cast("int64")).isin(wanted))
                    .select(*keys, "distribution", "rank", "v"))

        found = (self._at_ranks(source, ("at ranks", tuple(counts)), at_ranks, pairs, frame)
                 if self._keeps_statements() else self.execute(at_ranks(sorted(pairs))))
        found = found.astype({"period": "int64", "distribution": "int64", "rank": "int64",
                              "v": "float64"})
        for name in self.by:
            found[name] = found[name].astype(object)
        for index, (prefix, groups) in enumerate(counts.items()):
            mine = found[found["distribution"] == index].drop(columns="distribution")
            self.add_columns(_quantile_columns(prefix, groups, mine, keys))

    # --- assembling rows ------------------------------------------------------------------

    def _groups(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows of `table` holding the current groups, in document order, and the rows
        holding the same groups' previous period (-1 where a group has none there).

        Positions rather than frames: a KPI reads a few of the table's columns, each taken
        at these positions when read (see `Measures`), instead of every column copied twice.
        """
        current_keys = [p.key for p in self.frame.periods if p.current]
        if not self.by:  # ungrouped: every period has its row, with or without data
            missing = sorted(set(current_keys) - set(self.table["period"].tolist()))
            if missing:
                self.table = pd.concat([self.table, pd.DataFrame({"period": missing})],
                                       ignore_index=True)
        table = self.table
        periods = table["period"].to_numpy(dtype="int64")
        current = np.flatnonzero(np.isin(periods, current_keys))
        # by each dimension (missing values last, others by their text), then period: one
        # stable lexsort of integer codes (np.lexsort sorts by its last key first)
        order: list[np.ndarray] = []
        for name in self.by:
            values = table[name].iloc[current]
            order.append((values.isna() | (values == NONE)).to_numpy())
            order.append(pd.factorize(values.fillna("").astype(str), sort=True)[0])
        order.append(periods[current])
        current = current[np.lexsort(order[::-1])]
        # the same groups one period earlier: their rows by key (-1 where there is none)
        previous_of = _previous_keys(self.frame.periods)
        wanted = table[self.keys].iloc[current]
        wanted = wanted.assign(period=wanted["period"].map(previous_of).astype("int64"))
        previous = pd.MultiIndex.from_frame(table[self.keys]).get_indexer(
            pd.MultiIndex.from_frame(wanted))
        return current, previous

    def columns(self) -> KpiColumns:
        """Every figure of every group, column-wise (the document before its rows)."""
        current, previous = self._groups()
        now, before = Measures(self.table, current), Measures(self.table, previous)
        with no_garbage_collection():
            return KpiColumns(
                groups=self._group_fields(current), size=len(current),
                kpis={definition.name: self._kpi_fields(definition, now, before)
                      for definition in self.definitions})

    def rows(self) -> list[KpiRow]:
        return self.columns().rows()

    def _group_fields(self, current: np.ndarray) -> Fields:
        fields: Fields = {name: partial(_dimension_values, self.table[name].to_numpy()[current])
                          for name in self.by}
        if self.frame.period != "all":
            fields["period"] = partial(
                _iso_days, self.table["period"].to_numpy(dtype="int64")[current])
        return fields

    def _kpi_fields(self, definition: KpiDefinition, current: Measures, previous: Measures
                    ) -> Fields:
        """One KPI's result fields, each a column over the groups."""
        name, statistic = definition.name, definition.statistic
        size = current.size
        if name in self.unavailable:
            return {"value": [None] * size, "n": [0] * size,
                    "unavailable": [self.unavailable[name]] * size}
        settings = self.frame.settings
        now = statistic.figures(name, current, settings)
        before = statistic.figures(name, previous, settings)
        fields: Fields = dict(now.fields)
        # a null value is never a low sample, nor is a plain sum
        low_sample = (now.n < settings.minimum_sample) & ~np.isnan(now.value)
        fields["low_sample"] = (low_sample & (statistic.kind != "sum")).tolist
        for extra, extra_statistic in definition.extras.items():
            fields[extra] = _extra_fields(extra_statistic, f"{name}__{extra}", current,
                                          settings)
        fields["previous"] = {"value": partial(before.field, "value"),
                              "n": partial(before.field, "n")}
        change = now.value - before.value
        fields["change"] = (partial(_whole_or_rounded_change, change)
                            if statistic.kind == "sum" else partial(json_floats, change))
        # Only groups of at least the minimum sample on both sides are compared: below it
        # a verdict means little.
        # The test runs on those groups alone (a scorecard by agent x day has few).
        comparable = np.flatnonzero(np.minimum(now.n, before.n) >= settings.minimum_sample)
        tested = statistic.p_values(name, current.subset(comparable),
                                    previous.subset(comparable))
        if tested is None:
            fields["significant"] = [None] * size
        else:
            p_values = np.full(size, np.nan)
            p_values[comparable] = tested
            fields["significant"] = partial(
                json_flags, p_values < statistics.SIGNIFICANCE_LEVEL, ~np.isnan(p_values))
        return fields


# A KPI's result fields: field -> its column over the groups, or a function making it (the
# JSON lists are made when the rows are built); a nested result (the previous period, a
# distribution extra) is itself fields.
Fields = dict[str, Any]


def _dimension_values(values: np.ndarray) -> list[Any]:
    return [None if value is None or value == NONE else value for value in values.tolist()]


def _iso_days(day_numbers: np.ndarray) -> list[str]:
    # day numbers as ISO dates in one numpy step (date.isoformat of each)
    days: list[str] = day_numbers.astype("datetime64[D]").astype(str).tolist()
    return days


def _whole_or_rounded_change(change: np.ndarray) -> list[Any]:
    return whole_or_rounded(change, round_like_python(change))


@dataclass
class KpiColumns:
    """The result of a query column-wise: `groups` (dimension -> column) and, per KPI, its
    fields. `rows()` turns it into the result's rows (one figure per group and KPI)."""

    groups: Fields
    size: int
    kpis: dict[str, Fields]

    def rows(self) -> list[KpiRow]:
        with no_garbage_collection():
            groups = _records(self.groups, self.size)
            columns = [_figures(fields, self.size) for fields in self.kpis.values()]
            names = list(self.kpis)
            return [KpiRow(group, dict(zip(names, figures, strict=True)))
                    for group, figures in zip(groups, zip(*columns, strict=True),
                                              strict=True)]


def _figures(fields: Fields, size: int) -> list[KpiFigure]:
    """One KPI's figure of every group from its fields: a column per field, then one
    positional call per figure (the fields a KPI lacks take their defaults)."""
    keys = tuple(fields)

    def column(name: str, default: Any = None) -> Iterator[Any] | list[Any]:
        return _records(fields[name], size) if name in fields else repeat(default, size)

    intervals = [None if pair is None else (pair[0], pair[1]) for pair in column("ci")]
    previous: Any = repeat(None, size)
    if "previous" in fields:
        before = fields["previous"]
        previous = map(PreviousFigure, _records(before["value"], size),
                       _records(before["n"], size))
    extra_names = [name for name in keys if name not in STANDARD_FIELDS]
    extras: Any = (records({name: _records(fields[name], size) for name in extra_names})
                   if extra_names else repeat(NO_EXTRAS, size))
    return list(map(KpiFigure, column("value"), column("n", 0), intervals,
                    column("low_sample", False), previous, column("change"),
                    column("significant"), column("unavailable"), extras,
                    repeat(keys, size)))


def _records(fields: Fields, size: int) -> list[Any]:
    if callable(fields):
        return _records(fields(), size)
    if not isinstance(fields, dict):
        return fields
    if not fields:
        return [{} for _ in range(size)]
    return records({name: _records(value, size) for name, value in fields.items()})


def _distribution_rows(request: Quantiles, table: ir.Table
                       ) -> tuple[ir.FloatingValue, ir.BooleanValue]:
    """A distribution's values (as floats) and the rows they are taken from."""
    value = request.value.resolve(table)
    condition = value.notnull()
    if request.population is not None:
        condition = condition & request.population.resolve(table)
    return value.cast("float64"), condition


def _no_backend(expression: ir.Expr) -> pd.DataFrame:
    raise RuntimeError("this run reads stored statistics and has no backend to query")


def _executor(backend: BaseBackend | None) -> Executor:
    if backend is None:
        return _no_backend
    if backend.name == "duckdb":
        # Ibis' DuckDB execute() turns every column holding a NULL into a Python list; the
        # engine reads numbers column-wise, so Arrow's own conversion (NULL → NaN) does.
        arrow = bound_executor(backend).arrow  # text values bound, as on the store

        def execute(expression: ir.Expr) -> pd.DataFrame:
            frame: pd.DataFrame = arrow(expression).to_pandas()
            return frame

        return execute
    if backend.name in STORE_BACKENDS:
        # The store: filter values are bound parameters, never SQL text (bound_sql).
        return bound_executor(backend)
    return backend.execute


def _extra_fields(statistic: Statistic, prefix: str, measures: Measures,
                  settings: KpiSettings) -> Any:
    """An extra figure beside a KPI's value: a distribution's summary, a count, a value."""
    figures = statistic.figures(prefix, measures, settings)
    if statistic.kind == "median-distribution":
        return {name: partial(figures.field, name) for name in ("value", "mean", "p90", "n")}
    if isinstance(statistic, Total) and statistic.value is None:
        return partial(json_ints, np.nan_to_num(figures.value))
    return partial(figures.field, "value")


def _previous_keys(periods: list[Period]) -> dict[int, int]:
    ordered = sorted(periods, key=lambda p: p.start_utc)
    return {p.key: (ordered[i - 1].key if i > 0 else BEFORE) for i, p in enumerate(ordered)}


def _run_aside(path: str, statements: list[BoundStatement]) -> list[pd.DataFrame]:
    """Grouped statements run on a connection of their own to the SQLite store at `path`
    (opened, used and closed in the calling thread: `Runner._in_two_lanes`)."""
    backend = ibis.sqlite.connect(path)
    try:
        executor = bound_executor(backend)
        return [executor.table_frame(statement) for statement in statements]
    finally:
        backend.disconnect()


# Ibis names the in-memory tables it registers `ibis_<format>_memtable_<id>`
_MEMTABLE = "_memtable_"
# the names Ibis gives in-memory tables (letters and digits after its prefix)
_MEMTABLE_NAME = re.compile(r'"(ibis_[a-z]+_memtable_[a-z0-9]+)"')
PERIOD_COLUMNS = ("period", "p_start", "p_end")  # Frame.periods_table()
RANK_KEY = 10**9  # (n, rank) packed into one integer: n * RANK_KEY + rank
# (n, rank) pairs no group has (ranks above n), standing in for the wanted ones in a kept
# order-statistics statement (Runner._at_ranks)
_STAND_IN = (7 * RANK_KEY + 987_654_321, 7 * RANK_KEY + 987_654_322)
VALUES = ".values"  # suffix of a distribution's sorted values in an aggregate (DuckDB)
# rank columns of a plan: (interpolation point h or None, rank) per order statistic wanted
_RANK_COLUMNS = ("median_low", "median_high", "p90_low", "p90_high",
                 "median_ci_low", "median_ci_high", "p90_ci_low", "p90_ci_high")


@lru_cache(maxsize=1 << 14)
def _rank_plan(n: int) -> tuple[tuple[float, float], tuple[int, ...]]:
    """For n values: the interpolation points h of the median and p90 (type 7: linear
    interpolation at h = (n − 1)q + 1) and the 1-based ranks of `_RANK_COLUMNS` (0 where
    an interval needs more values)."""
    points: list[float] = []
    ranks: list[int] = []
    intervals: list[int] = []
    for q in (0.5, 0.9):
        h = (n - 1) * q + 1
        points.append(h)
        ranks += [math.floor(h), math.ceil(h)]
        interval = quantile_rank_interval(n, q)
        intervals += list(interval) if interval is not None else [0, 0]
    return (points[0], points[1]), (*ranks, *intervals)


def _rank_plans(counts: list[int]) -> dict[str, Any]:
    """The plans of every group size: a table by n, and the set of ranks each n needs."""
    rows = []
    ranks: dict[int, set[int]] = {}
    for n in counts:
        (median_h, p90_h), plan_ranks = _rank_plan(n)
        rows.append((n, median_h, p90_h, *plan_ranks))
        ranks[n] = {rank for rank in plan_ranks if rank > 0}
    table = pd.DataFrame(rows, columns=["n", "median_h", "p90_h", *_RANK_COLUMNS])
    return {"table": table, "ranks": ranks}


def _quantile_columns(prefix: str, groups: pd.DataFrame, found: pd.DataFrame,
                      keys: list[str]) -> pd.DataFrame:
    """Each group's median, p90 and their intervals from the values found at the ranks."""
    # One join finds each value's group; then every rank column is a sorted lookup of
    # (group row, rank) codes, rather than a join per column.
    rows = np.arange(len(groups), dtype="int64")
    located = found.merge(groups[keys].assign(_row=rows), on=keys, how="inner")
    codes = (located["_row"].to_numpy(dtype="int64") * RANK_KEY
             + located["rank"].to_numpy(dtype="int64"))
    order = np.argsort(codes, kind="stable")
    codes, values = codes[order], located["v"].to_numpy(dtype="float64")[order]
    at: dict[str, np.ndarray] = {}
    for column in _RANK_COLUMNS:
        wanted = rows * RANK_KEY + groups[column].to_numpy(dtype="int64")
        position = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
        hit = (codes[position] == wanted) if len(codes) else np.zeros(len(rows), dtype=bool)
        at[column] = np.where(hit, values[position] if len(codes) else np.nan, np.nan)
    result = groups[keys].copy()
    plans = {column: groups[column].to_numpy(dtype="float64")
             for column in ("median_h", "p90_h", "median_low", "p90_low")}
    for name, figures in _interpolated(prefix, plans, at).items():
        result[name] = figures
    return result


def _interpolated(prefix: str, plans: dict[str, np.ndarray], at: dict[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
    """Median and p90 (interpolated at h between the values at their low and high ranks)
    and the interval ends, rounded, from the values at the ranks of `_RANK_COLUMNS`."""
    result: dict[str, np.ndarray] = {}
    for name in ("median", "p90"):
        h, low = plans[f"{name}_h"], plans[f"{name}_low"]
        result[f"{prefix}.{name}"] = round_like_python(
            at[f"{name}_low"] + (h - low) * (at[f"{name}_high"] - at[f"{name}_low"]))
        for end in ("low", "high"):
            result[f"{prefix}.{name}_ci_{end}"] = round_like_python(at[f"{name}_ci_{end}"])
    return result


def _sorted_quantiles(prefix: str, counts: np.ndarray, values: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """The order-statistic columns of every group from its values sorted ascending, all
    groups' values end to end (`counts` of each, in group order); NaN for empty groups."""
    starts = np.cumsum(counts) - counts
    sizes = np.unique(counts[counts > 0])
    plans = _rank_plans(sizes.tolist())["table"]
    # each group's plan: the row of its n (groups without values take row 0, masked below)
    row = np.minimum(np.searchsorted(sizes, counts), max(len(sizes) - 1, 0))
    known = counts > 0

    def column(name: str, dtype: str) -> np.ndarray:
        if not len(sizes):
            return np.zeros(len(counts), dtype=dtype)
        return plans[name].to_numpy(dtype=dtype)[row]

    at: dict[str, np.ndarray] = {}
    for name in _RANK_COLUMNS:
        ranks = column(name, "int64")
        wanted = known & (ranks > 0)
        position = np.where(wanted, starts + ranks - 1, 0)
        at[name] = np.where(wanted, values[position] if len(values) else np.nan, np.nan)
    plan_columns = {name: np.where(known, column(name, "float64"), np.nan)
                    for name in ("median_h", "p90_h", "median_low", "p90_low")}
    return _interpolated(prefix, plan_columns, at)

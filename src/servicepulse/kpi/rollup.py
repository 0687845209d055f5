"""The daily additive rollup: kept up to date on import, read by dashboards.

`refresh_rollups(connection, days)` recomputes the rollup rows of the given days with the
engine itself (the same definitions, grouped by day x agent x team x role x channel) inside
the caller's transaction. Every import batch marks the days it changed as stale
(`kpi_rollup_dirty`, an import hook); they are rebuilt once after the import (an
after-import hook), or by `refresh_dirty_rollups` for an import that defers its after-import
work. A query whose range holds a stale day is answered by the exact path, so no answer is
ever stale. The marks are durable and versioned (`servicepulse.store.marks`): a killed
import leaves them for the next run, and a rebuild never clears a day that a concurrent batch
changed after the rebuild read it. Rebuilds hold the "derived" lock (PostgreSQL; SQLite has
one writer), so two of them never write the same day at once.

`query_rollup(engine, query)` answers a KPI query from the rollup when it can (the rollup
KPIs, grouped and filtered by rollup dimensions, rollup kept in the organisation's time zone)
and returns the same document as the exact path, with `"source": "rollup"`; medians and p90s
are then read from logarithmic histograms (buckets 25% wide: an approximation, within one
bucket of the exact value), stored packed (one blob of bucket counts per cell and measure) and
summed in numpy. It returns None when the rollup cannot answer: use
`servicepulse.kpi.engine.run_kpi_query` then.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from servicepulse.ingest import hooks
from servicepulse.ingest.driver import in_ids
from servicepulse.ingest.hooks import Touched
from servicepulse.kpi.analytical import store_backend
from servicepulse.kpi.bound_sql import compile_bound
from servicepulse.kpi.columns import round_like_python
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import Runner, periods_for
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.kpi.settings import KpiSettings, kpi_settings
from servicepulse.kpi.sources import (
    DAY_S,
    EPOCH,
    Frame,
    Period,
    day_number,
    from_day_number,
    local_midnight,
    next_period_start,
)
from servicepulse.kpi.tables import (
    HISTOGRAM_DTYPE,
    ROLLUP_DIMENSIONS,
    ROLLUP_MEASURES,
    SUMS_DTYPE,
    TEAM_ROLLUP_DIMENSIONS,
    kpi_daily_histogram,
    kpi_daily_histogram_packed,
    kpi_daily_histogram_team,
    kpi_daily_histogram_team_packed,
    kpi_daily_rollup,
    kpi_daily_rollup_team,
    kpi_daily_sums_packed,
    kpi_daily_sums_team_packed,
    kpi_monthly_histogram_team,
    kpi_monthly_histogram_team_packed,
    kpi_monthly_rollup_team,
    kpi_monthly_sums_team_packed,
    kpi_rollup_dirty,
)
from servicepulse.store import marks, tables
from servicepulse.store.database import lock_for, write_transaction

ROLLUP_KPIS = ("contacts", "frt", "asa", "aht", "fcr", "repeat_contact_rate", "resolution_rate",
               "ttr", "reopen_rate", "transfer_rate", "escalation_rate", "abandon_rate",
               "service_level", "csat", "nps", "ces")
BUCKET_BASE = 1.25  # histogram buckets: [0, 1) s, then [1.25^(b-1), 1.25^b) s
REFRESH_CHUNK_DAYS = 31  # days recomputed in one query


@dataclass(frozen=True)
class Grain:
    """One grain of the rollup: its dimensions, its sums (one column per measure, and packed:
    one blob per cell) and its histogram buckets (one row per bucket, and packed: one row per
    cell and measure)."""

    name: str
    dimensions: tuple[str, ...]
    rollup: sa.Table
    histogram: sa.Table
    packed: sa.Table
    sums_packed: sa.Table
    span: str = "day"  # the column of the rows' local day, or month (the ISO first day)


AGENT_GRAIN = Grain("agent", ROLLUP_DIMENSIONS, kpi_daily_rollup, kpi_daily_histogram,
                    kpi_daily_histogram_packed, kpi_daily_sums_packed)
TEAM_GRAIN = Grain("team", TEAM_ROLLUP_DIMENSIONS, kpi_daily_rollup_team,
                   kpi_daily_histogram_team, kpi_daily_histogram_team_packed,
                   kpi_daily_sums_team_packed)
TEAM_MONTH_GRAIN = Grain("team x month", TEAM_ROLLUP_DIMENSIONS, kpi_monthly_rollup_team,
                         kpi_monthly_histogram_team, kpi_monthly_histogram_team_packed,
                         kpi_monthly_sums_team_packed, span="month")
GRAINS = (TEAM_GRAIN, AGENT_GRAIN)  # daily grains, coarsest first


def grain_for(query: KpiQuery) -> Grain:
    """The coarsest grain whose dimensions cover the query's grouping and filters."""
    needed = set(query.by) | set(query.filters)
    for grain in GRAINS:
        if needed <= set(grain.dimensions):
            return grain
    raise ValueError(f"the rollup has no grain by {', '.join(sorted(needed))}: ask "
                     "can_answer(query) first, and run_kpi_query when it is False")


def bucket_of(seconds: ir.FloatingValue) -> ir.IntegerValue:
    return ibis.ifelse(seconds < 1.0, 0,
                       (seconds.ln() / math.log(BUCKET_BASE)).floor() + 1).cast("int64")


def bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket <= 0:
        return 0.0, 1.0
    return BUCKET_BASE ** (bucket - 1), BUCKET_BASE ** bucket


@cache
def _bounds(width: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The bounds of buckets 0 .. width − 1, computed by bucket_bounds (the packed read's
    quantiles must be the very floats of histogram_quantile's)."""
    bounds = [bucket_bounds(bucket) for bucket in range(width)]
    return np.array([low for low, _ in bounds]), np.array([high for _, high in bounds])


def pack_histograms(rows: Iterable[tuple[Any, ...]]) -> list[tuple[tuple[Any, ...], bytes]]:
    """Bucket rows (*key, bucket, count) as one (key, packed counts) per distinct key: the
    count of buckets 0, 1, ... up to the key's last non-empty bucket, little-endian int32."""
    index: dict[tuple[Any, ...], int] = {}
    cells: list[int] = []
    buckets: list[int] = []
    counts: list[int] = []
    for row in rows:
        cells.append(index.setdefault(tuple(row[:-2]), len(index)))
        buckets.append(max(int(row[-2]), 0))  # bucket_of gives 0 below one second
        counts.append(int(row[-1]))
    if not index:
        return []
    cell = np.array(cells)
    last = np.zeros(len(index), dtype="int64")
    np.maximum.at(last, cell, np.array(buckets))
    packed = np.zeros((len(index), int(last.max()) + 1), dtype=HISTOGRAM_DTYPE)
    np.add.at(packed, (cell, np.array(buckets)), counts)
    return [(key, packed[i, :last[i] + 1].tobytes()) for key, i in index.items()]


def pack_sums(rows: Iterable[tuple[Any, ...]], keys: int) -> list[tuple[tuple[Any, ...], bytes]]:
    """Sums rows (*key, *ROLLUP_MEASURES) as one (key, packed sums) each: the measures in
    order, little-endian float64; `keys`: the number of key columns."""
    found = list(rows)
    if not found:
        return []
    values = np.array([row[keys:] for row in found], dtype=SUMS_DTYPE)
    return [(tuple(row[:keys]), values[i].tobytes()) for i, row in enumerate(found)]


def unpack_sums(sums: bytes) -> dict[str, float]:
    """Packed sums as {measure: sum}."""
    values = np.frombuffer(sums, dtype=SUMS_DTYPE).tolist()
    return dict(zip(ROLLUP_MEASURES, values, strict=True))


def unpack_histogram(counts: bytes) -> dict[int, int]:
    """Packed counts as {bucket: count} (buckets with a count only)."""
    values = np.frombuffer(counts, dtype=HISTOGRAM_DTYPE)
    return {int(b): int(values[b]) for b in np.flatnonzero(values)}


def sum_packed(groups: npt.NDArray[np.int64], packed: list[bytes]
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The packed histograms summed per group (`groups[i]`: the group of `packed[i]`): the
    distinct groups, sorted, and their bucket counts (one row each, as wide as the widest)."""
    size = max(map(len, packed))
    # every row padded with empty buckets to the widest: one matrix, summed per group at once
    counts = np.frombuffer(b"".join(blob.ljust(size, b"\0") for blob in packed),
                           dtype=HISTOGRAM_DTYPE).reshape(len(packed), size // 4)
    return _sum_by_group(groups, counts, np.int64)


def _sum_by_group(groups: npt.NDArray[np.int64], values: npt.NDArray[Any], dtype: Any
                  ) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """The rows of `values` summed per group (`groups[i]`: the group of row i): the distinct
    groups, sorted, and their sums; each group's rows added in the order given."""
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.add.reduceat(values[order], starts, axis=0, dtype=dtype)


# --- refreshing ----------------------------------------------------------------------------


def _zone_ranges(days: Iterable[date], lookback_days: int) -> list[tuple[date, date]]:
    """Local-day ranges [first, end) to recompute for changed UTC days: one day either side
    (time zones), and the repeat window before (a later contact changes an earlier FCR)."""
    wanted: set[date] = set()
    for day in days:
        for offset in range(-lookback_days - 1, 2):
            # (records are dated from 1970 on: only a day at the ends of the calendar, which
            # validation keeps out, could step past them)
            if date.min + timedelta(days=lookback_days + 1) <= day < date.max:
                wanted.add(day + timedelta(days=offset))
    ranges: list[tuple[date, date]] = []
    for day in sorted(wanted):
        if ranges and day <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], day + timedelta(days=1)))
        else:
            ranges.append((day, day + timedelta(days=1)))
    return ranges


def _chunks(first: date, end: date) -> Iterable[tuple[date, date]]:
    while first < end:
        following = min(first + timedelta(days=REFRESH_CHUNK_DAYS), end)
        yield first, following
        first = following


def data_day_range(connection: Connection) -> tuple[date, date] | None:
    """The first and last UTC day of the instants the rollup KPIs read (None: no records)."""
    instants: list[float] = []
    for table, column in ((tables.interactions, "created_at"),
                          (tables.interactions, "resolved_at"),
                          (tables.surveys, "submitted_at")):
        low, high = connection.execute(
            sa.select(sa.func.min(table.c[column]), sa.func.max(table.c[column]))).one()
        instants += [float(value) for value in (low, high) if isinstance(value, int | float)]
    if not instants:
        return None
    return (EPOCH + timedelta(days=int(min(instants) // DAY_S)),
            EPOCH + timedelta(days=int(max(instants) // DAY_S)))


def _data_days(connection: Connection) -> list[date]:
    """UTC days from the first to the last time the rollup KPIs read."""
    found = data_day_range(connection)
    if found is None:
        return []
    first, last = found
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _resolved_days(connection: Connection, interaction_ids: set[str],
                   known: dict[str, float | None] | None = None) -> set[date]:
    """The UTC days of the stored resolved_at of these interactions; `known`: the values the
    importer just stored for some of them (those are not looked up)."""
    known = known or {}
    values: set[float] = set()
    unknown: set[str] = set()
    for key in interaction_ids:
        if key not in known:
            unknown.add(key)
        elif (value := known[key]) is not None:
            values.add(value)
    if unknown:
        values.update(_stored_resolved_at(connection, unknown))
    return {EPOCH + timedelta(days=int(value // DAY_S)) for value in values}


def _stored_resolved_at(connection: Connection, interaction_ids: set[str]) -> list[float]:
    # one query with the ids as one parameter (an expanding IN compiles per call)
    return list(connection.execute(
        sa.select(tables.interactions.c.resolved_at).where(
            in_ids(tables.interactions.c.id, sorted(interaction_ids), connection.dialect.name),
            tables.interactions.c.resolved_at.is_not(None))).scalars())


def _survey_days(connection: Connection, interaction_ids: set[str]) -> set[date]:
    """The UTC days of the surveys of these interactions: a survey reads its interaction's
    dimensions, and counts only while the interaction is a contact (a ticket deleted, marked
    spam or revived changes the survey's day too)."""
    if not interaction_ids:
        return set()
    values: set[float] = set(connection.execute(
        sa.select(tables.surveys.c.submitted_at).where(
            in_ids(tables.surveys.c.interaction_id, sorted(interaction_ids),
                   connection.dialect.name))).scalars())
    return {EPOCH + timedelta(days=int(value // DAY_S)) for value in values}


def _executor(connection: Connection, backend: Any) -> Any:
    """Run compiled Ibis expressions on the caller's connection (inside its transaction)."""

    def execute(expression: ir.Expr) -> pd.DataFrame:
        # text values bound as parameters, as on every store query (kpi.bound_sql)
        statement = compile_bound(backend, expression)
        result = connection.exec_driver_sql(statement.sql, statement.values)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    return execute


def refresh_rollups(connection: Connection, days: set[date] | None = None,
                    settings: Any | None = None) -> int:
    """Recompute the rollup for these UTC days (and the days they affect); all when None.

    Returns the number of rollup rows written.
    """
    resolved = kpi_settings(settings)
    lock_for(connection, "derived")
    if days is None:
        all_days = _data_days(connection)
        for grain in (*GRAINS, TEAM_MONTH_GRAIN):
            connection.execute(grain.rollup.delete())
            connection.execute(grain.histogram.delete())
            connection.execute(grain.packed.delete())
            connection.execute(grain.sums_packed.delete())
        ranges = [(all_days[0] - timedelta(days=1), all_days[-1] + timedelta(days=2))] \
            if all_days else []
    else:
        ranges = _zone_ranges(days, math.ceil(resolved.repeat_window_days))
    # written chunk by chunk: a full rebuild never holds more than a chunk's rows
    return sum(_write_range(connection, computed)
               for computed in _computed_ranges(connection, ranges, resolved))


def _computed_ranges(connection: Connection, ranges: list[tuple[date, date]],
                     settings: KpiSettings) -> Iterator[RangeRows]:
    with store_backend(connection.engine) as backend:
        execute = _executor(connection, backend)
        for first, end in ranges:
            for chunk_first, chunk_end in _chunks(first, end):
                yield _compute_range(backend, execute, chunk_first, chunk_end, settings)


def compute_rollups(connection: Connection, days: set[date],
                    settings: Any | None = None) -> list[RangeRows]:
    """The rollup rows of these UTC days (and the days they affect), computed without writing
    (`write_rollups` stores them): the slow part of a refresh, on a read connection."""
    resolved = kpi_settings(settings)
    ranges = _zone_ranges(days, math.ceil(resolved.repeat_window_days))
    return list(_computed_ranges(connection, ranges, resolved))


def write_rollups(connection: Connection, computed: list[RangeRows]) -> int:
    """Store what `compute_rollups` computed (replacing those days); rows written."""
    lock_for(connection, "derived")
    return sum(_write_range(connection, rows) for rows in computed)


@dataclass
class RangeRows:
    """The agent grain's rows and histogram buckets of the local days [first, end)."""

    zone: str
    first: date
    end: date
    rows: list[dict[str, Any]]
    histograms: list[dict[str, Any]]


def _compute_range(backend: Any, execute: Any, first: date, end: date,
                   settings: KpiSettings) -> RangeRows:
    zone = settings.timezone
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    periods = [Period(day_number(first + timedelta(days=i)), first + timedelta(days=i),
                      first + timedelta(days=i + 1),
                      local_midnight(first + timedelta(days=i), tz),
                      local_midnight(first + timedelta(days=i + 1), tz), True)
               for i in range((end - first).days)]
    frame = Frame(backend, settings, "day", periods, kpis=set(ROLLUP_KPIS))
    query = KpiQuery(by=list(ROLLUP_DIMENSIONS), period="day", kpis=list(ROLLUP_KPIS))
    runner = Runner(frame, query, [KPIS[name] for name in ROLLUP_KPIS], execute=execute,
                    order_statistics=False)
    measured = runner.table
    sums = measured.reindex(columns=list(ROLLUP_MEASURES)).astype("float64").fillna(0.0)
    days = [from_day_number(key).isoformat() for key in measured["period"].tolist()]
    rows: list[dict[str, Any]] = [
        {"timezone": zone, "day": day, **dict(zip(ROLLUP_DIMENSIONS, dimensions, strict=True)),
         **dict(zip(ROLLUP_MEASURES, values, strict=True))}
        for day, dimensions, values in zip(
            days, measured[list(ROLLUP_DIMENSIONS)].itertuples(index=False, name=None),
            sums.itertuples(index=False, name=None), strict=True)]
    keys = [*ROLLUP_DIMENSIONS, "period"]
    histograms: list[dict[str, Any]] = []
    for prefix, request in runner.quantile_requests().items():
        # the histograms need no repeat contacts: the source without their window sorts
        table = runner.filtered_source(request.source, frame.without_repeats())
        value = request.value.resolve(table)
        condition = value.notnull()
        if request.population is not None:
            condition = condition & request.population.resolve(table)
        counts = table.filter(condition).mutate(bucket=bucket_of(value.cast("float64"))) \
            .group_by([*keys, "bucket"]).aggregate(count=ibis._.count())
        found = execute(counts)
        # column by column (a frame's records are built a cell at a time)
        periods_found = found["period"].astype("int64").tolist()
        day_of = {key: from_day_number(key).isoformat() for key in set(periods_found)}
        histograms += [{"timezone": zone, "day": day_of[period],
                        **dict(zip(ROLLUP_DIMENSIONS, dimensions, strict=True)),
                        "measure": prefix, "bucket": bucket, "count": count}
                       for period, bucket, count, *dimensions in zip(
                           periods_found, found["bucket"].astype("int64").tolist(),
                           found["count"].astype("int64").tolist(),
                           *(found[name].tolist() for name in ROLLUP_DIMENSIONS), strict=True)]
    return RangeRows(zone, first, end, rows, histograms)


def _write_range(connection: Connection, computed: RangeRows) -> int:
    # Everything is computed before the first write: on SQLite the first write takes the
    # store's only write lock, held to the commit, and imports wait for it meanwhile.
    zone, first, end = computed.zone, computed.first, computed.end
    rows, histograms = computed.rows, computed.histograms
    for grain in GRAINS:
        for table in (grain.rollup, grain.histogram, grain.packed, grain.sums_packed):
            connection.execute(table.delete().where(
                table.c.timezone == zone, table.c.day >= first.isoformat(),
                table.c.day < end.isoformat()))
    for table, written in ((kpi_daily_rollup, rows), (kpi_daily_histogram, histograms)):
        _insert_many(connection, table, written)
    _sum_over_agents(connection, zone, first, end)
    for grain in GRAINS:
        _pack_range(connection, grain, zone, first.isoformat(), end.isoformat())
        _pack_sums_range(connection, grain, zone, first.isoformat(), end.isoformat())
    _sum_over_months(connection, zone, first, end)
    return len(rows)


def _pack_range(connection: Connection, grain: Grain, zone: str, first: str, end: str) -> None:
    """The packed histograms of a grain's periods [first, end), from its bucket rows (the
    caller has deleted the packed rows of the range)."""
    h, span = grain.histogram, grain.span
    keys = ["timezone", span, "measure", *grain.dimensions]
    found = _fetch_plain(connection, sa.select(*(h.c[name] for name in keys), h.c.bucket,
                                               h.c["count"]).where(
        h.c.timezone == zone, h.c[span] >= first, h.c[span] < end))
    _insert_many(connection, grain.packed,
                 [{**dict(zip(keys, key, strict=True)), "counts": counts}
                  for key, counts in pack_histograms(found)])


def _pack_sums_range(connection: Connection, grain: Grain, zone: str, first: str,
                     end: str) -> None:
    """The packed sums of a grain's periods [first, end), from its sums rows (the caller has
    deleted the packed rows of the range)."""
    r, span = grain.rollup, grain.span
    keys = ["timezone", span, *grain.dimensions]
    found = _fetch_plain(connection,
                         sa.select(*(r.c[name] for name in (*keys, *ROLLUP_MEASURES)))
                         .where(r.c.timezone == zone, r.c[span] >= first, r.c[span] < end))
    _insert_many(connection, grain.sums_packed,
                 [{**dict(zip(keys, key, strict=True)), "sums": sums}
                  for key, sums in pack_sums(found, len(keys))])


def _insert_many(connection: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts, all with the same columns) with one statement compiled once: an
    executemany of the SQL expression builds every row's parameters anew, a rebuild's
    largest cost after its queries."""
    if not rows:
        return
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=list(rows[0]))
    parameters: list[Any] = rows
    if compiled.positiontup:  # positional placeholders (SQLite): the values in their order
        values_of = operator.itemgetter(*compiled.positiontup)
        parameters = [values_of(row) for row in rows]
    for start in range(0, len(parameters), 10_000):
        connection.exec_driver_sql(str(compiled), parameters[start:start + 10_000])


def _sum_over_agents(connection: Connection, zone: str, first: date, end: date) -> None:
    """The team grain of these days, summed from the agent rows just written (in SQL)."""
    for fine, coarse, extra, values in (
            (kpi_daily_rollup, kpi_daily_rollup_team, (), ROLLUP_MEASURES),
            (kpi_daily_histogram, kpi_daily_histogram_team, ("measure", "bucket"), ("count",))):
        keys = [fine.c[name] for name in ("timezone", "day", *TEAM_ROLLUP_DIMENSIONS, *extra)]
        summed = sa.select(*keys, *(sa.func.sum(fine.c[name]) for name in values)).where(
            fine.c.timezone == zone, fine.c.day >= first.isoformat(),
            fine.c.day < end.isoformat()).group_by(*keys)
        connection.execute(coarse.insert().from_select(
            [*(key.name for key in keys), *values], summed))


def mark_dirty(connection: Connection, touched: Touched) -> None:
    """Import hook (every batch): note the days whose rollup is now stale. Rebuilding them
    here would redo the same days for every batch of a bulk import, and make every API
    request wait for a rebuild of the repeat window around its day."""
    if not touched:
        return
    mark_days_stale(connection, set(touched.days) | _resolved_days(
        connection, touched.interaction_ids, touched.resolved_at)
        | _survey_days(connection, touched.interaction_ids))


def mark_days_stale(connection: Connection, days: set[date]) -> None:
    """Note these UTC days as stale: the next rebuild recomputes them (the import hook's
    marking, also for tools that change the store without the importer). A day already
    marked has its version bumped, so a rebuild running meanwhile leaves it marked."""
    marks.bump(connection, kpi_rollup_dirty, [(day.isoformat(),) for day in days])



def dirty_marks(connection: Connection) -> dict[date, int]:
    """The stale days with the versions of their marks."""
    return {date.fromisoformat(key[0]): version
            for key, version in marks.read(connection, kpi_rollup_dirty).items()}


def dirty_days(connection: Connection) -> set[date]:
    return set(dirty_marks(connection))


def _clear_stale(connection: Connection, read: dict[date, int]) -> None:
    """Clear the marks a rebuild saw (those no batch bumped since it read them)."""
    marks.clear(connection, kpi_rollup_dirty,
                {(day.isoformat(),): version for day, version in read.items()})


def refresh_after_import(connection: Connection, touched: Touched) -> None:
    """After-import hook: rebuild the stale days once, after all the batches (with the
    settings the program's start gave the hooks)."""
    refresh_dirty_days(connection, hooks.settings())


def refresh_dirty_days(connection: Connection, settings: Any | None = None) -> int:
    """Rebuild the stale days in the caller's transaction; the number of days rebuilt."""
    lock_for(connection, "derived")
    read = dirty_marks(connection)
    if read:
        refresh_rollups(connection, set(read), settings)
        _clear_stale(connection, read)
    return len(read)


def prepare_refresh_after_import(engine: Engine, touched: Touched
                                  ) -> Callable[[Connection], None]:
    """The same in two steps: the stale days computed on a connection of their own (imports
    go on meanwhile), then written. At the write, a day whose mark changed since (bumped by
    a batch, or cleared by another rebuild that may have seen newer records) is not written
    over: every computed range its rebuild touches is left out, and its mark stays."""
    settings = kpi_settings(hooks.settings())  # the program's, given at its start
    with engine.connect() as connection:
        read = dirty_marks(connection)
        computed = compute_rollups(connection, set(read), settings) if read else []

    def write(connection: Connection) -> None:
        if not read:
            return
        lock_for(connection, "derived")
        now = dirty_marks(connection)
        changed = {day for day, version in read.items() if now.get(day) != version}
        lookback = math.ceil(settings.repeat_window_days)
        avoid = _zone_ranges(changed, lookback)
        written = [rows for rows in computed if not _overlaps(rows.first, rows.end, avoid)]
        write_rollups(connection, written)
        done = [(rows.first, rows.end) for rows in written]
        _clear_stale(connection, {
            day: version for day, version in read.items() if day not in changed
            and all(_covered(first, end, done) for first, end in _zone_ranges([day], lookback))})

    return write



def _overlaps(first: date, end: date, ranges: Iterable[tuple[date, date]]) -> bool:
    return any(first < other_end and other_first < end for other_first, other_end in ranges)


def _covered(first: date, end: date, ranges: Sequence[tuple[date, date]]) -> bool:
    """Whether the days [first, end) all lie in the union of `ranges`."""
    day = first
    while day < end:
        if not any(low <= day < high for low, high in ranges):
            return False
        day += timedelta(days=1)
    return True


def refresh_dirty_rollups(engine: Engine, settings: Any | None = None) -> int:
    """Rebuild the rollup of the days imports marked stale; the number of days rebuilt."""
    with write_transaction(engine, "derived") as connection:
        return refresh_dirty_days(connection, settings)


def _sum_over_months(connection: Connection, zone: str, first: date, end: date) -> None:
    """The months holding these days, summed again from the team grain's days (in SQL)."""
    month_first = first.replace(day=1)
    month_end = next_period_start((end - timedelta(days=1)).replace(day=1), "month")
    for daily, monthly, extra, values in (
            (kpi_daily_rollup_team, kpi_monthly_rollup_team, (), ROLLUP_MEASURES),
            (kpi_daily_histogram_team, kpi_monthly_histogram_team, ("measure", "bucket"),
             ("count",))):
        connection.execute(monthly.delete().where(
            monthly.c.timezone == zone, monthly.c.month >= month_first.isoformat(),
            monthly.c.month < month_end.isoformat()))
        # literal SQL, no parameters: PostgreSQL matches the GROUP BY expression as written
        month = sa.func.substr(daily.c.day, sa.literal_column("1"), sa.literal_column("7"),
                               type_=sa.String).concat(sa.literal_column("'-01'"))
        keys = [daily.c[name] for name in ("timezone", *TEAM_ROLLUP_DIMENSIONS, *extra)]
        summed = sa.select(month, *keys, *(sa.func.sum(daily.c[name]) for name in values)
                           ).where(daily.c.timezone == zone,
                                   daily.c.day >= month_first.isoformat(),
                                   daily.c.day < month_end.isoformat()).group_by(month, *keys)
        connection.execute(monthly.insert().from_select(
            ["month", *(key.name for key in keys), *values], summed))
    for packed in (TEAM_MONTH_GRAIN.packed, TEAM_MONTH_GRAIN.sums_packed):
        connection.execute(packed.delete().where(
            packed.c.timezone == zone, packed.c.month >= month_first.isoformat(),
            packed.c.month < month_end.isoformat()))
    _pack_range(connection, TEAM_MONTH_GRAIN, zone, month_first.isoformat(),
                month_end.isoformat())
    _pack_sums_range(connection, TEAM_MONTH_GRAIN, zone, month_first.isoformat(),
                     month_end.isoformat())


# --- answering from the rollup ---------------------------------------------------------------


def can_answer(query: KpiQuery) -> bool:
    kpis = query.kpis if query.kpis is not None else list(ROLLUP_KPIS)
    return (set(kpis) <= set(ROLLUP_KPIS) and set(query.by) <= set(ROLLUP_DIMENSIONS)
            and set(query.filters) <= set(ROLLUP_DIMENSIONS))


def query_rollup(engine: Engine, query: KpiQuery, settings: Any | None = None,
                 grain: Grain | None = None, allow_stale: bool = False
                 ) -> KpiResult | None:
    """The KPI result from the rollup, or None when the rollup cannot answer the query.

    It reads the coarsest grain that covers the query's grouping and filters (the team grain
    unless the query groups or filters by agent), per month when the team grain answers and
    every period is made of whole months; `grain` forces one (benchmarks, tests).

    A range holding a day whose rollup is stale (imported, not yet rebuilt) is left to the
    exact path (None), unless `allow_stale`: dashboards under a steady stream of records
    would otherwise always wait for the exact engine over their whole window. The result
    then lists those days in `stale_days` (their figures are as of the last rebuild,
    which the background worker is redoing).
    """
    if not can_answer(query):
        return None
    resolved = kpi_settings(settings)
    kpis = query.kpis if query.kpis is not None else list(ROLLUP_KPIS)
    query = query.model_copy(update={"kpis": kpis})
    chosen = grain or grain_for(query)
    if not set(query.by) | set(query.filters) <= set(chosen.dimensions):
        raise ValueError(f"the {chosen.name} grain of the rollup has no "
                         f"{', '.join(sorted(set(query.by) | set(query.filters)))}")
    with engine.connect() as connection:
        if _other_zone(connection, kpi_daily_rollup_team, resolved.timezone):
            return None  # kept in another time zone: the exact path answers
        first, end = _rollup_range(connection, kpi_daily_rollup_team, query)
        # a stale day within the range (± a day for the zone offset): the exact path answers
        stale = sorted(day for day in dirty_days(connection)
                       if first - timedelta(days=1) <= day <= end)
        if stale and not allow_stale:
            return None
        periods = periods_for(first, end, query.period, resolved)
        if grain is None and chosen is TEAM_GRAIN and _whole_months(periods):
            chosen = TEAM_MONTH_GRAIN
        frame = Frame(None, resolved, query.period, periods, kpis=set(kpis))
        runner = Runner(frame, query, [KPIS[name] for name in kpis], compute=False)
        _read_cells(connection, chosen, runner, periods)
    return KpiResult(first, end, list(query.by), query.period,
                     {name: list(values) for name, values in query.filters.items()},
                     resolved.timezone, runner.rows(), source="rollup",
                     stale_days=list(stale) if stale else None)


def _whole_months(periods: list[Period]) -> bool:
    return all(p.start.day == 1 and p.end.day == 1 for p in periods)


def _other_zone(connection: Connection, table: sa.Table, zone: str) -> bool:
    """Whether the rollup holds rows of another time zone (two seeks on the zone index; a
    DISTINCT would walk the whole index)."""
    return bool(connection.execute(sa.select(
        sa.exists().where(table.c.timezone < zone),
        sa.exists().where(table.c.timezone > zone))).one() != (False, False))


def _rollup_range(connection: Connection, table: sa.Table, query: KpiQuery
                  ) -> tuple[date, date]:
    if query.from_ is not None and query.to is not None:
        return query.from_, query.to
    low = connection.execute(sa.select(sa.func.min(table.c.day))).scalar()  # str
    high = connection.execute(sa.select(sa.func.max(table.c.day))).scalar()
    today = date.today()
    first = query.from_ or (date.fromisoformat(str(low)) if low else today)
    end = query.to or (date.fromisoformat(str(high)) + timedelta(days=1) if high
                       else first + timedelta(days=1))
    return first, max(end, first + timedelta(days=1))


def _period_column(grain: Grain, table: sa.Table, periods: list[Period], period: str) -> Any:
    ordered = sorted(periods, key=lambda p: p.start)
    span = table.c[grain.span]
    if period == "day":
        if grain.span != "day":
            raise ValueError(f"the {grain.name} grain of the rollup has no days")
        return span
    return sa.case(*((span < p.end.isoformat(), sa.literal(str(p.key)))
                     for p in ordered[:-1]), else_=sa.literal(str(ordered[-1].key)))


def _day_ranges(periods: list[Period]) -> list[tuple[date, date]]:
    """The periods' days as few ranges as possible (adjacent periods joined)."""
    ranges: list[tuple[date, date]] = []
    for period in sorted(periods, key=lambda p: p.start):
        if ranges and period.start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], period.end))
        else:
            ranges.append((period.start, period.end))
    return ranges


def _where(grain: Grain, table: sa.Table, runner: Runner, periods: list[Period]
           ) -> list[Any]:
    span = table.c[grain.span]
    ranges = _day_ranges(periods)
    # the enclosing range too: SQLite seeks the key on it, where ranges joined by OR (the
    # previous period apart from the current ones) leave it scanning every period of the zone
    conditions: list[Any] = [table.c.timezone == runner.frame.settings.timezone,
                             span >= ranges[0][0].isoformat(), span < ranges[-1][1].isoformat()]
    if len(ranges) > 1:
        conditions.append(sa.or_(*(sa.and_(span >= start.isoformat(), span < end.isoformat())
                                   for start, end in ranges)))
    for dimension, allowed in runner.query.filters.items():
        conditions.append(table.c[dimension].in_(allowed))
    return conditions


def _read_cells(connection: Connection, grain: Grain, runner: Runner,
                periods: list[Period]) -> None:
    """Every group's measures, medians and p90s from the packed sums and histograms: one blob
    per cell (and measure) read, summed per group in numpy, given to the runner at once."""
    groups: dict[tuple[Any, ...], int] = {}  # (the query's dimensions, the period) → index
    columns = _measure_columns(connection, grain, runner, periods, groups)
    columns.update(_quantile_columns(connection, grain, runner, periods, groups))
    size = len(groups)
    frame: dict[str, Any] = {name: [key[i] for key in groups]
                             for i, name in enumerate(runner.by)}
    keys = {value: _period_key(value, runner.frame.period)
            for value in {key[-1] for key in groups}}
    frame["period"] = np.array([keys[key[-1]] for key in groups], dtype="int64")
    for name, column in columns.items():
        # a group found by the histograms only has no sums (NaN, as a join would leave)
        frame[name] = np.concatenate([column, np.full(size - len(column), np.nan)]) \
            if len(column) < size else column
    runner.add_columns(pd.DataFrame(frame))


def _fetch_plain(connection: Connection, statement: Any) -> Sequence[Any]:
    """The rows as the driver gives them, plain tuples: building SQLAlchemy's rows costs as
    much as the query at a dashboard's few thousand cells, and a rebuild reads many more (no
    column here needs converting: strings, numbers, and blobs the drivers give as bytes)."""
    result = connection.execute(statement)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def _group_ids(rows: Sequence[Any], width: int, groups: dict[tuple[Any, ...], int]
               ) -> npt.NDArray[np.int64]:
    """The group index of each row, from its first `width` values (new groups are added;
    the rows are the driver's tuples, whose slices are tuples)."""
    return np.fromiter((groups.setdefault(row[:width], len(groups)) for row in rows),
                       dtype=np.int64, count=len(rows))


def _measure_columns(connection: Connection, grain: Grain, runner: Runner,
                     periods: list[Period], groups: dict[tuple[Any, ...], int]
                     ) -> dict[str, npt.NDArray[np.float64]]:
    """The measures the query needs, summed per group from the packed sums."""
    p = grain.sums_packed
    period = _period_column(grain, p, periods, runner.frame.period).label("period")
    position = {name: index for index, name in enumerate(ROLLUP_MEASURES)}
    names = [name for name in runner.measure_names() if name in position]
    statement = sa.select(*(p.c[name] for name in runner.by), period, p.c.sums) \
        .where(*_where(grain, p, runner, periods))
    rows = _fetch_plain(connection, statement)
    if not rows:
        return {name: np.empty(0) for name in names}
    width = len(runner.by) + 1
    ids = _group_ids(rows, width, groups)
    size = len(ROLLUP_MEASURES) * 8
    packed = b"".join([row[width] for row in rows])
    if len(packed) != size * len(rows):
        # rows packed before a measure was added are shorter: padded with zeros (empty sums)
        packed = b"".join(row[width].ljust(size, b"\0") for row in rows)
    sums = np.frombuffer(packed, dtype=SUMS_DTYPE).reshape(len(rows), len(ROLLUP_MEASURES))
    # the groups are 0 .. n − 1, all found here (the first rows read): summed in that order
    _, summed = _sum_by_group(ids, sums[:, [position[name] for name in names]], np.float64)
    return {name: summed[:, index] for index, name in enumerate(names)}


def _quantile_columns(connection: Connection, grain: Grain, runner: Runner,
                      periods: list[Period], groups: dict[tuple[Any, ...], int]
                      ) -> dict[str, npt.NDArray[np.float64]]:
    """Medians and p90s from the packed histograms: the counts of a group's cells summed in
    numpy, the quantiles of all groups at once."""
    p = grain.packed
    requests = list(runner.quantile_requests())
    if not requests:
        return {}
    period = _period_column(grain, p, periods, runner.frame.period).label("period")
    statement = sa.select(*(p.c[name] for name in runner.by), period, p.c.measure,
                          p.c.counts).where(*_where(grain, p, runner, periods),
                                            p.c.measure.in_(requests))
    rows = _fetch_plain(connection, statement)
    if not rows:
        return {}
    width = len(runner.by) + 1  # the group: the query's dimensions and the period
    measures = {measure: index for index, measure in enumerate(requests)}
    ids = _group_ids(rows, width, groups) * len(requests) \
        + np.fromiter((measures[row[width]] for row in rows), dtype=np.int64, count=len(rows))
    # found: group x len(requests) + measure, for each summed histogram
    found, summed = sum_packed(ids, [row[width + 1] for row in rows])
    columns: dict[str, npt.NDArray[np.float64]] = {}
    for q, suffix in ((0.5, "median"), (0.9, "p90")):
        values = _histogram_quantiles(summed, q)
        for index, measure in enumerate(requests):
            column = np.full(len(groups), np.nan)
            mine = found % len(requests) == index
            column[found[mine] // len(requests)] = values[mine]
            columns[f"{measure}.{suffix}"] = column
    return columns


def _histogram_quantiles(counts: npt.NDArray[np.int64], q: float) -> npt.NDArray[np.float64]:
    """histogram_quantile of every row of bucket counts (NaN for an empty row): the same
    arithmetic in the same order, so the same floats."""
    seen_to = counts.cumsum(axis=1)
    n = seen_to[:, -1]
    rank = (n - 1) * q + 1
    bucket = (seen_to >= rank[:, None]).argmax(axis=1)
    rows = np.arange(len(counts))
    count = counts[rows, bucket]
    seen = seen_to[rows, bucket] - count
    lows, highs = _bounds(counts.shape[1])
    low, high = lows[bucket], highs[bucket]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = low + (high - low) * (rank - seen - 0.5) / count
    # rounded as Python rounds (numpy's scaled rounding differs in the last digit near ties)
    return np.where(n > 0, round_like_python(values, 4), np.nan)


def _period_key(value: Any, period: str) -> int:
    return day_number(date.fromisoformat(value)) if period == "day" else int(value)


def histogram_quantile(counts: dict[int, int], q: float) -> float | None:
    """The q-quantile of bucketed values: rank h = (n − 1)q + 1 located in its bucket and
    interpolated linearly inside it."""
    n = sum(counts.values())
    if n == 0:
        return None
    rank = (n - 1) * q + 1
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        if seen + count >= rank:
            low, high = bucket_bounds(bucket)
            return round(low + (high - low) * (rank - seen - 0.5) / count, 4)
        seen += count
    low, high = bucket_bounds(max(counts))
    return round(high, 4)

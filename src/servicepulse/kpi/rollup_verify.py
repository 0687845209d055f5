"""`servicepulse verify` for the KPI rollup: every grain recomputed from the records and
compared with the store, row by row.

The recomputation is the rollup's own (`compute_rollups`: the KPI engine over the records,
nothing written), window by window of local days, so memory stays one window's rows. From
the agent grain it computes, the team grain is summed over agents and the month grain over
the team grain's days, as the refresh sums them in SQL; each of the twelve tables is then
compared with it: the sums (`kpi_daily_rollup`, `..._team`, `kpi_monthly_rollup_team`), the
bucket rows of the histograms, and the packed twins of both (decoded: a packed blob must
hold what its rows hold). Rows are compared as packed bytes first (equal bytes: equal
values), and a row whose bytes differ value by value: sums with a relative tolerance of
1e-9 (the team and month sums are added in another order than SQL adds them), bucket
counts exactly. A row on one side only is one difference.

Consistency under concurrent imports: the stored rows, the stale marks and the records are
read in one snapshot (REPEATABLE READ on PostgreSQL, one read transaction on SQLite). Days
marked stale (`kpi_rollup_dirty`) are reported as pending rebuilds, and the differences on
the local days a stale day's rebuild covers (the repeat window before it, a day either
side) are counted under that mark rather than reported apart: an import is expected to
leave them until the rebuild.

The rollup reads the business-hours durations. When the business-hours check (run before
this one) found durations that differ, the days those interactions touch are recomputed
from the recomputed durations: in a transaction that rewrites them, recomputes, and rolls
back (on SQLite it holds the write lock meanwhile: a few days' recomputation). So a wrong
duration is reported once, as a business-hours difference, and not again as rollup rows.

The repair rebuilds the rollup of the days that differ with `refresh_rollups` (a full
rebuild when rows of another time zone are stored), then completes the pending rebuilds
(`refresh_dirty_rollups`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from servicepulse.ingest import hooks
from servicepulse.kpi.business_hours import refresh_business_durations
from servicepulse.kpi.business_hours_verify import KIND as BUSINESS_HOURS_KIND
from servicepulse.kpi.rollup import (
    AGENT_GRAIN,
    REFRESH_CHUNK_DAYS,
    TEAM_GRAIN,
    TEAM_MONTH_GRAIN,
    Grain,
    RangeRows,
    compute_rollups,
    data_day_range,
    dirty_days,
    pack_histograms,
    pack_sums,
    refresh_dirty_rollups,
    refresh_rollups,
)
from servicepulse.kpi.settings import kpi_settings
from servicepulse.kpi.tables import (
    HISTOGRAM_DTYPE,
    ROLLUP_DIMENSIONS,
    ROLLUP_MEASURES,
    SUMS_DTYPE,
    TEAM_ROLLUP_DIMENSIONS,
)
from servicepulse.store import tables
from servicepulse.store.database import write_transaction
from servicepulse.store.derived import CheckResult, Difference, Progress

KIND = "rollup"
WINDOW_DAYS = 2 * REFRESH_CHUNK_DAYS  # local days recomputed at once
RELATIVE_TOLERANCE = 1e-9
_SUMS_BYTES = len(ROLLUP_MEASURES) * 8
_TEAM_POSITIONS = [ROLLUP_DIMENSIONS.index(name) for name in TEAM_ROLLUP_DIMENSIONS]

Key = tuple[Any, ...]  # sums: (zone, day, *dimensions); histograms: (zone, day, measure, *dims)
Cells = dict[Key, bytes]


# --- reading and packing --------------------------------------------------------------------


def _sums_keys(grain: Grain) -> list[str]:
    return ["timezone", grain.span, *grain.dimensions]


def _histogram_keys(grain: Grain) -> list[str]:
    return ["timezone", grain.span, "measure", *grain.dimensions]


def _in_span(table: sa.Table, column: str, first: str | None, end: str | None,
             outside: bool) -> Any:
    """Rows of [first, end) (or, `outside`, every row not in it)."""
    if first is None or end is None:
        return sa.true()
    inside = sa.and_(table.c[column] >= first, table.c[column] < end)
    return sa.not_(inside) if outside else inside


def stored_sums(connection: Connection, grain: Grain, packed: bool, first: str | None,
                end: str | None, outside: bool = False) -> Cells:
    """A grain's stored sums as packed bytes per cell (the sums rows packed as the refresh
    packs them, or the packed table's blobs, padded to every measure)."""
    keys = _sums_keys(grain)
    if packed:
        table = grain.sums_packed
        rows = connection.execute(sa.select(*(table.c[name] for name in keys), table.c.sums)
                                  .where(_in_span(table, grain.span, first, end, outside)))
        return {tuple(row[:-1]): bytes(row[-1]).ljust(_SUMS_BYTES, b"\0") for row in rows}
    table = grain.rollup
    found = connection.execute(sa.select(*(table.c[name] for name in (*keys, *ROLLUP_MEASURES)))
                               .where(_in_span(table, grain.span, first, end, outside))).all()
    return dict(pack_sums(found, len(keys)))


def stored_histograms(connection: Connection, grain: Grain, packed: bool, first: str | None,
                      end: str | None, outside: bool = False) -> Cells:
    """A grain's stored histograms as packed bytes per cell and measure."""
    keys = _histogram_keys(grain)
    if packed:
        table = grain.packed
        rows = connection.execute(sa.select(*(table.c[name] for name in keys), table.c.counts)
                                  .where(_in_span(table, grain.span, first, end, outside)))
        return {tuple(row[:-1]): bytes(row[-1]) for row in rows}
    table = grain.histogram
    found = connection.execute(sa.select(*(table.c[name] for name in keys), table.c.bucket,
                                         table.c["count"])
                               .where(_in_span(table, grain.span, first, end, outside))).all()
    return dict(pack_histograms(found))


class Recomputed:
    """The recomputed sums and bucket counts of one grain, summed per cell as the refresh
    sums them (team: over agents; month: over the team grain's days)."""

    def __init__(self) -> None:
        self.sums: dict[Key, np.ndarray[Any, np.dtype[np.float64]]] = {}
        self.buckets: dict[Key, dict[int, int]] = {}

    def add_sums(self, key: Key, values: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        known = self.sums.get(key)
        self.sums[key] = values.copy() if known is None else known + values

    def add_buckets(self, key: Key, buckets: Mapping[int, int]) -> None:
        known = self.buckets.setdefault(key, {})
        for bucket, count in buckets.items():
            known[bucket] = known.get(bucket, 0) + count

    def packed_sums(self) -> Cells:
        return {key: values.astype(SUMS_DTYPE).tobytes() for key, values in self.sums.items()}

    def packed_histograms(self) -> Cells:
        return dict(pack_histograms(
            (*key, bucket, count) for key, buckets in self.buckets.items()
            for bucket, count in buckets.items() if count))


def recompute_grains(computed: Iterable[RangeRows], days: set[str] | None
                     ) -> tuple[Recomputed, Recomputed]:
    """The agent and team grains of the computed rows (of `days` only, when given)."""
    agent, team = Recomputed(), Recomputed()
    for part in computed:
        for row in part.rows:
            if days is not None and row["day"] not in days:
                continue
            values = np.array([row[name] for name in ROLLUP_MEASURES], dtype=np.float64)
            dims = tuple(row[name] for name in ROLLUP_DIMENSIONS)
            agent.add_sums((row["timezone"], row["day"], *dims), values)
            team.add_sums((row["timezone"], row["day"], *(dims[i] for i in _TEAM_POSITIONS)),
                          values)
        for row in part.histograms:
            if days is not None and row["day"] not in days:
                continue
            dims = tuple(row[name] for name in ROLLUP_DIMENSIONS)
            bucket = {max(int(row["bucket"]), 0): int(row["count"])}
            agent.add_buckets((row["timezone"], row["day"], row["measure"], *dims), bucket)
            team.add_buckets((row["timezone"], row["day"], row["measure"],
                              *(dims[i] for i in _TEAM_POSITIONS)), bucket)
    return agent, team


def add_months(months: Recomputed, team: Recomputed) -> None:
    """The team grain's days summed into their months (the month's first day)."""
    for key, values in team.sums.items():
        months.add_sums((key[0], key[1][:8] + "01", *key[2:]), values)
    for key, buckets in team.buckets.items():
        months.add_buckets((key[0], key[1][:8] + "01", *key[2:]), buckets)


# --- comparing ------------------------------------------------------------------------------


def _group(dimensions: Sequence[str], values: Sequence[Any], zone: str, current: str) -> str:
    parts = [f"{name}={value}" for name, value in zip(dimensions, values, strict=True)]
    if zone != current:
        parts.insert(0, f"timezone={zone}")
    return ", ".join(parts)


def _sums_of(blob: bytes) -> dict[str, float]:
    values = np.frombuffer(blob.ljust(_SUMS_BYTES, b"\0"), dtype=SUMS_DTYPE).tolist()
    return dict(zip(ROLLUP_MEASURES, values, strict=True))


def _counts_of(blob: bytes) -> dict[int, int]:
    values = np.frombuffer(blob, dtype=HISTOGRAM_DTYPE)
    return {int(b): int(values[b]) for b in np.flatnonzero(values)}


def compare_sums(table: str, grain: Grain, stored: Cells, recomputed: Cells, zone: str
                 ) -> list[Difference]:
    """Differences between stored and recomputed sums cells: per measure, or per row."""
    found: list[Difference] = []
    for key in sorted(stored.keys() | recomputed.keys()):
        mine, theirs = stored.get(key), recomputed.get(key)
        if mine == theirs:
            continue
        group = _group(grain.dimensions, key[2:], key[0], zone)
        if mine is None or theirs is None:
            blob = mine if mine is not None else theirs
            assert blob is not None
            values = _sums_of(blob)
            nonzero = {name: value for name, value in values.items() if value}
            found.append(Difference(
                KIND, key[1], group, nonzero if theirs is None else None,
                nonzero if mine is None else None,
                f"{table}: " + ("row missing" if mine is None else "row the records do not give")))
            continue
        for name, (a, b) in zip(ROLLUP_MEASURES, zip(_sums_of(mine).values(),
                                                      _sums_of(theirs).values(), strict=True),
                                strict=True):
            if not math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-9):
                found.append(Difference(KIND, key[1], group, a, b, f"{table}: {name}"))
    return found


def compare_histograms(table: str, grain: Grain, stored: Cells, recomputed: Cells, zone: str
                       ) -> list[Difference]:
    """Differences between stored and recomputed histograms: per bucket, or per row."""
    found: list[Difference] = []
    for key in sorted(stored.keys() | recomputed.keys()):
        mine, theirs = stored.get(key), recomputed.get(key)
        if mine == theirs:
            continue
        group = _group(grain.dimensions, key[3:], key[0], zone)
        measure = key[2]
        if mine is None or theirs is None:
            blob = mine if mine is not None else theirs
            assert blob is not None
            counts = _counts_of(blob)
            found.append(Difference(
                KIND, key[1], group, counts if theirs is None else None,
                counts if mine is None else None,
                f"{table}: {measure} " + ("row missing" if mine is None
                                          else "row the records do not give")))
            continue
        ours, recount = _counts_of(mine), _counts_of(theirs)
        for bucket in sorted(ours.keys() | recount.keys()):
            a, b = ours.get(bucket, 0), recount.get(bucket, 0)
            if a != b:
                found.append(Difference(KIND, key[1], group, a, b,
                                        f"{table}: {measure} bucket {bucket}"))
    return found


def compare_grain(connection: Connection, grain: Grain, recomputed: Recomputed, zone: str,
                  first: str | None, end: str | None, outside: bool = False
                  ) -> tuple[int, list[Difference]]:
    """The grain's four tables in [first, end) (or outside it) against the recomputation:
    the rows compared and the differences."""
    sums, histograms = recomputed.packed_sums(), recomputed.packed_histograms()
    checked = 0
    found: list[Difference] = []
    for packed in (False, True):
        table = grain.sums_packed if packed else grain.rollup
        cells = stored_sums(connection, grain, packed, first, end, outside)
        checked += len(cells)
        found += compare_sums(table.name, grain, cells, sums, zone)
        table = grain.packed if packed else grain.histogram
        cells = stored_histograms(connection, grain, packed, first, end, outside)
        checked += len(cells)
        found += compare_histograms(table.name, grain, cells, histograms, zone)
    return checked, found


# --- the check ------------------------------------------------------------------------------


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot of the store (rolled back after)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            connection.begin()
        else:
            connection.exec_driver_sql("BEGIN")  # deferred: a read transaction from its read
        try:
            yield connection
        finally:
            connection.rollback()


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((end - first).days)]


def _covered(dirty: Iterable[date], lookback: int) -> dict[str, date]:
    """Local days a stale day's rebuild recomputes (as `refresh_rollups` widens it) → the
    stale day."""
    covered: dict[str, date] = {}
    for day in sorted(dirty):
        for offset in range(-lookback - 1, 2):
            covered.setdefault((day + timedelta(days=offset)).isoformat(), day)
    return covered


def corrected_days(engine: Engine, differences: Sequence[Difference], settings: Any
                   ) -> tuple[dict[str, tuple[Recomputed, Recomputed]], set[str]]:
    """The rollup of the days the differing business-hours durations touch, recomputed from
    the recomputed durations (written in a transaction that is rolled back): per local day
    its agent and team grains, and the days."""
    ids = sorted({item.group for item in differences})
    interactions = tables.interactions
    with engine.connect() as connection, connection.begin() as transaction:
        instants = [row for start in range(0, len(ids), 900)  # under every parameter limit
                    for row in connection.execute(sa.select(
                        interactions.c.created_at, interactions.c.resolved_at).where(
                        interactions.c.id.in_(ids[start:start + 900])))]
        days = {datetime.fromtimestamp(value, UTC).date() for row in instants for value in row
                if value is not None}
        if not days:
            transaction.rollback()
            return {}, set()
        refresh_business_durations(connection, ids)
        computed = compute_rollups(connection, days, settings)
        transaction.rollback()
    local = {day.isoformat() for part in computed for day in _days(part.first, part.end)}
    agent, team = recompute_grains(computed, None)
    by_day: dict[str, tuple[Recomputed, Recomputed]] = {
        day: (Recomputed(), Recomputed()) for day in local}
    for source, index in ((agent, 0), (team, 1)):
        for key, values in source.sums.items():
            by_day[key[1]][index].sums[key] = values
        for key, buckets in source.buckets.items():
            by_day[key[1]][index].buckets[key] = buckets
    return by_day, local


class RollupCheck:
    name = KIND

    def check(self, engine: Engine, progress: Progress,
              earlier: Mapping[str, Sequence[Difference]]) -> CheckResult:
        # the settings the import hooks build the rollup with (the program's, given at its
        # start): the check recomputes what they would have written
        settings = kpi_settings(hooks.settings())
        zone = settings.timezone
        lookback = math.ceil(settings.repeat_window_days)
        durations = [item for item in earlier.get(BUSINESS_HOURS_KIND, ()) if not item.pending]
        override, overridden = corrected_days(engine, durations, settings) if durations \
            else ({}, set())
        result = CheckResult()
        found: list[Difference] = []
        with snapshot(engine) as connection:
            dirty = dirty_days(connection)
            span = data_day_range(connection)
            months = Recomputed()
            first_local = end_local = None
            if span is not None:
                # as a full rebuild: a local day either side of the UTC days of the data
                first_local, end_local = span[0] - timedelta(days=1), span[1] + timedelta(days=2)
                windows = [(start, min(start + timedelta(days=WINDOW_DAYS), end_local))
                           for start in _days(first_local, end_local)[::WINDOW_DAYS]]
                total = (end_local - first_local).days
                for start, end in windows:
                    progress((start - first_local).days, total,
                             f"rollup {start.isoformat()} .. {end - timedelta(days=1)}")
                    wanted = {day.isoformat() for day in _days(start, end)}
                    computed = compute_rollups(connection, set(_days(start, end)), settings)
                    agent, team = recompute_grains(computed, wanted - overridden)
                    for day in wanted & overridden:
                        for mine, theirs in zip((agent, team), override[day], strict=True):
                            mine.sums.update(theirs.sums)
                            mine.buckets.update(theirs.buckets)
                    add_months(months, team)
                    for grain, recomputed in ((AGENT_GRAIN, agent), (TEAM_GRAIN, team)):
                        checked, differences = compare_grain(
                            connection, grain, recomputed, zone, start.isoformat(),
                            end.isoformat())
                        result.checked += checked
                        found += differences
                progress(total, total, "rollup")
            # rows of days with no data at all (or of every day, when there are no records)
            for grain in (AGENT_GRAIN, TEAM_GRAIN):
                checked, differences = compare_grain(
                    connection, grain, Recomputed(), zone,
                    first_local.isoformat() if first_local else None,
                    end_local.isoformat() if end_local else None, outside=True)
                result.checked += checked
                found += differences
            checked, differences = compare_grain(connection, TEAM_MONTH_GRAIN, months, zone,
                                                 None, None)
            result.checked += checked
            found += differences
        result.differences = _with_pending(found, dirty, lookback)
        return result

    def repair(self, engine: Engine, differences: Sequence[Difference]) -> int:
        mine = [item for item in differences if item.kind == KIND]
        settings = kpi_settings(hooks.settings())  # as the import hooks build the rollup
        rebuilt = 0
        differing = [item for item in mine if not item.pending]
        if differing:
            every_day = any(item.group.startswith("timezone=") for item in differing)
            days = {date.fromisoformat(item.day) for item in differing if item.day}
            with write_transaction(engine, "derived") as connection:
                refresh_rollups(connection, None if every_day else days, settings)
            rebuilt += len(days)
        if any(item.pending for item in mine):
            rebuilt += refresh_dirty_rollups(engine, settings)
        return rebuilt


def _with_pending(found: list[Difference], dirty: set[date], lookback: int
                  ) -> list[Difference]:
    """The differences, less those on days a stale mark's rebuild covers, and one pending
    item per stale day (saying how many it covers)."""
    if not dirty:
        return found
    covered = _covered(dirty, lookback)
    months = {day[:8] + "01": stale for day, stale in covered.items()}
    under: dict[date, int] = defaultdict(int)
    kept: list[Difference] = []
    for item in found:
        table = item.detail.split(":", 1)[0]
        monthly = table.startswith("kpi_monthly")
        stale = (months if monthly else covered).get(item.day or "")
        if stale is None:
            kept.append(item)
        else:
            under[stale] += 1
    pending = [Difference(KIND, day.isoformat(), "", None, None,
                          "pending rebuild (kpi_rollup_dirty): marked stale by an import"
                          + (f"; {under[day]} rollup value(s) on the days its rebuild "
                             "covers differ until then" if under[day] else ""), pending=True)
               for day in sorted(dirty)]
    return pending + kept


CHECK = RollupCheck()

"""The importer: validate raw rows, upsert them idempotently, project events, quarantine the bad.

Each batch is one transaction, so killing an import loses nothing already committed and a
re-run completes it: unchanged records (same `(type, id)`, same content hash) are not written.
A record with a known `(type, id)` and new content updates the stored one. References may
arrive in any order: an event whose interaction is not there yet is stored, and projected when
the interaction arrives (`servicepulse check` lists references that never resolved).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, func, select

from servicepulse.ingest.driver import Driver
from servicepulse.ingest.hooks import Touched, load_hooks, run_after_import
from servicepulse.ingest.projector import EventRow, project
from servicepulse.ingest.qa import fitting_reviews, rescore_reviews, write_review_scores
from servicepulse.ingest.rows import record_to_row
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import RECORD_KINDS
from servicepulse.records.validate import RecordError, parse_record
from servicepulse.store import tables
from servicepulse.store.database import write_transaction

BATCH_SIZE = 5000
# Rows written by one import after which PostgreSQL's planner statistics of the tables it
# wrote are refreshed at once (ANALYZE). A bulk import into a new store otherwise leaves
# them empty until autovacuum gets to it (minutes, or never when it is off), and the KPI
# queries' plans go wrong meanwhile: a scorecard took 360 s instead of 10 on the demo.
ANALYZE_AFTER_ROWS = 10_000
# A pipelined import (API requests) validates a batch in chunks in a worker process while this
# process writes the chunk before, all in the batch's one transaction. Only a batch without a
# repeated record id: written chunk by chunk, a repeat would be counted against the first.
PIPELINE_CHUNK = 1000
PIPELINE_MIN_ROWS = 2 * PIPELINE_CHUNK  # smaller batches: a round trip costs more than it saves
# The writer waits for the first chunk doing nothing: that one is small.
PIPELINE_FIRST_CHUNK = 250
_ID_CHUNK = 900  # ids per IN (...) lookup, well under every backend's parameter limit

# Record kinds in the order a batch writes them (events before the interactions they build).
# QA forms and then reviews last: a review is checked against its form and interaction,
# which may come in the same batch.
WRITE_ORDER = ("team", "calendar", "agent", "customer", "event", "interaction", "survey",
               "agent_state", "shift", "order", "social_post", "social_mention", "qa_form",
               "qa_review")
INTERACTION_COLUMNS = [c.name for c in tables.interactions.columns
                       if c.name not in ("id", "content_hash", "given")]
PROJECTED_COLUMNS = ("created_at", "answered_at", "first_response_at", "hold_s", "wrap_s",
                     "transfers", "reopens", "escalated", "resolved_at", "abandoned_at",
                     "agent_id")
# The day(s) a record's numbers belong to, for rollups: the first time-valued column it has.
_DAY_COLUMNS = {"interaction": ("created_at", "resolved_at"), "survey": ("submitted_at",),
                "agent_state": ("start", "end"), "shift": ("start",), "order": ("at",),
                "social_post": ("posted_at",), "social_mention": ("at",), "event": ("at",),
                "qa_review": ("at",)}


@dataclass
class ImportSummary:
    inserted: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    rows: int = 0
    seconds: float = 0.0  # the batches: reading, validating, writing, per-batch hooks
    after_import_seconds: float = 0.0  # deferred derived data (text scoring)
    rejected: list[tuple[int | None, RecordError]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The contract of `servicepulse import --output json`."""
        return {
            "inserted": {k: self.inserted[k] for k in RECORD_KINDS if self.inserted[k]},
            "updated": {k: self.updated[k] for k in RECORD_KINDS if self.updated[k]},
            "unchanged": {k: self.unchanged[k] for k in RECORD_KINDS if self.unchanged[k]},
            "quarantined": self.quarantined,
        }

    def count(self, kind: str, inserted: int, updated: int, unchanged: int) -> None:
        # only non-zero entries, so `if summary.inserted` means "something was inserted"
        for counter, n in ((self.inserted, inserted), (self.updated, updated),
                           (self.unchanged, unchanged)):
            if n:
                counter[kind] += n

    def merge(self, other: ImportSummary) -> None:
        self.inserted.update(other.inserted)
        self.updated.update(other.updated)
        self.unchanged.update(other.unchanged)
        self.quarantined += other.quarantined
        self.rows += other.rows
        self.rejected.extend(other.rejected)


@dataclass
class _Quarantined:
    row: SourceRow
    error: RecordError


@dataclass
class PreparedBatch:
    """A batch validated and converted to store rows: pure CPU work, done before the
    transaction (in a worker process when the import is parallel)."""

    summary: ImportSummary
    by_kind: dict[str, dict[str, dict[str, Any]]]
    bad: list[_Quarantined]
    # the source row of each QA review, to quarantine it if it does not fit its form
    review_rows: dict[str, SourceRow] = field(default_factory=dict)


def prepare_batch(batch: list[SourceRow]) -> PreparedBatch:
    summary = ImportSummary(rows=len(batch))
    bad: list[_Quarantined] = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in WRITE_ORDER}
    review_rows: dict[str, SourceRow] = {}
    for row in batch:
        if row.error is not None:
            bad.append(_Quarantined(row, row.error))
            continue
        data: Any = row.data
        if data is None:  # a raw JSON line, parsed here rather than in the reader
            try:
                data = orjson.loads(row.raw)
            except orjson.JSONDecodeError as exc:
                bad.append(_Quarantined(row, RecordError(None, f"not valid JSON ({exc})")))
                continue
        try:
            record = parse_record(data, row.default_kind)
        except RecordError as error:
            bad.append(_Quarantined(row, error))
            continue
        store_row = record_to_row(record)
        kind = record.record_type
        if kind == "interaction":
            # the record as given (its column `given`), written here: in the worker process
            # when pipelined, not in the writer
            store_row["given"] = orjson.dumps(store_row).decode()
        elif kind == "qa_review":
            review_rows[store_row["id"]] = row
        # the same (type, id) twice in a batch: the later one wins, as in a re-import
        earlier = by_kind[kind].get(store_row["id"])
        if earlier is not None:
            same = earlier["content_hash"] == store_row["content_hash"]
            summary.count(kind, 0, 0 if same else 1, 1 if same else 0)
        by_kind[kind][store_row["id"]] = store_row
    return PreparedBatch(summary, by_kind, bad, review_rows)


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a killed importer otherwise (waiting for work that never comes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _prepared(rows: Iterable[SourceRow], size: int, workers: int) -> Iterator[PreparedBatch]:
    """Prepared batches in input order; with workers, prepared ahead in other processes
    while the caller writes (a bounded number in flight, so memory stays flat)."""
    if workers <= 0:
        for batch in _batches(rows, size):
            yield prepare_batch(batch)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
        in_flight: deque[Future[PreparedBatch]] = deque()
        for batch in _batches(rows, size):
            in_flight.append(pool.submit(prepare_batch, batch))
            if len(in_flight) > workers + 1:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


_pool: ProcessPoolExecutor | None = None
_pool_pid = 0  # the process that started `_pool` (a forked child starts its own)
_pool_lock = threading.Lock()


def prepare_pool() -> ProcessPoolExecutor | None:
    """The process-wide pool (one worker, kept) that prepares pipelined imports; None on one
    core. Forked, like `_prepared`'s: a fork server or spawn would re-run the main script of
    a caller without a `__main__` guard in the worker. The worker only validates (pydantic,
    orjson: no lock another thread of this process could hold across the fork, and it never
    touches the inherited connections: it ends with os._exit)."""
    global _pool, _pool_pid
    if (os.cpu_count() or 1) < 2:
        return None
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ProcessPoolExecutor(max_workers=1,
                                        mp_context=multiprocessing.get_context("fork"),
                                        initializer=_exit_with_parent, initargs=(os.getpid(),))
            _pool_pid = os.getpid()
        return _pool


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    """A worker died (killed, out of memory): the next pipelined import starts a new pool."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _distinct_ids(batch: list[SourceRow]) -> bool:
    """Whether no record id occurs twice in the batch (whatever the kinds, valid or not), and
    every row's id is known before validation (not an unparsed JSON line)."""
    ids: list[str] = []
    for row in batch:
        if row.data is not None:
            key = row.data.get("id") if isinstance(row.data, dict) else None
        elif row.error is not None:
            key = row.error.record_id
        else:
            return False
        if key is not None:
            ids.append(str(key))
    return len(set(ids)) == len(ids)


def _pipelined(batch: list[SourceRow]) -> Iterator[PreparedBatch]:
    """The batch prepared in chunks, in order, by the worker process while the caller writes
    the chunks before; in this process if there is no worker or it died."""
    chunks = [batch[:PIPELINE_FIRST_CHUNK],
              *_batches(batch[PIPELINE_FIRST_CHUNK:], PIPELINE_CHUNK)]
    pool = prepare_pool()
    if pool is None:
        yield from map(prepare_batch, chunks)
        return
    try:
        futures = [pool.submit(prepare_batch, chunk) for chunk in chunks]
    except BrokenProcessPool:
        _discard_pool(pool)
        futures = []
    for index, chunk in enumerate(chunks):
        try:
            if index >= len(futures):
                raise BrokenProcessPool("not submitted")
            prepared = futures[index].result()
        except BrokenProcessPool:
            _discard_pool(pool)
            prepared = prepare_batch(chunk)
        yield prepared


def _chunks(values: Sequence[str], size: int = _ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _batches(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _utc_day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


def _utc_days(epochs: Iterable[float]) -> set[date]:
    """The UTC days of many instants (thousands of records, few days), as `_utc_day` gives
    them: by day number, except within a millisecond of midnight, where the rounding of
    `fromtimestamp` to the microsecond may reach the next day."""
    values = epochs if isinstance(epochs, list) else list(epochs)
    # two set comprehensions rather than one loop with a branch: a third of the time
    numbers = {number for epoch in values
               if epoch - (number := epoch // 86400.0) * 86400.0 < 86399.999}
    days = {_utc_day(epoch) for epoch in values
            if epoch - (epoch // 86400.0) * 86400.0 >= 86399.999}
    return days | {_utc_day(number * 86400.0) for number in numbers}


class Importer:
    """Imports batches into one store. Reusable across files and API requests."""

    def __init__(self, engine: Engine, batch_size: int = BATCH_SIZE, workers: int = 0,
                 pipeline: bool = False) -> None:
        """`workers`: processes that validate ahead of the writer (0: all in this one), for
        long imports. `pipeline` (with no workers): a batch of at least PIPELINE_MIN_ROWS is
        validated chunk by chunk in `prepare_pool()`'s worker while this process writes, for
        imports of one or a few batches (API requests); each batch stays one transaction."""
        self.engine = engine
        self.batch_size = batch_size
        self.workers = workers
        self.pipeline = pipeline and workers <= 0
        self.hooks = load_hooks()
        self._pending = Touched()  # what the after-import hooks have still to see
        with engine.connect() as connection:
            self._quarantine_in_use = bool(
                connection.execute(select(func.count()).select_from(tables.quarantine)).scalar()
            )

    def import_rows(self, rows: Iterable[SourceRow],
                    on_batch: Callable[[ImportSummary], None] | None = None,
                    after_import: bool = True, whole: bool = False) -> ImportSummary:
        """Import every row; then run the after-import hooks unless `after_import` is False
        (the caller then runs `run_after_import` itself, e.g. once for many requests).

        Each batch is one transaction; with `whole`, all of them are one (an API request:
        stored whole or not at all)."""
        summary = ImportSummary()
        started = time.perf_counter()
        with self._transaction() if whole else nullcontext() as shared:
            for parts in self._prepared_batches(rows):
                with nullcontext(shared) if shared is not None \
                        else self._transaction() as connection:
                    result = ImportSummary()
                    touched = Touched()
                    for prepared in parts:
                        result.merge(self._import_batch(connection, prepared, touched))
                    # once per transaction, not per pipelined chunk: the hooks' fixed cost
                    # (a few ms each) then counts once per batch
                    self._after_batch(connection, touched)
                summary.merge(result)
                if on_batch is not None:
                    on_batch(result)
        summary.seconds = time.perf_counter() - started
        refresh_planner_statistics(self.engine, summary)
        if after_import:
            started = time.perf_counter()
            self.run_after_import()
            summary.after_import_seconds = time.perf_counter() - started
        return summary

    def _prepared_batches(self, rows: Iterable[SourceRow]) -> Iterator[Iterable[PreparedBatch]]:
        """Per batch (one transaction), its prepared parts: the whole batch, or its chunks
        when pipelined. A chunk is written as a batch of its own would be, so the outcome
        is the same as the batch's as long as no record id occurs twice in it (checked:
        else the batch is prepared whole, which counts a repeat once and stores the last)."""
        if not self.pipeline:
            for prepared in _prepared(rows, self.batch_size, self.workers):
                yield (prepared,)
            return
        for batch in _batches(rows, self.batch_size):
            if len(batch) >= PIPELINE_MIN_ROWS and _distinct_ids(batch):
                yield _pipelined(batch)
            else:
                yield (prepare_batch(batch),)

    def _transaction(self) -> AbstractContextManager[Connection]:
        """A batch's transaction: one writer at a time (SQLite's write lock from the start,
        PostgreSQL's import lock), so two imports at once never both insert a new record."""
        return write_transaction(self.engine, "import")

    def take_pending(self) -> Touched:
        """What the after-import hooks have still to see (for a background worker)."""
        touched, self._pending = self._pending, Touched()
        return touched

    def run_after_import(self) -> None:
        """Bring the derived data up to date: whatever is marked, by this import or by any
        earlier one that was killed or ran at the same time (the marks are durable)."""
        run_after_import(self.engine, self.take_pending())

    # -- one batch, one transaction -------------------------------------------------------

    def _import_batch(self, connection: Connection, prepared: PreparedBatch,
                      batch_touched: Touched) -> ImportSummary:
        """Write one prepared part of a batch; what it changed goes to `batch_touched`, for
        the hooks that run once the batch's parts are written (`_after_batch`)."""
        summary, by_kind, bad = prepared.summary, prepared.by_kind, prepared.bad
        touched = Touched()
        for kind in WRITE_ORDER:
            incoming = by_kind[kind]
            if not incoming:
                continue
            if kind == "qa_review":
                # only the reviews that fit their form and interaction (the others are
                # quarantined), each with its IQS
                incoming, misfits = fitting_reviews(connection, incoming, prepared.review_rows)
                by_kind[kind] = incoming
                bad.extend(_Quarantined(row, error) for row, error in misfits)
                if not incoming:
                    continue
            if kind == "interaction":
                changed = self._write_interactions(connection, incoming, summary, touched)
            else:
                changed = self._write_kind(connection, kind, incoming, summary, touched)
            if kind == "qa_form" and changed:
                rescore_reviews(connection, changed)
            elif kind == "qa_review" and changed:
                write_review_scores(connection, [incoming[i] for i in changed])
            if changed:
                touched.kinds[kind] = set(changed)
                for column in _DAY_COLUMNS.get(kind, ()):
                    touched.days.update(_utc_days([value for i in changed if (
                        value := incoming[i].get(column)) is not None]))
        # events that changed interactions already stored and not written by this batch (an
        # interaction given again unchanged, beside new events of its own, is one of them)
        event_targets = {by_kind["event"][i]["interaction_id"] for i in touched.ids("event")}
        outside = event_targets - touched.ids("interaction")
        if outside:
            self._reproject(connection, sorted(outside), touched)

        if bad:
            self._quarantine(connection, bad)
            summary.quarantined = len(bad)
            summary.rejected = [(q.row.line, q.error) for q in bad]
        if self._quarantine_in_use:
            self._release_quarantined(connection, by_kind)
        batch_touched.absorb(touched)
        return summary

    def _after_batch(self, connection: Connection, touched: Touched) -> None:
        if touched:
            for hook in self.hooks:
                hook(connection, touched)
            self._pending.merge(touched)

    @staticmethod
    def _existing_hashes(connection: Connection, kind: str,
                         ids: Sequence[str]) -> dict[str, str]:
        rows = Driver(connection).select_where_in(
            tables.RECORD_TABLES[kind], ("id", "content_hash"), "id", ids)
        return {str(key): str(digest) for key, digest in rows}

    @staticmethod
    def _days_left(connection: Connection, kind: str, ids: Sequence[str]) -> set[date]:
        """The UTC days the stored versions of changed records count on: a record whose
        times change leaves those days, whose rollup is then stale too."""
        columns = _DAY_COLUMNS.get(kind, ())
        if not ids or not columns:
            return set()
        rows = Driver(connection).select_where_in(tables.RECORD_TABLES[kind], columns, "id", ids)
        return _utc_days(value for row in rows for value in row if value is not None)

    def _write_kind(self, connection: Connection, kind: str,
                    incoming: dict[str, dict[str, Any]], summary: ImportSummary,
                    touched: Touched) -> list[str]:
        table = tables.RECORD_TABLES[kind]
        existing = self._existing_hashes(connection, kind, list(incoming))
        new = [row for key, row in incoming.items() if key not in existing]
        changed = [row for key, row in incoming.items()
                   if key in existing and existing[key] != row["content_hash"]]
        summary.count(kind, len(new), len(changed), len(incoming) - len(new) - len(changed))
        if new:
            Driver(connection).insert(table, new)
        if changed:
            touched.days.update(self._days_left(connection, kind, [row["id"] for row in changed]))
            Driver(connection).update(table, changed)
        return [row["id"] for row in new] + [row["id"] for row in changed]

    # -- interactions: the record as given, overlaid by its events --------------------------

    def _load_events(self, connection: Connection,
                     interaction_ids: Sequence[str]) -> dict[str, list[EventRow]]:
        events: dict[str, list[EventRow]] = {}
        for row in Driver(connection).select_where_in(
            tables.events, ("interaction_id", "id", "at", "kind", "actor", "agent_id", "public"),
            "interaction_id", interaction_ids,
        ):
            events.setdefault(row[0], []).append(EventRow(row[1], row[2], row[3], row[4],
                                                          row[5], bool(row[6])))
        return events

    def _write_interactions(self, connection: Connection, incoming: dict[str, dict[str, Any]],
                            summary: ImportSummary, touched: Touched) -> list[str]:
        existing = self._existing_hashes(connection, "interaction", list(incoming))
        new_ids = [key for key in incoming if key not in existing]
        changed_ids = [key for key in incoming
                       if key in existing and existing[key] != incoming[key]["content_hash"]]
        summary.count("interaction", len(new_ids), len(changed_ids),
                      len(incoming) - len(new_ids) - len(changed_ids))
        to_write = new_ids + changed_ids
        if not to_write:
            return []
        # events already stored (this batch's events were written just before)
        events = self._load_events(connection, to_write)
        # the effective rows, their `given` text included (without events: the row as
        # prepared, not copied)
        rows = [project(incoming[key], found) if (found := events.get(key)) else incoming[key]
                for key in to_write]
        if new_ids:
            Driver(connection).insert(tables.interactions, rows[:len(new_ids)])
        if changed_ids:
            touched.days.update(self._days_left(connection, "interaction", changed_ids))
            Driver(connection).update(tables.interactions, rows[len(new_ids):])
        touched.interaction_ids.update(to_write)
        # what the hooks would otherwise look up again (see Touched)
        touched.inserted_interactions.update(new_ids)
        touched.resolved_at.update(zip(to_write, [row.get("resolved_at") for row in rows],
                                       strict=True))
        return to_write

    def _reproject(self, connection: Connection, interaction_ids: list[str],
                   touched: Touched) -> None:
        """Re-derive stored interactions whose events changed in this batch."""
        stored: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for row in Driver(connection).select_where_in(
            tables.interactions, ("id", "given", *PROJECTED_COLUMNS), "id", interaction_ids
        ):
            current = dict(zip(PROJECTED_COLUMNS, row[2:], strict=True))
            if current["escalated"] is not None:
                current["escalated"] = bool(current["escalated"])
            stored[row[0]] = (orjson.loads(row[1]), current)
        if not stored:
            return  # events of interactions not imported yet: projected when they arrive
        events = self._load_events(connection, list(stored))
        updates = []
        for key, (given, current) in stored.items():
            effective = project(given, events.get(key, ()))
            if any(effective.get(c) != current[c] for c in PROJECTED_COLUMNS):
                updates.append({"id": key, **{c: effective.get(c) for c in PROJECTED_COLUMNS}})
                for column in ("created_at", "resolved_at"):
                    for value in (effective.get(column), current[column]):
                        if value is not None:
                            touched.days.add(_utc_day(value))
        if updates:
            Driver(connection).update(tables.interactions, updates)
            touched.interaction_ids.update(str(u["id"]) for u in updates)

    # -- quarantine ----------------------------------------------------------------------

    def _quarantine(self, connection: Connection, bad: list[_Quarantined]) -> None:
        q = tables.quarantine
        sources = sorted({item.row.source for item in bad})
        already: set[tuple[str, int | None, str]] = set()
        for source in sources:
            lines = [item.row.line for item in bad if item.row.source == source]
            for chunk in _chunks([str(n) for n in lines if n is not None]):
                found = connection.execute(
                    select(q.c.source, q.c.line, q.c.raw).where(
                        q.c.source == source, q.c.line.in_([int(n) for n in chunk])))
                already.update((row.source, row.line, row.raw) for row in found)
        now = time.time()
        entries = []
        for item in bad:
            if (item.row.source, item.row.line, item.row.raw) in already:
                continue  # the same bad row imported again: it is quarantined once
            entries.append({
                "source": item.row.source, "line": item.row.line,
                "kind": item.error.kind or _known_kind((item.row.data or {}).get("type"))
                or item.row.default_kind,
                "record_id": item.error.record_id, "field": item.error.field,
                "reason": item.error.reason, "raw": item.row.raw,
                "default_kind": item.row.default_kind, "quarantined_at": now,
            })
        if entries:
            connection.execute(q.insert(), entries)
            self._quarantine_in_use = True

    def _release_quarantined(self, connection: Connection,
                             by_kind: dict[str, dict[str, dict[str, Any]]]) -> None:
        """A record that now imports supersedes its quarantined versions."""
        # one statement per kind with the ids as one parameter: an expanding IN compiled per
        # chunk cost more than the whole batch's inserts once anything was ever quarantined
        driver = Driver(connection)
        for kind, rows in by_kind.items():
            if rows:
                driver.delete_where_in(tables.quarantine, "record_id", list(rows), ("kind", kind))


def _known_kind(value: object) -> str | None:
    """A quarantined row's `type` when it names a record kind (a junk or over-long one
    would not fit the quarantine's kind column; the reason already says what was wrong)."""
    return value if isinstance(value, str) and value in RECORD_KINDS else None


def refresh_planner_statistics(engine: Engine, summary: ImportSummary) -> None:
    """ANALYZE the tables of a large import on PostgreSQL (see `ANALYZE_AFTER_ROWS`)."""
    if engine.dialect.name != "postgresql":
        return  # SQLite's planner reads the indexes, not gathered statistics
    written = {kind: summary.inserted[kind] + summary.updated[kind] for kind in RECORD_KINDS}
    if sum(written.values()) < ANALYZE_AFTER_ROWS:
        return
    names = sorted(tables.RECORD_TABLES[kind].name for kind, count in written.items()
                   if count and kind in tables.RECORD_TABLES)
    if names:
        from sqlalchemy import text

        with engine.begin() as connection:  # table names are the schema's own, not input
            connection.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in names)))


def import_rows(engine: Engine, rows: Iterable[SourceRow], batch_size: int = BATCH_SIZE,
                on_batch: Callable[[ImportSummary], None] | None = None,
                workers: int = 0) -> ImportSummary:
    """Import raw rows (from any reader or connector) into the store."""
    return Importer(engine, batch_size, workers).import_rows(rows, on_batch)


def import_rows_deferred(engine: Engine, rows: Iterable[SourceRow]) -> ImportSummary:
    """Import now; leave the after-import work to the engine's background worker (for API
    requests and webhook deliveries, which must answer fast)."""
    from servicepulse.ingest.background import after_import_worker

    worker = after_import_worker(engine)
    with worker.importing():  # the worker waits; SQLite: never during its rebuild
        importer = Importer(engine, pipeline=True)
        summary = importer.import_rows(rows, after_import=False, whole=True)
    worker.submit(importer.take_pending())
    return summary

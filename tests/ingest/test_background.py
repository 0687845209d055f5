"""API-sized imports answer at once; the background worker brings the rollup up to date."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date

import pytest
from sqlalchemy import Engine

from servicepulse.ingest.background import AfterImportWorker, after_import_worker
from servicepulse.ingest.importer import Importer, import_rows_deferred
from servicepulse.ingest.readers import read_paths
from servicepulse.kpi.rollup import dirty_days
from tests.conftest import FIXTURES

CENTRE = FIXTURES / "ingest" / "contact_centre.jsonl"


def test_deferred_import_leaves_stale_days_until_the_worker_has_run(
        sqlite_store: Engine) -> None:
    summary = import_rows_deferred(sqlite_store, read_paths([CENTRE]))
    assert summary.as_json()["inserted"]["interaction"] == 2
    with sqlite_store.connect() as connection:
        # the worker waits QUIET_SECONDS for other requests before it starts
        assert dirty_days(connection)
    worker = after_import_worker(sqlite_store)
    assert worker.wait_idle(timeout=120)
    with sqlite_store.connect() as connection:
        assert dirty_days(connection) == set()  # the worker rebuilt them
    assert after_import_worker(sqlite_store) is worker  # one worker per engine


def test_the_worker_waits_for_a_pause_in_the_imports_but_not_forever(
        sqlite_store: Engine) -> None:
    worker = AfterImportWorker(sqlite_store, quiet_seconds=1.0, max_delay_seconds=10.0)
    assert worker.wait_idle(60)  # its startup run: nothing was marked
    first = 100.0
    worker._last_submit = 100.0
    assert worker.run_at(first, 100.5) == 101.0  # one import: a second after it
    worker._last_submit = 105.0
    assert worker.run_at(first, 100.5) == 106.0  # another one came: a second after that
    worker._last_submit = 109.5
    assert worker.run_at(first, 100.5) == 110.0  # still coming: at most 10 s after the first


def test_the_worker_never_starts_while_an_import_runs(sqlite_store: Engine) -> None:
    worker = AfterImportWorker(sqlite_store, quiet_seconds=1.0, max_delay_seconds=10.0)
    assert worker.wait_idle(60)  # its startup run: nothing was marked
    worker._last_submit = 100.0
    with worker.importing():
        assert worker.run_at(100.0, 104.0) == 105.0  # a second after now, and again ...
        assert worker.run_at(100.0, 109.5) == 110.0  # ... but at most 10 s after the first
        assert not worker.writing().acquire(blocking=False)  # SQLite: the import writes
    assert worker._last_submit > 100.0  # the import's end counts as the last activity
    assert worker.writing().acquire(blocking=False)
    worker.writing().release()


def test_the_worker_runs_at_most_once_a_minute(sqlite_store: Engine) -> None:
    worker = AfterImportWorker(sqlite_store, quiet_seconds=1.0, max_delay_seconds=10.0,
                               min_interval_seconds=60.0)
    assert worker.wait_idle(60)  # its startup run: nothing was marked
    worker._last_done = 50.0  # the previous run ended at 50
    worker._last_submit = 100.0
    assert worker.run_at(100.0, 100.5) == 110.0  # 60 s after it: later than the pause at 101
    worker._last_done = 20.0
    assert worker.run_at(100.0, 100.5) == 101.0  # long ago: the pause decides


def test_sqlite_imports_and_rebuilds_take_turns(sqlite_store: Engine) -> None:
    worker = after_import_worker(sqlite_store)
    with worker.writing():
        # the importer of this process waits for the lock the rebuild holds
        assert not worker.writing().acquire(blocking=False)
    assert worker.writing().acquire(blocking=False)
    worker.writing().release()


@pytest.mark.postgres
def test_postgresql_imports_never_wait_for_a_rebuild(postgres_store: Engine) -> None:
    worker = after_import_worker(postgres_store)
    assert isinstance(worker.writing(), nullcontext)


def _rollup_rows(engine: Engine) -> list[tuple[object, ...]]:
    from sqlalchemy import select

    from servicepulse.kpi.tables import kpi_daily_rollup

    with engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(select(kpi_daily_rollup)))


def test_the_rebuild_computes_without_the_writer_lock_and_clears_what_it_rebuilt(
        sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import servicepulse.kpi.rollup as rollup
    from servicepulse.ingest.hooks import Touched

    worker = AfterImportWorker(sqlite_store, min_interval_seconds=3600.0)
    assert worker.wait_idle(60)  # its startup run: nothing was marked

    assert worker.wait_idle(60)  # its startup run: nothing was marked
    compute = rollup.compute_rollups
    lock_free_while_computing: list[bool] = []

    def watched(*args: object, **kwargs: object) -> list[rollup.RangeRows]:
        free = worker.writing().acquire(blocking=False)  # an import could write meanwhile
        if free:
            worker.writing().release()
        lock_free_while_computing.append(free)
        return compute(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rollup, "compute_rollups", watched)
    with worker.importing():
        Importer(sqlite_store).import_rows(read_paths([CENTRE]), after_import=False)
    with sqlite_store.connect() as connection:
        stale = dirty_days(connection)
    assert stale
    worker._after_import(Touched(days=stale))
    assert lock_free_while_computing == [True]
    with sqlite_store.connect() as connection:
        assert dirty_days(connection) == set()
    two_step = _rollup_rows(sqlite_store)
    # the same rows as the one-transaction rebuild of a synchronous import
    with sqlite_store.begin() as connection:
        rollup.refresh_rollups(connection, stale)
    assert two_step and _rollup_rows(sqlite_store) == two_step


def test_an_import_during_the_rebuild_leaves_its_days_stale(
        sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that changes a stale day while its rebuild computes bumps the day's mark: the
    rebuild writes no range that day touches and clears no mark whose range it left out."""
    import servicepulse.kpi.rollup as rollup
    from servicepulse.ingest.hooks import Touched

    worker = AfterImportWorker(sqlite_store, min_interval_seconds=3600.0)
    assert worker.wait_idle(60)  # its startup run: nothing was marked

    assert worker.wait_idle(60)  # its startup run: nothing was marked
    Importer(sqlite_store).import_rows(read_paths([CENTRE]), after_import=False)
    far = date(2026, 6, 1)  # no data, and beyond any range the centre's days touch
    with sqlite_store.begin() as connection:
        rollup.mark_days_stale(connection, {far})
        stale = dirty_days(connection)
    assert stale == {date(2026, 3, 1), date(2026, 3, 2), far}
    compute = rollup.compute_rollups
    changed: list[set[date]] = [{far}]

    def with_an_import_meanwhile(*args: object, **kwargs: object) -> list[rollup.RangeRows]:
        computed = compute(*args, **kwargs)  # type: ignore[arg-type]
        with worker.importing(), sqlite_store.begin() as connection:  # another request
            rollup.mark_days_stale(connection, changed[0])
        return computed

    monkeypatch.setattr(rollup, "compute_rollups", with_an_import_meanwhile)
    with sqlite_store.connect() as connection:
        before = rollup.dirty_marks(connection)
    worker._after_import(Touched(days=stale))
    with sqlite_store.connect() as connection:
        marks = rollup.dirty_marks(connection)
    # the March days written and cleared; June changed meanwhile: kept, its version bumped
    assert list(marks) == [far] and marks[far] > before[far]
    assert _rollup_rows(sqlite_store)
    # now March changes while it is rebuilt: nothing of March is written, both days stay
    with sqlite_store.begin() as connection:
        rollup.mark_days_stale(connection, {date(2026, 3, 1), date(2026, 3, 2)})
        connection.execute(rollup.kpi_daily_rollup.delete())
        before = rollup.dirty_marks(connection)
    changed[0] = {date(2026, 3, 2)}
    worker._after_import(Touched())
    with sqlite_store.connect() as connection:
        marks = rollup.dirty_marks(connection)
    # June: written and cleared; 1 March kept as it was (its range holds 2 March), 2 March bumped
    assert sorted(marks) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert marks[date(2026, 3, 1)] == before[date(2026, 3, 1)]
    assert marks[date(2026, 3, 2)] > before[date(2026, 3, 2)]
    assert _rollup_rows(sqlite_store) == []
    # the next run, undisturbed, completes them
    changed[0] = set()
    worker._after_import(Touched())
    with sqlite_store.connect() as connection:
        assert dirty_days(connection) == set()
    assert _rollup_rows(sqlite_store)


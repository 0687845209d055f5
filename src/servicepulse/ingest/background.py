"""After-import work for small, frequent imports (API requests, webhook deliveries).

Each request imports its records and answers at once; the slow derived data (the KPI rollup
of the stale days, sentiment scores of new texts) is brought up to date by one background
thread per engine, which coalesces everything the requests touched in the meantime. Until
then the rollup's stale days are answered by the exact path, so no number is ever stale.

The worker waits for a pause in the imports (`QUIET_SECONDS` with none running, at most
`MAX_DELAY_SECONDS` after the first one waiting), so a burst of API batches is followed by one
rollup rebuild rather than one every half second while the batches are still arriving; and
it starts a rebuild no sooner than `MIN_INTERVAL_SECONDS` after the previous one ended, so a
steady trickle of records (a wallboard's day) costs one rebuild a minute, not one after every
record: a rebuild of a day takes seconds of CPU. Hooks registered with a `prepare` step
(the rollup) compute outside the writer lock, then write in a short transaction. With
SQLite (one writer at a time) those writes and the imports of this process take turns
(`writing()`): an import waits for them instead of failing with "database is locked".
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine

from servicepulse.ingest.hooks import Touched, load_hooks, run_after_import

log = logging.getLogger(__name__)
QUIET_SECONDS = 1.0  # run once no import has run for this long,
MAX_DELAY_SECONDS = 60.0  # or this long after the first submission waiting, if sooner,
MIN_INTERVAL_SECONDS = 60.0  # but not sooner than this after the previous run ended


class AfterImportWorker:
    def __init__(self, engine: Engine, quiet_seconds: float = QUIET_SECONDS,
                 max_delay_seconds: float = MAX_DELAY_SECONDS,
                 min_interval_seconds: float = MIN_INTERVAL_SECONDS) -> None:
        self.engine = engine
        self.quiet_seconds = quiet_seconds
        self.max_delay_seconds = max_delay_seconds
        self.min_interval_seconds = min_interval_seconds
        self._last_done: float | None = None  # when the previous run ended (monotonic)
        self._pending = Touched()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()  # set once the startup run is done
        self._last_submit = 0.0  # when the last import ended (monotonic)
        self._importing = 0  # imports running now
        # SQLite has one writer: this process's imports and rebuilds take turns
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._thread = threading.Thread(target=self._run, name="after-import", daemon=True)
        self._thread.start()

    def writing(self) -> Any:
        """Hold while writing to the store (a context manager; a no-op on PostgreSQL)."""
        return self._writer if self._writer is not None else nullcontext()

    @contextmanager
    def importing(self) -> Iterator[None]:
        """Around an import whose after-import work will be submitted: the worker does not
        start while it runs (and, on SQLite, it holds the writer lock meanwhile)."""
        with self._lock:
            self._importing += 1
        try:
            with self.writing():
                yield
        finally:
            with self._lock:
                self._importing -= 1
                self._last_submit = time.monotonic()

    def submit(self, touched: Touched) -> None:
        if not touched:
            return
        with self._lock:
            self._pending.merge(touched)
            self._last_submit = time.monotonic()
            self._idle.clear()
        self._wake.set()

    def run_at(self, first: float, now: float) -> float:
        """When to run for submissions waiting since `first` (monotonic seconds, as `now`)."""
        with self._lock:
            last, done, busy = self._last_submit, self._last_done, self._importing
        pause = (now if busy else max(first, last)) + self.quiet_seconds
        due = min(pause, first + self.max_delay_seconds)
        return due if done is None else max(due, done + self.min_interval_seconds)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything submitted so far has been processed (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        load_hooks()
        # what a killed server or import left marked is finished first
        try:
            self._after_import(Touched())
        except Exception:
            log.exception("after-import work left marked failed; it is retried on the next "
                          "import")
        with self._lock:
            if not self._pending:
                self._idle.set()
        while True:
            self._wake.wait()
            self._wake.clear()
            first = time.monotonic()
            while (wait := self.run_at(first, now := time.monotonic()) - now) > 0:
                time.sleep(wait)  # imports still arriving: they join this run
            with self._lock:
                touched, self._pending = self._pending, Touched()
            if touched:
                try:
                    self._after_import(touched)
                except Exception:  # keep serving; the next run retries the stale days
                    log.exception("after-import work failed; it is retried on the next import")
                with self._lock:
                    self._last_done = time.monotonic()
            with self._lock:
                if not self._pending:
                    self._idle.set()

    def _after_import(self, touched: Touched) -> None:
        """The hooks' work: each prepared hook's slow part first, outside the writer lock
        (imports go on meanwhile), then its writes in a short transaction. What an import
        changed meanwhile stays marked (versioned marks), for the next run."""
        run_after_import(self.engine, touched, self.writing)


_workers: weakref.WeakKeyDictionary[Engine, AfterImportWorker] = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def after_import_worker(engine: Engine) -> AfterImportWorker:
    with _workers_lock:
        worker = _workers.get(engine)
        if worker is None:
            worker = _workers[engine] = AfterImportWorker(engine)
        return worker

"""After-import work for small, frequent imports (API requests, webhook deliveries).

Each request imports its records and answers at once; the slow derived data (the KPI rollup
of the stale days, sentiment scores of new texts) is brought up to date by one background
thread per engine, which coalesces everything the requests touched in the meantime. Until
then the rollup's stale days are answered by the exact path, so no number is ever stale.
"""

from __future__ import annotations

import logging
import threading
import weakref

from sqlalchemy import Engine

from servicepulse.ingest.hooks import AFTER_IMPORT, Touched, load_hooks

log = logging.getLogger(__name__)
COALESCE_SECONDS = 0.5  # wait this long after a request for others to join the same run


class AfterImportWorker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending = Touched()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="after-import", daemon=True)
        self._thread.start()

    def submit(self, touched: Touched) -> None:
        if not touched:
            return
        with self._lock:
            self._pending.merge(touched)
            self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything submitted so far has been processed (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        load_hooks()
        while True:
            self._wake.wait()
            self._wake.clear()
            self._wake.wait(COALESCE_SECONDS)
            with self._lock:
                touched, self._pending = self._pending, Touched()
            if touched:
                try:
                    with self.engine.begin() as connection:
                        for hook in AFTER_IMPORT:
                            hook(connection, touched)
                except Exception:  # keep serving; the next run retries the stale days
                    log.exception("after-import work failed; it is retried on the next import")
            with self._lock:
                if not self._pending:
                    self._idle.set()


_workers: weakref.WeakKeyDictionary[Engine, AfterImportWorker] = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def after_import_worker(engine: Engine) -> AfterImportWorker:
    with _workers_lock:
        worker = _workers.get(engine)
        if worker is None:
            worker = _workers[engine] = AfterImportWorker(engine)
        return worker

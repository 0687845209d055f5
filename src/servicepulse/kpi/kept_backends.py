"""Connections to the KPI engine's backend kept between queries, for a long-running process
(the web service; it lives here, below the web, because it needs nothing of it).

`servicepulse.kpi.engine.run_kpi_query` opens an Ibis connection for every query and Ibis
compiles every expression to SQL anew. For a one-off command that is nothing; for a server
that recomputes the same views after every write (the wallboard's KPI tiles, the cached
dashboards) the compiling costs more than the database work. So the app keeps a few Ibis
connections per store (`KpiBackends`) and each remembers the bound statements of the
expressions it has run (`servicepulse.kpi.bound_sql.BoundExecutor`, keyed by the expression
itself: Ibis expressions compare by structure, so an identical query over the same tables and
times reuses its statement, and anything different compiles afresh). Each connection also keeps
the expressions the engine built for a query (`servicepulse.kpi.engine.ExpressionCache`),
so asking the same query again skips building them: the wallboard's tiles of today, asked
after every write, then cost only the database's work. The engine runs on the lent
connection through `run_on_backend`. An SQLite store's connections are SQLite's own; a
PostgreSQL store's are DuckDB with the store attached (`servicepulse.kpi.analytical`).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy import Engine

from servicepulse.kpi.bound_sql import bound_executor
from servicepulse.kpi.engine import ExpressionCache, run_on_backend
from servicepulse.kpi.results import KpiResult

MAX_IDLE = 4  # connections kept open between queries


class KpiBackends:
    """Ibis connections to the store behind `engine`, lent one query at a time."""

    def __init__(self, engine: Engine, max_idle: int = MAX_IDLE) -> None:
        self.engine = engine
        self.max_idle = max_idle
        self._idle: list[BaseBackend] = []
        self._lock = threading.Lock()
        # per open connection (by id; dropped when it closes): the engine's built expressions
        self._expressions: dict[int, ExpressionCache] = {}

    def _open(self) -> BaseBackend:
        url = self.engine.url
        backend: BaseBackend
        if url.get_backend_name() == "sqlite":
            import sqlite3

            import ibis

            if not url.database or url.database == ":memory:":
                raise ValueError("the KPI engine needs a SQLite file, not an in-memory database")
            # SQLite runs its own KPI queries (never DuckDB in this process: kpi.analytical);
            # lent to one thread at a time, but not always the one that opened it
            backend = ibis.sqlite.from_connection(
                sqlite3.connect(url.database, check_same_thread=False))
        else:
            from servicepulse.kpi.analytical import analytical_backend

            backend = analytical_backend(url)  # PostgreSQL read by DuckDB (kpi.analytical)
        bound_executor(backend)  # every query binds its values; statements kept per expression
        with self._lock:
            self._expressions[id(backend)] = ExpressionCache()
        return backend

    @contextmanager
    def connection(self) -> Iterator[BaseBackend]:
        """A connection for one query; back to the idle ones afterwards (closed on error)."""
        with self._lock:
            backend = self._idle.pop() if self._idle else None
        if backend is None:
            backend = self._open()
        try:
            yield backend
        except BaseException:
            self._close(backend)  # it may be mid-transaction or broken: never lend it again
            raise
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(backend)
                return
        self._close(backend)

    def expressions(self, backend: BaseBackend) -> ExpressionCache | None:
        """The engine's built expressions kept with `backend` (one of ours, lent now)."""
        with self._lock:
            return self._expressions.get(id(backend))

    def run(self, query: Any, settings: Any | None = None) -> KpiResult:
        """`run_kpi_query(engine, query, settings)` on a kept connection."""
        with self.connection() as backend:
            return run_on_backend(backend, query, settings,
                                  expressions=self.expressions(backend))

    def _close(self, backend: BaseBackend) -> None:
        with self._lock:
            self._expressions.pop(id(backend), None)
        _close(backend)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for backend in idle:
            self._close(backend)


def _close(backend: BaseBackend) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing more to release
        backend.disconnect()


_pools: weakref.WeakKeyDictionary[Engine, KpiBackends] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def backends_for(engine: Engine) -> KpiBackends:
    """The kept connections to the store behind `engine` (one set per engine)."""
    with _pools_lock:
        pool = _pools.get(engine)
        if pool is None:
            pool = _pools[engine] = KpiBackends(engine)
        return pool


def close_backends(engine: Engine) -> None:
    """Close the kept connections to `engine`'s store (the app's shutdown)."""
    with _pools_lock:
        pool = _pools.pop(engine, None)
    if pool is not None:
        pool.close()

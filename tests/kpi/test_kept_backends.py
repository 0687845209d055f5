"""The app's kept KPI connections: the same documents as `run_kpi_query`, statements compiled
once per distinct expression, connections reused, and a failed one never lent again."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, create_engine

from servicepulse.kpi.bound_sql import bound_executor
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.kept_backends import KpiBackends, backends_for, close_backends
from servicepulse.kpi.query import KpiQuery
from tests.conftest import FIXTURES
from tests.kpi.helpers import load

QUERY = KpiQuery.model_validate({"from": date(2026, 11, 2), "to": date(2026, 11, 9),
                                 "by": ["channel"], "kpis": ["contacts", "frt", "csat"]})


def test_kept_connections_answer_as_run_kpi_query(store: Engine,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # statements kept across processes (kpi.compiled_sql) off: this counts the
    # connection's own compiling
    monkeypatch.setenv("SERVICEPULSE_SQL_CACHE", "off")
    _load_centre(store)
    pool = KpiBackends(store, max_idle=1)
    expected = run_kpi_query(store, QUERY)
    assert pool.run(QUERY) == expected
    with pool.connection() as backend:
        first = backend
        executor = bound_executor(backend)
        misses, hits = executor.misses, executor.hits
    assert misses > 0
    assert pool.run(QUERY) == expected  # again, on the same connection, statements reused
    with pool.connection() as backend:
        assert backend is first
    assert executor.misses == misses
    assert executor.hits >= hits + misses
    pool.close()


def test_a_repeated_query_reuses_the_built_expressions(sqlite_store: Engine) -> None:
    _load_centre(sqlite_store)
    pool = KpiBackends(sqlite_store, max_idle=1)
    # occupancy reads agent states open until now: that source is built anew every time
    query = QUERY.model_copy(update={"kpis": ["contacts", "frt", "csat", "occupancy"]})
    expected = run_kpi_query(sqlite_store, query)
    assert pool.run(query) == expected
    with pool.connection() as backend:
        expressions = pool.expressions(backend)
    assert expressions is not None
    misses, hits = expressions.misses, expressions.hits
    assert pool.run(query) == expected
    assert expressions.misses == misses  # nothing built again: the clock-free sources'
    assert expressions.hits > hits  # expressions reused
    other = query.model_copy(update={"by": ["team"]})
    assert pool.run(other) == run_kpi_query(sqlite_store, other)
    assert expressions.misses > misses  # another grouping: built anew
    pool.close()
    assert pool.expressions(backend) is None


def test_a_connection_that_failed_is_not_lent_again(sqlite_store: Engine) -> None:
    pool = KpiBackends(sqlite_store, max_idle=2)
    with pytest.raises(RuntimeError), pool.connection() as backend:
        failed = backend
        raise RuntimeError("the query failed")
    with pool.connection() as backend:
        assert backend is not failed
    pool.close()


def test_one_set_of_connections_per_store_until_closed(sqlite_store: Engine) -> None:
    pool = backends_for(sqlite_store)
    assert backends_for(sqlite_store) is pool
    close_backends(sqlite_store)
    assert backends_for(sqlite_store) is not pool
    close_backends(sqlite_store)


def test_an_in_memory_sqlite_store_is_refused() -> None:
    pool = KpiBackends(create_engine("sqlite://"))
    with pytest.raises(ValueError, match="needs a SQLite file"), pool.connection():
        pass


CENTRE = FIXTURES / "web" / "centre.jsonl"


def _load_centre(engine: Engine) -> None:
    load(engine, CENTRE)  # the web tests' centre: records only (no users needed here)

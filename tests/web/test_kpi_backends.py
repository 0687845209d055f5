"""The app's kept KPI connections: the same documents as `run_kpi_query`, SQL compiled once
per distinct expression, connections reused, and a failed one never lent again."""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import pytest
from sqlalchemy import Engine, create_engine

from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.web.kpi_backends import CompiledSql, KpiBackends, backends_for, close_backends
from tests.web.conftest import load_centre

QUERY = KpiQuery.model_validate({"from": date(2026, 11, 2), "to": date(2026, 11, 9),
                                 "by": ["channel"], "kpis": ["contacts", "frt", "csat"]})


class CountingCompile:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, expr: Any, /, **options: Any) -> str:
        self.calls.append(options)
        return f"SQL #{len(self.calls)}"


def _expression(threshold: int) -> Any:
    table = ibis.table({"a": "int64", "b": "string"}, name="t")
    return table.filter(table.a > threshold).select("b")


def test_an_expression_built_twice_compiles_once() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_)
    assert cached(_expression(1)) == "SQL #1"
    assert cached(_expression(1)) == "SQL #1"  # built anew, equal in structure
    assert cached(_expression(2)) == "SQL #2"  # another literal: another query
    assert (cached.hits, cached.misses, len(compile_.calls)) == (1, 2, 2)


def test_limits_and_parameters_are_never_cached() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_)
    assert cached(_expression(1), limit=10) == "SQL #1"
    assert cached(_expression(1), limit=10) == "SQL #2"
    assert compile_.calls == [{"limit": 10, "params": None, "pretty": False}] * 2
    assert (cached.hits, cached.misses) == (0, 0)


def test_the_oldest_sql_is_forgotten_beyond_the_bound() -> None:
    compile_ = CountingCompile()
    cached = CompiledSql(compile_, max_entries=2)
    for threshold in (1, 2, 3):
        cached(_expression(threshold))
    assert cached(_expression(3)) == "SQL #3"  # kept
    assert cached(_expression(1)) == "SQL #4"  # forgotten: compiled again
    assert len(compile_.calls) == 4


def test_kept_connections_answer_as_run_kpi_query(store: Engine) -> None:
    load_centre(store)
    pool = KpiBackends(store, max_idle=1)
    expected = run_kpi_query(store, QUERY)
    assert pool.run(QUERY) == expected
    with pool.connection() as backend:
        first = backend
        compiled = backend.compile
        assert isinstance(compiled, CompiledSql)
        misses = compiled.misses
    assert pool.run(QUERY) == expected  # again, on the same connection, SQL reused
    with pool.connection() as backend:
        assert backend is first
    assert compiled.misses == misses
    assert compiled.hits >= misses
    pool.close()


def test_a_repeated_query_reuses_the_built_expressions(sqlite_store: Engine) -> None:
    load_centre(sqlite_store)
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

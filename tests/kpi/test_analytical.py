"""Where the engine runs (kpi.analytical): DuckDB reading a PostgreSQL store in place; an
SQLite store on SQLite itself, never attached by DuckDB in the process.

What it must keep: a record imported is counted by the next query, also on a connection kept
open (the web app's); the views are typed as on every engine; text values stay bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from servicepulse.kpi import compiled_sql
from servicepulse.kpi.analytical import analytical_backend, analytical_store, schema_digest
from servicepulse.kpi.bound_sql import bound_executor
from servicepulse.kpi.engine import run_on_backend
from servicepulse.kpi.query import KpiQuery
from tests.kpi.helpers import WEEK, load

WEEK_QUERY = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09",
                                      "kpis": ["contacts", "escalation_rate"]})


def _figures(backend: BaseBackend) -> tuple[int, int]:
    kpis = run_on_backend(backend, WEEK_QUERY)["rows"][0]["kpis"]
    return kpis["contacts"]["value"], kpis["escalation_rate"]["n"]


@pytest.mark.postgres
def test_a_record_imported_is_counted_by_the_next_query(postgres_store: Engine,
                                                         tmp_path: Path) -> None:
    load(postgres_store, WEEK)
    backend = analytical_backend(postgres_store.url)  # kept open across the import
    try:
        contacts, handled = _figures(backend)
        _import_one_more(postgres_store, tmp_path)
        assert _figures(backend) == (contacts + 1, handled + 1)
    finally:
        backend.disconnect()


def test_an_sqlite_store_runs_on_sqlite_and_counts_the_next_record(sqlite_store: Engine,
                                                                   tmp_path: Path) -> None:
    # two SQLite libraries in one process (DuckDB's scanner carries its own) break
    # SQLite's locks: the store is never attached by DuckDB here
    load(sqlite_store, WEEK)
    with analytical_store(sqlite_store) as backend:
        assert backend.name == "sqlite"
        contacts, handled = _figures(backend)
    _import_one_more(sqlite_store, tmp_path)
    with analytical_store(sqlite_store) as backend:
        assert _figures(backend) == (contacts + 1, handled + 1)
    with pytest.raises(ValueError, match="PostgreSQL stores"):
        analytical_backend(sqlite_store.url)


def test_an_sqlite_store_counts_the_next_record_through_kept_statements(
        sqlite_store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # statements kept across processes are SQL, not results: a record imported is counted
    # by the next query that runs them
    monkeypatch.setenv(compiled_sql.CACHE_VARIABLE, str(tmp_path / "kept.sqlite3"))
    load(sqlite_store, WEEK)
    compiled_sql._kept.clear()
    with analytical_store(sqlite_store) as backend:
        assert schema_digest(backend) is not None
        contacts, handled = _figures(backend)
    _import_one_more(sqlite_store, tmp_path)
    compiled_sql._kept.clear()  # as a new process
    with analytical_store(sqlite_store) as backend:
        assert _figures(backend) == (contacts + 1, handled + 1)
    kept = compiled_sql.kept_sql()
    assert kept is not None and (kept.hits, kept.misses) == (1, 0)


def test_an_sqlite_schema_change_changes_the_key(sqlite_store: Engine) -> None:
    with analytical_store(sqlite_store) as backend:
        before = schema_digest(backend)
    with sqlite_store.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE interactions ADD COLUMN extra_note TEXT")
    with analytical_store(sqlite_store) as backend:
        assert schema_digest(backend) not in (None, before)


def _import_one_more(store: Engine, tmp_path: Path) -> None:
    extra = tmp_path / "one.jsonl"
    extra.write_text(
        '{"type": "interaction", "id": "fresh-1", "channel": "chat", '
        '"agent_id": "a1", "created_at": "2026-03-04T10:00:00Z", '
        '"answered_at": "2026-03-04T10:00:30Z", "escalated": true}\n')
    load(store, extra)


@pytest.mark.postgres
def test_the_views_are_typed_as_on_every_engine(postgres_store: Engine) -> None:
    load(postgres_store, WEEK)
    backend = analytical_backend(postgres_store.url)
    try:
        interactions = backend.table("interactions").schema()
        assert interactions["escalated"].is_boolean()
        assert interactions["created_at"].is_float64()
        # JSON columns are text, as in the Parquet export
        assert backend.table("agents").schema()["languages"].is_string()
    finally:
        backend.disconnect()


@pytest.mark.postgres
def test_text_values_are_bound_on_duckdb(postgres_store: Engine) -> None:
    load(postgres_store, WEEK)
    backend = analytical_backend(postgres_store.url)
    try:
        table = backend.table("interactions")
        expression = table.filter(table.channel.isin(["it's", "chat"])).count()
        statement = bound_executor(backend).statement(expression)
        assert "it''s" not in statement.sql and "'chat'" not in statement.sql
        assert sorted(statement.values.values()) == ["chat", "it's"]
        assert backend.execute(expression) == backend.execute(
            table.filter(table.channel == "chat").count())
    finally:
        backend.disconnect()


def test_an_in_memory_store_is_refused() -> None:
    from sqlalchemy import create_engine

    with pytest.raises(ValueError, match="SQLite file"), \
            analytical_store(create_engine("sqlite://")):
        pass


def test_an_sqlite_stores_grouped_queries_run_in_two_lanes(
        sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # interactions and surveys: one statement on the command's connection, the other on a
    # second connection in a thread; the same document as one after the other
    from servicepulse.kpi import analytical, engine

    load(sqlite_store, WEEK)
    query = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09",
                                     "by": ["agent"], "kpis": ["contacts", "fcr", "csat"]})
    aside: list[int] = []
    run_aside = engine._run_aside

    def counted(path: str, statements: list[Any]) -> Any:
        aside.append(len(statements))
        assert path == sqlite_store.url.database
        return run_aside(path, statements)

    monkeypatch.setattr(engine, "_run_aside", counted)
    with analytical_store(sqlite_store) as backend:
        two_lanes = run_on_backend(backend, query)
    assert aside == [1]
    monkeypatch.setattr(engine, "store_file", lambda backend: None)
    with analytical_store(sqlite_store) as backend:
        assert run_on_backend(backend, query) == two_lanes
    assert aside == [1]  # one lane: nothing aside
    assert analytical.store_file(backend) == sqlite_store.url.database

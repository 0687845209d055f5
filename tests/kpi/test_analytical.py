"""The engine's analytical path: DuckDB reading the store in place (kpi.analytical).

What it must keep: a record imported is counted by the next query, also on a connection kept
open (the web app's); the views are typed as on every engine; text values stay bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from servicepulse.kpi.analytical import analytical_backend
from servicepulse.kpi.bound_sql import bound_executor
from servicepulse.kpi.engine import run_on_backend
from servicepulse.kpi.query import KpiQuery
from tests.kpi.helpers import WEEK, load

WEEK_QUERY = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09",
                                      "kpis": ["contacts", "escalation_rate"]})


def _figures(backend: BaseBackend) -> tuple[int, int]:
    kpis = run_on_backend(backend, WEEK_QUERY)["rows"][0]["kpis"]
    return kpis["contacts"]["value"], kpis["escalation_rate"]["n"]


def test_a_record_imported_is_counted_by_the_next_query(store: Engine, tmp_path: Path
                                                         ) -> None:
    load(store, WEEK)
    backend = analytical_backend(store.url)  # kept open across the import, as the web's
    try:
        contacts, handled = _figures(backend)
        extra = tmp_path / "one.jsonl"
        extra.write_text(
            '{"type": "interaction", "id": "fresh-1", "channel": "chat", '
            '"agent_id": "a1", "created_at": "2026-03-04T10:00:00Z", '
            '"answered_at": "2026-03-04T10:00:30Z", "escalated": true}\n')
        load(store, extra)
        assert _figures(backend) == (contacts + 1, handled + 1)
    finally:
        backend.disconnect()


def test_the_views_are_typed_as_on_every_engine(sqlite_store: Engine) -> None:
    # SQLite stores booleans as integers, which DuckDB's scanner reads as BIGINT
    load(sqlite_store, WEEK)
    backend = analytical_backend(sqlite_store.url)
    try:
        schema = backend.table("interactions").schema()
        assert schema["escalated"].is_boolean()
        assert schema["created_at"].is_float64()
    finally:
        backend.disconnect()


def test_text_values_are_bound_on_duckdb(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    backend = analytical_backend(sqlite_store.url)
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
    from sqlalchemy import make_url

    with pytest.raises(ValueError, match="SQLite file"):
        analytical_backend(make_url("sqlite://"))

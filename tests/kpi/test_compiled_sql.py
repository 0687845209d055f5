"""Compiled KPI statements kept across processes (kpi.compiled_sql): a query asked again
runs its kept statements and gives the same document; keys change with the code, filters
and store schema; a damaged cache is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.kpi import compiled_sql
from servicepulse.kpi.bound_sql import BoundStatement
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from tests.kpi.helpers import WEEK, load

BY_AGENT = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09", "by": ["agent"],
                                    "kpis": ["contacts", "aht", "fcr", "csat", "frt"]})


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kept.sqlite3"
    monkeypatch.setenv(compiled_sql.CACHE_VARIABLE, str(path))
    return path


def _fresh() -> compiled_sql.CompiledSql:
    """The store a new process would open (nothing of this process remembered)."""
    compiled_sql._kept.clear()
    kept = compiled_sql.kept_sql()
    assert kept is not None
    return kept


@pytest.mark.postgres
def test_a_query_asked_again_runs_its_kept_statements(postgres_store: Engine,
                                                       cache_file: Path) -> None:
    store = postgres_store  # statements are kept where DuckDB runs them
    load(store, WEEK)
    first = _fresh()
    document = run_kpi_query(store, BY_AGENT)
    # interactions and surveys: each source's grouped query compiled once and kept
    assert (first.hits, first.misses) == (0, 2)
    again = _fresh()
    assert run_kpi_query(store, BY_AGENT) == document
    assert (again.hits, again.misses) == (2, 0)
    # other filters: another statement (the values are part of the key)
    filtered = KpiQuery.model_validate({**BY_AGENT.model_dump(by_alias=True),
                                        "filters": {"agent": ["a1"]}})
    other = _fresh()
    rows = run_kpi_query(store, filtered)["rows"]
    assert (other.hits, other.misses) == (0, 2)
    assert [row["group"]["agent"] for row in rows] == ["a1"]
    assert rows[0]["kpis"] == next(row["kpis"] for row in document["rows"]
                                   if row["group"]["agent"] == "a1")


def test_keys_change_with_the_code_and_the_schema(cache_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _fresh()
    key = kept.key("query", "schema")
    assert kept.key("query", "another schema") != key
    monkeypatch.setattr(compiled_sql, "code_digest", lambda: "another version")
    assert kept.key("query", "schema") != key


@pytest.mark.postgres
def test_a_damaged_cache_is_ignored(postgres_store: Engine, cache_file: Path) -> None:
    load(postgres_store, WEEK)
    expected = run_kpi_query(postgres_store, BY_AGENT)
    cache_file.write_bytes(b"not a database" * 100)
    kept = _fresh()
    assert run_kpi_query(postgres_store, BY_AGENT) == expected
    assert kept.get(kept.key("query", "schema")) is None


def test_statements_round_trip(cache_file: Path) -> None:
    import ibis

    kept = _fresh()
    statement = BoundStatement("SELECT $sp_value_0 AS a", {"sp_value_0": "it's"},
                               ibis.schema({"a": "!string", "n": "array<float64>"}))
    kept.put("k", statement)
    assert _fresh().get("k") == statement


def test_keeping_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compiled_sql.CACHE_VARIABLE, "off")
    assert compiled_sql.kept_sql() is None

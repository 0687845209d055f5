"""Compiled KPI statements kept across processes (kpi.compiled_sql): a query asked again
runs its kept statements and gives the same document; keys change with the code, filters
and store schema; a damaged cache is ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine

from servicepulse.kpi import compiled_sql, sources
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


def test_an_sqlite_store_keeps_its_statements_too(sqlite_store: Engine, cache_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    load(sqlite_store, WEEK)
    monkeypatch.setenv(compiled_sql.CACHE_VARIABLE, "off")
    compiled = run_kpi_query(sqlite_store, BY_AGENT)  # every statement compiled here
    monkeypatch.setenv(compiled_sql.CACHE_VARIABLE, str(cache_file))
    first = _fresh()
    assert run_kpi_query(sqlite_store, BY_AGENT) == compiled
    # interactions and surveys: each source's grouped query, and the interactions' order
    # statistics (the medians of AHT and FRT, ranked by one query), compiled once and kept
    assert (first.hits, first.misses) == (0, 3)
    again = _fresh()
    assert run_kpi_query(sqlite_store, BY_AGENT) == compiled
    assert (again.hits, again.misses) == (3, 0)


def test_a_kept_order_statistics_statement_takes_the_ranks_of_the_data(
        sqlite_store: Engine, cache_file: Path, tmp_path: Path) -> None:
    # the ranks wanted depend on each group's count: kept with stand-ins, replaced by the
    # ranks of the data at every run
    load(sqlite_store, WEEK)
    _fresh()
    before = _frt(sqlite_store)
    extra = tmp_path / "slow.jsonl"
    extra.write_text("".join(json.dumps(
        {"type": "interaction", "id": f"slow-{index}", "channel": "chat", "agent_id": "a1",
         "direction": "inbound", "created_at": "2026-03-04T10:00:00Z",
         "answered_at": "2026-03-04T10:50:00Z"}) + "\n" for index in range(before["n"] + 1)))
    load(sqlite_store, extra)
    kept = _fresh()
    after = _frt(sqlite_store)
    assert (kept.hits, kept.misses) == (2, 0)  # the aggregate and the ranks, kept
    # more than half of a1's first responses now take 3000 s: so does the median
    assert after == {"n": 2 * before["n"] + 1, "median": 3000.0}
    assert before["median"] != 3000.0


FRT_A1 = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09", "kpis": ["frt"],
                                  "filters": {"agent": ["a1"]}})


def _frt(store: Engine) -> dict[str, float]:
    frt = run_kpi_query(store, FRT_A1)["rows"][0]["kpis"]["frt"]
    return {"n": frt["n"], "median": frt["value"]}


ADHERENCE = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-03", "period": "all",
                                     "kpis": ["adherence"]})


def test_a_kept_statement_reading_the_clock_counts_until_the_runs_own_now(
        sqlite_store: Engine, cache_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Shift 09:00-17:00 on 2 March; available 09:00-10:00, then on break with no end (open)
    # and no break planned. The plan and the open state count until now:
    # at 11:00, 1 h of work of 2 h scheduled: 50 %; at 13:00, 1 h of 4 h: 25 %.
    # The statement is compiled at 11:00 and kept; at 13:00 it runs with 13:00 put in.
    path = tmp_path / "open.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in (
        {"type": "agent", "id": "a1", "name": "A", "role": "frontline"},
        {"type": "shift", "id": "sh1", "agent_id": "a1", "start": "2026-03-02T09:00:00Z",
         "end": "2026-03-02T17:00:00Z"},
        {"type": "agent_state", "id": "st1", "agent_id": "a1", "state": "available",
         "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"},
        {"type": "agent_state", "id": "st2", "agent_id": "a1", "state": "break",
         "start": "2026-03-02T10:00:00Z"})))
    load(sqlite_store, path)

    def adherence_at(hour: int) -> float:
        at = datetime(2026, 3, 2, hour, tzinfo=UTC).timestamp()
        monkeypatch.setattr(sources, "time_module", SimpleNamespace(time=lambda: at))
        return run_kpi_query(sqlite_store, ADHERENCE).totals().figure("adherence").value

    first = _fresh()
    assert adherence_at(11) == 50.0
    assert (first.hits, first.misses) == (0, 1)
    again = _fresh()
    assert adherence_at(13) == 25.0
    assert (again.hits, again.misses) == (1, 0)

"""KPI filter values reach the store as bound parameters, never as SQL text.

On SQLite and the real PostgreSQL: values with quotes, backslashes, `%`, an injection
attempt, unicode and a NUL match exactly the records that hold them (or none), and the SQL
handed to the driver never holds them. The SQL is captured at the driver connection (a proxy
around sqlite3's / psycopg's connection): sqlite3's `set_trace_callback` shows the statement
with its parameters already expanded into it, so it cannot tell bound from written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pytest
from ibis.backends import BaseBackend
from sqlalchemy import Engine, func, select

from servicepulse.kpi import engine as kpi_engine
from servicepulse.kpi.analytical import store_backend
from servicepulse.kpi.bound_sql import (
    UnboundValueError,
    bind_string_literals,
    bound_executor,
)
from servicepulse.kpi.engine import run_on_backend
from servicepulse.kpi.query import KpiQuery
from servicepulse.store import tables
from tests.kpi.helpers import WEEK, load

# queue -> contacts in that queue (all of agent o'neil, on 2 March 2026)
QUEUES = {"it's": 2, "back\\slash": 1, "50%": 3, "Zoë 🙂": 1, "plain": 1}
# values that must match nothing: no LIKE wildcard, no unescaping, no case folding
NOTHING = ["%", "50", "it''s", "IT'S", "back\\\\slash", "'; DROP TABLE interactions; --",
           "') OR ('1'='1", "plain' OR '1'='1"]
DAY = {"from": "2026-03-02", "to": "2026-03-03"}


@pytest.fixture
def tricky(store: Engine, tmp_path: Path) -> Engine:
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "t1", "name": "Billing"},
        {"type": "agent", "id": "o'neil", "name": "O'Neil", "role": "frontline",
         "team_id": "t1"}]
    number = 0
    for queue, count in QUEUES.items():
        for _ in range(count):
            number += 1
            records.append({"type": "interaction", "id": f"i{number}", "channel": "chat",
                            "agent_id": "o'neil", "queue": queue,
                            "created_at": f"2026-03-02T10:{number:02d}:00Z"})
    path = tmp_path / "tricky.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    load(store, path)
    return store


class _Cursor:
    """A psycopg cursor that records what it is asked to execute."""

    def __init__(self, cursor: Any, sent: list[tuple[str, Any]]) -> None:
        self._cursor, self._sent = cursor, sent

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> _Cursor:
        self._sent.append((str(query), args[0] if args else kwargs.get("params")))
        self._cursor.execute(query, *args, **kwargs)
        return self

    def __enter__(self) -> _Cursor:
        self._cursor.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cursor.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _Connection:
    """The backend's driver connection, recording every statement and its parameters."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.sent: list[tuple[str, Any]] = []

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((str(query), args[0] if args else kwargs.get("params")))
        return self._connection.execute(query, *args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return _Cursor(self._connection.cursor(*args, **kwargs), self.sent)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


@pytest.fixture
def recorded(tricky: Engine) -> Iterator[tuple[BaseBackend, _Connection]]:
    with store_backend(tricky) as backend:
        connection = _Connection(backend.con)
        backend.con = connection
        try:
            yield backend, connection
        finally:
            backend.con = connection._connection


def _contacts(backend: BaseBackend, **query: Any) -> dict[str, Any]:
    document = run_on_backend(backend, KpiQuery.model_validate(
        {**DAY, "kpis": ["contacts"], **query}))
    assert len(document["rows"]) == 1, document["rows"]
    result: dict[str, Any] = document["rows"][0]["kpis"]["contacts"]
    return result


def _assert_bound(sent: list[tuple[str, Any]], value: str) -> None:
    """`value` is in no statement's text, and is a parameter of at least one.

    In the text: as a SQL string literal would write it, and as it is when it holds a
    character SQL syntax does not (a lone `%` or `50` is in statements anyway: psycopg's
    placeholders, numbers)."""
    assert sent
    literal = "'" + value.replace("'", "''") + "'"
    distinctive = any(c in value for c in "'\\\x00") or not value.isascii()
    written = [sql for sql, _ in sent if literal in sql or (distinctive and value in sql)]
    assert written == [], written[:1]
    bound = [params for _, params in sent
             if isinstance(params, dict) and value in params.values()]
    assert bound, f"{value!r} was never bound"


def test_filter_values_match_exactly_and_are_bound(
        recorded: tuple[BaseBackend, _Connection], tricky: Engine) -> None:
    backend, connection = recorded
    for queue, count in QUEUES.items():
        connection.sent.clear()
        result = _contacts(backend, filters={"queue": [queue]})
        assert (result["value"], result["n"]) == (count, count), queue
        _assert_bound(connection.sent, queue)
    for value in NOTHING:
        connection.sent.clear()
        result = _contacts(backend, filters={"queue": [value]})
        assert (result["value"], result["n"]) == (None, 0), value
        _assert_bound(connection.sent, value)
    # several values in one IN list: 2 + 3 (the injection attempt matches nothing)
    result = _contacts(backend, filters={"queue": ["it's", "50%", NOTHING[5]]})
    assert (result["value"], result["n"]) == (5, 5)
    with tricky.connect() as check:  # the injection attempt dropped nothing
        assert check.execute(select(func.count()).select_from(tables.interactions)
                             ).scalar_one() == 8


def test_an_id_holding_a_quote_groups_and_filters(
        recorded: tuple[BaseBackend, _Connection]) -> None:
    backend, connection = recorded
    document = run_on_backend(backend, KpiQuery.model_validate(
        {**DAY, "kpis": ["contacts"], "by": ["agent"], "filters": {"agent": ["o'neil"]}}))
    assert [(row["group"], row["kpis"]["contacts"]["value"]) for row in document["rows"]] \
        == [({"agent": "o'neil"}, 8)]
    _assert_bound(connection.sent, "o'neil")


def test_a_statement_is_the_same_whatever_the_value(
        recorded: tuple[BaseBackend, _Connection]) -> None:
    backend, connection = recorded
    texts = []
    for value in ("it's", "plain"):
        connection.sent.clear()
        _contacts(backend, filters={"queue": [value]})
        texts.append([sql for sql, _ in connection.sent])
    assert texts[0] == texts[1]


def test_a_nul_character(recorded: tuple[BaseBackend, _Connection]) -> None:
    backend, connection = recorded
    value = "it's\x00"
    if backend.name == "sqlite":  # SQLite binds it and no stored value holds it
        result = _contacts(backend, filters={"queue": [value]})
        assert (result["value"], result["n"]) == (None, 0)
        _assert_bound(connection.sent, value)
        return
    # PostgreSQL text cannot hold a NUL: a clear domain error (a ValueError: the web app's
    # 422), raised before anything is sent
    connection.sent.clear()
    with pytest.raises(UnboundValueError, match=r"NUL character .* remove it") as raised:
        _contacts(backend, filters={"queue": [value]})
    assert isinstance(raised.value, ValueError)
    assert all("\x00" not in sql for sql, _ in connection.sent)


def test_results_are_those_of_ibis_own_execute(store: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Every KPI, by queue and week, with filters (IN lists, quotes, `%` in the SQL's own
    week arithmetic on PostgreSQL): the bound executor's document is Ibis' own."""
    load(store, WEEK)
    query = KpiQuery.model_validate({"by": ["channel"], "period": "week",
                                     "filters": {"queue": ["(none)", "it's"],
                                                 "channel": ["phone", "chat", "email"]}})
    with store_backend(store) as backend:
        bound = run_on_backend(backend, query)
        executor = bound_executor(backend)
        assert executor.misses > 0
        own: Callable[[BaseBackend], Any] = lambda b: (  # noqa: E731
            lambda expression: type(b).execute(b, expression))
        monkeypatch.setattr(kpi_engine, "_executor", own)
        inline = run_on_backend(backend, query)
    assert bound == inline
    assert {row["group"]["channel"] for row in bound["rows"]} == {"phone", "chat", "email"}


def test_compiled_statements_are_kept_per_expression(tricky: Engine) -> None:
    with store_backend(tricky) as backend:
        executor = bound_executor(backend)
        assert bound_executor(backend) is executor and backend.execute is executor
        interactions = backend.table("interactions")

        def count(queue: str) -> int:
            return int(executor(interactions.filter(interactions.queue == queue).count()))

        assert (count("50%"), count("50%"), count("it's")) == (3, 3, 2)
        assert (executor.misses, executor.hits) == (2, 1)


def test_which_string_literals_are_bound() -> None:
    """Values (IN lists, comparisons, COALESCE defaults, select-list constants) are bound;
    a function's format argument, which the SQL generator reads, is not."""
    table = ibis.table({"queue": "string", "at": "timestamp"}, name="t")
    expression = table.filter(table.queue.isin(["a'b", "50%"]) & (table.queue != "x")).select(
        queue=table.queue.fill_null("(none)"), label=ibis.literal("k"),
        day=table.at.strftime("%Y-%m-%d"))
    backend = ibis.sqlite.connect()
    query, values = bind_string_literals(backend.compiler.to_sqlglot(expression), "v")
    assert sorted(values.values()) == ["(none)", "50%", "a'b", "k", "x"]
    sql = query.sql(dialect=backend.dialect)
    assert "'%Y-%m-%d'" in sql
    for value in values.values():
        assert f"'{value}'" not in sql
    assert sorted(values) == [f"v_{i}" for i in range(5)]

"""The importer's few hot statements, run on the DBAPI driver directly.

SQLAlchemy compiles an expanding `IN (...)` and converts every parameter dict on each call;
at tens of thousands of records a second that costs more than the database work. These
statements are plain, fully parameterised SQL built once per table: an id lookup with ONE
parameter, the ids as a JSON array (SQLite `json_each`, PostgreSQL `json_array_elements_text`),
executemany with tuples, and on PostgreSQL COPY for inserts.

Why JSON on PostgreSQL too rather than `= ANY(array)`: psycopg builds an array parameter in
Python (about 2 us an id, more than the lookup), orjson takes 15 ns; and the planner turns the
set-returning function (estimated at 100 rows) into index probes, where a 5,000-element
`= ANY` filter over a table of 100,000 rows becomes a sequential scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    String,
    Table,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql.elements import ColumnElement


class Driver:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        dialect = connection.dialect
        self.sqlite = dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.quote = dialect.identifier_preparer.quote

    def _ids_clause(self, column: str) -> str:
        if self.sqlite:
            return f"{self.quote(column)} IN (SELECT value FROM json_each({self.mark}))"
        return f"{self.quote(column)} IN (SELECT json_array_elements_text({self.mark}::json))"

    @staticmethod
    def _ids_param(ids: Sequence[str]) -> str:
        return orjson.dumps(list(ids)).decode()

    def select_where_in(self, table: Table, columns: Sequence[str], key: str,
                        ids: Sequence[str]) -> list[tuple[Any, ...]]:
        sql = (f"SELECT {', '.join(self.quote(c) for c in columns)} "
               f"FROM {self.quote(table.name)} WHERE {self._ids_clause(key)}")
        cursor = self.connection.exec_driver_sql(sql, (self._ids_param(ids),))
        return [tuple(row) for row in cursor]

    def delete_where_in(self, table: Table, key: str, ids: Sequence[str],
                        equal: tuple[str, Any] | None = None) -> None:
        """Delete the rows whose `key` is one of `ids` (and, if given, whose column
        `equal[0]` is `equal[1]`): one statement whatever the number of ids."""
        where = self._ids_clause(key)
        params: tuple[Any, ...] = (self._ids_param(ids),)
        if equal is not None:
            where = f"{self.quote(equal[0])} = {self.mark} AND {where}"
            params = (equal[1], *params)
        self.connection.exec_driver_sql(
            f"DELETE FROM {self.quote(table.name)} WHERE {where}", params)

    def insert(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        columns = _columns(table)
        json_columns = _json_columns(table)
        if not self.sqlite:
            self._copy(table, columns, [_values(row, columns, json_columns) for row in rows])
            return
        sql = (f"INSERT INTO {self.quote(table.name)} "
               f"({', '.join(self.quote(c) for c in columns)}) "
               f"VALUES ({', '.join([self.mark] * len(columns))})")
        self.connection.exec_driver_sql(sql, [_values(row, columns, json_columns) for row in rows])

    def _copy(self, table: Table, columns: Sequence[str], values: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: COPY is several times faster than a multi-row INSERT, in the same
        transaction (the DBAPI connection SQLAlchemy holds)."""
        driver_connection: Any = self.connection.connection.driver_connection
        statement = (f"COPY {self.quote(table.name)} "
                     f"({', '.join(self.quote(c) for c in columns)}) FROM STDIN")
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in values:
                copy.write_row(row)

    def update(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Update the columns the rows hold, by id (every row holds the same columns)."""
        columns = [c for c in rows[0] if c != "id"]
        json_columns = _json_columns(table)
        sql = (f"UPDATE {self.quote(table.name)} SET "
               f"{', '.join(f'{self.quote(c)} = {self.mark}' for c in columns)} "
               f"WHERE {self.quote('id')} = {self.mark}")
        self.connection.exec_driver_sql(
            sql, [_values(row, [*columns, "id"], json_columns) for row in rows])


@cache
def _columns(table: Table) -> list[str]:
    return [column.name for column in table.columns if column.autoincrement is not True]


@cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, JSON))


def in_ids(column: ColumnElement[Any], ids: Sequence[str],
           dialect_name: str) -> ColumnElement[bool]:
    """`column IN ids` for SQLAlchemy Core statements, as ONE bound parameter (a JSON array,
    as in `Driver`): an expanding `IN (...)` is compiled anew for every call (about 10 us an
    id, more than the query)."""
    values = bindparam(None, orjson.dumps(list(ids)).decode(), type_=String)
    if dialect_name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(values)))
    return column.in_(select(func.json_array_elements_text(cast(values, JSON))))


def _values(row: dict[str, Any], columns: Sequence[str],
            json_columns: frozenset[str]) -> tuple[Any, ...]:
    if not json_columns:
        return tuple(map(row.get, columns))
    return tuple([
        orjson.dumps(row.get(c)).decode() if c in json_columns and row.get(c) is not None
        else row.get(c)
        for c in columns
    ])

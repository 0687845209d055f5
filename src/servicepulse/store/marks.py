"""Durable, versioned marks of derived data that is due for a rebuild.

Derived data that is too slow to compute inside an import batch (the KPI rollup of a day,
the sentiment of a text) is not computed there: the batch writes a *mark* in its own
transaction, and a later step (the after-import work of the same or any other import, the
server's background worker, `servicepulse verify --repair`) rebuilds what is marked and then
clears the mark. A kill at any point therefore leaves the mark, and the next run finishes
the work; nothing lives only in a process's memory.

Marks carry a version that every writer bumps (an upsert, never "insert if missing"). A
rebuild notes the versions it read, and clears a mark only if its version is still the one
read (`clear`): a batch that changed the same day or text while the rebuild computed has
bumped it, so the mark stays and the next rebuild sees the change. With two writers at
once this is what keeps a mark from being cleared by a rebuild that never saw the change.
PostgreSQL's row locks make the bump and the clear wait for each other; SQLite has one
writer at a time (`write_transaction`).

A version never comes back for the same key, even after its mark was cleared: a new mark
starts at the current time in microseconds, and a bump takes the larger of version + 1 and
that time. Otherwise a rebuild that read version 1, while another rebuild cleared the mark
and a batch set it again at 1, would take the new mark for the one it read (and write over
the batch's change with what it computed before it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

Key = tuple[str, ...]


def _key_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [column for column in table.primary_key.columns]


def bump(connection: Connection, table: sa.Table, keys: Iterable[Key]) -> None:
    """Mark these keys (a tuple per primary key of `table`) as due, bumping their version.

    One statement with the keys as one parameter (a batch marks thousands: an executemany of
    the upsert cost as much as the batch's own writes on PostgreSQL), inserting in sorted
    order, so two writers lock the same rows in the same order (no deadlock)."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    now = time.time_ns() // 1000  # a new mark's version (see the module docstring)
    names = [column.name for column in _key_columns(table)]
    # names from the table's own metadata, never from input: only the keys are values
    columns = ", ".join(names)
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:k{i} AS text[])" for i in range(len(names)))
        statement = sa.text(
            f"INSERT INTO {table.name} ({columns}, version) "
            f"SELECT {columns}, :now FROM unnest({arrays}) AS k({columns}) ORDER BY {columns} "
            f"ON CONFLICT ({columns}) DO UPDATE "
            f"SET version = GREATEST({table.name}.version + 1, EXCLUDED.version)")
        connection.execute(statement, {"now": now, **{f"k{i}": [key[i] for key in ordered]
                                                      for i in range(len(names))}})
        return
    picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names)))
    statement = sa.text(
        f"INSERT INTO {table.name} ({columns}, version) "
        f"SELECT {picks}, :now FROM json_each(:keys) WHERE true "
        f"ON CONFLICT ({columns}) DO UPDATE SET version = max(version + 1, excluded.version)")
    connection.execute(statement, {"keys": json.dumps(ordered), "now": now})


def read(connection: Connection, table: sa.Table) -> dict[Key, int]:
    """Every mark of `table` with its version."""
    keys = _key_columns(table)
    return {tuple(str(value) for value in row[:-1]): int(row[-1])
            for row in connection.execute(sa.select(*keys, table.c.version))}


def clear(connection: Connection, table: sa.Table, marks: Mapping[Key, int]) -> int:
    """Clear the marks whose version is still the one given (a rebuild saw every change they
    stand for); the number cleared. One statement, the marks as one parameter (see bump)."""
    if not marks:
        return 0
    names = [column.name for column in _key_columns(table)]
    ordered = sorted(marks.items())
    if connection.dialect.name == "postgresql":
        arrays = ", ".join([*(f"CAST(:k{i} AS text[])" for i in range(len(names))),
                            "CAST(:versions AS bigint[])"])
        matches = " AND ".join(f"{table.name}.{name} = m.k{i}" for i, name in enumerate(names))
        statement = sa.text(
            f"DELETE FROM {table.name} USING unnest({arrays}) "
            f"AS m({', '.join(f'k{i}' for i in range(len(names)))}, version) "
            f"WHERE {matches} AND {table.name}.version = m.version")
        result = connection.execute(statement, {
            **{f"k{i}": [key[i] for key, _ in ordered] for i in range(len(names))},
            "versions": [version for _, version in ordered]})
    else:
        picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names) + 1))
        statement = sa.text(
            f"DELETE FROM {table.name} WHERE ({', '.join(names)}, version) IN "
            f"(SELECT {picks} FROM json_each(:marks))")
        result = connection.execute(statement, {
            "marks": json.dumps([[*key, version] for key, version in ordered])})
    return max(result.rowcount or 0, 0)


def unchanged(connection: Connection, table: sa.Table, marks: Mapping[Key, int]) -> set[Key]:
    """The marks still at the version given (none cleared, none bumped since)."""
    now = read(connection, table)
    return {key for key, version in marks.items() if now.get(key) == version}

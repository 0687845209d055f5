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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

Key = tuple[str, ...]


def _key_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [column for column in table.primary_key.columns]


def bump(connection: Connection, table: sa.Table, keys: Iterable[Key]) -> None:
    """Mark these keys (a tuple per primary key of `table`) as due, bumping their version.

    In sorted order, so two writers lock the same rows in the same order (no deadlock)."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    names = [column.name for column in _key_columns(table)]
    insert: Any
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=names, set_={"version": table.c.version + 1})
    connection.execute(statement, [{**dict(zip(names, key, strict=True)), "version": 1}
                                   for key in ordered])


def read(connection: Connection, table: sa.Table) -> dict[Key, int]:
    """Every mark of `table` with its version."""
    keys = _key_columns(table)
    return {tuple(str(value) for value in row[:-1]): int(row[-1])
            for row in connection.execute(sa.select(*keys, table.c.version))}


def clear(connection: Connection, table: sa.Table, marks: Mapping[Key, int]) -> int:
    """Clear the marks whose version is still the one given (a rebuild saw every change they
    stand for); the number cleared."""
    if not marks:
        return 0
    keys = _key_columns(table)
    statement = table.delete().where(
        *(column == sa.bindparam(f"k_{column.name}") for column in keys),
        table.c.version == sa.bindparam("v_version"))
    cleared = 0
    rows = [{**{f"k_{column.name}": value for column, value in zip(keys, key, strict=True)},
             "v_version": version} for key, version in sorted(marks.items())]
    for start in range(0, len(rows), 10_000):
        result = connection.execute(statement, rows[start:start + 10_000])
        cleared += max(result.rowcount or 0, 0)
    return cleared


def unchanged(connection: Connection, table: sa.Table, marks: Mapping[Key, int]) -> set[Key]:
    """The marks still at the version given (none cleared, none bumped since)."""
    now = read(connection, table)
    return {key for key, version in marks.items() if now.get(key) == version}

"""A store that lives for a whole test module, on SQLite or on the real PostgreSQL server,
for tests that only read it (or whose writes do not matter to each other): building a store
and hashing its users' passwords once per module instead of once per test.

PostgreSQL as in tests/conftest.py's `postgres_store`: a database of its own (a copy of a
migrated template, tests/fresh_stores.py), dropped afterwards; a missing server fails the
tests, never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine

from servicepulse.store.database import open_store
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fresh_stores import (
    create_postgres_database,
    drop_postgres_database,
    fresh_sqlite_store,
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def module_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = fresh_sqlite_store(tmp_path_factory.mktemp("module") / "store.db")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    engine = open_store(create_postgres_database(POSTGRES_ADMIN_URL))
    try:
        yield engine
    finally:
        engine.dispose()
        drop_postgres_database(POSTGRES_ADMIN_URL, engine.url.database or "")

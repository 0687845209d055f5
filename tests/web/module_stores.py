"""A store that lives for a whole test module, on SQLite or on the real PostgreSQL server,
for tests that only read it (or whose writes do not matter to each other): building a store
and hashing its users' passwords once per module instead of once per test.

PostgreSQL as in tests/conftest.py's `postgres_store`: a database of its own, dropped
afterwards; a missing server fails the tests, never skips them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text

from servicepulse.store.database import open_store
from tests.conftest import POSTGRES_ADMIN_URL

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def module_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if backend == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('module') / 'store.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sp_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_store(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

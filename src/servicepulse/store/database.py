"""Opening the store: the embedded SQLite file by default, PostgreSQL by URL; migrations.

`open_store(url)` returns a SQLAlchemy engine on a store whose schema is at the newest Alembic
revision (it migrates when needed), so every command can just call it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

DEFAULT_URL = "sqlite:///servicepulse.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(url: str | None = None) -> str:
    """The URL to use: the one given, else SERVICEPULSE_DATABASE_URL, else ./servicepulse.db."""
    return url or os.environ.get("SERVICEPULSE_DATABASE_URL") or DEFAULT_URL


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (the dashboard) never block the importer; NORMAL is crash-safe under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint (copy the WAL into the database file, with an fsync) once the WAL holds
    # 10,000 pages (40 MB), not SQLite's 1,000: an API batch of 5,000 interactions writes
    # about 2,000 pages, so every commit checkpointed. Less often, index pages several
    # batches touched are copied once: at 1M interactions a batch's commit took 55 ms of
    # wall time on average instead of 77 (CPU the same).
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def create_store_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use "
        "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


# Advisory locks of PostgreSQL, by what they serialise: the import batches (two imports at
# once must not both insert a record new to each), and the rebuilds of derived data (two
# rebuilds of one day would both delete, then both insert its rows).
LOCKS = {name: zlib.crc32(f"servicepulse.{name}".encode()) for name in ("import", "derived")}


@contextmanager
def write_transaction(engine: Engine, lock: str | None = None) -> Iterator[Connection]:
    """A transaction that reads, then writes what it read into the store.

    SQLite: BEGIN IMMEDIATE, the store's one write lock from the first statement, so what
    the transaction read is still current when it writes, and a second writer waits for it
    (busy_timeout) instead of failing when its snapshot turns out stale. PostgreSQL: the
    advisory lock named by `lock` (see LOCKS), held to the commit; READ COMMITTED statements
    after it see whatever the previous holder committed."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif lock is not None:
            lock_for(connection, lock)
        yield connection


def lock_for(connection: Connection, lock: str) -> None:
    """Take the named advisory lock until the transaction ends (PostgreSQL; SQLite's writer
    already holds the store's only write lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCKS[lock]})


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@cache
def _head_revisions() -> frozenset[str]:
    # Each area of the product (KPI rollups, users, alerts, ...) keeps its own migration
    # branch off the initial schema, so the store is at "heads", not one head.
    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    return frozenset(script.get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest revisions; True when anything was applied."""
    if current_revisions(engine) == _head_revisions():
        return False
    command.upgrade(_alembic_config(engine), "heads")
    return True


def open_store(url: str | None = None) -> Engine:
    """An engine on a migrated store (creating the SQLite file if it is new)."""
    engine = create_store_engine(url)
    migrate(engine)
    return engine

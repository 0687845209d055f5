"""Opening the store: the embedded SQLite file by default, PostgreSQL by URL; migrations.

`open_store(url)` returns a SQLAlchemy engine on a store whose schema is at the newest Alembic
revision (it migrates when needed), so every command can just call it. Alembic loads only when
a migration is to run: a store already at the newest revisions is recognised by reading its
version table and the migration files' revision ids, without it (a command starts 0.15 s
sooner, issue 16).
"""

from __future__ import annotations

import ast
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from servicepulse.errors import InvalidRequest

if TYPE_CHECKING:
    from alembic.config import Config

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
    try:
        parsed = make_url(url)
    except ArgumentError:  # SQLAlchemy's own error for a string that is no URL
        raise InvalidRequest(
            f"{url!r} is not a database URL: use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise InvalidRequest(
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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


VERSION_TABLE = "alembic_version"  # Alembic's default; env.py does not change it
_REVISION_FIELDS = ("revision", "down_revision", "depends_on")


def _revision_ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@cache
def _newest_revisions() -> frozenset[str]:
    """What the version table of a store at the newest revisions holds: every revision no other
    one builds on (`down_revision`) or needs (`depends_on`). Each area of the product (KPI
    rollups, users, alerts, ...) keeps its own migration branch off the initial schema, so
    there are several. Read from the migration files as Alembic writes them
    (tests/store/test_migration_heads.py checks the answer against a store Alembic migrated)."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in _REVISION_FIELDS:
                names[target.id] = ast.literal_eval(value)
        revisions.update(_revision_ids(names.get("revision")))
        built_on.update(_revision_ids(names.get("down_revision")))
        built_on.update(_revision_ids(names.get("depends_on")))
    return frozenset(revisions - built_on)


def current_revisions(engine: Engine) -> frozenset[str]:
    """The revisions the store is at (what Alembic's version table holds; none when new)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return frozenset()
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return frozenset(row[0] for row in rows)


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest revisions; True when anything was applied."""
    if current_revisions(engine) == _newest_revisions():
        return False
    from alembic import command

    command.upgrade(_alembic_config(engine), "heads")
    return True


def open_store(url: str | None = None) -> Engine:
    """An engine on a migrated store (creating the SQLite file if it is new)."""
    engine = create_store_engine(url)
    migrate(engine)
    return engine

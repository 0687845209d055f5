"""Fresh, migrated stores for tests, cheaply: a copy of a store migrated once per test process.

Running the Alembic migrations costs about 0.2 s on SQLite and 0.4-1 s on PostgreSQL, and
dropping a PostgreSQL database another 0.3-1.5 s (the server syncs the removed files); the
suite makes hundreds of stores. So each test process migrates one template per backend and
hands out copies (a file copy; `CREATE DATABASE ... TEMPLATE`), and PostgreSQL databases are
dropped by a background thread while the next test runs. A copy is the same store a fresh
migration makes (same schema, same revision rows); `open_store` on it finds nothing to apply.

PostgreSQL as in tests/conftest.py: the real server, never skipped when missing.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from servicepulse.store.database import open_store

_lock = threading.Lock()
_sqlite_template: Path | None = None
_postgres_template: str | None = None
_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-database")
_drops: list[Future[None]] = []
_template_admin: list[str] = []  # the server the PostgreSQL template is on
# stores loaded once per process by `loaded_sqlite_store` / `create_loaded_postgres_database`
_loaded_sqlite: dict[str, Path] = {}
_loaded_postgres: dict[str, str] = {}


def _admin(admin_url: str) -> Engine:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def fresh_sqlite_store(path: Path) -> Engine:
    """A migrated SQLite store at `path` (a new file; `open_store` would make the same)."""
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            template = Path(tempfile.mkdtemp(prefix="sp-test-template-")) / "store.db"
            engine = open_store(f"sqlite:///{template}")
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            _sqlite_template = template
    shutil.copyfile(_sqlite_template, path)
    return open_store(f"sqlite:///{path}")


def loaded_sqlite_store(path: Path, name: str, load: Callable[[Engine], object]) -> Engine:
    """A store at `path` holding what `load` puts into a fresh store: loaded once per test
    process under `name` (an import costs seconds: the rollups are computed), then copied."""
    with _lock:
        template = _loaded_sqlite.get(name)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="sp-test-loaded-")) / "store.db"
        engine = fresh_sqlite_store(template)
        load(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        with _lock:
            _loaded_sqlite[name] = template
    shutil.copyfile(template, path)
    return open_store(f"sqlite:///{path}")


def create_loaded_postgres_database(admin_url: str, name: str,
                                    load: Callable[[Engine], object]) -> str:
    """As `loaded_sqlite_store` on the server of `admin_url`: a new database copied from one
    loaded once per process; its URL (drop it with `drop_postgres_database`)."""
    with _lock:
        template = _loaded_postgres.get(name)
    if template is None:
        url = create_postgres_database(admin_url, prefix="sp_template")
        engine = open_store(url)
        load(engine)
        engine.dispose()  # a template must have no connection
        template = _database(url)
        with _lock:
            _loaded_postgres[name] = template
    admin = _admin(admin_url)
    try:
        copy = f"sp_test_{uuid.uuid4().hex[:12]}"
        with _lock, admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"'))
        return _url(admin, copy)
    finally:
        admin.dispose()


def create_postgres_database(admin_url: str, prefix: str = "sp_test") -> str:
    """A new migrated database on the server of `admin_url`; its URL (drop it with
    `drop_postgres_database`)."""
    global _postgres_template
    admin = _admin(admin_url)
    try:
        with _lock:
            if _postgres_template is None:
                template = f"sp_template_{uuid.uuid4().hex[:12]}"
                with admin.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{template}"'))
                # migrated, and no connection left open: a template must have none
                open_store(_url(admin, template)).dispose()
                _postgres_template = template
                _template_admin.append(admin_url)
            name = f"{prefix}_{uuid.uuid4().hex[:12]}"
            with admin.connect() as connection:
                connection.execute(
                    text(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"'))
        return _url(admin, name)
    finally:
        admin.dispose()


def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop the database `name` in the background (its engines must be disposed of)."""
    _drops.append(_dropper.submit(_drop_now, admin_url, name))


def finish() -> None:
    """At the end of the test session: every database given to `drop_postgres_database` is
    gone (errors are raised here), and the templates too."""
    global _sqlite_template, _postgres_template
    while _drops:
        _drops.pop(0).result()
    with _lock:
        if _postgres_template is not None:
            admin_url = _template_admin.pop()
            for loaded in [_postgres_template, *_loaded_postgres.values()]:
                _drop_now(admin_url, loaded)
            _postgres_template = None
            _loaded_postgres.clear()
        for path in [*([_sqlite_template] if _sqlite_template else []),
                     *_loaded_sqlite.values()]:
            shutil.rmtree(path.parent, ignore_errors=True)
        _sqlite_template = None
        _loaded_sqlite.clear()


def _drop_now(admin_url: str, name: str) -> None:
    admin = _admin(admin_url)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database or ""


def _url(admin: Engine, database: str) -> str:
    return admin.url.set(database=database).render_as_string(hide_password=False)

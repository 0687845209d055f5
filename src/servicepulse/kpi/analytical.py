"""Where the KPI engine runs: DuckDB reading a PostgreSQL store in place; SQLite itself.

The store is a row store: right for importing records one by one, slow for what a team
lead's views ask, which are grouped aggregates, medians and windows over every contact of a
month. For a **PostgreSQL** store the engine opens an in-process DuckDB, attaches the store
read-only through DuckDB's `postgres` scanner (from the `duckdb-ext-postgres` wheel: nothing
downloads at run time) and runs the KPI definitions there, vectorised. The scanner reads the
store at every query, so a record imported is counted by the next query, and there is no
second copy that a killed import or a concurrent writer could leave behind (docs/kpis.md,
"Engines"). Each query reads the store's committed state.

An **SQLite** store runs on SQLite itself (`store_backend`), never attached by DuckDB in the
same process: DuckDB's scanner carries its own copy of the SQLite library, and two copies in
one process break SQLite's locking. POSIX file locks belong to the process, so each copy
takes the other's locks for its own; the one that opens the store second believes it is the
only user and resets the WAL's shared-memory file, which the other has mapped: the process
dies of SIGBUS. This was reproduced here with a writer, a reader and DuckDB's scanner in
three threads, and seen in the web app (which reads and writes the store in one process).
Its connection carries what the engine asks of an analytical one (`describe_sqlite`): a
digest of its schema, which lets its statements be kept across processes
(`kpi.compiled_sql`), and its time bounds in one statement.

The PostgreSQL store's tables appear as views of the same names in DuckDB's default schema,
typed as the engine expects them on every backend (the Parquet export's types): JSON columns
are text, as in the export.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy
from ibis.backends import BaseBackend

from servicepulse.errors import Unavailable

STORE_CATALOG = "store"  # the attached store's name inside DuckDB
# `store`: run a PostgreSQL store's KPI queries on PostgreSQL itself instead (the benchmarks'
# baseline; a way round a platform without the scanner wheel). Default `duckdb`.
ENGINE_VARIABLE = "SERVICEPULSE_KPI_ENGINE"


def extension_directory() -> Path:
    """Where the scanner extensions' wheels put them (DuckDB's own layout under it)."""
    spec = importlib.util.find_spec("duckdb_ext")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        directory = Path(location) / "extensions"
        if directory.is_dir():
            return directory
    raise Unavailable("DuckDB's postgres scanner extension is not installed (the package "
                      "duckdb-ext-postgres): run `make install`")


def analytical_backend(url: sqlalchemy.URL, threads: int | None = None) -> BaseBackend:
    """An in-process DuckDB (through Ibis) with the PostgreSQL store behind `url` attached
    read-only and its tables as views; every query on it binds its text values
    (`kpi.bound_sql`)."""
    import ibis

    from servicepulse.kpi.bound_sql import bound_executor

    kind = url.get_backend_name()
    if kind != "postgresql":
        raise ValueError(f"DuckDB reads PostgreSQL stores, not {kind!r} ones (an SQLite store "
                         "runs on SQLite itself: store_backend)")
    config: dict[str, Any] = {"extension_directory": str(extension_directory()),
                              "autoinstall_known_extensions": False,
                              "autoload_known_extensions": False}
    if threads:
        config["threads"] = threads
    backend = ibis.duckdb.connect(**config)
    con: Any = backend.con
    try:
        con.execute("LOAD postgres")
        con.execute(f"ATTACH {_quoted(_libpq(url))} AS {STORE_CATALOG} "
                    "(TYPE postgres, READ_ONLY)")
        columns = _attached_columns(con)
        _views_on_demand(backend, columns)
        setattr(backend, _SCHEMA, hashlib.sha256(
            json.dumps(sorted(columns.items())).encode()).hexdigest())
        setattr(backend, _BOUNDS, partial(_postgres_bounds, con))
    except Exception:
        backend.disconnect()
        raise
    bound_executor(backend)
    return backend


@contextmanager
def store_backend(engine: sqlalchemy.Engine) -> Iterator[BaseBackend]:
    """An Ibis connection to the store's own database (SQLite file or PostgreSQL), whose
    `execute` binds every text value as a parameter (`servicepulse.kpi.bound_sql`)."""
    import ibis

    from servicepulse.kpi.bound_sql import bound_executor

    url = engine.url
    backend: BaseBackend
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the KPI engine needs a SQLite file, not an in-memory database")
        backend = ibis.sqlite.connect(url.database)
        describe_sqlite(backend)
    elif url.get_backend_name() == "postgresql":
        backend = ibis.postgres.connect(
            host=url.host or "localhost", port=url.port or 5432, user=url.username,
            password=url.password, database=url.database)
    else:
        raise ValueError(f"no KPI backend for {url.get_backend_name()!r} databases")
    bound_executor(backend)
    try:
        yield backend
    finally:
        backend.disconnect()


# Connections kept between queries of one process: a scorecard or a leaderboard asks the
# engine several times, and opening DuckDB with the scanner costs more than a small query.
MAX_STORES = 4  # stores with kept connections (a test run opens hundreds; few at once)
MAX_IDLE = 2  # idle connections kept per store
_idle: OrderedDict[tuple[Any, ...], list[BaseBackend]] = OrderedDict()
_idle_lock = threading.Lock()


@contextmanager
def analytical_store(engine: sqlalchemy.Engine) -> Iterator[BaseBackend]:
    """Where the KPI queries on the store behind `engine` run, for one use: an SQLite store's
    own connection (never DuckDB in this process: see the module docstring); for PostgreSQL
    an `analytical_backend`, a kept one when the process has one idle (it reads the store
    as fresh as a new one: the scanner reads the store at every query), else a new one.
    Closed on error."""
    if (engine.url.get_backend_name() == "sqlite"
            or os.environ.get(ENGINE_VARIABLE, "duckdb") == "store"):
        with store_backend(engine) as native:
            yield native
        return
    key = (engine.url.render_as_string(hide_password=False),)
    with _idle_lock:
        kept = _idle.get(key)
        backend = kept.pop() if kept else None
    if backend is None:
        backend = analytical_backend(engine.url)
    try:
        yield backend
    except BaseException:
        backend.disconnect()
        raise
    _give_back(key, backend)


def _give_back(key: tuple[Any, ...], backend: BaseBackend) -> None:
    closing_now: list[BaseBackend] = []
    with _idle_lock:
        kept = _idle.setdefault(key, [])
        _idle.move_to_end(key)
        if len(kept) < MAX_IDLE:
            kept.append(backend)
        else:
            closing_now.append(backend)
        while len(_idle) > MAX_STORES:
            closing_now += _idle.popitem(last=False)[1]
    for surplus in closing_now:
        surplus.disconnect()


_inherited: list[BaseBackend] = []


def _forget_in_child() -> None:
    # A forked child must neither use its parent's DuckDB connections nor close them:
    # DuckDB's threads did not follow into the child, and closing waits on them. They are
    # kept referenced (never collected) and forgotten.
    global _idle_lock
    _inherited.extend(backend for backends in _idle.values() for backend in backends)
    _idle.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


_BOUNDS = "_servicepulse_time_bounds"
_SCHEMA = "_servicepulse_schema_digest"
_COLUMNS = "_servicepulse_store_columns"
_FILE = "_servicepulse_store_file"
# What marks a backend as the store's own tables: a view that changes what a table holds (the
# drivers' topics as queues) hides these, so that statements kept for the store's tables are
# never run on it and its columns are read afresh.
STORE_MARKS = frozenset({_SCHEMA, _COLUMNS})


def schema_digest(backend: BaseBackend) -> str | None:
    """A digest of the store's tables and columns as the views show them (part of a kept
    statement's key: `kpi.compiled_sql`); None when `backend` is not an analytical one."""
    digest: str | None = getattr(backend, _SCHEMA, None)
    return digest


def time_bounds(backend: BaseBackend, columns: tuple[tuple[str, str], ...]
                ) -> list[tuple[float | None, float | None]] | None:
    """The lowest and highest value of each (table, column), asked of the store itself
    (its indexes answer at once; a scan would read every row); None when `backend` is not
    an analytical one (the caller asks it)."""
    bounds = getattr(backend, _BOUNDS, None)
    if bounds is None:
        return None
    result: list[tuple[float | None, float | None]] = bounds(columns)
    return result


def _bounds_sql(columns: tuple[tuple[str, str], ...]) -> str:
    # one statement; each min or max alone in its subquery, which an index answers
    parts = [f"(SELECT {function}({_name(column)}) FROM {_name(table)})"
             for table, column in columns for function in ("min", "max")]
    return "SELECT " + ", ".join(f"{part} AS b{index}" for index, part in enumerate(parts))


def _pairs(row: tuple[Any, ...]) -> list[tuple[float | None, float | None]]:
    values = [None if value is None else float(value) for value in row]
    return list(zip(values[::2], values[1::2], strict=True))


def _postgres_bounds(con: Any, columns: tuple[tuple[str, str], ...]
                     ) -> list[tuple[float | None, float | None]]:
    # run by PostgreSQL itself (the scanner's pass-through), not scanned by DuckDB
    row = con.execute(f"SELECT * FROM postgres_query('{STORE_CATALOG}', ?)",
                      [_bounds_sql(columns)]).fetchone()
    return _pairs(row)


def describe_sqlite(backend: Any) -> None:
    """Give an SQLite store's connection what the engine asks of an analytical one: the
    digest of its schema (so its grouped queries' statements are kept across processes:
    `kpi.compiled_sql`) and its time bounds in one statement (each min or max alone in its
    subquery, which the column's index answers)."""
    con: Any = backend.con  # Ibis' SQLite backend: its sqlite3 connection
    # the tables' own CREATE text: one read of the catalogue
    rows = con.execute("SELECT type, name, sql FROM sqlite_master "
                       "WHERE type IN ('table', 'view') ORDER BY name").fetchall()
    setattr(backend, _SCHEMA, hashlib.sha256(
        json.dumps(["sqlite", rows]).encode()).hexdigest())
    setattr(backend, _BOUNDS, partial(_sqlite_bounds, con))
    # the file itself (a second connection's: kpi.engine runs two queries at once)
    files = [row[2] for row in con.execute("PRAGMA database_list") if row[1] == "main"]
    setattr(backend, _FILE, files[0] if files and files[0] else None)


def store_file(backend: BaseBackend) -> str | None:
    """The SQLite store's file behind `backend` (None: not an SQLite store's connection
    made by `store_backend`)."""
    path: str | None = getattr(backend, _FILE, None)
    return path


def _sqlite_bounds(con: Any, columns: tuple[tuple[str, str], ...]
                   ) -> list[tuple[float | None, float | None]]:
    return _pairs(con.execute(_bounds_sql(columns)).fetchone())


def ensure_views(backend: BaseBackend, sql: str) -> None:
    """Create the views of the store's tables that `sql` names (a statement kept from an
    earlier process runs without `table()` having been asked for them)."""
    columns: dict[str, Any] = getattr(backend, _COLUMNS, {})
    for name in columns:
        if _name(name) in sql:
            backend.table(name)


def _views_on_demand(backend: Any, columns: dict[str, list[tuple[str, str]]]) -> None:
    """Make `backend.table(name)` find the store's table as a view, created at its first
    use: binding a view reads the table's schema from the store, so a command pays only
    for the tables it reads (a KPI query reads a few of the store's forty)."""
    setattr(backend, _COLUMNS, columns)
    created: dict[str, Any] = {}  # name -> its Ibis table (its schema read once)
    table_of = backend.table

    def table(name: str, /, *, database: Any = None) -> Any:
        if database is not None or name not in columns:
            return table_of(name, database=database)
        if name not in created:
            backend.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {_name(name)} AS SELECT "
                + ", ".join(_select(column, declared) for column, declared in columns[name])
                + f" FROM {STORE_CATALOG}.{_name(name)}")
            created[name] = table_of(name)
        return created[name]

    backend.table = table


def _select(column: str, declared: str) -> str:
    """A view's column, typed as on every engine (see the module docstring)."""
    name = _name(column)
    if declared == "JSON":
        return f"CAST({name} AS VARCHAR) AS {name}"
    return name


def _attached_columns(con: Any) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "SELECT table_name, column_name, upper(data_type) FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = 'public' "
        "ORDER BY table_name, ordinal_position", [STORE_CATALOG]).fetchall()
    return _by_table(rows)


def _by_table(rows: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, declared in rows:
        tables.setdefault(table, []).append((column, declared))
    return tables


def _libpq(url: sqlalchemy.URL) -> str:
    """The store's PostgreSQL URL as a libpq connection string (what the scanner takes)."""
    parts = {"host": url.host or "localhost", "port": url.port or 5432,
             "user": url.username, "password": url.password, "dbname": url.database}
    return " ".join(f"{key}={_libpq_value(str(value))}" for key, value in parts.items()
                    if value is not None)


def _libpq_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _quoted(text: str) -> str:
    """A SQL string literal (ATTACH takes no parameters; the path is the operator's own)."""
    return "'" + text.replace("'", "''") + "'"


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'

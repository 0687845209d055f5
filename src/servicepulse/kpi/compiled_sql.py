"""Compiled KPI queries kept across processes, so a command asked again skips Ibis.

Building a query's Ibis expressions and compiling them to SQL costs a command more than
DuckDB spends running them (a scorecard: about half its time), and on SQLite about 1.6 s of
a team scorecard's 8. The statement a query shape compiles to depends only on what it is
built from: the definitions and the code (the package's version and the KPI modules' text,
Ibis', sqlglot's and DuckDB's versions), the store's kind and schema, the settings, the
periods, KPIs, grouping and filters. So the engine keys each grouped query by those, keeps
its bound statement (SQL text with placeholders, the values bound to them, the result's
schema) in a small SQLite file, and on the next command runs the statement without
building or compiling anything: on DuckDB (a PostgreSQL store) and on an SQLite store.

A kept statement is SQL, never a result: it reads the store when it runs, so a record
imported is counted by the next query. The order-statistics query (medians, p90s) wants the
ranks of each group's count, which depend on the data: it is kept with two stand-in ranks
whose IN list the ranks of the run replace (`engine.Runner._at_ranks`).

Only sources marked `reusable` are kept: those built from the clock (open agent states run
until now) are built anew every time. A kept statement is never wrong for a changed code:
the code's digest is part of every key. The file is a cache: unreadable or damaged, it is
ignored (the query compiles as before), never an error; it holds SQL and the filter values
of the queries asked (agent ids, teams), in the user's cache directory.

Where: `SERVICEPULSE_SQL_CACHE` (a file path, or `off`), else
`$XDG_CACHE_HOME/servicepulse/compiled-sql.sqlite3` (`~/.cache/...`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

from servicepulse.kpi.bound_sql import BoundStatement

CACHE_VARIABLE = "SERVICEPULSE_SQL_CACHE"
MAX_KEPT = 2_000  # statements; the oldest go first
_log = logging.getLogger(__name__)


def cache_path() -> Path | None:
    """The file statements are kept in; None when keeping is off."""
    configured = os.environ.get(CACHE_VARIABLE, "")
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "servicepulse" / "compiled-sql.sqlite3"


@cache
def code_digest() -> str:
    """What a compiled statement depends on besides its query: this package's KPI code and
    the versions of the compiler and the database."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("servicepulse", "ibis-framework", "sqlglot", "duckdb"):
        digest.update(f"{package}={version(package)};".encode())
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()


class CompiledSql:
    """Bound statements by key in one SQLite file (safe for several processes: each
    statement is written once and never changed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hits = 0
        self.misses = 0
        self._broken = False
        self._lock = threading.Lock()

    def key(self, query_key: str, schema_digest: str) -> str:
        return hashlib.sha256(
            f"{code_digest()}\0{schema_digest}\0{query_key}".encode()).hexdigest()

    def get(self, key: str) -> BoundStatement | None:
        row = self._run(lambda con: con.execute(
            "SELECT sql, bound, schema FROM kept WHERE key = ?", (key,)).fetchone())
        if row is None:
            self.misses += 1
            return None
        import ibis

        sql, bound, schema = row
        self.hits += 1
        return BoundStatement(sql, json.loads(bound), ibis.schema(
            {name: ibis.dtype(dtype) for name, dtype in json.loads(schema).items()}))

    def put(self, key: str, statement: BoundStatement) -> None:
        schema = json.dumps({name: str(dtype) for name, dtype in statement.schema.items()})

        def write(con: sqlite3.Connection) -> None:
            with con:
                con.execute("INSERT OR IGNORE INTO kept VALUES (?, ?, ?, ?, ?)",
                            (key, statement.sql, json.dumps(statement.values), schema,
                             time.time()))
                con.execute("DELETE FROM kept WHERE key IN (SELECT key FROM kept "
                            "ORDER BY kept_at DESC LIMIT -1 OFFSET ?)", (MAX_KEPT,))

        self._run(write)

    def _run(self, work: Any) -> Any:
        if self._broken:
            return None
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(sqlite3.connect(self.path, timeout=5)) as con:
                    con.execute("CREATE TABLE IF NOT EXISTS kept (key TEXT PRIMARY KEY, "
                                "sql TEXT NOT NULL, bound TEXT NOT NULL, schema TEXT NOT NULL, "
                                "kept_at REAL NOT NULL)")
                    return work(con)
            except (OSError, sqlite3.Error, ValueError) as error:
                # a cache: the query compiles as before
                self._broken = True
                _log.warning("compiled-SQL cache %s not used: %s", self.path, error)
                return None


_kept: dict[Path, CompiledSql] = {}
_kept_lock = threading.Lock()


def kept_sql() -> CompiledSql | None:
    """The process's store of compiled statements (None when keeping is off)."""
    path = cache_path()
    if path is None:
        return None
    with _kept_lock:
        if path not in _kept:
            _kept[path] = CompiledSql(path)
        return _kept[path]

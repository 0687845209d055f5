"""What contact drivers keep on disk for the next process, and when a kept result may be read.

Fitting topics costs seconds and the KPIs per topic cost the KPI engine's imports (Ibis,
pandas: about a second and a half of a new process) and its queries (seconds on the demo's
SQLite store), while `servicepulse drivers`, the page and the API ask again and again for the
same range of a store that has not changed. Two things are kept, in the cache directory
(`servicepulse.insights.embeddings.cache_directory`), each file written whole and renamed
(a reader never sees half a file), the oldest removed beyond a number of files:

- the topic model of a set of texts (`topic-models/`, by `insights.drivers.fitted_topics`):
  valid whatever else changes in the store, since it is keyed by the texts themselves;
- the whole drivers result (`drivers-results/`): valid only while nothing in the store has
  changed, so it is keyed by the store's state (`store_stamp`) as well as by the query, the
  KPI settings and the code that computes it (`code_digest`).

The store's state, without asking the database (a query would need the connection and
SQLAlchemy's work that reading a kept result is meant to save): for an SQLite store, its
files. Every committed write changes the database file or appends to its write-ahead log
(the store runs in WAL mode): the log grows, or, once checkpointed, restarts with a new
header (new salts), or the database file itself changes (size, modification time). So the
stamp is the files' identity, sizes and modification times and the log's 32-byte header.
Modification times are only as fine as the kernel's clock tick (milliseconds), and a commit
writes its log frames an instant before readers see it: a stamp is therefore trusted only
when nothing was written for QUIET_S seconds before it is taken; any later write gets a
newer modification time. A PostgreSQL store (or an SQLite database in memory) has no such
files: its results are computed every time (the web service's own result cache, keyed by
its change notifications, still serves repeated requests).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

QUIET_S = 2.0  # a store written to less than this long ago is not stamped
RESULTS_KEPT = 64  # result files kept on disk (one per store, range and settings)


def store_stamp(engine: Any) -> str | None:
    """A digest of the store's state that any committed write changes (see the module
    docstring); None when the store cannot be stamped (not an SQLite file, written to in the
    last QUIET_S seconds, a rollback journal present: a write in progress)."""
    url = engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    path = Path(database).resolve()
    try:
        main = path.stat()
    except OSError:
        return None
    if Path(f"{path}-journal").exists():
        return None
    parts: list[Any] = [str(path), main.st_dev, main.st_ino, main.st_size, main.st_mtime_ns]
    newest = main.st_mtime
    try:
        with open(f"{path}-wal", "rb") as log:
            header = log.read(32)
            written = os.fstat(log.fileno())
        if written.st_size:  # an empty log (after a checkpoint) holds nothing
            parts += [written.st_ino, written.st_size, written.st_mtime_ns, header.hex()]
            newest = max(newest, written.st_mtime)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    if time.time() - newest < QUIET_S:
        return None
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the code a drivers result comes from: the KPI engine, the insights and
    the store's tables (a change to any of them computes results again)."""
    from servicepulse import insights, kpi, store

    digest = hashlib.sha256()
    for package in (kpi, insights):
        for path in sorted(Path(next(iter(package.__path__))).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update(Path(next(iter(store.__path__)), "tables.py").read_bytes())
    return digest.hexdigest()


def kept_path(folder: str, key: str, suffix: str) -> Path:
    """The file of a kept item: `folder` of the cache directory, named by `key`'s digest."""
    from servicepulse.insights.embeddings import cache_directory

    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cache_directory() / folder / f"{name}{suffix}"


def keep(path: Path, write: Callable[[IO[bytes]], object], kept: int) -> None:
    """Write `path` whole through `write` and rename it into place; the oldest files of its
    folder beyond `kept` go. No writable cache directory: nothing is kept (the caller
    computes again next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                write(file)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        files = sorted(path.parent.glob(f"*{path.suffix}"),
                       key=lambda item: item.stat().st_mtime)
        for old in files[:-kept]:
            old.unlink(missing_ok=True)
    except OSError:
        pass

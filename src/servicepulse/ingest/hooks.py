"""Work that must follow every import batch, inside the batch's transaction.

This module only holds the lists; it knows none of the areas above ingest. The composition
root (`servicepulse.composition.compose`, called by the app factory and the command line's
start) names the hooks, in the order they must run, by `install(...)`: business-hours
durations, shift activities, KPI rollup marks, sentiment marks, alert checks after each batch;
the rollups and the sentiment scores after the whole import. The installer runs once, the
first time an import needs the hooks, so a command that imports nothing loads none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:  # SQLAlchemy loads when an import runs, not when the hooks are named
    from sqlalchemy import Connection, Engine

    from servicepulse.config import Settings


@dataclass
class Touched:
    """What one batch changed."""

    kinds: dict[str, set[str]] = field(default_factory=dict)  # kind -> ids inserted/updated
    interaction_ids: set[str] = field(default_factory=set)  # effective interactions changed
    days: set[date] = field(default_factory=set)  # UTC days whose data changed
    # Hints from the importer for the hooks of this batch only, to spare them a lookup (not
    # merged: a hook given merged or hand-made Touched looks the rows up). The interactions
    # this batch inserted (no earlier hook has run on them: business-hours durations null),
    # and the resolved_at stored for each interaction it wrote.
    inserted_interactions: set[str] = field(default_factory=set)
    resolved_at: dict[str, float | None] = field(default_factory=dict)

    def ids(self, kind: str) -> set[str]:
        return self.kinds.get(kind, set())

    def __bool__(self) -> bool:
        return bool(self.interaction_ids) or any(self.kinds.values())

    def merge(self, other: Touched) -> None:
        for kind, ids in other.kinds.items():
            self.kinds.setdefault(kind, set()).update(ids)
        self.interaction_ids.update(other.interaction_ids)
        self.days.update(other.days)

    def absorb(self, later: Touched) -> None:
        """Merge, hints included, what a later part of the same transaction changed (the
        chunks of a pipelined batch; no hook has run in between). An interaction the later
        part re-derived without saying its resolved_at is looked up again."""
        self.merge(later)
        self.inserted_interactions.update(later.inserted_interactions)
        for key in later.interaction_ids.difference(later.resolved_at):
            self.resolved_at.pop(key, None)
        self.resolved_at.update(later.resolved_at)


AfterBatch: TypeAlias = "Callable[[Connection, Touched], None]"
AFTER_BATCH: list[AfterBatch] = []
# Slow derived data (text scoring: ~1 ms a text) runs once after the whole import, over
# everything the import touched, so it never holds up the batches.
AFTER_IMPORT: list[AfterBatch] = []
# An after-import hook may be done in two steps: the slow, read-only part on its own
# connection (`prepare(engine, touched)`), then the writes in a short transaction
# (`write(connection)`), which leaves marked whatever an import changed in between (the
# marks are versioned: servicepulse.store.marks). With SQLite's one write lock, imports then
# wait for the writes only, not for the whole computation.
Write: TypeAlias = "Callable[[Connection], None]"
Prepare: TypeAlias = "Callable[[Engine, Touched], Write]"
PREPARED_AFTER_IMPORT: dict[AfterBatch, Prepare] = {}

# The settings the hooks read (a rollup's time zone and repeat window, the configured alert
# rules): the composition root hands over how to get the ones its program loaded (the command
# line loads them on first use, the app has them from its start). The hooks run inside an
# import's transaction, with no other way to be given them; nothing here reads a file.
SettingsProvider = Callable[[], "Settings"]
_settings_provider: SettingsProvider | None = None


def configure(provider: SettingsProvider | None) -> None:
    """How the hooks get the program's settings (the composition root calls it); None
    forgets it (the tests, between two programs they start in one process)."""
    global _settings_provider
    _settings_provider = provider


def settings() -> Settings:
    """The program's settings, for a hook; the documented defaults (with the SERVICEPULSE_*
    variables) when the program gave none."""
    if _settings_provider is not None:
        return _settings_provider()
    from servicepulse.config import Settings

    return Settings()


Installer = Callable[[], None]  # registers the hooks (register, register_after_import)
_installers: list[Installer] = []
_loaded = False
_loading = threading.Lock()  # two threads' first imports: the lists are filled once, whole


def install(installer: Installer) -> None:
    """Name the function that registers the hooks (the composition root does, once; naming
    the same function again changes nothing). It runs at the first `load_hooks()`."""
    global _loaded
    with _loading:
        if installer not in _installers:
            _installers.append(installer)
            _loaded = False  # a later installer still runs (registering is idempotent)


def register(hook: AfterBatch) -> AfterBatch:
    if hook not in AFTER_BATCH:
        AFTER_BATCH.append(hook)
    return hook


def register_after_import(hook: AfterBatch, prepare: Prepare | None = None) -> AfterBatch:
    """`hook` runs in one transaction after a whole import; `prepare`, if given, is the same
    work in two steps for the background worker (see PREPARED_AFTER_IMPORT)."""
    if hook not in AFTER_IMPORT:
        AFTER_IMPORT.append(hook)
    if prepare is not None:
        PREPARED_AFTER_IMPORT[hook] = prepare
    return hook


def run_after_import(engine: Engine, touched: Touched | None = None,
                     writing: Callable[[], AbstractContextManager[Any]] = nullcontext) -> None:
    """The after-import work, each hook on its own: its slow part (`prepare`) on a read
    connection, then its writes in a short write transaction holding the derived-data lock.
    The hooks work from their durable marks (so this finishes what a killed or concurrent
    import left), `touched` being only what this process knows it changed. `writing`: held
    around each write transaction (the background worker's turn at SQLite's one writer)."""
    from servicepulse.store.database import write_transaction

    load_hooks()
    touched = touched if touched is not None else Touched()
    for hook in AFTER_IMPORT:
        prepare = PREPARED_AFTER_IMPORT.get(hook)
        write: Write | None = prepare(engine, touched) if prepare is not None else None
        with writing(), write_transaction(engine, "derived") as connection:
            if write is not None:
                write(connection)
            else:
                hook(connection, touched)


def load_hooks() -> list[AfterBatch]:
    """The after-batch hooks, once the installers named by the composition root have run."""
    global _loaded
    if _loaded:
        return AFTER_BATCH
    with _loading:
        if not _loaded:
            if not _installers:
                # a program that imports without composing is a bug: never an import
                # without its derived data (the message names the file, not the module:
                # ingest names nothing above it)
                raise RuntimeError("no import hooks installed: the program's start must call "
                                   "compose() of servicepulse/composition.py")
            for installer in _installers:
                installer()
            _loaded = True
    return AFTER_BATCH


"""Work that must follow every import batch, inside the batch's transaction.

Areas register a callable `(connection, touched)` in AFTER_BATCH from their own module
(business-hours durations, KPI rollups, sentiment scores, alert checks). The importer loads
the modules named in HOOK_MODULES once, so registering needs no edit here beyond the name.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine

from servicepulse.store.database import write_transaction


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


AfterBatch = Callable[[Connection, Touched], None]
AFTER_BATCH: list[AfterBatch] = []
# Slow derived data (text scoring: ~1 ms a text) runs once after the whole import, over
# everything the import touched, so it never holds up the batches.
AFTER_IMPORT: list[AfterBatch] = []
# An after-import hook may be done in two steps: the slow, read-only part on its own
# connection (`prepare(engine, touched)`), then the writes in a short transaction
# (`write(connection)`), which leaves marked whatever an import changed in between (the
# marks are versioned: servicepulse.store.marks). With SQLite's one write lock, imports then
# wait for the writes only, not for the whole computation.
Write = Callable[[Connection], None]
Prepare = Callable[[Engine, Touched], Write]
PREPARED_AFTER_IMPORT: dict[AfterBatch, Prepare] = {}

# Modules that register hooks when imported, in the order they must run (business-hours
# durations before the rollups that read them).
HOOK_MODULES = (
    "servicepulse.kpi.business_hours",
    "servicepulse.kpi.schedule",
    "servicepulse.kpi.rollup",
    "servicepulse.insights.sentiment",
    "servicepulse.scorecards.alerts",
)
_loaded = False


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
    global _loaded
    if not _loaded:
        for name in HOOK_MODULES:
            parent = name.rsplit(".", 1)[0]
            if importlib.util.find_spec(parent) is not None and importlib.util.find_spec(name):
                importlib.import_module(name)
        _loaded = True
    return AFTER_BATCH

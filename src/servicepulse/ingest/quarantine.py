"""The quarantine: rows that failed validation, kept with their file, line, field and reason.

One service for everything done to it — listing, paging, retrying after a fix, dropping — so
the command line (`servicepulse quarantine …`) and the API (`/api/v1/quarantine`, the
quarantine page) read and change it the same way, not through copies of the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from servicepulse.errors import InvalidRequest
from servicepulse.ingest.importer import Importer
from servicepulse.ingest.sources import SourceRow
from servicepulse.store.tables import quarantine

# what a page of the quarantine shows (its raw text included: the reader decides what to fix)
PAGE_COLUMNS = ("id", "source", "line", "kind", "record_id", "field", "reason", "raw",
                "quarantined_at")


def count(engine: Engine) -> int:
    """How many rows the quarantine holds."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(quarantine)).scalar_one())


def rows(engine: Engine, ids: Sequence[int] | None = None, source: str | None = None,
         limit: int | None = None) -> list[dict[str, Any]]:
    """Every column of the quarantined rows, oldest first; only `ids`, only the rows of the
    file `source` and only the first `limit` when given."""
    statement = select(quarantine).order_by(quarantine.c.id).limit(limit)
    if ids:
        statement = statement.where(quarantine.c.id.in_(list(ids)))
    if source:
        statement = statement.where(quarantine.c.source == source)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(statement)]


def page(engine: Engine, number: int, size: int) -> tuple[int, list[dict[str, Any]]]:
    """The total and page `number` (from 1) of `size` rows, newest first."""
    c = quarantine.c
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(quarantine)).scalar_one()
        found = connection.execute(
            select(*(c[name] for name in PAGE_COLUMNS))
            .order_by(c.id.desc()).limit(size).offset((number - 1) * size)).all()
    return int(total), [dict(row._mapping) for row in found]


@dataclass(frozen=True)
class RetryResult:
    """What a retry did: `selected` rows looked at, `retried` of them canonical records that
    were validated again, `passed` of those imported (and out of the quarantine)."""

    selected: int
    retried: int
    passed: int

    @property
    def still(self) -> int:
        """Rows still quarantined (failed again, or not a canonical record)."""
        return self.selected - self.passed

    @property
    def not_canonical(self) -> int:
        """Rows holding a connector's source text (a Zendesk ticket, …): they are fixed by
        importing the source export again with its format, not by a retry."""
        return self.selected - self.retried


def _canonical(row: dict[str, Any]) -> SourceRow | None:
    raw: str = row["raw"]
    try:
        data = orjson.loads(raw) if raw.lstrip().startswith("{") else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and ("type" in data or row["default_kind"]):
        return SourceRow(row["source"], row["line"], data, raw, None, row["default_kind"])
    return None


def retry(engine: Engine, ids: Sequence[int] | None = None,
          source: str | None = None) -> RetryResult:
    """Validate quarantined rows again (after a fix to the configuration or the software):
    the ones that pass are imported and leave the quarantine; the others keep their entry with
    the fresh field and reason."""
    selected = rows(engine, ids, source)
    retried = [(row["id"], found) for row in selected if (found := _canonical(row)) is not None]
    q = quarantine
    importer = Importer(engine)
    passed = 0
    for quarantine_id, source_row in retried:
        # rollups and text scores once at the end, not once per retried row
        summary = importer.import_rows([source_row], after_import=False)
        with engine.begin() as connection:
            if not summary.quarantined:
                passed += 1
                connection.execute(q.delete().where(q.c.id == quarantine_id))
            else:
                # the fresh failure was deduplicated against the old entry: refresh its reason
                error = summary.rejected[0][1]
                connection.execute(q.update().where(q.c.id == quarantine_id).values(
                    field=error.field, reason=error.reason))
    importer.run_after_import()
    return RetryResult(selected=len(selected), retried=len(retried), passed=passed)


def drop(engine: Engine, ids: Sequence[int] | None = None, source: str | None = None,
         everything: bool = False) -> int:
    """Delete the rows named by `ids` and/or `source` (every row with `everything`); returns how
    many went. Naming nothing is refused: a drop is never implied."""
    if not (ids or source or everything):
        raise InvalidRequest("name quarantine ids, a source file or every row to drop")
    statement = quarantine.delete()
    if ids:
        statement = statement.where(quarantine.c.id.in_(list(ids)))
    if source:
        statement = statement.where(quarantine.c.source == source)
    with engine.begin() as connection:
        return int(connection.execute(statement).rowcount)

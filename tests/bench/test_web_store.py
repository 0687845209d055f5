"""The web bench's reused store: the contacts earlier runs posted are taken out first."""

from __future__ import annotations

from sqlalchemy import Engine, select

from servicepulse.bench.web import _remove_earlier_runs
from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.kpi.tables import kpi_rollup_dirty
from servicepulse.store.tables import interactions


def test_the_records_earlier_runs_posted_are_removed_and_their_days_marked(
        sqlite_store: Engine) -> None:
    records = [
        {"type": "interaction", "id": "int-0000001", "channel": "chat",
         "created_at": "2026-03-02T10:00:00Z"},
        {"type": "interaction", "id": "api-1a2b3c-0-7", "channel": "email",
         "created_at": "2026-03-04T10:00:00Z", "resolved_at": "2026-03-05T10:00:00Z"},
        {"type": "interaction", "id": "direct-1a2b3c-1-0", "channel": "email",
         "created_at": "2026-03-04T11:00:00Z"},
        {"type": "interaction", "id": "live-0f0f", "channel": "chat",
         "created_at": "2026-03-06T09:00:00Z"},
    ]
    import_rows(sqlite_store, [SourceRow("t", n, r, "") for n, r in enumerate(records)])
    with sqlite_store.begin() as connection:
        connection.execute(kpi_rollup_dirty.delete())
    _remove_earlier_runs(sqlite_store, "sqlite")
    with sqlite_store.connect() as connection:
        assert list(connection.execute(select(interactions.c.id)).scalars()) == ["int-0000001"]
        assert sorted(connection.execute(select(kpi_rollup_dirty.c.day)).scalars()) == [
            "2026-03-04", "2026-03-05", "2026-03-06"]
    _remove_earlier_runs(sqlite_store, "sqlite")  # nothing left to remove: no error

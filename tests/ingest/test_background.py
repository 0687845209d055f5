"""API-sized imports answer at once; the background worker brings the rollup up to date."""

from __future__ import annotations

from sqlalchemy import Engine

from servicepulse.ingest.background import after_import_worker
from servicepulse.ingest.importer import import_rows_deferred
from servicepulse.ingest.readers import read_paths
from servicepulse.kpi.rollup import dirty_days
from tests.conftest import FIXTURES

CENTRE = FIXTURES / "ingest" / "contact_centre.jsonl"


def test_deferred_import_leaves_stale_days_until_the_worker_has_run(
        sqlite_store: Engine) -> None:
    summary = import_rows_deferred(sqlite_store, read_paths([CENTRE]))
    assert summary.as_json()["inserted"]["interaction"] == 2
    with sqlite_store.connect() as connection:
        # the worker waits COALESCE_SECONDS for other requests before it starts
        assert dirty_days(connection)
    worker = after_import_worker(sqlite_store)
    assert worker.wait_idle(timeout=120)
    with sqlite_store.connect() as connection:
        assert dirty_days(connection) == set()  # the worker rebuilt them
    assert after_import_worker(sqlite_store) is worker  # one worker per engine

"""A KPI's drill-down lists what the KPI counted: no deleted or spam contact (docs/kpis.md),
while the plain interactions list still shows them (they are kept as records). The
wallboard's queues and today's contacts leave them out too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.store.database import open_store
from servicepulse.web.access import Access
from servicepulse.web.app import create_app
from servicepulse.web.runners import RunContext, WallboardRunner
from servicepulse.web.users import create_token, create_user
from tests.kpi.helpers import KPI_FIXTURES, load

WINDOW = {"from": "2026-03-02", "to": "2026-03-09"}


@pytest.fixture
def client_and_token(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    # i1 a contact; i2 "Spam", i3 "DELETED" (tests/kpi/test_deleted_and_spam.py)
    load(engine, KPI_FIXTURES / "deleted_and_spam.jsonl")
    create_user(engine, "admin", "correct horse battery", "admin")
    header = {"Authorization": f"Bearer {create_token(engine, 'admin', 'admin')}"}
    with TestClient(create_app(engine, serve_stale=False, prewarm=False)) as client:
        yield client, header
    engine.dispose()


def test_drilldowns_leave_out_deleted_and_spam(
        client_and_token: tuple[TestClient, dict[str, str]]) -> None:
    client, header = client_and_token

    def listed(**params: str) -> tuple[int, list[str]]:
        page = client.get("/api/v1/interactions", params={**WINDOW, **params}, headers=header)
        assert page.status_code == 200, page.text
        body = page.json()
        return body["total"], sorted(row["id"] for row in body["rows"])

    contacts = client.get("/api/v1/kpi", params={**WINDOW, "kpi": "contacts"},
                          headers=header).json()["rows"][0]["kpis"]["contacts"]["value"]
    assert contacts == 1
    assert listed(kpi="contacts") == (1, ["i1"])
    assert listed(kpi="frt") == (1, ["i1"])
    assert listed(kpi="csat") == (1, ["i1"])  # s2 is the spam contact's survey
    assert listed(kpi="ttr") == (0, [])  # i3, resolved, is deleted
    assert listed() == (3, ["i1", "i2", "i3"])  # the records are all there


def test_the_wallboard_counts_no_deleted_or_spam_contact(sqlite_store: Engine) -> None:
    now = time.time()
    created = now - 15  # all at one instant: one day, whenever the test runs
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    records = [
        {"type": "interaction", "id": "w1", "channel": "chat", "created_at": at},
        {"type": "interaction", "id": "w2", "channel": "chat", "created_at": at,
         "status": "spam"},
        {"type": "interaction", "id": "w3", "channel": "email", "created_at": at,
         "status": "Deleted"},
        {"type": "interaction", "id": "w4", "channel": "email", "created_at": at,
         "status": "open"},
    ]
    summary = import_rows(sqlite_store, [SourceRow("t", i, r, "")
                                         for i, r in enumerate(records)])
    assert summary.quarantined == 0, summary.rejected
    context = RunContext(engine=sqlite_store, kpi=lambda _e, _r: {"rows": []}, access=Access())
    counts = WallboardRunner(context, day=datetime.fromtimestamp(created, UTC).date()
                             ).run_counts()
    # waiting: w1 (chat) and w4 (email); today's contacts: the same two
    assert {q["channel"]: q["waiting"] for q in counts["queues"]} == {"chat": 1, "email": 1}
    assert counts["contacts_today"] == 2

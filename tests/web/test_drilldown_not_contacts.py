"""A KPI's drill-down lists what the KPI counted: no deleted or spam contact (docs/kpis.md),
while the plain interactions list still shows them (they are kept as records)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from servicepulse.store.database import open_store
from servicepulse.web.app import create_app
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

"""GET /api/v1/quarantine and the quarantine page read the quarantine through its service
(`servicepulse.ingest.quarantine`): newest first, paged, the time in ISO 8601 UTC."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import Tokens

BAD = [{"type": "interaction", "id": f"bad-{n}", "channel": "pigeon",
        "created_at": "2026-11-07T10:00:00Z"} for n in range(3)]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_the_quarantine_list_is_paged_newest_first(client: TestClient, tokens: Tokens) -> None:
    manager = tokens.header("manager")
    posted = client.post("/api/v1/records", json=BAD, headers=manager)
    assert posted.json()["rejected"] == 3
    first = client.get("/api/v1/quarantine?page=1&page_size=2", headers=manager).json()
    second = client.get("/api/v1/quarantine?page=2&page_size=2", headers=manager).json()
    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    rows = first["rows"] + second["rows"]
    assert [(row["record_id"], row["line"]) for row in rows] == [
        ("bad-2", 2), ("bad-1", 1), ("bad-0", 0)]  # API: line = index
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    assert {row["source"] for row in rows} == {"api"}
    assert {row["field"] for row in rows} == {"channel"}
    assert all(ISO_UTC.match(row["quarantined_at"]) for row in rows), rows
    csv = client.get("/api/v1/quarantine?format=csv&page_size=5", headers=manager)
    assert csv.text.splitlines()[0] == (
        "id,source,line,kind,record_id,field,reason,raw,quarantined_at")
    assert len(csv.text.splitlines()) == 4
    page = client.get("/quarantine", headers={**manager, "accept": "text/html"})
    assert page.status_code == 200 and page.text.count("bad-") >= 3

"""`partial` in /api/v1/kpi (JSON and CSV), on the web fixture (tests/fixtures/web/centre.jsonl).

The fixture's records run from 2 November 2026 09:00 to 6 November 2026 12:00 (UTC): the data
covers 3, 4 and 5 November whole; 2 and 6 November only from the first or up to the last
record. By day from 1 to 8 November: 1, 2, 6 and 7 November are partial. By week from 2 to 9
November (Monday to Monday), the one week is partial (it holds 2 and 6 November). `all` over
3 to 6 November is whole. Nothing else of the document changes: the same fields as before.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from tests.web.conftest import Tokens


def test_kpi_api_marks_partial_periods(engine_client: TestClient, tokens: Tokens) -> None:
    def get(**params: str) -> dict[str, Any]:
        response = engine_client.get("/api/v1/kpi", params={"kpi": "contacts", **params},
                                     headers=tokens.header("manager"))
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    days = get(period="day", **{"from": "2026-11-01", "to": "2026-11-08"})
    rows = days["rows"]
    assert {row["group"]["period"]: row["partial"] for row in rows} == {
        "2026-11-01": True, "2026-11-02": True, "2026-11-03": False, "2026-11-04": False,
        "2026-11-05": False, "2026-11-06": True, "2026-11-07": True}
    assert all(set(row) == {"group", "kpis", "partial"} for row in rows)
    week = get(period="week", **{"from": "2026-11-02", "to": "2026-11-09"})
    assert [(row["group"]["period"], row["partial"]) for row in week["rows"]] == [
        ("2026-11-02", True)]
    whole = get(**{"from": "2026-11-03", "to": "2026-11-06"})
    assert [row["partial"] for row in whole["rows"]] == [False]
    response = engine_client.get(
        "/api/v1/kpi", params={"kpi": "contacts", "period": "day", "from": "2026-11-02",
                               "to": "2026-11-05", "format": "csv"},
        headers=tokens.header("manager"))
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["period"], row["partial"]) for row in table] == [
        ("2026-11-02", "True"), ("2026-11-03", "False"), ("2026-11-04", "False")]

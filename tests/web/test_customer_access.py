"""Who sees which customer, on every route that shows customers, for every role and token
scope, on a small store built by hand (SQLite and PostgreSQL); and 403 for agent and team
filters outside the caller's scope.

The store (teams t-a with agents a1 and a2, t-b with b1):

| customer | contacts | seen by |
|---|---|---|
| c1 | i1: a1 | a1, lead of t-a, managers |
| c2 | i2: a2 | lead of t-a, managers |
| c3 | i3: b1, routed to team t-a | b1, lead of t-a (the team), managers |
| c4 | i4: b1 | b1, managers |
| c5 | i5: no agent, team t-a | lead of t-a, managers |
| c6 | none | managers |
| c7 | i7: no agent, no team | managers |

A customer outside the scope answers 404 with the text of a customer that does not exist;
lists leave it out.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.web.conftest import fake_kpi
from tests.web.module_stores import BACKENDS, module_store

PASSWORD = "correct horse battery"
ALL = ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]
# who -> the customers they may see, worked out from the table in the module docstring
VISIBLE: dict[str, list[str]] = {
    "admin": ALL,
    "manager": ALL,
    "lead": ["c1", "c2", "c3", "c5"],
    "ann": ["c1"],
    "cat": ["c3", "c4"],
    "nolead": [],  # the lead of team t-c, which has no agents and no contacts
    "noagent": [],  # agent a9, who served nobody
}
# the customers with contacts in the health window (c6 has none): what /customer-health lists
ACTIVE = ["c1", "c2", "c3", "c4", "c5", "c7"]


def _records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "t-a", "name": "Team A"},
        {"type": "team", "id": "t-b", "name": "Team B"},
        {"type": "team", "id": "t-c", "name": "Team C"},
        {"type": "agent", "id": "a1", "name": "Ann", "role": "frontline", "team_id": "t-a"},
        {"type": "agent", "id": "a2", "name": "Bob", "role": "frontline", "team_id": "t-a"},
        {"type": "agent", "id": "b1", "name": "Cat", "role": "frontline", "team_id": "t-b"},
        {"type": "agent", "id": "a9", "name": "Nia", "role": "frontline", "team_id": "t-b"},
    ]
    records += [{"type": "customer", "id": c, "name": f"Customer {c[1]}", "segment": "retail"}
                for c in ALL]
    contacts = {"i1": ("c1", "a1", None), "i2": ("c2", "a2", None), "i3": ("c3", "b1", "t-a"),
                "i4": ("c4", "b1", None), "i5": ("c5", None, "t-a"), "i7": ("c7", None, None)}
    for number, (interaction, (customer, agent, team)) in enumerate(contacts.items()):
        record: dict[str, Any] = {
            "type": "interaction", "id": interaction, "channel": "email",
            "created_at": f"2026-11-0{number + 2}T09:00:00Z", "customer_id": customer,
            "first_response_at": f"2026-11-0{number + 2}T10:00:00Z",
            "resolved_at": f"2026-11-0{number + 2}T11:00:00Z"}
        if agent:
            record["agent_id"] = agent
        if team:
            record["team_id"] = team
        records.append(record)
    return records


def _load(engine: Engine) -> dict[str, str]:
    rows = [SourceRow("test", index, record, str(record))
            for index, record in enumerate(_records())]
    summary = import_rows(engine, rows)
    assert summary.quarantined == 0, summary.rejected
    create_user(engine, "admin", PASSWORD, "admin")
    create_user(engine, "manager", PASSWORD, "manager")
    create_user(engine, "lead", PASSWORD, "team_lead", team_ids=["t-a"])
    create_user(engine, "nolead", PASSWORD, "team_lead", team_ids=["t-c"])
    create_user(engine, "ann", PASSWORD, "agent", agent_id="a1")
    create_user(engine, "cat", PASSWORD, "agent", agent_id="b1")
    create_user(engine, "noagent", PASSWORD, "agent", agent_id="a9")
    tokens = {name: create_token(engine, name, "read") for name in VISIBLE}
    tokens["ann-admin-scope"] = create_token(engine, "ann", "admin")
    tokens["lead-admin-scope"] = create_token(engine, "lead", "admin")
    tokens["manager-ingest"] = create_token(engine, "manager", "ingest")
    return tokens


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The store and its app, built once per backend: the tests only read."""
    with module_store(request.param, tmp_path_factory) as engine:
        tokens = _load(engine)
        app = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)
        with TestClient(app) as client:
            yield client, tokens


def _as(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


WHO = list(VISIBLE)


def test_the_customer_list_holds_exactly_the_visible_customers(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    for who in WHO:
        listed = client.get("/api/v1/customers", headers=_as(tokens, who)).json()
        assert [row["id"] for row in listed["rows"]] == VISIBLE[who], who
        assert listed["total"] == len(VISIBLE[who]), who
        # a search matching every customer's name is narrowed the same way
        found = client.get("/api/v1/customers?q=customer", headers=_as(tokens, who)).json()
        assert [row["id"] for row in found["rows"]] == VISIBLE[who], who
        text = client.get("/api/v1/customers?format=csv", headers=_as(tokens, who)).text
        assert [row["id"] for row in csv.DictReader(io.StringIO(text))] == VISIBLE[who], who
        page = client.get("/customers", headers=_as(tokens, who)).text
        assert sorted(set(re.findall(r'href="/customers/(c\d)"', page))) == VISIBLE[who], who


def test_contacts_in_the_list_count_only_the_visible_ones(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    rows = client.get("/api/v1/customers", headers=_as(tokens, "lead")).json()["rows"]
    assert {row["id"]: row["contacts"] for row in rows} == {"c1": 1, "c2": 1, "c3": 1, "c5": 1}
    rows = client.get("/api/v1/customers", headers=_as(tokens, "manager")).json()["rows"]
    assert {row["id"]: row["contacts"] for row in rows} == {
        "c1": 1, "c2": 1, "c3": 1, "c4": 1, "c5": 1, "c6": 0, "c7": 1}
    assert rows[0]["last_contact"] == "2026-11-02T09:00:00Z"


def test_one_customer_is_404_outside_the_scope_like_one_that_does_not_exist(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    for who in WHO:
        headers = _as(tokens, who)
        missing = client.get("/api/v1/customers/c-none", headers=headers)
        assert missing.status_code == 404
        for customer in ALL:
            response = client.get(f"/api/v1/customers/{customer}", headers=headers)
            csv_response = client.get(f"/api/v1/customers/{customer}?format=csv&table=orders",
                                      headers=headers)
            page = client.get(f"/customers/{customer}", headers=headers)
            if customer in VISIBLE[who]:
                assert response.status_code == 200, (who, customer)
                assert response.json()["id"] == customer
                assert csv_response.status_code == 200
                assert page.status_code == 200 and f"Customer {customer[1]}" in page.text
            else:
                assert response.status_code == 404, (who, customer)
                assert response.json() == {
                    "detail": f"no customer '{customer}' among the customers you may see"}
                assert missing.json()["detail"].replace("c-none", customer) == \
                    response.json()["detail"]
                assert csv_response.status_code == 404
                assert page.status_code == 404
                assert f"Customer {customer[1]}" not in page.text


def test_a_visible_customer_shows_only_the_contacts_in_scope(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    c3 = client.get("/api/v1/customers/c3", headers=_as(tokens, "lead")).json()
    assert [i["id"] for i in c3["interactions"]] == ["i3"]
    assert c3["email"] is None  # emails are for managers
    for who, customer, shown in (("ann", "c1", ["i1"]), ("cat", "c4", ["i4"]),
                                 ("manager", "c7", ["i7"]), ("manager", "c6", [])):
        document = client.get(f"/api/v1/customers/{customer}", headers=_as(tokens, who)).json()
        assert [i["id"] for i in document["interactions"]] == shown, (who, customer)


def test_the_interactions_of_a_customer_outside_the_scope_are_an_empty_list(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    for who in WHO:
        for customer in ALL:
            listed = client.get(f"/api/v1/interactions?customer={customer}",
                                headers=_as(tokens, who)).json()
            expected = 0 if customer not in VISIBLE[who] or customer == "c6" else 1
            assert listed["total"] == expected, (who, customer)


def test_customer_health_lists_the_visible_active_customers(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    for who in ("admin", "manager", "lead", "nolead"):
        page = client.get("/customer-health?to=2026-11-09", headers=_as(tokens, who))
        assert page.status_code == 200, (who, page.text)
        shown = re.findall(r"<tr[^>]*><td>(c\d) Customer", page.text)
        assert shown == [c for c in ACTIVE if c in VISIBLE[who]], who
        assert f"{len(shown)} active accounts" in page.text
    for who in ("ann", "cat"):
        assert client.get("/customer-health", headers=_as(tokens, who)).status_code == 403


def test_token_scopes_see_what_their_user_sees(
        served: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = served
    for token, who in (("ann-admin-scope", "ann"), ("lead-admin-scope", "lead")):
        listed = client.get("/api/v1/customers", headers=_as(tokens, token)).json()
        assert [row["id"] for row in listed["rows"]] == VISIBLE[who]
        assert client.get("/api/v1/customers/c4", headers=_as(tokens, token)).status_code == 404
    for path in ("/api/v1/customers", "/api/v1/customers/c1", "/customers"):
        assert client.get(path, headers=_as(tokens, "manager-ingest")).status_code == 403


# -- agent and team filters outside the scope: 403 ------------------------------------------

FILTERED = ["/api/v1/kpi", "/api/v1/overview", "/api/v1/channels", "/api/v1/trends",
            "/api/v1/interactions", "/api/v1/insights/sentiment", "/", "/channels", "/trends",
            "/interactions", "/insights/sentiment"]
# (who, filter, allowed): an agent may filter on themself and their own team; a lead on their
# teams and the agents in them; a manager on anything
FILTER_CASES = [
    ("ann", "agent=a1", True), ("ann", "agent=a2", False), ("ann", "agent=a1,b1", False),
    ("ann", "team=t-a", True), ("ann", "team=t-b", False), ("noagent", "agent=a1", False),
    ("lead", "agent=a1", True), ("lead", "agent=a2&agent=a1", True), ("lead", "agent=b1", False),
    ("lead", "agent=nobody", False), ("lead", "team=t-a", True), ("lead", "team=t-b", False),
    ("noagent", "team=t-b", True), ("nolead", "team=t-a", False), ("nolead", "agent=a1", False),
    ("nolead", "team=t-c", True),
    ("manager", "agent=b1", True), ("manager", "team=t-b", True),
]


@pytest.mark.parametrize(("who", "query", "allowed"), FILTER_CASES)
def test_filters_outside_the_scope_are_403(served: tuple[TestClient, dict[str, str]],
                                          who: str, query: str, allowed: bool) -> None:
    client, tokens = served
    for path in FILTERED:
        response = client.get(f"{path}?{query}", headers=_as(tokens, who))
        if allowed:
            assert response.status_code == 200, (who, path, query, response.text[:200])
        else:
            assert response.status_code == 403, (who, path, query, response.status_code)
            if path.startswith("/api/"):
                assert "you may not see" in response.json()["detail"]

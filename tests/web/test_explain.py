"""Why did it change, on the web (servicepulse.web.explain): the API in each caller's scope,
the page, and the "why?" link on the overview's tiles.

The store, by hand: agent a1 (team t1) answers phone, a2 (team t2) email.
- Monday 2 March: phone 10 contacts (8 resolved, handle 300 s each), email 10 (4 resolved,
  handle 600 s each).
- Monday 9 March: phone 30 (24 resolved, 300 s), email 10 (4 resolved, 600 s).
Resolution rate 60% -> 70% is pure channel mix: phone (3/4 − 1/2) × 80 = +20 points, email
(1/4 − 1/2) × 40 = −10. AHT 450 s -> 375 s likewise: phone (1/4) × 300 = +75 s, email
(−1/4) × 600 = −150 s. Two resolved chats (23 Feb, 18 Mar) only make the data cover both
weeks whole, so that the overview compares 9-16 March with 2-9 March.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.kpi.helpers import load

DAYS = {"from": "2026-03-09", "to": "2026-03-10", "against_from": "2026-03-02",
        "against_to": "2026-03-03"}


def _contacts(day: str, channel: str, agent: str, total: int, resolved: int, handle: int
              ) -> list[dict[str, Any]]:
    return [{"type": "interaction", "id": f"{day}-{channel}-{k}", "channel": channel,
             "agent_id": agent, "created_at": f"{day}T{9 + k // 60:02d}:{k % 60:02d}:00Z",
             "handle_s": handle, **({"resolved_at": f"{day}T20:00:00Z"} if k < resolved else {})}
            for k in range(total)]


@pytest.fixture
def explain_client(sqlite_store: Engine, tmp_path: Path
                   ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "t1", "name": "Voice"}, {"type": "team", "id": "t2", "name": "Mail"},
        {"type": "agent", "id": "a1", "name": "Ann", "role": "frontline", "team_id": "t1"},
        {"type": "agent", "id": "a2", "name": "Bob", "role": "frontline", "team_id": "t2"},
        *_contacts("2026-03-02", "phone", "a1", 10, 8, 300),
        *_contacts("2026-03-02", "email", "a2", 10, 4, 600),
        *_contacts("2026-03-09", "phone", "a1", 30, 24, 300),
        *_contacts("2026-03-09", "email", "a2", 10, 4, 600),
        *_contacts("2026-02-23", "chat", "a2", 1, 1, 100),
        *_contacts("2026-03-18", "chat", "a2", 1, 1, 100)]
    path = tmp_path / "explain.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load(sqlite_store, path)
    create_user(sqlite_store, "manager", "correct horse battery", "manager")
    create_user(sqlite_store, "lead", "correct horse battery", "team_lead", team_ids=["t1"])
    create_user(sqlite_store, "bob", "correct horse battery", "agent", agent_id="a2")
    tokens = {name: create_token(sqlite_store, name, "read") for name in ("manager", "lead", "bob")}
    with TestClient(create_app(sqlite_store, serve_stale=False, prewarm=False)) as client:
        yield client, tokens


def _get(client: TestClient, token: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


def _split(document: dict[str, Any]) -> list[tuple[str, str, float, float, float]]:
    return [(c["dimension"], c["group"], c["mix"], c["rate"], c["total"])
            for c in document["contributions"]]


def test_api_in_each_scope(explain_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = explain_client
    response = _get(client, tokens["manager"], "/api/v1/explain", kpi="resolution_rate",
                    by="channel,team", **DAYS)
    assert response.status_code == 200, response.text
    document = response.json()
    assert (document["value"], document["previous"], document["change"]) == (70.0, 60.0, 10.0)
    assert sorted(_split(document)) == [
        ("channel", "email", -10.0, 0.0, -10.0), ("channel", "phone", 20.0, 0.0, 20.0),
        ("team", "t1", 20.0, 0.0, 20.0), ("team", "t2", -10.0, 0.0, -10.0)]
    assert document["summary"].startswith("Resolution rate rose from 60.0% to 70.0% (+10.00 pts)")
    # the team lead of t1 sees t1 (phone) alone: 80% then and now, nothing changed
    lead = _get(client, tokens["lead"], "/api/v1/explain", kpi="resolution_rate", by="channel",
                **DAYS).json()
    assert (lead["value"], lead["previous"], lead["change"], _split(lead)) == (
        80.0, 80.0, 0.0, [("channel", "phone", 0.0, 0.0, 0.0)])
    assert _get(client, tokens["lead"], "/api/v1/explain", kpi="resolution_rate",
                by="channel", team="t2", **DAYS).status_code == 403
    # an agent: their own contacts (email, 40% both days)
    own = _get(client, tokens["bob"], "/api/v1/explain", kpi="resolution_rate", **DAYS).json()
    assert (own["by"], own["value"], own["change"]) == (["channel"], 40.0, 0.0)
    # AHT, a mean: 450 s -> 375 s
    aht = _get(client, tokens["manager"], "/api/v1/explain", kpi="aht", by="channel",
               **DAYS).json()
    assert (aht["previous"], aht["value"], _split(aht)) == (450.0, 375.0, [
        ("channel", "email", -150.0, 0.0, -150.0), ("channel", "phone", 75.0, 0.0, 75.0)])


def test_api_errors(explain_client: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = explain_client
    response = _get(client, tokens["manager"], "/api/v1/explain", kpi="contacts", **DAYS)
    assert response.status_code == 422
    assert "contacts is a count or sum, not a rate or a mean" in response.json()["detail"]
    response = _get(client, tokens["manager"], "/api/v1/explain", kpi="fcr", by="weather",
                    **DAYS)
    assert response.status_code == 422 and "weather is not a dimension" in response.text
    response = _get(client, tokens["manager"], "/api/v1/explain", kpi="fcr",
                    against_from="2026-03-02")
    assert response.status_code == 422 and "give both against_from and against_to" in \
        response.text
    assert client.get("/api/v1/explain", params={"kpi": "fcr"}).status_code == 401


def test_tile_link_opens_the_explanation(explain_client: tuple[TestClient, dict[str, str]]
                                         ) -> None:
    client, tokens = explain_client
    overview = _get(client, tokens["manager"], "/", **{"from": "2026-03-09", "to": "2026-03-16"})
    assert overview.status_code == 200, overview.text
    tiles = dict(re.findall(r'data-kpi="(\w+)">\s*<h2>[^<]*(?:<a class="why" href="([^"]+)")?',
                            overview.text))
    assert tiles["contacts"] == "" and tiles["occupancy"] == ""  # a count, a ratio: no "why?"
    link = tiles["aht"].replace("&amp;", "&")
    assert link == "/explain?from=2026-03-09&to=2026-03-16&kpi=aht"
    page = client.get(link, headers={"Authorization": f"Bearer {tokens['manager']}"})
    assert page.status_code == 200, page.text
    # the window against the comparable previous week (2-9 March), by channel and team
    assert "Average handle time fell from 7.5 min to 6.2 min (−75.0 s)" in page.text
    assert 'data-dimension="channel"' in page.text and 'data-dimension="team"' in page.text
    phone = re.search(r'<tr data-group="phone">(.*?)</tr>', page.text, re.S)
    assert phone is not None and "+75.0 s" in phone.group(1)
    refused = _get(client, tokens["manager"], "/explain", kpi="frt", **DAYS)
    assert refused.status_code == 200 and "frt is a median" in refused.text


def test_agent_scorecard_tiles_link_to_the_explanation(sqlite_store: Engine, tmp_path: Path
                                                       ) -> None:
    """The agent scorecard's "why?": the agent's own change, by channel, over the card's
    window. Agent c1 answers phone and chat: 2 March phone 10 (300 s each), chat 10 (600 s);
    9 March phone 30, chat 10. AHT 450 s -> 375 s, pure mix: phone (3/4 − 1/2) × 300 = +75 s,
    chat (1/4 − 1/2) × 600 = −150 s."""
    records: list[dict[str, Any]] = [
        {"type": "team", "id": "t1", "name": "Voice"},
        {"type": "agent", "id": "c1", "name": "Cy", "role": "frontline", "team_id": "t1"},
        *_contacts("2026-03-02", "phone", "c1", 10, 8, 300),
        *_contacts("2026-03-02", "chat", "c1", 10, 4, 600),
        *_contacts("2026-03-09", "phone", "c1", 30, 24, 300),
        *_contacts("2026-03-09", "chat", "c1", 10, 4, 600),
        *_contacts("2026-02-23", "email", "c1", 1, 1, 100),  # the data covers both weeks
        *_contacts("2026-03-18", "email", "c1", 1, 1, 100)]
    path = tmp_path / "agent.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    load(sqlite_store, path)
    create_user(sqlite_store, "manager", "correct horse battery", "manager")
    create_user(sqlite_store, "cy", "correct horse battery", "agent", agent_id="c1")
    with TestClient(create_app(sqlite_store, serve_stale=False, prewarm=False)) as client:
        for name in ("manager", "cy"):
            token = create_token(sqlite_store, name, "read")
            card = _get(client, token, "/scorecards/agent/c1", **{"from": "2026-03-09",
                                                                  "to": "2026-03-16"})
            assert card.status_code == 200, card.text
            tiles = dict(re.findall(
                r'data-kpi="(\w+)" data-status="\w+">\s*<h2>[^<]*(?:<a class="why" '
                r'href="([^"]+)")?', card.text))
            # FRT is a median; no CSAT answers: no "why?"
            assert tiles["aht"] and tiles["frt"] == "" and tiles["csat"] == ""
            link = tiles["aht"].replace("&amp;", "&")
            assert link == "/explain?kpi=aht&agent=c1&by=channel&from=2026-03-09&to=2026-03-16"
            page = client.get(link, headers={"Authorization": f"Bearer {token}"})
            assert page.status_code == 200, page.text
            assert "Average handle time fell from 7.5 min to 6.2 min (−75.0 s)" in page.text
            assert "filtered: agent = c1" in page.text
            rows = dict(re.findall(r'<tr data-group="(\w+)">.*?<td class="r total"><b>([^<]+)<',
                                   page.text, re.S))
            assert rows == {"phone": "+75.0 s", "chat": "−150.0 s"}
        # a window the data does not cover the week before of: no link to a dead end
        first = _get(client, token, "/scorecards/agent/c1", **{"from": "2026-02-23",
                                                               "to": "2026-03-02"})
        assert first.status_code == 200 and 'data-kpi="aht"' in first.text
        assert 'class="why"' not in first.text

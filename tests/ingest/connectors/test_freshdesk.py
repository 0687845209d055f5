"""Freshdesk connector: v2 API JSON (bare arrays), tickets with `include=stats`.

Fixtures written from Freshdesk's API documentation; codes from REFERENCES.md: status 2 open,
3 pending, 4 resolved, 5 closed; source 1 email, 2 portal, 3 phone, 7 chat, 10 outbound email;
satisfaction codes 103/102/100/−102/−103 on the 5-point scale.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.ingest.connectors.helpers import errors, read, records

ALL = tuple(f"freshdesk/{name}.json" for name in
            ("agents", "groups", "contacts", "tickets", "satisfaction_ratings"))


def test_tickets_with_stats() -> None:
    rows = read("freshdesk", *ALL)
    assert errors(rows) == []
    got = records(rows)
    assert got[("interaction", "fd-1")] == {
        "type": "interaction", "id": "fd-1", "channel": "email", "direction": "inbound",
        "created_at": "2024-03-04T08:00:00Z", "customer_id": "fd-8001", "agent_id": "fd-601",
        "team_id": "fd-41", "subject": "Refund request", "category": "Refund",
        "priority": "medium", "status": "resolved",
        "first_response_at": "2024-03-04T08:20:00Z",  # stats.first_responded_at
        "resolved_at": "2024-03-04T12:00:00Z",  # stats.resolved_at
        "reopens": 0, "escalated": False,
    }
    chat = got[("interaction", "fd-2")]
    # source 7 = chat, answered at its first response; status 5 = closed; reopened_at set
    assert (chat["channel"], chat["status"], chat["answered_at"], chat["resolved_at"],
            chat["reopens"]) == ("chat", "closed", "2024-03-04T09:00:45Z",
                                 "2024-03-04T09:30:00Z", 1)
    outbound = got[("interaction", "fd-3")]  # source 10 = outbound email, status 2 open
    assert (outbound["channel"], outbound["direction"], outbound["status"]) == (
        "email", "outbound", "open")
    assert "first_response_at" not in outbound and "resolved_at" not in outbound
    phone = got[("interaction", "fd-4")]  # source 3, status 3 pending, priority 4
    assert (phone["channel"], phone["status"], phone["priority"], phone["escalated"]) == (
        "phone", "pending", "urgent", True)
    assert "resolved_at" not in phone
    assert got[("interaction", "fd-5")]["channel"] == "web"  # source 2 = portal


def test_satisfaction_codes_on_the_five_point_scale() -> None:
    got = records(read("freshdesk", *ALL))
    scores = {i: (r["score"], r.get("comment")) for (t, i), r in got.items() if t == "survey"}
    # 103 -> 5, 100 -> 3, -103 -> 1, 102 -> 4 (only default_question counts)
    assert scores == {"fd-sat-9001": (5, "Great help"), "fd-sat-9002": (3, None),
                      "fd-sat-9003": (1, "Too slow"), "fd-sat-9004": (4, None)}
    assert got[("survey", "fd-sat-9001")] == {
        "type": "survey", "id": "fd-sat-9001", "kind": "csat", "score": 5,
        "submitted_at": "2024-03-04T12:30:00Z", "interaction_id": "fd-1",
        "agent_id": "fd-601", "customer_id": "fd-8001", "comment": "Great help",
    }


def test_seven_point_surveys_need_the_setting(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.json"
    ratings.write_text(json.dumps([
        {"id": 1, "ticket_id": 1, "ratings": {"default_question": 101},
         "created_at": "2024-03-04T12:30:00Z"},
        {"id": 2, "ticket_id": 1, "ratings": {"default_question": -103},
         "created_at": "2024-03-04T12:30:00Z"},
    ]))
    rows = read("freshdesk", ratings)
    [(line, field, reason)] = errors(rows)
    assert (line, field) == (1, "ratings.default_question")
    assert "set survey_points = 7" in reason
    settings = tmp_path / "freshdesk.toml"
    settings.write_text("survey_points = 7\n")
    got = records(read("freshdesk", ratings, mapping=settings))
    # 7-point: 101 -> 5, -103 -> 1 on 1-7
    assert [(r["score"], r["scale_min"], r["scale_max"]) for r in got.values()] == [
        (5, 1, 7), (1, 1, 7)]


def test_agents_groups_contacts() -> None:
    got = records(read("freshdesk", *ALL))
    assert got[("agent", "fd-601")] == {
        "type": "agent", "id": "fd-601", "name": "Fiona Agent", "role": "frontline",
        "email": "fiona@example.com", "team_id": "fd-41", "active": True, "languages": ["en"],
    }
    assert got[("agent", "fd-602")]["active"] is False
    assert "team_id" not in got[("agent", "fd-602")]
    assert got[("team", "fd-42")] == {"type": "team", "id": "fd-42", "name": "Escalations"}
    assert got[("customer", "fd-8002")] == {"type": "customer", "id": "fd-8002",
                                            "name": "Hana Customer",
                                            "email": "hana@example.com"}


def test_bad_tickets_are_quarantined_and_the_rest_read(tmp_path: Path) -> None:
    page = tmp_path / "tickets.json"
    page.write_text(json.dumps({"tickets": [
        {"id": 1, "status": "open", "source": 1, "requester_id": 1,
         "created_at": "2024-03-04T08:00:00Z"},
        {"id": 2, "status": 2, "source": 1, "requester_id": 1},
        {"id": 3, "status": 6, "source": 99, "requester_id": 1,
         "created_at": "2024-03-04T08:00:00Z"},
    ]}))
    rows = read("freshdesk", page)
    assert [(line, field) for line, field, _ in errors(rows)] == [(1, "status"),
                                                                 (2, "created_at")]
    got = records(rows)
    # custom status 6 keeps its code; unknown source 99 reads as web
    assert (got[("interaction", "fd-3")]["status"], got[("interaction", "fd-3")]["channel"]) == (
        "status_6", "web")

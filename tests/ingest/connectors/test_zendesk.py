"""Zendesk connector: REST API list pages and incremental exports.

Fixtures in tests/fixtures/connectors/zendesk are written from Zendesk's API documentation
(REFERENCES.md lists the fields): list pages `{"tickets": [...], "next_page": ...}`, ticket
metrics with `{calendar, business}` minute values, ratings good/bad/offered, users, groups,
ticket metric events.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.ingest.connectors.helpers import FIXTURES, errors, read, records, seconds_between

ZD = FIXTURES / "zendesk"
ALL = ("zendesk/users.json", "zendesk/groups.json", "zendesk/tickets.json",
       "zendesk/ticket_metrics.json", "zendesk/satisfaction_ratings.json",
       "zendesk/ticket_metric_events.json")


def test_tickets_merge_their_metrics() -> None:
    rows = read("zendesk", *ALL)
    assert errors(rows) == []
    got = records(rows)
    assert got[("interaction", "zd-101")] == {
        "type": "interaction", "id": "zd-101", "channel": "email", "direction": "inbound",
        "created_at": "2024-03-04T09:00:00Z", "customer_id": "zd-9001", "agent_id": "zd-501",
        "team_id": "zd-31", "subject": "Cannot log in", "priority": "normal",
        "category": "question", "status": "solved", "escalated": False,
        # reply_time_in_minutes.calendar 30 after created_at
        "first_response_at": "2024-03-04T09:30:00Z", "reopens": 0, "transfers": 0,
        "resolved_at": "2024-03-04T13:00:00Z",  # metric solved_at
    }
    # Zendesk's own numbers: reply_time_in_minutes * 60 == first_response_at - created_at,
    # full_resolution_time_in_minutes * 60 == resolved_at - created_at
    for ticket, reply, full in (("zd-101", 30, 240), ("zd-103", 5, 20)):
        record = got[("interaction", ticket)]
        assert seconds_between(record["created_at"], record["first_response_at"]) == reply * 60
        assert seconds_between(record["created_at"], record["resolved_at"]) == full * 60
    reopened = got[("interaction", "zd-102")]
    # status open again after a solve: not resolved; reopens 1; stations 3 assignees and 2
    # groups = 2 hand-offs; tagged "escalated"
    assert "resolved_at" not in reopened
    assert (reopened["reopens"], reopened["transfers"], reopened["escalated"]) == (1, 2, True)
    assert seconds_between(reopened["created_at"], reopened["first_response_at"]) == 90 * 60


def test_metric_events_give_the_first_reply_when_metrics_are_missing() -> None:
    got = records(read("zendesk", *ALL))
    # ticket 104 has no metrics; its reply_time fulfil event (instance 1) is at 12:02
    ticket = got[("interaction", "zd-104")]
    assert ticket["first_response_at"] == "2024-03-04T12:02:00Z"
    assert ticket["channel"] == "web"  # via api
    assert "resolved_at" not in ticket and ticket["status"] == "pending"


def test_agent_created_ticket_is_outbound() -> None:
    got = records(read("zendesk", *ALL))
    # submitter 501 is an agent (users.json) and not the requester 9004
    assert got[("interaction", "zd-105")]["direction"] == "outbound"
    # without the users file the connector cannot know 501 is an agent
    alone = records(read("zendesk", "zendesk/tickets.json"))
    assert alone[("interaction", "zd-105")]["direction"] == "inbound"


def test_ratings_users_and_groups() -> None:
    got = records(read("zendesk", *ALL))
    surveys = {i: r for (t, i), r in got.items() if t == "survey"}
    # good -> 5, bad -> 1 on the default 1-5 scale; offered (7004) is no answer; ticket 101's
    # embedded rating is the list's 7001 (same id, one survey)
    assert sorted(surveys) == ["zd-sat-7001", "zd-sat-7002", "zd-sat-7003"]
    assert surveys["zd-sat-7001"] == {
        "type": "survey", "id": "zd-sat-7001", "kind": "csat", "score": 5,
        "submitted_at": "2024-03-04T13:10:00Z", "interaction_id": "zd-101",
        "agent_id": "zd-501", "customer_id": "zd-9001", "comment": "Quick and kind",
    }
    assert surveys["zd-sat-7003"]["score"] == 1
    assert got[("agent", "zd-501")] == {
        "type": "agent", "id": "zd-501", "name": "Ana Agent", "role": "frontline",
        "email": "ana@example.com", "team_id": "zd-31", "active": True,
        "languages": ["en-US"],
    }
    assert got[("agent", "zd-502")]["role"] == "frontline"  # admin
    assert got[("customer", "zd-9001")] == {"type": "customer", "id": "zd-9001",
                                            "name": "Carla Customer",
                                            "email": "carla@example.com"}
    assert got[("team", "zd-32")] == {"type": "team", "id": "zd-32", "name": "Billing"}


def test_embedded_rating_alone_is_submitted_at_the_ticket_update() -> None:
    got = records(read("zendesk", "zendesk/tickets.json"))
    assert got[("survey", "zd-sat-7003")]["submitted_at"] == "2024-03-04T11:40:00Z"
    assert got[("survey", "zd-sat-7003")]["comment"] == "Still broken"
    assert ("survey", "zd-sat-7002") not in got  # ticket 102's rating is unoffered


def test_metrics_of_tickets_not_in_the_import_become_first_reply_events() -> None:
    got = records(read("zendesk", "zendesk/ticket_metrics.json"))
    events = {i: r for (t, i), r in got.items() if t == "event"}
    # 101: created 09:00 + 30 min; 999: created 08:00 + 15 min
    assert events["zd-101-first-reply"]["at"] == "2024-03-04T09:30:00Z"
    assert events["zd-999-first-reply"] == {
        "type": "event", "id": "zd-999-first-reply", "interaction_id": "zd-999",
        "at": "2024-03-01T08:15:00Z", "kind": "agent_message", "actor": "agent",
        "public": True,
    }
    assert set(events) == {"zd-101-first-reply", "zd-102-first-reply", "zd-103-first-reply",
                           "zd-999-first-reply"}


def test_settings_map_roles_prefix_and_escalation_tags(tmp_path: Path) -> None:
    settings = tmp_path / "zendesk.toml"
    settings.write_text('id_prefix = "acme-"\nescalation_tags = ["tier2"]\n'
                        '[roles]\nadmin = "team_lead"\n')
    got = records(read("zendesk", *ALL, mapping=settings))
    assert got[("agent", "acme-502")]["role"] == "team_lead"
    assert got[("interaction", "acme-102")]["escalated"] is False


def test_incremental_export_repeats_rows_and_the_newest_wins(tmp_path: Path) -> None:
    newer = {"id": 7, "created_at": "2024-03-01T10:00:00Z", "updated_at": "2024-03-02T10:00:00Z",
             "status": "solved", "requester_id": 1, "submitter_id": 1, "assignee_id": 2,
             "via": {"channel": "native_messaging"}}
    older = {**newer, "updated_at": "2024-03-01T11:00:00Z", "status": "open"}
    # two incremental pages; the older version of ticket 7 comes last
    (tmp_path / "page1.json").write_text(json.dumps(
        {"tickets": [newer], "after_cursor": "abc", "end_of_stream": False}))
    (tmp_path / "page2.json").write_text(json.dumps(
        {"tickets": [older], "after_cursor": "def", "end_of_stream": True,
         "metric_sets": [{"ticket_id": 7, "reply_time_in_minutes": {"calendar": 2,
                                                                   "business": 2},
                          "solved_at": "2024-03-01T10:30:00Z", "reopens": 0}]}))
    rows = read("zendesk", tmp_path / "page1.json", tmp_path / "page2.json")
    tickets = [r.data for r in rows if r.data and r.data["type"] == "interaction"]
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket is not None
    # sideloaded metric set: first reply 2 min; a chat is answered at its first reply
    assert (ticket["status"], ticket["resolved_at"], ticket["first_response_at"],
            ticket["answered_at"], ticket["channel"]) == (
        "solved", "2024-03-01T10:30:00Z", "2024-03-01T10:02:00Z", "2024-03-01T10:02:00Z",
        "chat")


def test_truncated_json_keeps_the_complete_tickets() -> None:
    rows = read("zendesk", "zendesk/tickets_truncated.json")
    got = records(rows)
    assert sorted(i for (t, i) in got if t == "interaction") == ["zd-101", "zd-102"]
    [(line, field, reason)] = errors(rows)
    assert line == 43 and field is None
    assert reason.startswith("invalid or truncated JSON in element 3 of 'tickets'")


def test_rows_that_are_not_zendesk_objects_are_quarantined(tmp_path: Path) -> None:
    page = tmp_path / "tickets.json"
    page.write_text(json.dumps({"tickets": [
        {"id": 1, "status": "open", "requester_id": 5, "via": {"channel": "email"}},
        {"id": 2, "created_at": "2024-03-01T10:00:00Z", "status": "open",
         "requester_id": 5, "via": {"channel": "email"}},
        {"id": 3, "created_at": "yesterday", "status": "open", "via": {"channel": "email"}},
    ]}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"foo": 1}]))
    rows = read("zendesk", page, other)
    assert [(Path(r.source).name, r.line, r.error.field) for r in rows if r.error] == [
        ("other.json", 1, None),
        ("tickets.json", 1, "created_at"),
        ("tickets.json", 3, "created_at"),
    ]
    assert [r.data["id"] for r in rows if r.data] == ["zd-2"]


def test_json_lines_rows_are_recognised_by_shape(tmp_path: Path) -> None:
    rows = tmp_path / "export.jsonl"
    rows.write_text("\n".join(json.dumps(row) for row in (
        {"id": 1, "name": "Support", "is_public": True, "default": True},
        {"id": 2, "name": "Ann", "role": "agent", "email": "ann@example.com"},
        {"id": 3, "created_at": "2024-03-01T10:00:00Z", "status": "new", "requester_id": 9,
         "via": {"channel": "voice"}},
        {"ticket_id": 3, "created_at": "2024-03-01T10:00:00Z", "reopens": 0,
         "reply_time_in_minutes": {"calendar": None, "business": None}},
        {"ticket_id": 3, "id": 77, "score": "bad", "comment": "rude",
         "created_at": "2024-03-01T11:00:00Z"},
    )))
    got = records(read("zendesk", rows))
    assert sorted(got) == [("agent", "zd-2"), ("interaction", "zd-3"), ("survey", "zd-sat-77"),
                           ("team", "zd-1")]
    ticket = got[("interaction", "zd-3")]
    # voice -> phone; a null reply time (no reply yet) gives no first response
    assert ticket["channel"] == "phone" and "first_response_at" not in ticket

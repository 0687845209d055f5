"""Chatwoot connector. Fixtures are written from Chatwoot's documented API shapes (no live
instance): conversations `{"data": {"meta", "payload"}}`, messages `{"meta", "payload"}` with
message_type 0 incoming / 1 outgoing / 2 activity / 3 template, CSAT responses with rating 1-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servicepulse.ingest.connectors.base import MappingError
from tests.ingest.connectors.helpers import errors, read, records

ALL = tuple(f"chatwoot/{name}.json" for name in
            ("agents", "teams", "contacts", "conversations", "messages_11",
             "csat_survey_responses"))


def test_conversations_become_interactions() -> None:
    rows = read("chatwoot", *ALL)
    assert errors(rows) == []
    got = records(rows)
    # created_at 1709546400 = 2024-03-04T10:00:00Z; first_reply_created_at 60 s later;
    # resolved: its last activity 1709548200 = 10:30:00
    assert got[("interaction", "cw-11")] == {
        "type": "interaction", "id": "cw-11", "channel": "chat", "direction": "inbound",
        "created_at": "2024-03-04T10:00:00Z", "customer_id": "cw-301", "agent_id": "cw-21",
        "team_id": "cw-5", "category": "billing", "status": "resolved",
        "first_response_at": "2024-03-04T10:01:00Z", "answered_at": "2024-03-04T10:01:00Z",
        "resolved_at": "2024-03-04T10:30:00Z",
    }
    email = got[("interaction", "cw-12")]
    assert (email["channel"], email["first_response_at"], email["priority"]) == (
        "email", "2024-03-04T11:00:30Z", "high")
    assert "answered_at" not in email and "resolved_at" not in email
    # first_reply_created_at 0: nobody replied yet; unassigned
    pending = got[("interaction", "cw-13")]
    assert "first_response_at" not in pending and "agent_id" not in pending


def test_messages_become_events() -> None:
    got = records(read("chatwoot", *ALL))
    events = {i: (r["kind"], r.get("actor"), r.get("agent_id"), r["public"], r["at"][11:19])
              for (t, i), r in got.items() if t == "event"}
    assert events == {
        "cw-msg-1101": ("customer_message", "customer", None, True, "10:00:00"),
        "cw-msg-1102": ("agent_message", "bot", None, True, "10:00:05"),  # AgentBot
        "cw-msg-1103": ("assigned", "system", None, True, "10:00:10"),  # activity
        "cw-msg-1104": ("agent_message", "agent", "cw-21", True, "10:01:00"),
        "cw-msg-1105": ("note", "agent", "cw-21", False, "10:10:00"),  # private
        "cw-msg-1106": ("customer_message", "customer", None, True, "10:26:40"),
        "cw-msg-1107": ("resolved", "system", None, True, "10:30:00"),  # activity
        "cw-msg-1108": ("note", "bot", None, True, "10:30:01"),  # CSAT template
    }
    assert got[("event", "cw-msg-1101")]["body"] == "Hi, I was charged twice for my order"


def test_csat_agents_teams_contacts() -> None:
    got = records(read("chatwoot", *ALL))
    assert got[("survey", "cw-csat-501")] == {
        "type": "survey", "id": "cw-csat-501", "kind": "csat", "score": 5,
        "submitted_at": "2024-03-04T10:35:00Z", "interaction_id": "cw-11",
        "agent_id": "cw-21", "customer_id": "cw-301", "comment": "Fast!",
    }
    assert "agent_id" not in got[("survey", "cw-csat-503")]
    assert got[("agent", "cw-21")] == {"type": "agent", "id": "cw-21", "name": "Jon",
                                       "role": "frontline", "email": "jon@example.com",
                                       "active": True}
    assert got[("team", "cw-5")] == {"type": "team", "id": "cw-5", "name": "chat team"}
    assert got[("customer", "cw-302")] == {"type": "customer", "id": "cw-302", "name": "Kai",
                                           "email": "kai@example.com"}


def test_webhook_style_message_types_and_bad_rows(tmp_path: Path) -> None:
    messages = tmp_path / "messages.jsonl"
    messages.write_text("\n".join(json.dumps(m) for m in (
        {"id": 1, "conversation_id": 5, "message_type": "incoming", "content": "hi",
         "created_at": "2024-03-04T10:00:00Z"},
        {"id": 2, "conversation_id": 5, "message_type": 9, "created_at": 1709546400},
        {"id": 3, "message_type": 1, "created_at": 1709546400},
    )) + "\n{\"id\": 4, \"conversation_id\"\n")
    rows = read("chatwoot", messages)
    assert [(line, field) for line, field, _ in errors(rows)] == [
        (2, "message_type"), (3, "conversation_id"), (4, None)]
    assert [r.data["kind"] for r in rows if r.data] == ["customer_message"]


def test_damaged_conversations_page_keeps_the_complete_conversations(tmp_path: Path) -> None:
    page = tmp_path / "conversations.json"
    text = (Path(__file__).parents[2] / "fixtures" / "connectors" / "chatwoot"
            / "conversations.json").read_text()
    page.write_text(text[: text.index('"id": 12')])  # cut inside data.payload's 2nd element
    rows = read("chatwoot", page)
    [(line, field, reason)] = errors(rows)
    assert (line, field) == (32, None)  # where conversation 12 starts
    assert reason.startswith("invalid or truncated JSON in element 2 of 'data.payload'")
    assert sorted(records(rows)) == [("event", "cw-msg-1108"), ("interaction", "cw-11")]


def test_activity_phrases_of_another_language_from_the_settings(tmp_path: Path) -> None:
    def activity(number: int, content: str) -> dict[str, object]:
        return {"id": number, "content": content, "message_type": 2, "private": False,
                "conversation_id": 41, "created_at": 1709546400 + number, "sender": None}

    page = tmp_path / "messages_41.json"
    page.write_text(json.dumps({"meta": {}, "payload": [
        activity(1, "Unterhaltung wurde von Rosa als gelöst markiert"),
        activity(2, "Unterhaltung wurde von Rosa wieder geöffnet"),
        activity(3, "Conversation was marked resolved by Leo"),  # English still read
        activity(4, "Priorität auf Hoch gesetzt"),
    ]}))

    def kinds(**options: object) -> list[str]:
        got = records(read("chatwoot", page, **options))
        return [got[("event", f"cw-msg-{n}")]["kind"] for n in (1, 2, 3, 4)]

    # without settings only Chatwoot's English phrases are known
    assert kinds() == ["note", "note", "resolved", "note"]
    settings = tmp_path / "chatwoot.toml"
    settings.write_text('[activities]\nresolved = ["als gelöst markiert"]\n'
                        'reopened = "Wieder geöffnet"\n')
    assert kinds(mapping=settings) == ["resolved", "reopened", "resolved", "note"]
    settings.write_text('[activities]\nclosed = ["geschlossen"]\n')
    with pytest.raises(MappingError, match=r"\[activities\] closed is not an activity kind; "
                                           "use one of assigned, reopened, resolved"):
        read("chatwoot", page, mapping=settings)
    settings.write_text('[activities]\nresolved = [1]\n')
    with pytest.raises(MappingError, match=r"\[activities\] resolved must be a list of "
                                           "phrases"):
        read("chatwoot", page, mapping=settings)

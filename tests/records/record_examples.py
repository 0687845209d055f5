"""Example records shared by the record tests (imported by name: pytest puts this folder on
sys.path)."""

from __future__ import annotations

from typing import Any

# The smallest valid record of each kind: only its required fields.
MINIMAL: dict[str, dict[str, Any]] = {
    "team": {"type": "team", "id": "t1", "name": "North"},
    "agent": {"type": "agent", "id": "a1", "name": "Sam", "role": "frontline"},
    "calendar": {
        "type": "calendar",
        "id": "cal1",
        "timezone": "Europe/Paris",
        "hours": {"mon": [["09:00", "17:00"]]},
    },
    "customer": {"type": "customer", "id": "c1"},
    "interaction": {
        "type": "interaction",
        "id": "i1",
        "channel": "chat",
        "created_at": "2026-03-02T09:00:00Z",
    },
    "event": {
        "type": "event",
        "id": "e1",
        "interaction_id": "i1",
        "at": "2026-03-02T09:00:30Z",
        "kind": "agent_message",
    },
    "survey": {
        "type": "survey",
        "id": "s1",
        "kind": "csat",
        "score": 4,
        "submitted_at": "2026-03-02T10:00:00Z",
    },
    "agent_state": {
        "type": "agent_state",
        "id": "st1",
        "agent_id": "a1",
        "state": "available",
        "start": "2026-03-02T08:00:00Z",
    },
    "shift": {
        "type": "shift",
        "id": "sh1",
        "agent_id": "a1",
        "start": "2026-03-02T08:00:00Z",
        "end": "2026-03-02T16:00:00Z",
    },
    "order": {
        "type": "order",
        "id": "o1",
        "customer_id": "c1",
        "at": "2026-03-02T09:10:00Z",
        "amount": 99.5,
        "kind": "purchase",
    },
    "social_post": {
        "type": "social_post",
        "id": "p1",
        "platform": "instagram",
        "posted_at": "2026-03-02T12:00:00Z",
    },
    "social_mention": {
        "type": "social_mention",
        "id": "m1",
        "platform": "x",
        "at": "2026-03-02T12:30:00Z",
        "text": "thanks for the help",
    },
    "qa_form": {
        "type": "qa_form",
        "id": "f1",
        "name": "Chat quality",
        "categories": [{"name": "tone", "weight": 1, "scale_max": 4}],
    },
    "qa_review": {
        "type": "qa_review",
        "id": "r1",
        "interaction_id": "i1",
        "reviewer_id": "a9",
        "form_id": "f1",
        "at": "2026-03-03T10:00:00Z",
        "scores": {"tone": 3},
    },
}

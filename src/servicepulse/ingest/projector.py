"""Events build an interaction up (docs/records.md).

Applied in `at` order (ties by event id) whatever order they arrive in. What each event kind
says, and so what it overrides of the interaction record as given:

- `created`: created_at (the first one);
- `answered`: answered_at (the first one);
- `agent_message` that is public: first_response_at (the first one). Bot messages do not count
  (actor bot): a bot hand-off is not a response by an agent;
- `hold_start` … `hold_end`, `wrap_start` … `wrap_end`: hold_s and wrap_s, the sum of the closed
  pairs (an unclosed start adds nothing);
- `transferred`, `reopened`: transfers and reopens, their count;
- `escalated`: escalated;
- `resolved`: resolved_at = the last `resolved`; a later `reopened` clears it (the interaction
  is open again) until the next `resolved`;
- `abandoned`: abandoned_at (the first one);
- `assigned` with an agent: the interaction's agent when the record names none (credit goes to
  the agent the record names; else the last assignee; else the first agent who replied).

Fields the events say nothing about keep the record's values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EventRow:
    id: str
    at: float
    kind: str
    actor: str | None
    agent_id: str | None
    public: bool


def project(given: dict[str, Any], events: Iterable[EventRow]) -> dict[str, Any]:
    """The effective interaction: `given` (a store row) overlaid by what `events` say."""
    ordered = sorted(events, key=lambda e: (e.at, e.id))
    if not ordered:
        return given
    effective = dict(given)
    created = answered = first_response = abandoned = None
    resolved: float | None = given.get("resolved_at")
    said_resolution = False
    hold_total = wrap_total = 0.0
    hold_open: float | None = None
    wrap_open: float | None = None
    saw_hold = saw_wrap = False
    transfers = reopens = 0
    escalated = False
    last_assignee: str | None = None
    first_replier: str | None = None

    for event in ordered:
        kind = event.kind
        if kind == "created":
            created = event.at if created is None else created
        elif kind == "answered":
            answered = event.at if answered is None else answered
        elif kind == "agent_message":
            if event.public and event.actor != "bot":
                if first_response is None:
                    first_response = event.at
                if first_replier is None and event.agent_id:
                    first_replier = event.agent_id
        elif kind == "hold_start":
            saw_hold, hold_open = True, event.at if hold_open is None else hold_open
        elif kind == "hold_end" and hold_open is not None:
            hold_total += event.at - hold_open
            hold_open = None
        elif kind == "wrap_start":
            saw_wrap, wrap_open = True, event.at if wrap_open is None else wrap_open
        elif kind == "wrap_end" and wrap_open is not None:
            wrap_total += event.at - wrap_open
            wrap_open = None
        elif kind == "transferred":
            transfers += 1
        elif kind == "escalated":
            escalated = True
        elif kind == "reopened":
            reopens += 1
            said_resolution = True
            if resolved is not None and resolved <= event.at:
                resolved = None
        elif kind == "resolved":
            said_resolution = True
            resolved = event.at
        elif kind == "abandoned":
            abandoned = event.at if abandoned is None else abandoned
        elif kind == "assigned" and event.agent_id:
            last_assignee = event.agent_id

    if created is not None:
        effective["created_at"] = created
    if answered is not None:
        effective["answered_at"] = answered
    if first_response is not None:
        effective["first_response_at"] = first_response
    if saw_hold:
        effective["hold_s"] = hold_total
    if saw_wrap:
        effective["wrap_s"] = wrap_total
    if transfers:
        effective["transfers"] = transfers
    if reopens:
        effective["reopens"] = reopens
    if escalated:
        effective["escalated"] = True
    if said_resolution:
        effective["resolved_at"] = resolved
    if abandoned is not None:
        effective["abandoned_at"] = abandoned
    if not effective.get("agent_id"):
        effective["agent_id"] = last_assignee or first_replier or effective.get("agent_id")
    return effective

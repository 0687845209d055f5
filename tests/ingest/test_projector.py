"""Events build up an interaction (DESIGN.md §2), in `at` order whatever the arrival order."""

from __future__ import annotations

import itertools

from servicepulse.ingest.projector import EventRow, project

GIVEN = {"created_at": 1000.0, "resolved_at": None, "hold_s": 12.0, "transfers": 0,
         "reopens": 0, "escalated": False, "agent_id": None, "first_response_at": None}


def _event(at: float, kind: str, actor: str | None = None, agent: str | None = None,
           public: bool = True) -> EventRow:
    return EventRow(f"e{at:g}-{kind}", at, kind, actor, agent, public)


EVENTS = [
    _event(900, "created"),
    _event(905, "assigned", agent="a2"),
    _event(910, "agent_message", actor="bot"),  # a bot is not a first response
    _event(915, "agent_message", actor="agent", agent="a1", public=False),  # internal note
    _event(930, "agent_message", actor="agent", agent="a1"),
    _event(940, "hold_start"), _event(970, "hold_end"),
    _event(980, "hold_start"), _event(990, "hold_end"),
    _event(1000, "transferred"), _event(1010, "escalated"),
    _event(1100, "resolved"), _event(1200, "reopened"), _event(1300, "resolved"),
    _event(1400, "reopened"),
]


def test_every_event_kind_in_every_arrival_order_gives_the_same_interaction() -> None:
    expected = {
        "created_at": 900.0, "first_response_at": 930.0, "hold_s": 40.0,  # 30 + 10
        "transfers": 1, "reopens": 2, "escalated": True,
        "resolved_at": None,  # reopened at 1400 after the last resolve at 1300
        "agent_id": "a2",  # the record names no agent: the last assignee
    }
    for order in itertools.islice(itertools.permutations(EVENTS), 0, 5000, 97):
        effective = project(GIVEN, order)
        assert {k: effective[k] for k in expected} == expected


def test_fields_the_events_do_not_mention_are_kept() -> None:
    effective = project({**GIVEN, "agent_id": "a9", "resolved_at": 2000.0},
                        [_event(1500, "agent_message", actor="agent", agent="a1")])
    assert effective["agent_id"] == "a9"  # credit stays with the agent the record names
    assert effective["resolved_at"] == 2000.0
    assert effective["hold_s"] == 12.0
    assert effective["first_response_at"] == 1500.0


def test_reopen_before_a_given_resolution_does_not_clear_it() -> None:
    effective = project({**GIVEN, "resolved_at": 5000.0}, [_event(1200, "reopened")])
    assert effective["resolved_at"] == 5000.0 and effective["reopens"] == 1


def test_no_events_is_the_record_as_given() -> None:
    assert project(GIVEN, []) == GIVEN

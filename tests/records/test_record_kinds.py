"""Every one of the fourteen record kinds: a valid example, its defaults, and time handling.

The spec is DESIGN.md §2; the defaults asserted here are the ones its table names in brackets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from record_examples import MINIMAL

from servicepulse.records import RECORD_KINDS, RECORD_MODELS, parse_record, record_to_dict
from servicepulse.records.models import (
    Actor,
    Agent,
    AgentState,
    AgentStateName,
    Calendar,
    Channel,
    Customer,
    Direction,
    Event,
    EventKind,
    Interaction,
    Order,
    OrderKind,
    Role,
    Shift,
    SocialMention,
    SocialPost,
    Survey,
    SurveyKind,
    Team,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_fourteen_kinds_are_the_designs() -> None:
    assert set(RECORD_KINDS) == {
        "team",
        "agent",
        "calendar",
        "customer",
        "interaction",
        "event",
        "survey",
        "agent_state",
        "shift",
        "order",
        "social_post",
        "social_mention",
        "qa_form",
        "qa_review",
    }
    assert set(MINIMAL) == set(RECORD_KINDS)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_minimal_record_of_each_kind_is_valid(kind: str) -> None:
    record = parse_record(MINIMAL[kind])
    assert isinstance(record, RECORD_MODELS[kind])
    assert record.id == MINIMAL[kind]["id"]
    assert record_to_dict(record)["type"] == kind


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_default_kind_stands_in_for_a_missing_type(kind: str) -> None:
    # per-kind CSV: the file name says the kind, the row has no "type"
    data = {k: v for k, v in MINIMAL[kind].items() if k != "type"}
    record = parse_record(data, default_kind=kind)
    assert isinstance(record, RECORD_MODELS[kind])


def test_an_explicit_type_wins_over_the_default_kind() -> None:
    record = parse_record(MINIMAL["team"], default_kind="agent")
    assert isinstance(record, Team)


def test_team() -> None:
    team = parse_record({**MINIMAL["team"], "lead_id": "a9", "calendar_id": "cal1"})
    assert team == Team(id="t1", name="North", lead_id="a9", calendar_id="cal1")
    assert parse_record(MINIMAL["team"]) == Team(id="t1", name="North")


def test_agent_defaults_active_and_no_languages() -> None:
    agent = parse_record(MINIMAL["agent"])
    assert isinstance(agent, Agent)
    assert agent.role is Role.frontline
    assert agent.active is True
    assert agent.languages == []
    assert agent.email is None and agent.team_id is None and agent.hourly_cost is None


def test_agent_with_every_field() -> None:
    agent = parse_record(
        {
            **MINIMAL["agent"],
            "role": "account_manager",
            "email": "s@x.org",
            "team_id": "t1",
            "hourly_cost": 33.65,
            "active": False,
            "languages": ["en", "fr"],
        }
    )
    assert agent == Agent(
        id="a1",
        name="Sam",
        role=Role.account_manager,
        email="s@x.org",
        team_id="t1",
        hourly_cost=33.65,
        active=False,
        languages=["en", "fr"],
    )


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_is_accepted(role: str) -> None:
    assert parse_record({**MINIMAL["agent"], "role": role}).role == Role(role)  # type: ignore[attr-defined]


def test_calendar() -> None:
    calendar = parse_record(
        {
            **MINIMAL["calendar"],
            "hours": {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], "sat": [["00:00", "24:00"]]},
            "holidays": ["2026-12-25"],
        }
    )
    assert isinstance(calendar, Calendar)
    assert calendar.timezone == "Europe/Paris"
    assert calendar.hours == {
        "mon": [("09:00", "12:30"), ("13:30", "18:00")],
        "sat": [("00:00", "24:00")],
    }
    assert calendar.holidays == [date(2026, 12, 25)]
    assert parse_record(MINIMAL["calendar"]).holidays == []  # type: ignore[attr-defined]


def test_customer() -> None:
    customer = parse_record(
        {
            **MINIMAL["customer"],
            "name": "Ada",
            "email": "ada@x.org",
            "segment": "smb",
            "acquired_at": "2025-06-01T00:00:00Z",
            "churned_at": "2026-02-01T00:00:00Z",
        }
    )
    assert customer == Customer(
        id="c1",
        name="Ada",
        email="ada@x.org",
        segment="smb",
        acquired_at=datetime(2025, 6, 1, tzinfo=UTC),
        churned_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    bare = parse_record(MINIMAL["customer"])
    assert isinstance(bare, Customer) and bare.acquired_at is None and bare.churned_at is None


def test_interaction_defaults() -> None:
    interaction = parse_record(MINIMAL["interaction"])
    assert isinstance(interaction, Interaction)
    assert interaction.channel is Channel.chat
    assert interaction.created_at == T0
    assert interaction.direction is Direction.inbound
    assert interaction.reopens == 0
    assert interaction.transfers == 0
    assert interaction.escalated is False
    for optional in (
        "customer_id",
        "agent_id",
        "team_id",
        "queue",
        "category",
        "subject",
        "priority",
        "first_response_at",
        "answered_at",
        "resolved_at",
        "abandoned_at",
        "talk_s",
        "hold_s",
        "wrap_s",
        "handle_s",
        "status",
        "language",
    ):
        assert getattr(interaction, optional) is None, optional


def test_interaction_with_every_field() -> None:
    interaction = parse_record(
        {
            **MINIMAL["interaction"],
            "channel": "phone",
            "direction": "outbound",
            "customer_id": "c1",
            "agent_id": "a1",
            "team_id": "t1",
            "queue": "billing",
            "category": "invoice",
            "subject": "Wrong amount",
            "priority": "high",
            "first_response_at": "2026-03-02T09:00:20Z",
            "answered_at": "2026-03-02T09:00:20Z",
            "resolved_at": "2026-03-02T09:06:00Z",
            "talk_s": 240,
            "hold_s": 45.5,
            "wrap_s": 30,
            "handle_s": 315.5,
            "reopens": 1,
            "transfers": 2,
            "escalated": True,
            "status": "solved",
            "language": "en",
        }
    )
    assert isinstance(interaction, Interaction)
    assert interaction.direction is Direction.outbound
    assert interaction.answered_at == T0 + timedelta(seconds=20)
    assert interaction.resolved_at == T0 + timedelta(minutes=6)
    assert (interaction.talk_s, interaction.hold_s, interaction.wrap_s, interaction.handle_s) == (
        240.0,
        45.5,
        30.0,
        315.5,
    )
    assert (interaction.reopens, interaction.transfers, interaction.escalated) == (1, 2, True)


def test_interaction_times_equal_to_created_at_are_allowed() -> None:
    # an instant answer is not "before" the interaction
    interaction = parse_record(
        {
            **MINIMAL["interaction"],
            "answered_at": "2026-03-02T09:00:00Z",
            "abandoned_at": "2026-03-02T09:00:00Z",
        }
    )
    assert interaction.answered_at == T0  # type: ignore[attr-defined]


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_every_channel_is_accepted(channel: str) -> None:
    record = parse_record({**MINIMAL["interaction"], "channel": channel})
    assert record.channel is Channel(channel)  # type: ignore[attr-defined]


def test_event_defaults_public() -> None:
    event = parse_record(MINIMAL["event"])
    assert isinstance(event, Event)
    assert event.kind_ is EventKind.agent_message
    assert event.public is True
    assert event.actor is None and event.agent_id is None and event.body is None


def test_event_with_every_field() -> None:
    event = parse_record(
        {
            **MINIMAL["event"],
            "actor": "agent",
            "agent_id": "a1",
            "public": False,
            "body": "internal note",
        }
    )
    assert isinstance(event, Event)
    assert (event.actor, event.agent_id, event.public, event.body) == (
        Actor.agent,
        "a1",
        False,
        "internal note",
    )


@pytest.mark.parametrize("kind", [k.value for k in EventKind])
def test_every_event_kind_is_accepted(kind: str) -> None:
    assert parse_record({**MINIMAL["event"], "kind": kind}).kind_ is EventKind(kind)  # type: ignore[attr-defined]


@pytest.mark.parametrize("actor", [a.value for a in Actor])
def test_every_actor_is_accepted(actor: str) -> None:
    assert parse_record({**MINIMAL["event"], "actor": actor}).actor is Actor(actor)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("kind", "scale"), [("csat", (1, 5)), ("nps", (0, 10)), ("ces", (1, 7))])
def test_survey_default_scales(kind: str, scale: tuple[float, float]) -> None:
    survey = parse_record({**MINIMAL["survey"], "kind": kind, "score": scale[0]})
    assert isinstance(survey, Survey)
    assert survey.kind_ is SurveyKind(kind)
    assert survey.scale == scale
    # scale_min/scale_max stay absent: the default is applied, not stored
    assert survey.scale_min is None and survey.scale_max is None
    # both ends of the default scale are valid answers
    assert parse_record({**MINIMAL["survey"], "kind": kind, "score": scale[1]}).score == scale[1]  # type: ignore[attr-defined]


def test_survey_custom_scale() -> None:
    # a 0–10 CSAT question: 8 is valid there, though outside the default 1–5
    survey = parse_record({**MINIMAL["survey"], "score": 8, "scale_min": 0, "scale_max": 10})
    assert isinstance(survey, Survey)
    assert survey.scale == (0, 10)
    assert survey.score == 8
    # only one end given: the other is the kind's default (ces 1–7 → 1–10)
    ces = parse_record({**MINIMAL["survey"], "kind": "ces", "score": 9, "scale_max": 10})
    assert ces.scale == (1, 10)  # type: ignore[attr-defined]


def test_survey_with_every_field() -> None:
    survey = parse_record(
        {
            **MINIMAL["survey"],
            "interaction_id": "i1",
            "customer_id": "c1",
            "agent_id": "a1",
            "comment": "great",
        }
    )
    assert survey == Survey(
        id="s1",
        kind_=SurveyKind.csat,
        score=4,
        submitted_at=T0 + timedelta(hours=1),
        interaction_id="i1",
        customer_id="c1",
        agent_id="a1",
        comment="great",
    )


def test_agent_state_open_while_end_is_null() -> None:
    state = parse_record(MINIMAL["agent_state"])
    assert isinstance(state, AgentState)
    assert state.state is AgentStateName.available
    assert state.end is None
    closed = parse_record({**MINIMAL["agent_state"], "end": "2026-03-02T08:30:00Z"})
    assert closed.end == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # type: ignore[attr-defined]


@pytest.mark.parametrize("state", [s.value for s in AgentStateName])
def test_every_agent_state_is_accepted(state: str) -> None:
    record = parse_record({**MINIMAL["agent_state"], "state": state})
    assert record.state is AgentStateName(state)  # type: ignore[attr-defined]
    # "break" is a Python keyword: the enum member is break_, the value stays "break"
    assert record_to_dict(record)["state"] == state


def test_zero_length_state_and_shift_are_allowed() -> None:
    # MINIMAL's state and shift start at 08:00Z: ending at the same instant is not "before"
    state = parse_record({**MINIMAL["agent_state"], "end": "2026-03-02T08:00:00Z"})
    assert isinstance(state, AgentState) and state.end == state.start
    shift = parse_record({**MINIMAL["shift"], "end": "2026-03-02T08:00:00Z"})
    assert isinstance(shift, Shift) and shift.end == shift.start


def test_shift() -> None:
    shift = parse_record(MINIMAL["shift"])
    assert shift == Shift(
        id="sh1",
        agent_id="a1",
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
        end=datetime(2026, 3, 2, 16, tzinfo=UTC),
    )


def test_order() -> None:
    order = parse_record(
        {**MINIMAL["order"], "currency": "EUR", "interaction_id": "i1", "agent_id": "a1"}
    )
    assert isinstance(order, Order)
    assert order.kind_ is OrderKind.purchase
    assert (order.amount, order.currency, order.interaction_id, order.agent_id) == (
        99.5,
        "EUR",
        "i1",
        "a1",
    )


@pytest.mark.parametrize("kind", [k.value for k in OrderKind])
def test_every_order_kind_is_accepted(kind: str) -> None:
    record = parse_record({**MINIMAL["order"], "kind": kind})
    assert record_to_dict(record)["kind"] == kind


def test_social_post() -> None:
    post = parse_record(
        {
            **MINIMAL["social_post"],
            "agent_id": "a1",
            "impressions": 1000,
            "reach": 800,
            "likes": 40,
            "comments": 5,
            "shares": 3,
            "clicks": 10,
            "saves": 2,
        }
    )
    assert isinstance(post, SocialPost)
    assert (
        post.impressions,
        post.reach,
        post.likes,
        post.comments,
        post.shares,
        post.clicks,
        post.saves,
    ) == (1000, 800, 40, 5, 3, 10, 2)
    bare = parse_record(MINIMAL["social_post"])
    assert isinstance(bare, SocialPost) and bare.impressions is None and bare.likes is None


def test_social_mention() -> None:
    mention = parse_record({**MINIMAL["social_mention"], "author": "@ada", "interaction_id": "i1"})
    assert mention == SocialMention(
        id="m1",
        platform="x",
        at=T0 + timedelta(hours=3, minutes=30),
        text="thanks for the help",
        author="@ada",
        interaction_id="i1",
    )


# --- times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        # +02:00 means two hours ahead of UTC: 11:00+02:00 is 09:00Z
        ("2026-03-02T11:00:00+02:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        # a negative offset crosses midnight: 22:30-05:00 is 03:30Z the next day
        ("2026-03-01T22:30:00-05:00", datetime(2026, 3, 2, 3, 30, tzinfo=UTC)),
        # no offset: UTC
        ("2026-03-02T09:00:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02 09:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00Z", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        # a date alone is its midnight UTC
        ("2026-03-02", datetime(2026, 3, 2, 0, 0, tzinfo=UTC)),
        ("2026-03-02T09:00:00.250+00:00", datetime(2026, 3, 2, 9, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_times_are_converted_to_utc(written: str, utc: datetime) -> None:
    record = parse_record({**MINIMAL["interaction"], "created_at": written})
    assert isinstance(record, Interaction)
    assert record.created_at == utc
    assert record.created_at.utcoffset() == timedelta(0)
    assert record_to_dict(record)["created_at"] == utc.isoformat().replace("+00:00", "Z")


def test_order_of_times_is_checked_after_conversion_to_utc() -> None:
    # 10:30+02:00 (08:30Z) is BEFORE 09:00Z although its wall-clock reads later
    with pytest.raises(Exception) as caught:
        parse_record({**MINIMAL["interaction"], "resolved_at": "2026-03-02T10:30:00+02:00"})
    assert getattr(caught.value, "field", None) == "resolved_at"
    # and 10:30-02:00 (12:30Z) is after, although its wall-clock hour is the same
    ok = parse_record({**MINIMAL["interaction"], "resolved_at": "2026-03-02T10:30:00-02:00"})
    assert ok.resolved_at == datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # type: ignore[attr-defined]


def test_records_are_immutable() -> None:
    record = parse_record(MINIMAL["team"])
    with pytest.raises(Exception, match="frozen"):
        record.id = "other"  # type: ignore[misc]


def test_null_is_absent_so_defaults_apply() -> None:
    # exports often write null for "not known"; it means what an empty CSV cell means
    record = parse_record(
        {
            **MINIMAL["interaction"],
            "direction": None,
            "reopens": None,
            "transfers": None,
            "escalated": None,
            "agent_id": None,
            "resolved_at": None,
        }
    )
    assert isinstance(record, Interaction)
    assert (record.direction, record.reopens, record.transfers, record.escalated) == (
        Direction.inbound,
        0,
        0,
        False,
    )
    assert record.agent_id is None and record.resolved_at is None
    agent = parse_record({**MINIMAL["agent"], "active": None, "languages": None})
    assert isinstance(agent, Agent) and agent.active is True and agent.languages == []
    event = parse_record({**MINIMAL["event"], "public": None})
    assert isinstance(event, Event) and event.public is True

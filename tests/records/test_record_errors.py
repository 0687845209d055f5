"""Invalid records: each one raises RecordError naming the field and saying what was wrong."""

from __future__ import annotations

import contextlib
import pickle
import re
from typing import Any

import pytest
from record_examples import MINIMAL

from servicepulse.records import RecordError, parse_record


def error_of(data: Any, default_kind: str | None = None) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parse_record(data, default_kind)
    return caught.value


def with_(record_kind: str, /, **changes: Any) -> dict[str, Any]:
    """The minimal valid record of a kind with fields changed (None removes a field)."""
    data = {**MINIMAL[record_kind], **changes}
    return {k: v for k, v in data.items() if v is not None}


# --- the whole row ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [[1, 2], "team", 42, None])
def test_not_an_object(data: Any) -> None:
    error = error_of(data)
    assert error.field is None
    assert error.reason.startswith("expected a JSON object, got ")
    assert type(data).__name__ in error.reason


def test_unknown_kind_lists_the_known_ones() -> None:
    error = error_of({"type": "ticket", "id": "tk1"})
    assert error.field == "type"
    assert "unknown record kind 'ticket'" in error.reason
    assert "interaction" in error.reason and "social_mention" in error.reason
    assert error.record_id == "tk1"


def test_missing_type_without_a_default_kind() -> None:
    error = error_of({"id": "x", "name": "North"})
    assert error.field == "type"
    assert error.reason.startswith("missing")


def test_unknown_field_is_refused_not_dropped() -> None:
    # a misspelt field would otherwise vanish silently
    error = error_of(with_("interaction", craeted_at="2026-03-02T09:00:00Z"))
    assert error.field == "craeted_at"
    assert error.reason == "unknown field for a interaction record"
    assert error.kind == "interaction" and error.record_id == "i1"


# --- a missing required field, for every required field of every kind ------------------------

REQUIRED = {
    "team": ["id", "name"],
    "agent": ["id", "name", "role"],
    "calendar": ["id", "timezone", "hours"],
    "customer": ["id"],
    "interaction": ["id", "channel", "created_at"],
    "event": ["id", "interaction_id", "at", "kind"],
    "survey": ["id", "kind", "score", "submitted_at"],
    "agent_state": ["id", "agent_id", "state", "start"],
    "shift": ["id", "agent_id", "start", "end"],
    "order": ["id", "customer_id", "at", "amount", "kind"],
    "social_post": ["id", "platform", "posted_at"],
    "social_mention": ["id", "platform", "at", "text"],
    "qa_form": ["id", "name", "categories"],
    "qa_review": ["id", "interaction_id", "reviewer_id", "form_id", "at", "scores"],
}


@pytest.mark.parametrize(
    ("kind", "field"), [(kind, field) for kind, fields in REQUIRED.items() for field in fields]
)
def test_missing_required_field(kind: str, field: str) -> None:
    data = {k: v for k, v in MINIMAL[kind].items() if k != field}
    error = error_of(data)
    assert error.field == field
    assert error.reason == "missing required field"
    assert error.kind == kind


def test_minimal_examples_hold_exactly_the_required_fields() -> None:
    # so that the test above covers every required field of DESIGN.md §2
    for kind, fields in REQUIRED.items():
        assert set(MINIMAL[kind]) - {"type"} == set(fields), kind


# --- unknown enumeration values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "value", "expected"),
    [
        (
            "interaction",
            "channel",
            "fax",
            "'phone', 'email', 'chat', 'social', 'sms', 'web' or 'in_person'",
        ),
        ("interaction", "direction", "sideways", "'inbound' or 'outbound'"),
        ("agent", "role", "boss", "'frontline'"),
        ("event", "kind", "explode", "'created'"),
        ("event", "actor", "robot", "'customer', 'agent', 'bot' or 'system'"),
        ("survey", "kind", "csat5", "'csat', 'nps' or 'ces'"),
        ("agent_state", "state", "asleep", "'available'"),
        (
            "order",
            "kind",
            "gift",
            "'purchase', 'renewal', 'upsell', 'cancellation', 'return' or 'exchange'",
        ),
    ],
)
def test_unknown_enum_value(kind: str, field: str, value: str, expected: str) -> None:
    error = error_of(with_(kind, **{field: value}))
    assert error.field == field
    assert expected in error.reason  # says what would be accepted
    assert error.reason.endswith(f"(got {value!r})")  # and what was given


def test_enum_values_are_case_sensitive() -> None:
    assert error_of(with_("interaction", channel="Phone")).field == "channel"


# --- scores outside their scale ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "score", "scale"),
    [
        ("csat", 0, "1–5"),
        ("csat", 6, "1–5"),
        ("csat", 5.5, "1–5"),
        ("nps", -1, "0–10"),
        ("nps", 11, "0–10"),
        ("ces", 0, "1–7"),
        ("ces", 8, "1–7"),
    ],
)
def test_score_outside_default_scale(kind: str, score: float, scale: str) -> None:
    error = error_of(with_("survey", kind=kind, score=score))
    assert error.field == "score"
    assert error.reason == f"{score:g} is outside the {kind} scale {scale}"


def test_score_outside_custom_scale() -> None:
    # 0–10 CSAT: 11 is outside; 0 is inside (although outside the default 1–5)
    error = error_of(with_("survey", score=11, scale_min=0, scale_max=10))
    assert (error.field, error.reason) == ("score", "11 is outside the csat scale 0–10")
    assert parse_record(with_("survey", score=0, scale_min=0, scale_max=10)).score == 0  # type: ignore[attr-defined]
    # a custom 1–3 NPS-like scale: 4 is outside although inside the default 0–10
    error = error_of(with_("survey", kind="nps", score=4, scale_min=1, scale_max=3))
    assert (error.field, error.reason) == ("score", "4 is outside the nps scale 1–3")


@pytest.mark.parametrize(("scale_min", "scale_max"), [(5, 1), (3, 3)])
def test_scale_that_is_not_a_range(scale_min: float, scale_max: float) -> None:
    error = error_of(with_("survey", score=3, scale_min=scale_min, scale_max=scale_max))
    assert error.field == "scale_max"
    assert error.reason == f"{scale_max} is not above scale_min {scale_min}"


@pytest.mark.parametrize(
    ("field", "value"), [("score", "nan"), ("score", "inf"), ("scale_max", "inf")]
)
def test_non_finite_numbers_are_refused(field: str, value: str) -> None:
    error = error_of(with_("survey", **{field: value}))
    assert error.field == field
    assert "finite number" in error.reason


def test_non_finite_amount_is_refused() -> None:
    assert error_of(with_("order", amount="inf")).field == "amount"
    assert error_of(with_("order", amount=float("-inf"))).field == "amount"


# --- an end before its start ------------------------------------------------------------------


def test_agent_state_end_before_start() -> None:
    error = error_of(with_("agent_state", end="2026-03-02T07:59:59Z"))
    assert (error.field, error.reason) == ("end", "ends before its start")
    assert (error.kind, error.record_id) == ("agent_state", "st1")


def test_shift_end_before_start() -> None:
    error = error_of(with_("shift", end="2026-03-02T07:00:00Z"))
    assert (error.field, error.reason) == ("end", "ends before its start")


@pytest.mark.parametrize(
    "field", ["first_response_at", "answered_at", "resolved_at", "abandoned_at"]
)
def test_interaction_time_before_created_at(field: str) -> None:
    error = error_of(with_("interaction", **{field: "2026-03-02T08:59:59Z"}))
    assert error.field == field
    assert error.reason == "2026-03-02T08:59:59+00:00 is before created_at"


def test_customer_churned_before_acquired() -> None:
    error = error_of(with_("customer", acquired_at="2026-01-01", churned_at="2025-12-31"))
    assert (error.field, error.reason) == ("churned_at", "ends before acquired_at")


# --- negative durations and counts ------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["talk_s", "hold_s", "wrap_s", "handle_s", "reopens", "transfers"]
)
def test_negative_duration_or_count(field: str) -> None:
    error = error_of(with_("interaction", **{field: -1}))
    assert error.field == field
    assert error.reason == "Input should be greater than or equal to 0 (got -1)"


@pytest.mark.parametrize(
    "field", ["impressions", "reach", "likes", "comments", "shares", "clicks", "saves"]
)
def test_negative_social_count(field: str) -> None:
    assert error_of(with_("social_post", **{field: -3})).field == field


def test_negative_hourly_cost() -> None:
    assert error_of(with_("agent", hourly_cost=-0.01)).field == "hourly_cost"


# --- unparseable times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-03-32T10:00:00Z",
        "2026-13-01",
        "2026-03-02T25:00:00Z",
        "02/03/2026 09:00",
        "",
    ],
)
def test_unparseable_time(value: str) -> None:
    error = error_of(with_("interaction", created_at=value))
    assert error.field == "created_at"
    assert "valid datetime" in error.reason
    assert "ISO 8601" in error.reason  # says how to write it
    assert error.reason.endswith(f"(got {value!r})")


@pytest.mark.parametrize("value", [1772442000, 1772442000.5, "1772442000", "20260302"])
def test_epoch_numbers_are_not_times(value: Any) -> None:
    # pydantic alone would read "20260302" (ISO basic date) as 1970-08-23: refused instead
    error = error_of(with_("interaction", created_at=value))
    assert error.field == "created_at"
    assert error.reason.startswith("epoch numbers are not accepted: write times as ISO 8601")


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("event", "at"),
        ("survey", "submitted_at"),
        ("agent_state", "start"),
        ("agent_state", "end"),
        ("shift", "start"),
        ("shift", "end"),
        ("order", "at"),
        ("social_post", "posted_at"),
        ("social_mention", "at"),
        ("customer", "acquired_at"),
        ("customer", "churned_at"),
    ],
)
def test_every_time_field_is_checked(kind: str, field: str) -> None:
    assert error_of(with_(kind, **{field: "not a time"})).field == field


# --- calendars --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "CEST", "", "../../etc/passwd", "Europe/paris"]
)
def test_bad_iana_timezone(timezone: str) -> None:
    error = error_of(with_("calendar", timezone=timezone))
    assert error.field == "timezone"
    assert error.reason.startswith(f"{timezone!r} is not an IANA time zone")


@pytest.mark.parametrize(
    ("hours", "field", "reason"),
    [
        ({"mon": [["17:00", "09:00"]]}, "hours", "mon range 17:00-09:00 ends before it starts"),
        ({"mon": [["09:00", "09:00"]]}, "hours", "mon range 09:00-09:00 ends before it starts"),
        (
            {"monday": [["09:00", "17:00"]]},
            "hours",
            "'monday' is not one of mon, tue, wed, thu, fri, sat, sun",
        ),
        ({"mon": [["9am", "5pm"]]}, "hours", "time of day '9am' is not HH:MM (e.g. 09:00)"),
        # one digit hours: refused, not compared as text ("9:00" > "17:00" as text)
        ({"mon": [["9:00", "17:00"]]}, "hours", "time of day '9:00' is not HH:MM (e.g. 09:00)"),
        ({"mon": [["09:00", "25:00"]]}, "hours", "time of day '25:00' is out of range 00:00-24:00"),
        ({"mon": [["09:00", "24:30"]]}, "hours", "time of day '24:30' is out of range 00:00-24:00"),
        ({"mon": [["09:60", "17:00"]]}, "hours", "time of day '09:60' is out of range 00:00-24:00"),
        ({"mon": [["09:00"]]}, "hours.mon.0.1", "missing required field"),
        # overlapping ranges (in any order) would count business minutes twice
        (
            {"tue": [["13:00", "18:00"], ["09:00", "13:30"]]},
            "hours",
            "tue ranges 09:00-13:30 and 13:00-18:00 overlap",
        ),
    ],
)
def test_bad_calendar_hours(hours: Any, field: str, reason: str) -> None:
    error = error_of(with_("calendar", hours=hours))
    assert (error.field, error.reason) == (field, reason)


def test_hours_must_be_an_object() -> None:
    error = error_of(with_("calendar", hours=[["09:00", "17:00"]]))
    assert error.field == "hours"
    assert "valid dictionary" in error.reason


def test_bad_holiday_date() -> None:
    error = error_of(with_("calendar", holidays=["2026-02-30"]))
    assert error.field == "holidays.0"
    assert "write dates as ISO 8601" in error.reason


# --- other field checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "String should have at least 1 character (got '')"),
        (5, "Input should be a valid string (got 5)"),
        ("x" * 201, "String should have at most 200 characters"),
    ],
)
def test_bad_id(value: Any, reason: str) -> None:
    error = error_of(with_("team", id=value))
    assert error.field == "id"
    assert error.reason.startswith(reason)


def test_bad_boolean() -> None:
    error = error_of(with_("interaction", escalated="maybe"))
    assert error.field == "escalated"
    assert "valid boolean" in error.reason and "'maybe'" in error.reason


def test_currency_is_three_letters() -> None:
    assert error_of(with_("order", currency="EURO")).field == "currency"


# --- the error object itself ------------------------------------------------------------------


def test_error_message_names_the_field() -> None:
    error = error_of(with_("shift", end="2026-03-02T07:00:00Z"))
    assert str(error) == "field 'end': ends before its start"
    assert str(RecordError(None, "not valid JSON")) == "not valid JSON"


def test_error_survives_pickling() -> None:
    # process pools send exceptions between processes by pickling them
    error = error_of(with_("shift", end="2026-03-02T07:00:00Z"))
    again = pickle.loads(pickle.dumps(error))
    assert again == error
    assert (again.field, again.reason, again.kind, again.record_id) == (
        "end",
        "ends before its start",
        "shift",
        "sh1",
    )


def test_error_passes_through_context_managers_and_takes_notes() -> None:
    # Python assigns __traceback__ / __notes__ on exceptions; a frozen dataclass refused that
    @contextlib.contextmanager
    def nothing() -> Any:
        yield

    with pytest.raises(RecordError, match=re.escape("field 'f': r")), nothing():
        raise RecordError("f", "r")
    error = RecordError("f", "r")
    error.add_note("line 3 of file.jsonl")
    assert error.__notes__ == ["line 3 of file.jsonl"]


def test_null_required_field_is_missing() -> None:
    error = error_of(with_("interaction", channel=None) | {"channel": None})
    assert (error.field, error.reason) == ("channel", "missing required field")


def test_touching_hour_ranges_do_not_overlap() -> None:
    # 09:00-12:00 then 12:00-17:00: contiguous, not overlapping
    ok = with_("calendar", hours={"mon": [["12:00", "17:00"], ["09:00", "12:00"]]})
    assert parse_record(ok).hours == {"mon": [("12:00", "17:00"), ("09:00", "12:00")]}  # type: ignore[attr-defined]

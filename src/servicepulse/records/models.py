"""The canonical record format (docs/records.md): fourteen kinds, validated with pydantic.

Every record that enters ServicePulse is, or is converted to, one of these models. Times are
timezone-aware UTC after validation (a time without offset is read as UTC); durations are
seconds. Validation errors name the field, so the importer can quarantine with a reason.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    model_validator,
)

from servicepulse.records import plausible


def _as_utc(value: datetime) -> datetime:
    # docs/records.md: a time without offset is UTC; and only plausible times (see `plausible`).
    limits = plausible._current
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    else:
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            # 0001-01-01T00:00:00+01:00 or 9999-12-31T23:59:59-01:00: no such UTC time. Said
            # as a ValueError (pydantic reports those; an OverflowError would escape it).
            raise ValueError(limits.too_early() if value.year < 5000
                             else limits.too_late()) from None
    if value < limits.earliest:
        raise ValueError(limits.too_early())
    if value >= limits.after:
        raise ValueError(limits.too_late())
    return value


def _iso_time_only(value: Any) -> Any:
    # pydantic would read a number, or a string of digits such as the ISO basic date "20260101",
    # as epoch seconds (1970-08-23): refuse both rather than store a wrong time silently.
    if type(value) is str and ":" in value:
        return value  # the usual ISO text: a ":" is never part of a number (checked first)
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("epoch numbers are not accepted: write times as ISO 8601, "
                         "e.g. 2026-03-01T09:30:00Z or 2026-03-01T11:30:00+02:00")
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_iso_time_only), AfterValidator(_as_utc)]
def _plausible_duration(value: float) -> float:
    limits = plausible._current
    if value > limits.max_duration_s:
        raise ValueError(limits.too_long())
    return value


RecordId = Annotated[str, Field(min_length=1, max_length=200)]
# A duration: seconds, not negative, finite (the models' allow_inf_nan=False) and plausible.
Seconds = Annotated[NonNegativeFloat, AfterValidator(_plausible_duration)]
# A count: a whole number >= 0 that the store's integer columns hold (32 bits on PostgreSQL).
Count = Annotated[int, Field(ge=0, le=2_147_483_647)]


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    chat = "chat"
    social = "social"
    sms = "sms"
    web = "web"
    in_person = "in_person"


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Role(StrEnum):
    frontline = "frontline"
    technical_support = "technical_support"
    customer_success = "customer_success"
    social_media = "social_media"
    account_manager = "account_manager"
    team_lead = "team_lead"
    manager = "manager"


class EventKind(StrEnum):
    created = "created"
    queued = "queued"
    assigned = "assigned"
    answered = "answered"
    agent_message = "agent_message"
    customer_message = "customer_message"
    hold_start = "hold_start"
    hold_end = "hold_end"
    wrap_start = "wrap_start"
    wrap_end = "wrap_end"
    transferred = "transferred"
    escalated = "escalated"
    resolved = "resolved"
    reopened = "reopened"
    abandoned = "abandoned"
    note = "note"


class Actor(StrEnum):
    customer = "customer"
    agent = "agent"
    bot = "bot"
    system = "system"


class SurveyKind(StrEnum):
    csat = "csat"
    nps = "nps"
    ces = "ces"


class AgentStateName(StrEnum):
    available = "available"
    handling = "handling"
    after_call_work = "after_call_work"
    break_ = "break"
    training = "training"
    meeting = "meeting"
    offline = "offline"


class ActivityKind(StrEnum):
    """What a stretch of a shift is planned for (the rest of the shift is work)."""

    work = "work"
    break_ = "break"
    training = "training"
    meeting = "meeting"


class OrderKind(StrEnum):
    purchase = "purchase"
    renewal = "renewal"
    upsell = "upsell"
    cancellation = "cancellation"
    return_ = "return"
    exchange = "exchange"


# Default survey scales (docs/records.md): csat 1–5, nps 0–10, ces 1–7.
SURVEY_SCALES: dict[SurveyKind, tuple[float, float]] = {
    SurveyKind.csat: (1, 5),
    SurveyKind.nps: (0, 10),
    SurveyKind.ces: (1, 7),
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Record(BaseModel):
    """Fields every kind shares; `type` names the kind."""

    # allow_inf_nan=False: "inf" or "nan" in a score, amount or duration is bad input, and
    # would not survive a JSON round trip anyway (subclasses' model_config merges with this).
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False,
                              allow_inf_nan=False)
    record_type: ClassVar[str]
    id: RecordId


class Team(Record):
    record_type: ClassVar[str] = "team"
    type: Literal["team"] = "team"
    name: Annotated[str, Field(min_length=1, max_length=200)]
    lead_id: RecordId | None = None
    calendar_id: RecordId | None = None


class Agent(Record):
    record_type: ClassVar[str] = "agent"
    type: Literal["agent"] = "agent"
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    email: Annotated[str, Field(max_length=320)] | None = None
    team_id: RecordId | None = None
    hourly_cost: NonNegativeFloat | None = None
    active: bool = True
    languages: list[Annotated[str, Field(max_length=35)]] = Field(default_factory=list)


HourRange = tuple[str, str]


def _clock_minutes(value: str) -> int:
    """Minutes since midnight of an "HH:MM" time of day ("24:00" ends a day)."""
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"hours: time of day {value!r} is not HH:MM (e.g. 09:00)")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute != 0):
        raise ValueError(f"hours: time of day {value!r} is out of range 00:00-24:00")
    return hour * 60 + minute


class Calendar(Record):
    record_type: ClassVar[str] = "calendar"
    type: Literal["calendar"] = "calendar"
    timezone: str
    hours: dict[str, list[HourRange]]
    holidays: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Calendar:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone "
                             "(e.g. Europe/Paris, America/New_York, UTC)") from exc
        for day, ranges in self.hours.items():
            if day not in WEEKDAYS:
                raise ValueError(f"hours: {day!r} is not one of {', '.join(WEEKDAYS)}")
            spans: list[tuple[int, int, str]] = []
            for start, end in ranges:
                # compared as minutes, not as text: "9:00" < "17:00" is false as text
                start_minutes = _clock_minutes(start)
                end_minutes = _clock_minutes(end)
                if end_minutes <= start_minutes:
                    raise ValueError(f"hours: {day} range {start}-{end} ends before it starts")
                spans.append((start_minutes, end_minutes, f"{start}-{end}"))
            # overlapping ranges would count the same business minutes twice
            spans.sort()
            for (_, earlier_end, earlier), (later_start, _, later) in pairwise(spans):
                if later_start < earlier_end:
                    raise ValueError(f"hours: {day} ranges {earlier} and {later} overlap")
        return self


class Customer(Record):
    record_type: ClassVar[str] = "customer"
    type: Literal["customer"] = "customer"
    name: Annotated[str, Field(max_length=200)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    segment: Annotated[str, Field(max_length=100)] | None = None
    acquired_at: UtcDatetime | None = None
    churned_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Customer:
        if self.acquired_at and self.churned_at and self.churned_at < self.acquired_at:
            raise ValueError("churned_at: ends before acquired_at")
        return self


class Interaction(Record):
    record_type: ClassVar[str] = "interaction"
    type: Literal["interaction"] = "interaction"
    channel: Channel
    created_at: UtcDatetime
    direction: Direction = Direction.inbound
    customer_id: RecordId | None = None
    agent_id: RecordId | None = None
    team_id: RecordId | None = None
    queue: Annotated[str, Field(max_length=100)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    subject: Annotated[str, Field(max_length=1000)] | None = None
    priority: Annotated[str, Field(max_length=50)] | None = None
    first_response_at: UtcDatetime | None = None
    answered_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = None
    abandoned_at: UtcDatetime | None = None
    talk_s: Seconds | None = None
    hold_s: Seconds | None = None
    wrap_s: Seconds | None = None
    handle_s: Seconds | None = None
    reopens: Count = 0
    transfers: Count = 0
    escalated: bool = False
    status: Annotated[str, Field(max_length=50)] | None = None
    language: Annotated[str, Field(max_length=35)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Interaction:
        for name in ("first_response_at", "answered_at", "resolved_at", "abandoned_at"):
            value = getattr(self, name)
            if value is not None and value < self.created_at:
                raise ValueError(f"{name}: {value.isoformat()} is before created_at")
        return self


class Event(Record):
    record_type: ClassVar[str] = "event"
    type: Literal["event"] = "event"
    interaction_id: RecordId
    at: UtcDatetime
    kind_: EventKind = Field(alias="kind")
    actor: Actor | None = None
    agent_id: RecordId | None = None
    public: bool = True
    body: Annotated[str, Field(max_length=20000)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Survey(Record):
    record_type: ClassVar[str] = "survey"
    type: Literal["survey"] = "survey"
    kind_: SurveyKind = Field(alias="kind")
    score: float
    submitted_at: UtcDatetime
    scale_min: float | None = None
    scale_max: float | None = None
    interaction_id: RecordId | None = None
    customer_id: RecordId | None = None
    agent_id: RecordId | None = None
    comment: Annotated[str, Field(max_length=20000)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> Survey:
        low, high = self.scale
        if high <= low:
            raise ValueError(f"scale_max: {high:g} is not above scale_min {low:g}")
        if not low <= self.score <= high:
            raise ValueError(f"score: {self.score:g} is outside the {self.kind_.value} scale "
                             f"{low:g}–{high:g}")
        return self

    @property
    def scale(self) -> tuple[float, float]:
        default_low, default_high = SURVEY_SCALES[self.kind_]
        low = default_low if self.scale_min is None else self.scale_min
        high = default_high if self.scale_max is None else self.scale_max
        return low, high


class AgentState(Record):
    record_type: ClassVar[str] = "agent_state"
    type: Literal["agent_state"] = "agent_state"
    agent_id: RecordId
    state: AgentStateName
    start: UtcDatetime
    end: UtcDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> AgentState:
        if self.end is not None and self.end < self.start:
            raise ValueError("end: ends before its start")
        return self


class Activity(BaseModel):
    """A planned stretch of a shift: a break, a training, a meeting (or work, said outright)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)
    kind_: ActivityKind = Field(alias="kind")
    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _check(self) -> Activity:
        if self.end <= self.start:
            raise ValueError("end: does not end after its start")
        return self


# Activities a shift may plan: a long day of short breaks, trainings and meetings fits.
MAX_ACTIVITIES = 48


class Shift(Record):
    record_type: ClassVar[str] = "shift"
    type: Literal["shift"] = "shift"
    agent_id: RecordId
    start: UtcDatetime
    end: UtcDatetime
    # adherence compares the agent's states with these (the rest of the shift is work)
    activities: Annotated[list[Activity], Field(max_length=MAX_ACTIVITIES)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Shift:
        if self.end < self.start:
            raise ValueError("end: ends before its start")
        planned = list(enumerate(self.activities or ()))
        for index, activity in planned:
            if activity.start < self.start or activity.end > self.end:
                raise ValueError(
                    f"activities.{index}: {activity.kind_.value} {_hhmm(activity.start)}-"
                    f"{_hhmm(activity.end)} is outside its shift {_hhmm(self.start)}-"
                    f"{_hhmm(self.end)} (UTC); an activity lies inside its shift")
        for (first, earlier), (second, later) in pairwise(
                sorted(planned, key=lambda item: item[1].start)):
            if later.start < earlier.end:
                raise ValueError(
                    f"activities.{max(first, second)}: {later.kind_.value} from "
                    f"{_hhmm(later.start)} overlaps activities.{min(first, second)} "
                    f"({earlier.kind_.value} until {_hhmm(earlier.end)}); a shift's "
                    "activities must not overlap")
        return self


def _hhmm(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


class Order(Record):
    record_type: ClassVar[str] = "order"
    type: Literal["order"] = "order"
    customer_id: RecordId
    at: UtcDatetime
    amount: float
    kind_: OrderKind = Field(alias="kind")
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    interaction_id: RecordId | None = None
    agent_id: RecordId | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SocialPost(Record):
    record_type: ClassVar[str] = "social_post"
    type: Literal["social_post"] = "social_post"
    platform: Annotated[str, Field(min_length=1, max_length=50)]
    posted_at: UtcDatetime
    agent_id: RecordId | None = None
    impressions: Count | None = None
    reach: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    clicks: Count | None = None
    saves: Count | None = None


class SocialMention(Record):
    record_type: ClassVar[str] = "social_mention"
    type: Literal["social_mention"] = "social_mention"
    platform: Annotated[str, Field(min_length=1, max_length=50)]
    at: UtcDatetime
    text: Annotated[str, Field(max_length=20000)]
    author: Annotated[str, Field(max_length=200)] | None = None
    interaction_id: RecordId | None = None


# A QA category's name: it is a key of every review's scores and the suffix of its KPI
# (iqs_<name>), so lower-case letters, digits and underscores, starting with a letter.
QA_CATEGORY_PATTERN = r"^[a-z][a-z0-9_]*$"


def _category_name(value: str) -> str:
    if not re.fullmatch(QA_CATEGORY_PATTERN, value):
        raise ValueError(f"{value!r} is not a category name: use lower-case letters, digits "
                         "and underscores, starting with a letter (e.g. tone, first_answer)")
    return value


QaCategoryName = Annotated[str, Field(min_length=1, max_length=60,
                                      json_schema_extra={"pattern": QA_CATEGORY_PATTERN}),
                           AfterValidator(_category_name)]


class QaCategory(BaseModel):
    """One criterion of a QA form, scored on its own scale."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: QaCategoryName
    weight: Annotated[float, Field(gt=0)]
    scale_max: float
    scale_min: float = 0
    critical: bool = False
    description: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _check(self) -> QaCategory:
        if self.scale_max <= self.scale_min:
            raise ValueError(f"scale_max: {self.scale_max:g} is not above scale_min "
                             f"{self.scale_min:g} (category {self.name})")
        return self


class QaForm(Record):
    """A quality-review form: the categories a reviewer scores a conversation on."""

    record_type: ClassVar[str] = "qa_form"
    type: Literal["qa_form"] = "qa_form"
    name: Annotated[str, Field(min_length=1, max_length=200)]
    categories: Annotated[list[QaCategory], Field(min_length=1, max_length=100)]
    role: Role | None = None
    channel: Channel | None = None

    @model_validator(mode="after")
    def _check(self) -> QaForm:
        seen: set[str] = set()
        for category in self.categories:
            if category.name in seen:
                raise ValueError(f"categories: {category.name!r} is named twice")
            seen.add(category.name)
        return self


class QaReview(Record):
    """One reviewer's scores of one interaction against a form. Whether the scores fit the
    form (every category scored, within its scale) needs the form: the importer checks it."""

    record_type: ClassVar[str] = "qa_review"
    type: Literal["qa_review"] = "qa_review"
    interaction_id: RecordId
    reviewer_id: RecordId
    form_id: RecordId
    at: UtcDatetime
    scores: Annotated[dict[Annotated[str, Field(max_length=60)], float], Field(min_length=1)]
    calibration: bool = False
    comment: Annotated[str, Field(max_length=20000)] | None = None


RECORD_MODELS: dict[str, type[Record]] = {
    model.record_type: model
    for model in (
        Team, Agent, Calendar, Customer, Interaction, Event, Survey, AgentState, Shift, Order,
        SocialPost, SocialMention, QaForm, QaReview,
    )
}
RECORD_KINDS: tuple[str, ...] = tuple(RECORD_MODELS)


def record_to_dict(record: Record) -> dict[str, Any]:
    """The record as canonical JSON-ready data (aliases restored, times as ISO 8601)."""
    return record.model_dump(mode="json", by_alias=True, exclude_none=True)

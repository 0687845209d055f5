"""Business hours: hand-computed spans across the 2026 DST changes, a holiday, overnight spans and a
weekend; a brute-force check of the vectorised path; and the store refresher on both stores.

Europe/London in 2026: clocks go forward on Sunday 29 March at 01:00 GMT (01:00 -> 02:00 BST)
and back on Sunday 25 October at 01:00 GMT (02:00 BST -> 01:00 GMT). Good Friday is 3 April.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest
from sqlalchemy import Engine, select, update

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.kpi.business_hours import BusinessCalendar, refresh_business_durations
from servicepulse.store import tables

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
HOUR = 3600.0


def at(local: str, zone: ZoneInfo = LONDON) -> float:
    """Epoch seconds of a local wall-clock time (unambiguous times only)."""
    return datetime.fromisoformat(local).replace(tzinfo=zone).timestamp()


@pytest.fixture
def uk_office() -> BusinessCalendar:
    return BusinessCalendar("Europe/London", WEEKDAYS_9_TO_5, ["2026-04-03"])


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # within one day
        ("2026-03-18T10:15", "2026-03-18T11:45", 1.5 * HOUR),
        # before opening to after closing: the whole day, 8 h
        ("2026-03-18T06:00", "2026-03-18T20:00", 8 * HOUR),
        # overnight: Tue 15:00-17:00 (2 h) + Wed 09:00-11:30 (2.5 h), in BST
        ("2026-03-31T15:00", "2026-04-01T11:30", 4.5 * HOUR),
        # a weekend: Fri 16:00-17:00 + Mon 09:00-10:00, in GMT
        ("2026-03-20T16:00", "2026-03-23T10:00", 2 * HOUR),
        # across spring forward: Fri 16:00 GMT (16:00 UTC) to Mon 10:00 BST (09:00 UTC): 1 h + 1 h.
        # (Hours read in UTC would give Monday 0 h, as 09:00 UTC is when the office opens.)
        ("2026-03-27T16:00", "2026-03-30T10:00", 2 * HOUR),
        # across fall back: Fri 16:00 BST (15:00 UTC) to Mon 10:00 GMT (10:00 UTC): 1 h + 1 h
        ("2026-10-23T16:00", "2026-10-26T10:00", 2 * HOUR),
        # a holiday: Thu 2 Apr 16:00-17:00, Good Friday closed, weekend, Mon 09:00-09:30
        ("2026-04-02T16:00", "2026-04-06T09:30", 1.5 * HOUR),
        # a whole week with the holiday in it: 4 days × 8 h
        ("2026-03-30T00:00", "2026-04-06T00:00", 32 * HOUR),
        # entirely outside hours: Saturday; then an evening
        ("2026-03-21T09:00", "2026-03-21T17:00", 0.0),
        ("2026-03-18T17:00", "2026-03-19T09:00", 0.0),
        # the end before the start: the negative of the forward span
        ("2026-03-18T11:45", "2026-03-18T10:15", -1.5 * HOUR),
    ],
)
def test_business_seconds_hand_computed(
    uk_office: BusinessCalendar, start: str, end: str, expected: float
) -> None:
    assert uk_office.business_seconds(at(start), at(end)) == expected


def test_a_whole_day_open_lasts_23_and_25_hours_on_the_change_days() -> None:
    sundays = BusinessCalendar("Europe/London", {"sun": [["00:00", "24:00"]]})
    # Saturday noon to Tuesday: only Sunday is open; the clock runs 00:00-24:00 in 23 h in March
    # (01:00 GMT jumps to 02:00 BST) and in 25 h in October (01:00-02:00 is lived twice).
    assert sundays.business_seconds(at("2026-03-28T12:00"), at("2026-03-31T00:00")) == 23 * HOUR
    assert sundays.business_seconds(at("2026-10-24T12:00"), at("2026-10-27T00:00")) == 25 * HOUR
    assert sundays.business_seconds(at("2026-03-21T12:00"), at("2026-03-24T00:00")) == 24 * HOUR


def test_hours_in_the_skipped_and_repeated_clock_hour() -> None:
    night = BusinessCalendar("Europe/London", {"sun": [["01:00", "03:00"]]})
    # 29 March: 01:00-02:00 never shows on the clock; 02:00-03:00 BST is 01:00-02:00 UTC: 1 h.
    assert night.business_seconds(at("2026-03-28T12:00"), at("2026-03-31T00:00")) == 1 * HOUR
    # 25 October: the clock shows 01:00-02:00 BST (00:00-01:00 UTC), then 01:00-03:00 GMT
    # (01:00-03:00 UTC): 3 h, one interval 00:00-03:00 UTC.
    assert night.business_seconds(at("2026-10-24T12:00"), at("2026-10-27T00:00")) == 3 * HOUR
    october = datetime(2026, 10, 25, tzinfo=ZoneInfo("UTC")).timestamp()
    assert night.open_intervals(at("2026-10-24T12:00"), at("2026-10-27T00:00")) == [
        (october, october + 3 * HOUR)
    ]


def test_overlapping_ranges_and_midnight_join_count_once() -> None:
    calendar = BusinessCalendar(
        "Europe/London",
        {"mon": [["09:00", "12:00"], ["11:00", "14:00"], ["20:00", "24:00"]],
         "tue": [["00:00", "02:00"]]},
    )
    # Mon 09:00-14:00 (5 h, not 6) + Mon 20:00 to Tue 02:00 (6 h)
    assert calendar.business_seconds(at("2026-03-16T00:00"), at("2026-03-18T00:00")) == 11 * HOUR
    assert calendar.open_intervals(at("2026-03-16T19:00"), at("2026-03-17T12:00")) == [
        (at("2026-03-16T20:00"), at("2026-03-17T02:00"))
    ]


def _brute_force(
    zone: ZoneInfo, hours: Mapping[str, Sequence[Sequence[str]]], holidays: set[str],
    start: float, end: float, step: int = 900,
) -> float:
    """Independent method: walk the span in steps, reading the local clock at each step."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    total = 0.0
    instant = start
    while instant < end:
        local = datetime.fromtimestamp(instant, zone)
        clock = local.strftime("%H:%M")
        if local.date().isoformat() not in holidays and any(
            opens <= clock < closes.replace("24:00", "24:01")
            for opens, closes in hours.get(names[local.weekday()], ())
        ):
            total += step
        instant += step
    return total


@pytest.mark.parametrize(
    ("zone_name", "month_start"),
    [
        ("Europe/London", "2026-03-20T00:00"),
        ("Europe/London", "2026-10-18T00:00"),
        ("America/New_York", "2026-03-03T00:00"),  # DST starts 8 March 02:00
        ("Australia/Lord_Howe", "2026-03-30T00:00"),  # half-hour change, 5 April 02:00
    ],
)
def test_vectorised_path_matches_a_brute_force_walk(zone_name: str, month_start: str) -> None:
    zone = ZoneInfo(zone_name)
    hours = {"mon": [["08:30", "12:00"], ["13:00", "18:00"]], "tue": [["09:00", "17:00"]],
             "wed": [["00:00", "24:00"]], "thu": [["22:00", "24:00"]], "fri": [["00:00", "06:30"]],
             "sat": [["01:00", "03:30"]], "sun": [["00:30", "02:30"], ["10:00", "16:00"]]}
    base = at(month_start, zone)
    holidays = {(datetime.fromtimestamp(base, zone) + timedelta(days=4)).date().isoformat()}
    calendar = BusinessCalendar(zone_name, hours, sorted(holidays))
    generator = random.Random(20260329)
    quarter_hours = 14 * 96  # a fortnight around the change, on 15-minute marks
    starts = [base + 900 * generator.randrange(quarter_hours) for _ in range(30)]
    ends = [start + 900 * generator.randrange(2 * 96) for start in starts]
    measured = calendar.business_seconds_many(np.array(starts), np.array(ends))
    expected = [_brute_force(zone, hours, holidays, start, end)
                for start, end in zip(starts, ends, strict=True)]
    assert measured.tolist() == expected
    assert sum(expected) > 0


def test_missing_instants_give_nan() -> None:
    calendar = BusinessCalendar("UTC", WEEKDAYS_9_TO_5)
    result = calendar.business_seconds_many(
        np.array([at("2026-03-18T09:00"), np.nan]), np.array([np.nan, at("2026-03-18T10:00")])
    )
    assert np.isnan(result).all()
    assert np.isnan(calendar.business_seconds_many(np.array([np.nan]), np.array([np.nan]))).all()
    closed = BusinessCalendar("UTC", {})
    assert closed.business_seconds(at("2026-03-18T09:00"), at("2026-03-28T09:00")) == 0.0


@pytest.mark.parametrize(
    ("timezone", "hours", "holidays", "message"),
    [
        ("Europe/Londres", WEEKDAYS_9_TO_5, [], "'Europe/Londres' is not an IANA time zone"),
        ("UTC", {"monday": [["09:00", "17:00"]]}, [], "hours: monday is not a weekday"),
        ("UTC", {"mon": [["9am", "17:00"]]}, [], r"hours.mon\[0\]: time of day '9am' is not HH:MM"),
        ("UTC", {"tue": [["17:00", "09:00"]]}, [], "range 17:00-09:00 ends before it starts"),
        ("UTC", {"mon": [["09:00", "24:30"]]}, [], "'24:30' is out of range"),
        ("UTC", {}, ["03/04/2026"], "holidays: '03/04/2026' is not a date"),
    ],
)
def test_bad_calendars_say_what_is_wrong(
    timezone: str, hours: dict[str, list[list[str]]], holidays: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(timezone, hours, holidays)


# --- the store refresher -------------------------------------------------------------------

RECORDS: list[dict[str, object]] = [
    {"type": "calendar", "id": "cal-uk", "timezone": "Europe/London",
     "hours": WEEKDAYS_9_TO_5, "holidays": ["2026-04-03"]},
    {"type": "team", "id": "t-uk", "name": "UK", "calendar_id": "cal-uk"},
    {"type": "team", "id": "t-plain", "name": "No calendar"},
    {"type": "agent", "id": "a-uk", "name": "Ann", "role": "frontline", "team_id": "t-uk"},
    {"type": "agent", "id": "a-plain", "name": "Bob", "role": "frontline", "team_id": "t-plain"},
    # Team's calendar by team_id. First response Fri 16:00 GMT -> Mon 10:00 BST: 1 h + 1 h;
    # resolution Fri 16:00 -> Thu 2 Apr 16:00: 1 + 8 + 8 + 8 + 7 = 32 h.
    {"type": "interaction", "id": "i-email", "channel": "email", "team_id": "t-uk",
     "created_at": "2026-03-27T16:00:00Z", "first_response_at": "2026-03-30T10:00:00+01:00",
     "resolved_at": "2026-04-02T16:00:00+01:00"},
    # Calendar through the agent's team. Phone: answered_at ends the first response:
    # Thu 16:59:30 -> 17:00:10 = 30 s; resolved Mon 6 Apr 09:00:30 across Good Friday and the
    # weekend: 30 s + 30 s = 60 s.
    {"type": "interaction", "id": "i-phone", "channel": "phone", "agent_id": "a-uk",
     "created_at": "2026-04-02T15:59:30Z", "answered_at": "2026-04-02T17:00:10+01:00",
     "resolved_at": "2026-04-06T08:00:30Z"},
    # Chat is measured to answered_at too; without it the first response is unknown.
    {"type": "interaction", "id": "i-chat", "channel": "chat", "agent_id": "a-uk",
     "created_at": "2026-03-18T10:00:00Z", "first_response_at": "2026-03-18T10:01:00Z"},
    # The interaction's own team wins over its agent's: no calendar, so null.
    {"type": "interaction", "id": "i-own-team", "channel": "email", "agent_id": "a-uk",
     "team_id": "t-plain", "created_at": "2026-03-18T10:00:00Z",
     "first_response_at": "2026-03-18T11:00:00Z", "resolved_at": "2026-03-18T12:00:00Z"},
    # Agent's team without a calendar; and no team at all.
    {"type": "interaction", "id": "i-plain", "channel": "email", "agent_id": "a-plain",
     "created_at": "2026-03-18T10:00:00Z", "resolved_at": "2026-03-18T12:00:00Z"},
    {"type": "interaction", "id": "i-orphan", "channel": "email",
     "created_at": "2026-03-18T10:00:00Z", "resolved_at": "2026-03-18T12:00:00Z"},
]
EXPECTED = {
    "i-email": (2 * HOUR, 32 * HOUR),
    "i-phone": (30.0, 60.0),
    "i-chat": (None, None),
    "i-own-team": (None, None),
    "i-plain": (None, None),
    "i-orphan": (None, None),
}


def _rows(records: list[dict[str, object]]) -> list[SourceRow]:
    return [SourceRow(source="test", line=number, data=record, raw=orjson.dumps(record).decode())
            for number, record in enumerate(records, start=1)]


def _durations(engine: Engine) -> dict[str, tuple[float | None, float | None]]:
    i = tables.interactions
    with engine.connect() as connection:
        rows = connection.execute(
            select(i.c.id, i.c.first_response_business_s, i.c.resolution_business_s)).all()
    return {row.id: (row.first_response_business_s, row.resolution_business_s) for row in rows}


def test_import_fills_business_durations(store: Engine) -> None:
    summary = import_rows(store, _rows(RECORDS))
    assert summary.quarantined == 0
    assert _durations(store) == EXPECTED


def test_refresh_recomputes_only_what_changed(store: Engine) -> None:
    import_rows(store, _rows(RECORDS))
    with store.begin() as connection:
        assert refresh_business_durations(connection, None) == 0  # already right
        connection.execute(update(tables.interactions)
                           .where(tables.interactions.c.id == "i-email")
                           .values(first_response_business_s=0.0))
        connection.execute(update(tables.interactions)
                           .where(tables.interactions.c.id == "i-plain")
                           .values(resolution_business_s=5.0))
        assert refresh_business_durations(connection, ["i-phone", "i-unknown"]) == 0
        # every interaction, in chunks of 2 (keyset pages): both damaged rows are repaired
        assert refresh_business_durations(connection, None, chunk_size=2) == 2
    assert _durations(store) == EXPECTED


def test_without_any_team_calendar_every_duration_is_cleared(store: Engine) -> None:
    import_rows(store, _rows(RECORDS))
    # the only calendar-holding team loses it: i-email and i-phone (through its agent) had
    # durations; they are now null, and no other interaction is written
    import_rows(store, _rows([{k: v for k, v in RECORDS[1].items() if k != "calendar_id"}]))
    assert _durations(store) == {key: (None, None) for key in EXPECTED}
    with store.begin() as connection:
        assert refresh_business_durations(connection, None) == 0
        connection.execute(update(tables.interactions)
                           .where(tables.interactions.c.id.in_(["i-chat", "i-plain"]))
                           .values(resolution_business_s=5.0))
        assert refresh_business_durations(connection, ["i-chat", "i-orphan", "i-unknown"]) == 1
        assert refresh_business_durations(connection, None, chunk_size=2) == 1  # i-plain
    assert _durations(store) == {key: (None, None) for key in EXPECTED}


def test_calendar_team_and_agent_changes_refresh_their_interactions(store: Engine) -> None:
    import_rows(store, _rows(RECORDS))
    # Opening at 08:00 adds Monday 08:00-09:00 BST to i-email's first response (3 h) and an hour
    # on Mon, Tue, Wed and Thu to its resolution (36 h); i-phone's resolution gains Monday
    # 08:00-09:00 (30 s + 1 h 30 s), its first response (Thursday evening) nothing.
    early = {day: [["08:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    import_rows(store, _rows([{**RECORDS[0], "hours": early}]))
    durations = _durations(store)
    assert durations["i-email"] == (3 * HOUR, 36 * HOUR)
    assert durations["i-phone"] == (30.0, HOUR + 60.0)
    # The agent moves to the team without a calendar: interactions through the agent lose it.
    import_rows(store, _rows([{**RECORDS[3], "team_id": "t-plain"}]))
    assert _durations(store)["i-phone"] == (None, None)
    assert _durations(store)["i-email"] == (3 * HOUR, 36 * HOUR)  # its own team_id is t-uk
    # The calendar-less team gets the calendar: i-own-team (10:00-11:00 / -12:00 UTC on a
    # Wednesday in GMT) and everything of the agent now in it are measured.
    import_rows(store, _rows([{**RECORDS[2], "calendar_id": "cal-uk"}]))
    durations = _durations(store)
    assert durations["i-own-team"] == (HOUR, 2 * HOUR)
    assert durations["i-plain"] == (None, 2 * HOUR)
    assert durations["i-phone"] == (30.0, HOUR + 60.0)
    assert durations["i-orphan"] == (None, None)


def test_a_broken_stored_calendar_measures_nothing_and_does_not_fail(
    sqlite_store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    import_rows(sqlite_store, _rows(RECORDS))
    with sqlite_store.begin() as connection:
        # only possible by editing the store by hand: records are validated on import
        connection.execute(update(tables.calendars).where(tables.calendars.c.id == "cal-uk")
                           .values(timezone="Mars/Olympus_Mons"))
        assert refresh_business_durations(connection, ["i-email", "i-phone"]) == 2
    assert _durations(sqlite_store)["i-email"] == (None, None)
    assert "calendar 'cal-uk' cannot be used for business hours" in caplog.text


def test_a_batch_inserting_and_uncalendaring_clears_only_what_held_durations(
        store: Engine) -> None:
    from servicepulse.ingest.hooks import Touched
    from servicepulse.kpi.business_hours import refresh_after_import

    import_rows(store, _rows(RECORDS))
    # one batch: t-uk loses its calendar (no team has one now), and a new interaction of t-uk
    # arrives; the new one is stored with null durations, i-email and i-phone are cleared
    new = {"type": "interaction", "id": "i-new", "channel": "email", "team_id": "t-uk",
           "created_at": "2026-03-27T16:00:00Z", "resolved_at": "2026-04-02T16:00:00Z"}
    uncalendared = {k: v for k, v in RECORDS[1].items() if k != "calendar_id"}
    summary = import_rows(store, _rows([uncalendared, new]))
    assert summary.as_json()["inserted"] == {"interaction": 1}
    assert _durations(store) == {key: (None, None) for key in [*EXPECTED, "i-new"]}
    # an id said to be freshly inserted is not looked up; the others still are
    with store.begin() as connection:
        connection.execute(update(tables.interactions)
                           .where(tables.interactions.c.id.in_(["i-chat", "i-plain"]))
                           .values(resolution_business_s=5.0))
        refresh_after_import(connection, Touched(interaction_ids={"i-chat", "i-plain"},
                                                 inserted_interactions={"i-chat"}))
    durations = _durations(store)
    assert durations["i-chat"] == (None, 5.0)
    assert durations["i-plain"] == (None, None)

"""The one default window and the window rules (servicepulse.kpi.window), dates by hand.

The store below holds phone contacts from Monday 2 March 2026 10:00 to Friday 20 March 2026
15:00 (UTC). In UTC the data covers 2 to 20 March (each end only in part); in Auckland
(UTC+13 until 5 April) the first contact is 2 March 23:00 and the last 21 March 04:00.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine

from servicepulse.errors import InvalidRequest
from servicepulse.kpi.window import (
    Window,
    data_end,
    data_span,
    default_end,
    resolve_window,
    today_in,
    window_for,
)
from tests.scorecards.builders import load

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 20)


def _contacts() -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    day = FIRST
    while day < LAST:
        hour = 10 if day == FIRST else 9
        records.append({"type": "interaction", "id": f"I-{day}", "channel": "phone",
                        "created_at": f"{day}T{hour:02d}:00:00Z",
                        "answered_at": f"{day}T{hour:02d}:00:10Z"})
        day += timedelta(days=1)
    records.append({"type": "interaction", "id": "I-last", "channel": "phone",
                    "created_at": "2026-03-20T15:00:00Z"})
    return records


def window(first: date, end: date) -> Window:
    return Window(**{"from": first, "to": end})


def test_default_end_leaves_out_the_last_day_and_today() -> None:
    today = date(2026, 12, 7)
    live = (date(2026, 10, 21), today)  # a living store: data up to now
    old = (date(2026, 8, 21), date(2026, 9, 23))  # an old export, cut at 03:57 on 23 Sep
    assert default_end(live, today) == today  # the last 28 days end on 6 Dec
    assert default_end(old, today) == date(2026, 9, 23)  # 23 Sep holds 4 hours
    assert default_end((today, today), today) == date(2026, 12, 8)  # only today: show it
    assert default_end(None, today) == today
    # the store below seen on its last day: 20 March is not over, the window ends before it
    assert default_end((FIRST, LAST), LAST) == LAST


def test_the_default_window_is_the_last_whole_days_with_data(sqlite_store: Engine) -> None:
    load(sqlite_store, _contacts())
    assert data_span(sqlite_store, "UTC") == (FIRST, LAST)
    assert data_end(sqlite_store, "UTC") == date(2026, 3, 21)
    # 28 days ending 20 March (exclusive): 20 Feb to 19 Mar
    assert window_for(sqlite_store, None, None, 28, "UTC") == window(date(2026, 2, 20), LAST)
    assert window_for(sqlite_store, None, None, 7, "UTC") == window(date(2026, 3, 13), LAST)
    # local days: in Auckland the data runs from 2 March to 21 March
    assert data_span(sqlite_store, "Pacific/Auckland") == (FIRST, date(2026, 3, 21))
    assert data_end(sqlite_store, "Pacific/Auckland") == date(2026, 3, 22)
    assert window_for(sqlite_store, None, None, 28, "Pacific/Auckland") == window(
        date(2026, 2, 21), date(2026, 3, 21))
    # days asked for are kept; one end given: the other `days` away
    asked = window(date(2026, 3, 9), date(2026, 3, 16))
    assert window_for(sqlite_store, asked.from_, asked.to, 28, "UTC") == asked
    assert window_for(sqlite_store, date(2026, 3, 1), None, 28, "UTC") == window(
        date(2026, 3, 1), date(2026, 3, 29))
    assert window_for(sqlite_store, None, date(2026, 3, 10), 7, "UTC") == window(
        date(2026, 3, 3), date(2026, 3, 10))


def test_resolve_window_without_dates_ends_after_the_newest_contact(
        sqlite_store: Engine) -> None:
    load(sqlite_store, _contacts())
    # not the default window: up to the day after the newest contact (21 March)
    assert resolve_window(sqlite_store, None, None, 7, "UTC") == window(
        date(2026, 3, 14), date(2026, 3, 21))


def test_an_empty_store(sqlite_store: Engine) -> None:
    assert data_span(sqlite_store, "UTC") is None
    before = today_in("UTC")
    end = data_end(sqlite_store, "UTC")  # tomorrow, by the clock
    assert end - timedelta(days=1) in (before, today_in("UTC"))  # (midnight in between)
    assert window_for(sqlite_store, None, None, 28, "UTC").days == 28


def test_the_limits_of_a_window(sqlite_store: Engine) -> None:
    def resolved(first: date | None, end: date | None, days: int = 28) -> Window:
        return resolve_window(sqlite_store, first, end, days)

    with pytest.raises(InvalidRequest, match="must be after 'from'"):
        resolved(date(2026, 3, 9), date(2026, 3, 9))
    # ten years: 1 Jan 2000 to 8 Jan 2010 is 3660 days (three leap years), a day more is not
    assert resolved(date(2000, 1, 1), date(2010, 1, 8)).days == 3660
    with pytest.raises(InvalidRequest, match="longer than ten years"):
        resolved(date(2000, 1, 1), date(2010, 1, 9))
    # the window and the one before it lie after 1 Jan 1970
    assert resolved(date(1970, 1, 9), date(1970, 1, 16)).days == 7
    with pytest.raises(InvalidRequest, match="between 1970 and 9000"):
        resolved(date(1970, 1, 8), date(1970, 1, 15))
    with pytest.raises(InvalidRequest, match="between 1970 and 9000"):
        resolved(date(9000, 12, 25), date(9001, 1, 1))
    with pytest.raises(InvalidRequest, match="dates out of range"):
        resolved(date(9999, 12, 20), None)


def test_a_window_and_the_one_before_it() -> None:
    month = window(date(2026, 2, 20), LAST)
    assert month.days == 28
    assert month.previous() == window(date(2026, 1, 23), date(2026, 2, 20))
    # the API's JSON: `from` and `to`, ISO dates
    assert month.model_dump(mode="json", by_alias=True) == {
        "from": "2026-02-20", "to": "2026-03-20"}
    assert Window.model_validate({"from": "2026-02-20", "to": "2026-03-20"}) == month

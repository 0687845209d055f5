"""Windows and periods as the pages show them: one default window, and like-with-like.

Every page that shows a window of days opens on the same one, the last `default_window_days`
(a setting, docs/configuration.md) whole days with data: it ends the day before the data's
last day (the data covers that day only up to its last record; when it is today, today is
not over either), so a window is never compared, unfairly, with whole days. The page says
which days it shows.

A window the data covers only in part (it reaches beyond the data's first or last day, or
into today) is marked partial, and compared with the previous window over the same days of
each (`comparable`): the first 3 days of this week against the first 3 days of last week,
never a whole window against a part of one, nor against days without data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from servicepulse.store import tables
from servicepulse.web.runners.base import RunContext, Window, resolve_window


def data_span(engine: Engine, timezone: str) -> tuple[date, date] | None:
    """The local days the data covers, first and last (each only in part), by the KPI
    engine's rule (`servicepulse.kpi.engine.coverage_days`): from the first record of the
    interactions and surveys, or the first resolution when it is later (a backlog created
    before the records begin does not cover its days), to the last record. One min or max a
    statement, each an index seek."""
    zone = ZoneInfo(timezone)

    def days(columns: tuple[Any, ...]) -> tuple[date, date] | None:
        instants: list[float] = []
        with engine.connect() as connection:
            for column in columns:
                for aggregate in (func.min, func.max):
                    value = connection.execute(select(aggregate(column))).scalar()
                    if value is not None:
                        instants.append(float(value))
        if not instants:
            return None
        return (datetime.fromtimestamp(min(instants), zone).date(),
                datetime.fromtimestamp(max(instants), zone).date())

    span = days((tables.interactions.c.created_at, tables.surveys.c.submitted_at))
    work = days((tables.interactions.c.resolved_at,))
    if span is not None and work is not None and span[0] < work[0] <= span[1]:
        return work[0], span[1]
    return span


def local_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def default_end(span: tuple[date, date] | None, today: date) -> date:
    """The end (exclusive) of the default window: the data's last day, which it covers only
    up to its last record (today, when the data reaches it, is not over either), so the
    window holds whole days; the day after it when the data holds a single day."""
    if span is None:
        return today
    end = min(span[1], today)
    return end if end > span[0] else span[1] + timedelta(days=1)


def page_window(context: RunContext, from_: date | None, to: date | None,
                days: int | None = None) -> Window:
    """The window a page shows: as asked, else the default (see the module docstring)."""
    days = days or context.settings.default_window_days  # loaded once, at the app's start
    if to is None and from_ is None:
        timezone = context.settings.timezone
        to = default_end(data_span(context.engine, timezone), local_today(timezone))
    return resolve_window(context.engine, from_, to, days, context.settings.timezone)


def short_day(day: date, with_year: bool = True) -> str:
    text = f"{day.day} {day:%b}"
    return f"{text} {day.year}" if with_year else text


def days_text(first: date, end: date) -> str:
    """'9 Nov – 6 Dec 2026' for the days [first, end)."""
    last = end - timedelta(days=1)
    if last <= first:
        return short_day(first)
    return f"{short_day(first, first.year != last.year)} – {short_day(last)}"


def window_text(window: Window, asked: bool) -> str:
    """What the page says of its window: 'last 28 days: 9 Nov – 6 Dec 2026' (the default)
    or '1 Dec – 7 Dec 2026 (7 days)' (asked)."""
    span = days_text(window.from_, window.to)
    count = f"{window.days} day{'s' if window.days != 1 else ''}"
    return f"{span} ({count})" if asked else f"last {count}: {span}"


@dataclass(frozen=True)
class Coverage:
    """The days of `window` the data covers whole: [first, end), None when none."""

    window: Window
    covered: tuple[date, date] | None
    notes: tuple[str, ...]  # why the window is partial ('data ends 23 Sep', ...)

    @property
    def partial(self) -> bool:
        return self.covered != (self.window.from_, self.window.to)


def coverage(window: Window, span: tuple[date, date] | None, today: date) -> Coverage:
    """Which days of `window` are covered whole: after the day of the data's first record
    and before the day of its last (each covered only from or up to that record), and over
    (before today). The same rule as the KPI rows' `partial` (kpi.engine.is_partial)."""
    notes = []
    first, end = window.from_, window.to
    if span is None:
        return Coverage(window, None, ("no data",))
    if span[0] + timedelta(days=1) > first:
        notes.append(f"data starts {short_day(span[0])}")
        first = span[0] + timedelta(days=1)
    stop = min(end, span[1], today)
    if stop < end:
        if today <= span[1]:  # the data reaches today: what is missing is the rest of it
            notes.append("today is not over" if today >= window.from_
                         else "the window is in the future")
        else:
            notes.append(f"data ends {short_day(span[1])}")
        end = max(stop, first)
    return Coverage(window, (first, end) if first < end else None, tuple(notes))


@dataclass(frozen=True)
class Comparison:
    """The days of the window and of the previous one compared: the same days of each
    (offsets from each window's start), those both cover whole."""

    current: tuple[date, date]
    previous: tuple[date, date]
    whole: bool  # both windows covered whole: the plain comparison

    def text(self) -> str:
        return (f"{days_text(*self.current)} vs {days_text(*self.previous)}")


def comparable(window: Window, span: tuple[date, date] | None, today: date
               ) -> Comparison | None:
    """The same days of `window` and of the one before it that the data covers in both;
    None when there are none (no comparable previous period)."""
    now = coverage(window, span, today)
    before = coverage(window.previous(), span, today)
    if now.covered is None or before.covered is None:
        return None
    length = timedelta(days=window.days)
    start = max(now.covered[0], before.covered[0] + length)
    end = min(now.covered[1], before.covered[1] + length)
    if start >= end:
        return None
    whole = not now.partial and not before.partial
    return Comparison((start, end), (start - length, end - length), whole)


def coverage_of(context: RunContext) -> tuple[tuple[date, date] | None, date]:
    """The data's days and today, for `coverage` and `comparable`."""
    timezone = context.settings.timezone
    return data_span(context.engine, timezone), local_today(timezone)

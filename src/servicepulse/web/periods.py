"""Windows and periods as the pages show them: the default window, and like-with-like.

Every page that shows a window of days opens on the product's one default window
(`servicepulse.kpi.window`: the last `default_window_days` whole days with data, the same
the commands show). The page says which days it shows.

A window the data covers only in part (it reaches beyond the data's first or last day, or
into today) is marked partial, and compared with the previous window over the same days of
each (`comparable`): the first 3 days of this week against the first 3 days of last week,
never a whole window against a part of one, nor against days without data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from servicepulse.kpi.window import Window, data_span, today_in, window_for

if TYPE_CHECKING:  # annotations only: the runners import this module (no cycle at run time)
    from servicepulse.web.runners.base import RunContext


def page_window(context: RunContext, from_: date | None, to: date | None,
                days: int | None = None) -> Window:
    """The window a page shows: as asked, else the default (see the module docstring)."""
    days = days or context.settings.default_window_days  # loaded once, at the app's start
    return window_for(context.engine, from_, to, days, context.settings.timezone)


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
    return data_span(context.engine, timezone), today_in(timezone)

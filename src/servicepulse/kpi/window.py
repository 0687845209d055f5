"""The window of days a figure covers, and the one default window every page and command opens on.

Without days asked for, every dashboard page and every command (`kpi`, `drivers`,
`anomalies`, ...) shows the same window: the last `default_window_days` (a setting,
docs/configuration.md) whole days with data. It ends the day before the data's last day
(the data covers that day only up to its last record; when it is today, today is not over
either), so a window is never compared, unfairly, with whole days. A missing start or end is
filled in (`resolve_window`), and a window is held to ten years between 1970 and 9000.

It lives in the KPI layer, not in the web's: the rule is the product's, not a page's, and
the command line reads it without loading the web's runners (their models, the KPI display
and access code). Like `servicepulse.kpi.engine.coverage_days`, it reads the store's tables
(SQLAlchemy, one min or max a statement); what a page makes of a window (its text, coverage,
like-with-like comparison) stays in `servicepulse.web.periods`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from servicepulse.errors import InvalidRequest
from servicepulse.store import tables

DEFAULT_WINDOW_DAYS = 28
MAX_WINDOW_DAYS = 3660  # ten years: a longer window is a typo, not a question
EARLIEST = date(1970, 1, 2)  # the store's times are epoch seconds


class Window(BaseModel):
    """A reporting window: `from` inclusive, `to` exclusive, both dates (local days).

    A pydantic model because the web's response models embed it (`{"from": ..., "to": ...}`
    in the API's JSON)."""

    model_config = ConfigDict(populate_by_name=True)
    from_: date = Field(alias="from")
    to: date

    @property
    def days(self) -> int:
        return (self.to - self.from_).days

    def previous(self) -> Window:
        return Window(**{"from": self.from_ - timedelta(days=self.days), "to": self.from_})


def today_in(timezone: str) -> date:
    """Today's date in `timezone` (`servicepulse.kpi.engine.local_today` takes the settings)."""
    return datetime.now(ZoneInfo(timezone)).date()


def data_end(engine: Engine, timezone: str = "UTC") -> date:
    """The day after the newest interaction (tomorrow when the store is empty), local dates."""
    zone = ZoneInfo(timezone)
    with engine.connect() as connection:
        newest = connection.execute(
            select(func.max(tables.interactions.c.created_at))).scalar()
    if newest is None:
        return datetime.now(zone).date() + timedelta(days=1)
    return datetime.fromtimestamp(float(newest), zone).date() + timedelta(days=1)


def resolve_window(engine: Engine, from_: date | None, to: date | None,
                   days: int = DEFAULT_WINDOW_DAYS, timezone: str = "UTC") -> Window:
    """Fill in a missing end (the newest data) or start (`days` before the end)."""
    try:
        end = to or (from_ + timedelta(days=days) if from_ else data_end(engine, timezone))
        start = from_ or end - timedelta(days=days)
    except OverflowError:
        raise InvalidRequest("dates out of range: use days between 1970 and 9999") from None
    if end <= start:
        raise InvalidRequest(f"'to' ({end}) must be after 'from' ({start}); 'to' is exclusive")
    if (end - start).days > MAX_WINDOW_DAYS:
        raise InvalidRequest(f"the window {start} to {end} is longer than ten years; narrow it")
    if start < EARLIEST + (end - start) or end.year > 9000:
        raise InvalidRequest(f"the window {start} to {end} (and the period before it, which it is "
                             "compared with) must lie between 1970 and 9000")
    return Window(**{"from": start, "to": end})


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


def default_end(span: tuple[date, date] | None, today: date) -> date:
    """The end (exclusive) of the default window: the data's last day, which it covers only
    up to its last record (today, when the data reaches it, is not over either), so the
    window holds whole days; the day after it when the data holds a single day."""
    if span is None:
        return today
    end = min(span[1], today)
    return end if end > span[0] else span[1] + timedelta(days=1)


def window_for(engine: Engine, from_: date | None, to: date | None, days: int,
               timezone: str) -> Window:
    """The days asked for (a missing start or end filled in), else the default window: the
    `days` whole days ending at `default_end`. An impossible window: InvalidRequest."""
    if from_ is None and to is None:
        to = default_end(data_span(engine, timezone), today_in(timezone))
    return resolve_window(engine, from_, to, days, timezone)

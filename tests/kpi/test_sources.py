"""The sources' period filters are plain ranges, so SQLite reads only the rows of the window
through the time column's index (not every row before the window's end)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import ibis
from ibis.backends import BaseBackend
from sqlalchemy import Engine

from servicepulse.kpi.analytical import store_backend
from servicepulse.kpi.settings import kpi_settings
from servicepulse.kpi.sources import Frame, Period, interactions_source, surveys_source

DAY = 86_400.0
MONDAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()


def _period(day: date, start: float, current: bool = True) -> Period:
    return Period((day - date(1970, 1, 1)).days, day, day + timedelta(days=1), start,
                  start + DAY, current)


def _frame(backend: BaseBackend | None, periods: list[Period]) -> Frame:
    return Frame(backend, kpi_settings(), "day", periods,
                 kpis={"contacts", "csat"})


def test_in_periods_is_one_range_per_run_of_adjacent_periods() -> None:
    table = ibis.table({"t": "float64"}, name="facts")
    frame = _frame(None, [_period(date(2026, 11, 1), MONDAY - DAY, current=False),
                          _period(date(2026, 11, 2), MONDAY),
                          _period(date(2026, 11, 9), MONDAY + 7 * DAY)])
    sql = ibis.to_sql(table.filter(frame.in_periods(table.t)), dialect="sqlite")
    assert "FALSE" not in sql.upper()
    # Sunday and Monday merge into one range; the next Monday is a second one
    assert f"{MONDAY - DAY}" in sql and f"{MONDAY + DAY}" in sql
    assert f"{MONDAY + 7 * DAY}" in sql and f"{MONDAY + 8 * DAY}" in sql
    assert sql.upper().count(" OR ") == 1


def test_no_period_selects_nothing() -> None:
    table = ibis.table({"t": "float64"}, name="facts")
    sql = ibis.to_sql(table.filter(_frame(None, []).in_periods(table.t)), dialect="sqlite")
    assert "FALSE" in sql.upper()


def test_sqlite_reads_the_window_through_the_index(sqlite_store: Engine) -> None:
    periods = [_period(date(2026, 11, 1), MONDAY - DAY, current=False),
               _period(date(2026, 11, 2), MONDAY)]
    with store_backend(sqlite_store) as backend:
        frame = _frame(backend, periods)
        plans = {}
        for name, source, column in (("interactions", interactions_source, "created_at"),
                                     ("surveys", surveys_source, "submitted_at")):
            sql = backend.compile(source(frame).count().as_table())
            cursor = backend.con.execute(f"EXPLAIN QUERY PLAN {sql}")
            plans[name] = " | ".join(str(row[3]) for row in cursor.fetchall())
            assert f"({column}>? AND {column}<?)" in plans[name], plans[name]

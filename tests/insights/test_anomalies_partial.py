"""Anomalies never judge a partial day against whole ones, nor count one in a baseline.

Eight Mondays of 100 contacts each, then a Monday the data covers only until 03:57 (5
contacts): as a whole day it would be −95% (robust z far past 3.5); as a partial day (the
engine's `partial`) it is not judged. A whole Monday of 5 is flagged: the rule is about
partial days, not low values.
"""

from __future__ import annotations

from datetime import date, timedelta

from servicepulse.insights.anomalies import DailyValue, detect_anomalies

FIRST_MONDAY = date(2026, 7, 27)


def _mondays(last: DailyValue) -> list[DailyValue]:
    history = [DailyValue(FIRST_MONDAY + timedelta(weeks=week), 100.0 + week % 2, 100)
               for week in range(8)]
    return [*history, last]


def test_partial_day_is_not_judged() -> None:
    last_monday = FIRST_MONDAY + timedelta(weeks=8)
    assert detect_anomalies(_mondays(DailyValue(last_monday, 5.0, 5, partial=True))) == []
    whole = detect_anomalies(_mondays(DailyValue(last_monday, 5.0, 5)))
    assert [(a.day, round(a.deviation_pct or 0)) for a in whole] == [(last_monday, -95)]


def test_partial_day_is_not_in_a_baseline() -> None:
    """Mondays 100, 101, 100, 101 and a partial Monday of 5 before a whole Monday of 100: the
    baseline is the median of the four whole Mondays (100.5), not pulled down by the 5."""
    days = [DailyValue(FIRST_MONDAY + timedelta(weeks=week), 100.0 + week % 2, 100)
            for week in range(4)]
    days.append(DailyValue(FIRST_MONDAY + timedelta(weeks=4), 5.0, 5, partial=True))
    days.append(DailyValue(FIRST_MONDAY + timedelta(weeks=5), 60.0, 60))
    found = detect_anomalies(days)
    assert [(a.day, a.baseline, a.history) for a in found] == [
        (FIRST_MONDAY + timedelta(weeks=5), 100.5, 4)]


def test_repeat_kpis_wait_for_their_repeat_window() -> None:
    """Data whole up to Tuesday 22 September 2026 and a 7-day repeat window: FCR of 16 to 22
    September is partial (repeats until 23 to 29 September are not in yet), of 15 September
    whole (its window ends with 22 September); contacts are not affected."""
    from servicepulse.config import Settings
    from servicepulse.insights.anomalies import KpiSeries, _repeats_not_seen_yet

    days = [date(2026, 9, 14) + timedelta(days=offset) for offset in range(10)]
    fcr = KpiSeries("fcr", {}, [DailyValue(day, 75.0, 100, day == date(2026, 9, 23))
                                for day in days])
    contacts = KpiSeries("contacts", {}, [DailyValue(day, 100.0, 100, day == date(2026, 9, 23))
                                          for day in days])
    _repeats_not_seen_yet([fcr, contacts], date(2026, 9, 22), Settings())
    assert [point.day.day for point in fcr.values if point.partial] == list(range(16, 24))
    assert [point.day.day for point in contacts.values if point.partial] == [23]

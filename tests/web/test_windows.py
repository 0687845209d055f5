"""Like-with-like comparison of the pages' windows (servicepulse.web.periods), by hand; the
default window itself: tests/kpi/test_window.py.

Dates: today is Monday 7 December 2026 in each case (passed in, not read from the clock).
"""

from __future__ import annotations

from datetime import date

import pytest

from servicepulse.config import ConfigError, Settings, load_settings
from servicepulse.kpi.settings import kpi_settings
from servicepulse.kpi.window import Window
from servicepulse.web.periods import comparable, coverage, window_text

TODAY = date(2026, 12, 7)
LIVE = (date(2026, 10, 21), TODAY)  # a living store: data from 21 Oct up to now
OLD = (date(2026, 8, 21), date(2026, 9, 23))  # an old export, cut at 03:57 on 23 Sep


def window(first: date, end: date) -> Window:
    return Window(**{"from": first, "to": end})


def test_coverage_names_what_is_missing() -> None:
    this_week = coverage(window(date(2026, 11, 30), date(2026, 12, 7)), LIVE, TODAY)
    assert (this_week.covered, this_week.partial, this_week.notes) == (
        (date(2026, 11, 30), date(2026, 12, 7)), False, ())
    with_today = coverage(window(date(2026, 12, 1), date(2026, 12, 8)), LIVE, TODAY)
    assert (with_today.covered, with_today.partial, with_today.notes) == (
        (date(2026, 12, 1), TODAY), True, ("today is not over",))
    past_the_data = coverage(window(date(2026, 9, 14), date(2026, 9, 28)), OLD, TODAY)
    assert (past_the_data.covered, past_the_data.notes) == (
        (date(2026, 9, 14), date(2026, 9, 23)), ("data ends 23 Sep 2026",))
    before_the_data = coverage(window(date(2026, 8, 20), date(2026, 8, 27)), OLD, TODAY)
    assert (before_the_data.covered, before_the_data.notes) == (
        (date(2026, 8, 22), date(2026, 8, 27)), ("data starts 21 Aug 2026",))
    assert coverage(window(date(2026, 8, 1), date(2026, 8, 8)), None, TODAY).covered is None


def test_comparable_takes_the_same_days_of_each_window() -> None:
    # 1–7 Dec with today not over: 1–6 Dec against 24–29 Nov
    week = comparable(window(date(2026, 12, 1), date(2026, 12, 8)), LIVE, TODAY)
    assert week is not None and not week.whole
    assert (week.current, week.previous) == ((date(2026, 12, 1), TODAY),
                                             (date(2026, 11, 24), date(2026, 11, 30)))
    assert week.text() == "1 Dec – 6 Dec 2026 vs 24 Nov – 29 Nov 2026"
    # the default 28 days: the window before is covered from 22 Oct (21 Oct is the first
    # day, covered only from its first record), its 11th day on: the last 18 days of each
    month = comparable(window(date(2026, 11, 9), TODAY), LIVE, TODAY)
    assert month is not None and (month.current, month.previous) == (
        (date(2026, 11, 19), TODAY), (date(2026, 10, 22), date(2026, 11, 9)))
    # both whole: the plain comparison
    whole = comparable(window(date(2026, 11, 30), TODAY), LIVE, TODAY)
    assert whole is not None and whole.whole and whole.previous == (
        date(2026, 11, 23), date(2026, 11, 30))
    # nothing before the data: no comparable previous period
    assert comparable(window(date(2026, 10, 9), date(2026, 11, 6)),
                      (date(2026, 11, 2), date(2026, 11, 6)), TODAY) is None


def test_window_text() -> None:
    assert window_text(window(date(2026, 11, 9), TODAY), asked=False) == \
        "last 28 days: 9 Nov – 6 Dec 2026"
    assert window_text(window(date(2026, 11, 9), TODAY), asked=True) == \
        "9 Nov – 6 Dec 2026 (28 days)"
    assert window_text(window(date(2026, 12, 20), date(2027, 1, 3)), asked=True) == \
        "20 Dec 2026 – 2 Jan 2027 (14 days)"
    assert window_text(window(TODAY, date(2026, 12, 8)), asked=True) == "7 Dec 2026 (1 day)"


def test_default_window_days_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # loaded once by the program's start, handed to the pages with the KPI settings
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)
    monkeypatch.setenv("SERVICEPULSE_DEFAULT_WINDOW_DAYS", "14")
    assert kpi_settings(load_settings()).default_window_days == 14
    monkeypatch.setenv("SERVICEPULSE_DEFAULT_WINDOW_DAYS", "0")
    with pytest.raises(ConfigError, match="default_window_days"):
        load_settings()
    assert kpi_settings(None).default_window_days == 28  # no settings given: the default
    assert Settings.model_fields["default_window_days"].default == 28

"""The one formatter of KPI values (servicepulse.kpi.display): units chosen by size, exact text."""

from __future__ import annotations

import math

import pytest

from servicepulse.kpi.display import (
    MISSING,
    format_change,
    format_duration,
    format_kpi,
    format_kpi_change,
    format_target_duration,
    format_unit,
    frt_targets_text,
    kpi_note,
    unit_symbol,
)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"),
    (0.04, "0.0 s"),
    (4.54, "4.5 s"),
    (9.96, "10 s"),          # 9.96 rounds to 10.0: whole seconds from 10 on
    (45, "45 s"),
    (59.4, "59 s"),
    (59.6, "1.0 min"),       # would read "60 s": the next unit instead
    (60, "1.0 min"),
    (192, "3.2 min"),        # 192 / 60 = 3.2
    (3599, "1.0 h"),         # 59.98 min would read "60.0 min"
    (3600, "1.0 h"),
    (41_040, "11.4 h"),      # 41,040 / 3,600 = 11.4
    (86_399, "1.0 d"),       # 23.9997 h would read "24.0 h"
    (181_440, "2.1 d"),      # 181,440 / 86,400 = 2.1
    (359_489.5, "4.2 d"),    # the scorecard's "frt 359489.5": 4.1608 days
])
def test_durations_read_in_the_unit_that_fits(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_signed_and_negative_durations() -> None:
    assert format_duration(-192) == "−3.2 min"
    assert format_duration(192, signed=True) == "+3.2 min"
    assert format_duration(0, signed=True) == "0 s"


@pytest.mark.parametrize("missing", [None, math.nan, math.inf])
def test_missing_values_read_as_a_dash(missing: float | None) -> None:
    assert format_duration(missing) == MISSING
    assert format_unit("percent", missing) == MISSING
    assert format_kpi("csat", missing) == MISSING
    assert format_change("percent", missing) == MISSING


@pytest.mark.parametrize(("unit", "value", "text"), [
    ("percent", 82.0, "82.0%"),
    ("percent", 66.666, "66.7%"),
    ("count", 42_222, "42,222"),
    ("count", 1234.5, "1,234"),  # round half to even
    ("seconds", 178, "3.0 min"),
    ("currency", 4.561, "$4.56"),
    ("currency", 12_345.6, "$12,345.60"),
    ("points", 38, "+38"),
    ("points", -12, "−12"),
    ("points", 0, "0"),
    ("per_hour", 6.25, "6.2/h"),
    ("score", 5.2, "5.20"),
])
def test_values_by_unit(unit: str, value: float, text: str) -> None:
    assert format_unit(unit, value) == text


def test_kpis_take_their_definitions_unit() -> None:
    assert format_kpi("frt", 41_040) == "11.4 h"
    assert format_kpi("aht", 178) == "3.0 min"
    assert format_kpi("csat", 82) == "82.0%"
    assert format_kpi("nps", 38) == "+38"
    assert format_kpi("contacts", 5049) == "5,049"
    assert format_kpi("cost_per_contact", 3.5) == "$3.50"
    assert format_kpi("contacts_per_hour", 7.04) == "7.0/h"
    assert format_kpi("no_such_kpi", 7) == "7"  # unknown names read as counts


def test_changes_of_percentages_are_points() -> None:
    assert format_kpi_change("csat", -12.4) == "−12.4 pts"
    assert format_kpi_change("fcr", 26) == "+26.0 pts"
    assert format_kpi_change("nps", 3) == "+3 pts"
    assert format_kpi_change("contacts", 32_124) == "+32,124"
    assert format_kpi_change("frt", -90) == "−1.5 min"
    assert format_change("percent", 0.01) == "0.0 pts"  # no sign on what reads as zero


def test_unit_symbols() -> None:
    assert [unit_symbol(u) for u in ("percent", "seconds", "per_hour", "count", "other")] == [
        "%", "s", "/h", "", ""]


@pytest.mark.parametrize(("seconds", "text"), [
    (20, "20 s"), (60, "60 s"), (90, "90 s"), (300, "5 min"), (3600, "1 h"), (86_400, "24 h"),
    (172_800, "48 h"), (259_200, "3 d"), (150, "2.5 min"), (None, MISSING)])
def test_targets_read_as_people_state_them(seconds: float | None, text: str) -> None:
    assert format_target_duration(seconds) == text


def test_first_response_targets_in_channel_order() -> None:
    targets = {"email": 86_400.0, "sms": 600.0, "chat": 60.0, "phone": 20.0, "social": 3600.0}
    assert frt_targets_text(targets) == "phone 20 s, chat 60 s, email 24 h, social 1 h, sms 10 min"


def test_notes_explain_aht_and_first_response() -> None:
    assert "team's median" in (kpi_note("aht") or "")
    assert "per channel" in (kpi_note("frt") or "")
    assert kpi_note("csat") is None

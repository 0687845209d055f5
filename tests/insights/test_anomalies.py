"""Weekday-aware median/MAD anomalies on daily series, and on daily KPIs from the engine."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.insights.anomalies import (
    Z_CAP,
    AnomalySettings,
    DailyValue,
    detect_anomalies,
)

MONDAY = date(2026, 1, 5)
WEEKLY_LEVEL = (100, 110, 105, 100, 95, 40, 20)  # Mon..Sun contacts: busy weekdays


def weekly_series(weeks: int, seed: int = 1) -> dict[date, float | None]:
    rng = np.random.default_rng(seed)
    series: dict[date, float | None] = {}
    for offset in range(weeks * 7):
        day = MONDAY + timedelta(days=offset)
        level = WEEKLY_LEVEL[day.weekday()]
        series[day] = float(round(level * (1 + rng.normal(0, 0.03))))
    return series


def test_a_normal_weekly_pattern_is_not_flagged() -> None:
    series = weekly_series(10)
    assert detect_anomalies(series) == []
    # Without weekday awareness the same data looks anomalous every weekend: comparing each
    # day with the previous 8 days of any weekday (median ~100) flags Saturdays and Sundays.
    days = sorted(series)
    naive = 0
    for index in range(8, len(days)):
        history = [series[d] for d in days[index - 8:index]]
        median = float(np.median(history))
        mad = float(np.median([abs(v - median) for v in history]))  # type: ignore[operator]
        value = series[days[index]]
        assert value is not None
        if abs(value - median) / (1.4826 * mad) >= 3.5:
            naive += 1
    assert naive > 0


def test_an_injected_anomaly_is_found_with_its_size() -> None:
    series = weekly_series(10)
    spike_day = MONDAY + timedelta(weeks=8, days=2)  # a Wednesday in week 9
    series[spike_day] = 160.0
    found = detect_anomalies(series)
    assert [anomaly.day for anomaly in found] == [spike_day]
    anomaly = found[0]
    assert anomaly.direction == "high"
    assert anomaly.history == 8
    assert anomaly.deviation == pytest.approx(160.0 - anomaly.baseline)
    assert anomaly.robust_z > 3.5
    assert 95 <= anomaly.baseline <= 115  # Wednesdays run at ~105


def test_robust_z_by_hand() -> None:
    # Same weekday history 100, 102, 98, 101, 99 -> median 100; |deviations| 0, 2, 2, 1, 1
    # -> MAD 1 -> scale 1.4826 (larger than the 5% floor? no: 5 > 1.4826, the floor wins).
    # With relative_floor 0: z = (110 - 100) / 1.4826 = 6.7449.
    history = [100.0, 102.0, 98.0, 101.0, 99.0]
    series = [DailyValue(MONDAY + timedelta(weeks=w), v) for w, v in enumerate(history)]
    series.append(DailyValue(MONDAY + timedelta(weeks=5), 110.0, n=40))
    (anomaly,) = detect_anomalies(series, AnomalySettings(relative_floor=0.0))
    assert anomaly.baseline == 100.0
    assert anomaly.mad == 1.0
    assert anomaly.scale == pytest.approx(1.4826)
    assert anomaly.robust_z == pytest.approx(10 / 1.4826)
    assert anomaly.deviation_pct == pytest.approx(10.0)
    assert anomaly.n == 40
    # expected range: 100 -+ 3.5 x 1.4826 = 100 -+ 5.1891 -> 94.8109 to 105.1891
    assert (anomaly.expected_low, anomaly.expected_high) == (
        pytest.approx(94.8109), pytest.approx(105.1891))
    # With the default 5% floor the scale is 5: z = 10 / 5 = 2.0, not flagged.
    assert detect_anomalies(series) == []


def test_flat_history_uses_the_floor_not_infinity() -> None:
    flat = {MONDAY + timedelta(weeks=w): 50.0 for w in range(6)}
    assert detect_anomalies({**flat, MONDAY + timedelta(weeks=6): 51.0}) == []  # z = 1/2.5
    (anomaly,) = detect_anomalies({**flat, MONDAY + timedelta(weeks=6): 60.0})
    assert anomaly.scale == 2.5  # 5% of 50
    assert anomaly.robust_z == 4.0
    # 50 -+ 3.5 x 2.5: 41.25 to 58.75, and 60 is above it
    assert (anomaly.expected_low, anomaly.expected_high) == (41.25, 58.75)
    zeros = {MONDAY + timedelta(weeks=w): 0.0 for w in range(6)}
    (spike,) = detect_anomalies({**zeros, MONDAY + timedelta(weeks=6): 3.0})
    assert spike.robust_z == Z_CAP
    assert spike.deviation_pct is None


def test_too_little_history_is_not_judged() -> None:
    series = {MONDAY: 10.0, MONDAY + timedelta(weeks=1): 10.0,
              MONDAY + timedelta(weeks=2): 500.0}  # only 2 earlier Mondays
    assert detect_anomalies(series) == []
    assert len(detect_anomalies(series, AnomalySettings(min_history=2))) == 1


def test_worse_follows_the_kpis_direction() -> None:
    history = {MONDAY + timedelta(weeks=w): 80.0 + (w % 2) for w in range(6)}
    low_day = MONDAY + timedelta(weeks=6)
    series = {**history, low_day: 50.0}
    (higher_better,) = detect_anomalies(series, AnomalySettings(higher_is_better=True))
    assert higher_better.direction == "low" and higher_better.worse is True
    (lower_better,) = detect_anomalies(series, AnomalySettings(higher_is_better=False))
    assert lower_better.worse is False
    (unknown,) = detect_anomalies(series)
    assert unknown.worse is None


def test_start_min_n_and_missing_values() -> None:
    history = {MONDAY + timedelta(weeks=w): 10.0 + (w % 2) for w in range(6)}
    spike = MONDAY + timedelta(weeks=6)
    series = [DailyValue(day, value, n=50) for day, value in history.items()]
    series += [DailyValue(spike, 40.0, n=3), DailyValue(spike + timedelta(days=1), None)]
    assert detect_anomalies(series, AnomalySettings(min_n=5)) == []  # rests on 3 items
    assert len(detect_anomalies(series)) == 1
    assert detect_anomalies(series, start=spike + timedelta(days=1)) == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        detect_anomalies({}, AnomalySettings(threshold=0))


# --- daily KPI values from the engine ------------------------------------------------------


def test_kpi_anomalies_from_the_engine(store: Engine) -> None:
    from servicepulse.insights.anomalies import daily_kpi_series, find_kpi_anomalies

    # Five weeks from Monday 2026-02-02: 6 contacts each weekday, 3 on Saturdays, 1 on
    # Sundays; in week 5 Wednesday 2026-03-04 gets 20.
    start = date(2026, 2, 2)
    spike = date(2026, 3, 4)
    per_weekday = (6, 6, 6, 6, 6, 3, 1)
    records = []
    for offset in range(35):
        day = start + timedelta(days=offset)
        count = 20 if day == spike else per_weekday[day.weekday()]
        for k in range(count):
            records.append({"type": "interaction", "id": f"{day}-{k}", "channel": "chat",
                            "created_at": f"{day}T{9 + k % 8:02d}:00:00Z"})
    import_rows(store, [SourceRow("test", n, r, json.dumps(r)) for n, r in enumerate(records)])
    week5 = date(2026, 3, 2)
    (series,) = daily_kpi_series(store, ["contacts"], week5, week5 + timedelta(days=7))
    assert [point.value for point in series.values] == [6, 6, 20, 6, 6, 3, 1]
    found = find_kpi_anomalies(store, ["contacts"], week5, week5 + timedelta(days=7))
    # Wednesdays before: 6, 6, 6, 6 -> median 6, MAD 0, mean deviation 0 -> the scale is the
    # 5% floor, 0.3; deviation 20 - 6 = 14; z = 14 / 0.3 = 46.67; +233.3%. The weekend's 3
    # and 1 match their own weekdays: not flagged.
    assert [(a.day, a.kpi, a.value, a.baseline) for a in found] == [(spike, "contacts", 20, 6)]
    assert found[0].robust_z == pytest.approx(14 / 0.3)
    assert found[0].deviation_pct == pytest.approx(1400 / 6)
    assert found[0].history == 4
    assert found[0].worse is None  # contacts have no better direction

"""KPI anomalies: a day's value against a weekday-aware, robust baseline.

Contact centres have strong weekly seasonality (Mondays are busy, Sundays quiet), so a day is
compared only with the same weekday of the previous `weeks` weeks. The baseline is the median of
those values and the spread their median absolute deviation (MAD), both insensitive to an
earlier outlier. The deviation is measured as a robust z-score (Iglewicz & Hoaglin's modified
z-score): (value - median) / (1.4826 * MAD), where 1.4826 makes the MAD a consistent estimate
of the standard deviation for normal data; a day is flagged when |z| >= `threshold` (3.5 is
their recommended cut-off). Each flagged day carries its expected range, baseline -+
threshold x scale: the values that day could have taken without being flagged.

The spread can be zero (the same value every Monday): then the mean absolute deviation is used
(x 1.2533, again consistent for normal data), and the scale is never allowed below
`relative_floor` of the baseline, so a 1% wobble in a flat series is not an "infinite" outlier.

A partial day (one the data covers only in part: the day of the first or last record, or
today) is never judged against whole days, nor counted in a baseline: its contacts would be
"−95%" only because the day is not over. For FCR and the repeat rate, so are the last
`repeat_window_days` days of the data: their repeats are not in yet.

`detect_anomalies(series)` works on any daily series (used by the alerts of the scorecards
area); `find_kpi_anomalies(engine, ...)` reads daily KPI values from the KPI engine first.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from servicepulse.errors import InvalidRequest

if TYPE_CHECKING:
    from servicepulse.kpi.results import KpiResult

MAD_TO_SD = 1.4826  # 1 / Phi^-1(3/4): MAD -> standard deviation for normal data
MEAN_AD_TO_SD = 1.2533  # sqrt(pi / 2): mean absolute deviation -> standard deviation
NO_VALUE = "(none)"  # a group whose dimension is missing (the engine reports it as null)
Z_CAP = 999.0  # a deviation from a perfectly flat zero baseline: reported as this, not inf
# the KPIs watched when none are named: the anomalies page and `servicepulse anomalies`
ANOMALY_KPIS = ("contacts", "frt_within_target", "aht", "fcr", "csat", "abandon_rate", "sentiment")


@dataclass(frozen=True, slots=True)
class DailyValue:
    day: date
    value: float | None  # None: no value that day (n = 0)
    n: int | None = None  # the count the value was computed from, when known
    # a day the data covers only in part (the engine's `partial`: the day of the first or
    # last record, today): never judged, nor part of a baseline, as whole days are
    partial: bool = False


class Anomaly(BaseModel):
    """One flagged day: the value, its baseline and how far off it is."""

    day: date
    kpi: str | None = None
    group: dict[str, str] = Field(default_factory=dict)
    value: float
    baseline: float  # median of the same weekday over the previous weeks
    mad: float  # median absolute deviation of that history
    scale: float  # the standard-deviation estimate the z-score divides by
    deviation: float  # value - baseline, in the KPI's unit
    deviation_pct: float | None  # deviation / |baseline| x 100; None when the baseline is 0
    robust_z: float  # deviation / scale (capped at +-999)
    # the expected range: values in [low, high] (baseline -+ threshold x scale) are not flagged
    expected_low: float
    expected_high: float
    direction: Literal["high", "low"]
    worse: bool | None = None  # against the KPI's direction (higher or lower is better)
    history: int  # how many same-weekday values the baseline used
    n: int | None = None


@dataclass(frozen=True)
class AnomalySettings:
    threshold: float = 3.5
    weeks: int = 8  # same-weekday history looked at
    min_history: int = 3  # fewer same-weekday values: the day is not judged
    relative_floor: float = 0.05  # the scale is at least 5% of |baseline|
    min_n: int = 0  # days whose value rests on fewer items are not judged
    higher_is_better: bool | None = None


DailySeries = Sequence[DailyValue] | Mapping[date, float | None]


def _as_values(series: DailySeries) -> dict[date, DailyValue]:
    if isinstance(series, Mapping):
        return {day: DailyValue(day, value) for day, value in series.items()}
    return {point.day: point for point in series}


def _scale(history: list[float], baseline: float, relative_floor: float) -> tuple[float, float]:
    deviations = [abs(value - baseline) for value in history]
    mad = statistics.median(deviations)
    scale = MAD_TO_SD * mad
    if scale == 0:
        scale = MEAN_AD_TO_SD * statistics.fmean(deviations)
    return mad, max(scale, relative_floor * abs(baseline))


def detect_anomalies(
    series: DailySeries,
    settings: AnomalySettings | None = None,
    *,
    start: date | None = None,
    kpi: str | None = None,
    group: Mapping[str, str] | None = None,
) -> list[Anomaly]:
    """Flag the days of `series` (from `start` on, if given) that are far from their baseline.

    `series` holds one value per day (missing days and None values are simply absent from
    the baselines). Days are judged against the same weekday in the `weeks` weeks before.
    """
    settings = settings or AnomalySettings()
    if settings.threshold <= 0 or settings.weeks < 1 or settings.min_history < 1:
        raise InvalidRequest("anomaly settings: threshold must be > 0, weeks and min_history >= 1")
    values = _as_values(series)
    found: list[Anomaly] = []
    for day in sorted(values):
        point = values[day]
        if point.value is None or point.partial or (start is not None and day < start):
            continue
        if point.n is not None and point.n < settings.min_n:
            continue
        history = [
            earlier.value
            for week in range(1, settings.weeks + 1)
            if (earlier := values.get(day - timedelta(weeks=week))) is not None
            and earlier.value is not None and not earlier.partial
            and (earlier.n is None or earlier.n >= settings.min_n)
        ]
        if len(history) < settings.min_history:
            continue
        baseline = statistics.median(history)
        mad, scale = _scale(history, baseline, settings.relative_floor)
        deviation = point.value - baseline
        if deviation == 0:
            continue
        if scale == 0:  # a perfectly flat zero history: any change is as far off as it gets
            z = math.copysign(Z_CAP, deviation)
        else:
            z = max(-Z_CAP, min(Z_CAP, deviation / scale))
        if abs(z) < settings.threshold:
            continue
        direction: Literal["high", "low"] = "high" if deviation > 0 else "low"
        worse = (None if settings.higher_is_better is None
                 else (direction == "low") == settings.higher_is_better)
        found.append(Anomaly(
            day=day, kpi=kpi, group=dict(group or {}), value=point.value, baseline=baseline,
            mad=mad, scale=scale, deviation=deviation,
            deviation_pct=None if baseline == 0 else deviation / abs(baseline) * 100,
            robust_z=z, direction=direction, worse=worse, history=len(history), n=point.n,
            expected_low=baseline - settings.threshold * scale,
            expected_high=baseline + settings.threshold * scale,
        ))
    return found


# --- reading daily KPI values from the engine -----------------------------------------------


@dataclass
class KpiSeries:
    kpi: str
    group: dict[str, str]
    values: list[DailyValue] = field(default_factory=list)


KpiRun = Callable[[dict[str, Any]], "KpiResult"]  # KpiQuery data -> the engine's result


def engine_run(engine: Any, settings: Any = None) -> KpiRun:
    """Run KPI questions on the store behind `engine` with the KPI engine."""

    def run(data: dict[str, Any]) -> KpiResult:
        from servicepulse.kpi.engine import run_kpi_query
        from servicepulse.kpi.query import KpiQuery

        return run_kpi_query(engine, KpiQuery.model_validate(data), settings)

    return run


def daily_kpi_series(
    engine: Any,
    kpis: Sequence[str],
    start: date,
    end: date,
    *,
    by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    settings: Any = None,
    run: KpiRun | None = None,
) -> list[KpiSeries]:
    """Daily values of `kpis` in [start, end) from the KPI engine, one series per group.
    `run` replaces the engine call (the web service passes its access-scoped one)."""
    result = (run or engine_run(engine, settings))({
        "by": list(by), "period": "day", "from": start, "to": end, "kpis": list(kpis),
        "filters": {key: list(values) for key, values in (filters or {}).items()},
    })
    series: dict[tuple[str, tuple[tuple[str, str], ...]], KpiSeries] = {}
    for row in result.rows:
        row_group = {key: NO_VALUE if value is None else str(value)
                     for key, value in row.group.items() if key != "period"}
        day = date.fromisoformat(str(row.group["period"])[:10])
        for name in kpis:
            figure = row.figure(name)
            key = (name, tuple(sorted(row_group.items())))
            entry = series.setdefault(key, KpiSeries(name, row_group))
            value = figure.value if figure is not None else None
            entry.values.append(DailyValue(day, None if value is None else float(value),
                                           figure.n if figure is not None else None,
                                           bool(row.partial)))
    return list(series.values())


def _higher_is_better(kpi: str) -> bool | None:
    try:
        from servicepulse.kpi.definitions import KPIS
    except ImportError:  # the engine not installed in this tree: direction unknown
        return None
    definition = KPIS.get(kpi)
    direction = getattr(definition, "direction", None)
    text = str(getattr(direction, "value", direction) or "").lower()
    if text in ("higher", "up", "higher_is_better", "increase"):
        return True
    if text in ("lower", "down", "lower_is_better", "decrease"):
        return False
    return None


def find_kpi_anomalies(
    engine: Any,
    kpis: Sequence[str],
    start: date,
    end: date,
    *,
    by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    anomaly_settings: AnomalySettings | None = None,
    settings: Any = None,
    run: KpiRun | None = None,
) -> list[Anomaly]:
    """Anomalous days in [start, end) for each KPI and group, baselines from the weeks before."""
    base = anomaly_settings or AnomalySettings()
    history_start = start - timedelta(weeks=base.weeks)
    found: list[Anomaly] = []
    entries = daily_kpi_series(engine, kpis, history_start, end, by=by, filters=filters,
                               settings=settings, run=run)
    whole = [point.day for entry in entries for point in entry.values if not point.partial]
    if whole:
        _repeats_not_seen_yet(entries, max(whole), settings)
    for entry in entries:
        per_kpi = AnomalySettings(
            threshold=base.threshold, weeks=base.weeks, min_history=base.min_history,
            relative_floor=base.relative_floor, min_n=base.min_n,
            higher_is_better=(base.higher_is_better if base.higher_is_better is not None
                              else _higher_is_better(entry.kpi)),
        )
        found += detect_anomalies(entry.values, per_kpi, start=start, kpi=entry.kpi,
                                  group=entry.group)
    found.sort(key=lambda anomaly: (anomaly.day, anomaly.kpi or "", -abs(anomaly.robust_z)))
    return found


def _repeats_not_seen_yet(entries: list[KpiSeries], last_whole: date, settings: Any) -> None:
    """FCR and the repeat rate of a day count the repeats of the `repeat_window_days` after
    it: on the last days of the data those are not in yet (FCR reads high, as if no one
    called back), so those days are partial for these KPIs."""
    from servicepulse.kpi.settings import kpi_settings
    from servicepulse.kpi.sources import REPEAT_KPIS

    window = timedelta(days=math.ceil(kpi_settings(settings).repeat_window_days))
    for entry in entries:
        if entry.kpi in REPEAT_KPIS:
            entry.values = [DailyValue(point.day, point.value, point.n,
                                       point.partial or point.day > last_whole - window)
                            for point in entry.values]

"""The workforce defaults, once: the staffing page, its API and `servicepulse staffing` all
read them from here, so a plan asked for without options is the same plan everywhere (the
command line used to cap occupancy at 100% while the page capped it at 85%).

Percentages are 0-100, as a person types them; the library functions take fractions 0-1.
Intervals are written `15m`, `30m`, `1h` or as plain seconds, and `parse_interval` is the one
parser of them for every option that takes an interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from servicepulse.errors import InvalidRequest

if TYPE_CHECKING:  # the configuration (pydantic) loads when a threshold is asked, not when
    # `servicepulse --help` reads the option defaults below
    from servicepulse.config import ServiceLevelThresholds

# The staffing question asked when nothing else is said.
CHANNEL: Final = "phone"
INTERVAL: Final = "30m"
INTERVAL_S: Final = 1800
# The plan and the forecast repeat per time of day: intervals that divide an hour evenly.
PLAN_INTERVALS_S: Final = (900, 1800, 3600)
TARGET_SERVICE_LEVEL_PCT: Final = 80.0  # the classic 80/20: 80% answered within 20 s
# Above ~85% agents burn out and the queue has no slack: the top of the occupancy band the
# scorecards hold agents to (75-85%).
MAX_OCCUPANCY_PCT: Final = 85.0
SHRINKAGE_PCT: Final = 0.0  # the shifts in the store are productive time unless told
HISTORY_WEEKS: Final = 8  # the forecast's history: two months of weekly patterns
BACKTEST_WEEKS: Final = 2
# The intraday reforecast's prior belief in the day's forecast, in calls (the weighted
# method; chosen by the backtest in docs/workforce.md).
REFORECAST_CREDIBILITY_CALLS: Final = 60.0
# The Erlang calculator's example question (the staffing page's form before anything is typed).
CALCULATOR_CALLS: Final = 100.0
CALCULATOR_AHT_S: Final = 300.0
# A staffing interval shorter than this is a typo for minutes ("30" meant "30m").
MIN_STAFFING_INTERVAL_S: Final = 60


def target_time_s(channel: str,
                  thresholds: ServiceLevelThresholds | Mapping[str, float] | None = None
                  ) -> float:
    """The service-level threshold of `channel` (seconds): the organisation's setting
    (`service_level_threshold_s` of the configuration, or the KPI settings'
    `service_level_thresholds`: the set entries by channel), else its default (phone 20 s,
    chat 30 s); a channel without one (email, social...) falls back to phone's."""
    from servicepulse.config import ServiceLevelThresholds

    default = ServiceLevelThresholds()
    table = thresholds if thresholds is not None else default
    value = table.get(channel)
    if value is None:
        value = table.get("phone")
    if value is None:
        value = default.phone
    assert value is not None  # phone's default is set
    return float(value)


def plan_day(timezone: str, after_data: date | None = None) -> date:
    """The day a plan is for when none is given: today in the organisation's time zone, or,
    when the stored contacts end before today (`after_data`: the day after the newest one),
    that day, so that a store of past data plans the day its history leads up to."""
    today = datetime.now(ZoneInfo(timezone)).date()
    return min(today, after_data) if after_data is not None else today


class IntervalError(InvalidRequest):
    """An interval option that is not understood; the message says what to write."""


_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?")
_UNIT_S = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def _written(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def parse_interval(text: str | int | float, *, allowed: tuple[int, ...] | None = None,
                   minimum_s: int = 1) -> int:
    """'15m', '30m', '1h', '90s' or plain seconds ('1800') -> seconds.

    `allowed` limits the answer to those lengths (the plan's 15m, 30m, 1h); a length below
    `minimum_s` given as a bare number is taken for minutes typed without their unit and
    refused with the suggestion to add it."""
    raw = str(text).strip().lower()
    match = _INTERVAL.fullmatch(raw)
    if allowed:
        *first, last = [_written(s) for s in allowed]
        choices = f"{', '.join(first)} or {last}" if first else last
    else:
        choices = "15m, 30m, 1h or seconds"
    if match is None:
        raise IntervalError(f"interval {str(text)!r} is not understood: write {choices} "
                            "(e.g. 30m)")
    number, unit = float(match.group(1)), match.group(2)
    seconds = number * _UNIT_S[unit or "s"]
    if seconds != int(seconds) or seconds <= 0:
        raise IntervalError(f"interval {str(text)!r} must be a whole, positive number of "
                            f"seconds: write {choices}")
    whole = int(seconds)
    if unit is None and whole < minimum_s:
        raise IntervalError(f"interval {str(text)!r} would be {whole} seconds, too short: "
                            f"write {raw}m for {raw} minutes (an interval here is at least "
                            f"{_written(minimum_s)})")
    if whole < minimum_s:
        raise IntervalError(f"interval {str(text)!r} is shorter than {_written(minimum_s)}: "
                            f"write {choices}")
    if allowed is not None and whole not in allowed:
        raise IntervalError(f"interval {str(text)!r} is not supported here: write {choices}")
    return whole

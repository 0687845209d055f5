"""Plausible values (docs/records.md): the limits every record is held to beyond its type.

A time before `plausible_from` (default 1970-01-01) or after the day `plausible_years_ahead`
years after today (default 10), and a duration (`talk_s`, `hold_s`, `wrap_s`, `handle_s`) over
`max_duration_s` (default 86,400 s, one day) make the record invalid: it is quarantined with
the field and the reason, like any other invalid record. Such values are typos and clock
errors (0001-01-01, 2099, a duration in milliseconds), and one of them would distort every
default period or break date arithmetic downstream.

The limits are one frozen `Plausibility`, held by this module for the whole process: the
composition root (the CLI from `servicepulse.config.Settings`, see `configure`) sets it once,
before any import, and the field validators of `servicepulse.records.models` read it (one
attribute lookup, no settings read per record). Validation workers are forked from the
importing process, so they inherit it. Without `configure`, the defaults apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_FROM = date(1970, 1, 1)
DEFAULT_YEARS_AHEAD = 10
DEFAULT_MAX_DURATION_S = 86_400.0
# The settings that move the limits, named in every reason so that a user knows what to change.
FROM_SETTING = "plausible_from"
YEARS_AHEAD_SETTING = "plausible_years_ahead"
MAX_DURATION_SETTING = "max_duration_s"


def years_after(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True, slots=True)
class Plausibility:
    """The window of plausible times (whole UTC days, both ends included) and the longest
    plausible duration."""

    first_day: date = DEFAULT_FROM
    last_day: date = field(
        default_factory=lambda: years_after(datetime.now(UTC).date(), DEFAULT_YEARS_AHEAD))
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    # how `last_day` was set, for the reasons ("ten years after today"); None: given as a date
    years_ahead: int | None = DEFAULT_YEARS_AHEAD
    # the window as instants: [earliest, after) (worked out once, compared per value)
    earliest: datetime = field(init=False, repr=False, compare=False)
    after: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"the plausible window ends ({self.last_day}) before it starts "
                             f"({self.first_day})")
        if not self.max_duration_s > 0 or self.max_duration_s == float("inf"):
            raise ValueError(f"the longest plausible duration must be a number of seconds > 0, "
                             f"not {self.max_duration_s!r}")
        object.__setattr__(self, "earliest", datetime(
            self.first_day.year, self.first_day.month, self.first_day.day, tzinfo=UTC))
        end = datetime(self.last_day.year, self.last_day.month, self.last_day.day, tzinfo=UTC)
        object.__setattr__(self, "after", end + timedelta(days=1) if end.year < 9999 else
                           datetime.max.replace(tzinfo=UTC))

    @classmethod
    def window(cls, plausible_from: date = DEFAULT_FROM,
               years_ahead: int = DEFAULT_YEARS_AHEAD,
               max_duration_s: float = DEFAULT_MAX_DURATION_S,
               today: date | None = None) -> Plausibility:
        """From `plausible_from` to the day `years_ahead` years after `today` (UTC)."""
        today = today if today is not None else datetime.now(UTC).date()
        return cls(plausible_from, years_after(today, years_ahead), float(max_duration_s),
                   years_ahead)

    @classmethod
    def from_settings(cls, settings: Any, today: date | None = None) -> Plausibility:
        """The limits a `servicepulse.config.Settings` gives (defaults for missing keys)."""
        return cls.window(getattr(settings, FROM_SETTING, DEFAULT_FROM),
                          int(getattr(settings, YEARS_AHEAD_SETTING, DEFAULT_YEARS_AHEAD)),
                          float(getattr(settings, MAX_DURATION_SETTING, DEFAULT_MAX_DURATION_S)),
                          today)

    # -- the checks (field validators of the record models call these) ---------------------

    def too_early(self) -> str:
        return (f"before {self.first_day.isoformat()}, the earliest plausible time; see the "
                f"setting {FROM_SETTING}")

    def too_late(self) -> str:
        ahead = (f" ({self.years_ahead} years after today)" if self.years_ahead is not None
                 else "")
        return (f"after {self.last_day.isoformat()}, the latest plausible day{ahead}; see the "
                f"setting {YEARS_AHEAD_SETTING}")

    def too_long(self) -> str:
        return (f"over {self.max_duration_s:g} s, the longest plausible duration; see the "
                f"setting {MAX_DURATION_SETTING}")


_current = Plausibility()


def current() -> Plausibility:
    """The limits validation applies in this process."""
    return _current


def configure(limits: Plausibility) -> Plausibility:
    """Apply `limits` to every validation in this process from now on; returns the previous
    ones (to restore them). Call it before an import starts: a validation worker forked
    before the call keeps the limits it was forked with."""
    global _current
    previous, _current = _current, limits
    return previous


def configure_from_settings(settings: Any) -> Plausibility:
    """`configure` with the limits of a `servicepulse.config.Settings`."""
    return configure(Plausibility.from_settings(settings))

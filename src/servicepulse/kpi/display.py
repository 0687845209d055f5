"""One way to write a KPI value for people: by the unit of its definition.

The engine keeps values in their base unit (durations in seconds, rates in percent 0-100), which
is right for JSON and CSV but unreadable on a page: "frt 359489.5" is four days. Every place that
shows a value to a person (web pages, CLI tables, scorecards) formats it here, so a duration
reads "45 s", "3.2 min", "11.4 h" or "2.1 d" everywhere, and a change in a percentage reads in
points ("+1.2 pts"), never as a percent of a percent.

The functions are pure and cheap; `format_kpi` looks the unit up in the KPI definitions, the
others take the unit directly (for callers that already hold it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from servicepulse.kpi.results import KpiFigure

MISSING: Final = "–"  # what a missing value (no data, or not a number) reads as
MINUS: Final = "−"  # a typographic minus: the same width as a plus in a column of changes

# (the largest value, in seconds, written in this unit; seconds in one unit; its symbol):
# a value that would round up to the next unit's size is written in the next unit instead
_DURATION_STEPS: Final = ((60.0, 1.0, "s"), (3600.0, 60.0, "min"), (86_400.0, 3600.0, "h"),
                          (math.inf, 86_400.0, "d"))

_UNIT_SYMBOLS: Final = {"percent": "%", "seconds": "s", "per_hour": "/h", "currency": "$",
                        "points": "pts", "count": "", "score": ""}


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(value)


def _sign(value: float, signed: bool) -> str:
    if value < 0:
        return MINUS
    return "+" if signed else ""


def format_duration(seconds: float | None, *, signed: bool = False) -> str:
    """A duration in the largest unit that keeps it readable: '45 s', '3.2 min', '11.4 h',
    '2.1 d' (under 10 s one decimal, '4.5 s'; exactly zero '0 s'). `signed` writes a '+' on
    positive values (for changes); negative values always carry a minus."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    size = abs(seconds)
    if size == 0:
        return "0 s"
    sign = _sign(seconds, signed) if round(size, 1) else ""
    for limit, per, symbol in _DURATION_STEPS:
        amount = size / per
        if symbol == "s":
            text = f"{amount:.1f}" if amount < 9.95 else f"{amount:.0f}"
            if float(text) < 60:
                return f"{sign}{text} s"
            continue
        text = f"{amount:.1f}"
        if float(text) * per < limit:
            return f"{sign}{text} {symbol}"
    raise AssertionError("unreachable: the last step has no limit")  # pragma: no cover


def format_unit(unit: str, value: float | None, *, signed: bool = False) -> str:
    """A value in an engine unit (count, percent, seconds, score, points, currency, per_hour)
    as text: '1,234', '82.0%', '3.2 min', '5.20', '+38', '$4.56', '6.3/h'."""
    if value is None or not math.isfinite(value):
        return MISSING
    if unit == "seconds":
        return format_duration(value, signed=signed)
    size = abs(value)
    if unit == "percent":
        text = f"{size:.1f}%"
    elif unit == "count":
        text = f"{size:,.0f}"
    elif unit == "currency":
        text = f"${size:,.2f}"
    elif unit == "points":
        text = f"{size:.0f}"
        signed = True  # NPS reads "+38" or "−12" by convention
    elif unit == "per_hour":
        text = f"{size:.1f}/h"
    else:  # score and anything new: two decimals
        text = f"{size:,.2f}"
    zero = float(text.strip("%$/h").replace(",", "")) == 0
    return ("" if zero else _sign(value, signed)) + text


def format_change(unit: str, change: float | None) -> str:
    """A difference between two values, always signed; a change of a percentage is in
    percentage points ('+1.2 pts'), of NPS in points ('+3 pts')."""
    if change is None or not math.isfinite(change):
        return MISSING
    if unit == "percent":
        text = f"{abs(change):.1f}"
        sign = "" if float(text) == 0 else _sign(change, True)
        return f"{sign}{text} pts"
    if unit == "points":
        text = f"{abs(change):.0f}"
        sign = "" if float(text) == 0 else _sign(change, True)
        return f"{sign}{text} pts"
    return format_unit(unit, change, signed=True)


def kpi_unit(name: str) -> str:
    """The unit of a KPI's definition ('count' for a name no definition has)."""
    from servicepulse.kpi.definitions import KPIS  # the definitions load Ibis: only when asked

    definition = KPIS.get(name)
    return definition.unit if definition is not None else "count"


def format_kpi(name: str, value: float | None, *, signed: bool = False) -> str:
    """A KPI's value as text, by its definition's unit: format_kpi('frt', 40_980) == '11.4 h'."""
    return format_unit(kpi_unit(name), value, signed=signed)


def format_kpi_change(name: str, change: float | None) -> str:
    """A change of a KPI's value as text: format_kpi_change('csat', -12.4) == '−12.4 pts'."""
    return format_change(kpi_unit(name), change)


def unit_symbol(unit: str) -> str:
    """The short symbol of a unit for headers and targets: '%', 's', '/h', '$', 'pts' or ''."""
    return _UNIT_SYMBOLS.get(unit, "")


def format_target_duration(seconds: float | None) -> str:
    """A target as people state it: '20 s', '60 s', '1 h', '24 h', '2 d' (whole numbers in the
    largest unit that divides it; seconds up to 2 minutes, hours up to 2 days); any other value
    as `format_duration`."""
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return format_duration(seconds)
    if seconds < 120 and float(seconds).is_integer():
        return f"{seconds:.0f} s"
    for per, symbol, most in ((86_400.0, "d", math.inf), (3600.0, "h", 48.0), (60.0, "min", 120)):
        amount = seconds / per
        if amount.is_integer() and 1 <= amount <= most and (symbol != "d" or amount > 2):
            return f"{amount:.0f} {symbol}"
    return format_duration(seconds)


# -- first response by channel --------------------------------------------------------------
# `frt_within_target` (servicepulse.kpi.definitions) carries, beside the share of first
# responses within their channel's target, each channel's FRT: `<channel>` (median, mean, p90,
# n) and `<channel>_within_target`. These read them for pages, tables and scorecards.

@dataclass(frozen=True)
class ChannelFirstResponse:
    """One channel's first response: its median and its share within the channel's target."""

    channel: str
    median_s: float | None
    n: int
    within_target: float | None  # percent, None without a target for the channel

    @property
    def text(self) -> str:
        """'email 19.8 h (62.5%)': the median, then the share within target."""
        share = "" if self.within_target is None else \
            f" ({format_unit('percent', self.within_target)})"
        return f"{self.channel} {format_duration(self.median_s)}{share}"


def frt_by_channel(result: KpiFigure | None) -> list[ChannelFirstResponse]:
    """The channels of a `frt_within_target` figure that have first responses, in the order of
    FRT_CHANNELS (empty for any other figure)."""
    from servicepulse.kpi.definitions import FRT_CHANNELS

    found: list[ChannelFirstResponse] = []
    extras = result.extras if result is not None else {}
    for channel in FRT_CHANNELS:
        figures = extras.get(channel)
        if not isinstance(figures, Mapping) or not figures.get("n"):
            continue
        within = extras.get(f"{channel}_within_target")
        found.append(ChannelFirstResponse(
            channel, _number(figures.get("value")), int(figures["n"]), _number(within)))
    return found


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def kpi_details(name: str, result: KpiFigure | None) -> list[str]:
    """Small print shown under a KPI's value: for `frt_within_target`, each channel's median
    first response and share within target ('chat 42 s (71.1%)'); else nothing."""
    if name == "frt_within_target":
        channels = frt_by_channel(result)
        if len(channels) == 1:  # its share is the value above: the median alone
            return [f"{channels[0].channel} {format_duration(channels[0].median_s)}"]
        return [channel.text for channel in channels]
    return []


def frt_targets_text(targets: Mapping[str, float]) -> str:
    """'phone 20 s, chat 60 s, email 24 h, social 1 h': the first-response targets per channel
    (the organisation's `frt_target_s`), channels of FRT_CHANNELS first."""
    from servicepulse.kpi.definitions import FRT_CHANNELS

    order = [*FRT_CHANNELS, *sorted(set(targets) - set(FRT_CHANNELS))]
    return ", ".join(f"{channel} {format_target_duration(targets[channel])}"
                     for channel in order if targets.get(channel) is not None)


# Why a KPI is shown the way it is, for a title or a legend where its target would be.
KPI_NOTES: Final[dict[str, str]] = {
    "aht": "AHT has no fixed target: it is judged against the team's median (half the team is "
           "faster, half slower), and only together with quality — a short AHT with many repeat "
           "contacts is rushing, a long one with high FCR may be thoroughness.",
    "frt": "First response time differs by channel (seconds on phone and chat, hours on "
           "email), so it is judged per channel against the channel's own target; one median "
           "across channels would mix seconds with hours and is not shown.",
    "frt_within_target": "Share of first responses within their own channel's target; "
                         "comparable across channels. Small print: each channel's median first "
                         "response (share within its target).",
}


def kpi_note(name: str) -> str | None:
    """The explanation of a KPI's target or presentation (KPI_NOTES), or None."""
    return KPI_NOTES.get(name)

"""Words for a scorecard: a KPI's name, its value and target in units, and why it meets or
misses its target.

The scorecard JSON keeps numbers in the engine's base units (seconds, percent) for scripts;
a person reading "aht 178.3, team median, 0.59, misses" cannot tell that 178 s is the fastest
in the team and that the miss comes from CSAT capping it. Every page, report and CLI table
therefore shows the texts made here, which the scorecard document carries next to the
numbers (`label`, `value_text`, `target_text`, `reason`), so that all of them say the same.
"""

from __future__ import annotations

from typing import Any

from servicepulse.kpi.definitions import DefaultTarget
from servicepulse.kpi.display import MISSING, format_duration, format_unit, kpi_unit
from servicepulse.scorecards.attainment import NEAR

# The short names a contact centre uses; the definition's label follows in brackets.
ABBREVIATIONS = {"csat": "CSAT", "fcr": "FCR", "aht": "AHT", "frt": "FRT", "nps": "NPS",
                 "ces": "CES", "ttr": "TTR", "cltv": "CLTV", "iqs": "IQS"}
CHANNEL_NAMES = {"phone": "phone", "email": "email", "chat": "chat", "social": "social",
                 "sms": "SMS", "web": "web form", "in_person": "in person"}
STATUS_WORDS = {"meets": "meets", "near": "near", "misses": "misses",
                "not_enough_data": "not enough data", "info": "shown, not scored"}


def label(name: str) -> str:
    """'CSAT (Customer satisfaction)', 'Occupancy'."""
    from servicepulse.kpi.definitions import KPIS

    definition = KPIS.get(name)
    long = definition.label if definition is not None else name.replace("_", " ").capitalize()
    if name == "frt":
        long = "First response, per channel"
    short = ABBREVIATIONS.get(name)
    return f"{short} ({long.lower()})" if short else long


def value_text(name: str, value: float | None) -> str:
    return format_unit(kpi_unit(name), value)


def interval_text(name: str, ci: list[float] | None) -> str:
    if not ci or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return MISSING
    unit = kpi_unit(name)
    return f"{format_unit(unit, ci[0])} – {format_unit(unit, ci[1])}"


def target_text(name: str, target: DefaultTarget | None,
                benchmark: float | None = None) -> str:
    """The target with its unit: '≥ 80.0%', '≤ 1.0 min (stretch 30 s)', '75.0%–85.0%',
    'team median for this channel mix: ≤ 5.7 min'."""
    if target is None:
        return MISSING
    unit = kpi_unit(name)
    if target.direction == "band":
        return f"{format_unit(unit, target.low)}–{format_unit(unit, target.high)}"
    if target.direction == "relative":
        if benchmark is None:
            return "team median (no team figure)"
        return f"team median for this channel mix: ≤ {format_unit(unit, benchmark)}"
    if target.direction == "info" or target.target is None:
        return "none (shown, not scored)"
    sign = "≥" if target.direction == "higher" else "≤"
    text = f"{sign} {format_unit(unit, target.target)}"
    if target.stretch is not None:
        text += f" (stretch {format_unit(unit, target.stretch)})"
    return text


def _share(att: float) -> str:
    return f"{100 * att:.0f}% of target"


def reason(name: str, entry: dict[str, Any], target: DefaultTarget | None, minimum_sample: int,
           *, benchmark: float | None = None, quality_cap: tuple[str, float] | None = None,
           uncapped: float | None = None) -> str:
    """Why the entry has its status, in one sentence that names the numbers."""
    value, n, status = entry.get("value"), int(entry.get("n") or 0), entry.get("status")
    if entry.get("unavailable"):
        return str(entry["unavailable"])
    if entry.get("scope") == "organisation":
        return "the organisation's figure: customers have no owning agent, so it is not scored"
    shown = value_text(name, value)
    if value is None:
        return "no data in the period"
    if status == "not_enough_data":
        return (f"{n:,} answers, fewer than the minimum sample of {minimum_sample}: "
                "too few to judge")
    if target is None or status == "info" or entry.get("attainment") is None:
        return "shown for context, not scored"
    att = float(entry["attainment"])
    verdict = STATUS_WORDS.get(str(status), str(status))
    if target.direction == "relative":
        if benchmark is None:
            return f"{shown}; no team median to compare with"
        compared = (f"{shown} is at or under the team median for this channel mix "
                    f"({format_unit(kpi_unit(name), benchmark)})"
                    if value <= benchmark else
                    f"{shown} is over the team median for this channel mix "
                    f"({format_unit(kpi_unit(name), benchmark)}, {_share(uncapped or att)})")
        if quality_cap is not None and uncapped is not None and att < uncapped:
            kpi, cap = quality_cap
            return (f"{compared}, but speed earns no more than the weakest quality KPI "
                    f"({ABBREVIATIONS.get(kpi, kpi)} at {_share(cap)}) → {verdict}")
        return f"{compared} → {verdict}"
    text = target_text(name, target)
    if target.direction == "band":
        where = ("inside" if status == "meets" else
                 "under" if target.low is not None and value < target.low else "over")
        return f"{shown} is {where} the band {text} → {verdict}"
    if status == "meets":
        return f"{shown} meets the target {text} → {verdict}"
    margin = (f"within {100 * (1 - NEAR):.0f}% of it" if status == "near"
              else _share(att))
    side = "below" if target.direction == "higher" else "above"
    return f"{shown} is {side} the target {text} ({margin}) → {verdict}"


def channel_text(channel: str, part: dict[str, Any]) -> str:
    """One channel of first response: 'phone: service level 64.0% (target ≥ 80.0%)',
    'email: 11.4 h (target ≤ 24.0 h)'."""
    name = CHANNEL_NAMES.get(channel, channel)
    if part["kpi"] == "service_level":
        return f"{name}: service level {format_unit('percent', part['value'])}"
    return f"{name}: median {format_duration(part['value'])}"


def channel_short(channel: str, part: dict[str, Any]) -> str:
    """A channel's figure in a few characters: 'phone SL 64.2%', 'email 13.2 h'."""
    name = CHANNEL_NAMES.get(channel, channel)
    if part["kpi"] == "service_level":
        return f"{name} SL {format_unit('percent', part['value'])}"
    return f"{name} {format_duration(part['value'])}"


def channel_target_text(channel: str, part: dict[str, Any], target: DefaultTarget) -> str:
    name = CHANNEL_NAMES.get(channel, channel)
    measure = " service level" if part["kpi"] == "service_level" else ""
    return f"{name}{measure} {target_text(part['kpi'], target)}"

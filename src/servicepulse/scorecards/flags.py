"""The flags a team lead sees (DESIGN.md §4), each with the numbers behind it.

- `busy_not_effective`: contacts in the team's top quarter (at or above the team's 75th
  percentile) while CSAT or FCR is in its bottom quarter (at or below the 25th percentile,
  and below the team median), the quality KPI having at least the minimum sample.
- `rushing`: AHT under 70% of the team median while the repeat contact rate is over 1.5× the
  team median.
- `burnout_risk`: occupancy above the band's top (85%) on most days with occupancy data
  (more than half, and at least MIN_DAYS of them); `underused`: below the band's bottom (75%).
- `low_sample`: a scorecard KPI with a value from fewer answers than the minimum sample.
Quartiles are numpy's linear-interpolation percentiles over the team members that have the
KPI (team leads and managers left out); a team of fewer than MIN_TEAM such agents gives no
quartile flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_TEAM = 4
MIN_DAYS = 2
RUSHING_AHT_SHARE = 0.7
RUSHING_REPEAT_MULTIPLE = 1.5
LABELS = {"csat": "CSAT", "fcr": "FCR", "aht": "AHT", "repeat_contact_rate": "repeat contacts",
          "contacts": "contacts", "occupancy": "occupancy"}

AgentKpis = Mapping[str, Mapping[str, Any]]  # kpi -> {"value", "n", ...}


@dataclass(frozen=True)
class Flag:
    flag: str
    evidence: str

    def as_json(self) -> dict[str, str]:
        return {"flag": self.flag, "evidence": self.evidence}


def team_values(team: Mapping[str, AgentKpis], kpi: str, minimum_n: int = 1) -> list[float]:
    return [float(kpis[kpi]["value"]) for kpis in team.values()
            if kpi in kpis and kpis[kpi].get("value") is not None
            and int(kpis[kpi].get("n") or 0) >= minimum_n]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def busy_not_effective(agent: AgentKpis, team: Mapping[str, AgentKpis],
                       minimum_sample: int) -> Flag | None:
    volumes = team_values(team, "contacts")
    contacts = agent.get("contacts", {}).get("value")
    if contacts is None or len(volumes) < MIN_TEAM:
        return None
    top = percentile(volumes, 75)
    if contacts < top:
        return None
    reasons = []
    for kpi in ("fcr", "csat"):
        result = agent.get(kpi, {})
        value, n = result.get("value"), int(result.get("n") or 0)
        values = team_values(team, kpi, minimum_sample)
        if value is None or n < minimum_sample or len(values) < MIN_TEAM:
            continue
        bottom, median = percentile(values, 25), percentile(values, 50)
        if value <= bottom and value < median:
            reasons.append(f"{LABELS[kpi]} {_pct(value)} against a team median of "
                           f"{_pct(median)} (bottom quarter: ≤ {_pct(bottom)}, n = {n})")
    if not reasons:
        return None
    return Flag("busy_not_effective",
                f"handled {int(contacts)} contacts, top quarter of the team (75th percentile "
                f"{top:.0f}); " + "; ".join(reasons))


def rushing(agent: AgentKpis, team: Mapping[str, AgentKpis]) -> Flag | None:
    aht, repeat = agent.get("aht", {}).get("value"), agent.get(
        "repeat_contact_rate", {}).get("value")
    ahts, repeats = team_values(team, "aht"), team_values(team, "repeat_contact_rate")
    if aht is None or repeat is None or len(ahts) < MIN_TEAM or len(repeats) < MIN_TEAM:
        return None
    aht_median, repeat_median = percentile(ahts, 50), percentile(repeats, 50)
    if aht < RUSHING_AHT_SHARE * aht_median and repeat > RUSHING_REPEAT_MULTIPLE * repeat_median:
        return Flag("rushing",
                    f"AHT {aht:.0f} s is {100 * aht / aht_median:.0f}% of the team median "
                    f"{aht_median:.0f} s (under {RUSHING_AHT_SHARE:.0%}); repeat contacts "
                    f"{_pct(repeat)} against a team median of {_pct(repeat_median)} (over "
                    f"{RUSHING_REPEAT_MULTIPLE}×)")
    return None


def occupancy_flags(daily: Sequence[float], low: float, high: float) -> Flag | None:
    """From the agent's occupancy on each day that has occupancy data."""
    days = len(daily)
    if days < MIN_DAYS:
        return None
    over = [value for value in daily if value > high]
    under = [value for value in daily if value < low]
    if 2 * len(over) > days:
        return Flag("burnout_risk",
                    f"occupancy above {high:g}% on {len(over)} of {days} days (mean on those "
                    f"days {_pct(sum(over) / len(over))}, highest {_pct(max(over))})")
    if 2 * len(under) > days:
        return Flag("underused",
                    f"occupancy below {low:g}% on {len(under)} of {days} days (mean on those "
                    f"days {_pct(sum(under) / len(under))}, lowest {_pct(min(under))})")
    return None


def low_sample(scored: Mapping[str, Mapping[str, Any]], minimum_sample: int,
               labels: Mapping[str, str]) -> Flag | None:
    """`scored`: the scorecard KPIs that have a sample size (kpi -> {"value", "n"})."""
    thin = [(kpi, int(result.get("n") or 0)) for kpi, result in scored.items()
            if result.get("value") is not None and int(result.get("n") or 0) < minimum_sample]
    if not thin:
        return None
    parts = [f"{labels.get(kpi, kpi)} from {n} (minimum {minimum_sample})" for kpi, n in thin]
    return Flag("low_sample", "too few to judge: " + "; ".join(parts))

"""The flags a team lead sees, each with the numbers behind it.

- `busy_not_effective`: contacts in the top quarter of the agent's peers (at or above their
  75th percentile) and at least BUSY_MULTIPLE × their median, while CSAT, FCR or the internal
  quality score (IQS, from QA reviews) is in their bottom quarter (at or below the 25th
  percentile) and significantly under their median (the 95% interval's top below it), the
  quality KPI having at least the minimum sample and missing its target.
- `rushing`: AHT under 70% of the agent's yardstick (the team's median AHT for the agent's
  channel mix) while the repeat contact rate is over 1.5× the peers' median.
- `burnout_risk`: occupancy above the band's top (85%) on most days with occupancy data
  (more than half, and at least MIN_DAYS of them), over the period as a whole, and with the
  whole 95% interval of the daily mean above it; `underused`: below the band's bottom (75%)
  the same way.
- `low_sample`: a scorecard KPI with a value from fewer answers than the minimum sample.
Peers are the team's agents in the same role (team leads and managers are never peers); a
quarter of a team always exists, so the quartiles alone flagged somebody in every team, and a
chance dip of a busy agent flagged them: the significance test and the period-wide occupancy
keep the flags for agents who really differ. Quartiles are numpy's linear-interpolation
percentiles; fewer than MIN_TEAM peers with the KPI give no quartile flags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from servicepulse.kpi.results import KpiFigure

MIN_TEAM = 4
MIN_DAYS = 2
# "Busy" is well above the usual volume: in a team where volumes are close, the top quarter
# starts a few contacts above the median and is no sign of anything.
BUSY_MULTIPLE = 1.2
RUSHING_AHT_SHARE = 0.7
RUSHING_REPEAT_MULTIPLE = 1.5
LABELS = {"csat": "CSAT", "fcr": "FCR", "aht": "AHT", "repeat_contact_rate": "repeat contacts",
          "contacts": "contacts", "occupancy": "occupancy", "iqs": "IQS"}
# The quality signals busy_not_effective weighs: what customers say (CSAT), whether the
# contact was settled (FCR) and what QA reviewers found (the internal quality score).
QUALITY_SIGNALS = ("fcr", "csat", "iqs")

AgentKpis = Mapping[str, KpiFigure]  # kpi -> the engine's figure


def _value(kpis: AgentKpis, kpi: str) -> float | int | None:
    """The KPI's value, None when the agent has no figure for it."""
    figure = kpis.get(kpi)
    return figure.value if figure is not None else None


@dataclass(frozen=True)
class Flag:
    flag: str
    evidence: str

    def as_json(self) -> dict[str, str]:
        return {"flag": self.flag, "evidence": self.evidence}


def team_values(team: Mapping[str, AgentKpis], kpi: str, minimum_n: int = 1) -> list[float]:
    return [float(figure.value) for kpis in team.values()
            if (figure := kpis.get(kpi)) is not None and figure.value is not None
            and figure.n >= minimum_n]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def busy_not_effective(agent: AgentKpis, team: Mapping[str, AgentKpis],
                       minimum_sample: int,
                       targets: Mapping[str, float | None] | None = None) -> Flag | None:
    """`targets`: the agent's CSAT, FCR and IQS targets; a KPI that meets its target is never
    "not effective", however the peers do."""
    volumes = team_values(team, "contacts")
    contacts = _value(agent, "contacts")
    if contacts is None or len(volumes) < MIN_TEAM:
        return None
    top, typical = percentile(volumes, 75), percentile(volumes, 50)
    if contacts < top or contacts < BUSY_MULTIPLE * typical:
        return None
    reasons = []
    for kpi in QUALITY_SIGNALS:
        result = agent.get(kpi)
        value, n = (result.value, result.n) if result is not None else (None, 0)
        values = team_values(team, kpi, minimum_sample)
        if result is None or value is None or n < minimum_sample or len(values) < MIN_TEAM:
            continue
        bottom, median = percentile(values, 25), percentile(values, 50)
        high = float(result.ci_high) if result.ci_high is not None else value
        target = (targets or {}).get(kpi)
        if value <= bottom and high < median and (target is None or value < target):
            reasons.append(f"{LABELS[kpi]} {_pct(value)} against a peer median of "
                           f"{_pct(median)} (bottom quarter: ≤ {_pct(bottom)}, n = {n})")
    if not reasons:
        return None
    return Flag("busy_not_effective",
                f"handled {int(contacts)} contacts, top quarter of their peers (75th percentile "
                f"{top:.0f}, median {typical:.0f}); " + "; ".join(reasons))


def rushing(agent: AgentKpis, team: Mapping[str, AgentKpis],
            aht_benchmark: float | None = None) -> Flag | None:
    """`aht_benchmark`: the agent's AHT yardstick (default: the peers' median AHT)."""
    aht, repeat = _value(agent, "aht"), _value(agent, "repeat_contact_rate")
    ahts, repeats = team_values(team, "aht"), team_values(team, "repeat_contact_rate")
    if aht is None or repeat is None or len(ahts) < MIN_TEAM or len(repeats) < MIN_TEAM:
        return None
    aht_median = aht_benchmark if aht_benchmark is not None else percentile(ahts, 50)
    repeat_median = percentile(repeats, 50)
    if aht < RUSHING_AHT_SHARE * aht_median and repeat > RUSHING_REPEAT_MULTIPLE * repeat_median:
        return Flag("rushing",
                    f"AHT {aht:.0f} s is {100 * aht / aht_median:.0f}% of the "
                    + ("team median for this channel mix " if aht_benchmark is not None
                       else "peer median ")
                    + f"{aht_median:.0f} s (under {RUSHING_AHT_SHARE:.0%}); repeat contacts "
                    f"{_pct(repeat)} against a peer median of {_pct(repeat_median)} (over "
                    f"{RUSHING_REPEAT_MULTIPLE}×)")
    return None


def daily_interval(daily: Sequence[float]) -> tuple[float, float]:
    """The 95% t interval of the mean of the daily occupancies (at least 2 days)."""
    # The t quantile from the ufunc that scipy.stats.t.ppf evaluates (`stdtrit`, the same
    # number): importing scipy.stats would cost every scorecard half a second (issue 16), and
    # scipy.special is imported here, where it is needed, rather than with the module.
    from scipy import special

    values = np.asarray(daily, dtype=float)
    mean = float(values.mean())
    error = float(values.std(ddof=1)) / math.sqrt(len(values))
    half = float(special.stdtrit(len(values) - 1, 0.975)) * error
    return mean - half, mean + half


def occupancy_flags(daily: Sequence[float], low: float, high: float,
                    period: float | None = None) -> Flag | None:
    """From the agent's occupancy on each day that has occupancy data. Out of the band on
    most days is not enough: `period`, the occupancy over the whole period, must be out of
    the band on the same side (a few heavy days of an agent who is in the band overall are
    not burnout), and so must the whole 95% interval of the daily mean (a week whose days
    swing from 50% to 95% says nothing either way)."""
    days = len(daily)
    if days < MIN_DAYS:
        return None
    over = [value for value in daily if value > high]
    under = [value for value in daily if value < low]
    bottom, top = daily_interval(daily)
    interval = f"; 95% interval of the daily mean {_pct(bottom)}–{_pct(top)}"
    if 2 * len(over) > days and (period is None or period > high) and bottom > high:
        return Flag("burnout_risk",
                    f"occupancy above {high:g}% on {len(over)} of {days} days (mean on those "
                    f"days {_pct(sum(over) / len(over))}, highest {_pct(max(over))})"
                    + _over_period(period) + interval)
    if 2 * len(under) > days and (period is None or period < low) and top < low:
        return Flag("underused",
                    f"occupancy below {low:g}% on {len(under)} of {days} days (mean on those "
                    f"days {_pct(sum(under) / len(under))}, lowest {_pct(min(under))})"
                    + _over_period(period) + interval)
    return None


def _over_period(period: float | None) -> str:
    return "" if period is None else f"; {_pct(period)} over the period"


def low_sample(scored: Mapping[str, Mapping[str, Any]], minimum_sample: int,
               labels: Mapping[str, str]) -> Flag | None:
    """`scored`: the scorecard KPIs that have a sample size (kpi -> {"value", "n"})."""
    thin = [(kpi, int(result.get("n") or 0)) for kpi, result in scored.items()
            if result.get("value") is not None and int(result.get("n") or 0) < minimum_sample]
    if not thin:
        return None
    parts = [f"{labels.get(kpi, kpi)} from {n} (minimum {minimum_sample})" for kpi, n in thin]
    return Flag("low_sample", "too few to judge: " + "; ".join(parts))

"""Attainment of a target, the status it gives, and the balanced score.

Attainment is how far a value goes towards its target, 1.0 = exactly on target:
- higher is better: (value − floor) / (target − floor), floor being the scale's worst value
  (0 for percentages, −100 for NPS, 1 for CES, −1 for sentiment);
- lower is better: target / value (a value of 0 is as good as it gets: the cap);
- band (occupancy): 1 inside [low, high]; below, value / low; above, (100 − value) /
  (100 − high): both sides are a problem;
- relative (AHT): 1 at or under the team median, else median / value; AHT never earns more
  than the agent's worst quality attainment (CSAT, FCR), so speed alone never scores.
Attainment is capped at ATTAINMENT_CAP for display. The balanced score credits each KPI with
min(attainment, SCORE_CAP) / SCORE_CAP: on target is 80 of its 100, a quarter better than
target is the full 100. Capping at the target itself (the old rule) gave most agents of a
healthy team 95-100, a score that could not tell good from excellent; the cap at 1.25 keeps
one KPI far beyond its target from hiding another that misses.
"""

from __future__ import annotations

from typing import Literal

from servicepulse.kpi.definitions import DefaultTarget

ATTAINMENT_CAP = 2.0
SCORE_CAP = 1.25  # attainment that earns a KPI's full marks in the balanced score
NEAR = 0.9  # attainment from which a miss is "near"

Status = Literal["meets", "near", "misses", "not_enough_data", "info"]


def attainment(target: DefaultTarget | None, value: float | None,
               team_median: float | None = None) -> float | None:
    if target is None or value is None:
        return None
    if target.direction == "higher" and target.target is not None:
        span = target.target - target.floor
        result = (value - target.floor) / span if span > 0 else (1.0 if value >= target.target
                                                                 else 0.0)
    elif target.direction == "lower" and target.target is not None:
        result = ATTAINMENT_CAP if value <= 0 else target.target / value
    elif target.direction == "band" and target.low is not None and target.high is not None:
        if target.low <= value <= target.high:
            result = 1.0
        elif value < target.low:
            result = value / target.low if target.low > 0 else 0.0
        else:
            result = (100 - value) / (100 - target.high) if target.high < 100 else 0.0
    elif target.direction == "relative":
        if team_median is None:
            return None
        result = 1.0 if value <= team_median else (team_median / value if value > 0 else 1.0)
    else:
        return None
    return round(min(max(result, 0.0), ATTAINMENT_CAP), 4)


def status(value: float | None, n: int, att: float | None, minimum_sample: int,
           sampled: bool = True) -> Status:
    """`sampled` is False for sums (reach, impressions) that have no sample size."""
    if value is None:
        return "not_enough_data"
    if sampled and n < minimum_sample:
        return "not_enough_data"
    if att is None:
        return "info"
    if att >= 1.0:
        return "meets"
    return "near" if att >= NEAR else "misses"


def balanced_score(parts: list[tuple[float, float]]) -> float | None:
    """0–100 from (weight, attainment) pairs of the KPIs that can be judged."""
    total = sum(weight for weight, _ in parts)
    if total <= 0:
        return None
    return round(100 * sum(weight * min(att, SCORE_CAP) for weight, att in parts)
                 / (SCORE_CAP * total), 1)


def balanced_score_error(parts: list[tuple[float, float, float]]) -> float:
    """Standard error of the balanced score from (weight, attainment at the CI's low end,
    attainment at its high end) per KPI: each KPI's capped attainment interval (as the score
    credits it) is read as ±1.96 standard errors, and the weighted errors add in
    quadrature."""
    total = sum(weight for weight, _, _ in parts)
    if total <= 0:
        return 0.0
    variance = 0.0
    for weight, low, high in parts:
        error = abs(min(high, SCORE_CAP) - min(low, SCORE_CAP)) / (2 * 1.959964 * SCORE_CAP)
        variance += (weight / total * error) ** 2
    return round(100 * variance ** 0.5, 4)

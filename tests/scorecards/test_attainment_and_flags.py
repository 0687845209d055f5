"""Attainment, status, balanced score and every flag as pure functions, worked by hand."""

from __future__ import annotations

import pytest

from servicepulse.kpi.definitions import DefaultTarget
from servicepulse.kpi.results import KpiFigure
from servicepulse.scorecards import flags
from servicepulse.scorecards.attainment import (
    attainment,
    balanced_score,
    balanced_score_error,
    status,
)

CSAT = DefaultTarget("higher", 80.0)
NPS = DefaultTarget("higher", 50.0, floor=-100.0)
CES = DefaultTarget("higher", 5.0, floor=1.0)
ESCALATION = DefaultTarget("lower", 10.0)
OCCUPANCY = DefaultTarget("band", low=75.0, high=85.0)
AHT = DefaultTarget("relative")


@pytest.mark.parametrize(("target", "value", "median", "expected"), [
    (CSAT, 60.0, None, 0.75),  # 60 / 80
    (CSAT, 100.0, None, 1.25),
    (NPS, 20.0, None, 0.8),  # (20 + 100) / (50 + 100)
    (NPS, -100.0, None, 0.0),
    (CES, 4.0, None, 0.75),  # (4 − 1) / (5 − 1)
    (ESCALATION, 20.0, None, 0.5),  # 10 / 20
    (ESCALATION, 0.0, None, 2.0),  # the cap: none escalated
    (ESCALATION, 4.0, None, 2.0),  # 10 / 4 = 2.5, capped
    (OCCUPANCY, 80.0, None, 1.0),
    (OCCUPANCY, 60.0, None, 0.8),  # 60 / 75
    (OCCUPANCY, 95.0, None, 0.3333),  # (100 − 95) / (100 − 85)
    (AHT, 400.0, 300.0, 0.75),  # 300 / 400
    (AHT, 200.0, 300.0, 1.0),  # faster than the median: on target
    (AHT, 200.0, None, None),  # no team to compare with
    (DefaultTarget("info"), 5000.0, None, None),
])
def test_attainment(target: DefaultTarget, value: float, median: float | None,
                    expected: float | None) -> None:
    assert attainment(target, value, median) == expected


def test_status() -> None:
    assert status(85.0, 40, 1.0625, 30) == "meets"
    assert status(75.0, 40, 0.9375, 30) == "near"  # 0.9 <= attainment < 1
    assert status(70.0, 40, 0.875, 30) == "misses"
    assert status(100.0, 12, 1.25, 30) == "not_enough_data"
    assert status(None, 0, None, 30) == "not_enough_data"
    assert status(5000.0, 3, None, 30, sampled=False) == "info"


def test_balanced_score_caps_each_kpi_and_weighs() -> None:
    # each KPI earns min(attainment, 1.25) / 1.25: on target is 80 of 100, and a KPI far
    # beyond its target earns no more than 1.25.
    # (1 × min(1.5, 1.25) + 1 × 0.5 + 2 × 0.75) / (1.25 × 4) = 3.25 / 5
    assert balanced_score([(1.0, 1.5), (1.0, 0.5), (2.0, 0.75)]) == 65.0
    assert balanced_score([(1.0, 1.0), (3.0, 1.0)]) == 80.0  # every target just met
    assert balanced_score([(1.0, 1.1), (1.0, 1.2)]) == 92.0  # (1.1 + 1.2) / 2.5: not clipped
    assert balanced_score([]) is None
    # one KPI, weight 1, capped interval [0.8, 1.25]: se = 0.45 / (3.919928 × 1.25)
    # = 0.09184 → 9.184 points
    assert balanced_score_error([(1.0, 0.8, 1.3)]) == pytest.approx(9.1838, abs=1e-4)
    # two equal weights: each contributes half its error (0.2 / (3.919928 × 1.25) = 0.040817);
    # √2 × 0.5 × 4.0817 = 2.8862
    assert balanced_score_error([(1.0, 0.8, 1.0), (1.0, 0.8, 1.0)]) == pytest.approx(
        2.8862, abs=1e-4)


def _team(**agents: dict[str, float]) -> dict[str, dict[str, KpiFigure]]:
    return {name: {kpi: KpiFigure(value, 50) for kpi, value in kpis.items()}
            for name, kpis in agents.items()}


TEAM = _team(
    a={"contacts": 100, "fcr": 80, "csat": 85, "aht": 300, "repeat_contact_rate": 10},
    b={"contacts": 110, "fcr": 75, "csat": 80, "aht": 320, "repeat_contact_rate": 12},
    c={"contacts": 90, "fcr": 78, "csat": 82, "aht": 310, "repeat_contact_rate": 11},
    d={"contacts": 212, "fcr": 38, "csat": 84, "aht": 200, "repeat_contact_rate": 30},
    e={"contacts": 95, "fcr": 71, "csat": 90, "aht": 330, "repeat_contact_rate": 9},
)


def test_busy_not_effective() -> None:
    # contacts sorted 90, 95, 100, 110, 212: 75th percentile = 110, median 100; d (212) is in
    # the top quarter and over 1.2 × 100. FCR sorted 38, 71, 75, 78, 80: 25th percentile 71,
    # median 75; d's 38 is below.
    flag = flags.busy_not_effective(TEAM["d"], TEAM, minimum_sample=30)
    assert flag is not None and flag.flag == "busy_not_effective"
    assert flag.evidence == (
        "handled 212 contacts, top quarter of their peers (75th percentile 110, median 100); "
        "FCR 38.0% against a peer median of 75.0% (bottom quarter: ≤ 71.0%, n = 50)")
    # b is in the top quarter too (110 ≥ 110) but only 1.1 × the median: not busy, though
    # its CSAT (sorted 80, 82, 84, 85, 90: 25th percentile 82) is in the bottom quarter
    assert flags.busy_not_effective(TEAM["b"], TEAM, minimum_sample=30) is None
    busy_b = {**TEAM["b"], "contacts": KpiFigure(120, 120)}  # 1.2 × the median
    flag_b = flags.busy_not_effective(busy_b, TEAM, minimum_sample=30)
    assert flag_b is not None and "CSAT 80.0% against a peer median of 84.0%" in flag_b.evidence
    # ... but b's CSAT 80 meets a target of 80: not "not effective" however the peers do
    assert flags.busy_not_effective(busy_b, TEAM, 30, {"csat": 80.0, "fcr": 70.0}) is None
    assert flags.busy_not_effective(TEAM["d"], TEAM, 30, {"csat": 80.0, "fcr": 70.0}) \
        is not None  # d's FCR 38 misses 70
    # a dip that is not significant: b's CSAT interval reaches above the median 84
    wide = {**busy_b, "csat": KpiFigure(80, 50, (68.0, 88.0))}
    assert flags.busy_not_effective(wide, TEAM, minimum_sample=30) is None
    narrow = {**busy_b, "csat": KpiFigure(80, 50, (78.0, 83.0))}
    assert flags.busy_not_effective(narrow, TEAM, minimum_sample=30) is not None
    # e is not busy
    assert flags.busy_not_effective(TEAM["e"], TEAM, minimum_sample=30) is None
    # a quality KPI below the minimum sample does not count
    thin = {**TEAM, "d": {**TEAM["d"], "fcr": KpiFigure(38, 10)}}
    assert flags.busy_not_effective(thin["d"], thin, minimum_sample=30) is None


def test_rushing() -> None:
    # AHT sorted 200, 300, 310, 320, 330: median 310, 70% = 217: d's 200 is under.
    # Repeats sorted 9, 10, 11, 12, 30: median 11, 1.5× = 16.5: d's 30 is over.
    flag = flags.rushing(TEAM["d"], TEAM)
    assert flag is not None
    assert flag.evidence == ("AHT 200 s is 65% of the peer median 310 s (under 70%); repeat "
                             "contacts 30.0% against a peer median of 11.0% (over 1.5×)")
    # judged against the agent's channel-mix yardstick when given: 200 is not under 70% of 250
    assert flags.rushing(TEAM["d"], TEAM, aht_benchmark=250.0) is None
    slow_channel = flags.rushing(TEAM["d"], TEAM, aht_benchmark=400.0)
    assert slow_channel is not None and slow_channel.evidence.startswith(
        "AHT 200 s is 50% of the team median for this channel mix 400 s")
    assert flags.rushing(TEAM["a"], TEAM) is None
    fast_but_fine = {**TEAM["d"], "repeat_contact_rate": KpiFigure(12, 50)}
    assert flags.rushing(fast_but_fine, TEAM) is None


def test_occupancy_flags() -> None:
    # 5 of 6 days over 85; daily mean 90.667, sample sd √(63.333 / 5) = 3.559, standard error
    # 1.453, t(0.975, 5) = 2.5706: 95% interval 86.93–94.40, wholly above 85
    days = [90, 92, 84, 94, 91, 93]
    burnout = flags.occupancy_flags(days, 75, 85)
    assert burnout is not None and burnout.flag == "burnout_risk"
    assert burnout.evidence == ("occupancy above 85% on 5 of 6 days (mean on those days "
                                "92.0%, highest 94.0%); 95% interval of the daily mean "
                                "86.9%–94.4%")
    assert flags.occupancy_flags([90, 88, 80, 70], 75, 85) is None  # 2 of 4: not most
    # 3 of 4 days over 85, but the days swing: mean 88.25, sd 6.238, se 3.119, t(3) = 3.1824:
    # interval 78.3–98.2 reaches into the band; not burnout
    assert flags.occupancy_flags([90, 88, 80, 95], 75, 85) is None
    # 5 of 5 under 75: mean 64.4, sd √(59.2 / 4) = 3.847, se 1.7205, t(4) = 2.7764:
    # interval 59.6–69.2, wholly under 75
    underused = flags.occupancy_flags([60, 62, 70, 64, 66], 75, 85)
    assert underused is not None and underused.flag == "underused"
    assert underused.evidence == ("occupancy below 75% on 5 of 5 days (mean on those days "
                                  "64.4%, lowest 60.0%); 95% interval of the daily mean "
                                  "59.6%–69.2%")
    assert flags.occupancy_flags([60, 70, 80], 75, 85) is None  # 2 of 3, but 45–95
    assert flags.occupancy_flags([95], 75, 85) is None  # one day is too few to say
    # the period as a whole must be out of the band too: most days over 85 but 84% overall
    assert flags.occupancy_flags(days, 75, 85, period=84.0) is None
    over = flags.occupancy_flags(days, 75, 85, period=88.0)
    assert over is not None and "; 88.0% over the period; 95% interval" in over.evidence
    assert flags.occupancy_flags([60, 62, 70, 64, 66], 75, 85, period=76.0) is None


def test_low_sample() -> None:
    flag = flags.low_sample({"csat": {"value": 100.0, "n": 12}, "fcr": {"value": 80, "n": 40},
                             "nps": {"value": None, "n": 0}}, 30, {"csat": "CSAT"})
    assert flag is not None
    assert flag.evidence == "too few to judge: CSAT from 12 (minimum 30)"
    assert flags.low_sample({"fcr": {"value": 80, "n": 40}}, 30, {}) is None

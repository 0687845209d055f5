"""Erlang B, C and A: published worked examples, an independent implementation (pyworkforce),
an independent numerical solution of the Erlang A birth-death chain, and very large traffic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from pyworkforce.queuing import ErlangC as PyworkforceErlangC
from scipy import linalg, stats

from servicepulse.workforce.erlang import (
    ErlangInputError,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    required_agents,
    with_shrinkage,
)

# --- published examples -------------------------------------------------------------------


def test_call_centre_helper_example() -> None:
    # Call Centre Helper's classic Erlang C example (REFERENCES.md, reproduced by pyworkforce):
    # 100 calls in 30 minutes, AHT 180 s, 80% in 20 s -> 10 Erlangs, 14 agents, P(wait)
    # 17.41%, service level 88.84%, ASA 7.84 s, occupancy 71.43%; 30% shrinkage -> 20.
    requirement = required_agents(100, 1800, 180, 0.80, 20, shrinkage=0.30)
    assert requirement.as_dict() == {
        "agents": 14, "agents_with_shrinkage": 20, "service_level": 88.835,
        "occupancy": 71.4286, "asa": 7.8359, "probability_of_waiting": 17.4132,
        "probability_of_abandon": None}
    assert requirement.metrics.traffic == pytest.approx(10.0)


def test_call_centre_helper_thirteen_agents_miss_the_target() -> None:
    # Same source: 13 agents give 79.56%, just under 80%.
    metrics = erlang_c_metrics(13, 100, 1800, 180, 20)
    assert round(100 * metrics.service_level, 2) == 79.56


@pytest.mark.parametrize(("agents", "traffic", "blocking"), [
    # REFERENCES.md's Erlang B checks, written there as "B(2 agents, 5 E) = 0.036697" etc.:
    # the values are those of 5 agents at 2 Erlangs, 14 at 10 and 10 at 5 (the pairs are
    # (traffic, agents)). By hand: B(5, 2) = (2^5/5!) / Σ_{k<=5} 2^k/k!
    # = 0.266667 / 7.266667 = 0.036697.
    (5, 2.0, 0.036697),
    (14, 10.0, 0.056819),
    (10, 5.0, 0.018385),
    # And the other reading, by hand: B(2, 5) = 12.5 / (1 + 5 + 12.5) = 0.675676.
    (2, 5.0, 0.675676),
])
def test_erlang_b_checks(agents: int, traffic: float, blocking: float) -> None:
    assert erlang_b(agents, traffic) == pytest.approx(blocking, abs=5e-7)


def test_erlang_c_by_hand_single_agent() -> None:
    # M/M/1: P(wait) = ρ, SL(t) = 1 − ρ e^{−(1−ρ) t / AHT}, ASA = ρ AHT / (1 − ρ).
    # ρ = 6 calls/h × 300 s / 3600 = 0.5: SL(20) = 1 − 0.5 e^{−0.5·20/300} = 0.516392,
    # ASA = 0.5 · 300 / 0.5 = 300 s.
    metrics = erlang_c_metrics(1, 6, 3600, 300, 20)
    assert metrics.probability_of_waiting == pytest.approx(0.5)
    assert metrics.service_level == pytest.approx(1 - 0.5 * math.exp(-1 / 30))
    assert metrics.service_level == pytest.approx(0.516392, abs=1e-6)
    assert metrics.asa == pytest.approx(300.0)
    assert metrics.occupancy == pytest.approx(0.5)


# --- against pyworkforce ------------------------------------------------------------------

GRID = [(calls, aht, target_time)
        for calls in (20, 100, 250, 600)
        for aht in (120, 300, 600)
        for target_time in (15, 20, 60)]


@pytest.mark.parametrize(("calls", "aht", "target_time"), GRID)
def test_metrics_match_pyworkforce(calls: int, aht: int, target_time: int) -> None:
    # pyworkforce works in minutes and calls the target time "asa".
    reference = PyworkforceErlangC(transactions=calls, aht=aht / 60, asa=target_time / 60,
                                   interval=30)
    traffic = calls / 1800 * aht
    for agents in range(math.floor(traffic) + 1, math.floor(traffic) + 12):
        ours = erlang_c_metrics(agents, calls, 1800, aht, target_time)
        assert ours.probability_of_waiting == pytest.approx(
            reference.waiting_probability(agents), rel=1e-9)
        assert ours.service_level == pytest.approx(reference.service_level(agents), rel=1e-9,
                                                   abs=1e-12)
        assert ours.occupancy == pytest.approx(reference.achieved_occupancy(agents), rel=1e-12)


@pytest.mark.parametrize(("calls", "aht", "target_time"), GRID)
@pytest.mark.parametrize("target_sl", [0.8, 0.9])
@pytest.mark.parametrize("max_occupancy", [1.0, 0.85])
def test_required_agents_match_pyworkforce(calls: int, aht: int, target_time: int,
                                           target_sl: float, max_occupancy: float) -> None:
    reference = PyworkforceErlangC(transactions=calls, aht=aht / 60, asa=target_time / 60,
                                   interval=30, shrinkage=0.3)
    expected = reference.required_positions(service_level=target_sl,
                                            max_occupancy=max_occupancy)
    ours = required_agents(calls, 1800, aht, target_sl, target_time, max_occupancy, 0.3)
    traffic = calls / 1800 * aht
    if round(traffic + 1) > ours.agents:
        # pyworkforce starts its search at round(A + 1), which can already be above the
        # smallest answer; then ours must be the one that meets the target with fewer.
        assert ours.metrics.service_level >= target_sl
        assert expected["raw_positions"] >= ours.agents
        return
    assert ours.agents == expected["raw_positions"]
    # pyworkforce rounds agents / (1 − 0.3) up in binary floating point, so 42 / 0.7 =
    # 60.00000000000001 becomes 61 there; the exact answer is 60.
    assert ours.agents_with_shrinkage == math.ceil(Fraction(ours.agents) / Fraction(7, 10))
    assert expected["positions"] - ours.agents_with_shrinkage in (0, 1)
    assert ours.metrics.service_level == pytest.approx(expected["service_level"], rel=1e-9)
    assert ours.metrics.occupancy == pytest.approx(expected["occupancy"], rel=1e-12)


def test_required_agents_is_the_smallest() -> None:
    for calls in (5, 37, 480, 2500):
        requirement = required_agents(calls, 1800, 240, 0.8, 20)
        fewer = erlang_c_metrics(requirement.agents - 1, calls, 1800, 240, 20)
        assert fewer.service_level < 0.8 <= requirement.metrics.service_level


def test_occupancy_cap_binds() -> None:
    # 600 calls/30 min × 300 s = 100 Erlangs. Erlang C alone needs ~110 agents for 80/20;
    # a 85% cap needs ceil(100 / 0.85) = 118 (117 would be 85.47%).
    capped = required_agents(600, 1800, 300, 0.8, 20, max_occupancy=0.85)
    uncapped = required_agents(600, 1800, 300, 0.8, 20)
    assert uncapped.agents < 118
    assert capped.agents == 118
    assert capped.metrics.occupancy == pytest.approx(100 / 118)


def test_shrinkage_rounds_up_without_float_noise() -> None:
    # 14 / 0.7 is 20.000000000000004 in binary floating point; 20 agents are enough.
    assert with_shrinkage(14, 0.3) == 20
    assert with_shrinkage(15, 0.3) == 22  # 21.43 -> 22
    assert with_shrinkage(10, 0.0) == 10


def test_no_calls_need_no_agents() -> None:
    requirement = required_agents(0, 1800, 180, 0.8, 20, shrinkage=0.3)
    assert requirement.agents == 0 and requirement.agents_with_shrinkage == 0
    assert requirement.metrics.service_level == 1.0
    assert required_agents(0, 1800, 180, 0.8, 20, patience_s=60).agents == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"calls": -1}, "calls must be 0 or more"),
    ({"aht_s": 0}, "aht must be a positive number"),
    ({"interval_s": -5}, "interval must be a positive number"),
    ({"target_sl": 1.0}, "below 100%"),
    ({"target_sl": 1.2}, "below 100%"),
    ({"max_occupancy": 0.0}, "maximum occupancy"),
    ({"shrinkage": 1.0}, "shrinkage"),
    ({"target_time_s": -1}, "target time must be 0 or more"),
    ({"patience_s": 0}, "patience must be a positive number"),
])
def test_bad_input_says_what_is_wrong(kwargs: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {"calls": 100, "interval_s": 1800, "aht_s": 180,
                                   "target_sl": 0.8, "target_time_s": 20}
    arguments.update(kwargs)
    with pytest.raises(ErlangInputError, match=message):
        required_agents(**arguments)  # type: ignore[arg-type]


# --- very large traffic -------------------------------------------------------------------


def _erlang_b_by_recursion(agents: int, traffic: float) -> float:
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def test_large_traffic_log_space_matches_the_recursion() -> None:
    # 40,000 calls an hour at 20 minutes each: 13,333 Erlangs (a naive A^n / n! overflows
    # at n > 170). The log-space form must agree with the plain recursion.
    traffic = 40_000 / 3600 * 1200
    for agents in (13_340, 13_400, 13_500):
        assert erlang_b(agents, traffic) == pytest.approx(
            _erlang_b_by_recursion(agents, traffic), rel=1e-9)


def test_large_traffic_requirement_is_finite_and_smallest() -> None:
    requirement = required_agents(40_000, 3600, 1200, 0.8, 20)
    assert requirement.metrics.traffic == pytest.approx(13_333.333333)
    fewer = erlang_c_metrics(requirement.agents - 1, 40_000, 3600, 1200, 20)
    assert fewer.service_level < 0.8 <= requirement.metrics.service_level
    # Square-root staffing: at this scale the answer is A + β√A with β of order 1.
    beta = (requirement.agents - requirement.metrics.traffic) / math.sqrt(13_333.33)
    assert 0.3 < beta < 2.0
    reference = PyworkforceErlangC(transactions=40_000, aht=20, asa=20 / 60, interval=60)
    assert requirement.metrics.service_level == pytest.approx(
        reference.service_level(requirement.agents), rel=1e-8)


def test_huge_traffic_does_not_overflow() -> None:
    # A million calls an hour at 10 minutes: 166,667 Erlangs.
    requirement = required_agents(1_000_000, 3600, 600, 0.8, 20)
    assert math.isfinite(requirement.metrics.service_level)
    assert 166_667 < requirement.agents < 167_500
    assert 0.8 <= requirement.metrics.service_level < 0.9
    assert erlang_c(10, 1e6) == 1.0  # hopelessly under-staffed: everyone waits


# --- Erlang A -----------------------------------------------------------------------------


def _erlang_a_by_chain(agents: int, arrival_rate: float, aht: float, patience: float,
                       target_time: float) -> dict[str, float]:
    """Independent solution: the truncated birth-death generator solved as a linear system,
    and each waiting caller's fate from the matrix exponential of its own absorbing chain."""
    mu, theta = 1.0 / aht, 1.0 / patience
    size = agents + 250  # the queue beyond carries no measurable mass here
    generator = np.zeros((size, size))
    for k in range(size - 1):
        generator[k, k + 1] = arrival_rate
        generator[k + 1, k] = min(k + 1, agents) * mu + max(k + 1 - agents, 0) * theta
    np.fill_diagonal(generator, -generator.sum(axis=1))
    # π Q = 0, Σ π = 1.
    system = np.vstack([generator.T, np.ones(size)])
    right = np.zeros(size + 1)
    right[-1] = 1.0
    pi = np.linalg.lstsq(system, right, rcond=None)[0]
    waiting = pi[agents:].sum()
    queued = np.arange(size) - agents
    abandon = theta * float(pi[agents:] @ queued[agents:]) / arrival_rate  # flow balance

    # Our caller's own chain: state j = callers ahead of it (0..positions−1), then answered,
    # then abandoned. One matrix exponential gives P(answered by t) from every start.
    positions = size - agents
    answered_state, abandoned_state = positions, positions + 1
    chain = np.zeros((positions + 2, positions + 2))
    for ahead in range(positions):
        onwards = agents * mu + ahead * theta  # a service ends or a caller ahead leaves
        chain[ahead, ahead - 1 if ahead > 0 else answered_state] = onwards
        chain[ahead, abandoned_state] = theta  # our caller gives up
        chain[ahead, ahead] = -(onwards + theta)
    answered_by_t = linalg.expm(chain * target_time)[:positions, answered_state]
    in_time = float(pi[agents:] @ answered_by_t)
    return {"waiting": waiting, "abandon": abandon,
            "service_level": (1.0 - waiting) + in_time}


@pytest.mark.parametrize(("agents", "calls", "aht", "patience", "target_time"), [
    (14, 100, 180, 60, 20),     # Call Centre Helper's load with one-minute patience
    (9, 100, 180, 120, 20),     # fewer agents than Erlangs: stable only thanks to abandons
    (30, 700, 240, 300, 30),
    (3, 20, 300, 90, 60),
])
def test_erlang_a_matches_the_birth_death_chain(agents: int, calls: float, aht: float,
                                                patience: float, target_time: float) -> None:
    ours = erlang_a_metrics(agents, calls, 1800, aht, target_time, patience)
    chain = _erlang_a_by_chain(agents, calls / 1800, aht, patience, target_time)
    assert ours.probability_of_waiting == pytest.approx(chain["waiting"], rel=1e-7)
    assert ours.probability_of_abandon == pytest.approx(chain["abandon"], rel=1e-7)
    assert ours.service_level == pytest.approx(chain["service_level"], rel=1e-7)


def test_erlang_a_with_patience_equal_to_handle_time_is_m_m_infinity() -> None:
    # When θ = μ every caller in the system leaves at rate μ, queued or served, so the number
    # in the system is Poisson(A) (Palm's M/M/∞ identity): P(wait) = P(N >= n) and
    # P(abandon) = E[(N − n)+] / A (callers leave the queue at rate θ each).
    traffic, agents = 12.0, 10
    ours = erlang_a_metrics(agents, 12 * 1800 / 300, 1800, 300, 20, patience_s=300)
    poisson = stats.poisson(traffic)
    assert ours.probability_of_waiting == pytest.approx(poisson.sf(agents - 1), rel=1e-9)
    k = np.arange(agents, 200)
    queued = float(((k - agents) * poisson.pmf(k)).sum())
    assert ours.probability_of_abandon == pytest.approx(queued / traffic, rel=1e-9)


def test_erlang_a_with_endless_patience_is_erlang_c() -> None:
    # Call Centre Helper's example again: patience of 30 years leaves nobody abandoning.
    ours = erlang_a_metrics(14, 100, 1800, 180, 20, patience_s=1e9)
    assert ours.service_level == pytest.approx(0.888350, abs=1e-6)
    assert ours.asa == pytest.approx(7.8359, abs=1e-3)
    assert ours.probability_of_waiting == pytest.approx(0.174132, abs=1e-6)
    assert ours.probability_of_abandon == pytest.approx(0.0, abs=1e-6)


def test_erlang_a_asa_and_occupancy_identities() -> None:
    # Little's law in the queue: mean wait of every arrival = P(abandon) / θ; the answered
    # callers' share of it is ASA × P(answered), so the abandoners waited the rest.
    # Occupancy = answered load / agents.
    patience = 90.0
    ours = erlang_a_metrics(12, 130, 1800, 150, 20, patience)
    assert ours.asa is not None and ours.probability_of_abandon is not None
    answered = 1 - ours.probability_of_abandon
    mean_wait_all = ours.probability_of_abandon * patience
    assert 0 < ours.asa * answered < mean_wait_all
    assert ours.occupancy == pytest.approx(130 / 1800 * 150 * answered / 12)


def test_erlang_a_service_level_counts_every_arrival() -> None:
    # With abandonment the service level is answered-in-time / all arrivals, so it can never
    # exceed the share that is answered at all.
    for agents in (6, 8, 10, 12):
        metrics = erlang_a_metrics(agents, 100, 1800, 180, 30, patience_s=45)
        assert metrics.probability_of_abandon is not None
        assert metrics.service_level <= 1 - metrics.probability_of_abandon + 1e-12


def test_erlang_a_may_staff_below_the_offered_load() -> None:
    # 1000 calls/30 min × 180 s = 100 Erlangs; with one-minute patience 60% in 30 s is met
    # by 73 agents (72 are not enough): abandons take the rest.
    requirement = required_agents(1000, 1800, 180, 0.6, 30, patience_s=60)
    assert requirement.agents == 73
    assert requirement.metrics.service_level >= 0.6
    fewer = erlang_a_metrics(72, 1000, 1800, 180, 30, 60)
    assert fewer.service_level < 0.6
    assert requirement.metrics.probability_of_abandon == pytest.approx(0.2716, abs=1e-4)


def test_erlang_a_huge_traffic_does_not_overflow() -> None:
    metrics = erlang_a_metrics(170_000, 1_000_000, 3600, 600, 20, patience_s=120)
    assert all(math.isfinite(v) for v in (metrics.service_level, metrics.occupancy,
                                          metrics.probability_of_waiting))
    assert 0.0 <= metrics.service_level <= 1.0


@pytest.mark.parametrize("patience", [1e12, 1e15, 1e18])
def test_erlang_a_stays_exact_for_endless_patience(patience: float) -> None:
    # With a = nμ/θ of order 1e13 and more, a closed form through lgamma(a) would lose every
    # digit; the figures must still converge to Erlang C's (Call Centre Helper's example).
    ours = erlang_a_metrics(14, 100, 1800, 180, 20, patience_s=patience)
    classic = erlang_c_metrics(14, 100, 1800, 180, 20)
    assert ours.service_level == pytest.approx(classic.service_level, abs=1e-9)
    assert ours.probability_of_waiting == pytest.approx(classic.probability_of_waiting,
                                                        abs=1e-9)
    assert ours.asa == pytest.approx(classic.asa, rel=1e-6)


@pytest.mark.parametrize(("b", "p"), [(41.0, 0.15), (1.3, 0.5), (1e4, 0.1), (7.7e13, 2e-14),
                                      (6.0, 0.999)])
def test_incomplete_beta_matches_scipy(b: float, p: float) -> None:
    from scipy import special

    from servicepulse.workforce.erlang import _incomplete_beta_first_parameters

    j = np.arange(400.0)
    assert np.allclose(_incomplete_beta_first_parameters(j, b, p),
                       special.betainc(j + 1.0, b, p), rtol=0, atol=1e-12)


def test_many_intervals_at_once_give_the_same_answers() -> None:
    from servicepulse.workforce.erlang import required_agents_for_intervals

    # A day's profile from a trickle to 4,000 Erlangs, including empty intervals.
    calls = [0.0, 0.4, 3.0, 37.0, 120.0, 480.0, 2500.0, 12_000.0, 0.0]
    together = required_agents_for_intervals(calls, 900, 300, 0.8, 20, 0.85, 0.3)
    for volume, requirement in zip(calls, together, strict=True):
        alone = required_agents(volume, 900, 300, 0.8, 20, 0.85, 0.3)
        assert (requirement.agents, requirement.agents_with_shrinkage) == (
            alone.agents, alone.agents_with_shrinkage)
        assert requirement.metrics.service_level == pytest.approx(
            alone.metrics.service_level, rel=1e-12)
    with_patience = required_agents_for_intervals([100.0], 1800, 180, 0.8, 20,
                                                  patience_s=60)
    assert with_patience[0].agents == 12
    with pytest.raises(ErlangInputError, match="interval 2"):
        required_agents_for_intervals([1.0, -1.0], 900, 300, 0.8, 20)

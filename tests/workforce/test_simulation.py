"""The discrete-event simulator: hand-worked traces, reproducibility, and agreement with the
Erlang C and Erlang A predictions it is compared with."""

from __future__ import annotations

import math

import numpy as np
import pytest

from servicepulse.workforce.erlang import ErlangInputError
from servicepulse.workforce.simulation import (
    HandleTime,
    IntervalLoad,
    _handle_sampler,
    run_queue,
    simulate,
    what_if,
)


def _answered(arrivals: list[float], handle: list[float], patience: list[float] | None,
              capacity: list[tuple[float, int]]) -> list[float | None]:
    times = run_queue(np.array(arrivals), np.array(handle),
                      None if patience is None else np.array(patience),
                      [t for t, _ in capacity], [n for _, n in capacity])
    return [None if math.isnan(t) else float(t) for t in times]


def test_single_agent_first_come_first_served() -> None:
    # One agent. 0: answered at once, busy to 5. 1: waits to 5, busy to 10. 2: waits to 10
    # (the departure at 10 is processed before the arrival at 10), busy to 11. 10: waits to 11.
    assert _answered([0, 1, 2, 10], [5, 5, 1, 1], None, [(0, 1)]) == [0, 5, 10, 11]


def test_patience_runs_out_while_waiting() -> None:
    # Caller 1 arrives at 1 with 3 s of patience and leaves at 4, before the agent frees up at
    # 5; caller 2 (arrived at 2) takes the slot at 5 instead and is done at 6; caller 3 at 10
    # finds the agent free. Callers answered at once never abandon.
    assert _answered([0, 1, 2, 10], [5, 5, 1, 1], [0.5, 3, 100, 0.1], [(0, 1)]) == [
        0, None, 5, 10]


def test_agents_coming_on_and_off_duty() -> None:
    # Nobody on duty until 3, then two agents: callers at 0 and 1 are answered at 3, the
    # caller at 2 when the first of them finishes, at 7.
    assert _answered([0, 1, 2], [4, 4, 4], None, [(0, 0), (3, 2)]) == [3, 3, 7]
    # Two agents, one goes off duty at 2: both calls in hand are finished (to 4 and 5), but
    # the caller at 4.5 must wait for the remaining agent's call to end at 5.
    assert _answered([0, 1, 4.5], [4, 4, 1], None, [(0, 2), (2, 1)]) == [0, 1, 5]
    # Without the change the caller at 4.5 is answered at once.
    assert _answered([0, 1, 4.5], [4, 4, 1], None, [(0, 2)]) == [0, 1, 4.5]


def test_seeded_runs_repeat_exactly() -> None:
    loads = [IntervalLoad(60, 6), IntervalLoad(90, 8)]
    first = simulate(loads, 1800, 200, 20, patience_s=90, replications=3, seed=42)
    again = simulate(loads, 1800, 200, 20, patience_s=90, replications=3, seed=42)
    other = simulate(loads, 1800, 200, 20, patience_s=90, replications=3, seed=43)
    assert first == again
    assert first.intervals != other.intervals


def test_simulation_agrees_with_erlang_c() -> None:
    # Call Centre Helper's example (REFERENCES.md): 100 calls per 30 minutes, AHT 180 s,
    # 14 agents -> Erlang C SL 88.84% in 20 s, occupancy 71.43%, ASA 7.84 s. 50 runs of 16
    # intervals (80,000 calls): the replication CI of the SL is about ±0.9 points.
    result = what_if([IntervalLoad(100, 14)] * 16, 1800, 180, 20, replications=50, seed=1)
    sim = result.simulation
    assert result.model == "erlang_c"
    assert sim.service_level_ci95 is not None and sim.service_level_ci95 < 0.012
    assert sim.service_level == pytest.approx(0.8884, abs=0.015)
    assert sim.occupancy == pytest.approx(0.7143, abs=0.015)
    assert sim.asa == pytest.approx(7.84, rel=0.12)
    assert sim.abandon_rate == 0.0
    assert result.intervals[5].predicted.service_level == pytest.approx(0.888350, abs=1e-6)


def test_simulation_agrees_with_erlang_a() -> None:
    # Same load, 12 agents, mean patience 60 s: Erlang A predicts SL 86.03% (over every
    # arrival), 7.59% abandoning, occupancy 77.01%, ASA 3.52 s.
    result = what_if([IntervalLoad(100, 12)] * 16, 1800, 180, 20, patience_s=60,
                     replications=50, seed=2)
    sim = result.simulation
    assert result.model == "erlang_a"
    assert sim.service_level == pytest.approx(0.8603, abs=0.015)
    assert sim.abandon_rate == pytest.approx(0.0759, abs=0.01)
    assert sim.occupancy == pytest.approx(0.7701, abs=0.015)
    assert sim.asa == pytest.approx(3.52, rel=0.15)
    assert result.intervals[0].predicted.probability_of_abandon == pytest.approx(0.0759,
                                                                                  abs=1e-4)


def test_lognormal_handle_time_has_the_asked_mean_and_spread() -> None:
    # σ² = ln(1 + cv²), μ = ln(aht) − σ²/2 gives mean aht and standard deviation cv × aht.
    rng = np.random.default_rng(5)
    sample = _handle_sampler(rng, HandleTime.lognormal, 300.0, 0.5, 400_000)
    assert sample.mean() == pytest.approx(300.0, rel=0.01)
    assert sample.std() / sample.mean() == pytest.approx(0.5, rel=0.03)
    # Less variable handle times shorten the queue: SL above Erlang C's exponential figure.
    result = what_if([IntervalLoad(100, 14)] * 8, 1800, 180, 20,
                     handle_time=HandleTime.lognormal, handle_cv=0.5, replications=30, seed=3)
    assert result.simulation.service_level is not None
    assert result.simulation.service_level > 0.8884 + 0.01


def test_nobody_on_duty_then_the_queue_carries_over() -> None:
    # First interval: 50 calls, no agents; without patience they wait for the next interval's
    # 20 agents. Almost none is answered within 20 s (only those arriving in the last 20 s
    # of the interval could be), none is lost, and occupancy is undefined without agents.
    result = simulate([IntervalLoad(50, 0), IntervalLoad(50, 20)], 1800, 180, 20,
                      replications=5, seed=4)
    empty, staffed = result.intervals
    assert empty.offered > 200 and empty.abandoned == 0 and empty.answered == empty.offered
    assert empty.service_level is not None and empty.service_level < 0.05
    assert empty.occupancy is None
    assert staffed.occupancy is not None and staffed.occupancy > 0


def test_bad_simulation_input() -> None:
    with pytest.raises(ErlangInputError, match="at least one interval"):
        simulate([], 1800, 180, 20)
    with pytest.raises(ErlangInputError, match="patience"):
        simulate([IntervalLoad(10, 1)], 1800, 180, 20, patience_s=0)
    with pytest.raises(ErlangInputError, match="0 or more"):
        simulate([IntervalLoad(-1, 1)], 1800, 180, 20)

"""Discrete-event simulation of one first-come-first-served queue, and what-if comparisons.

Per interval: Poisson arrivals at the interval's rate, handle times exponential or lognormal
with the given mean (and coefficient of variation), optional exponential patience, and the
number of agents on duty. The queue carries over from one interval to the next; when agents go
off duty a busy agent finishes the call in hand first. Statistics are kept by the interval in
which a contact arrived and use the same definitions as the Erlang formulas (service level
over every arrival, ASA over answered contacts, occupancy = busy time / on-duty time).
Everything is seeded (numpy's PCG64), so a run is reproducible.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from servicepulse.workforce.erlang import (
    ErlangInputError,
    QueueMetrics,
    erlang_a_metrics,
    erlang_c_metrics,
)

_CAPACITY, _DEPARTURE, _ABANDON, _ARRIVAL = 0, 1, 2, 3


class HandleTime(StrEnum):
    exponential = "exponential"
    lognormal = "lognormal"


@dataclass(frozen=True, slots=True)
class IntervalLoad:
    """One interval of a proposed staffing: expected arrivals and agents on duty."""

    calls: float
    agents: int


def run_queue(arrivals: np.ndarray, handle_times: np.ndarray, patience: np.ndarray | None,
              capacity_times: Sequence[float], capacity_agents: Sequence[int]) -> np.ndarray:
    """Serve `arrivals` (sorted times) first come, first served; the number of agents becomes
    `capacity_agents[k]` at `capacity_times[k]` (the first change at or before the first
    arrival). Returns each contact's answer time, NaN for a contact that abandoned (its
    patience ran out while it waited)."""
    count = len(arrivals)
    answered_at = np.full(count, np.nan)
    waiting_status = np.zeros(count, dtype=np.int8)  # 0 waiting/not yet, 1 answered, 2 left
    events: list[tuple[float, int, int, int]] = [
        (float(t), _CAPACITY, k, int(n))
        for k, (t, n) in enumerate(zip(capacity_times, capacity_agents, strict=True))
    ]
    events.extend((float(t), _ARRIVAL, i, i) for i, t in enumerate(arrivals))
    heapq.heapify(events)
    queue: deque[int] = deque()
    busy = 0
    on_duty = 0
    handle = handle_times.tolist()
    give_up = None if patience is None else patience.tolist()

    while events:
        now, kind, _order, payload = heapq.heappop(events)
        if kind == _ARRIVAL:
            queue.append(payload)
            if give_up is not None and (busy >= on_duty or len(queue) > 1):
                heapq.heappush(events, (now + give_up[payload], _ABANDON, payload, payload))
        elif kind == _DEPARTURE:
            busy -= 1
        elif kind == _ABANDON:
            if waiting_status[payload] == 0:
                waiting_status[payload] = 2
            continue
        else:
            on_duty = payload
        # Whoever waits longest goes to the next free agent.
        while busy < on_duty and queue:
            contact = queue.popleft()
            if waiting_status[contact] != 0:
                continue
            waiting_status[contact] = 1
            answered_at[contact] = now
            busy += 1
            heapq.heappush(events, (now + handle[contact], _DEPARTURE, contact, contact))
    return answered_at


@dataclass(frozen=True, slots=True)
class IntervalOutcome:
    """Simulated performance of one interval (pooled over replications)."""

    calls: float
    agents: int
    offered: int
    answered: int
    answered_in_time: int
    abandoned: int  # not answered: gave up, or nobody was on duty to the end of the run
    service_level: float | None  # answered within target / offered
    occupancy: float | None  # busy seconds / on-duty seconds
    asa: float | None  # mean queue time of answered contacts
    abandon_rate: float | None


@dataclass(frozen=True)
class SimulationResult:
    interval_s: int
    replications: int
    seed: int
    intervals: list[IntervalOutcome]
    service_level: float | None  # over all intervals
    service_level_ci95: float | None  # half-width across replications
    occupancy: float | None
    asa: float | None
    abandon_rate: float | None


def _handle_sampler(rng: np.random.Generator, kind: HandleTime, aht_s: float,
                    cv: float, size: int) -> np.ndarray:
    if kind is HandleTime.exponential:
        return rng.exponential(aht_s, size)
    # Lognormal with mean aht and coefficient of variation cv: σ² = ln(1 + cv²),
    # μ = ln(aht) − σ²/2.
    sigma2 = math.log1p(cv * cv)
    return rng.lognormal(math.log(aht_s) - sigma2 / 2.0, math.sqrt(sigma2), size)


def simulate(loads: Sequence[IntervalLoad], interval_s: float, aht_s: float,
             target_time_s: float, patience_s: float | None = None,
             handle_time: HandleTime = HandleTime.exponential, handle_cv: float = 1.0,
             replications: int = 10, seed: int = 0, warmup_intervals: int = 1,
             ) -> SimulationResult:
    """Simulate `loads` (one per interval) `replications` times. `warmup_intervals` copies of
    the first interval run before it and are not reported, so the first reported interval
    starts with a realistic queue instead of an empty one."""
    if not loads:
        raise ErlangInputError("give at least one interval to simulate")
    if interval_s <= 0 or aht_s <= 0 or target_time_s < 0:
        raise ErlangInputError("interval and aht must be positive and target time 0 or more")
    if patience_s is not None and patience_s <= 0:
        raise ErlangInputError(f"patience must be a positive number, got {patience_s:g}")
    if replications < 1:
        raise ErlangInputError("replications must be 1 or more")
    if handle_cv <= 0:
        raise ErlangInputError("the handle-time coefficient of variation must be positive")
    for load in loads:
        if load.calls < 0 or load.agents < 0:
            raise ErlangInputError("calls and agents must be 0 or more in every interval")
    schedule = [loads[0]] * warmup_intervals + list(loads)
    reported = len(loads)
    count = len(schedule)
    # After the last interval its agents stay until the queue is empty (they finish the day's
    # calls); a contact that nobody ever answers counts as not answered.
    capacity_times = [k * interval_s for k in range(count)]
    capacity_agents = [load.agents for load in schedule]
    rng = np.random.default_rng(seed)

    totals = np.zeros((reported, 5))  # offered, answered, in time, abandoned, wait of answered
    busy_seconds = np.zeros(reported)
    per_replication_sl = []
    for _ in range(replications):
        per_interval = rng.poisson([load.calls for load in schedule])
        arrivals = np.concatenate([
            np.sort(rng.uniform(k * interval_s, (k + 1) * interval_s, n))
            for k, n in enumerate(per_interval)])
        handle = _handle_sampler(rng, handle_time, aht_s, handle_cv, len(arrivals))
        patience = None if patience_s is None else rng.exponential(patience_s, len(arrivals))
        answered_at = run_queue(arrivals, handle, patience, capacity_times, capacity_agents)

        interval_of = np.minimum((arrivals // interval_s).astype(int), count - 1) - warmup_intervals
        keep = interval_of >= 0
        answered = ~np.isnan(answered_at)
        wait = np.where(answered, answered_at - arrivals, 0.0)
        in_time = answered & (wait <= target_time_s)
        index = interval_of[keep]
        np.add.at(totals[:, 0], index, 1)
        np.add.at(totals[:, 1], index, answered[keep])
        np.add.at(totals[:, 2], index, in_time[keep])
        np.add.at(totals[:, 3], index, ~answered[keep])
        np.add.at(totals[:, 4], index, wait[keep])
        busy_seconds += _busy_per_interval(answered_at[answered], handle[answered], interval_s,
                                           count)[warmup_intervals:]
        offered = keep.sum()
        if offered:
            per_replication_sl.append(in_time[keep].sum() / offered)

    outcomes = []
    for k, load in enumerate(loads):
        offered, answered, in_time, abandoned, waited = totals[k]
        on_duty = load.agents * interval_s * replications
        outcomes.append(IntervalOutcome(
            calls=load.calls, agents=load.agents, offered=int(offered), answered=int(answered),
            answered_in_time=int(in_time), abandoned=int(abandoned),
            service_level=_ratio(in_time, offered), occupancy=_ratio(busy_seconds[k], on_duty),
            asa=_ratio(waited, answered), abandon_rate=_ratio(abandoned, offered)))
    offered, answered, in_time, abandoned, waited = totals.sum(axis=0)
    on_duty_total = sum(load.agents for load in loads) * interval_s * replications
    spread = None
    if len(per_replication_sl) > 1:
        spread = 1.96 * float(np.std(per_replication_sl, ddof=1)) / math.sqrt(
            len(per_replication_sl))
    return SimulationResult(
        interval_s=int(interval_s), replications=replications, seed=seed, intervals=outcomes,
        service_level=_ratio(in_time, offered), service_level_ci95=spread,
        occupancy=_ratio(busy_seconds.sum(), on_duty_total), asa=_ratio(waited, answered),
        abandon_rate=_ratio(abandoned, offered))


def _busy_per_interval(starts: np.ndarray, durations: np.ndarray, interval_s: float,
                       count: int) -> np.ndarray:
    """Seconds of handling inside each interval, each call clipped to the intervals it spans
    (calls running past the last interval count only up to its end)."""
    busy = np.zeros(count)
    ends = starts + durations
    edges = np.arange(count + 1) * interval_s
    for k in range(count):
        overlap = np.minimum(ends, edges[k + 1]) - np.maximum(starts, edges[k])
        busy[k] = overlap[overlap > 0].sum()
    return busy


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else float(numerator) / float(denominator)


@dataclass(frozen=True)
class WhatIfInterval:
    load: IntervalLoad
    simulated: IntervalOutcome
    predicted: QueueMetrics


@dataclass(frozen=True)
class WhatIf:
    """A proposed staffing simulated and compared with the Erlang prediction per interval."""

    model: str  # "erlang_c" or "erlang_a"
    interval_s: int
    aht_s: float
    target_time_s: float
    patience_s: float | None
    handle_time: str
    simulation: SimulationResult
    intervals: list[WhatIfInterval] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        def pct(value: float | None) -> float | None:
            return None if value is None else round(100.0 * value, 2)

        sim = self.simulation
        return {
            "model": self.model, "interval_s": self.interval_s, "aht_s": self.aht_s,
            "target_time_s": self.target_time_s, "patience_s": self.patience_s,
            "handle_time": self.handle_time, "replications": sim.replications,
            "seed": sim.seed,
            "simulated": {"service_level": pct(sim.service_level),
                          "service_level_ci95": pct(sim.service_level_ci95),
                          "occupancy": pct(sim.occupancy),
                          "asa": None if sim.asa is None else round(sim.asa, 2),
                          "abandon_rate": pct(sim.abandon_rate)},
            "intervals": [{
                "calls": row.load.calls, "agents": row.load.agents,
                "simulated_service_level": pct(row.simulated.service_level),
                "predicted_service_level": pct(row.predicted.service_level),
                "simulated_occupancy": pct(row.simulated.occupancy),
                "predicted_occupancy": pct(row.predicted.occupancy),
                "simulated_asa": (None if row.simulated.asa is None
                                  else round(row.simulated.asa, 2)),
                "predicted_asa": (None if row.predicted.asa is None
                                  else round(row.predicted.asa, 2)),
                "simulated_abandon_rate": pct(row.simulated.abandon_rate),
                "predicted_abandon_rate": pct(row.predicted.probability_of_abandon),
            } for row in self.intervals],
        }


def what_if(loads: Sequence[IntervalLoad], interval_s: float, aht_s: float,
            target_time_s: float, patience_s: float | None = None,
            handle_time: HandleTime = HandleTime.exponential, handle_cv: float = 1.0,
            replications: int = 10, seed: int = 0) -> WhatIf:
    """Simulate the proposed staffing and put the Erlang C (or, with patience, Erlang A)
    prediction of each interval beside it."""
    simulation = simulate(loads, interval_s, aht_s, target_time_s, patience_s, handle_time,
                          handle_cv, replications, seed)
    rows = []
    for load, outcome in zip(loads, simulation.intervals, strict=True):
        if patience_s is None:
            predicted = erlang_c_metrics(load.agents, load.calls, interval_s, aht_s,
                                         target_time_s)
        else:
            predicted = erlang_a_metrics(load.agents, load.calls, interval_s, aht_s,
                                         target_time_s, patience_s)
        rows.append(WhatIfInterval(load, outcome, predicted))
    return WhatIf("erlang_c" if patience_s is None else "erlang_a", int(interval_s), aht_s,
                  target_time_s, patience_s, handle_time.value, simulation, rows)

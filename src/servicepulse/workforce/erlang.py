"""Erlang C (M/M/n) and Erlang A (M/M/n+M) queue formulas and the agents a target needs.

Definitions (kept to by the staffing plan, the CLI and the simulator; see docs/workforce.md):
- traffic A = calls / interval × AHT (Erlangs); agents n are productive positions.
- service_level: share of ALL arrivals answered within the target time. In Erlang C every call
  is answered; in Erlang A a contact that abandons was not answered in time, so it counts
  against the level (abandonment never flatters it).
- asa: mean queue time of answered contacts, those answered at once included (0 s).
- occupancy: answered traffic / agents (A / n in Erlang C, A (1 − P(abandon)) / n in Erlang A).

Numerics: Erlang B comes from the log-space Poisson form B = pmf(n; A) / cdf(n; A) (lgamma and
the regularised incomplete gamma, no factorials), or from the recursion
B(k) = A B(k−1) / (k + A B(k−1)) where that form would underflow; the agent search then walks
upwards with the same recursion, one step per agent. Both stay finite for hundreds of
thousands of Erlangs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from servicepulse.errors import InvalidRequest

# Guard against a search that can never end (it cannot for a target below 100%, but a target
# of 99.99999999% would take a long walk): no interval needs this many agents above the load.
_SEARCH_HEADROOM = 100_000


class ErlangInputError(InvalidRequest):
    """A staffing input out of range; the message names the input and what is allowed."""


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Predicted performance of one interval with `agents` productive agents."""

    agents: int
    traffic: float  # offered load in Erlangs
    service_level: float  # 0-1, share of all arrivals answered within the target time
    occupancy: float  # 0-1
    asa: float | None  # seconds; None when the queue is unstable (Erlang C, agents <= traffic)
    probability_of_waiting: float  # 0-1
    probability_of_abandon: float | None  # 0-1; None for Erlang C (no patience)


@dataclass(frozen=True, slots=True)
class StaffingRequirement:
    """The smallest staffing meeting the service-level target and the occupancy cap."""

    agents: int
    agents_with_shrinkage: int
    metrics: QueueMetrics

    def as_dict(self) -> dict[str, float | int | None]:
        """The CLI's JSON contract: percentages 0-100, seconds for asa."""
        m = self.metrics
        return {
            "agents": self.agents,
            "agents_with_shrinkage": self.agents_with_shrinkage,
            "service_level": _pct(m.service_level),
            "occupancy": _pct(m.occupancy),
            "asa": None if m.asa is None else round(m.asa, 4),
            "probability_of_waiting": _pct(m.probability_of_waiting),
            "probability_of_abandon": (None if m.probability_of_abandon is None
                                       else _pct(m.probability_of_abandon)),
        }


def _pct(value: float) -> float:
    return round(100.0 * value, 4)


def traffic_intensity(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load in Erlangs: arrival rate × mean handle time."""
    _check_nonnegative("calls", calls)
    _check_positive("interval", interval_s)
    _check_positive("aht", aht_s)
    return calls / interval_s * aht_s


# --- Erlang B / C -------------------------------------------------------------------------

def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of an M/M/n/n loss system (Erlang B)."""
    if agents < 0:
        raise ErlangInputError(f"agents must be 0 or more, got {agents}")
    _check_nonnegative("traffic", traffic)
    if traffic == 0.0:
        return 0.0 if agents > 0 else 1.0
    if agents == 0:
        return 1.0
    if agents > 30:
        # P(Poisson(A) <= n) = Q(n + 1, A): regularised upper incomplete gamma.
        cdf = float(special.gammaincc(agents + 1, traffic))
        if cdf > 1e-250:
            log_pmf = agents * math.log(traffic) - traffic - math.lgamma(agents + 1)
            return min(1.0, math.exp(log_pmf) / cdf)
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    return blocking


def _erlang_c_from_b(agents: int, traffic: float, blocking: float) -> float:
    if agents <= traffic:
        return 1.0
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (Erlang C); 1 when agents <= traffic (the queue grows)."""
    return _erlang_c_from_b(agents, traffic, erlang_b(agents, traffic))


def _erlang_c_metrics(agents: int, traffic: float, blocking: float, aht_s: float,
                      target_time_s: float) -> QueueMetrics:
    if traffic == 0.0:
        return QueueMetrics(agents, 0.0, 1.0, 0.0, 0.0, 0.0, None)
    waiting = _erlang_c_from_b(agents, traffic, blocking)
    if agents <= traffic:
        return QueueMetrics(agents, traffic, 0.0, 1.0, None, 1.0, None)
    surplus = agents - traffic
    service_level = max(0.0, 1.0 - waiting * math.exp(-surplus * target_time_s / aht_s))
    asa = waiting * aht_s / surplus
    return QueueMetrics(agents, traffic, service_level, traffic / agents, asa, waiting, None)


def erlang_c_metrics(agents: int, calls: float, interval_s: float, aht_s: float,
                     target_time_s: float) -> QueueMetrics:
    """Erlang C prediction for `agents` productive agents."""
    traffic = traffic_intensity(calls, interval_s, aht_s)
    _check_nonnegative("target time", target_time_s)
    return _erlang_c_metrics(agents, traffic, erlang_b(agents, traffic), aht_s, target_time_s)


# --- Erlang A -----------------------------------------------------------------------------

def erlang_a_metrics(agents: int, calls: float, interval_s: float, aht_s: float,
                     target_time_s: float, patience_s: float) -> QueueMetrics:
    """Erlang A (Palm's M/M/n+M): exponential patience with mean `patience_s`.

    The stationary chain: P(k in system) ∝ A^k / k! up to n; above, each further step
    multiplies by λ / (nμ + jθ). With a = nμ/θ and x = λ/θ the queue part is
    w_j = x^j Γ(a+1) / Γ(a+j+1). A caller who finds j others queued is answered with
    probability a / (a+j+1) (at each step the next event is a service or an earlier caller
    leaving, against the caller's own patience), within t with probability
    a / (a+j+1) · I_p(j+1, a+1), p = 1 − e^{−θt} (regularised incomplete beta: the
    order-statistic form of the pure-death process), and its expected wait when answered is
    a / (θ (a+j+1)) · (ψ(a+j+2) − ψ(a+1)), the digamma difference being
    Σ_{i<=j} 1/(a+i+1). P(abandon) = Σ P(j) (j+1) / (a+j+1).
    """
    traffic = traffic_intensity(calls, interval_s, aht_s)
    _check_nonnegative("target time", target_time_s)
    _check_positive("patience", patience_s)
    if agents < 0:
        raise ErlangInputError(f"agents must be 0 or more, got {agents}")
    return _erlang_a(agents, calls, interval_s, aht_s, target_time_s, patience_s, traffic,
                     with_asa=True)


def _erlang_a(agents: int, calls: float, interval_s: float, aht_s: float, target_time_s: float,
              patience_s: float, traffic: float, with_asa: bool) -> QueueMetrics:
    # The agent search skips the ASA (digamma over the queue) until it has its answer.
    if traffic == 0.0:
        return QueueMetrics(agents, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    if agents == 0:
        # Nobody answers: everybody waits until they give up. Occupancy 100% as in Erlang C
        # for too few agents: no capacity to spare.
        return QueueMetrics(0, traffic, 0.0, 1.0, None, 1.0, 1.0)
    theta = 1.0 / patience_s
    a = agents / aht_s / theta
    x = calls / interval_s / theta
    blocking = erlang_b(agents, traffic)

    # Queue-length weights in log space, over every j that carries mass: the terms peak near
    # j = x − a (at 0 when x <= a).
    # Past an interior peak (overload) they fall like a Gaussian of width √x; when the queue
    # is stable (x < a) at least geometrically with ratio x / (a + 1), which for long
    # patience is far fewer terms than √x.
    peak = max(0.0, x - a)
    span = 12.0 * math.sqrt(x + 1.0)
    ratio = x / (a + peak + 1.0)
    if ratio < 1.0:
        span = min(span, 40.0 / -math.log(ratio))
    last = int(peak + span + 60.0)
    j = np.arange(last + 1, dtype=float)
    # log w_j = Σ_{i<=j} log(x / (a + i)), summed term by term: the closed form with lgamma
    # would subtract two numbers of order a·log(a) and lose every digit for long patience.
    log_w = np.concatenate(([0.0], np.cumsum(np.log(x / (a + j[1:])))))
    top = float(log_w.max())
    weights = np.exp(log_w - top)
    queue_mass = float(weights.sum())  # Σ w_j scaled by e^{-top}
    # P(wait) = ΣW / (1/B − 1 + ΣW) with ΣW = queue_mass · e^{top}; rearranged to stay finite.
    scale = math.exp(-top) if top < 700.0 else 0.0
    # B underflows to 0 only with so many agents that nobody waits.
    waiting = (0.0 if blocking == 0.0
               else queue_mass / ((1.0 / blocking - 1.0) * scale + queue_mass))
    share = weights / queue_mass  # P(j | wait)

    answered_given_j = a / (a + j + 1.0)
    p = -math.expm1(-theta * target_time_s)
    in_time_given_j = answered_given_j * _incomplete_beta_first_parameters(j, a + 1.0, p)
    service_level = (1.0 - waiting) + waiting * float(share @ in_time_given_j)
    abandon = waiting * float(share @ (1.0 - answered_given_j))
    answered = 1.0 - abandon
    asa = None
    if with_asa and answered > 0:
        # ψ(a + j + 2) − ψ(a + 1) = Σ_{i=0..j} 1 / (a + i + 1), summed directly (stable).
        wait_if_answered = answered_given_j / theta * np.cumsum(1.0 / (a + j + 1.0))
        asa = waiting * float(share @ wait_if_answered) / answered
    occupancy = traffic * answered / agents
    return QueueMetrics(agents, traffic, min(1.0, max(0.0, service_level)), min(1.0, occupancy),
                        asa, waiting, abandon)


def _incomplete_beta_first_parameters(j: np.ndarray, b: float, p: float) -> np.ndarray:
    """I_p(j + 1, b) for j = 0, 1, …, n at once (what scipy's betainc gives, 2-3× faster
    here, where the search evaluates it hundreds of times a day).

    I_p(k, b) = 1 − (1 − p)^b Σ_{i<k} C(i + b − 1, i) p^i (the negative-binomial form),
    with every term in log space and the binomial coefficients as a running sum of logs.
    """
    if p <= 0.0:
        return np.zeros_like(j)
    if p >= 1.0:
        return np.ones_like(j)
    steps = j[1:]
    log_binomial = np.concatenate(([0.0], np.cumsum(np.log((b - 1.0 + steps) / steps))))
    terms = np.exp(b * math.log1p(-p) + j * math.log(p) + log_binomial)
    return np.clip(1.0 - np.cumsum(terms), 0.0, 1.0)


# --- required agents ----------------------------------------------------------------------

def required_agents(calls: float, interval_s: float, aht_s: float, target_sl: float,
                    target_time_s: float, max_occupancy: float = 1.0, shrinkage: float = 0.0,
                    patience_s: float | None = None) -> StaffingRequirement:
    """The smallest number of agents meeting `target_sl` (0-1) within `target_time_s` whose
    occupancy is at most `max_occupancy` (0-1); with `patience_s` by Erlang A, else Erlang C.
    `agents_with_shrinkage` = agents / (1 − shrinkage) rounded up."""
    traffic = traffic_intensity(calls, interval_s, aht_s)
    check_targets(target_sl, target_time_s, max_occupancy, shrinkage)
    if patience_s is not None:
        _check_positive("patience", patience_s)
    if patience_s is None:
        agents, metrics = _required_erlang_c(traffic, aht_s, target_sl, target_time_s,
                                             max_occupancy)
    else:
        agents, metrics = _required_erlang_a(calls, interval_s, aht_s, target_sl,
                                             target_time_s, max_occupancy, patience_s)
    return StaffingRequirement(agents, with_shrinkage(agents, shrinkage), metrics)


def with_shrinkage(agents: int | float, shrinkage: float) -> int:
    """Scheduled agents so that `agents` remain after shrinkage (0-1), rounded up.

    Rounded to 9 decimals first: 14 / (1 − 0.3) is 20.000000000000004 in binary floating
    point and must stay 20.
    """
    return math.ceil(round(agents / (1.0 - shrinkage), 9))


def check_targets(target_sl: float, target_time_s: float, max_occupancy: float,
                  shrinkage: float) -> None:
    if not 0.0 <= target_sl < 1.0:
        raise ErlangInputError(
            f"target service level must be at least 0% and below 100% (no finite staffing "
            f"answers every call in time), got {100 * target_sl:g}%")
    _check_nonnegative("target time", target_time_s)
    if not 0.0 < max_occupancy <= 1.0:
        raise ErlangInputError(
            f"maximum occupancy must be above 0% and at most 100%, got {100 * max_occupancy:g}%")
    if not 0.0 <= shrinkage < 1.0:
        raise ErlangInputError(
            f"shrinkage must be at least 0% and below 100%, got {100 * shrinkage:g}%")


def _erlang_c_start(traffic: float, max_occupancy: float) -> int:
    # Below both bounds nothing can qualify: more than the load (a stable queue) and enough
    # agents for the occupancy cap.
    return max(math.floor(traffic) + 1, math.ceil(round(traffic / max_occupancy, 9)))


def _required_erlang_c(traffic: float, aht_s: float, target_sl: float, target_time_s: float,
                       max_occupancy: float, start: int | None = None,
                       blocking: float | None = None) -> tuple[int, QueueMetrics]:
    """Walk up from the lower bound (or `start` with its Erlang B `blocking`) with the
    Erlang B recursion until the service level is met."""
    if traffic == 0.0:
        return 0, _erlang_c_metrics(0, 0.0, 1.0, aht_s, target_time_s)
    agents = _erlang_c_start(traffic, max_occupancy) if start is None else start
    if blocking is None:
        blocking = erlang_b(agents, traffic)
    decay = target_time_s / aht_s
    for _ in range(_SEARCH_HEADROOM):
        # The service level of _erlang_c_metrics, inlined: this loop is the hot path.
        waiting = agents * blocking / (agents - traffic * (1.0 - blocking))
        if 1.0 - waiting * math.exp(-(agents - traffic) * decay) >= target_sl:
            return agents, _erlang_c_metrics(agents, traffic, blocking, aht_s, target_time_s)
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
    raise ErlangInputError(f"no staffing up to {agents} agents reaches the target")


def required_agents_for_intervals(calls: Sequence[float], interval_s: float, aht_s: float,
                                  target_sl: float, target_time_s: float,
                                  max_occupancy: float = 1.0, shrinkage: float = 0.0,
                                  patience_s: float | None = None,
                                  ) -> list[StaffingRequirement]:
    """`required_agents` for many intervals at once (a day, a week): the same answers, with
    the Erlang B starting values of every interval computed in one vectorised step."""
    _check_positive("interval", interval_s)
    _check_positive("aht", aht_s)
    check_targets(target_sl, target_time_s, max_occupancy, shrinkage)
    volumes = np.asarray(calls, dtype=float)
    bad = np.flatnonzero(~np.isfinite(volumes) | (volumes < 0))
    if bad.size:
        raise ErlangInputError(f"calls must be 0 or more, got {volumes[bad[0]]:g} in interval "
                               f"{int(bad[0]) + 1}")
    if patience_s is not None:
        return [required_agents(c, interval_s, aht_s, target_sl, target_time_s, max_occupancy,
                                shrinkage, patience_s) for c in volumes.tolist()]
    traffic = volumes / interval_s * aht_s
    start = np.maximum(np.floor(traffic) + 1.0, np.ceil(np.round(traffic / max_occupancy, 9)))
    blocking = _erlang_b_many(start, traffic)
    requirements = []
    for load, first, first_blocking in zip(traffic.tolist(), start.astype(int).tolist(),
                                           blocking.tolist(), strict=True):
        agents, metrics = _required_erlang_c(load, aht_s, target_sl, target_time_s,
                                             max_occupancy, first, first_blocking)
        requirements.append(StaffingRequirement(agents, with_shrinkage(agents, shrinkage),
                                                metrics))
    return requirements


def _erlang_b_many(agents: np.ndarray, traffic: np.ndarray) -> np.ndarray:
    """Erlang B for arrays: the log-space form where it is safe, `erlang_b` elsewhere."""
    blocking = np.full(agents.shape, np.nan)
    usable = (agents > 30) & (traffic > 0)
    if usable.any():
        n, load = agents[usable], traffic[usable]
        cdf = special.gammaincc(n + 1.0, load)
        log_pmf = n * np.log(load) - load - special.gammaln(n + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(cdf > 1e-250, np.exp(log_pmf) / cdf, np.nan)
        blocking[usable] = np.minimum(values, 1.0)
    for index in np.flatnonzero(np.isnan(blocking)):
        blocking[index] = erlang_b(int(agents[index]), float(traffic[index]))
    return blocking


def _required_erlang_a(calls: float, interval_s: float, aht_s: float, target_sl: float,
                       target_time_s: float, max_occupancy: float,
                       patience_s: float) -> tuple[int, QueueMetrics]:
    traffic = traffic_intensity(calls, interval_s, aht_s)

    def metrics_at(n: int) -> QueueMetrics:
        return _erlang_a(n, calls, interval_s, aht_s, target_time_s, patience_s, traffic,
                         with_asa=False)

    def meets(m: QueueMetrics) -> bool:
        return m.service_level >= target_sl and m.occupancy <= max_occupancy

    if calls == 0:
        return 0, metrics_at(0)
    # Both the service level and (1 − occupancy) rise with every agent, so the feasible
    # staffings are all n from some n*; with abandonment n* may lie below the offered load.
    # The Erlang C answer is a good first guess (patience only shortens the queue, and the
    # answer is usually a few agents below it): gallop down from it (or up, if it falls
    # short) to bracket n*, then bisect.
    guess, _ = _required_erlang_c(traffic, aht_s, target_sl, target_time_s, max_occupancy)
    if meets(metrics_at(guess)):
        high, step = guess, 1
        while high - step >= 1 and meets(metrics_at(high - step)):
            high, step = high - step, step * 2
        low = max(0, high - step)
    else:
        low, step = guess, 1
        while not meets(metrics_at(low + step)):
            low, step = low + step, step * 2
            if step > _SEARCH_HEADROOM + 2 * traffic:
                raise ErlangInputError(f"no staffing up to {low + step} agents reaches the "
                                       "target")
        high = low + step
    while high - low > 1:
        middle = (low + high) // 2
        if meets(metrics_at(middle)):
            high = middle
        else:
            low = middle
    return high, _erlang_a(high, calls, interval_s, aht_s, target_time_s, patience_s, traffic,
                           with_asa=True)


def _check_positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ErlangInputError(f"{name} must be a positive number, got {value:g}")


def _check_nonnegative(name: str, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ErlangInputError(f"{name} must be 0 or more, got {value:g}")

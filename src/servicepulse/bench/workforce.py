"""`servicepulse bench workforce`: a day of 96 quarter-hours of required-agent solving, ours
against pyworkforce in the same process (medians of several runs), plus Erlang A, very large
traffic and the simulator for scale. Writes the `workforce` section of BENCHMARKS.md.

pyworkforce, the baseline, is a development dependency (the `dev` extra), not a runtime one:
without it the benchmark says how to install it instead of failing on the import."""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from servicepulse.bench.report import machine_line, median, time_runs, write_section
from servicepulse.errors import Unavailable
from servicepulse.workforce.erlang import (
    StaffingRequirement,
    required_agents,
    required_agents_for_intervals,
)
from servicepulse.workforce.simulation import IntervalLoad, simulate

INTERVAL_S = 900
AHT_S = 300.0
TARGET_SL, TARGET_TIME_S, MAX_OCCUPANCY, SHRINKAGE = 0.8, 20.0, 0.85, 0.3


def day_profile(peak_calls: float) -> list[float]:
    """Calls per quarter-hour over a day: night trickle, morning ramp, lunch peak, evening."""
    hours = (np.arange(96) + 0.5) / 4
    shape = (0.03 + np.exp(-((hours - 11.0) / 2.5) ** 2)
             + 0.6 * np.exp(-((hours - 15.5) / 2.0) ** 2))
    return [float(round(v, 1)) for v in peak_calls * shape / shape.max()]


def solve_day(calls: list[float], patience_s: float | None = None) -> list[StaffingRequirement]:
    return [required_agents(c, INTERVAL_S, AHT_S, TARGET_SL, TARGET_TIME_S, MAX_OCCUPANCY,
                            SHRINKAGE, patience_s) for c in calls]


def solve_day_batch(calls: list[float]) -> list[StaffingRequirement]:
    return required_agents_for_intervals(calls, INTERVAL_S, AHT_S, TARGET_SL, TARGET_TIME_S,
                                         MAX_OCCUPANCY, SHRINKAGE)


def solve_day_pyworkforce(calls: list[float]) -> list[dict[str, float]]:
    from pyworkforce.queuing import ErlangC

    # pyworkforce works in minutes; it rejects an interval without calls.
    return [ErlangC(transactions=c, aht=AHT_S / 60, asa=TARGET_TIME_S / 60,
                    interval=INTERVAL_S // 60, shrinkage=SHRINKAGE)
            .required_positions(service_level=TARGET_SL, max_occupancy=MAX_OCCUPANCY)
            for c in calls]


def require_baseline() -> None:
    """Unavailable (with how to install it) when pyworkforce, the baseline, is missing."""
    if importlib.util.find_spec("pyworkforce") is None:
        raise Unavailable(
            "the workforce benchmark compares with pyworkforce, a development dependency that "
            "is not installed: install the dev extra (`make install`, or "
            "`pip install -e '.[dev]'`) and run `servicepulse bench workforce` again")


def run_workforce_bench(runs: int = 7) -> str:
    require_baseline()
    load = os.getloadavg()[0]
    calls = day_profile(120.0)  # peak 120 calls a quarter-hour: 40 Erlangs at AHT 300 s
    ours = median(time_runs(lambda: solve_day(calls), repeats=runs))
    batch = median(time_runs(lambda: solve_day_batch(calls), repeats=runs))
    reference = median(time_runs(lambda: solve_day_pyworkforce(calls), repeats=runs))
    agree = sum(a.agents == b["raw_positions"]
                for a, b in zip(solve_day(calls), solve_day_pyworkforce(calls), strict=True))

    big_calls = day_profile(12_000.0)  # 4,000 Erlangs at the peak
    big_ours = median(time_runs(lambda: solve_day(big_calls), repeats=runs))
    big_batch = median(time_runs(lambda: solve_day_batch(big_calls), repeats=runs))
    big_reference = median(time_runs(lambda: solve_day_pyworkforce(big_calls), repeats=1,
                                     warmup=0))
    erlang_a = median(time_runs(lambda: solve_day(calls, patience_s=120.0), repeats=runs))
    loads = [IntervalLoad(c, r.agents) for c, r in zip(calls, solve_day(calls), strict=True)]
    simulated = median(time_runs(lambda: simulate(loads, INTERVAL_S, AHT_S, TARGET_TIME_S,
                                                  replications=10, seed=1),
                                 repeats=3, warmup=0))
    simulated_calls = sum(calls) * 10

    def ms(seconds: float) -> str:
        return f"{1000 * seconds:.2f} ms"

    peak_agents = max(r.agents for r in solve_day(calls))
    big_peak = max(r.agents for r in solve_day(big_calls))
    goal_met = max(ours, batch) < 0.020 and max(ours, batch) < reference
    markdown = f"""## Workforce (`servicepulse bench workforce`)

- Machine: {machine_line()}; load average {load:.1f} at the start
  (the machine is shared: absolute times vary, ratios are measured in the same run).
- Day: 96 quarter-hours, AHT {AHT_S:.0f} s, target {100 * TARGET_SL:.0f}% in \
{TARGET_TIME_S:.0f} s, occupancy cap {100 * MAX_OCCUPANCY:.0f}%, shrinkage {100 * SHRINKAGE:.0f}%.
- Baseline: pyworkforce {_version()} `ErlangC.required_positions`, same process, same inputs.
- Medians of {runs} runs unless noted.

| case | ServicePulse | pyworkforce | ratio |
|---|---:|---:|---:|
| Erlang C, 96 intervals, {sum(calls):.0f} calls (peak {max(calls):.0f}/15 min, \
{peak_agents} agents), one call per interval | {ms(ours)} | {ms(reference)} \
| {reference / ours:.1f}× faster |
| same day, `required_agents_for_intervals` (one call for the day) | {ms(batch)} \
| {ms(reference)} | {reference / batch:.1f}× faster |
| Erlang C, 96 intervals, peak {max(big_calls):.0f}/15 min ({big_peak} agents), one call \
per interval | {ms(big_ours)} | {ms(big_reference)} (1 run) \
| {big_reference / big_ours:.0f}× faster |
| same day, one call for the day | {ms(big_batch)} | {ms(big_reference)} (1 run) \
| {big_reference / big_batch:.0f}× faster |
| Erlang A (patience 120 s), 96 intervals, first day | {ms(erlang_a)} | — | — |
| simulation of the first day at its Erlang C staffing, 10 runs \
({simulated_calls:.0f} calls) | {ms(simulated)} (median of 3) | — | — |

Goal (under 20 ms for the day and faster than pyworkforce): {"met" if goal_met else "NOT met"}.
Agents required agree with pyworkforce in {agree} of 96 intervals (pyworkforce starts its
search at round(A + 1), which can lie above the smallest answer).
"""
    write_section("workforce", markdown)
    return markdown


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyworkforce")
    except PackageNotFoundError:  # pragma: no cover - dev dependency
        return "?"

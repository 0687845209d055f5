"""Workforce planning: Erlang C / Erlang A staffing, arrival forecasts, staffing plans against
shifts, and a discrete-event simulator for what-if questions (docs/workforce.md).

Plain functions with typed results, so the CLI and the web pages call the same code:
`required_agents`, `erlang_c_metrics`, `erlang_a_metrics`, `arrival_history`, `forecast`,
`backtest`, `staffing_plan`, `what_if`.
"""

from servicepulse.workforce.erlang import (
    ErlangInputError,
    QueueMetrics,
    StaffingRequirement,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    required_agents,
    required_agents_for_intervals,
    traffic_intensity,
)
from servicepulse.workforce.forecast import (
    ArrivalSeries,
    BacktestResult,
    ForecastError,
    ForecastMethod,
    arrival_history,
    backtest,
    forecast,
    parse_interval,
    wape,
)
from servicepulse.workforce.plan import PlanInterval, StaffingPlan, staffing_plan
from servicepulse.workforce.simulation import (
    HandleTime,
    IntervalLoad,
    SimulationResult,
    WhatIf,
    simulate,
    what_if,
)

__all__ = [
    "ArrivalSeries",
    "BacktestResult",
    "ErlangInputError",
    "ForecastError",
    "ForecastMethod",
    "HandleTime",
    "IntervalLoad",
    "PlanInterval",
    "QueueMetrics",
    "SimulationResult",
    "StaffingPlan",
    "StaffingRequirement",
    "WhatIf",
    "arrival_history",
    "backtest",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "forecast",
    "parse_interval",
    "required_agents",
    "required_agents_for_intervals",
    "simulate",
    "staffing_plan",
    "traffic_intensity",
    "wape",
    "what_if",
]

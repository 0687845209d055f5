"""Workforce planning: Erlang C / Erlang A staffing, arrival forecasts, staffing plans against
shifts, and a discrete-event simulator for what-if questions (docs/workforce.md).

Plain functions with typed results, so the CLI and the web pages call the same code:
`required_agents`, `erlang_c_metrics`, `erlang_a_metrics`, `arrival_history`, `forecast`,
`backtest`, `staffing_plan`, `what_if`.
"""

from importlib import import_module
from typing import Any

# Names are loaded on first use (PEP 562): the command line reads `workforce.defaults` for
# every command's options, and should not pay for SciPy and pandas unless it plans.
_HOMES = {
    "erlang": ("ErlangInputError", "QueueMetrics", "StaffingRequirement", "erlang_a_metrics",
               "erlang_b", "erlang_c", "erlang_c_metrics", "required_agents",
               "required_agents_for_intervals", "traffic_intensity"),
    "forecast": ("ArrivalSeries", "BacktestResult", "ForecastError", "ForecastMethod",
                 "arrival_history", "backtest", "forecast", "parse_interval", "wape"),
    "plan": ("PlanInterval", "StaffingPlan", "staffing_plan"),
    "simulation": ("HandleTime", "IntervalLoad", "SimulationResult", "WhatIf", "simulate",
                   "what_if"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)


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

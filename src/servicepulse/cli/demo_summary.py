"""The per-agent KPI table the demo prints (through the KPI engine, like every number shown)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

SUMMARY_KPIS = ("contacts", "csat", "fcr", "aht", "frt", "occupancy")


def _cell(kpi: dict[str, Any] | None, unit: str) -> str:
    if not kpi or kpi.get("value") is None:
        return "—"
    value = kpi["value"]
    text = f"{value:.1f}%" if unit == "%" else f"{value:,.0f}{unit}"
    return f"[dim]{text}[/dim]" if kpi.get("low_sample") else text


def print_agent_summary(engine: Engine, console: Console) -> None:
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery

    result = run_kpi_query(engine, KpiQuery(by=["agent"], kpis=list(SUMMARY_KPIS)))
    table = Table(title="Agents — all periods (dim: below the minimum sample)",
                  title_justify="left")
    table.add_column("agent")
    units = {"contacts": "", "csat": "%", "fcr": "%", "aht": " s", "frt": " s", "occupancy": "%"}
    for name in SUMMARY_KPIS:
        table.add_column(name, justify="right")
    rows = sorted(result["rows"], key=lambda r: str(r["group"].get("agent")))
    for row in rows:
        kpis = row["kpis"]
        agent = row["group"].get("agent")
        # contacts no agent took (abandoned in the queue, never answered)
        table.add_row("(unassigned)" if agent in (None, "None", "") else str(agent),
                      *[_cell(kpis.get(name), units[name]) for name in SUMMARY_KPIS])
    console.print(table)

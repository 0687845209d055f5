"""The per-agent KPI table the demo prints (through the KPI engine, like every number shown),
in units and with first response judged within each channel's own target: a median over an
agent's calls (seconds) and emails (hours) together would read as noise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # SQLAlchemy loads when the store opens, not at start-up
    from sqlalchemy import Engine

SUMMARY_KPIS = ("contacts", "csat", "fcr", "aht", "frt_within_target", "occupancy")
HEADERS = {"contacts": "contacts", "csat": "CSAT", "fcr": "FCR", "aht": "AHT",
           "frt_within_target": "FRT in target", "occupancy": "occupancy"}


def _cell(name: str, kpi: dict[str, Any] | None) -> str:
    from servicepulse.kpi.display import format_kpi

    text = format_kpi(name, None if not kpi else kpi.get("value"))
    return f"[dim]{text}[/dim]" if kpi and kpi.get("low_sample") else text


def print_agent_summary(engine: Engine, console: Console) -> None:
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery

    result = run_kpi_query(engine, KpiQuery(by=["agent"], kpis=list(SUMMARY_KPIS)))
    table = Table(title="Agents — the whole demo (dim: below the minimum sample)",
                  caption="FRT in target: first responses within their channel's own target",
                  title_justify="left")
    table.add_column("agent")
    for name in SUMMARY_KPIS:
        table.add_column(HEADERS[name], justify="right")
    rows = sorted(result["rows"], key=lambda r: str(r["group"].get("agent")))
    for row in rows:
        kpis = row["kpis"]
        agent = row["group"].get("agent")
        # contacts no agent took (abandoned in the queue, never answered)
        table.add_row("(unassigned)" if agent in (None, "None", "") else str(agent),
                      *[_cell(name, kpis.get(name)) for name in SUMMARY_KPIS])
    console.print(table)

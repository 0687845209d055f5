"""The per-agent KPI table the demo prints (through the KPI engine, like every number shown),
in units and with first response judged within each channel's own target: a median over an
agent's calls (seconds) and emails (hours) together would read as noise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # SQLAlchemy loads when the store opens, not at start-up
    from sqlalchemy import Engine

    from servicepulse.kpi.results import KpiFigure
    from servicepulse.kpi.settings import KpiSettings

SUMMARY_KPIS = ("contacts", "csat", "fcr", "aht", "frt_within_target", "occupancy")
HEADERS = {"contacts": "contacts", "csat": "CSAT", "fcr": "FCR", "aht": "AHT",
           "frt_within_target": "FRT in target", "occupancy": "occupancy"}


def _cell(name: str, figure: KpiFigure | None) -> str:
    from servicepulse.kpi.display import format_kpi

    text = format_kpi(name, None if figure is None else figure.value)
    return f"[dim]{text}[/dim]" if figure is not None and figure.low_sample else text


def print_agent_summary(engine: Engine, console: Console,
                        settings: KpiSettings | None = None) -> None:
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery

    result = run_kpi_query(engine, KpiQuery(by=["agent"], kpis=list(SUMMARY_KPIS)), settings)
    table = Table(title="Agents — the whole demo (dim: below the minimum sample)",
                  caption="FRT in target: first responses within their channel's own target",
                  title_justify="left")
    table.add_column("agent")
    for name in SUMMARY_KPIS:
        table.add_column(HEADERS[name], justify="right")
    rows = sorted(result.rows, key=lambda r: str(r.group.get("agent")))
    for row in rows:
        agent = row.group.get("agent")
        # contacts no agent took (abandoned in the queue, never answered)
        table.add_row("(unassigned)" if agent in (None, "None", "") else str(agent),
                      *[_cell(name, row.figure(name)) for name in SUMMARY_KPIS])
    console.print(table)

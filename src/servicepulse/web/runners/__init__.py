"""One runner per dashboard view: typed input, `run()`, typed output (pages and API share them)."""

from servicepulse.web.runners.base import KpiCell, RunContext
from servicepulse.web.runners.kpi_views import (
    AgentInput,
    AgentOutput,
    AgentRunner,
    ChannelRunner,
    OverviewOutput,
    OverviewRunner,
    TableOutput,
    TeamInput,
    TeamOutput,
    TeamRunner,
    TrendInput,
    TrendOutput,
    TrendRunner,
    WindowInput,
)
from servicepulse.web.runners.records import (
    CustomerOutput,
    CustomerRunner,
    DrillDownRunner,
    InteractionPage,
    InteractionQuery,
    WallboardOutput,
    WallboardRunner,
)

__all__ = [
    "AgentInput", "AgentOutput", "AgentRunner", "ChannelRunner", "CustomerOutput",
    "CustomerRunner", "DrillDownRunner", "InteractionPage", "InteractionQuery", "KpiCell",
    "OverviewOutput", "OverviewRunner", "RunContext", "TableOutput", "TeamInput", "TeamOutput",
    "TeamRunner", "TrendInput", "TrendOutput", "TrendRunner", "WallboardOutput",
    "WallboardRunner", "WindowInput",
]

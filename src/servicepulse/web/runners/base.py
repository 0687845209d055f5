"""What every dashboard runner shares: typed cells from KPI results, windows, the context.

A runner is one dashboard view: a typed input (pydantic), a `run()` that asks the KPI engine
and the store, and a typed output the page template and the JSON API both render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from servicepulse.kpi.display import kpi_details
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure, KpiResult, KpiRow
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.sources import local_midnight
from servicepulse.kpi.targets import ResolvedTargets, resolve_targets
from servicepulse.kpi.window import DEFAULT_WINDOW_DAYS, Window, resolve_window, today_in
from servicepulse.web.access import Access
from servicepulse.web.kpi import (
    KpiFunction,
    Period,
    display_value,
    format_shown,
    format_value,
    kpi_info,
    target_status,
    target_text,
)


@dataclass(frozen=True)
class RunContext:
    """What a runner may use: the store, the KPI engine and the caller's access scope."""

    engine: Engine
    kpi: KpiFunction  # dashboards: rollup first (see servicepulse.web.kpi)
    access: Access
    settings: KpiSettings = field(default_factory=KpiSettings)
    exact_kpi: KpiFunction | None = None  # the exact engine (the KPI API); None: `kpi`

    @cached_property
    def targets(self) -> ResolvedTargets:
        """The organisation's targets from these settings (the configured `[targets]`,
        industry profile and first-response targets over the definitions' defaults), resolved
        once a context: every dashboard's target lines and met/missed (`cell`)."""
        return resolve_targets(self.settings)

    def local_midnight(self, day: date) -> float:
        """Epoch seconds of `day`'s start in the organisation's time zone (as the engine)."""
        return local_midnight(day, ZoneInfo(self.settings.timezone))

    def window(self, from_: date | None, to: date | None,
               days: int = DEFAULT_WINDOW_DAYS) -> Window:
        return resolve_window(self.engine, from_, to, days, self.settings.timezone)

    def today(self) -> date:
        return today_in(self.settings.timezone)

    def query(self, query: KpiQuery, exact: bool = False) -> KpiResult:
        """The engine's answer to `query` within the caller's scope (its filters narrowed)."""
        query = query.model_copy(update={"filters": self.access.kpi_filters(query.filters)})
        run = self.exact_kpi if exact and self.exact_kpi is not None else self.kpi
        return run(self.engine, query)


class ViewOutput(BaseModel):
    """A view's output: its figures and as of when they are (filled in by the result cache,
    servicepulse.web.cache, when it computes the view)."""

    as_of: datetime | None = Field(
        default=None, description="when the figures were computed (ISO 8601, the "
        "organisation's time zone); a cached view keeps the time of its computation")


class KpiCell(BaseModel):
    """One KPI number as shown: value in the unit shown (percent for rates), n and interval."""

    name: str
    label: str
    unit: str
    value: float | None
    text: str
    n: int | None = None
    ci: tuple[float, float] | None = None
    ci_text: str | None = None
    low_sample: bool = False
    status: str | None = None  # met / missed against the target
    target: str | None = None
    details: list[str] = Field(default_factory=list)  # small print (FRT per channel)


def _interval(name: str, interval: tuple[float, float] | None
              ) -> tuple[float, float] | None:
    if interval is None:
        return None
    low, high = interval
    low_shown, high_shown = display_value(name, low), display_value(name, high)
    if low_shown is None or high_shown is None:
        return None
    if kpi_info(name).unit in ("seconds", "count", "currency", "per_hour"):
        # a t interval of a skewed duration can reach below zero; no duration does
        low_shown = max(0.0, low_shown)
    return (low_shown, high_shown)


def cell(name: str, figure: KpiFigure | None, targets: ResolvedTargets) -> KpiCell:
    """One KPI's figure as shown, judged against `targets` (the context's: `RunContext.targets`);
    no figure: an empty cell."""
    info = kpi_info(name)
    raw_value = figure.value if figure is not None else None
    value = display_value(name, raw_value)
    ci = _interval(name, figure.interval if figure is not None else None)
    ci_text = None
    if ci is not None:
        ci_text = f"{format_shown(name, ci[0])} – {format_shown(name, ci[1])}"
    n = figure.n if figure is not None else None
    return KpiCell(
        name=name, label=info.label, unit=info.unit, value=value,
        text=format_value(name, raw_value), n=int(n) if n is not None else None, ci=ci,
        ci_text=ci_text, low_sample=figure is not None and figure.low_sample,
        status=target_status(name, value, targets), target=target_text(name, targets),
        details=kpi_details(name, figure),
    )


def rows_of(result: KpiResult) -> list[KpiRow]:
    return result.rows


def period_of(row: KpiRow) -> str | None:
    """The period a row belongs to (its first day, ISO), None for a result over one period."""
    period = row.group.get("period")
    return str(period)[:10] if period is not None else None


def sparkline_period(window: Window) -> Period:
    return "day" if window.days <= 62 else "week"

"""Runners of the KPI views: overview, team, agent scorecard, channels and trends."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from servicepulse.errors import InvalidRequest, NotFound
from servicepulse.kpi.query import KpiQuery, kpi_query
from servicepulse.kpi.results import KpiFigure, KpiResult, KpiRow
from servicepulse.kpi.sources import REPEAT_KPIS
from servicepulse.kpi.window import Window, default_end
from servicepulse.store.tables import agents, teams
from servicepulse.web.kpi import (
    AGENT_KPIS,
    CHANNEL_KPIS,
    DIMENSIONS,
    FIRST_RESPONSE_CHANNELS,
    OVERVIEW_KPIS,
    Period,
    format_duration,
    format_shown,
    kpi_info,
)
from servicepulse.web.periods import (
    Comparison,
    comparable,
    coverage,
    coverage_of,
    days_text,
    page_window,
    short_day,
    window_text,
)
from servicepulse.web.runners.base import (
    KpiCell,
    RunContext,
    ViewOutput,
    cell,
    period_of,
    rows_of,
    sparkline_period,
)


class WindowInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)


# -- overview --------------------------------------------------------------------------------

class Tile(BaseModel):
    cell: KpiCell
    previous: KpiCell
    change: float | None  # shown value minus the previous period's, in the shown unit
    change_text: str | None
    change_good: bool | None  # None when the KPI has no better direction
    sparkline: list[float | None]
    # when the window is partial: its compared days' figure (`previous` is the same days of
    # the previous window), else None (the whole window is compared)
    compared: KpiCell | None = None
    note: str | None = None  # a caveat on the figure (FCR whose repeats are not all in yet)


class ChannelFirstResponse(BaseModel):
    """First response of one channel against its own target (phone: its service level)."""

    channel: str
    cell: KpiCell
    target_s: float | None  # the channel's first-response target (None for phone)
    target_text: str
    status: str | None  # met / missed


class OverviewOutput(ViewOutput):
    window: Window
    previous_window: Window  # the days compared with (the same days of the window before)
    spark_period: str
    spark_labels: list[str]
    tiles: list[Tile]
    window_text: str = ""  # 'last 28 days: 9 Nov – 6 Dec 2026'
    partial: bool = False  # the data covers the window only in part
    partial_note: str | None = None  # why ('data ends 23 Sep; today is not over')
    comparison_text: str | None = None  # 'compares 1 – 3 Dec with 24 – 26 Nov, ...'
    first_response: list[ChannelFirstResponse] = Field(default_factory=list)
    spark_partial: list[bool] = Field(default_factory=list)  # per sparkline point


class OverviewRunner:
    """KPI tiles against targets, with the change from the previous period (the same days of
    it when the window is partial) and a sparkline; first response per channel."""

    def __init__(self, context: RunContext, params: WindowInput) -> None:
        self.context, self.params = context, params

    def run(self) -> OverviewOutput:
        asked = self.params.from_ is not None or self.params.to is not None
        window = page_window(self.context, self.params.from_, self.params.to)
        span, today = coverage_of(self.context)
        covered = coverage(window, span, today)
        compared = comparable(window, span, today)
        kpis = list(OVERVIEW_KPIS)
        filters = self.params.filters
        # The engine reports each KPI's previous period (same length, just before) beside it.
        current_doc = self.context.query(_request(window, kpis, filters))
        current = _totals(current_doc)
        part: dict[str, Any] = {}
        before: dict[str, Any] = {}
        if compared is not None and not compared.whole:
            # like with like: the same days of each window, both covered by the data
            part = _totals(self.context.query(_request(
                _window(*compared.current), kpis, filters, compare=False)))
            before = _totals(self.context.query(_request(
                _window(*compared.previous), kpis, filters, compare=False)))
        spark_period = sparkline_period(window)
        spark_doc = self.context.query(_request(window, kpis, filters, period=spark_period))
        spark_rows = sorted(((period_of(row) or "", row) for row in rows_of(spark_doc)),
                            key=lambda pair: pair[0])
        targets = self.context.targets
        tiles = []
        for name in kpis:
            result = current.get(name)
            now_cell = cell(name, result, targets)
            compared_cell = None
            if compared is None:
                before_cell = cell(name, None, targets)
                basis = None
            elif compared.whole:
                before_cell = cell(name, result.previous.as_figure() if result is not None
                                   and result.previous is not None else None, targets)
                basis = now_cell
            else:
                compared_cell = cell(name, part.get(name), targets)
                before_cell = cell(name, before.get(name), targets)
                basis = compared_cell
            change = None
            if basis is not None and basis.value is not None and before_cell.value is not None:
                change = basis.value - before_cell.value
            higher = kpi_info(name).higher_is_better
            tiles.append(Tile(
                cell=now_cell, previous=before_cell, change=change,
                change_text=_change_text(name, change),
                change_good=None if change is None or higher is None or change == 0
                else (change > 0) == higher,
                sparkline=[cell(name, row.figure(name), targets).value
                           for _, row in spark_rows],
                compared=compared_cell,
                note=_repeats_note(name, window, span, self.context.settings.repeat_window_days),
            ))
        previous = (_window(*compared.previous) if compared is not None
                    else window.previous())
        return OverviewOutput(
            window=window, previous_window=previous, spark_period=spark_period,
            spark_labels=[label for label, _ in spark_rows], tiles=tiles,
            window_text=window_text(window, asked), partial=covered.partial,
            partial_note="; ".join(covered.notes) or None,
            comparison_text=_comparison_text(compared, window),
            first_response=self._first_response(window),
            spark_partial=[bool(row.partial) for _, row in spark_rows])

    def _first_response(self, window: Window) -> list[ChannelFirstResponse]:
        """Each channel's first response against its own target, phone as service level."""
        document = self.context.query(_request(window, ["frt", "service_level"],
                                               self.params.filters, by=["channel"]))
        found = {str(row.group.get("channel")): row for row in rows_of(document)}
        # each channel's target as the organisation resolves it (the configuration's
        # frt_target_s, or a [targets] channel entry): the scorecards' too
        targets = self.context.targets
        out = []
        for channel in FIRST_RESPONSE_CHANNELS:
            frt = cell("frt", _figure(found.get(channel), "frt"), targets)
            resolved = targets.get("frt", channel)
            target = resolved.judged_by.target if resolved is not None else None
            status = None
            if frt.value is not None and target is not None:
                status = "met" if frt.value <= target else "missed"
            out.append(ChannelFirstResponse(
                channel=channel, cell=frt, target_s=target, status=status,
                target_text=(f"≤ {format_duration(target)}" if target is not None
                             else "no target")))
        phone = cell("service_level", _figure(found.get("phone"), "service_level"), targets)
        out.append(ChannelFirstResponse(channel="phone", cell=phone, target_s=None,
                                        target_text=(phone.target or "no target").replace(
                                            "target ", ""), status=phone.status))
        return out


def _repeats_note(name: str, window: Window, span: tuple[date, date] | None,
                  repeat_days: float) -> str | None:
    """FCR and the repeat rate count the repeats of the `repeat_days` after each contact:
    for the window's last days those are not all in the data yet, so the figure may read
    high (fewer repeats seen) against a window whose repeats are all in."""
    if name not in REPEAT_KPIS or span is None:
        return None
    # the last day whose contacts have had their whole repeat window within whole days of data
    complete = span[1] - timedelta(days=math.ceil(repeat_days) + 1)
    if window.to <= complete + timedelta(days=1):
        return None
    reads = "high" if name == "fcr" else "low"  # fewer repeats seen: FCR up, repeat rate down
    return (f"contacts after {short_day(complete)} have not had their {repeat_days:g} days "
            f"for a repeat yet: this may read {reads}")


def _window(first: date, end: date) -> Window:
    return Window(**{"from": first, "to": end})


def _comparison_text(compared: Comparison | None, window: Window) -> str:
    if compared is None:
        return "no comparable previous period: the data does not cover the days before"
    if compared.whole:
        days = "day" if window.days == 1 else f"{window.days} days"
        return f"compared with the {days} before ({days_text(*compared.previous)})"
    return (f"compared like with like: {compared.text()} (the same days of each window, "
            "both covered by the data)")


def _change_text(name: str, change: float | None) -> str | None:
    if change is None:
        return None
    unit = kpi_info(name).unit
    if unit == "percent":  # rounded first: a change of −0.04 reads "0.0 pts", not "−0.0"
        return f"{round(change, 1) + 0.0:+.1f} pts"
    if unit == "points":
        return f"{round(change) + 0:+.0f}"
    sign = "+" if change >= 0 else "−"
    return sign + format_shown(name, abs(change))


def _request(window: Window, kpis: list[str] | None, filters: dict[str, list[str]],
             by: list[str] | None = None, period: Period = "all",
             compare: bool = True) -> KpiQuery:
    """The engine's query of a view (a KPI or dimension the caller named and the engine
    does not know: an InvalidRequest, 422)."""
    return kpi_query({"by": by or [], "period": period, "from": window.from_,
                      "to": window.to, "kpis": kpis, "filters": filters, "compare": compare})


def _totals(result: KpiResult) -> dict[str, KpiFigure]:
    """The figures of an ungrouped query (its single row)."""
    rows = rows_of(result)
    return dict(rows[0].figures) if rows else {}


def _figure(row: KpiRow | None, name: str) -> KpiFigure | None:
    return row.figure(name) if row is not None else None


# -- tables grouped by a dimension ------------------------------------------------------------

class GroupRow(BaseModel):
    key: str
    label: str
    cells: list[KpiCell]


class TableOutput(ViewOutput):
    window: Window
    kpis: list[str]
    labels: list[str]
    rows: list[GroupRow]
    total: list[KpiCell]
    window_text: str = ""  # 'last 28 days: 9 Nov – 6 Dec 2026'
    partial_note: str | None = None  # set when the data covers the window only in part


def _marks(context: RunContext, window: Window, params: WindowInput) -> dict[str, Any]:
    """What a page says of its window: its text, and why it is partial (None: whole)."""
    span, today = coverage_of(context)
    covered = coverage(window, span, today)
    asked = params.from_ is not None or params.to is not None
    return {"window_text": window_text(window, asked),
            "partial_note": "; ".join(covered.notes) if covered.partial else None}


def _grouped(context: RunContext, window: Window, dimension: str, kpis: list[str],
             filters: dict[str, list[str]], names: dict[str, str] | None = None,
             marks: dict[str, Any] | None = None) -> TableOutput:
    grouped = context.query(_request(window, kpis, filters, by=[dimension]))
    total = _totals(context.query(_request(window, kpis, filters)))
    rows = []
    for row in rows_of(grouped):
        key = row.group.get(dimension)
        key = "" if key is None else str(key)
        rows.append(GroupRow(key=key, label=(names or {}).get(key, key or "(none)"),
                             cells=[cell(name, row.figure(name), context.targets)
                                    for name in kpis]))
    rows.sort(key=lambda r: r.label.lower())
    return TableOutput(window=window, kpis=kpis, labels=[kpi_info(k).label for k in kpis],
                       rows=rows,
                       total=[cell(name, total.get(name), context.targets) for name in kpis],
                       **(marks or {}))


class TeamInput(WindowInput):
    team_id: str


class TeamOutput(TableOutput):
    team_id: str
    team_name: str


class TeamRunner:
    """A team's agents with their KPIs and intervals (low samples flagged for greying out)."""

    def __init__(self, context: RunContext, params: TeamInput) -> None:
        self.context, self.params = context, params

    def run(self) -> TeamOutput:
        self.context.access.check_team(self.params.team_id)
        window = page_window(self.context, self.params.from_, self.params.to)
        with self.context.engine.connect() as connection:
            team_name = connection.execute(
                select(teams.c.name).where(teams.c.id == self.params.team_id)).scalar()
            names: dict[str, str] = {
                str(agent_id): str(name) for agent_id, name in connection.execute(
                    select(agents.c.id, agents.c.name).where(
                        agents.c.team_id == self.params.team_id))}
        if team_name is None:
            raise NotFound(f"no team {self.params.team_id!r}")
        filters = {**self.params.filters, "team": [self.params.team_id]}
        table = _grouped(self.context, window, "agent", list(AGENT_KPIS), filters, names,
                         _marks(self.context, window, self.params))
        return TeamOutput(team_id=self.params.team_id, team_name=team_name,
                          **table.model_dump())


class ChannelRunner:
    """Every channel side by side."""

    def __init__(self, context: RunContext, params: WindowInput) -> None:
        self.context, self.params = context, params

    def run(self) -> TableOutput:
        window = page_window(self.context, self.params.from_, self.params.to)
        return _grouped(self.context, window, "channel", list(CHANNEL_KPIS), self.params.filters,
                        marks=_marks(self.context, window, self.params))


class AgentInput(WindowInput):
    agent_id: str


class AgentOutput(ViewOutput):
    window: Window
    agent_id: str
    name: str
    role: str
    team_id: str | None
    team_name: str | None
    cells: list[KpiCell]
    team_cells: list[KpiCell]  # the agent's team over the same window, for comparison
    trend_labels: list[str]
    trend: dict[str, list[float | None]]
    window_text: str = ""
    partial_note: str | None = None  # set when the data covers the window only in part


# an agent's first response over time: the share within each channel's target (a weekly median
# would mix phone seconds with email hours)
AGENT_TREND_KPIS = ("csat", "fcr", "aht", "frt_within_target")


class AgentRunner:
    """A basic agent scorecard: the agent's KPIs next to their team's, and weekly trends."""

    def __init__(self, context: RunContext, params: AgentInput) -> None:
        self.context, self.params = context, params

    def run(self) -> AgentOutput:
        with self.context.engine.connect() as connection:
            row = connection.execute(
                select(agents.c.name, agents.c.role, agents.c.team_id, teams.c.name)
                .select_from(agents.outerjoin(teams, teams.c.id == agents.c.team_id))
                .where(agents.c.id == self.params.agent_id)).first()
        if row is None:
            raise NotFound(f"no agent {self.params.agent_id!r}")
        name, role, team_id, team_name = (str(row[0]), str(row[1]),
                                          None if row[2] is None else str(row[2]),
                                          None if row[3] is None else str(row[3]))
        self.context.access.check_agent(self.params.agent_id, team_id)
        window = page_window(self.context, self.params.from_, self.params.to)
        kpis = list(AGENT_KPIS)
        mine = {"agent": [self.params.agent_id]}
        values = _totals(self.context.query(_request(window, kpis, mine)))
        team_values: dict[str, KpiFigure] = {}
        if team_id is not None:
            # The team comparison is computed without the caller's agent restriction: an agent
            # may see their team's aggregate, never a colleague's own numbers.
            team_values = _totals(self.context.kpi(
                self.context.engine, _request(window, kpis, {"team": [team_id]})))
        trend_doc = self.context.query(_request(window, list(AGENT_TREND_KPIS), mine,
                                                period="week"))
        trend_rows = sorted(((period_of(r) or "", r) for r in rows_of(trend_doc)),
                            key=lambda pair: pair[0])
        return AgentOutput(
            window=window, agent_id=self.params.agent_id, name=name, role=role,
            team_id=team_id, team_name=team_name,
            cells=[cell(k, values.get(k), self.context.targets) for k in kpis],
            team_cells=[cell(k, team_values.get(k), self.context.targets) for k in kpis],
            trend_labels=[label for label, _ in trend_rows],
            trend={k: [cell(k, r.figure(k), self.context.targets).value
                       for _, r in trend_rows]
                   for k in AGENT_TREND_KPIS},
            **_marks(self.context, window, self.params),
        )


# -- trends ---------------------------------------------------------------------------------

class TrendInput(WindowInput):
    kpi: str = "csat"
    period: Period = "week"
    by: str | None = None  # a dimension, or None for the whole


class TrendSeries(BaseModel):
    name: str
    values: list[float | None]


class TrendOutput(ViewOutput):
    window: Window
    kpi: str
    label: str
    unit: str
    period: str
    by: str | None
    labels: list[str]
    series: list[TrendSeries]
    partial: list[bool] = Field(default_factory=list)  # per label: a partial period
    window_text: str = ""


TREND_PERIODS = 13  # periods a trend shows by default (as far back as there is data)


MAX_SERIES = 12  # more lines than this is unreadable; the table/CSV has them all


class TrendRunner:
    """One KPI over time, whole or split by a dimension."""

    def __init__(self, context: RunContext, params: TrendInput) -> None:
        self.context, self.params = context, params

    def run(self) -> TrendOutput:
        params = self.params
        if params.by is not None and params.by not in DIMENSIONS:
            raise InvalidRequest(f"by={params.by!r} is not a dimension; use one of "
                             f"{', '.join(DIMENSIONS)}")
        asked = params.from_ is not None or params.to is not None
        window = self._window()
        document = self.context.query(_request(window, [params.kpi], params.filters,
                                               by=[params.by] if params.by else None,
                                               period=params.period))
        labels: set[str] = set()
        partial: set[str] = set()
        by_series: dict[str, dict[str, float | None]] = {}
        for row in rows_of(document):
            label = period_of(row) or ""
            labels.add(label)
            if row.partial:
                partial.add(label)
            key = str(row.group.get(params.by, "")) if params.by else "all"
            value = cell(params.kpi, row.figure(params.kpi), self.context.targets).value
            by_series.setdefault(key, {})[label] = value
        ordered = sorted(labels)
        series = [TrendSeries(name=name, values=[points.get(x) for x in ordered])
                  for name, points in sorted(by_series.items())][:MAX_SERIES]
        info = kpi_info(params.kpi)
        return TrendOutput(window=window, kpi=params.kpi, label=info.label, unit=info.unit,
                           period=params.period, by=params.by, labels=ordered, series=series,
                           partial=[label in partial for label in ordered],
                           window_text=window_text(window, asked))

    def _window(self) -> Window:
        """As asked; by default up to TREND_PERIODS periods (at least the default window's
        days) back from the default window's end, but never before the data's first day (no
        empty leading periods)."""
        params = self.params
        if params.from_ is not None or params.to is not None:
            return page_window(self.context, params.from_, params.to)
        span, today = coverage_of(self.context)
        end = default_end(span, today)
        days = self.context.settings.default_window_days
        back = {"day": 0, "week": 7 * TREND_PERIODS, "month": 31 * TREND_PERIODS,
                "quarter": 92 * TREND_PERIODS}.get(params.period, 0)
        first = end - timedelta(days=max(days, back))
        if span is not None and end > span[0] > first:
            first = span[0]
        return page_window(self.context, first, end)

"""The rows each KPI reads, with its dimensions and its period, as Ibis tables.

A *source* turns store tables into one row per fact (an interaction at its created_at, a
survey at its submitted_at, an agent-state segment clipped to a period, ...) carrying:
- the grouping dimensions it knows (missing values read as NONE so they group and join),
- `period`: the local day number (days since 1970-01-01 in the organisation's time zone) on
  which the row's period starts,
- the derived fields the KPI definitions use (`frt_s`, `handled`, `repeat`, ...).

Attribution follows docs/kpis.md: interactions count at created_at, time to resolution at
resolved_at, surveys at submitted_at; agent states and shifts are clipped to the period.
Everything here builds expressions: nothing runs until the engine aggregates.
"""

from __future__ import annotations

import time as time_module
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend
from ibis.common.exceptions import TableNotFound

from servicepulse.kpi.settings import KpiSettings

# Where `now` goes in a statement kept across processes (see Frame.now_stand_in): a time
# no record holds (the year 2282) whose text the SQL generators write as it is.
NOW_STAND_IN = 9_876_543_210.5
NONE = "(none)"  # a missing dimension value: groups and joins like any other value
BEFORE = -1_000_000  # the period key of "before the first period" (cumulative sources)
DAY_S = 86_400.0
EPOCH = date(1970, 1, 1)

REPEAT_KPIS = frozenset({"fcr", "repeat_contact_rate"})  # the KPIs that read repeat contacts
DIMENSIONS = ("agent", "team", "role", "channel", "queue", "category", "language", "segment")
PERIODS = ("day", "week", "month", "quarter", "all")
INTERACTION_DIMENSIONS = DIMENSIONS
# An interaction whose source marks it deleted or spam (any letter case) is kept as a record,
# since a later export may revive it, but it is not a contact: no KPI counts it, nor a survey
# attached to it (docs/kpis.md, "Deleted and spam contacts"). `contacts_table` applies the rule
# for every source here, so the exact path and the rollup (built with these sources) agree.
NOT_CONTACT_STATUSES = ("deleted", "spam")
AGENT_DIMENSIONS = ("agent", "team", "role")
CUSTOMER_DIMENSIONS = ("segment",)


def day_number(value: date) -> int:
    return (value - EPOCH).days


def from_day_number(value: int) -> date:
    return EPOCH + timedelta(days=value)


def local_midnight(value: date, zone: ZoneInfo) -> float:
    """Epoch seconds of the local midnight starting `value` (DST-correct)."""
    return datetime(value.year, value.month, value.day, tzinfo=zone).timestamp()


def utc_offsets(zone: ZoneInfo, start: float, end: float) -> tuple[int, list[tuple[float, int]]]:
    """The zone's UTC offset at `start` and each (instant, new offset) change up to `end`."""

    def offset(instant: float) -> int:
        moment = datetime.fromtimestamp(instant, UTC).astimezone(zone)
        delta = moment.utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    first = offset(start)
    changes: list[tuple[float, int]] = []
    current, step = first, 3600.0
    instant = start
    while instant < end:
        following = min(instant + step, end)
        if offset(following) != current:
            low, high = instant, following  # the change lies in (low, high]: bisect to 1 s
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            current = offset(high)
            changes.append((high, current))
        instant = following
    return first, changes


def period_start(value: date, period: str) -> date:
    if period == "day":
        return value
    if period == "week":  # weeks start on Monday
        return value - timedelta(days=value.weekday())
    if period == "month":
        return value.replace(day=1)
    if period == "quarter":
        return value.replace(month=3 * ((value.month - 1) // 3) + 1, day=1)
    raise ValueError(f"period {period!r} has no calendar start")


def next_period_start(value: date, period: str) -> date:
    if period == "day":
        return value + timedelta(days=1)
    if period == "week":
        return value + timedelta(days=7)
    months = 1 if period == "month" else 3
    month = value.month - 1 + months
    return date(value.year + month // 12, month % 12 + 1, 1)


def previous_period_start(value: date, period: str) -> date:
    if period in ("day", "week"):
        return value - timedelta(days=1 if period == "day" else 7)
    months = 1 if period == "month" else 3
    month = value.month - 1 - months
    return date(value.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    key: int  # local day number of its calendar start (the group's `period`)
    start: date  # first local day counted (clipped to --from)
    end: date  # exclusive (clipped to --to)
    start_utc: float
    end_utc: float
    current: bool  # False for the previous period the first one is compared with


@dataclass
class Frame:
    """What every source needs: the backend, settings, periods and the time zone."""

    backend: BaseBackend
    settings: KpiSettings
    period: str
    periods: list[Period]
    kpis: set[str] = field(default_factory=set)
    now: float = field(default_factory=lambda: time_module.time())  # the clock, looked up
    # the dimensions the query groups or filters by (None: any), so a source joins the
    # tables behind the others only when asked (agents for team and role, customers for
    # segment): each join is an index lookup per row, most of a day's query on SQLite
    dimensions: frozenset[str] | None = None
    # the agents the query is filtered to (None: every agent), so that the sources of agent
    # time read only theirs before joining spans by overlapping time (the query's filter
    # still applies after: this only spares the joins the others' rows)
    agents: frozenset[str] | None = None
    # Set by a run whose statements are kept across processes: the sources that read the
    # clock write this number where `now` goes, and the run puts its own `now` into the
    # statement's text before running it (`engine.Runner._clocked`), so that a statement
    # with open agent states is compiled once, not at every query.
    now_stand_in: float | None = None
    _tables: dict[str, ir.Table] = field(default_factory=dict)
    _uncategorised: bool | None = None

    @property
    def clock(self) -> float:
        """`now` as the sources write it into a query (see `now_stand_in`)."""
        return self.now if self.now_stand_in is None else self.now_stand_in

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def table(self, name: str) -> ir.Table:
        if name not in self._tables:
            self._tables[name] = self.backend.table(name)
        return self._tables[name]

    def needs(self, *dimensions: str) -> bool:
        """Whether the query groups or filters by any of `dimensions`."""
        return self.dimensions is None or not self.dimensions.isdisjoint(dimensions)

    @property
    def range_start(self) -> float:
        return min(p.start_utc for p in self.periods)

    @property
    def range_end(self) -> float:
        return max(p.end_utc for p in self.periods)

    def local_day(self, instant: ir.FloatingValue) -> ir.IntegerValue:
        """The local day number of an epoch, through a CASE over the zone's UTC offsets."""
        first, changes = utc_offsets(self.zone, self.range_start - DAY_S, self.range_end + DAY_S)
        offset: Any = ibis.literal(float(first))
        if changes:
            branches = []
            previous = first
            for at, new in changes:
                branches.append((instant < at, ibis.literal(float(previous))))
                previous = new
            offset = ibis.cases(*branches, else_=ibis.literal(float(previous)))
        return ((instant + offset) / DAY_S).floor().cast("int64")

    def period_key(self, instant: ir.FloatingValue) -> ir.IntegerValue:
        """The period a time falls in (BEFORE for times before the first period)."""
        ordered = sorted(self.periods, key=lambda p: p.start_utc)
        if self.period == "all":
            branches = [(instant < ordered[0].start_utc, ibis.literal(BEFORE))]
            branches += [(instant < p.end_utc, ibis.literal(p.key)) for p in ordered[:-1]]
            return ibis.cases(*branches, else_=ibis.literal(ordered[-1].key))
        local = self.local_day(instant)
        key: Any
        if self.period == "day":
            key = local
        elif self.period == "week":
            key = local - ((local + 3) % 7)  # day 0 was a Thursday; day 4 a Monday
        else:
            branches = [(local < day_number(p.end), ibis.literal(p.key)) for p in ordered[:-1]]
            key = ibis.cases(*branches, else_=ibis.literal(ordered[-1].key)) if branches \
                else ibis.literal(ordered[-1].key)
        return ibis.ifelse(instant < ordered[0].start_utc, BEFORE, key).cast("int64")

    @property
    def uncategorised(self) -> bool:
        """Whether interactions without a category may be among those the repeat windows
        read (only then does FCR need the window over all of a customer's contacts).

        One row is enough: the store's partial index on uncategorised contacts (migration
        0013) finds it, or finds none, without reading the range; on a Parquet export the
        column statistics mostly answer it. Asked at every run, never kept: the data
        changes between runs of a kept connection.
        """
        if self._uncategorised is None:
            self._uncategorised = True
            if "fcr" in self.kpis and self.backend is not None:
                self._uncategorised = len(self.backend.execute(self.uncategorised_check())) > 0
        return self._uncategorised

    def uncategorised_check(self) -> ir.Table:
        """One uncategorised contact among those the repeat windows read, if any."""
        rows = contacts_table(self)
        return rows.filter(rows.category.isnull() & (rows.created_at >= self.range_start)
                           & (rows.created_at < _repeats_end(self))).select("created_at").limit(1)

    def without_repeats(self) -> Frame:
        """The same frame for reading no repeat contacts (their windows are costly)."""
        return replace(self, kpis=self.kpis - REPEAT_KPIS)

    def in_periods(self, instant: ir.FloatingValue) -> ir.BooleanValue:
        """`instant` within one of the periods, as plain range tests (`a <= t < b OR ...`):
        no constant term in front, which would keep SQLite from using the column's index
        (`FALSE OR (t >= a AND t < b)` scans every row before `b`)."""
        condition: Any = None
        for start, end in merged_ranges(self.periods):
            within = (instant >= start) & (instant < end)
            condition = within if condition is None else condition | within
        return ibis.literal(False) if condition is None else condition

    def of_agents(self, table: ir.Table) -> ir.Table:
        """`table`'s rows of the query's agents (all rows when it asks for every agent); a
        row without an agent is the agent "(none)", as the `agent` dimension has it."""
        if self.agents is None:
            return table
        wanted = table.agent_id.isin(sorted(self.agents))
        return table.filter(wanted | table.agent_id.isnull() if NONE in self.agents
                            else wanted)

    def clipped_to_periods(self, spans: ir.Table) -> ir.Table:
        """Time spans (`start`, `end`) joined with each period they overlap, as `period`,
        `p_start`, `p_end`, and `seconds`: the part of the span within the period.

        A span within one calendar period (almost every agent state, shift and activity in
        day, week or month periods) is joined to it by the period's key, which engines
        look up (SQLite builds an index for the join); only a span whose start and end
        fall in different periods is joined by overlapping times, which SQLite can only
        test against every period in turn. Both keep the overlap test, so a period clipped
        to the query's first day is clipped as before."""
        periods = self.periods_table()
        keyed = spans.mutate(_first_period=self.period_key(spans.start),
                             _last_period=self.period_key(spans.end))
        within = keyed.filter(keyed._first_period == keyed._last_period)
        within = within.join(periods, [within._first_period == periods.period,
                                       within.start < periods.p_end,
                                       within.end > periods.p_start])
        across = keyed.filter(keyed._first_period != keyed._last_period)
        across = across.join(periods, [across.start < periods.p_end,
                                       across.end > periods.p_start])
        clipped = within.union(across).drop("_first_period", "_last_period")
        return clipped.mutate(
            seconds=ibis.least(clipped.end, clipped.p_end) - ibis.greatest(clipped.start,
                                                                           clipped.p_start))

    def periods_table(self) -> ir.Table:
        """The periods as an in-memory table (`period`, `p_start`, `p_end`)."""
        return ibis.memtable({
            "period": [p.key for p in self.periods],
            "p_start": [p.start_utc for p in self.periods],
            "p_end": [p.end_utc for p in self.periods],
        }, schema={"period": "int64", "p_start": "float64", "p_end": "float64"})


def is_contact(status: ir.StringValue) -> ir.BooleanValue:
    """Whether an interaction of this status counts as a contact (not deleted, not spam)."""
    return status.isnull() | ~status.lower().isin(list(NOT_CONTACT_STATUSES))


def contacts_table(frame: Frame) -> ir.Table:
    """The stored interactions that are contacts: every KPI reads interactions through this."""
    rows = frame.table("interactions")
    return rows.filter(is_contact(rows.status))


def merged_ranges(periods: list[Period]) -> list[tuple[float, float]]:
    ranges: list[tuple[float, float]] = []
    for p in sorted(periods, key=lambda p: p.start_utc):
        if ranges and p.start_utc <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], p.end_utc))
        else:
            ranges.append((p.start_utc, p.end_utc))
    return ranges


def _uniform(table: ir.Table) -> ir.Table:
    """Nullable strings and doubles on both sides of a UNION (schemas must match exactly)."""
    return table.select(**{
        name: table[name].cast("string" if table[name].type().is_string() else "float64")
        for name in table.columns})


def _text(value: ir.Value) -> ir.StringValue:
    return value.cast("string").fill_null(NONE)


def _by_channel(channel: ir.StringValue, values: dict[str, float]) -> ir.FloatingValue:
    if not values:
        return ibis.null().cast("float64")
    return ibis.cases(*((channel == name, ibis.literal(float(value)))
                        for name, value in sorted(values.items())),
                      else_=ibis.null().cast("float64"))


def _agent_attributes(frame: Frame) -> ir.Table:
    agents = frame.table("agents")
    costs = frame.settings.hourly_costs
    default_cost = ibis.cases(*((agents.role == role, ibis.literal(float(cost)))
                                for role, cost in sorted(costs.items())),
                              else_=ibis.null().cast("float64")) if costs else ibis.null()
    return agents.select(
        a_id=agents.id, a_team=agents.team_id, a_role=agents.role,
        a_cost=agents.hourly_cost.fill_null(default_cost))


INTERACTION_COLUMNS = (
    "id", "channel", "created_at", "direction", "customer_id", "agent_id", "team_id", "queue",
    "category", "language", "first_response_at", "answered_at", "resolved_at", "abandoned_at",
    "talk_s", "hold_s", "wrap_s", "handle_s", "reopens", "transfers", "escalated",
    "first_response_business_s", "resolution_business_s")


def _interactions_enriched(frame: Frame, window_end: float, start: float | None = None,
                           repeats: bool = False) -> ir.Table:
    """Interactions created in [start, window_end), with agent, team, role and segment (and
    the repeat flags, when asked)."""
    # only the columns the KPIs read: engines carry every column through joins and window
    # sorts, and the raw JSON (`given`), hashes and free text would cost the most
    interactions = contacts_table(frame).select(*INTERACTION_COLUMNS)
    created = interactions.created_at
    interactions = interactions.filter(created < window_end if start is None
                                       else (created >= start) & (created < window_end))
    if repeats:
        interactions = _with_repeats(frame, _repeat_candidates(frame, interactions))
    else:  # the query's agents only, read through the (agent_id, created_at) index
        interactions = frame.of_agents(interactions)
    # Both joins are on unique keys (left joins: never more or fewer rows), so leaving one
    # out changes only the dimensions it supplies, which the query then does not read.
    joined = interactions
    with_agents, with_customers = frame.needs("team", "role"), frame.needs("segment")
    if with_agents:
        agents = _agent_attributes(frame)
        joined = joined.left_join(agents, interactions.agent_id == agents.a_id)
    if with_customers:
        customers = frame.table("customers").select(c_id="id", c_segment="segment")
        joined = joined.left_join(customers, interactions.customer_id == customers.c_id)
    unread: Any = ibis.literal(NONE)
    return joined.mutate(
        agent=_text(joined.agent_id),
        team=_text(joined.team_id.fill_null(joined.a_team)) if with_agents else unread,
        role=_text(joined.a_role) if with_agents else unread,
        channel=_text(joined.channel),
        queue=_text(joined.queue),
        category=_text(joined.category),
        language=_text(joined.language),
        segment=_text(joined.c_segment) if with_customers else unread,
    )


def _repeat_candidates(frame: Frame, rows: ir.Table) -> ir.Table:
    """The contacts whose repeat windows a query filtered by agent can read: those of the
    customers its agents served in the range (a repeat is any later contact of the same
    customer, whoever handles it), and those without a customer (their own partition, never
    a repeat). The rest could only be counted for other agents, whom the filter drops."""
    if frame.agents is None:
        return rows
    served = frame.of_agents(contacts_table(frame))
    served = served.filter((served.created_at >= frame.range_start)
                           & (served.created_at < frame.range_end)
                           & served.customer_id.notnull())
    return rows.filter(rows.customer_id.isnull() | rows.customer_id.isin(served.customer_id))


def _with_repeats(frame: Frame, rows: ir.Table) -> ir.Table:
    """`rows` (raw interactions from the range start on, up to the repeat window after its
    end) with `repeat`: another inbound contact of the same customer within the repeat
    window; `fcr_repeat`: the same, but in the same category where both have one (an
    uncategorised contact matches any category).

    Each window is a sort of the rows: only the flags the KPIs read are worked out (the
    other is false), and FCR reads the window over all of a customer's contacts only when
    some contacts have no category (without them it is the same-category window alone).
    """
    window_s = frame.settings.repeat_window_days * DAY_S
    any_repeat = "repeat_contact_rate" in frame.kpis
    fcr_repeat = "fcr" in frame.kpis
    uncategorised = fcr_repeat and frame.uncategorised
    inbound_at = ibis.ifelse(rows.direction == "inbound", rows.created_at, None)
    order = [rows.created_at, rows.id]
    # A contact without a customer is its own partition: it has no repeats, and one huge
    # partition of them would make engines without sliding-frame MIN (SQLite) quadratic.
    customer = rows.customer_id.fill_null(ibis.literal("(no customer) ") + rows.id)
    later = ibis.window(group_by=customer, order_by=order, rows=(1, None))
    later_same_category = ibis.window(group_by=[customer, rows.category],
                                      order_by=order, rows=(1, None))
    windows: dict[str, Any] = {}
    if any_repeat or uncategorised:
        windows["next_inbound_at"] = inbound_at.min().over(later)
    if uncategorised:
        inbound_uncategorised_at = ibis.ifelse(
            (rows.direction == "inbound") & rows.category.isnull(), rows.created_at, None)
        windows["next_uncategorised_at"] = inbound_uncategorised_at.min().over(later)
    if fcr_repeat:
        windows["next_same_category_at"] = inbound_at.min().over(later_same_category)
    marked = rows.mutate(**windows)
    has_customer = marked.customer_id.notnull()
    flags: dict[str, Any] = {"repeat": ibis.literal(False), "fcr_repeat": ibis.literal(False)}
    if "next_inbound_at" in windows:
        within = marked.next_inbound_at - marked.created_at <= window_s
    if any_repeat:
        flags["repeat"] = has_customer & within.fill_null(False)
    if fcr_repeat:
        within_same = (marked.next_same_category_at - marked.created_at <= window_s
                       ).fill_null(False)
        if uncategorised:
            within_same = ibis.ifelse(
                marked.category.isnull(), within,
                within_same
                | (marked.next_uncategorised_at - marked.created_at <= window_s
                   ).fill_null(False))
        flags["fcr_repeat"] = has_customer & within_same.fill_null(False)
    return marked.mutate(**flags).drop(*windows)


def _repeats_end(frame: Frame) -> float:
    """Repeats are looked for among every later contact (any channel, also after the range
    end): the windows read contacts up to the repeat window after the range, before the
    period filter and the user's filters."""
    return frame.range_end + frame.settings.repeat_window_days * DAY_S + 1


def _interaction_fields(frame: Frame, rows: ir.Table) -> ir.Table:
    settings = frame.settings
    voice = rows.channel.isin(["phone", "chat"])
    answered = rows.answered_at.notnull()
    abandoned = rows.abandoned_at.notnull() & ~answered
    wait_s = rows.answered_at - rows.created_at
    abandon_wait_s = rows.abandoned_at - rows.created_at
    threshold = _by_channel(rows.channel, settings.service_level_thresholds)
    talk = rows.talk_s + rows.hold_s.fill_null(0.0) + rows.wrap_s.fill_null(0.0)
    return rows.mutate(
        inbound=rows.direction == "inbound",
        outbound=rows.direction == "outbound",
        voice=voice,
        answered=answered,
        abandoned=abandoned,
        short_abandon=abandoned & (abandon_wait_s < settings.short_abandon_s),
        answered_within=answered & (wait_s <= threshold),
        abandoned_within=abandoned & (abandon_wait_s <= threshold),
        sl_threshold_s=threshold,
        wait_s=wait_s,
        frt_s=ibis.ifelse(voice, wait_s, rows.first_response_at - rows.created_at),
        frt_target_s=_by_channel(rows.channel, settings.frt_targets),
        frt_business_s=rows.first_response_business_s,
        handle_time_s=ibis.ifelse(voice & rows.talk_s.notnull(), talk, rows.handle_s),
        handled=rows.agent_id.notnull() & rows.abandoned_at.isnull(),
        resolved=rows.resolved_at.notnull(),
        has_customer=rows.customer_id.notnull(),
        ttr_s=rows.resolved_at - rows.created_at,
        ttr_business_s=rows.resolution_business_s,
    )


def interactions_source(frame: Frame) -> ir.Table:
    """Interactions at created_at (volume, response, FCR, resolution rate, ...)."""
    # the range's both ends up front: SQLite uses the created_at index only for what is in
    # the innermost query, and an open start would read every contact before the range
    if not frame.kpis & REPEAT_KPIS:
        rows = _interactions_enriched(frame, frame.range_end, frame.range_start)
        rows = rows.mutate(repeat=ibis.literal(False), fcr_repeat=ibis.literal(False))
    elif getattr(frame.backend, "name", "") == "sqlite":
        # SQLite joins a window subquery back by nested loops: the windows run inline there
        rows = _interactions_enriched(frame, _repeats_end(frame), frame.range_start,
                                      repeats=True)
    else:
        # The windows sort only the five columns they read; engines carry every input
        # column through a window's sort, so joining the flags back by id is cheaper.
        narrow = contacts_table(frame).select(
            "id", "customer_id", "category", "created_at", "direction")
        narrow = narrow.filter((narrow.created_at >= frame.range_start)
                               & (narrow.created_at < _repeats_end(frame)))
        marked = _with_repeats(frame, _repeat_candidates(frame, narrow))
        flags = marked.select(r_id=marked.id, r_repeat=marked.repeat,
                              r_fcr_repeat=marked.fcr_repeat)
        rows = _interactions_enriched(frame, frame.range_end, frame.range_start)
        rows = rows.filter(frame.in_periods(rows.created_at))
        rows = rows.left_join(flags, rows.id == flags.r_id)
        rows = rows.mutate(repeat=rows.r_repeat.fill_null(False),
                           fcr_repeat=rows.r_fcr_repeat.fill_null(False)) \
            .drop("r_id", "r_repeat", "r_fcr_repeat")
    rows = rows.filter(frame.in_periods(rows.created_at))
    rows = _interaction_fields(frame, rows)
    return rows.mutate(period=frame.period_key(rows.created_at))


def resolved_source(frame: Frame) -> ir.Table:
    """Interactions at resolved_at (time to resolution)."""
    rows = _interactions_enriched(frame, frame.range_end)
    rows = rows.filter(rows.resolved_at.notnull() & frame.in_periods(rows.resolved_at))
    rows = _interaction_fields(frame, rows)
    return rows.mutate(period=frame.period_key(rows.resolved_at))


def flow_source(frame: Frame) -> ir.Table:
    """+1 when an interaction opens, −1 when it closes (resolved or abandoned): summed
    cumulatively over periods, the engine gets the backlog open at each period's end."""
    rows = _interactions_enriched(frame, frame.range_end)
    dims = [rows[name] for name in INTERACTION_DIMENSIONS]
    closed_at = ibis.least(rows.resolved_at.fill_null(float("inf")),
                           rows.abandoned_at.fill_null(float("inf")))
    opened = _uniform(rows.select(*dims, at=rows.created_at, delta=ibis.literal(1.0)))
    closed = _uniform(rows.filter((rows.resolved_at.notnull() | rows.abandoned_at.notnull())
                                  & (closed_at < frame.range_end))
                      .select(*dims, at=closed_at, delta=ibis.literal(-1.0)))
    flow = opened.union(closed)
    return flow.mutate(period=frame.period_key(flow.at))


def surveys_source(frame: Frame) -> ir.Table:
    """Survey answers at submitted_at; the agent named, else the interaction's agent."""
    surveys = frame.table("surveys")
    surveys = surveys.filter(frame.in_periods(surveys.submitted_at))
    interactions = frame.table("interactions").select(
        i_id="id", i_agent="agent_id", i_team="team_id", i_channel="channel", i_queue="queue",
        i_category="category", i_language="language", i_customer="customer_id",
        i_status="status")
    joined = surveys.left_join(interactions, surveys.interaction_id == interactions.i_id)
    # a survey of a deleted or spam contact counts nowhere; one without a stored
    # interaction still counts
    joined = joined.filter(is_contact(joined.i_status))
    joined = joined.mutate(s_agent=joined.agent_id.fill_null(joined.i_agent),
                           s_customer=joined.customer_id.fill_null(joined.i_customer))
    agents = _agent_attributes(frame)
    customers = frame.table("customers").select(c_id="id", c_segment="segment")
    joined = joined.left_join(agents, joined.s_agent == agents.a_id) \
        .left_join(customers, joined.s_customer == customers.c_id)
    return joined.mutate(
        agent=_text(joined.s_agent),
        team=_text(joined.i_team.fill_null(joined.a_team)),
        role=_text(joined.a_role),
        channel=_text(joined.i_channel),
        queue=_text(joined.i_queue),
        category=_text(joined.i_category),
        language=_text(joined.i_language),
        segment=_text(joined.c_segment),
        period=frame.period_key(joined.submitted_at),
    )


def _reviewed(frame: Frame, rows: ir.Table) -> ir.Table:
    """QA rows (each with `interaction_id` and `at`) attributed to the reviewed interaction:
    its agent, team (else the agent's), channel, queue, category, language and customer
    segment; the period of the review's `at`. Reviews of a deleted or spam contact count
    nowhere (the importer stores only reviews of stored interactions)."""
    interactions = frame.table("interactions").select(
        i_id="id", i_agent="agent_id", i_team="team_id", i_channel="channel", i_queue="queue",
        i_category="category", i_language="language", i_customer="customer_id",
        i_status="status")
    joined = rows.join(interactions, rows.interaction_id == interactions.i_id)
    joined = joined.filter(is_contact(joined.i_status))
    with_agents, with_customers = frame.needs("team", "role"), frame.needs("segment")
    if with_agents:
        agents = _agent_attributes(frame)
        joined = joined.left_join(agents, joined.i_agent == agents.a_id)
    if with_customers:
        customers = frame.table("customers").select(c_id="id", c_segment="segment")
        joined = joined.left_join(customers, joined.i_customer == customers.c_id)
    unread: Any = ibis.literal(NONE)
    return joined.mutate(
        agent=_text(joined.i_agent),
        team=_text(joined.i_team.fill_null(joined.a_team)) if with_agents else unread,
        role=_text(joined.a_role) if with_agents else unread,
        channel=_text(joined.i_channel),
        queue=_text(joined.i_queue),
        category=_text(joined.i_category),
        language=_text(joined.i_language),
        segment=_text(joined.c_segment) if with_customers else unread,
        period=frame.period_key(joined.at),
    )


def qa_reviews_source(frame: Frame) -> ir.Table:
    """QA reviews at their `at`, each with its IQS (derived at import from its form)."""
    reviews = frame.table("qa_reviews").select("interaction_id", "at", "iqs", "calibration")
    reviews = reviews.filter(frame.in_periods(reviews.at))
    return _reviewed(frame, reviews)


def qa_scores_source(frame: Frame) -> ir.Table:
    """Each QA review's category scores on 0-100 (`qa_category`, `percent`), at the
    review's `at`: what the KPIs iqs_<category> average."""
    reviews = frame.table("qa_reviews").select(r_id="id", interaction_id="interaction_id",
                                               at="at", calibration="calibration")
    reviews = reviews.filter(frame.in_periods(reviews.at))
    scores = frame.table("qa_review_scores").select(
        s_review="review_id", qa_category="category", percent="percent")
    joined = reviews.join(scores, reviews.r_id == scores.s_review)
    return _reviewed(frame, joined)


def agent_time_source(frame: Frame) -> ir.Table:
    """Agent-state segments and shifts clipped to each period (`state` "shift" for shifts);
    an open state runs until now."""
    states = frame.of_agents(frame.table("agent_states"))
    shifts = frame.of_agents(frame.table("shifts"))
    spans = _uniform(states.select("agent_id", "state", "start",
                                   end=states.end.fill_null(frame.clock))) \
        .union(_uniform(shifts.select("agent_id", state=ibis.literal("shift"),
                                      start=shifts.start, end=shifts.end)))
    clipped = frame.clipped_to_periods(spans)
    agents = _agent_attributes(frame)
    joined = clipped.left_join(agents, clipped.agent_id == agents.a_id)
    logged_in = (joined.state != "offline") & (joined.state != "shift")
    return joined.mutate(
        agent=_text(joined.agent_id), team=_text(joined.a_team), role=_text(joined.a_role),
        busy=joined.state.isin(["handling", "after_call_work"]),
        available=joined.state == "available",
        logged_in=logged_in,
        shift=joined.state == "shift",
        cost=ibis.ifelse(logged_in, joined.seconds / 3600.0 * joined.a_cost, None),
    )


# Agent states by the kind of time they are (docs/kpis.md, adherence): offline and any
# unknown state are "none", which no planned kind equals.
WORK_STATES = ("available", "handling", "after_call_work")
STATE_KINDS = {"break": "break", "training": "training", "meeting": "meeting"}


def state_kind(state: ir.StringValue) -> ir.StringValue:
    return ibis.cases((state.isin(list(WORK_STATES)), ibis.literal("work")),
                      *((state == name, ibis.literal(kind)) for name, kind in STATE_KINDS.items()),
                      else_=ibis.literal("none"))


def schedule_source(frame: Frame) -> ir.Table:
    """Planned and actual agent time clipped to each period, one row a (span, period), for
    adherence and conformance. `part` says what a row's `seconds` are:
    - `scheduled`: a shift (its rows count the shifts); `planned_other`: a planned activity
      that is not work (`shift_activities`: the rest of a shift is work);
    - `worked`: an agent state of kind work, inside or outside shifts;
    - `in_shift_work`: work states within a shift; `in_other_work`: work states within a
      planned non-work activity; `in_other_adherent`: states of the activity's own kind
      within it. Adherent time = in_shift_work − in_other_work + in_other_adherent.
    An open state runs until now; the plan counts until now too (the part of a running shift
    still to come has no states yet, and a shift not begun is not counted)."""
    start, end, now = frame.range_start, frame.range_end, frame.clock
    # The longest shift and planned activity stored: a span overlapping another one starts
    # at most that long before it, which bounds each overlap join to a range of the
    # (agent_id, start) index rather than every earlier span of the agent. Asked of the data
    # in the statement itself, so it is never stale.
    longest = {name: (frame.table(name).end - frame.table(name).start).max().as_scalar()
               for name in ("shifts", "shift_activities")}
    shifts = frame.of_agents(frame.table("shifts"))
    shifts = shifts.filter((shifts.start < end) & (shifts.end > start)
                           & (shifts.start < now)).select(
        "agent_id", "start", end=ibis.least(shifts.end, now))
    planned = frame.of_agents(frame.table("shift_activities"))
    planned = planned.filter((planned.start < end) & (planned.end > start)
                             & (planned.start < now)).select(
        "agent_id", "start", "kind", end=ibis.least(planned.end, now))
    states = frame.of_agents(frame.table("agent_states"))
    states = states.mutate(end=states.end.fill_null(frame.clock))
    states = states.filter((states.start < end) & (states.end > start))
    states = states.select("agent_id", "start", "end", kind=state_kind(states.state))
    work = states.filter(states.kind == "work")

    def overlap(left: ir.Table, right: ir.Table, longest: ir.Scalar,
                same_kind: bool = False) -> ir.Table:
        right = right.select(r_agent=right.agent_id, r_start=right.start, r_end=right.end,
                             r_kind=right.kind if "kind" in right.columns else ibis.null())
        # r_end > left.start and r_end - r_start <= longest give r_start >= left.start -
        # longest: the bound changes no result, it only narrows the index range read
        conditions = [left.agent_id == right.r_agent, left.start < right.r_end,
                      left.end > right.r_start, right.r_start >= left.start - longest]
        if same_kind:
            conditions.append(left.kind == right.r_kind)
        joined = left.join(right, conditions)
        return joined.select(agent_id=joined.agent_id,
                             start=ibis.greatest(joined.start, joined.r_start),
                             end=ibis.least(joined.end, joined.r_end))

    def spans(table: ir.Table, part: str) -> ir.Table:
        return _uniform(table.select("agent_id", "start", "end", part=ibis.literal(part)))

    everything = spans(shifts, "scheduled").union(spans(planned, "planned_other")) \
        .union(spans(work, "worked")) \
        .union(spans(overlap(work, shifts, longest["shifts"]), "in_shift_work")) \
        .union(spans(overlap(work, planned, longest["shift_activities"]), "in_other_work")) \
        .union(spans(overlap(states.filter(states.kind != "work"), planned,
                             longest["shift_activities"], same_kind=True),
                     "in_other_adherent"))
    clipped = frame.clipped_to_periods(everything)
    agents = _agent_attributes(frame)
    joined = clipped.left_join(agents, clipped.agent_id == agents.a_id)
    return joined.mutate(agent=_text(joined.agent_id), team=_text(joined.a_team),
                         role=_text(joined.a_role))


def customers_source(frame: Frame) -> ir.Table:
    """Each customer × period with whether it was active at the start, at the end, acquired
    or churned during (a customer without acquired_at has always been one)."""
    periods = frame.periods_table()
    customers = frame.table("customers")
    rows = customers.cross_join(periods)
    acquired_before = lambda at: rows.acquired_at.isnull() | (rows.acquired_at < at)  # noqa: E731
    not_churned = lambda at: rows.churned_at.isnull() | (rows.churned_at >= at)  # noqa: E731
    at_start = acquired_before(rows.p_start) & not_churned(rows.p_start)
    return rows.mutate(
        segment=_text(rows.segment),
        at_start=at_start,
        at_end=acquired_before(rows.p_end) & not_churned(rows.p_end),
        acquired=(rows.acquired_at >= rows.p_start) & (rows.acquired_at < rows.p_end),
        churned=at_start & (rows.churned_at >= rows.p_start) & (rows.churned_at < rows.p_end),
    )


CLTV_WINDOW_S = 365 * DAY_S  # trailing 12 months before the period's end
REVENUE_SIGN = {"purchase": 1.0, "renewal": 1.0, "upsell": 1.0, "return": -1.0}


def customer_value_source(frame: Frame) -> ir.Table:
    """Each customer × period over the trailing 12 months before the period's end: active
    in that window, churned in it, and its revenue (purchases + renewals + upsells − returns)."""
    periods = frame.periods_table()
    orders = frame.table("orders")
    signed = orders.amount * ibis.cases(
        *((orders.kind == kind, ibis.literal(sign)) for kind, sign in REVENUE_SIGN.items()),
        else_=ibis.literal(0.0))
    orders = orders.select(o_customer=orders.customer_id, o_at=orders.at, o_amount=signed)
    in_window = orders.join(periods, [orders.o_at < periods.p_end,
                                      orders.o_at >= periods.p_end - CLTV_WINDOW_S])
    revenue = in_window.group_by(r_customer=in_window.o_customer, r_period=in_window.period) \
        .aggregate(r_revenue=in_window.o_amount.sum())
    customers = frame.table("customers")
    rows = customers.cross_join(periods)
    rows = rows.left_join(revenue, [rows.id == revenue.r_customer,
                                    rows.period == revenue.r_period])
    rows = rows.mutate(window_start=rows.p_end - CLTV_WINDOW_S)
    window_start = rows.window_start
    active = (rows.acquired_at.isnull() | (rows.acquired_at < rows.p_end)) \
        & (rows.churned_at.isnull() | (rows.churned_at >= window_start))
    return rows.mutate(
        segment=_text(rows.segment),
        active=active,
        churned=active & (rows.churned_at >= window_start) & (rows.churned_at < rows.p_end),
        revenue=rows.r_revenue.fill_null(0.0),
    )


def social_posts_source(frame: Frame) -> ir.Table:
    posts = frame.table("social_posts")
    posts = posts.filter(frame.in_periods(posts.posted_at))
    agents = _agent_attributes(frame)
    joined = posts.left_join(agents, posts.agent_id == agents.a_id)
    engagements = (joined.likes.fill_null(0) + joined.comments.fill_null(0)
                   + joined.shares.fill_null(0) + joined.clicks.fill_null(0)
                   + joined.saves.fill_null(0))
    return joined.mutate(
        agent=_text(joined.agent_id), team=_text(joined.a_team), role=_text(joined.a_role),
        engagements=engagements.cast("float64"),
        period=frame.period_key(joined.posted_at),
    )


# --- texts: the `sentiment` KPI's rows (one per customer text in `text_sentiment`) ----------
# Attributed at the text's time (`at`), so a text counts in the period it was written. The
# texts of a deleted or spam interaction are left out, as that interaction is no contact
# (docs/kpis.md, "Deleted and spam contacts"); a text whose interaction is unknown (a social
# mention, an interaction not imported) counts. Channel is the text's (social mentions
# `social`), agent the text's (the source's agent, else its interaction's), team the
# interaction's team else the agent's, role the agent's; queue, category and segment come from
# the interaction; language is the interaction's, else the language detected in the text.
# The scores are written by the insights area (servicepulse.insights.sentiment); the KPI only
# reads the table, so it is defined here with every other KPI.

TEXT_COLUMNS = {"source_kind": "string", "source_id": "string", "interaction_id": "string",
                "channel": "string", "agent_id": "string", "at": "float64",
                "language": "string", "score": "float64", "label": "string"}


def _texts_table(frame: Frame) -> ir.Table:
    """The store's `text_sentiment`; a backend without it (a Parquet export that left the
    table out) gets an empty table and a warning, so the other KPIs still compute."""
    try:
        return frame.table("text_sentiment")
    except TableNotFound:
        pass
    warnings.warn("this KPI backend has no text_sentiment table: sentiment has no data here "
                  "(export it with the record tables to compute sentiment on this engine)",
                  stacklevel=2)
    return ibis.memtable({name: [] for name in TEXT_COLUMNS}, schema=TEXT_COLUMNS)


def texts_source(frame: Frame) -> ir.Table:
    """Scored and unscored customer texts in the periods, with the engine's dimensions;
    none of a deleted or spam interaction."""
    texts = _texts_table(frame)
    texts = texts.filter(frame.in_periods(texts.at))
    interactions = frame.table("interactions").select(
        i_id="id", i_team="team_id", i_queue="queue", i_category="category",
        i_language="language", i_customer="customer_id", i_status="status")
    agents = frame.table("agents").select(a_id="id", a_team="team_id", a_role="role")
    customers = frame.table("customers").select(c_id="id", c_segment="segment")
    joined = texts.left_join(interactions, texts.interaction_id == interactions.i_id)
    joined = joined.filter(joined.i_id.isnull() | is_contact(joined.i_status))
    joined = joined.left_join(agents, joined.agent_id == agents.a_id)
    joined = joined.left_join(customers, joined.i_customer == customers.c_id)
    return joined.mutate(
        agent=_text(joined.agent_id),
        team=_text(joined.i_team.fill_null(joined.a_team)),
        role=_text(joined.a_role),
        channel=_text(joined.channel),
        queue=_text(joined.i_queue),
        category=_text(joined.i_category),
        language=_text(joined.i_language.fill_null(joined.language)),
        segment=_text(joined.c_segment),
        scored=joined.score.notnull(),
        period=frame.period_key(joined.at),
    )


@dataclass(frozen=True)
class Source:
    name: str
    build: Callable[[Frame], ir.Table]
    dimensions: tuple[str, ...]
    reads: tuple[str, ...]
    cumulative: bool = False  # sums run over periods (the value at each period's end)
    # built from the frame's settings, periods, KPIs and dimensions and the tables' schemas
    # alone (not the clock, not the data): a repeated query may reuse the built expression
    reusable: bool = False
    # reads the clock (open agent states run until now): reusable only when the run puts
    # its own time into the statement (`Frame.now_stand_in`)
    reads_clock: bool = False


SOURCES: dict[str, Source] = {source.name: source for source in (
    Source("interactions", interactions_source, INTERACTION_DIMENSIONS,
           ("interaction", "agent", "customer"), reusable=True),
    Source("resolved", resolved_source, INTERACTION_DIMENSIONS,
           ("interaction", "agent", "customer"), reusable=True),
    Source("flow", flow_source, INTERACTION_DIMENSIONS, ("interaction", "agent", "customer"),
           cumulative=True, reusable=True),
    Source("surveys", surveys_source, INTERACTION_DIMENSIONS,
           ("survey", "interaction", "agent", "customer"), reusable=True),
    Source("qa_reviews", qa_reviews_source, INTERACTION_DIMENSIONS,
           ("qa_review", "interaction", "agent", "customer"), reusable=True),
    Source("qa_scores", qa_scores_source, INTERACTION_DIMENSIONS,
           ("qa_review", "interaction", "agent", "customer"), reusable=True),
    Source("agent_time", agent_time_source, AGENT_DIMENSIONS, ("agent_state", "shift", "agent"),
           reusable=True, reads_clock=True),
    Source("schedule", schedule_source, AGENT_DIMENSIONS, ("shift", "agent_state", "agent"),
           reusable=True, reads_clock=True),
    Source("customers", customers_source, CUSTOMER_DIMENSIONS, ("customer",), reusable=True),
    Source("customer_value", customer_value_source, CUSTOMER_DIMENSIONS, ("customer", "order"),
           reusable=True),
    Source("social_posts", social_posts_source, AGENT_DIMENSIONS, ("social_post", "agent"),
           reusable=True),
    Source("texts", texts_source, INTERACTION_DIMENSIONS,
           ("event", "survey", "social_mention", "interaction", "agent", "customer")),
)}

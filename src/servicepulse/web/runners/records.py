"""Runners over the records themselves: drill-down, customer history, wallboard, lists.

The interactions list is both the drill-down behind every KPI number and the page a team lead
browses, so it filters (agent, team, channel, state, dates, text), counts the contacts in each
state for the header, and lists the newest first with the contacts still waiting for a first
answer after the others: they are the wallboard's queue, and at the top (the newest contacts
are the ones nobody answered yet) they buried the work the team did (`InteractionQuery.sort`).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
)

from servicepulse.errors import InvalidRequest
from servicepulse.ingest import quarantine as quarantine_service
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.sources import NOT_CONTACT_STATUSES
from servicepulse.kpi.window import Window
from servicepulse.store.tables import (
    agent_states,
    agents,
    customers,
    events,
    interactions,
    orders,
    surveys,
    teams,
)
from servicepulse.store.times import from_epoch
from servicepulse.web.access import CustomerNotFound
from servicepulse.web.kpi import WALLBOARD_KPIS
from servicepulse.web.runners.base import KpiCell, RunContext, cell, rows_of
from servicepulse.workforce.adherence import out_of_adherence

VOICE_CHAT = ("phone", "chat")
c = interactions.c


def _iso(epoch: float | None) -> str | None:
    value = from_epoch(epoch)
    return value.isoformat().replace("+00:00", "Z") if value else None


# -- drill-down --------------------------------------------------------------------------------

# Which interactions each KPI is computed from, as a WHERE clause mirroring the populations of
# `servicepulse.kpi.definitions` / `servicepulse.kpi.sources` (voice = phone and chat; an
# abandon counts only when not answered). The second element is the time column that places an
# interaction in the period: created_at, except time to resolution (resolved_at).
def _population(kpi: str, short_abandon_s: float) -> tuple[ColumnElement[bool], Any] | None:
    inbound = c.direction == "inbound"
    voice = c.channel.in_(VOICE_CHAT)
    answered = c.answered_at.is_not(None)
    abandoned = and_(c.abandoned_at.is_not(None), c.answered_at.is_(None))
    short_abandon = and_(abandoned, c.abandoned_at - c.created_at < short_abandon_s)
    handled = and_(c.agent_id.is_not(None), c.abandoned_at.is_(None))
    resolved = c.resolved_at.is_not(None)
    populations: dict[str, tuple[ColumnElement[bool], Any]] = {
        "contacts": (true(), c.created_at),
        "frt": (and_(inbound, or_(and_(voice, answered),
                                  and_(~voice, c.first_response_at.is_not(None)))),
                c.created_at),
        "asa": (and_(inbound, voice, answered), c.created_at),
        "aht": (and_(handled, or_(and_(voice, c.talk_s.is_not(None)),
                                  c.handle_s.is_not(None))), c.created_at),
        "fcr": (and_(inbound, resolved), c.created_at),
        "repeat_contact_rate": (and_(inbound, c.customer_id.is_not(None)), c.created_at),
        "resolution_rate": (true(), c.created_at),
        "ttr": (resolved, c.resolved_at),
        "reopen_rate": (resolved, c.created_at),
        "transfer_rate": (handled, c.created_at),
        "escalation_rate": (handled, c.created_at),
        "abandon_rate": (and_(inbound, voice, ~short_abandon), c.created_at),
        "service_level": (and_(inbound, voice, or_(answered, and_(abandoned, ~short_abandon))),
                          c.created_at),
    }
    return populations.get(kpi)


SURVEY_KPIS = ("csat", "nps", "ces")
# what the KPIs count: a deleted or spam interaction is no contact (kpi.sources.is_contact)
IS_CONTACT = or_(c.status.is_(None), func.lower(c.status).not_in(NOT_CONTACT_STATUSES))
DRILLDOWN_KPIS = ("contacts", "frt", "asa", "aht", "fcr", "repeat_contact_rate",
                  "resolution_rate", "ttr", "reopen_rate", "transfer_rate", "escalation_rate",
                  "abandon_rate", "service_level", "backlog", *SURVEY_KPIS)


def dimension_clause(dimension: str, values: list[str]) -> ColumnElement[bool]:
    """Interactions whose `dimension` is one of `values` (bound parameters, never SQL text)."""
    direct = {"agent": c.agent_id, "channel": c.channel, "queue": c.queue,
              "category": c.category, "language": c.language}
    if dimension in direct:
        return direct[dimension].in_(values)
    if dimension == "team":
        return or_(c.team_id.in_(values),
                   and_(c.team_id.is_(None),
                        c.agent_id.in_(select(agents.c.id).where(agents.c.team_id.in_(values)))))
    if dimension == "role":
        return c.agent_id.in_(select(agents.c.id).where(agents.c.role.in_(values)))
    if dimension == "segment":
        return c.customer_id.in_(select(customers.c.id).where(customers.c.segment.in_(values)))
    raise InvalidRequest(f"unknown dimension {dimension!r}")


# Where a contact stands, from its times alone (any source; the source's own `status` words
# differ from one system to the next): abandoned before an answer, resolved, waiting for a
# first answer (inbound, nothing happened yet: the wallboard's queue), else open (answered or
# responded to, or outbound, and not resolved). Exclusive and exhaustive, in this order.
STATES = ("waiting", "open", "resolved", "abandoned")
WAITING = and_(c.direction == "inbound",
               func.coalesce(c.answered_at, c.first_response_at, c.abandoned_at,
                             c.resolved_at).is_(None))
_ABANDONED = and_(c.abandoned_at.is_not(None), c.answered_at.is_(None))
# Each state but "open" as its own condition (mutually exclusive: waiting has no abandon and
# no resolution); "open" is none of them. Both the CASE and the counts are built from these.
STATE_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "abandoned": _ABANDONED,
    "resolved": and_(~_ABANDONED, c.resolved_at.is_not(None)),
    "waiting": WAITING,
}
STATE_CONDITIONS["open"] = ~or_(*STATE_CONDITIONS.values())
STATE = case(*((STATE_CONDITIONS[name], literal(name))
               for name in ("abandoned", "resolved", "waiting")), else_=literal("open"))
SORTS = ("waiting_last", "newest", "oldest")


def like_pattern(text: str) -> str:
    """A case-insensitive "contains" LIKE pattern (used with escape="\\") from a bound
    parameter: the wildcards a person types (%, _) are matched as themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def text_clause(text: str) -> ColumnElement[bool]:
    """Interactions whose id or subject contains `text`, or with a message (an event's body)
    containing it; case-insensitive."""
    pattern = like_pattern(text)
    messages = select(events.c.interaction_id).where(
        func.lower(events.c.body).like(pattern, escape="\\"))
    return or_(func.lower(c.id).like(pattern, escape="\\"),
               func.lower(c.subject).like(pattern, escape="\\"),
               c.id.in_(messages))


class InteractionRow(BaseModel):
    id: str
    channel: str
    direction: str
    created_at: str | None
    customer_id: str | None
    agent_id: str | None
    team_id: str | None
    queue: str | None
    category: str | None
    subject: str | None
    first_response_s: float | None
    answered_s: float | None
    resolved_s: float | None
    abandoned: bool
    handle_s: float | None
    reopens: int
    transfers: int
    escalated: bool
    status: str | None  # the source system's own word (e.g. "solved", "pending")
    state: str  # waiting, open, resolved or abandoned, from the times (see STATES)


def _interaction_row(row: Any) -> InteractionRow:
    def since_created(value: float | None) -> float | None:
        return None if value is None else round(value - row.created_at, 3)

    handle = row.handle_s
    if handle is None and any(v is not None for v in (row.talk_s, row.hold_s, row.wrap_s)):
        handle = (row.talk_s or 0) + (row.hold_s or 0) + (row.wrap_s or 0)
    # First response as the FRT figure counts it: on phone and chat the wait until answered
    # (those channels seldom record a separate first response), elsewhere the first reply.
    first_response = row.answered_at if row.channel in VOICE_CHAT else row.first_response_at
    return InteractionRow(
        id=row.id, channel=row.channel, direction=row.direction,
        created_at=_iso(row.created_at), customer_id=row.customer_id, agent_id=row.agent_id,
        team_id=row.team_id, queue=row.queue, category=row.category, subject=row.subject,
        first_response_s=since_created(first_response),
        answered_s=since_created(row.answered_at), resolved_s=since_created(row.resolved_at),
        abandoned=row.abandoned_at is not None, handle_s=handle, reopens=row.reopens,
        transfers=row.transfers, escalated=bool(row.escalated), status=row.status,
        state=row.state)


CSV_MAX_ROWS = 100_000  # one CSV download; narrow the filters for more


class InteractionQuery(BaseModel):
    """Filter and page interactions; `kpi` narrows to the population that KPI counts.

    `state` keeps contacts in those states (see STATES); `q` keeps those whose id, subject or
    a message contains the text. `sort`: "waiting_last" (newest first, the contacts still
    waiting for a first answer after the others), "newest" or "oldest" first; by default
    "oldest" when only waiting contacts are asked for (the longest wait first), else
    "waiting_last"."""

    model_config = ConfigDict(populate_by_name=True)
    kpi: str | None = None
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)
    customer_id: str | None = None
    state: list[str] = Field(default_factory=list)
    q: str | None = Field(default=None, max_length=200)
    sort: str | None = None
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=CSV_MAX_ROWS)

    def chosen_sort(self) -> str:
        if self.sort:
            return self.sort
        return "oldest" if self.state == ["waiting"] else "waiting_last"


class InteractionPage(BaseModel):
    kpi: str | None
    window: Window | None
    total: int
    page: int
    page_size: int
    sort: str
    states: dict[str, int]  # contacts in each state under every filter but `state`
    rows: list[InteractionRow]


class DrillDownRunner:
    """The interactions behind a KPI number (or any filtered list of interactions)."""

    def __init__(self, context: RunContext, params: InteractionQuery) -> None:
        self.context, self.params = context, params

    def _check(self) -> None:
        params = self.params
        if params.kpi is not None and params.kpi not in DRILLDOWN_KPIS:
            raise InvalidRequest(f"kpi={params.kpi!r} has no interaction drill-down; use one "
                             f"of {', '.join(DRILLDOWN_KPIS)}")
        unknown = [value for value in params.state if value not in STATES]
        if unknown:
            raise InvalidRequest(f"state={','.join(unknown)!r} is not a state; use one or more "
                             f"of {', '.join(STATES)}")
        if params.sort and params.sort not in SORTS:
            raise InvalidRequest(f"sort={params.sort!r} is not an order; use one of "
                             f"{', '.join(SORTS)}")

    def _bounds(self) -> tuple[Window | None, float | None, float | None]:
        """The window (a KPI drill-down always has one: the KPI's) and its epoch bounds. A
        plain list takes the dates given: from alone lists from that day on, to alone up to
        that day, neither every date."""
        params = self.params
        if params.kpi is not None or (params.from_ and params.to):
            window = self.context.window(params.from_, params.to)
            return (window, self.context.local_midnight(window.from_),
                    self.context.local_midnight(window.to))
        return (None,
                self.context.local_midnight(params.from_) if params.from_ else None,
                self.context.local_midnight(params.to) if params.to else None)

    def statement(self) -> tuple[Select[Any], Window | None]:
        """Every interaction the filters keep (all but `state`), with its state."""
        self._check()
        params = self.params
        where: list[ColumnElement[bool]] = []
        attributed_by: Any = c.created_at
        window, start, end = self._bounds()
        if params.kpi is not None:
            where.append(IS_CONTACT)  # a KPI's drill-down lists what the KPI counted
        if params.kpi in SURVEY_KPIS:
            answered = select(surveys.c.interaction_id).where(surveys.c.kind == params.kpi)
            if start is not None:
                answered = answered.where(surveys.c.submitted_at >= start)
            if end is not None:
                answered = answered.where(surveys.c.submitted_at < end)
            where.append(c.id.in_(answered))
            attributed_by = None
        elif params.kpi == "backlog":
            assert end is not None
            # open at the end: neither resolved nor abandoned before it
            where.append(and_(c.created_at < end,
                              or_(c.resolved_at.is_(None), c.resolved_at >= end),
                              or_(c.abandoned_at.is_(None), c.abandoned_at >= end)))
            attributed_by = None
        elif params.kpi is not None:
            population = _population(params.kpi, self.context.settings.short_abandon_s)
            assert population is not None
            clause, attributed_by = population
            where.append(clause)
        if attributed_by is not None:
            if start is not None:
                where.append(attributed_by >= start)
            if end is not None:
                where.append(attributed_by < end)
        for dimension, values in params.filters.items():
            if values:
                where.append(dimension_clause(dimension, values))
        if params.customer_id is not None:
            where.append(c.customer_id == params.customer_id)
        if params.q:
            where.append(text_clause(params.q))
        scope = self.context.access.interaction_clause()
        if scope is not None:
            where.append(scope)
        return select(interactions, STATE.label("state")).where(and_(true(), *where)), window

    def run(self) -> InteractionPage:
        statement, window = self.statement()
        params = self.params
        chosen = [name for name in STATES if not params.state or name in params.state]
        sort = params.chosen_sort()
        offset, size = (params.page - 1) * params.page_size, params.page_size
        where = statement.whereclause if statement.whereclause is not None else true()
        with self.context.engine.connect() as connection:
            # One pass for the four counts (a GROUP BY on the CASE took three times as long).
            counted = connection.execute(
                select(func.count(), *(func.count(case((STATE_CONDITIONS[name], 1)))
                                       for name in ("abandoned", "resolved", "waiting")))
                .select_from(interactions).where(where)).one()
            everything, abandoned, resolved, waiting = (int(value) for value in counted)
            states = {"waiting": waiting, "open": everything - abandoned - resolved - waiting,
                      "resolved": resolved, "abandoned": abandoned}

            def page(keep: list[str], order: list[Any], skip: int, take: int) -> list[Any]:
                if take <= 0 or not keep:
                    return []
                kept = statement.where(or_(*(STATE_CONDITIONS[name] for name in keep)))
                return list(connection.execute(
                    kept.order_by(*order).limit(take).offset(skip)).all())

            newest = [c.created_at.desc(), c.id]
            if sort == "waiting_last":
                # the others newest first, then the waiting ones: two index-ordered reads
                # instead of sorting every row by a CASE
                others = [name for name in chosen if name != "waiting"]
                before = sum(states[name] for name in others)
                rows = page(others, newest, offset, min(size, before - offset))
                rows += page(["waiting"] if "waiting" in chosen else [], newest,
                             max(0, offset - before), size - len(rows))
            else:
                rows = page(chosen, newest if sort == "newest" else [c.created_at, c.id],
                            offset, size)
        return InteractionPage(kpi=params.kpi, window=window,
                               total=sum(states[name] for name in chosen), page=params.page,
                               page_size=params.page_size, sort=sort, states=states,
                               rows=[_interaction_row(row) for row in rows])


# -- customer ---------------------------------------------------------------------------------

class SurveyRow(BaseModel):
    id: str
    kind: str
    score: float
    submitted_at: str | None
    interaction_id: str | None
    agent_id: str | None
    comment: str | None


class OrderRow(BaseModel):
    id: str
    kind: str
    at: str | None
    amount: float
    currency: str | None
    interaction_id: str | None
    agent_id: str | None


class CustomerOutput(BaseModel):
    id: str
    name: str | None
    email: str | None
    segment: str | None
    acquired_at: str | None
    churned_at: str | None
    interactions: list[InteractionRow]
    surveys: list[SurveyRow]
    orders: list[OrderRow]


class CustomerRunner:
    """One customer with the whole contact history, their survey answers and orders.

    An agent or team lead sees a customer only when they may see one of the customer's
    contacts (their own / their teams'), and then only those contacts; surveys and orders
    follow the same rule through the interaction or agent they name. Any other customer
    answers `CustomerNotFound` (404), exactly as one that does not exist.
    """

    def __init__(self, context: RunContext, customer_id: str) -> None:
        self.context, self.customer_id = context, customer_id

    def run(self) -> CustomerOutput:
        access = self.context.access
        scope = access.interaction_clause()
        with self.context.engine.connect() as connection:
            customer = connection.execute(
                select(customers).where(customers.c.id == self.customer_id)).first()
            history = select(interactions, STATE.label("state")).where(
                c.customer_id == self.customer_id)
            if scope is not None:
                history = history.where(scope)
            rows = connection.execute(history.order_by(c.created_at.desc())).all()
            # Out of scope (no contact the caller may see) reads as absent: the same 404.
            if not rows and (customer is None or not access.sees_everything):
                raise CustomerNotFound(self.customer_id)
            # An answer is the customer's when it names them or the interaction it is about does.
            their_contacts = select(c.id).where(c.customer_id == self.customer_id)
            survey_query = select(surveys).where(or_(
                surveys.c.customer_id == self.customer_id,
                surveys.c.interaction_id.in_(their_contacts)))
            order_query = select(orders).where(orders.c.customer_id == self.customer_id)
            if not access.sees_everything:
                visible = [row.id for row in rows]
                visible_agents = {row.agent_id for row in rows if row.agent_id}
                if access.agent_ids is not None:
                    visible_agents |= set(access.agent_ids)
                survey_query = survey_query.where(or_(
                    surveys.c.interaction_id.in_(visible),
                    surveys.c.agent_id.in_(visible_agents)))
                order_query = order_query.where(or_(
                    orders.c.interaction_id.in_(visible), orders.c.agent_id.in_(visible_agents)))
            survey_rows = connection.execute(
                survey_query.order_by(surveys.c.submitted_at.desc())).all()
            order_rows = connection.execute(order_query.order_by(orders.c.at.desc())).all()
        return CustomerOutput(
            id=self.customer_id,
            name=customer.name if customer else None,
            email=customer.email if customer and access.sees_everything else None,
            segment=customer.segment if customer else None,
            acquired_at=_iso(customer.acquired_at) if customer else None,
            churned_at=_iso(customer.churned_at) if customer else None,
            interactions=[_interaction_row(row) for row in rows],
            surveys=[SurveyRow(id=s.id, kind=s.kind, score=s.score,
                               submitted_at=_iso(s.submitted_at), interaction_id=s.interaction_id,
                               agent_id=s.agent_id, comment=s.comment) for s in survey_rows],
            orders=[OrderRow(id=o.id, kind=o.kind, at=_iso(o.at), amount=o.amount,
                             currency=o.currency, interaction_id=o.interaction_id,
                             agent_id=o.agent_id) for o in order_rows],
        )


# -- wallboard --------------------------------------------------------------------------------

class ChannelQueue(BaseModel):
    channel: str
    waiting: int
    longest_wait_s: float | None


class AgentOutOfAdherence(BaseModel):
    agent_id: str
    name: str | None
    team_id: str | None
    planned: str  # work, break, training or meeting
    state: str | None  # None: no state (logged out)
    since: float  # epoch seconds


class WallboardOutput(BaseModel):
    day: date
    queues: list[ChannelQueue]
    agent_states: dict[str, int]
    on_shift: int = 0  # agents whose shift covers now
    out_of_adherence: list[AgentOutOfAdherence] = Field(default_factory=list)
    cells: list[KpiCell] = Field(default_factory=list)  # empty until the engine answered
    contacts_today: int
    computed_at: float | None = None
    as_of: datetime | None = None  # when its figures were computed (the organisation's zone)
    version: int | None = None


WAITING_HORIZON_S = 7 * 86400  # a contact untouched for longer is a data problem, not a queue


class WallboardRunner:
    """The centre right now: contacts waiting and longest wait per channel, agents by state,
    the agents on shift whose state does not match their plan (out of adherence, since
    when), and today's service level, first response, abandon rate and CSAT (the organisation's
    day)."""

    def __init__(self, context: RunContext, day: date | None = None) -> None:
        self.context, self.day = context, day

    def run(self) -> WallboardOutput:
        return WallboardOutput.model_validate({**self.run_counts(), **self.run_kpis()})

    def _day_bounds(self) -> tuple[date, float, float]:
        day = self.day or self.context.today()
        return (day, self.context.local_midnight(day),
                self.context.local_midnight(day + timedelta(days=1)))

    def run_counts(self) -> dict[str, Any]:
        """Queues, agent states and today's contacts: indexed SQL, fast enough per write."""
        now = time.time()
        day, start, end = self._day_bounds()
        # as tables.OPEN_INTERACTIONS, so the partial index ix_interactions_open answers it
        waiting = and_(func.coalesce(c.answered_at, c.first_response_at, c.abandoned_at,
                                     c.resolved_at).is_(None),
                       c.direction == "inbound",
                       c.created_at >= now - WAITING_HORIZON_S, c.created_at <= now,
                       IS_CONTACT)  # a deleted or spam ticket waits for nobody
        with self.context.engine.connect() as connection:
            queues = connection.execute(
                select(c.channel, func.count(), func.min(c.created_at))
                .where(waiting).group_by(c.channel).order_by(c.channel)).all()
            # Each agent's newest open state (an agent with two open states is in the later).
            s = agent_states.c
            newest = (select(s.agent_id, func.max(s.start).label("start"))
                      .where(s.end.is_(None), s.start <= now).group_by(s.agent_id).subquery())
            states = connection.execute(
                select(s.state, func.count(func.distinct(s.agent_id)))
                .join(newest, and_(newest.c.agent_id == s.agent_id, newest.c.start == s.start))
                .where(s.end.is_(None)).group_by(s.state).order_by(s.state)).all()
            contacts_today = connection.execute(  # as the contacts KPI counts them
                select(func.count()).where(c.created_at >= start, c.created_at < end,
                                           IS_CONTACT)).scalar_one()
            on_shift, out = out_of_adherence(connection, now)
        return {
            "day": day.isoformat(),
            "queues": [ChannelQueue(channel=channel, waiting=count,
                                    longest_wait_s=None if oldest is None
                                    else round(now - float(oldest), 1)  # type: ignore[arg-type]
                                    ).model_dump() for channel, count, oldest in queues],
            "agent_states": {state: count for state, count in states},
            "contacts_today": contacts_today,
            "on_shift": on_shift,
            "out_of_adherence": [item.as_dict() for item in out],
        }

    def run_kpis(self) -> dict[str, Any]:
        """Today's KPI tiles from the exact KPI engine (as `servicepulse kpi --from today`):
        today changes with every write, and the daily rollup, being rebuilt in the
        background, would show a new contact only seconds later. The tiles show no change
        against yesterday, so yesterday is not computed (half the work or more)."""
        day, _, _ = self._day_bounds()
        result = self.context.query(KpiQuery.model_validate({
            "from": day, "to": day + timedelta(days=1), "kpis": list(WALLBOARD_KPIS),
            "compare": False}), exact=True)
        rows = rows_of(result)
        values = rows[0].figures if rows else {}
        return {"cells": [cell(name, values.get(name), self.context.targets).model_dump()
                          for name in WALLBOARD_KPIS]}


# -- simple lists ------------------------------------------------------------------------------

def list_agents(context: RunContext) -> list[dict[str, Any]]:
    query = (select(agents.c.id, agents.c.name, agents.c.role, agents.c.team_id,
                    teams.c.name.label("team_name"), agents.c.active)
             .select_from(agents.outerjoin(teams, teams.c.id == agents.c.team_id))
             .order_by(agents.c.name))
    access = context.access
    if access.agent_ids is not None:
        query = query.where(agents.c.id.in_(access.agent_ids))
    if access.team_ids is not None:
        query = query.where(agents.c.team_id.in_(access.team_ids))
    with context.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def list_teams(context: RunContext) -> list[dict[str, Any]]:
    size = (select(agents.c.team_id, func.count().label("agents"))
            .group_by(agents.c.team_id).subquery())
    query = (select(teams.c.id, teams.c.name, teams.c.lead_id,
                    func.coalesce(size.c.agents, 0).label("agents"))
             .select_from(teams.outerjoin(size, size.c.team_id == teams.c.id))
             .order_by(teams.c.name))
    access = context.access
    if access.agent_ids is not None:
        return []
    if access.team_ids is not None:
        query = query.where(teams.c.id.in_(access.team_ids))
    with context.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def list_customers(context: RunContext, search: str | None, page: int,
                   page_size: int) -> tuple[int, list[dict[str, Any]]]:
    """A page of the customers the caller may see (ordered by id), with their contacts
    (those the caller may see) and the last one.

    The page is chosen on the customers table alone (the scope an EXISTS on the interactions'
    customer index, see `Access.customer_clause`); the contacts are then counted for the
    page's customers only, so the cost follows the page, not the number of interactions."""
    access = context.access
    query = select(customers.c.id, customers.c.name, customers.c.segment)
    visible = access.customer_clause(customers.c.id)
    if visible is not None:
        query = query.where(visible)
    if search:
        # A LIKE pattern from a bound parameter: wildcards in the search are escaped.
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped.lower()}%"
        query = query.where(or_(func.lower(customers.c.id).like(pattern, escape="\\"),
                                func.lower(customers.c.name).like(pattern, escape="\\")))
    with context.engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = connection.execute(query.order_by(customers.c.id)
                                  .limit(page_size).offset((page - 1) * page_size)).all()
        ids = [row.id for row in rows]
        contacts = (select(c.customer_id, func.count().label("contacts"),
                           func.max(c.created_at).label("last_contact"))
                    .where(c.customer_id.in_(ids)).group_by(c.customer_id))
        scope = access.interaction_clause()
        if scope is not None:
            contacts = contacts.where(scope)
        history = {row.customer_id: row for row in connection.execute(contacts)} if ids else {}
    out = []
    for row in rows:
        seen = history.get(row.id)
        out.append({**row._mapping, "contacts": seen.contacts if seen else 0,
                    "last_contact": _iso(seen.last_contact) if seen else None})
    return total, out


def visible_customer_ids(context: RunContext) -> set[str] | None:
    """The ids of the customers the caller may see (None: every customer)."""
    visible = context.access.customer_ids()
    if visible is None:
        return None
    with context.engine.connect() as connection:
        return set(connection.execute(visible).scalars())


def list_quarantine(context: RunContext, page: int, page_size: int
                    ) -> tuple[int, list[dict[str, Any]]]:
    """Page `page` of the quarantine, newest first (the quarantine service's page)."""
    total, rows = quarantine_service.page(context.engine, page, page_size)
    return total, [{**row, "quarantined_at": _iso(row["quarantined_at"])} for row in rows]

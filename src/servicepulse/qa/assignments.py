"""Reviewers' assignments: sampled conversations stored per reviewer, and their queues.

`assign` samples one week (`servicepulse.qa.sampling`) among the conversations an agent
handled that nobody has reviewed (outside calibration) or been assigned yet, and stores one
row per conversation for the reviewer (table `qa_assignments`, migration 0019). An assignment
is open until a review (outside calibration) of its interaction by that reviewer exists,
whether submitted on the review page or imported: the queue asks `qa_reviews`, so there is
no status to keep in step.

Who the reviewer is and which teams they may sample (a team lead's own, a reviewer's
excluded) is decided by the caller (command line or web service); this module only applies
the teams it is given. Weeks are ISO weeks, Monday 00:00 to Monday 00:00 UTC.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    ColumnElement,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    exists,
    false,
    func,
    insert,
    or_,
    select,
)

from servicepulse.errors import InvalidRequest
from servicepulse.qa.sampling import Candidate, sample_week
from servicepulse.store.tables import Id, Time, agents, interactions, metadata, qa_reviews

qa_assignments = Table(
    "qa_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reviewer", String(100), nullable=False),  # the reviewer's username
    Column("interaction_id", Id, nullable=False),
    Column("agent_id", Id, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("week_start", Time, nullable=False),
    Column("form_id", Id),
    Column("seed", Integer, nullable=False),
    Column("assigned_by", String(100)),
    Column("assigned_at", Float, nullable=False),
    UniqueConstraint("reviewer", "interaction_id", name="uq_qa_assignments_reviewer"),
    Index("ix_qa_assignments_interaction", "interaction_id"),
)

MAX_PER_AGENT = 100  # a week's sample; more is a typo, not a review plan


class AssignmentError(InvalidRequest):
    """An assignment request that cannot be honoured; the message says what to change."""


def week_of(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _day(epoch: float) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


class AgentSample(BaseModel):
    agent_id: str
    candidates: int  # conversations of the week not yet reviewed or assigned
    assigned: int


class Assignment(BaseModel):
    id: int
    reviewer: str
    interaction_id: str
    agent_id: str
    agent_name: str | None = None
    channel: str
    created_at: datetime | None = None  # the conversation's start
    subject: str | None = None
    week: date
    form_id: str | None = None
    reviewed: bool = False


class AssignResult(BaseModel):
    reviewer: str
    week: date
    per_agent: int
    seed: int
    agents: list[AgentSample]
    assignments: list[Assignment]


def latest_week(engine: Engine) -> date | None:
    """The last whole week up to the newest conversation (reviews look back at a finished
    week; the week in progress has few conversations yet), None without any."""
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(interactions.c.created_at))).scalar()
    if newest is None:
        return None
    return week_of(_day(float(newest)) + timedelta(days=1)) - timedelta(days=7)


def _team_clause(team_ids: Sequence[str]) -> ColumnElement[bool]:
    team_agents = select(agents.c.id).where(agents.c.team_id.in_(list(team_ids)))
    # coalesce: a conversation naming no team is simply not the team's (NOT of a NULL
    # comparison would leave it out of both sides)
    return or_(func.coalesce(interactions.c.team_id, "").in_(list(team_ids)),
               interactions.c.agent_id.in_(team_agents))


def candidates(engine: Engine, week: date, exclude_teams: Sequence[str] = (),
               within_teams: Sequence[str] | None = None,
               channel: str | None = None) -> list[Candidate]:
    """The week's conversations an agent handled that are neither reviewed (outside
    calibration) nor assigned to anyone; without `exclude_teams`' conversations, and only
    `within_teams`' when given (a conversation is a team's when it names the team or its
    agent is in it, as everywhere in the product)."""
    start = week_of(week)
    query = (select(interactions.c.id, interactions.c.agent_id, interactions.c.channel)
             .where(interactions.c.created_at >= _epoch(start),
                    interactions.c.created_at < _epoch(start + timedelta(days=7)),
                    interactions.c.agent_id.is_not(None),
                    ~exists().where(qa_reviews.c.interaction_id == interactions.c.id,
                                    qa_reviews.c.calibration == false()),
                    ~exists().where(qa_assignments.c.interaction_id == interactions.c.id)))
    if exclude_teams:
        query = query.where(~_team_clause(exclude_teams))
    if within_teams is not None:
        query = query.where(_team_clause(within_teams) if within_teams else false())
    if channel is not None:
        query = query.where(interactions.c.channel == channel)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Candidate(str(row.id), str(row.agent_id), str(row.channel)) for row in rows]


def assign(engine: Engine, reviewer: str, week: date, per_agent: int, seed: int,
           exclude_teams: Sequence[str] = (), within_teams: Sequence[str] | None = None,
           form_id: str | None = None, channel: str | None = None,
           assigned_by: str | None = None, clock: float | None = None) -> AssignResult:
    """Sample `week` for `reviewer` and store the assignments (see the module)."""
    if not 1 <= per_agent <= MAX_PER_AGENT:
        raise AssignmentError(f"per agent: {per_agent} is outside 1 to {MAX_PER_AGENT}")
    start = week_of(week)
    found = candidates(engine, start, exclude_teams, within_teams, channel)
    chosen = sample_week(found, per_agent, seed, start)
    now = time.time() if clock is None else clock
    if chosen:
        with engine.begin() as connection:
            connection.execute(insert(qa_assignments), [
                {"reviewer": reviewer, "interaction_id": c.interaction_id,
                 "agent_id": c.agent_id, "channel": c.channel, "week_start": _epoch(start),
                 "form_id": form_id, "seed": seed, "assigned_by": assigned_by,
                 "assigned_at": now} for c in chosen])
    per_agent_found: dict[str, int] = {}
    for candidate in found:
        per_agent_found[candidate.agent_id] = per_agent_found.get(candidate.agent_id, 0) + 1
    per_agent_chosen: dict[str, int] = {}
    for candidate in chosen:
        per_agent_chosen[candidate.agent_id] = per_agent_chosen.get(candidate.agent_id, 0) + 1
    stored = queue(engine, reviewer, include_done=True,
                   interaction_ids=[c.interaction_id for c in chosen]) if chosen else []
    return AssignResult(
        reviewer=reviewer, week=start, per_agent=per_agent, seed=seed,
        agents=[AgentSample(agent_id=agent, candidates=n, assigned=per_agent_chosen.get(agent, 0))
                for agent, n in sorted(per_agent_found.items())],
        assignments=stored)


def queue(engine: Engine, reviewer: str | None, include_done: bool = False,
          interaction_ids: Sequence[str] | None = None) -> list[Assignment]:
    """`reviewer`'s assignments (everyone's when None), open ones only unless `include_done`;
    oldest week first, then agent and conversation."""
    # a calibration review grades the grader: it does not do the assigned review
    reviewed = exists().where(qa_reviews.c.interaction_id == qa_assignments.c.interaction_id,
                              qa_reviews.c.reviewer_id == qa_assignments.c.reviewer,
                              qa_reviews.c.calibration == false())
    query = (select(qa_assignments, reviewed.label("reviewed"), agents.c.name.label("agent_name"),
                    interactions.c.created_at, interactions.c.subject)
             .join(interactions, interactions.c.id == qa_assignments.c.interaction_id,
                   isouter=True)
             .join(agents, agents.c.id == qa_assignments.c.agent_id, isouter=True)
             .order_by(qa_assignments.c.week_start, qa_assignments.c.agent_id,
                       qa_assignments.c.interaction_id))
    if reviewer is not None:
        query = query.where(qa_assignments.c.reviewer == reviewer)
    if not include_done:
        query = query.where(~reviewed)
    if interaction_ids is not None:
        query = query.where(qa_assignments.c.interaction_id.in_(list(interaction_ids)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Assignment(
        id=row.id, reviewer=row.reviewer, interaction_id=row.interaction_id,
        agent_id=row.agent_id, agent_name=row.agent_name, channel=row.channel,
        created_at=None if row.created_at is None else datetime.fromtimestamp(row.created_at,
                                                                             UTC),
        subject=row.subject, week=_day(row.week_start), form_id=row.form_id,
        reviewed=bool(row.reviewed)) for row in rows]

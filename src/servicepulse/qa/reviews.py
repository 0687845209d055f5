"""QA forms and reviews as the product shows and takes them: listing forms and reviews,
the conversation a reviewer reads, and reviews (and forms) written from the product.

A review or form written here goes through exactly the import's checks and write path
(`parse_record`, then the form and interaction checks of `servicepulse.ingest.qa`, then
`import_rows`), so a review typed on the review page and one imported from a file are the same
record with the same IQS. Its problems come back as (field, reason) pairs to show beside the
inputs, never as a quarantined row: the checks run before anything is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, Engine, Select, case, false, func, select

from servicepulse.errors import InvalidRequest, NotFound
from servicepulse.ingest.importer import import_rows_deferred
from servicepulse.ingest.qa import fitting_reviews
from servicepulse.ingest.rows import record_to_row
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import QaCategory
from servicepulse.records.qa import score_problems
from servicepulse.records.validate import RecordError, parse_record
from servicepulse.store.tables import agents, events, interactions, qa_forms, qa_reviews

SOURCE = "web:qa"  # the quarantine's and the import's name for what the product writes
MAX_REVIEWS = 1000  # a listing's length; narrow it with filters


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(float(epoch), UTC)


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class QaFormOut(BaseModel):
    id: str
    name: str
    categories: list[QaCategory]
    role: str | None = None
    channel: str | None = None


class QaReviewOut(BaseModel):
    id: str
    interaction_id: str
    agent_id: str | None = None
    agent_name: str | None = None  # the agent's name where the store knows the agent
    channel: str | None = None
    reviewer_id: str
    reviewer_name: str | None = None  # where the reviewer is one of the store's agents
    form_id: str
    at: datetime
    scores: dict[str, float]
    iqs: float
    calibration: bool
    comment: str | None = None


class ConversationEvent(BaseModel):
    at: datetime
    kind: str
    actor: str | None = None
    agent_id: str | None = None
    public: bool
    body: str | None = None


class Conversation(BaseModel):
    """What a reviewer reads: the interaction and its events, oldest first."""

    id: str
    channel: str
    direction: str
    created_at: datetime
    agent_id: str | None = None
    agent_name: str | None = None
    team_id: str | None = None
    customer_id: str | None = None
    subject: str | None = None
    category: str | None = None
    status: str | None = None
    handle_s: float | None = None
    events: list[ConversationEvent]


class ReviewProblem(InvalidRequest):
    """A review or form the checks refused: the problems as (field, reason)."""

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" if field else reason
                                   for field, reason in problems))
        self.problems = problems


def list_forms(engine: Engine) -> list[QaFormOut]:
    with engine.connect() as connection:
        rows = connection.execute(select(qa_forms).order_by(qa_forms.c.name, qa_forms.c.id))
        return [QaFormOut(id=row.id, name=row.name, categories=_json(row.categories),
                          role=row.role, channel=row.channel) for row in rows]


def forms_for(forms: Sequence[QaFormOut], channel: str | None,
              role: str | None) -> list[QaFormOut]:
    """The forms in the order a conversation's review page offers them: those made for its
    channel and its agent's role first, then the general ones, then the rest."""
    def fit(form: QaFormOut) -> int:
        miss = int(form.channel not in (None, channel)) + int(form.role not in (None, role))
        specific = int(form.channel is None) + int(form.role is None)
        return 10 * miss + specific

    return sorted(forms, key=lambda form: (fit(form), form.name, form.id))


def conversation(engine: Engine, interaction_id: str,
                 scope: ColumnElement[bool] | None = None) -> tuple[Conversation, str | None]:
    """The conversation and its agent's role; NotFound when it does not exist or lies
    outside `scope` (the same answer, so ids cannot be probed)."""
    query = (select(interactions, agents.c.name.label("agent_name"),
                    agents.c.role.label("agent_role"))
             .join(agents, agents.c.id == interactions.c.agent_id, isouter=True)
             .where(interactions.c.id == interaction_id))
    if scope is not None:
        query = query.where(scope)
    with engine.connect() as connection:
        row = connection.execute(query).first()
        if row is None:
            raise NotFound(f"no interaction {interaction_id!r} among those you may see")
        found = connection.execute(select(events).where(events.c.interaction_id == interaction_id)
                                   .order_by(events.c.at, events.c.id)).all()
    return Conversation(
        id=row.id, channel=row.channel, direction=row.direction,
        created_at=_time(row.created_at), agent_id=row.agent_id, agent_name=row.agent_name,
        team_id=row.team_id, customer_id=row.customer_id, subject=row.subject,
        category=row.category, status=row.status, handle_s=row.handle_s,
        events=[ConversationEvent(at=_time(e.at), kind=e.kind, actor=e.actor,
                                  agent_id=e.agent_id, public=bool(e.public), body=e.body)
                for e in found]), row.agent_role


class ReviewFilters(BaseModel):
    """Which reviews: of the conversations in `scope` (a clause on interactions), and these."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    scope: Any = None  # ColumnElement[bool] | None
    review_id: str | None = None
    interaction_id: str | None = None
    reviewer_id: str | None = None
    agent_id: str | None = None
    form_id: str | None = None
    from_: date | None = None
    to: date | None = None  # exclusive, UTC days, on the review's `at`
    calibration: bool | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        for column, value in ((qa_reviews.c.id, self.review_id),
                              (qa_reviews.c.interaction_id, self.interaction_id),
                              (qa_reviews.c.reviewer_id, self.reviewer_id),
                              (interactions.c.agent_id, self.agent_id),
                              (qa_reviews.c.form_id, self.form_id)):
            if value is not None:
                query = query.where(column == value)
        if self.from_ is not None:
            query = query.where(qa_reviews.c.at >= _epoch(self.from_))
        if self.to is not None:
            query = query.where(qa_reviews.c.at < _epoch(self.to))
        if self.calibration is not None:
            query = query.where(qa_reviews.c.calibration == self.calibration)
        if self.scope is not None:
            query = query.where(self.scope)
        return query


def list_reviews(engine: Engine, scope: ColumnElement[bool] | None = None,
                 limit: int = MAX_REVIEWS, offset: int = 0, **filters: Any) -> list[QaReviewOut]:
    """Reviews, newest first (see ReviewFilters for `scope` and `filters`)."""
    reviewers = agents.alias("reviewers")  # team leads and QA staff are often agents too
    query = ReviewFilters(scope=scope, **filters).apply(
        select(qa_reviews, interactions.c.agent_id, interactions.c.channel,
               agents.c.name.label("agent_name"), reviewers.c.name.label("reviewer_name"))
        .join(interactions, interactions.c.id == qa_reviews.c.interaction_id)
        .join(agents, agents.c.id == interactions.c.agent_id, isouter=True)
        .join(reviewers, reviewers.c.id == qa_reviews.c.reviewer_id, isouter=True)
        .order_by(qa_reviews.c.at.desc(), qa_reviews.c.id).limit(limit).offset(offset))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [QaReviewOut(id=row.id, interaction_id=row.interaction_id, agent_id=row.agent_id,
                        agent_name=row.agent_name, channel=row.channel,
                        reviewer_id=row.reviewer_id, reviewer_name=row.reviewer_name,
                        form_id=row.form_id, at=_time(row.at), scores=_json(row.scores),
                        iqs=row.iqs, calibration=bool(row.calibration), comment=row.comment)
            for row in rows]


def review_totals(engine: Engine, scope: ColumnElement[bool] | None = None,
                  **filters: Any) -> tuple[int, float | None]:
    """How many reviews the filters keep, and their mean IQS outside calibration."""
    counted = qa_reviews.c.calibration == false()
    query = ReviewFilters(scope=scope, **filters).apply(
        select(func.count(), func.avg(case((counted, qa_reviews.c.iqs))))
        .select_from(qa_reviews)
        .join(interactions, interactions.c.id == qa_reviews.c.interaction_id))
    with engine.connect() as connection:
        row = connection.execute(query).one()
    total, mean = row[0], row[1]
    return int(total or 0), None if mean is None else float(mean)


def new_review_id() -> str:
    return f"rv-{secrets.token_hex(6)}"


def _write(engine: Engine, raw: dict[str, Any]) -> None:
    """Import one checked record, as the API's records endpoint does: the derived data (the
    KPI rollup of the review's day) is brought up to date by the background worker, so the
    reviewer does not wait for it (the KPIs read the exact path until then). A problem found
    at the write (the form changed meanwhile) comes back as a ReviewProblem."""
    text = orjson.dumps(raw).decode()
    summary = import_rows_deferred(engine, [SourceRow(SOURCE, None, raw, text)])
    if summary.quarantined:
        error = summary.rejected[0][1] if summary.rejected else None
        raise ReviewProblem([(error.field if error else None,
                              error.reason if error else "the record was refused")])


def check_review(engine: Engine, raw: dict[str, Any]) -> dict[str, Any]:
    """The review's store row (with its IQS) when it passes the import's checks, else
    ReviewProblem with every problem the checks name."""
    try:
        record = parse_record(raw)
    except RecordError as error:
        raise ReviewProblem([(error.field, error.reason)]) from None
    row = record_to_row(record)
    source = SourceRow(SOURCE, None, raw, orjson.dumps(raw).decode())
    with engine.connect() as connection:
        fitting, misfits = fitting_reviews(connection, {row["id"]: row}, {row["id"]: source})
    if misfits:
        problems = [(error.field, error.reason) for _, error in misfits]
        form = next((f for f in list_forms(engine) if f.id == row["form_id"]), None)
        if form is not None and all((field or "").startswith("scores.")
                                    for field, _ in problems):
            # the import names the first score that does not fit; a reviewer gets them all
            problems = [(problem.field, problem.reason)
                        for problem in score_problems(form.id, form.categories, row["scores"])]
        raise ReviewProblem(problems)
    return fitting[row["id"]]


def submit_review(engine: Engine, interaction_id: str, reviewer_id: str, form_id: str,
                  scores: dict[str, float], comment: str | None = None,
                  calibration: bool = False, review_id: str | None = None,
                  at: datetime | None = None) -> QaReviewOut:
    """Store a review written in the product (see the module); ReviewProblem when refused."""
    raw: dict[str, Any] = {
        "type": "qa_review", "id": review_id or new_review_id(),
        "interaction_id": interaction_id, "reviewer_id": reviewer_id, "form_id": form_id,
        "at": (at or datetime.now(UTC)).isoformat(), "scores": scores,
        "calibration": calibration}
    if comment:
        raw["comment"] = comment
    check_review(engine, raw)
    _write(engine, raw)
    return list_reviews(engine, review_id=raw["id"])[0]


def submit_form(engine: Engine, raw: dict[str, Any]) -> QaFormOut:
    """Store a QA form written in the product, through the import's checks."""
    raw = {**raw, "type": "qa_form"}
    try:
        record = parse_record(raw)
    except RecordError as error:
        raise ReviewProblem([(error.field, error.reason)]) from None
    _write(engine, raw)
    return next(form for form in list_forms(engine) if form.id == record.id)

"""Quality reviews in the web service: the API under `/api/v1/qa` and the pages under `/qa`.

Who may do what (roles of `servicepulse.web.users`):
- forms: everyone reads them (agents read the form their reviews were scored on); managers
  and admins create them.
- reviews: reviewers, team leads, managers and admins write them; a team lead only of their
  teams' conversations. Reading follows the conversations: an agent reads the reviews of
  their own conversations (never the calibration ones: those grade the graders), a team
  lead their teams', reviewers, managers and admins all.
- assignments: a reviewer samples for themselves; a team lead for themselves or a reviewer,
  within their teams; managers and admins for anyone. A queue is its reviewer's (managers
  and admins may read anyone's).
- calibration: reviewers, managers and admins over every conversation, a team lead over
  their teams'.

A review written here goes through the import's own checks (`servicepulse.qa.reviews`); a
problem answers 422 naming the field, and the review page shows it beside the input.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, Engine, select
from starlette.concurrency import run_in_threadpool

from servicepulse.errors import InvalidRequest, NotFound
from servicepulse.qa.assignments import (
    MAX_PER_AGENT,
    Assignment,
    AssignResult,
    assign,
    latest_week,
    queue,
)
from servicepulse.qa.calibration import CalibrationReport, calibration_report
from servicepulse.qa.iqs import score_problem
from servicepulse.qa.reviews import (
    QaFormOut,
    QaReviewOut,
    ReviewProblem,
    conversation,
    forms_for,
    list_forms,
    list_reviews,
    review_totals,
    submit_form,
    submit_review,
)
from servicepulse.records.models import QaCategory
from servicepulse.store.tables import interactions
from servicepulse.web.access import Access, Forbidden
from servicepulse.web.deps import CurrentUser, ManagerUser, ServicesDep, require_role
from servicepulse.web.routes.params import FromDate, ToDate
from servicepulse.web.templating import templates
from servicepulse.web.users import User, UserError, UserRole, get_user

router = APIRouter(prefix="/api/v1/qa", tags=["quality reviews"])
pages = APIRouter(prefix="/qa", include_in_schema=False)

ReviewerUser = Annotated[User, Depends(require_role(UserRole.admin, UserRole.manager,
                                                    UserRole.team_lead, UserRole.reviewer))]
Id = Annotated[str, Field(min_length=1, max_length=200)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


def _scope(user: User) -> ColumnElement[bool] | None:
    return Access.of(user).interaction_clause()


def _check_interaction(engine: Engine, user: User, interaction_id: str) -> None:
    """404 when the interaction does not exist, 403 when it is outside the user's scope."""
    with engine.connect() as connection:
        exists = connection.execute(select(interactions.c.id).where(
            interactions.c.id == interaction_id)).first()
        if exists is None:
            raise NotFound(f"no interaction {interaction_id!r}")
        scope = _scope(user)
        if scope is not None and connection.execute(select(interactions.c.id).where(
                interactions.c.id == interaction_id, scope)).first() is None:
            raise Forbidden(f"you may not see interaction {interaction_id}")


# --- forms -----------------------------------------------------------------------------------


class QaFormIn(BaseModel):
    """A QA form (the record `qa_form` without its type)."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=200)]
    categories: Annotated[list[QaCategory], Field(min_length=1, max_length=100)]
    role: Annotated[str, Field(max_length=40)] | None = None
    channel: Annotated[str, Field(max_length=20)] | None = None


def _problem(exc: ReviewProblem) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                         [{"where": field or "", "problem": reason}
                          for field, reason in exc.problems])


@router.get("/forms", response_model=list[QaFormOut])
async def get_forms(services: ServicesDep, _user: CurrentUser) -> list[QaFormOut]:
    """The QA forms: categories with weights, scales and which are critical."""
    return await run_in_threadpool(list_forms, services.engine)


@router.post("/forms", response_model=QaFormOut, status_code=status.HTTP_201_CREATED)
async def create_form(services: ServicesDep, _user: ManagerUser, body: QaFormIn) -> QaFormOut:
    """Add a QA form, or replace the one with its id (the stored reviews are scored again)."""
    try:
        return await run_in_threadpool(submit_form, services.engine,
                                       body.model_dump(mode="json", exclude_none=True))
    except ReviewProblem as exc:
        raise _problem(exc) from None


# --- reviews ---------------------------------------------------------------------------------


class ReviewIn(BaseModel):
    """A review by the caller (its reviewer) of one conversation."""

    model_config = ConfigDict(extra="forbid")
    id: Id | None = None  # default: a new id
    interaction_id: Id
    form_id: Id
    scores: dict[Annotated[str, Field(max_length=60)], float]
    calibration: bool = False
    comment: Annotated[str, Field(max_length=20000)] | None = None


def _reviews(engine: Engine, user: User, **filters: Any) -> list[QaReviewOut]:
    if user.role is UserRole.agent:
        filters["calibration"] = False  # calibration grades the graders, not the agent
    return list_reviews(engine, _scope(user), **filters)


@router.get("/reviews", response_model=list[QaReviewOut])
async def get_reviews(services: ServicesDep, user: CurrentUser,
                      interaction: IdQuery = None, reviewer: IdQuery = None,
                      agent: IdQuery = None, form: IdQuery = None,
                      from_: FromDate = None, to: ToDate = None,
                      calibration: bool | None = None) -> list[QaReviewOut]:
    """Reviews of the conversations you may see, newest first (at most 1000)."""
    if agent is not None:
        access = Access.of(user)
        if access.agent_ids is not None and agent not in access.agent_ids:
            raise Forbidden(f"you may not see agent {agent}")
    return await run_in_threadpool(
        _reviews, services.engine, user, interaction_id=interaction, reviewer_id=reviewer,
        agent_id=agent, form_id=form, from_=from_, to=to, calibration=calibration)


def _create_review(engine: Engine, user: User, body: ReviewIn) -> QaReviewOut:
    _check_interaction(engine, user, body.interaction_id)
    return submit_review(engine, body.interaction_id, user.username, body.form_id,
                         body.scores, body.comment, body.calibration, body.id)


@router.post("/reviews", response_model=QaReviewOut, status_code=status.HTTP_201_CREATED)
async def create_review(services: ServicesDep, user: ReviewerUser,
                        body: ReviewIn) -> QaReviewOut:
    """Review a conversation as yourself: every category of the form, within its scale."""
    try:
        return await run_in_threadpool(_create_review, services.engine, user, body)
    except ReviewProblem as exc:
        raise _problem(exc) from None


# --- assignments -----------------------------------------------------------------------------


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewer: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # default: you
    week: date | None = None  # any day of the week; default the last whole week
    per_agent: Annotated[int, Field(ge=1, le=MAX_PER_AGENT)] = 5
    seed: int = 1
    exclude_own_team: bool = False
    form_id: Id | None = None
    channel: Annotated[str, Field(max_length=20)] | None = None


def _assign(engine: Engine, user: User, body: AssignIn) -> AssignResult:
    name = body.reviewer or user.username
    if name == user.username:
        reviewer = user
    else:
        if user.role not in (UserRole.admin, UserRole.manager, UserRole.team_lead):
            raise Forbidden("you may sample only for yourself")
        try:
            reviewer = get_user(engine, name)
        except UserError as exc:
            raise NotFound(str(exc)) from None
        if user.role is UserRole.team_lead and reviewer.role is not UserRole.reviewer:
            raise Forbidden("a team lead samples for themselves or for a reviewer")
    if not reviewer.reviews:
        raise InvalidRequest(f"{reviewer.username!r} is an agent, and agents do not review")
    within: list[str] | None = None
    for chooser in (user, reviewer):  # a lead's own teams bound what they may sample
        if chooser.role is UserRole.team_lead:
            within = [t for t in chooser.team_ids if within is None or t in within]
    if body.exclude_own_team and not reviewer.team_ids:
        raise InvalidRequest(f"{reviewer.username!r} has no team to leave out")
    if body.exclude_own_team and within is not None and set(within) <= set(reviewer.team_ids):
        raise InvalidRequest("leaving out the reviewer's own team leaves no team to sample")
    week = body.week or latest_week(engine)
    if week is None:
        raise InvalidRequest("the store holds no conversations to sample")
    return assign(engine, reviewer.username, week, body.per_agent, body.seed,
                  exclude_teams=list(reviewer.team_ids) if body.exclude_own_team else [],
                  within_teams=within, form_id=body.form_id, channel=body.channel,
                  assigned_by=user.username)


@router.post("/assignments", response_model=AssignResult, status_code=status.HTTP_201_CREATED)
async def create_assignments(services: ServicesDep, user: ReviewerUser,
                             body: AssignIn) -> AssignResult:
    """Sample a week's conversations for a reviewer: per agent, stratified by channel."""
    return await run_in_threadpool(_assign, services.engine, user, body)  # 422s: InvalidRequest


@router.get("/assignments", response_model=list[Assignment])
async def get_assignments(services: ServicesDep, user: ReviewerUser,
                          reviewer: Annotated[str | None, Query(max_length=100)] = None,
                          include_done: Annotated[bool, Query(alias="all")] = False,
                          ) -> list[Assignment]:
    """A reviewer's queue (yours by default): open assignments, or all with `all=true`."""
    name = reviewer or user.username
    if name != user.username and not user.sees_everything:
        raise Forbidden("you may read only your own queue")
    return await run_in_threadpool(queue, services.engine, name, include_done)


# --- calibration -----------------------------------------------------------------------------


def _form_id(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/calibration", response_model=CalibrationReport)
async def get_calibration(services: ServicesDep, user: ReviewerUser,
                          from_: FromDate = None, to: ToDate = None,
                          form: IdQuery = None) -> CalibrationReport:
    """How alike the reviewers grade the calibration reviews (Krippendorff's alpha)."""
    if from_ is not None and to is not None and to <= from_:
        raise InvalidRequest(f"'to' ({to}) must be after 'from' ({from_}); 'to' is exclusive")
    return await run_in_threadpool(calibration_report, services.engine, from_, to, form,
                                   _scope(user))


# --- pages -----------------------------------------------------------------------------------


def _render(request: Request, user: User, template: str, status_code: int = 200,
            **context: Any) -> Response:
    return templates.TemplateResponse(request, template, {
        "user": user, "page": "qa", "params": dict(request.query_params), **context},
        status_code=status_code)


def _queue_page_data(engine: Engine, user: User) -> dict[str, Any]:
    return {"assignments": queue(engine, user.username, include_done=False),
            "mine": list_reviews(engine, _scope(user), reviewer_id=user.username, limit=20),
            "latest": latest_week(engine), "forms": list_forms(engine)}


@pages.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, services: ServicesDep, user: ReviewerUser) -> Response:
    data = await run_in_threadpool(_queue_page_data, services.engine, user)
    return _render(request, user, "qa_queue.html", **data, error=None, form={})


@pages.post("/queue")
async def queue_sample(request: Request, services: ServicesDep,
                       user: ReviewerUser) -> Response:
    form = await request.form()
    values = {key: str(value)[:40] for key, value in form.items() if isinstance(value, str)}
    try:
        body = AssignIn.model_validate({
            "week": values.get("week") or None, "per_agent": values.get("per_agent") or 5,
            "seed": values.get("seed") or 1,
            "exclude_own_team": values.get("exclude_own_team") == "on",
            "form_id": values.get("form_id") or None})
        result = await run_in_threadpool(_assign, services.engine, user, body)
    except (ValidationError, InvalidRequest) as exc:  # the form's values, or the sample's
        data = await run_in_threadpool(_queue_page_data, services.engine, user)
        return _render(request, user, "qa_queue.html", 422, **data, form=values,
                       error=_plain(exc))
    return RedirectResponse(f"/qa/queue?assigned={len(result.assignments)}",
                            status_code=status.HTTP_303_SEE_OTHER)


def _plain(exc: Exception) -> str:
    """A validation error as one readable line (pydantic's, or our own message)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
                         for e in errors())
    return str(exc)


def _review_page_data(engine: Engine, user: User, interaction_id: str,
                      form_id: str | None) -> dict[str, Any]:
    _check_interaction(engine, user, interaction_id)
    talk, role = conversation(engine, interaction_id)
    forms = forms_for(list_forms(engine), talk.channel, role)
    chosen = next((f for f in forms if f.id == form_id), forms[0] if forms else None)
    reviews = _reviews(engine, user, interaction_id=interaction_id)
    return {"talk": talk, "forms": forms, "chosen": chosen, "reviews": reviews,
            "may_review": user.reviews}


@pages.get("/review/{interaction_id}", response_class=HTMLResponse)
async def review_page(request: Request, services: ServicesDep, user: CurrentUser,
                      interaction_id: str,
                      form: Annotated[str | None, Query(max_length=200)] = None,
                      saved: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    data = await run_in_threadpool(_review_page_data, services.engine, user, interaction_id,
                                   form)
    return _render(request, user, "qa_review.html", **data, errors={}, values={},
                   saved=saved)


@pages.post("/review/{interaction_id}")
async def review_submit(request: Request, services: ServicesDep, user: ReviewerUser,
                        interaction_id: str) -> Response:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    form_id = values.get("form_id", "")
    data = await run_in_threadpool(_review_page_data, services.engine, user, interaction_id,
                                   form_id)
    chosen: QaFormOut | None = data["chosen"]
    errors: dict[str, str] = {}
    scores: dict[str, float] = {}
    form_id = chosen.id if chosen else ""
    for category in chosen.categories if chosen else []:
        text = values.get(f"score_{category.name}", "").strip()
        if not text:
            errors[f"scores.{category.name}"] = "missing: score every category"
            continue
        try:
            scores[category.name] = float(text)
        except ValueError:
            errors[f"scores.{category.name}"] = f"{text[:40]!r} is not a number"
            continue
        # each score against its scale with the import's own check, so that every problem
        # shows at once (the import's check of the whole review names only the first)
        problem = score_problem(form_id, [category], {category.name: scores[category.name]})
        if problem is not None:
            errors[problem.field] = problem.reason
    if chosen is None:
        errors["form_id"] = "no QA form: import one (type qa_form) or add one at " \
                            "POST /api/v1/qa/forms"
    if not errors and chosen is not None:
        try:
            review = await run_in_threadpool(
                submit_review, services.engine, interaction_id, user.username, chosen.id,
                scores, values.get("comment", "").strip()[:20000] or None,
                values.get("calibration") == "on")
        except ReviewProblem as exc:
            errors = {field or "form_id": reason for field, reason in exc.problems}
        else:
            return RedirectResponse(f"/qa/review/{interaction_id}?form={chosen.id}"
                                    f"&saved={review.id}", status_code=status.HTTP_303_SEE_OTHER)
    return _render(request, user, "qa_review.html", 422, **data, errors=errors, values=values,
                   saved=None)


REVIEWS_PAGE = 100


def _reviews_page_data(engine: Engine, user: User, page: int,
                       filters: dict[str, Any]) -> dict[str, Any]:
    if user.role is UserRole.agent:
        filters["calibration"] = False
    scope = _scope(user)
    total, mean = review_totals(engine, scope, **filters)
    found = list_reviews(engine, scope, limit=REVIEWS_PAGE,
                         offset=(page - 1) * REVIEWS_PAGE, **filters)
    return {"reviews": found, "total": total, "mean": mean, "current": page,
            "pages": max(1, -(-total // REVIEWS_PAGE)),
            "forms": {f.id: f for f in list_forms(engine)}}


@pages.get("/reviews", response_class=HTMLResponse)
async def reviews_page(request: Request, services: ServicesDep, user: CurrentUser,
                       from_: FromDate = None, to: ToDate = None,
                       agent: IdQuery = None, reviewer: IdQuery = None,
                       page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    if agent is not None:
        access = Access.of(user)
        if access.agent_ids is not None and agent not in access.agent_ids:
            raise Forbidden(f"you may not see agent {agent}")
    data = await run_in_threadpool(
        _reviews_page_data, services.engine, user, page,
        {"agent_id": agent, "reviewer_id": reviewer, "from_": from_, "to": to})
    return _render(request, user, "qa_reviews.html", **data)


@pages.get("/calibration", response_class=HTMLResponse)
async def calibration_page(request: Request, services: ServicesDep, user: ReviewerUser,
                           from_: FromDate = None, to: ToDate = None,
                           form: IdQuery = None) -> Response:
    report = await get_calibration(services, user, from_, to, _form_id(form))
    forms = await run_in_threadpool(list_forms, services.engine)
    return _render(request, user, "qa_calibration.html", report=report, forms=forms,
                   now=datetime.now(UTC))

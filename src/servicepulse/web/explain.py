"""Why did a KPI change, in the web service: the API and the page behind each tile's "why?".

- GET /api/v1/explain?kpi=K&by=DIM[,DIM...]&from=&to=&against_from=&against_to= (and the
  dimension filters of /api/v1/kpi): `servicepulse explain --format json`, as typed models.
- GET /explain?...: the same as a page, with the sentence a manager reads first.

Scoped like /api/v1/kpi: every query the split runs goes through the caller's scope (an agent
sees their own contacts, a team lead their teams'), so the groups and the change are those of
the data the caller may see. Without `from`/`to` the window of the pages; without the
`against_*` days the comparable previous period of `web.periods.comparable` (the same days
of the window before, those the data covers in both), exactly what the tile compares.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from servicepulse.kpi.change import (
    ExplainError,
    Explanation,
    explain_change,
    explainable_kpis,
    format_effect,
    group_text,
    summary,
)
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.web.access import Access
from servicepulse.web.deps import ContextDep, CurrentUser, ServicesDep
from servicepulse.web.kpi import DIMENSIONS, kpi_info
from servicepulse.web.periods import comparable, coverage_of, days_text, page_window
from servicepulse.web.routes.params import Filters, FromDate, ToDate, split_values
from servicepulse.web.runners import RunContext
from servicepulse.web.services import cache_key
from servicepulse.web.templating import templates
from servicepulse.web.users import User

router = APIRouter()
pages = APIRouter(include_in_schema=False)

# "why?" appears on the tiles of these KPIs (rates and means: their change splits into groups)
templates.env.globals["explainable_kpis"] = frozenset(explainable_kpis())


class ExplainInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)
    kpi: str
    by: list[str] = Field(default_factory=list)  # empty: the default for the caller's scope
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None  # exclusive
    against_from: date | None = None
    against_to: date | None = None  # exclusive
    filters: dict[str, list[str]] = Field(default_factory=dict)


class ContributionOut(BaseModel):
    dimension: str
    group: str | None
    mix: float
    rate: float
    total: float
    share: float  # % of the population in the period explained
    previous_share: float
    value: float | None
    previous_value: float | None
    n: int
    previous_n: int
    p_value: float | None
    significant: bool | None


class ExplanationOut(BaseModel):
    kpi: str
    from_: date = Field(alias="from")
    to: date
    against_from: date
    against_to: date
    by: list[str]
    value: float
    previous: float
    change: float
    n: int
    previous_n: int
    contributions: list[ContributionOut]
    summary: str  # the sentence the page and the digest show

    model_config = ConfigDict(populate_by_name=True)


def default_by(access: Access) -> list[str]:
    """Channel and the level below the caller's scope: team for the whole centre, agent for a
    team lead, channel alone for an agent."""
    if access.agent_ids is not None:
        return ["channel"]
    if access.team_ids is not None:
        return ["channel", "agent"]
    return ["channel", "team"]


def periods(context: RunContext, params: ExplainInput
            ) -> tuple[tuple[date, date], tuple[date, date]]:
    """The period explained and the one it is compared with, as the tiles compare them."""
    if params.against_from is not None and params.against_to is not None \
            and params.from_ is not None and params.to is not None:
        return (params.from_, params.to), (params.against_from, params.against_to)
    window = page_window(context, params.from_, params.to)
    if params.against_from is not None and params.against_to is not None:
        return (window.from_, window.to), (params.against_from, params.against_to)
    span, today = coverage_of(context)
    compared = comparable(window, span, today)
    if compared is None:
        raise ExplainError(f"no comparable previous period for {days_text(window.from_, window.to)}"
                           ": the data does not cover the days before it; give against_from "
                           "and against_to")
    return compared.current, compared.previous


def run_explanation(context: RunContext, params: ExplainInput) -> ExplanationOut:
    now, before = periods(context, params)

    def run(query: KpiQuery) -> KpiResult:
        # the caller's scope is added to every query (RunContext.query)
        return context.query(query, exact=True)

    explanation = explain_change(run, params.kpi, now, before,
                                 params.by or default_by(context.access), params.filters,
                                 minimum_sample=context.settings.minimum_sample)
    return output_of(explanation)


def output_of(explanation: Explanation) -> ExplanationOut:
    document = explanation.as_dict()
    return ExplanationOut.model_validate({**document, "summary": summary(explanation)})


def _input(kpi: str, by: str | None, from_: date | None, to: date | None,
           against_from: date | None, against_to: date | None,
           filters: dict[str, list[str]]) -> ExplainInput:
    groups = split_values([by] if by else None)
    unknown = [g for g in groups if g not in DIMENSIONS]
    if unknown:
        raise HTTPException(422, f"by: {', '.join(unknown)} is not a dimension; use "
                                 f"{', '.join(DIMENSIONS)}")
    for name, day in (("from", from_), ("to", to), ("against_from", against_from),
                      ("against_to", against_to)):
        if day is not None and not 1970 <= day.year <= 9000:
            raise HTTPException(422, f"{name}: {day} is out of range; use a day between 1970 "
                                     "and 9000")
    if (against_from is None) != (against_to is None):
        raise HTTPException(422, "give both against_from and against_to, or neither (the "
                                 "comparable previous period)")
    return ExplainInput(**{"kpi": kpi, "by": groups, "from": from_, "to": to,
                           "against_from": against_from, "against_to": against_to,
                           "filters": filters})


KpiName = Annotated[str, Query(min_length=1, max_length=60,
                               description="a rate or mean KPI (fcr, csat, aht, ...)")]
ByText = Annotated[str | None, Query(max_length=200,
                                     description="comma-separated dimensions; default channel "
                                                 "and the level below the caller's scope")]
Against = Annotated[date | None, Query(description="YYYY-MM-DD; default: the comparable "
                                                   "previous period")]


@router.get("/api/v1/explain", response_model=ExplanationOut, tags=["api"],
            summary="Why a KPI changed: mix and rate effect of each group, as "
                    "`servicepulse explain --format json`")
async def explain_api(services: ServicesDep, context: ContextDep, filters: Filters,
                      kpi: KpiName, by: ByText = None, from_: FromDate = None,
                      to: ToDate = None, against_from: Against = None,
                      against_to: Against = None) -> ExplanationOut:
    params = _input(kpi, by, from_, to, against_from, against_to, filters)
    output: ExplanationOut = await services.run_cached(
        "explain", context, cache_key(params.model_dump(mode="json")),
        lambda: run_explanation(context, params))
    return output


@pages.get("/explain", response_class=HTMLResponse)
async def explain_page(request: Request, services: ServicesDep, user: CurrentUser,
                       context: ContextDep, filters: Filters, kpi: KpiName = "csat",
                       by: ByText = None, from_: FromDate = None, to: ToDate = None,
                       against_from: Against = None, against_to: Against = None) -> Response:
    params = _input(kpi, by, from_, to, against_from, against_to, filters)
    output: ExplanationOut | None = None
    error: str | None = None
    try:
        output = await services.run_cached(
            "explain", context, cache_key(params.model_dump(mode="json")),
            lambda: run_explanation(context, params))
    except ExplainError as problem:
        error = str(problem)
    return _render(request, user, params=params, data=output, error=error,
                   by=params.by or default_by(context.access))


def _render(request: Request, user: User, **context: Any) -> Response:
    data: ExplanationOut | None = context.get("data")
    scale = max((max(abs(c.mix), abs(c.rate), abs(c.total)) for c in data.contributions),
                default=0.0) if data else 0.0
    return templates.TemplateResponse(request, "explain.html", {
        "user": user, "page": "overview", "query": dict(request.query_params.multi_items()),
        "kpis": [(name, kpi_info(name).label) for name in explainable_kpis()],
        "dimensions": DIMENSIONS, "effect": format_effect, "group_text": group_text,
        "days_text": days_text, "info": kpi_info, "scale": scale or 1.0, **context})


router.include_router(pages)

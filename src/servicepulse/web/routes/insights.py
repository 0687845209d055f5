"""Insights in the web service: API routes under `/api/v1/insights` and three pages.

Following the web package's patterns: each view is a runner with a typed input and output,
run through the shared result cache; the KPI questions of sentiment and anomalies go through
the caller's access-scoped KPI function (an agent sees their own texts, a team lead their
team's); contact drivers model every contact of the organisation, so they are for managers.

| route | who |
|---|---|
| GET /api/v1/insights/drivers, /insights/drivers | admin, manager |
| GET /api/v1/insights/sentiment, /insights/sentiment | everyone (own scope) |
| GET /api/v1/insights/anomalies, /insights/anomalies | everyone (own scope) |
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from servicepulse.errors import InvalidRequest
from servicepulse.insights.anomalies import (
    ANOMALY_KPIS,
    Anomaly,
    AnomalySettings,
    find_kpi_anomalies,
)
from servicepulse.insights.drivers import DriversQuery, DriversResult, DriversRunner
from servicepulse.insights.sentiment import coverage
from servicepulse.insights.topics import DEFAULT_METHOD, METHOD_NAMES
from servicepulse.kpi.query import kpi_query
from servicepulse.kpi.results import KpiFigure, KpiResult
from servicepulse.kpi.window import Window
from servicepulse.web.deps import ContextDep, CurrentUser, ManagerUser, ServicesDep
from servicepulse.web.kpi import DIMENSIONS
from servicepulse.web.periods import page_window
from servicepulse.web.routes.params import Filters, FromDate, ToDate, split_values
from servicepulse.web.runners.base import RunContext, ViewOutput
from servicepulse.web.services import cache_key
from servicepulse.web.templating import templates
from servicepulse.web.users import User

router = APIRouter()
pages = APIRouter(include_in_schema=False)

SENTIMENT_EXTRAS = ("positive", "neutral", "negative", "unscored")  # the figure's own fields


# --- runners ------------------------------------------------------------------------------


class SentimentInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    by: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)


class SentimentRow(BaseModel):
    group: dict[str, str | None]
    value: float | None = None  # mean VADER compound score, -1..1; None when n = 0
    n: int
    ci: list[float] | None = None
    low_sample: bool = False
    positive: float | None = None  # % of n
    neutral: float | None = None
    negative: float | None = None
    unscored: int = 0


class CoverageItem(BaseModel):
    source: str
    language: str | None
    label: str
    texts: int


class SentimentOutput(ViewOutput):
    window: Window
    by: list[str]
    rows: list[SentimentRow]
    coverage: list[CoverageItem] | None  # None for a scoped caller (it counts every text)


class SentimentRunner:
    def __init__(self, context: RunContext, params: SentimentInput):
        self.context, self.params = context, params

    def run(self) -> SentimentOutput:
        window = page_window(self.context, self.params.from_, self.params.to)
        result = self.context.query(kpi_query({
            "by": self.params.by, "from": window.from_, "to": window.to,
            "kpis": ["sentiment"], "filters": self.params.filters}))
        rows = []
        for row in result.rows:
            figure = row.figure("sentiment") or KpiFigure(None, 0)
            fields = {"value": figure.value,
                      "ci": list(figure.interval) if figure.interval is not None else None,
                      "low_sample": figure.low_sample,
                      **{name: figure.extra(name) for name in SENTIMENT_EXTRAS}}
            rows.append(SentimentRow(
                group={key: (None if value is None else str(value))
                       for key, value in row.group.items()},
                **{name: value for name, value in fields.items() if value is not None},
                n=int(figure.n or 0)))
        items: list[CoverageItem] | None = None
        access = self.context.access
        if access.agent_ids is None and access.team_ids is None:
            with self.context.engine.connect() as connection:
                items = [CoverageItem(source=item.source_kind, language=item.language,
                                      label=item.label, texts=item.texts)
                         for item in coverage(connection,
                                              self.context.local_midnight(window.from_),
                                              self.context.local_midnight(window.to))]
        return SentimentOutput(window=window, by=self.params.by, rows=rows, coverage=items)


class AnomaliesInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    kpis: list[str] = Field(default_factory=lambda: list(ANOMALY_KPIS))
    by: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    threshold: float = Field(default=3.5, gt=0, le=100)
    weeks: int = Field(default=8, ge=1, le=52)


class AnomaliesOutput(ViewOutput):
    window: Window
    kpis: list[str]
    by: list[str]
    threshold: float
    weeks: int
    anomalies: list[Anomaly]


class AnomaliesRunner:
    def __init__(self, context: RunContext, params: AnomaliesInput):
        self.context, self.params = context, params

    def run(self) -> AnomaliesOutput:
        params = self.params
        window = page_window(self.context, params.from_, params.to)

        def run_query(data: dict[str, Any]) -> KpiResult:
            return self.context.query(kpi_query(data))

        found = find_kpi_anomalies(
            self.context.engine, params.kpis, window.from_, window.to, by=params.by,
            filters=params.filters, run=run_query, settings=self.context.settings,
            anomaly_settings=AnomalySettings(threshold=params.threshold, weeks=params.weeks))
        return AnomaliesOutput(window=window, kpis=params.kpis, by=params.by,
                               threshold=params.threshold, weeks=params.weeks, anomalies=found)


def _drivers_query(context: RunContext, from_: date | None, to: date | None,
                   topics: int | None, method: str = DEFAULT_METHOD) -> DriversQuery:
    if method == "embeddings":
        from servicepulse.insights.embeddings import EmbeddingModelMissing, check_installed

        try:
            check_installed()
        except EmbeddingModelMissing as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                f"method=embeddings: {error}") from error
    window = page_window(context, from_, to)
    return DriversQuery.model_validate({"from": window.from_, "to": window.to,
                                        "topics": topics, "method": method})


# --- API ----------------------------------------------------------------------------------

By = Annotated[list[str] | None, Query(max_length=200, description="group by DIM[,DIM...]")]
Topics = Annotated[int | None, Query(ge=1, le=50, description="number of topics (default: "
                                                              "as many as the reasons)")]
Method = Annotated[Literal["words", "embeddings"], Query(
    description="topics by words (lemmatised words and phrases, default) or embeddings "
                "(sentence embeddings)")]


def _dimensions(values: list[str] | None) -> list[str]:
    names = split_values(values)
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise InvalidRequest(f"cannot group by {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    return names


def _kpi_names(values: list[str] | None) -> list[str]:
    from servicepulse.kpi.definitions import KPIS

    names = split_values(values) or list(ANOMALY_KPIS)
    unknown = [name for name in names if name not in KPIS]
    if unknown:
        raise InvalidRequest(f"unknown KPI {', '.join(unknown)}: known are {', '.join(KPIS)}")
    return names


@router.get("/api/v1/insights/drivers", response_model=DriversResult)
async def get_drivers(services: ServicesDep, context: ContextDep, _user: ManagerUser,
                      from_: FromDate = None, to: ToDate = None, topics: Topics = None,
                      method: Method = DEFAULT_METHOD) -> Any:
    query = _drivers_query(context, from_, to, topics, method)
    runner = DriversRunner(context.engine, context.settings)
    return await services.run_cached("insights-drivers", context,
                                     cache_key(query.model_dump(mode="json")),
                                     lambda: runner.run(query))


@router.get("/api/v1/insights/sentiment", response_model=SentimentOutput)
async def get_sentiment(services: ServicesDep, context: ContextDep, filters: Filters,
                        from_: FromDate = None, to: ToDate = None, by: By = None) -> Any:
    params = SentimentInput.model_validate({"from": from_, "to": to, "by": _dimensions(by),
                                            "filters": filters})
    return await services.run_cached("insights-sentiment", context,
                                     cache_key(params.model_dump(mode="json")),
                                     SentimentRunner(context, params).run)


@router.get("/api/v1/insights/anomalies", response_model=AnomaliesOutput)
async def get_anomalies(
    services: ServicesDep, context: ContextDep, filters: Filters,
    from_: FromDate = None, to: ToDate = None, by: By = None,
    kpi: Annotated[list[str] | None, Query(max_length=500, description="KPI names")] = None,
    threshold: Annotated[float, Query(gt=0, le=100)] = 3.5,
    weeks: Annotated[int, Query(ge=1, le=52)] = 8,
) -> Any:
    params = AnomaliesInput.model_validate({
        "from": from_, "to": to, "kpis": _kpi_names(kpi), "by": _dimensions(by),
        "filters": filters, "threshold": threshold, "weeks": weeks})
    return await services.run_cached("insights-anomalies", context,
                                     cache_key(params.model_dump(mode="json")),
                                     AnomaliesRunner(context, params).run)


# --- pages --------------------------------------------------------------------------------


def _render(request: Request, user: User, template: str, page: str, **context: Any) -> Response:
    params = dict(request.query_params.multi_items())
    return templates.TemplateResponse(request, template, {
        "user": user, "page": page, "params": params, **context})


@pages.get("/insights/drivers", response_class=HTMLResponse)
async def drivers_page(request: Request, services: ServicesDep, context: ContextDep,
                       user: ManagerUser, from_: FromDate = None, to: ToDate = None,
                       topics: Topics = None, method: Method = DEFAULT_METHOD) -> Response:
    data: DriversResult = await get_drivers(services, context, user, from_, to, topics, method)
    window = Window(**{"from": data.from_ or date.today(),
                       "to": data.to or date.today() + timedelta(days=1)})
    return _render(request, user, "insights_drivers.html", "insights", data=data,
                   window=window, method=method, method_names=METHOD_NAMES)


@pages.get("/insights/sentiment", response_class=HTMLResponse)
async def sentiment_page(request: Request, services: ServicesDep, context: ContextDep,
                         user: CurrentUser, filters: Filters, from_: FromDate = None,
                         to: ToDate = None, by: By = None) -> Response:
    data: SentimentOutput = await get_sentiment(services, context, filters, from_, to,
                                                by or ["channel"])
    return _render(request, user, "insights_sentiment.html", "insights", data=data,
                   window=data.window)


@pages.get("/insights/anomalies", response_class=HTMLResponse)
async def anomalies_page(request: Request, services: ServicesDep, context: ContextDep,
                         user: CurrentUser, filters: Filters, from_: FromDate = None,
                         to: ToDate = None, by: By = None,
                         kpi: Annotated[list[str] | None, Query(max_length=500)] = None
                         ) -> Response:
    data: AnomaliesOutput = await get_anomalies(services, context, filters, from_, to, by, kpi)
    return _render(request, user, "insights_anomalies.html", "insights", data=data,
                   window=data.window)


router.include_router(pages)

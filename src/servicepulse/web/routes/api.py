"""The JSON API, `/api/v1`: records in, KPIs and lists out, live wallboard events.

Every list answers `format=csv` with the same rows as a download.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from servicepulse.ingest.sources import SourceRow
from servicepulse.kpi.results import KpiResult
from servicepulse.records.validate import RecordError
from servicepulse.web.cache import with_as_of
from servicepulse.web.csv_export import (
    all_columns,
    cells_row,
    csv_response,
    kpi_result_rows,
    table_rows,
)
from servicepulse.web.deps import (
    AdminUser,
    ContextDep,
    LeadUser,
    ManagerUser,
    ServicesDep,
)
from servicepulse.web.kpi import DIMENSIONS
from servicepulse.web.routes.params import (
    Filters,
    Format,
    FromDate,
    InteractionSort,
    InteractionState,
    InteractionText,
    KpiQueryParams,
    Page,
    PageSize,
    ToDate,
    split_values,
)
from servicepulse.web.runners import (
    AgentInput,
    AgentOutput,
    AgentRunner,
    ChannelRunner,
    CustomerOutput,
    CustomerRunner,
    DrillDownRunner,
    InteractionPage,
    InteractionQuery,
    OverviewOutput,
    OverviewRunner,
    TableOutput,
    TeamInput,
    TeamOutput,
    TeamRunner,
    TrendInput,
    TrendOutput,
    TrendRunner,
    WallboardOutput,
    WindowInput,
)
from servicepulse.web.runners.records import (
    CSV_MAX_ROWS,
    InteractionRow,
    list_agents,
    list_customers,
    list_quarantine,
    list_teams,
)
from servicepulse.web.services import cache_key
from servicepulse.web.users import UserError, UserRole, create_user, list_users

if TYPE_CHECKING:
    from servicepulse.ingest.importer import ImportSummary

router = APIRouter(prefix="/api/v1", tags=["api"])
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}}


# -- records in -----------------------------------------------------------------------------

class RecordResult(BaseModel):
    index: int  # 0-based position of the record in the body
    status: Literal["accepted", "rejected"]
    field: str | None = None
    reason: str | None = None


class RecordsResponse(BaseModel):
    received: int
    accepted: int
    rejected: int
    inserted: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    results: list[RecordResult]


_RECORDS_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}},
                             "example": [{"type": "interaction", "id": "i-1",
                                          "channel": "chat",
                                          "created_at": "2026-11-23T09:00:00Z"}]},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


def _source_rows(body: bytes, content_type: str) -> list[SourceRow]:
    """The body as SourceRows: a JSON array, or NDJSON (one object a line)."""
    body = body.removeprefix(b"\xef\xbb\xbf")  # a BOM is accepted, as in files
    if "ndjson" not in content_type and "jsonl" not in content_type and body.lstrip()[:1] == b"[":
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST,
                                f"the body is not valid JSON: {exc}; send a JSON array of "
                                "records or NDJSON (one record a line)") from None
        if not isinstance(items, list):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "expected a JSON array of records")
        rows = []
        for index, item in enumerate(items):
            raw = orjson.dumps(item).decode()
            if isinstance(item, dict):
                rows.append(SourceRow("api", index, item, raw))
            else:
                rows.append(SourceRow("api", index, None, raw, RecordError(
                    None, f"expected a JSON object, got {type(item).__name__}")))
        return rows
    rows = []
    # split as bytes: on \n and \r only (a JSON string may hold U+2028, which str.splitlines
    # would cut at), and each line decoded on its own, so one bad byte rejects one record
    for raw_line in body.splitlines():
        if not raw_line.strip():
            continue
        index = len(rows)
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.append(SourceRow("api", index, None, raw_line.decode("utf-8", "replace"),
                                  RecordError(None, f"not valid UTF-8: byte "
                                              f"0x{raw_line[exc.start]:02x} at column "
                                              f"{exc.start + 1}; send UTF-8 text")))
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rows.append(SourceRow("api", index, None, line, RecordError(
                None, f"not valid JSON: {exc}")))
            continue
        if isinstance(item, dict):
            rows.append(SourceRow("api", index, item, line))
        else:
            rows.append(SourceRow("api", index, None, line, RecordError(
                None, f"expected a JSON object, got {type(item).__name__}")))
    return rows


@router.post("/records", openapi_extra={"requestBody": _RECORDS_BODY},
             response_model=RecordsResponse,
             summary="Import canonical records (JSON array or NDJSON)")
async def post_records(request: Request, services: ServicesDep,
                       _user: ManagerUser) -> Response:
    """Idempotent like `servicepulse import`: a record seen before with the same content changes
    nothing; rejected records are quarantined (source "api", line = index) and reported."""
    from servicepulse.ingest.importer import import_rows_deferred

    body = await request.body()
    rows = _source_rows(body, request.headers.get("content-type", ""))
    # rollups and text scores follow in the background (servicepulse.ingest.background)
    summary = await run_in_threadpool(import_rows_deferred, services.engine, rows)
    if summary.inserted or summary.updated:
        services.hub.changed()
    return Response(records_response_json(rows, summary), media_type="application/json")


def records_response_json(rows: list[SourceRow], summary: ImportSummary) -> bytes:
    """The RecordsResponse document as JSON, written directly: building and serialising a
    model per record cost more than importing it (the same text pydantic writes)."""
    rejected = {index: error for index, error in summary.rejected if index is not None}
    results = [{"index": row.line or 0, "status": "accepted", "field": None, "reason": None}
               if row.line not in rejected
               else {"index": row.line, "status": "rejected", "field": rejected[row.line].field,
                     "reason": rejected[row.line].reason}
               for row in rows if row.line is not None]
    document = summary.as_json()
    return orjson.dumps({"received": len(rows), "accepted": len(rows) - len(rejected),
                         "rejected": len(rejected), "inserted": document["inserted"],
                         "updated": document["updated"], "unchanged": document["unchanged"],
                         "results": results})


# -- KPIs -------------------------------------------------------------------------------------

class KpiDocument(BaseModel):
    """`servicepulse kpi --format json`: rows of {group, kpis: {name: {value, n, ci, ...}}}."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    from_: Any = Field(default=None, alias="from")
    to: Any = None
    by: list[str] = Field(default_factory=list)
    period: str | None = None
    rows: list[dict[str, Any]] = Field(default_factory=list)
    as_of: str | None = Field(default=None, description="when the figures were computed "
                              "(ISO 8601, the organisation's time zone)")


@router.get("/kpi", responses={200: {"model": KpiDocument}},
            summary="KPIs grouped and filtered, as `servicepulse kpi --format json`")
async def get_kpi(services: ServicesDep, context: ContextDep, query: KpiQueryParams,
                  format: Format = "json") -> Response:
    # cached with its JSON text, so a cached answer costs no serialising
    document, body = await services.run_cached(
        "kpi", context, cache_key(query.model_dump(by_alias=True)),
        lambda: json_document(context.query(query, exact=True)))
    if format == "csv":
        rows = kpi_result_rows(KpiResult.from_json(document))
        return csv_response(rows, "kpi.csv", all_columns(rows))
    return Response(with_as_of(body, services.kpi_settings.timezone),
                    media_type="application/json")


def json_document(result: KpiResult) -> tuple[dict[str, Any], bytes]:
    """The result's document as plain JSON types, and its JSON text (NaN and infinity as
    null)."""
    plain = jsonable_encoder(result.to_json())
    return plain, orjson.dumps(plain, option=orjson.OPT_NON_STR_KEYS)


# -- dashboard views as JSON -----------------------------------------------------------------

@router.get("/overview", response_model=OverviewOutput, responses=CSV_RESPONSE)
async def get_overview(services: ServicesDep, context: ContextDep, filters: Filters,
                       from_: FromDate = None, to: ToDate = None,
                       format: Format = "json") -> Any:
    params = WindowInput(**{"from": from_, "to": to, "filters": filters})
    output: OverviewOutput = await services.run_cached(
        "overview", context, cache_key(params.model_dump()), OverviewRunner(context, params).run)
    if format == "csv":
        return csv_response([cells_row({"kpi": t.cell.name, "label": t.cell.label,
                                        "target": t.cell.target, "status": t.cell.status,
                                        "previous": t.previous.value, "change": t.change},
                                       [t.cell]) for t in output.tiles], "overview.csv")
    return output


@router.get("/channels", response_model=TableOutput, responses=CSV_RESPONSE)
async def get_channels(services: ServicesDep, context: ContextDep, filters: Filters,
                       from_: FromDate = None, to: ToDate = None,
                       format: Format = "json") -> Any:
    params = WindowInput(**{"from": from_, "to": to, "filters": filters})
    output: TableOutput = await services.run_cached(
        "channels", context, cache_key(params.model_dump()), ChannelRunner(context, params).run)
    if format == "csv":
        return csv_response(table_rows(output, "channel"), "channels.csv")
    return output


@router.get("/trends", response_model=TrendOutput, responses=CSV_RESPONSE)
async def get_trends(services: ServicesDep, context: ContextDep, filters: Filters,
                     kpi: Annotated[str, Query(max_length=50)] = "csat",
                     period: Literal["day", "week", "month", "quarter"] = "week",
                     by: Annotated[Literal[DIMENSIONS] | None, Query()] = None,  # type: ignore[valid-type]
                     from_: FromDate = None, to: ToDate = None,
                     format: Format = "json") -> Any:
    params = TrendInput(**{"from": from_, "to": to, "filters": filters, "kpi": kpi,
                           "period": period, "by": by})
    output: TrendOutput = await services.run_cached(
        "trends", context, cache_key(params.model_dump()), TrendRunner(context, params).run)
    if format == "csv":
        rows = [{"period": label, **{s.name: s.values[i] for s in output.series}}
                for i, label in enumerate(output.labels)]
        return csv_response(rows, f"trend-{output.kpi}.csv",
                            ["period", *[s.name for s in output.series]])
    return output


@router.get("/wallboard")
async def get_wallboard(services: ServicesDep, _user: ManagerUser) -> WallboardOutput:
    return WallboardOutput.model_validate(await services.hub.current_state(fresh_tiles=True))


@router.get("/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: wallboard` messages, data = wallboard"}})
async def live(request: Request, services: ServicesDep, _user: ManagerUser) -> StreamingResponse:
    """Server-sent events: the wallboard state now and after every change."""
    return StreamingResponse(services.hub.stream(request.is_disconnected),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- agents, teams, customers, interactions, quarantine -------------------------------------

class AgentSummary(BaseModel):
    id: str
    name: str
    role: str
    team_id: str | None
    team_name: str | None
    active: bool


@router.get("/agents", response_model=list[AgentSummary], responses=CSV_RESPONSE)
async def get_agents(context: ContextDep, format: Format = "json"
                     ) -> Any:
    rows = await run_in_threadpool(list_agents, context)
    if format == "csv":
        return csv_response(rows, "agents.csv", list(AgentSummary.model_fields))
    return [AgentSummary.model_validate(row) for row in rows]


@router.get("/agents/{agent_id}", response_model=AgentOutput, responses=CSV_RESPONSE)
async def get_agent(agent_id: str, services: ServicesDep, context: ContextDep,
                    from_: FromDate = None, to: ToDate = None,
                    format: Format = "json") -> Any:
    params = AgentInput(**{"from": from_, "to": to, "agent_id": agent_id})
    output: AgentOutput = await services.run_cached(
        "agent", context, cache_key(params.model_dump()), AgentRunner(context, params).run)
    if format == "csv":
        return csv_response([cells_row({"agent_id": output.agent_id, "name": output.name},
                                       output.cells),
                             cells_row({"agent_id": "(team)", "name": output.team_name},
                                       output.team_cells)], f"agent-{agent_id}.csv")
    return output


class TeamSummary(BaseModel):
    id: str
    name: str
    lead_id: str | None
    agents: int


@router.get("/teams", response_model=list[TeamSummary], responses=CSV_RESPONSE)
async def get_teams(context: ContextDep, _user: LeadUser, format: Format = "json"
                    ) -> Any:
    rows = await run_in_threadpool(list_teams, context)
    if format == "csv":
        return csv_response(rows, "teams.csv", list(TeamSummary.model_fields))
    return [TeamSummary.model_validate(row) for row in rows]


@router.get("/teams/{team_id}", response_model=TeamOutput, responses=CSV_RESPONSE)
async def get_team(team_id: str, services: ServicesDep, context: ContextDep, _user: LeadUser,
                   from_: FromDate = None, to: ToDate = None,
                   format: Format = "json") -> Any:
    params = TeamInput(**{"from": from_, "to": to, "team_id": team_id})
    output: TeamOutput = await services.run_cached(
        "team", context, cache_key(params.model_dump()), TeamRunner(context, params).run)
    if format == "csv":
        return csv_response(table_rows(output, "agent_id"), f"team-{team_id}.csv")
    return output


class CustomerSummary(BaseModel):
    id: str
    name: str | None
    segment: str | None
    contacts: int
    last_contact: str | None


class CustomerList(BaseModel):
    total: int
    page: int
    page_size: int
    rows: list[CustomerSummary]


@router.get("/customers", response_model=CustomerList, responses=CSV_RESPONSE)
async def get_customers(context: ContextDep,
                        q: Annotated[str | None, Query(max_length=200,
                                                       description="id or name contains")] = None,
                        page: Page = 1, page_size: PageSize = 50,
                        format: Format = "json") -> Any:
    total, rows = await run_in_threadpool(list_customers, context, q, page, page_size)
    if format == "csv":
        return csv_response(rows, "customers.csv", list(CustomerSummary.model_fields))
    return CustomerList(total=total, page=page, page_size=page_size,
                        rows=[CustomerSummary.model_validate(row) for row in rows])


@router.get("/customers/{customer_id}", response_model=CustomerOutput, responses=CSV_RESPONSE)
async def get_customer(customer_id: str, context: ContextDep,
                       table: Literal["interactions", "surveys", "orders"] = "interactions",
                       format: Format = "json") -> Any:
    output = await run_in_threadpool(CustomerRunner(context, customer_id).run)
    if format == "csv":
        rows = [row.model_dump() for row in getattr(output, table)]
        return csv_response(rows, f"customer-{customer_id}-{table}.csv",
                            all_columns(rows) or None)
    return output


@router.get("/interactions", summary="Interactions: filter, page, or drill down from a KPI",
            response_model=InteractionPage, responses=CSV_RESPONSE)
async def get_interactions(context: ContextDep, filters: Filters,
                           kpi: Annotated[str | None, Query(
                               max_length=50,
                               description="only the interactions this KPI counts")] = None,
                           customer: Annotated[str | None, Query(max_length=200)] = None,
                           from_: FromDate = None, to: ToDate = None, page: Page = 1,
                           page_size: PageSize = 50,
                           format: Format = "json", state: InteractionState = None,
                           q: InteractionText = None, sort: InteractionSort = None) -> Any:
    params = InteractionQuery(**{"kpi": kpi, "from": from_, "to": to, "filters": filters,
                                 "customer_id": customer, "state": split_values(state),
                                 "q": q or None, "sort": sort or None, "page": page,
                                 "page_size": CSV_MAX_ROWS if format == "csv" else page_size})
    output = await run_in_threadpool(DrillDownRunner(context, params).run)
    if format == "csv":
        rows = [row.model_dump() for row in output.rows]
        return csv_response(rows, f"interactions{'-' + kpi if kpi else ''}.csv",
                            list(InteractionRow.model_fields))
    return output


class QuarantineRow(BaseModel):
    id: int
    source: str
    line: int | None
    kind: str | None
    record_id: str | None
    field: str | None
    reason: str
    raw: str
    quarantined_at: str | None


class QuarantineList(BaseModel):
    total: int
    page: int
    page_size: int
    rows: list[QuarantineRow]


@router.get("/quarantine", response_model=QuarantineList, responses=CSV_RESPONSE)
async def get_quarantine(context: ContextDep, _user: ManagerUser, page: Page = 1,
                         page_size: PageSize = 50,
                         format: Format = "json") -> Any:
    total, rows = await run_in_threadpool(list_quarantine, context, page, page_size)
    if format == "csv":
        return csv_response(rows, "quarantine.csv", list(QuarantineRow.model_fields))
    return QuarantineList(total=total, page=page, page_size=page_size,
                          rows=[QuarantineRow.model_validate(row) for row in rows])


# -- users (admin) --------------------------------------------------------------------------

class UserOut(BaseModel):
    id: int
    username: str
    role: UserRole
    agent_id: str | None
    team_ids: list[str]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=1000)
    role: UserRole
    agent_id: str | None = Field(default=None, max_length=200)
    team_ids: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                  max_length=100)


@router.get("/users")
async def get_users(services: ServicesDep, _user: AdminUser) -> list[UserOut]:
    found = await run_in_threadpool(list_users, services.engine)
    return [UserOut(id=u.id, username=u.username, role=u.role, agent_id=u.agent_id,
                    team_ids=list(u.team_ids)) for u in found]


@router.post("/users", status_code=201)
async def post_user(body: UserIn, services: ServicesDep, _user: AdminUser) -> UserOut:
    try:
        user = await run_in_threadpool(create_user, services.engine, body.username,
                                       body.password, body.role.value, body.agent_id,
                                       body.team_ids)
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return UserOut(id=user.id, username=user.username, role=user.role, agent_id=user.agent_id,
                   team_ids=list(user.team_ids))


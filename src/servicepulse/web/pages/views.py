"""The pages: each route runs one runner (through the shared cache) and renders a template.

Every table links to its CSV download (the API route with `format=csv`), and every KPI number
links to the drill-down listing the interactions behind it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from servicepulse.records.models import Channel
from servicepulse.web.deps import AdminUser, ContextDep, CurrentUser, LeadUser, ManagerUser
from servicepulse.web.kpi import DIMENSIONS, WALLBOARD_KPIS, kpi_info
from servicepulse.web.routes.api import (
    get_channels,
    get_overview,
    get_team,
    get_trends,
)
from servicepulse.web.routes.params import (
    Filters,
    FromDate,
    InteractionSort,
    InteractionState,
    InteractionText,
    Page,
    ToDate,
    split_values,
)
from servicepulse.web.runners import (
    AgentInput,
    AgentRunner,
    CustomerRunner,
    DrillDownRunner,
    InteractionQuery,
)
from servicepulse.web.runners.records import (
    DRILLDOWN_KPIS,
    STATES,
    list_agents,
    list_customers,
    list_quarantine,
    list_teams,
)
from servicepulse.web.services import Services, cache_key
from servicepulse.web.templating import templates
from servicepulse.web.users import (
    ROLES_BY_PRIVILEGE,
    User,
    UserError,
    create_user,
    list_users,
)

router = APIRouter(include_in_schema=False)
SORT_LABELS = {"waiting_last": "newest first, waiting last", "newest": "newest first",
               "oldest": "oldest first"}  # the keys are records.SORTS
TREND_KPIS = ("csat", "nps", "fcr", "frt_within_target", "frt", "aht", "asa", "service_level",
              "abandon_rate", "resolution_rate", "ttr", "contacts", "occupancy")


def _render(request: Request, user: User, template: str, page: str,
            **context: Any) -> Response:
    params = {k: v for k, v in request.query_params.multi_items()}
    return templates.TemplateResponse(request, template, {
        "user": user, "page": page, "params": params, "kpi_info": kpi_info,
        "drillable": DRILLDOWN_KPIS, **context})


def _render_view(request: Request, user: User, template: str, page: str, output: Any,
                 **context: Any) -> Response:
    """`_render` of a view whose `output` comes from the result cache. The same output for
    the same user (CSRF token included) and URL is the same page, so its HTML is rendered
    once and reused until the cache hands out a new output (see `PageCache`)."""
    pages = _services(request).pages
    key = (template, page, id(output), user, request.url.path, request.url.query)
    body = pages.get(key, output)
    if body is not None:
        return HTMLResponse(body)
    response = _render(request, user, template, page, data=output, **context)
    pages.put(key, output, bytes(response.body))
    return response


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _window_params(from_: Any, to: Any, filters: dict[str, list[str]]) -> dict[str, Any]:
    """Query parameters for links that keep the page's window and filters."""
    out: dict[str, Any] = {"from": from_, "to": to}
    for dimension, values in filters.items():
        out[dimension] = ",".join(values)
    return out


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, user: CurrentUser, context: ContextDep, filters: Filters,
                   from_: FromDate = None, to: ToDate = None) -> Response:
    output = await get_overview(_services(request), context, filters, from_, to)
    window = output.window
    return _render_view(request, user, "overview.html", "overview", output,
                        link=_window_params(window.from_, window.to, filters))


WALLBOARD_TILES_WAIT_S = 5.0


@router.get("/wallboard", response_class=HTMLResponse)
async def wallboard(request: Request, user: ManagerUser) -> Response:
    # the tiles as of now, not as of the last open stream (a few seconds at most; past that
    # the page shows the last ones and the stream brings the new)
    state = await _services(request).hub.current_state(fresh_tiles=True,
                                                        wait_s=WALLBOARD_TILES_WAIT_S)
    tiles = [(name, kpi_info(name).label) for name in WALLBOARD_KPIS]
    return _render(request, user, "wallboard.html", "wallboard", state=state, tiles=tiles)


@router.get("/teams", response_class=HTMLResponse)
async def teams_page(request: Request, user: LeadUser, context: ContextDep) -> Response:
    rows = await run_in_threadpool(list_teams, context)
    return _render(request, user, "teams.html", "teams", rows=rows)


@router.get("/teams/{team_id}", response_class=HTMLResponse)
async def team_page(team_id: str, request: Request, user: LeadUser, context: ContextDep,
                    from_: FromDate = None, to: ToDate = None) -> Response:
    output = await get_team(team_id, _services(request), context, user, from_, to)
    window = output.window
    return _render_view(request, user, "team.html", "teams", output,
                        link=_window_params(window.from_, window.to, {"team": [team_id]}))


@router.get("/agents", response_class=HTMLResponse)
async def agents_page(request: Request, user: CurrentUser, context: ContextDep) -> Response:
    rows = await run_in_threadpool(list_agents, context)
    return _render(request, user, "agents.html", "agents", rows=rows)


@router.get("/agents/{agent_id}", response_class=HTMLResponse)
async def agent_page(agent_id: str, request: Request, user: CurrentUser, context: ContextDep,
                     from_: FromDate = None, to: ToDate = None) -> Response:
    params = AgentInput(**{"from": from_, "to": to, "agent_id": agent_id})
    output = await _services(request).run_cached(
        "agent", context, cache_key(params.model_dump()),
        AgentRunner(context, params).run)
    return _render_view(request, user, "agent.html", "agents", output,
                        link=_window_params(output.window.from_, output.window.to,
                                            {"agent": [agent_id]}))


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, user: CurrentUser, context: ContextDep,
                        filters: Filters, from_: FromDate = None,
                        to: ToDate = None) -> Response:
    output = await get_channels(_services(request), context, filters, from_, to)
    window = output.window
    return _render_view(request, user, "channels.html", "channels", output,
                        link=_window_params(window.from_, window.to, filters))


@router.get("/trends", response_class=HTMLResponse)
async def trends_page(request: Request, user: CurrentUser, context: ContextDep,
                      filters: Filters,
                      kpi: Annotated[str, Query(max_length=50)] = "csat",
                      period: Literal["day", "week", "month", "quarter"] = "week",
                      by: Annotated[str | None, Query(max_length=20)] = None,
                      from_: FromDate = None, to: ToDate = None) -> Response:
    if by == "":
        by = None
    if by is not None and by not in DIMENSIONS:
        raise HTTPException(422, f"by={by!r} is not a dimension; use one of "
                                 f"{', '.join(DIMENSIONS)}")
    if kpi == "frt" and by is None and len(filters.get("channel", [])) != 1:
        # a median first response over calls (seconds) and emails (hours) together means
        # nothing: one line per channel, each read against its own target
        by = "channel"
    output = await get_trends(_services(request), context, filters, kpi, period, by, from_, to)
    return _render(request, user, "trends.html", "trends", data=output,
                   kpis=TREND_KPIS, dimensions=DIMENSIONS,
                   chart=jsonable_encoder(output))


# The filter form sends its empty date fields as "from=&to=": an empty date is no date.
FormDate = Annotated[str | None, Query(alias="from", max_length=40,
                                       description="first day, inclusive")]


def _form_date(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}={value!r} is not a date; use YYYY-MM-DD, "
                                 "e.g. 2026-11-02") from None


@router.get("/interactions", response_class=HTMLResponse)
async def interactions_page(request: Request, user: CurrentUser, context: ContextDep,
                            filters: Filters,
                            kpi: Annotated[str | None, Query(max_length=50)] = None,
                            customer: Annotated[str | None, Query(max_length=200)] = None,
                            from_: FormDate = None, to: Annotated[str | None, Query(
                                max_length=40, description="end day, exclusive")] = None,
                            state: InteractionState = None, q: InteractionText = None,
                            sort: InteractionSort = None, page: Page = 1) -> Response:
    params = InteractionQuery(**{"kpi": kpi or None, "from": _form_date("from", from_),
                                 "to": _form_date("to", to),
                                 "filters": filters, "customer_id": customer or None,
                                 "state": split_values(state), "q": q or None,
                                 "sort": sort or None, "page": page, "page_size": 50})
    output = await run_in_threadpool(DrillDownRunner(context, params).run)
    # the filter form's choices: only the agents and teams the caller may see
    agent_rows = await run_in_threadpool(list_agents, context)
    team_rows = await run_in_threadpool(list_teams, context)
    first = (output.page - 1) * output.page_size + 1
    # times as the date filters count days: in the organisation's time zone
    zone = ZoneInfo(context.settings.timezone)
    created = {row.id: datetime.fromisoformat(row.created_at).astimezone(zone)
               .strftime("%Y-%m-%d %H:%M") for row in output.rows if row.created_at}
    return _render(request, user, "interactions.html", "interactions", data=output,
                   created=created, timezone=context.settings.timezone,
                   pages=max(1, -(-output.total // output.page_size)),
                   shown=(first, first + len(output.rows) - 1), chosen_state=params.state,
                   states=STATES,
                   agent_options=[(a["id"], f"{a['name']} ({a['id']})") for a in agent_rows],
                   team_options=[(t["id"], f"{t['name']} ({t['id']})") for t in team_rows],
                   channel_options=[(channel.value, channel.value.replace("_", " "))
                                    for channel in Channel],
                   state_options=[(name, name) for name in STATES],
                   sort_options=list(SORT_LABELS.items()))


@router.get("/customers", response_class=HTMLResponse)
async def customers_page(request: Request, user: CurrentUser, context: ContextDep,
                         q: Annotated[str | None, Query(max_length=200)] = None,
                         page: Page = 1) -> Response:
    total, rows = await run_in_threadpool(list_customers, context, q, page, 50)
    return _render(request, user, "customers.html", "customers", rows=rows, total=total,
                   q=q or "", pages=max(1, -(-total // 50)), current=page)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(customer_id: str, request: Request, user: CurrentUser,
                        context: ContextDep) -> Response:
    output = await run_in_threadpool(CustomerRunner(context, customer_id).run)
    return _render(request, user, "customer.html", "customers", data=output)


@router.get("/quarantine", response_class=HTMLResponse)
async def quarantine_page(request: Request, user: ManagerUser, context: ContextDep,
                          page: Page = 1) -> Response:
    total, rows = await run_in_threadpool(list_quarantine, context, page, 50)
    return _render(request, user, "quarantine.html", "quarantine", rows=rows, total=total,
                   pages=max(1, -(-total // 50)), current=page)


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request, user: AdminUser, error: str | None = None,
                     added: str | None = None) -> Response:
    found = await run_in_threadpool(list_users, _services(request).engine)
    return _render(request, user, "users.html", "users", users=found,
                   roles=ROLES_BY_PRIVILEGE, error=error, added=added, form={})


@router.post("/admin/users")
async def add_user(request: Request, user: AdminUser,
                   username: Annotated[str, Form(max_length=100)],
                   password: Annotated[str, Form(max_length=1000)],
                   role: Annotated[str, Form(max_length=20)],
                   agent_id: Annotated[str, Form(max_length=200)] = "",
                   team_ids: Annotated[str, Form(max_length=2000)] = "") -> Response:
    teams = [t.strip() for t in team_ids.split(",") if t.strip()]
    try:
        await run_in_threadpool(create_user, _services(request).engine, username, password,
                                role, agent_id.strip() or None, teams)
    except UserError as exc:
        found = await run_in_threadpool(list_users, _services(request).engine)
        # the form again as it was sent (but the password), to correct rather than retype
        response = _render(request, user, "users.html", "users", users=found,
                           roles=ROLES_BY_PRIVILEGE, error=str(exc), added=None,
                           form={"username": username, "role": role, "agent_id": agent_id,
                                 "team_ids": team_ids})
        response.status_code = 422
        return response
    return RedirectResponse(f"/admin/users?added={username}", status_code=303)

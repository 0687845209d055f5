"""Scorecards in the web service: scorecard, coaching report, team digest, leaderboard and
badges, alert history and customer health pages, and the scorecard JSON under `/api/v1`.

- GET /api/v1/scorecards/agent/ID, /scorecards/agent/ID: an agent their own, a lead their
  teams' agents, managers and admins all; /api/v1/scorecards/team/ID, /scorecards/team/ID:
  leads (their teams), managers, admins.
- GET /scorecards: the way in from the navigation: an agent goes to their own scorecard, a
  lead of one team to its team scorecard; others choose a team.
- GET /scorecards/agent/ID/coaching[?format=pdf]: as the agent's scorecard.
- GET /scorecards/team/ID/digest[?format=pdf]: leads (their teams), managers, admins;
  with `period=week|day`, the digest as the schedule e-mails it (docs/digests.md): the week
  or day before `to` (else the latest due), compared with the one before, and why.
- GET /leaderboard[?team=ID]: everyone; an agent sees their own team's.
- GET /alerts, /customer-health: leads, managers, admins; a lead sees the alerts about their
  teams and the health of the customers their teams served (as the customer list).

The work (several KPI engine queries) runs in a worker thread; access is checked with the
web service's `Access` before anything is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from servicepulse.kpi.window import Window
from servicepulse.scorecards import alerts as alert_rules
from servicepulse.scorecards.coaching import coaching_data, render_html, team_digest
from servicepulse.scorecards.gamification import build_leaderboard
from servicepulse.scorecards.health import customer_health
from servicepulse.scorecards.scorecard import LEAD_ROLES, build_scorecards
from servicepulse.store import tables
from servicepulse.web.access import Access, Forbidden
from servicepulse.web.cache import with_as_of
from servicepulse.web.deps import CurrentUser, LeadUser, ServicesDep
from servicepulse.web.guards import csp_allowing_inline
from servicepulse.web.periods import comparable, coverage_of, page_window, window_text
from servicepulse.web.routes.params import FromDate, ToDate
from servicepulse.web.runners.records import visible_customer_ids
from servicepulse.web.services import Services, cache_key
from servicepulse.web.templating import templates
from servicepulse.web.users import User

# Flags about how an agent works, as against `low_sample`, which is about the data.
BEHAVIOUR_FLAGS = ("busy_not_effective", "rushing", "burnout_risk", "underused")

router = APIRouter()
pages = APIRouter(include_in_schema=False)

Format = Annotated[str, Query(pattern="^(html|pdf)$")]
DigestPeriod = Annotated[str | None, Query(
    pattern="^(week|day)$", description="week or day: the digest as the schedule sends it")]


def _team_of(engine: Engine, agent: str) -> tuple[bool, str | None]:
    with engine.connect() as connection:
        row = connection.execute(select(tables.agents.c.team_id).where(
            tables.agents.c.id == agent)).first()
    return (row is not None, row.team_id if row is not None else None)


def _check_agent(engine: Engine, user: User, agent: str) -> None:
    found, team = _team_of(engine, agent)
    if not found:
        raise HTTPException(404, f"agent {agent!r} is not in the store")
    Access.of(user).check_agent(agent, team)


async def _cached(services: Services, name: str, compute: Callable[..., Any],
                  *args: Any, **kwargs: Any) -> Any:
    """`compute(*args, **kwargs)` through the web service's result cache (until data changes).
    Access is checked before, and the results do not depend on who asks, so every caller
    shares them."""
    # the app's settings (loaded once, by the app factory) are the same for every call: not
    # part of the key
    key = cache_key(args[1:], kwargs)  # args[0]: engine
    try:
        return await services.run_cached(f"scorecards-{name}", services.context(Access()),
                                         key, partial(compute, *args, **kwargs,
                                                      settings=services.settings))
    except OverflowError as error:  # a window past the calendar's end (the app answers the
        # domain errors: ScorecardError is a NotFound, a bad window an InvalidRequest)
        raise HTTPException(422, str(error)) from None


async def _scorecards(services: Services, agent: str | None, team: str | None,
                      from_: date | None, to: date | None) -> dict[str, Any]:
    document: dict[str, Any] = await _cached(services, "scorecard", build_scorecards,
                                             services.engine, agent=agent, team=team,
                                             start=from_, end=to)
    return document


def _render(request: Request, user: User, template: str, page: str, **context: Any) -> Response:
    params = dict(request.query_params.multi_items())
    return templates.TemplateResponse(request, template, {
        "user": user, "page": page, "params": params, **context})


async def page_period(services: Services, from_: date | None,
                      to: date | None) -> tuple[date, date, dict[str, Any]]:
    """The window a scorecard page shows: as asked, else the one default window of every page
    (the last `default_window_days` whole days with data, servicepulse.web.periods), and how
    the page says it, with the query that keeps it on the page's links."""
    asked = from_ is not None or to is not None
    try:
        shown = await run_in_threadpool(page_window, services.context(Access()), from_, to)
    except OverflowError as error:  # a bad window is an InvalidRequest: the app answers it
        raise HTTPException(422, str(error)) from None
    first, end = shown.from_.isoformat(), shown.to.isoformat()
    query = f"from={first}&to={end}" if asked else ""
    return shown.from_, shown.to, {
        "from_": first, "to": end, "text": window_text(shown, asked),
        "query": f"?{query}" if query else "", "amp_query": f"&{query}" if query else ""}


async def why_kpis(services: Services, first: date, end: date) -> frozenset[str]:
    """The KPIs whose tiles get a "why?" (/explain): the rates and means, when the window has
    a comparable previous period to explain the change against (none: no link to a dead end)."""
    from servicepulse.kpi.change import explainable_kpis

    span, today = await run_in_threadpool(coverage_of, services.context(Access()))
    if comparable(Window(**{"from": first, "to": end}), span, today) is None:
        return frozenset()
    return frozenset(explainable_kpis())


def _document(html: str, format_: str, name: str) -> Response:
    if format_ == "pdf":
        from weasyprint import HTML

        return Response(HTML(string=html).write_pdf(), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})
    # a standalone document (also printed to PDF) with its style inline: allowed by its hash
    return HTMLResponse(html, headers={"Content-Security-Policy": csp_allowing_inline(html)})


# --- API -------------------------------------------------------------------------------------


@router.get("/api/v1/scorecards/agent/{agent_id}")
async def agent_scorecard_api(services: ServicesDep, user: CurrentUser, agent_id: str,
                              from_: FromDate = None, to: ToDate = None) -> Response:
    """`servicepulse scorecard --agent ID --format json`: the agent's scorecard."""
    _check_agent(services.engine, user, agent_id)
    return _with_as_of(services, await _scorecards(services, agent_id, None, from_, to))


@router.get("/api/v1/scorecards/team/{team_id}")
async def team_scorecard_api(services: ServicesDep, user: LeadUser, team_id: str,
                             from_: FromDate = None, to: ToDate = None) -> Response:
    """`servicepulse scorecard --team ID --format json`: the team's scorecards."""
    Access.of(user).check_team(team_id)
    return _with_as_of(services, await _scorecards(services, None, team_id, from_, to))


def _with_as_of(services: Services, document: dict[str, Any]) -> Response:
    """The document with `as_of` added: when it was computed (servicepulse.web.cache)."""
    body = JSONResponse(document).body
    return Response(with_as_of(bytes(body), services.kpi_settings.timezone),
                    media_type="application/json")


# --- pages -----------------------------------------------------------------------------------


@pages.get("/scorecards/agent/{agent_id}", response_class=HTMLResponse)
async def agent_page(request: Request, services: ServicesDep, user: CurrentUser,
                     agent_id: str, from_: FromDate = None, to: ToDate = None) -> Response:
    agent = agent_id
    _check_agent(services.engine, user, agent)
    first, end, shown = await page_period(services, from_, to)
    document = await _scorecards(services, agent, None, first, end)
    card = document["agents"][0]
    return _render(request, user, "sc_scorecard.html", "scorecards", data=document,
                   title=f"Scorecard · {card['name']}", window=shown,
                   why=await why_kpis(services, first, end))


@pages.get("/scorecards/team/{team_id}", response_class=HTMLResponse)
async def team_page(request: Request, services: ServicesDep, user: LeadUser, team_id: str,
                    from_: FromDate = None, to: ToDate = None) -> Response:
    team = team_id
    Access.of(user).check_team(team)
    first, end, shown = await page_period(services, from_, to)
    document = await _scorecards(services, None, team, first, end)
    members = sorted((c for c in document["agents"] if c["role"] not in LEAD_ROLES),
                     key=lambda c: (c["balanced_score"] is None, -(c["balanced_score"] or 0),
                                    c["agent"]))
    flagged = [c["agent"] for c in members
               if any(f["flag"] in BEHAVIOUR_FLAGS for f in c["flags"])]
    return _render(request, user, "sc_team.html", "scorecards", data=document,
                   title=f"Team scorecard · {document['team']['name'] or team}",
                   members=members, flagged=flagged, individuals=len(members),
                   leads=[c for c in document["agents"] if c["role"] in LEAD_ROLES],
                   window=shown)


@pages.get("/scorecards", response_class=HTMLResponse)
async def scorecards_index(request: Request, services: ServicesDep,
                           user: CurrentUser) -> Response:
    access = Access.of(user)
    if access.agent_ids is not None:  # an agent: their own scorecard
        if not access.agent_ids:
            raise Forbidden("your user is not linked to an agent: ask an admin to link it")
        return RedirectResponse(f"/scorecards/agent/{quote(access.agent_ids[0])}", 303)
    teams = await run_in_threadpool(_teams, services.engine, access.team_ids)
    if access.team_ids is not None and len(teams) == 1:  # a lead of one team: that team
        return RedirectResponse(f"/scorecards/team/{quote(teams[0]['id'])}", 303)
    return _render(request, user, "sc_index.html", "scorecards", teams=teams)


def _teams(engine: Engine, allowed: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """The teams with active agents (those `allowed` when given), with their sizes."""
    agents, teams_table = tables.agents, tables.teams
    query = (select(agents.c.team_id, func.count(), teams_table.c.name)
             .select_from(agents.outerjoin(teams_table, teams_table.c.id == agents.c.team_id))
             .where(agents.c.team_id.is_not(None), agents.c.active)
             .group_by(agents.c.team_id, teams_table.c.name).order_by(agents.c.team_id))
    if allowed is not None:
        query = query.where(agents.c.team_id.in_(allowed))
    with engine.connect() as connection:
        return [{"id": row[0], "agents": row[1], "name": row[2]}
                for row in connection.execute(query)]


@pages.get("/scorecards/agent/{agent_id}/coaching")
async def coaching_page(services: ServicesDep, user: CurrentUser, agent_id: str,
                        from_: FromDate = None, to: ToDate = None,
                        format: Format = "html") -> Response:
    agent = agent_id
    _check_agent(services.engine, user, agent)
    first, end, _shown = await page_period(services, from_, to)
    data = await _cached(services, "coaching", coaching_data, services.engine, agent,
                         start=first, end=end)
    return _document(render_html(data), format, f"coaching-{agent}")


@pages.get("/scorecards/team/{team_id}/digest")
async def digest_page(services: ServicesDep, user: LeadUser, team_id: str,
                      from_: FromDate = None, to: ToDate = None,
                      format: Format = "html", period: DigestPeriod = None) -> Response:
    team = team_id
    Access.of(user).check_team(team)
    if period is not None:
        from servicepulse.scorecards.digest import latest_due, scheduled_digest

        cadence = "weekly" if period == "week" else "daily"
        day = to or latest_due(cadence, services.settings)
        data = await _cached(services, "scheduled-digest", scheduled_digest, services.engine,
                             team, cadence=cadence, day=day)
        return _document(render_html(data), format, f"digest-{team}-{data['from']}")
    first, end, _shown = await page_period(services, from_, to)
    data = await _cached(services, "digest", team_digest, services.engine, team,
                         start=first, end=end)
    return _document(render_html(data), format, f"digest-{team}")


@pages.get("/leaderboard", response_class=HTMLResponse)
async def leaderboard_page(request: Request, services: ServicesDep, user: CurrentUser,
                           team: str | None = None, from_: FromDate = None,
                           to: ToDate = None) -> Response:
    access = Access.of(user)
    if team is None and not access.sees_everything:
        if access.agent_ids is not None:
            team = _team_of(services.engine, access.agent_ids[0])[1] if access.agent_ids \
                else None
            if team is None:
                raise Forbidden("you are not in a team")
        elif access.team_ids:
            team = access.team_ids[0]
    if team is not None and access.agent_ids is None:
        access.check_team(team)
    elif team is not None and access.agent_ids:
        own = _team_of(services.engine, access.agent_ids[0])[1]
        if own != team:
            raise Forbidden(f"you may not see team {team}")
    first, end, shown = await page_period(services, from_, to)
    board = await _cached(services, "leaderboard", build_leaderboard, services.engine,
                          team=team, start=first, end=end)
    roles: dict[str, list[dict[str, Any]]] = {}
    for row in board["ranked"]:  # ranked per role already: one table each
        roles.setdefault(row["role"], []).append(row)
    return _render(request, user, "sc_leaderboard.html", "leaderboard", data=board, team=team,
                   roles=list(roles.items()), window=shown)


@pages.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, services: ServicesDep, user: LeadUser,
                      rule: str | None = None) -> Response:
    rows = await run_in_threadpool(alert_rules.history, services.engine, 200, rule)
    rules = await run_in_threadpool(alert_rules.all_rules, services.engine, services.settings)
    access = Access.of(user)
    if not access.sees_everything:  # a lead sees the alerts about their teams and agents
        allowed = set(access.team_ids or ())
        with services.engine.connect() as connection:
            agents: set[str] = set(connection.execute(select(tables.agents.c.id).where(
                tables.agents.c.team_id.in_(sorted(allowed)))).scalars())
        rows = [row for row in rows if row["subject"] in allowed | agents]
    return _render(request, user, "sc_alerts.html", "alerts", rows=rows,
                   rules=[r.as_json() for r in rules])


@pages.get("/customer-health", response_class=HTMLResponse)
async def health_page(request: Request, services: ServicesDep, user: LeadUser,
                      to: ToDate = None, at_risk: bool = False) -> Response:
    document = await _cached(services, "health", customer_health, services.engine, end=to)
    access = Access.of(user)
    if not access.sees_everything:  # a lead sees the customers their teams served
        visible = await run_in_threadpool(visible_customer_ids, services.context(access))
        shown = [a for a in document["accounts"] if visible is None or a["customer"] in visible]
        document = {**document, "accounts": shown, "at_risk": sum(a["at_risk"] for a in shown),
                    "churned_left_out": None}
    accounts = [a for a in document["accounts"] if a["at_risk"] or not at_risk]  # paged by the page
    return _render(request, user, "sc_health.html", "customers", data=document,
                   accounts=accounts)


router.include_router(pages)

"""Query parameters many routes share: the window, dimension filters and the output format.

`PageWindow` is the window of every page: `from`/`to` as asked, else the one default window
(`default_window_days`, see servicepulse.web.periods), resolved once here for every route.

The dimension filters are checked against the caller's scope here, once for every route that
takes them: an agent or team outside it answers 403 (`Access.check_filters`), not an empty
answer.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from servicepulse.kpi.query import KpiQuery, PeriodName, kpi_query
from servicepulse.kpi.window import Window
from servicepulse.web.access import Access
from servicepulse.web.deps import CurrentUser, ServicesDep
from servicepulse.web.kpi import DIMENSIONS
from servicepulse.web.periods import page_window

Format = Annotated[Literal["json", "csv"],
                   Query(description="json (default) or csv: a download of the same rows")]
FromDate = Annotated[date | None, Query(alias="from", description="first day (UTC), inclusive")]
ToDate = Annotated[date | None, Query(description="end day (UTC), exclusive")]
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=1000)]
# The interactions list's own filters (see web/runners/records.py: STATES, SORTS)
InteractionState = Annotated[list[str] | None, Query(
    max_length=200, description="waiting, open, resolved, abandoned (comma-separated or "
                                "repeated): where the contact stands, from its times")]
InteractionText = Annotated[str | None, Query(
    max_length=200, description="id, subject or a message contains this (any case)")]
InteractionSort = Annotated[str | None, Query(
    max_length=20, description="waiting_last (newest first, contacts still waiting for a "
                               "first answer after the others; the default), newest or "
                               "oldest (oldest is the default for state=waiting)")]

_FILTER = Query(max_length=2000,
                description="comma-separated values (or repeat the parameter) to keep")


def split_values(values: list[str] | None) -> list[str]:
    """`["a,b", "c"]` -> `["a", "b", "c"]` (empty parts dropped)."""
    out: list[str] = []
    for value in values or []:
        out += [part.strip() for part in value.split(",") if part.strip()]
    return out


async def dimension_filters(
    services: ServicesDep,
    user: CurrentUser,
    agent: Annotated[list[str] | None, _FILTER] = None,
    team: Annotated[list[str] | None, _FILTER] = None,
    role: Annotated[list[str] | None, _FILTER] = None,
    channel: Annotated[list[str] | None, _FILTER] = None,
    queue: Annotated[list[str] | None, _FILTER] = None,
    category: Annotated[list[str] | None, _FILTER] = None,
    language: Annotated[list[str] | None, _FILTER] = None,
    segment: Annotated[list[str] | None, _FILTER] = None,
) -> dict[str, list[str]]:
    given = dict(zip(DIMENSIONS, (agent, team, role, channel, queue, category, language,
                                  segment), strict=True))
    filters = {name: split_values(values) for name, values in given.items()
               if split_values(values)}
    access = Access.of(user)
    if not access.sees_everything and ("agent" in filters or "team" in filters):
        await run_in_threadpool(_check_scope, services.engine, access, filters)
    return filters


def _check_scope(engine: Engine, access: Access, filters: dict[str, list[str]]) -> None:
    with engine.connect() as connection:
        access.check_filters(connection, filters)


Filters = Annotated[dict[str, list[str]], Depends(dimension_filters)]


async def resolved_window(services: ServicesDep, from_: FromDate = None,
                          to: ToDate = None) -> Window:
    """The page's window: as asked, else the default one (an impossible window: an
    InvalidRequest, 422)."""
    return await run_in_threadpool(page_window, services.context(Access()), from_, to)


PageWindow = Annotated[Window, Depends(resolved_window)]


async def kpi_query_params(
    filters: Filters, from_: FromDate = None, to: ToDate = None,
    by: Annotated[str | None, Query(max_length=200, description="comma-separated dimensions")]
    = None,
    period: PeriodName = "all",
    kpi: Annotated[list[str] | None, Query(max_length=500)] = None,
) -> KpiQuery:
    """The engine's query of a KPI request's parameters (`by`, `period`, `from`, `to`, `kpi`
    and the dimension filters, checked against the caller's scope): a day out of range, an
    unknown dimension or KPI or a backwards window answers 422 saying which."""
    for name, day in (("from", from_), ("to", to)):
        if day is not None and not 1970 <= day.year <= 9000:
            raise HTTPException(422, f"{name}: {day} is out of range; use a day between 1970 "
                                     "and 9000")
    groups = split_values([by] if by else None)
    unknown = [g for g in groups if g not in DIMENSIONS]
    if unknown:
        raise HTTPException(422, f"by: {', '.join(unknown)} is not a dimension; use "
                                 f"{', '.join(DIMENSIONS)}")
    return kpi_query({"by": groups, "period": period, "from": from_, "to": to,
                      "kpis": split_values(kpi) or None, "filters": filters})


KpiQueryParams = Annotated[KpiQuery, Depends(kpi_query_params)]

"""`GET /api/v1/interactions/export`: one row per conversation as CSV, streamed.

The rows are the Interactions page's (the same filters, the same drill-down by KPI, the same
access scope: an agent exports their own contacts, a team lead their teams'), with every input
of every KPI (`servicepulse.web.runners.export`). The CSV is written while the store's cursor
is read, so an export of a million rows holds a chunk of rows in memory, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from servicepulse.web.deps import ContextDep
from servicepulse.web.routes.params import (
    Filters,
    FromDate,
    InteractionState,
    InteractionText,
    ToDate,
    split_values,
)
from servicepulse.web.runners.export import csv_chunks, export_statement, iter_rows
from servicepulse.web.runners.records import InteractionQuery

router = APIRouter(prefix="/api/v1", tags=["api"])


@router.get("/interactions/export", response_class=StreamingResponse,
            summary="One row per conversation with every KPI input, as CSV (streamed)",
            responses={200: {"content": {"text/csv": {}},
                             "description": "CSV, header first; columns in docs/kpis.md"}})
async def export_interactions(context: ContextDep, filters: Filters,
                              kpi: Annotated[str | None, Query(
                                  max_length=50,
                                  description="only the interactions this KPI counts")] = None,
                              customer: Annotated[str | None, Query(max_length=200)] = None,
                              from_: FromDate = None, to: ToDate = None,
                              state: InteractionState = None,
                              q: InteractionText = None) -> StreamingResponse:
    params = InteractionQuery(**{"kpi": kpi, "from": from_, "to": to, "filters": filters,
                                 "customer_id": customer, "state": split_values(state),
                                 "q": q or None})
    # a bad KPI or state answers 422 here, before the first byte of the file is sent
    await run_in_threadpool(export_statement, context, params)

    def body() -> Iterator[str]:
        yield from csv_chunks(iter_rows(context, params))

    name = f"interactions{'-' + kpi if kpi else ''}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

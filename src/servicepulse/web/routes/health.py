"""`/health`: the one route besides login that needs no credentials (load balancers use it)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from servicepulse.web.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/health")
async def health(services: ServicesDep) -> Health:
    def ping() -> None:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    await run_in_threadpool(ping)
    return Health(status="ok", database=services.engine.dialect.name)

"""The FastAPI application: `create_app(engine)` wires the store, the KPI engine, the live hub,
the API (`/api/v1`), the server-rendered pages and the static assets.

Everything but `/login`, `/health` and the static assets needs authentication (401 without);
each route states the roles it allows (403 otherwise). Request bodies are bounded (413), a
control character in any parameter answers 422, and every response carries the security
headers (`web/guards.py`). The domain errors (`servicepulse.errors`) answer their status
(404, 422, 409, 503); an unexpected error answers a 500 with a reference it is logged under,
never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicepulse.composition import compose
from servicepulse.config import Settings, load_settings
from servicepulse.errors import ServicePulseError, Unavailable
from servicepulse.kpi.kept_backends import close_backends
from servicepulse.kpi.settings import kpi_settings
from servicepulse.web.access import Forbidden
from servicepulse.web.cache import ResultCache
from servicepulse.web.deps import CurrentUser
from servicepulse.web.guards import (
    SECURITY_HEADERS,
    ControlCharacters,
    SecurityHeaders,
    csp_allowing_inline,
)
from servicepulse.web.kpi import KpiFunction, dashboard_kpi_function, engine_kpi_function
from servicepulse.web.services import MAX_BODY_BYTES, Services
from servicepulse.web.templating import templates

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """413 for request bodies over `limit` bytes, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = (b'{"detail":"request body too large: at most %d bytes; send the records in '
                b'smaller batches"}' % self.limit)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(engine: Engine, kpi: KpiFunction | None = None,
               max_body_bytes: int = MAX_BODY_BYTES, serve_stale: bool = True,
               prewarm: bool = True, settings: Settings | None = None) -> FastAPI:
    """The app on `engine`. `serve_stale=False` makes every view exact right after a write
    (at the cost of waiting for the engine); `prewarm` computes the default views at start.
    `settings`: the configuration, loaded here when not given (this is the web's composition
    root: the one place it is read; the app state holds it for every route and view)."""
    if settings is None:
        settings = load_settings()
    chosen = settings
    # the import hooks the API's record imports and the background worker run, with the
    # app's settings
    compose(lambda: chosen)
    # Dashboards read the daily rollup where it answers; the KPI API stays on the exact engine
    # (the same document as `servicepulse kpi`). A `kpi` given (tests) serves both.
    figures = kpi_settings(settings)
    services = Services(engine=engine, kpi=kpi or dashboard_kpi_function(figures),
                        exact_kpi=kpi or engine_kpi_function(figures),
                        max_body_bytes=max_body_bytes,
                        cache=ResultCache(serve_stale=serve_stale), prewarm_views=prewarm,
                        settings=settings, kpi_settings=figures)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.hub.start()
        prewarm = None
        digests = None
        if services.prewarm_views:
            # the start-up work: derived data a killed server or import left marked is
            # finished by the background worker (started now, not at the first import)
            from servicepulse.ingest.background import after_import_worker

            after_import_worker(engine)
            prewarm = asyncio.create_task(services.prewarm())
            # the scheduled team digests (docs/digests.md), when the configuration names
            # anyone to send them to; each period's digest is claimed in the store, so
            # several workers or servers send it once
            from servicepulse.scorecards.digest import start_scheduler

            digests = start_scheduler(engine, services.settings)
        try:
            yield
        finally:
            if prewarm is not None:
                prewarm.cancel()
            if digests is not None:
                await asyncio.to_thread(digests.stop)
            await services.hub.stop()
            close_backends(engine)

    app = FastAPI(
        title="ServicePulse",
        version="1",
        summary="Customer-service KPIs, live wallboard and dashboards.",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services

    from servicepulse.web.pages import views
    from servicepulse.web.routes import api, auth, health

    app.include_router(health.router)
    app.include_router(auth.router)
    from servicepulse.web.routes import export; app.include_router(export.router)  # noqa: E702, I001
    app.include_router(api.router)
    from servicepulse.web.routes import webhooks; app.include_router(webhooks.router)  # noqa: E702, I001
    app.include_router(views.router)
    from servicepulse.web.routes import insights; app.include_router(insights.router)  # noqa: E702, I001
    from servicepulse.web.routes import scorecards; app.include_router(scorecards.router)  # noqa: E702, I001
    from servicepulse.web.routes import workforce; app.include_router(workforce.router)  # noqa: E702, I001
    from servicepulse.web.explain import router as explain; app.include_router(explain)  # noqa: E702, I001
    from servicepulse.web.routes import qa; app.include_router(qa.router)  # noqa: E702, I001
    app.include_router(qa.pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico on every page that names no icon (the scorecard
        # documents, JSON answers opened in a tab): the app's icon, not a 404 each time.
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_user: CurrentUser) -> HTMLResponse:
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="ServicePulse API")
        # Swagger UI comes from its CDN with an inline start script: allowed on this page only
        cdn = "https://cdn.jsdelivr.net"
        page.headers["Content-Security-Policy"] = csp_allowing_inline(
            bytes(page.body).decode(), script_sources=cdn, style_sources=cdn,
            img_sources="https://fastapi.tiangolo.com")
        return page

    _exception_handlers(app)
    # outermost last: the headers go on every answer, the body limit applies before the
    # control-character check reads a form or JSON body
    app.add_middleware(ControlCharacters, router=app.router)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app


def _wants_html(request: Request) -> bool:
    return (not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", ""))


def _exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html",
                {"status": exc.status_code, "detail": exc.detail, "user": None,
                 "next": request.url.path + (f"?{request.url.query}" if request.url.query else "")},
                status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return await http_error(request, HTTPException(status.HTTP_403_FORBIDDEN, str(exc)))

    @app.exception_handler(ServicePulseError)
    async def domain_error(request: Request, exc: ServicePulseError) -> Response:
        if exc.http_status == status.HTTP_500_INTERNAL_SERVER_ERROR:
            return await unexpected(request, exc)  # the base class raised: not a user error
        headers = {"Retry-After": "30"} if isinstance(exc, Unavailable) else None
        return await http_error(request, HTTPException(exc.http_status, exc.message, headers))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # logged with its traceback under a reference the user is shown (and can quote);
        # the answer holds neither the traceback nor the exception's message. Starlette
        # sends this outside the middlewares: add the security headers here.
        reference = secrets.token_hex(4)
        log.error("unexpected error, reference %s: %s %s", reference, request.method,
                  request.url.path, exc_info=exc)
        detail = (f"internal error: the server could not answer this request; it has been "
                  f"logged under reference {reference}: try again later, and quote the "
                  f"reference if it keeps happening")
        headers = {**SECURITY_HEADERS, "X-Error-Reference": reference}
        if _wants_html(request):
            return templates.TemplateResponse(
                request, "error.html", {"status": 500, "detail": detail, "user": None,
                                        "next": request.url.path},
                status_code=500, headers=headers)
        return JSONResponse({"detail": detail, "reference": reference}, status_code=500,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems: list[dict[str, Any]] = [
            {"where": ".".join(str(p) for p in error.get("loc", ())), "problem": error.get("msg")}
            for error in exc.errors()]
        if _wants_html(request):
            text = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
            return await http_error(request, HTTPException(422, f"invalid request: {text}"))
        return JSONResponse({"detail": problems}, status_code=422)

"""Log in and out of the pages (cookie session). The login form is protected against CSRF
by a double-submit token: a random value in a cookie that the form must repeat.

Sign-ins are throttled per username and per client address (servicepulse.web.users.sign_in):
a refused one answers 429 with `Retry-After` and the wait in words, without checking the
password. The client address is the connection's peer as uvicorn reports it (behind a
reverse proxy on the same host, uvicorn takes it from `X-Forwarded-For`).

Cookies: the session cookie is HttpOnly and SameSite=Lax (Lax so that a link from e-mail to a
dashboard still arrives logged in; every unsafe request also needs the CSRF token); it is
Secure when the request came over HTTPS or when `cookie_secure = true` is configured.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from servicepulse.web.deps import SESSION_COOKIE, CurrentUser, ServicesDep
from servicepulse.web.templating import templates
from servicepulse.web.users import (
    SESSION_LIFETIME_S,
    AccountDisabled,
    AccountSettings,
    LoginThrottled,
    create_session,
    end_session,
    sign_in,
)

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "sp_login_csrf"


def account_settings(request: Request) -> AccountSettings:
    """The accounts' settings, of the configuration the app factory loaded (tests set
    `app.state.account_settings` to their own, with a clock they move)."""
    settings = getattr(request.app.state, "account_settings", None)
    if settings is None:
        settings = AccountSettings.from_settings(request.app.state.services.settings)
        request.app.state.account_settings = settings
    chosen: AccountSettings = settings
    return chosen


def _secure(request: Request) -> bool:
    return account_settings(request).cookie_secure or request.url.scheme == "https"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never redirect to another host after login.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(request: Request, error: str | None, next_path: str,
                status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html",
        {"csrf_token": token, "error": error, "next": next_path, "user": None},
        status_code=status_code, headers=headers)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=_secure(request), max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, None, _safe_next(next))


@router.post("/login")
async def login(request: Request, services: ServicesDep,
                username: Annotated[str, Form(max_length=100)],
                password: Annotated[str, Form(max_length=1000)],
                csrf_token: Annotated[str, Form(max_length=100)],
                next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(request, "The form expired; please log in again.", _safe_next(next),
                           status.HTTP_403_FORBIDDEN)
    settings = account_settings(request)
    address = request.client.host if request.client else "unknown"
    try:
        user = await run_in_threadpool(sign_in, services.engine, username, password, address,
                                       settings)
    except LoginThrottled as exc:
        return _login_page(request, str(exc), _safe_next(next),
                           status.HTTP_429_TOO_MANY_REQUESTS,
                           {"Retry-After": str(exc.retry_after_s)})
    except AccountDisabled as exc:
        return _login_page(request, str(exc), _safe_next(next), status.HTTP_403_FORBIDDEN)
    if user is None:
        return _login_page(request, "Unknown username or wrong password.", _safe_next(next),
                           status.HTTP_401_UNAUTHORIZED)
    session_id = await run_in_threadpool(create_session, services.engine, user)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax",
                        secure=settings.cookie_secure or request.url.scheme == "https",
                        max_age=SESSION_LIFETIME_S)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, user: CurrentUser) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "not logged in with a session")
    await run_in_threadpool(end_session, services.engine, session_id)
    services.forget_identity(("session", session_id))
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response

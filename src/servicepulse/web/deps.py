"""Request dependencies as `Annotated` aliases: the store, the current user, role checks.

Authentication: `Authorization: Bearer <token>` (API tokens, scoped) or the session cookie set
by the login page. Unsafe methods with a session also need the session's CSRF token, in the
form field `csrf_token` or the `X-CSRF-Token` header (tokens need none: a browser never sends
them on its own).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from servicepulse.web.access import Access
from servicepulse.web.runners import RunContext
from servicepulse.web.services import Services
from servicepulse.web.users import (
    CredentialRefused,
    TokenScope,
    User,
    UserRole,
    user_for_session,
    user_for_token,
)

SESSION_COOKIE = "sp_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_engine(services: ServicesDep) -> Engine:
    return services.engine


SessionDep = Annotated[Engine, Depends(get_engine)]  # the store (SQLAlchemy engine)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail,
                         headers={"WWW-Authenticate": 'Bearer realm="servicepulse"'})


async def current_user(request: Request, services: ServicesDep) -> User:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>' (servicepulse token "
                                "create)")
        try:
            user = await services.cached_identity(("token", token.strip()), user_for_token)
        except CredentialRefused as exc:  # expired, revoked, or its user disabled
            raise _unauthorized(str(exc)) from None
        if user is None:
            raise _unauthorized("unknown API token (servicepulse token list shows the tokens)")
        _check_scope(request, user)
        return user
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        user = await services.cached_identity(("session", session_id), user_for_session)
        if user is not None:
            if request.method not in SAFE_METHODS:
                await _check_csrf(request, user)
            return user
    raise _unauthorized("log in at /login, or send 'Authorization: Bearer <token>'")


def _check_scope(request: Request, user: User) -> None:
    if user.scope is TokenScope.admin:
        return
    if user.scope is TokenScope.read and request.method in SAFE_METHODS:
        return
    if user.scope is TokenScope.ingest and request.url.path == "/api/v1/records":
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN,
                        f"this token's scope {user.scope} does not allow {request.method} "
                        f"{request.url.path}; create one with the scope it needs")


async def _check_csrf(request: Request, user: User) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not user.csrf_token or not hmac.compare_digest(
            sent.encode(), user.csrf_token.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "missing or wrong CSRF token: reload the page and submit again")


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: UserRole) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency that lets through only users with one of `roles` (403 otherwise)."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"your role ({user.role}) may not use this; it needs "
                                f"{' or '.join(sorted(allowed))}")
        return user

    return check


ManagerUser = Annotated[User, Depends(require_role(UserRole.admin, UserRole.manager))]
AdminUser = Annotated[User, Depends(require_role(UserRole.admin))]
LeadUser = Annotated[User, Depends(require_role(UserRole.admin, UserRole.manager,
                                                UserRole.team_lead))]


async def run_context(services: ServicesDep, user: CurrentUser) -> RunContext:
    return services.context(Access.of(user))


ContextDep = Annotated[RunContext, Depends(run_context)]

__all__ = ["AdminUser", "ContextDep", "CurrentUser", "LeadUser", "ManagerUser", "ServicesDep",
           "SessionDep", "require_role", "run_in_threadpool"]

"""Users, roles, API tokens and browser sessions: storage and checks, no HTTP here.

Roles (issue 4): `agent` sees only their own numbers, `team_lead` only their teams, `manager`
everything, `admin` also users and configuration. API token scopes: `read` (GET routes),
`ingest` (POST records; the user must be a manager or admin), `admin` (everything the user's
role allows).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update

from servicepulse.web.tables import api_tokens, sessions, users

SESSION_LIFETIME_S = 12 * 3600  # one working day; the login page is one click away
TOKEN_PREFIX = "sp_"


class UserRole(StrEnum):
    admin = "admin"
    manager = "manager"
    team_lead = "team_lead"
    agent = "agent"


class TokenScope(StrEnum):
    read = "read"
    ingest = "ingest"
    admin = "admin"


class UserError(ValueError):
    """A user or token request that cannot be honoured; the message says what to change."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: UserRole
    agent_id: str | None = None
    team_ids: tuple[str, ...] = ()
    # how the request authenticated: "session" (cookie) or a token scope
    scope: TokenScope | None = None
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def sees_everything(self) -> bool:
        return self.role in (UserRole.admin, UserRole.manager)

    def may_see_agent(self, agent_id: str, agent_team_id: str | None) -> bool:
        if self.sees_everything:
            return True
        if self.role is UserRole.agent:
            return agent_id == self.agent_id
        return agent_team_id is not None and agent_team_id in self.team_ids

    def may_see_team(self, team_id: str) -> bool:
        if self.sees_everything:
            return True
        if self.role is UserRole.team_lead:
            return team_id in self.team_ids
        return False


# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user_from_row(row: object, **extra: object) -> User:
    mapping = row._mapping  # type: ignore[attr-defined]
    return User(
        id=mapping["id"],
        username=mapping["username"],
        role=UserRole(mapping["role"]),
        agent_id=mapping["agent_id"],
        team_ids=tuple(mapping["team_ids"] or ()),
        **extra,  # type: ignore[arg-type]
    )


def create_user(engine: Engine, username: str, password: str, role: str,
                agent_id: str | None = None, team_ids: list[str] | None = None) -> User:
    """Add a user (or replace the password, role and scope of an existing one)."""
    try:
        user_role = UserRole(role)
    except ValueError:
        raise UserError(f"role {role!r} is unknown; use one of "
                        f"{', '.join(r.value for r in UserRole)}") from None
    username = username.strip()
    if not username or len(username) > 100:
        raise UserError("username must be 1 to 100 characters")
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    if user_role is UserRole.agent and not agent_id:
        raise UserError("an agent user needs --agent AGENT_ID (the agent record they are)")
    if user_role is UserRole.team_lead and not team_ids:
        raise UserError("a team_lead user needs --team TEAM_ID (repeat it for several teams)")
    values = {
        "password_hash": hash_password(password),
        "role": user_role.value,
        "agent_id": agent_id,
        "team_ids": list(team_ids or []),
    }
    with engine.begin() as connection:
        existing = connection.execute(
            select(users.c.id).where(users.c.username == username)).scalar_one_or_none()
        if existing is None:
            connection.execute(insert(users).values(username=username, created_at=time.time(),
                                                    **values))
        else:
            connection.execute(update(users).where(users.c.id == existing).values(**values))
        row = connection.execute(select(users).where(users.c.username == username)).one()
    return _user_from_row(row)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as connection:
        rows = connection.execute(select(users).order_by(users.c.username)).all()
    return [_user_from_row(row) for row in rows]


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The user when the password matches, else None (same answer for unknown users)."""
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        # Hash anyway so that response time does not tell which usernames exist.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as connection:
            connection.execute(update(users).where(users.c.id == row.id)
                               .values(password_hash=hash_password(password)))
    return _user_from_row(row)


def create_token(engine: Engine, username: str, scope: str) -> str:
    """A new API token for `username`; only its digest is stored, so print it now or lose it."""
    try:
        token_scope = TokenScope(scope)
    except ValueError:
        raise UserError(f"scope {scope!r} is unknown; use one of "
                        f"{', '.join(s.value for s in TokenScope)}") from None
    with engine.begin() as connection:
        user_id = connection.execute(
            select(users.c.id).where(users.c.username == username)).scalar_one_or_none()
        if user_id is None:
            raise UserError(f"no user {username!r}; add it first with `servicepulse user add`")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        connection.execute(insert(api_tokens).values(
            user_id=user_id, token_hash=_digest(token), scope=token_scope.value,
            created_at=time.time()))
    return token


def user_for_token(engine: Engine, token: str) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(users, api_tokens.c.scope)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == _digest(token))).first()
    if row is None:
        return None
    return _user_from_row(row, scope=TokenScope(row.scope))


def create_session(engine: Engine, user: User) -> str:
    """A new session id for the cookie (its digest and a CSRF token are stored)."""
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    with engine.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.expires_at < now))
        connection.execute(insert(sessions).values(
            session_hash=_digest(session_id), user_id=user.id,
            csrf_token=secrets.token_urlsafe(32), created_at=now,
            expires_at=now + SESSION_LIFETIME_S))
    return session_id


def user_for_session(engine: Engine, session_id: str) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(users, sessions.c.csrf_token)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.session_hash == _digest(session_id),
                   sessions.c.expires_at > time.time())).first()
    if row is None:
        return None
    return _user_from_row(row, csrf_token=row.csrf_token)


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.session_hash == _digest(session_id)))

"""Users, roles, API tokens and browser sessions: storage and checks, no HTTP here.

Roles (issue 4): `agent` sees only their own numbers, `team_lead` only their teams, `manager`
everything, `admin` also users and configuration. `reviewer` (issue 18) reviews conversations
against QA forms: they read every conversation (quality reviewers grade across teams; their
own `team_ids`, if any, only let sampling leave their team out) but none of the team leads'
or managers' tools. API token scopes: `read` (GET routes),
`ingest` (POST records; the user must be a manager or admin), `admin` (everything the user's
role allows).

Accounts an operator can trust (issue 15, migration 0014):

- Login throttling (`sign_in`): after `failures_per_user` failed sign-ins for one username, or
  `failures_per_address` from one client address, within the window, further sign-ins are
  refused without checking the password (`LoginThrottled`, with the wait). The failures are
  rows of `web_login_failures`, so every server process counts the same ones. A sign-in is
  recorded *before* its password is checked, so parallel guesses cannot slip past the limit.
  API tokens are not throttled: they are 256-bit random values, which nobody can guess.
- Users can be disabled (no sign-in; their sessions are ended and their tokens refused until
  they are enabled again) and deleted (with their sessions and tokens).
- A password change ends the user's sessions (all, or all but the one that made the change).
- API tokens expire (`expires_at`) and can be revoked; a refused token raises
  `CredentialRefused`, whose message says why.

Time comes from a `clock` argument (default `time.time`) wherever it decides anything, so
tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, false, insert, select, update

from servicepulse.errors import InvalidRequest
from servicepulse.web.tables import api_tokens, login_failures, sessions, users

SESSION_LIFETIME_S = 12 * 3600  # one working day; the login page is one click away
TOKEN_PREFIX = "sp_"
TOKEN_LAST_USED_PRECISION_S = 60.0  # last_used_at is written at most once a minute per token
Clock = Callable[[], float]


class UserRole(StrEnum):
    admin = "admin"
    manager = "manager"
    team_lead = "team_lead"
    reviewer = "reviewer"
    agent = "agent"


# Least privileged first: the order forms offer the roles in, the first being the default (a
# slip of the hand then gives too little access, never too much).
ROLES_BY_PRIVILEGE = (UserRole.agent, UserRole.reviewer, UserRole.team_lead, UserRole.manager,
                      UserRole.admin)


class TokenScope(StrEnum):
    read = "read"
    ingest = "ingest"
    admin = "admin"


class UserError(InvalidRequest):
    """A user or token request that cannot be honoured; the message says what to change."""


class LoginThrottled(UserError):
    """Too many failed sign-ins for the account or from the address: try again later."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AccountDisabled(UserError):
    """The password is right but the account is disabled."""


class CredentialRefused(Exception):
    """An API token that exists but may not be used (expired, revoked, its user disabled).

    Not a ValueError on purpose: the web layer turns it into 401, never into 422."""


@dataclass(frozen=True)
class AccountSettings:
    """The accounts' settings (docs/configuration.md) and the clock they are measured by."""

    failures_per_user: int = 5
    failures_per_address: int = 20
    failure_window_s: float = 15 * 60.0
    token_lifetime_s: float | None = 365 * 86400.0  # None: tokens never expire by default
    cookie_secure: bool = False
    clock: Clock = time.time

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock = time.time) -> AccountSettings:
        """From a `servicepulse.config.Settings`."""
        days = float(settings.token_lifetime_days)
        return cls(failures_per_user=int(settings.login_failures_per_user),
                   failures_per_address=int(settings.login_failures_per_address),
                   failure_window_s=float(settings.login_failure_window_minutes) * 60.0,
                   token_lifetime_s=days * 86400.0 if days > 0 else None,
                   cookie_secure=bool(settings.cookie_secure), clock=clock)


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
    disabled: bool = False
    created_at: float | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role in (UserRole.admin, UserRole.manager)

    @property
    def reviews(self) -> bool:
        """Whether the user may review conversations against QA forms."""
        return self.role is not UserRole.agent

    def may_see_agent(self, agent_id: str, agent_team_id: str | None) -> bool:
        if self.sees_everything or self.role is UserRole.reviewer:
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
        disabled=bool(mapping["disabled"]),
        created_at=mapping["created_at"],
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
    _check_password(password)
    if user_role is UserRole.agent and not agent_id:
        raise UserError("an agent user needs the id of the agent record they are (the form's "
                        "agent id; --agent AGENT_ID on the command line)")
    if user_role is UserRole.team_lead and not team_ids:
        raise UserError("a team_lead user needs the teams they lead (the form's team ids; "
                        "--team TEAM_ID on the command line, repeated for several teams)")
    values = {
        "password_hash": hash_password(password),
        "role": user_role.value,
        "agent_id": agent_id,
        "team_ids": list(team_ids or []),
    }
    with engine.begin() as connection:
        existing = connection.execute(
            select(users.c.id, users.c.password_hash).where(users.c.username == username)
        ).first()
        if existing is None:
            connection.execute(insert(users).values(username=username, created_at=time.time(),
                                                    **values))
        else:
            connection.execute(update(users).where(users.c.id == existing.id).values(**values))
            if not _password_matches(existing.password_hash, password):
                # a new password: whoever signed in with the old one signs in again
                connection.execute(delete(sessions).where(sessions.c.user_id == existing.id))
        row = connection.execute(select(users).where(users.c.username == username)).one()
    return _user_from_row(row)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")


def _user_id(connection: Connection, username: str) -> int:
    user_id = connection.execute(
        select(users.c.id).where(users.c.username == username)).scalar_one_or_none()
    if user_id is None:
        raise UserError(f"no user {username!r}; `servicepulse user list` shows the users")
    return int(user_id)


def get_user(engine: Engine, username: str) -> User:
    with engine.connect() as connection:
        row = connection.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise UserError(f"no user {username!r}; `servicepulse user list` shows the users")
    return _user_from_row(row)


def set_password(engine: Engine, username: str, password: str,
                 keep_session_id: str | None = None) -> int:
    """Change a user's password and end their sessions but `keep_session_id` (the one that
    made the change, if any); the number of sessions ended. API tokens stay valid."""
    _check_password(password)
    password_hash = hash_password(password)
    with engine.begin() as connection:
        user_id = _user_id(connection, username)
        connection.execute(update(users).where(users.c.id == user_id)
                           .values(password_hash=password_hash))
        return _end_sessions(connection, user_id, keep_session_id)


def set_disabled(engine: Engine, username: str, disabled: bool) -> User:
    """Disable (or enable again) a user. Disabling ends their sessions at once; their API
    tokens are refused while they are disabled and work again once they are enabled."""
    with engine.begin() as connection:
        user_id = _user_id(connection, username)
        connection.execute(update(users).where(users.c.id == user_id)
                           .values(disabled=disabled))
        if disabled:
            _end_sessions(connection, user_id, None)
        row = connection.execute(select(users).where(users.c.id == user_id)).one()
    return _user_from_row(row)


def delete_user(engine: Engine, username: str) -> tuple[int, int]:
    """Delete a user with their sessions and API tokens: (sessions, tokens) deleted."""
    with engine.begin() as connection:
        user_id = _user_id(connection, username)
        ended = _end_sessions(connection, user_id, None)
        tokens = connection.execute(
            delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount
        connection.execute(delete(users).where(users.c.id == user_id))
    return ended, int(tokens)


def _end_sessions(connection: Connection, user_id: int, keep_session_id: str | None) -> int:
    statement = delete(sessions).where(sessions.c.user_id == user_id)
    if keep_session_id is not None:
        statement = statement.where(sessions.c.session_hash != _digest(keep_session_id))
    return int(connection.execute(statement).rowcount)


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


def _wait_text(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _lock_wait(connection: Connection, column: Any, value: str, limit: int, own_id: int,
               now: float, window_s: float) -> float:
    """Seconds until fewer than `limit` failures of `column == value` (other than `own_id`)
    are within the window; 0 when there are fewer already."""
    oldest_counted = connection.execute(
        select(login_failures.c.attempted_at)
        .where(column == value, login_failures.c.attempted_at > now - window_s,
               login_failures.c.id != own_id)
        .order_by(login_failures.c.attempted_at.desc())
        .limit(1).offset(limit - 1)).scalar_one_or_none()
    if oldest_counted is None:
        return 0.0
    return max(float(oldest_counted) + window_s - now, 0.001)


def sign_in(engine: Engine, username: str, password: str, address: str,
            settings: AccountSettings | None = None) -> User | None:
    """A login attempt from `address`: the user when the password matches, else None.

    Raises LoginThrottled (the password is not checked) when the account or the address has
    had too many failures within the window, and AccountDisabled when the password is right
    but the account is disabled (said only to someone who knows the password).
    """
    settings = settings or AccountSettings()
    now = settings.clock()
    window = settings.failure_window_s
    username, address = username[:100], address[:100]
    with engine.begin() as connection:
        connection.execute(delete(login_failures)
                           .where(login_failures.c.attempted_at <= now - window))
        own_id = int(connection.execute(
            insert(login_failures).values(username=username, address=address, attempted_at=now)
            .returning(login_failures.c.id)).scalar_one())
    with engine.begin() as connection:
        account_wait = _lock_wait(connection, login_failures.c.username, username,
                                  settings.failures_per_user, own_id, now, window)
        address_wait = _lock_wait(connection, login_failures.c.address, address,
                                  settings.failures_per_address, own_id, now, window)
        if account_wait or address_wait:
            # Refused attempts are not failures: the lock ends a window after the failures
            # that caused it, however often someone knocks in the meantime.
            connection.execute(delete(login_failures).where(login_failures.c.id == own_id))
    if account_wait and account_wait >= address_wait:
        raise LoginThrottled(f"Too many failed sign-ins for this account; try again in "
                             f"{_wait_text(account_wait)}.", math.ceil(account_wait))
    if address_wait:
        raise LoginThrottled(f"Too many failed sign-ins from your address; try again in "
                             f"{_wait_text(address_wait)}.", math.ceil(address_wait))
    user = authenticate(engine, username, password)
    if user is None:
        return None  # the recorded attempt stays: a failure
    with engine.begin() as connection:
        connection.execute(delete(login_failures).where(login_failures.c.id == own_id))
        if user.disabled:
            raise AccountDisabled("This account is disabled; ask an administrator to enable "
                                  "it again.")
        # The user's count starts again; the address keeps its failures.
        connection.execute(update(login_failures).where(login_failures.c.username == username)
                           .values(username=None))
    return user


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
DURATION_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_expiry(value: str) -> float | None:
    """`--expires-in`: "90d", "12h", "30m", "2w" as seconds, or "never" as None."""
    if value.strip().lower() == "never":
        return None
    match = DURATION.match(value.lower())
    seconds = float(match[1]) * DURATION_UNITS[match[2]] if match else 0.0
    if seconds <= 0:
        raise UserError(f"{value!r} is not a lifetime: use a number with a unit, m (minutes), "
                        "h (hours), d (days) or w (weeks), such as 90d, or never")
    return seconds


def create_token(engine: Engine, username: str, scope: str,
                 expires_in_s: float | None = None, clock: Clock = time.time) -> str:
    """A new API token for `username` that expires `expires_in_s` from now (None: never);
    only its digest is stored, so print it now or lose it."""
    try:
        token_scope = TokenScope(scope)
    except ValueError:
        raise UserError(f"scope {scope!r} is unknown; use one of "
                        f"{', '.join(s.value for s in TokenScope)}") from None
    if expires_in_s is not None and not expires_in_s > 0:
        raise UserError("a token's lifetime must be more than 0 seconds")
    now = clock()
    with engine.begin() as connection:
        row = connection.execute(select(users.c.id, users.c.disabled)
                                 .where(users.c.username == username)).first()
        if row is None:
            raise UserError(f"no user {username!r}; add it first with `servicepulse user add`")
        if row.disabled:
            raise UserError(f"user {username!r} is disabled; enable it first with "
                            f"`servicepulse user enable {username}`")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        connection.execute(insert(api_tokens).values(
            user_id=row.id, token_hash=_digest(token), scope=token_scope.value,
            created_at=now, expires_at=None if expires_in_s is None else now + expires_in_s))
    return token


def when(epoch: float | None) -> str | None:
    """An epoch time as the CLI and messages show it (UTC, to the minute), None as None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token or its digest."""

    id: int
    username: str
    scope: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    revoked_at: float | None

    def status(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(**row._mapping)


_TOKEN_INFO = (api_tokens.c.id, users.c.username, api_tokens.c.scope, api_tokens.c.created_at,
               api_tokens.c.last_used_at, api_tokens.c.expires_at, api_tokens.c.revoked_at)


def list_tokens(engine: Engine, username: str | None = None) -> list[TokenInfo]:
    """Every token (of `username` when given), oldest first."""
    query = (select(*_TOKEN_INFO).join(users, users.c.id == api_tokens.c.user_id)
             .order_by(api_tokens.c.id))
    with engine.connect() as connection:
        if username is not None:
            query = query.where(api_tokens.c.user_id == _user_id(connection, username))
        rows = connection.execute(query).all()
    return [_token_info(row) for row in rows]


def revoke_token(engine: Engine, token_id: int, clock: Clock = time.time) -> tuple[TokenInfo, bool]:
    """Revoke a token by its id (`token list`): the token, and False if it already was."""
    with engine.begin() as connection:
        revoked = connection.execute(
            update(api_tokens).where(api_tokens.c.id == token_id,
                                     api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=clock())).rowcount
        row = connection.execute(select(*_TOKEN_INFO)
                                 .join(users, users.c.id == api_tokens.c.user_id)
                                 .where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise UserError(f"no API token with id {token_id}; `servicepulse token list` shows "
                        "the ids")
    return _token_info(row), bool(revoked)


def user_for_token(engine: Engine, token: str, clock: Clock = time.time) -> User | None:
    """The user a token acts as; None for an unknown token. Raises CredentialRefused for a
    token that exists but is revoked, expired or whose user is disabled."""
    now = clock()
    with engine.connect() as connection:
        row = connection.execute(
            select(users, api_tokens.c.scope, api_tokens.c.id.label("token_id"),
                   api_tokens.c.expires_at, api_tokens.c.revoked_at,
                   api_tokens.c.last_used_at)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == _digest(token))).first()
    if row is None:
        return None
    if row.revoked_at is not None:
        raise CredentialRefused(f"this API token was revoked on {when(row.revoked_at)}; "
                                "create a new one with `servicepulse token create`")
    if row.expires_at is not None and row.expires_at <= now:
        raise CredentialRefused(f"this API token expired on {when(row.expires_at)}; create a "
                                "new one with `servicepulse token create`")
    if row.disabled:
        raise CredentialRefused(f"the user of this API token ({row.username}) is disabled; "
                                "an administrator can enable it again")
    if row.last_used_at is None or row.last_used_at < now - TOKEN_LAST_USED_PRECISION_S:
        with engine.begin() as connection:
            connection.execute(update(api_tokens).where(api_tokens.c.id == row.token_id)
                               .values(last_used_at=now))
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
                   sessions.c.expires_at > time.time(), users.c.disabled == false())).first()
    if row is None:
        return None
    return _user_from_row(row, csrf_token=row.csrf_token)


def end_session(engine: Engine, session_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(sessions).where(sessions.c.session_hash == _digest(session_id)))

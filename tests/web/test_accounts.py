"""Accounts an operator can trust (issue 15): login throttling per account and per address,
disabled users, expired and revoked tokens, sessions ended by a password change, the secure
cookie setting and migration 0014. On SQLite and on the real PostgreSQL (`store`).

Time is a `FakeClock` handed to the app (`app.state.account_settings`), never a sleep. The
servers' identity cache (1 s, servicepulse.web.services) is turned off where a test checks
that a credential stops working: what is checked is the store's verdict, which every server
process reaches within that second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, inspect, select, text

from servicepulse.store.database import _alembic_config, current_revisions, migrate
from servicepulse.web import users as users_module
from servicepulse.web.app import create_app
from servicepulse.web.deps import SESSION_COOKIE
from servicepulse.web.routes.auth import LOGIN_CSRF_COOKIE
from servicepulse.web.tables import login_failures, sessions
from servicepulse.web.users import (
    AccountSettings,
    LoginThrottled,
    create_token,
    create_user,
    list_tokens,
    revoke_token,
    set_disabled,
    set_password,
    sign_in,
    user_for_token,
    when,
)
from tests.web.conftest import fake_kpi

PASSWORD = "correct horse battery"
T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    engine: Engine
    client: TestClient
    clock: FakeClock


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with the smallest cost: these tests sign in dozens of times, and the hash's
    strength is not what they are about (the production hasher is checked elsewhere)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users_module, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def _site(engine: Engine) -> Iterator[Site]:
    create_user(engine, "manager", PASSWORD, "manager")
    clock = FakeClock()
    app = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)
    app.state.account_settings = AccountSettings(
        failures_per_user=5, failures_per_address=20, failure_window_s=900.0, clock=clock)
    with TestClient(app) as client:
        yield Site(engine, client, clock)


@pytest.fixture
def site(store: Engine) -> Iterator[Site]:
    """The app with one manager, on SQLite and on PostgreSQL."""
    yield from _site(store)


@pytest.fixture
def sqlite_site(sqlite_store: Engine) -> Iterator[Site]:
    """The same on SQLite only, for what does not depend on the store."""
    yield from _site(sqlite_store)


@pytest.fixture
def no_identity_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("servicepulse.web.services.IDENTITY_TTL_S", 0.0)


def attempt(client: TestClient, username: str, password: str) -> Any:
    """One sign-in through the form, as a browser makes it (CSRF cookie, then POST)."""
    form = client.get("/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": "/"},
                       follow_redirects=False)


def session_of(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in and return the new session id, leaving the client without cookies."""
    client.cookies.clear()
    response = attempt(client, username, password)
    assert response.status_code == 303, response.text
    session_id = response.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return session_id


def get_as(client: TestClient, *, session: str | None = None,
           token: str | None = None) -> Any:
    client.cookies.clear()
    if session is not None:
        client.cookies.set(SESSION_COOKIE, session)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/api/v1/agents", headers=headers)
    client.cookies.clear()
    return response


# -- login throttling -------------------------------------------------------------------------

def test_five_failures_lock_the_account_until_the_window_has_passed(site: Site) -> None:
    client, clock = site.client, site.clock
    for _ in range(5):  # at T0, T0+10, ..., T0+40: each is checked and fails
        wrong = attempt(client, "manager", "not the password")
        assert wrong.status_code == 401
        assert "Unknown username or wrong password." in wrong.text
        clock.now += 10
    clock.now = T0 + 100
    refused = attempt(client, "manager", PASSWORD)  # the right password, refused unchecked
    assert refused.status_code == 429
    # the oldest of the five (T0) stops counting at T0 + 900: 800 s, 13.3 minutes from now
    assert refused.headers["Retry-After"] == "800"
    assert "Too many failed sign-ins for this account; try again in 14 minutes." in refused.text
    assert SESSION_COOKIE not in refused.cookies
    clock.now = T0 + 899
    last = attempt(client, "manager", PASSWORD)
    assert last.status_code == 429 and last.headers["Retry-After"] == "1"
    assert "try again in 1 minute." in last.text
    clock.now = T0 + 900  # T0's failure is out of the window: four left, below five
    assert attempt(client, "manager", PASSWORD).status_code == 303
    # The success cleared the account's count: the four failures still in the window
    # (T0+10..T0+40) no longer count, so four more do not lock it (eight would have).
    for _ in range(4):
        clock.now += 1
        assert attempt(client, "manager", "not the password").status_code == 401
    assert attempt(client, "manager", PASSWORD).status_code == 303


def test_refused_attempts_do_not_extend_the_lock(site: Site) -> None:
    for _ in range(5):
        assert attempt(site.client, "manager", "nope nope").status_code == 401
    for second in (60, 300, 899):  # knocking while locked changes nothing
        site.clock.now = T0 + second
        assert attempt(site.client, "manager", "nope nope").status_code == 429
    site.clock.now = T0 + 900
    assert attempt(site.client, "manager", PASSWORD).status_code == 303


def test_failures_from_one_address_lock_every_account_from_it(
        store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    create_user(store, "manager", PASSWORD, "manager")
    clock = FakeClock()
    settings = AccountSettings(failures_per_user=5, failures_per_address=3,
                               failure_window_s=900.0, clock=clock)
    checked: list[str] = []
    real_authenticate = users_module.authenticate

    def counting_authenticate(engine: Engine, username: str, password: str) -> object:
        checked.append(username)
        return real_authenticate(engine, username, password)

    monkeypatch.setattr(users_module, "authenticate", counting_authenticate)
    for name in ("ann", "bob", "cat"):  # three usernames, one guess each, one address
        assert sign_in(store, name, "guess-guess", "203.0.113.7", settings) is None
        clock.now += 60
    with pytest.raises(LoginThrottled) as refused:
        sign_in(store, "manager", PASSWORD, "203.0.113.7", settings)
    assert str(refused.value) == ("Too many failed sign-ins from your address; try again in "
                                  "12 minutes.")  # T0 + 900 - (T0 + 180) = 720 s
    assert refused.value.retry_after_s == 720
    assert checked == ["ann", "bob", "cat"]  # the refused attempt's password was not checked
    user = sign_in(store, "manager", PASSWORD, "198.51.100.2", settings)  # another address
    assert user is not None and user.username == "manager"
    with store.connect() as connection:  # the refused attempt left no row
        assert connection.execute(select(func.count()).select_from(login_failures)
                                  ).scalar_one() == 3


def test_the_address_lock_answers_429_over_http(site: Site) -> None:
    site.client.app.state.account_settings = AccountSettings(  # type: ignore[attr-defined]
        failures_per_user=5, failures_per_address=2, failure_window_s=600.0, clock=site.clock)
    assert attempt(site.client, "ann", "guess-guess").status_code == 401
    assert attempt(site.client, "bob", "guess-guess").status_code == 401
    site.clock.now = T0 + 61
    refused = attempt(site.client, "manager", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "539"
    assert "Too many failed sign-ins from your address; try again in 9 minutes." in refused.text


# -- disabled users ---------------------------------------------------------------------------

@pytest.mark.usefixtures("no_identity_cache")
def test_a_disabled_user_is_refused_at_once(site: Site) -> None:
    token = create_token(site.engine, "manager", "read")
    session = session_of(site.client, "manager")
    assert get_as(site.client, session=session).status_code == 200
    assert get_as(site.client, token=token).status_code == 200
    set_disabled(site.engine, "manager", True)
    assert get_as(site.client, session=session).status_code == 401
    refused = get_as(site.client, token=token)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "the user of this API token (manager) is disabled; "
                                        "an administrator can enable it again"}
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="servicepulse"'
    login = attempt(site.client, "manager", PASSWORD)
    assert login.status_code == 403
    assert "This account is disabled; ask an administrator to enable it again." in login.text
    wrong = attempt(site.client, "manager", "not the password")  # tells a guesser nothing
    assert wrong.status_code == 401 and "disabled" not in wrong.text
    set_disabled(site.engine, "manager", False)
    assert get_as(site.client, token=token).status_code == 200  # the token is back
    assert get_as(site.client, session=session).status_code == 401  # the session is not
    with site.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(sessions)).scalar_one() == 0


# -- tokens -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("no_identity_cache")
def test_expired_and_revoked_tokens_answer_401_saying_why(site: Site) -> None:
    import time

    now = time.time()
    expired = create_token(site.engine, "manager", "read", expires_in_s=86400.0,
                           clock=lambda: now - 2 * 86400)
    current = create_token(site.engine, "manager", "read", expires_in_s=86400.0)
    forever = create_token(site.engine, "manager", "read")
    assert get_as(site.client, token=current).status_code == 200
    assert get_as(site.client, token=forever).status_code == 200
    response = get_as(site.client, token=expired)
    assert response.status_code == 401
    assert response.json() == {"detail": f"this API token expired on {when(now - 86400)}; "
                                         "create a new one with `servicepulse token create`"}
    ids = {info.id for info in list_tokens(site.engine, "manager")}
    assert len(ids) == 3
    forever_id = max(ids)  # the last one created
    revoked, changed = revoke_token(site.engine, forever_id, clock=lambda: T0)
    assert changed and revoked.revoked_at == T0 and revoked.status(now) == "revoked"
    response = get_as(site.client, token=forever)
    assert response.status_code == 401
    assert response.json() == {"detail": "this API token was revoked on 2027-01-15 08:00 UTC; "
                                         "create a new one with `servicepulse token create`"}
    again, changed = revoke_token(site.engine, forever_id, clock=lambda: T0 + 60)
    assert not changed and again.revoked_at == T0  # the first revocation's time stays
    assert get_as(site.client, token="sp_never-issued").json() == {
        "detail": "unknown API token (servicepulse token list shows the tokens)"}


def test_a_token_expires_on_the_clock(store: Engine) -> None:
    create_user(store, "manager", PASSWORD, "manager")
    token = create_token(store, "manager", "admin", expires_in_s=3600.0, clock=lambda: T0)
    user = user_for_token(store, token, clock=lambda: T0 + 3599)
    assert user is not None and user.username == "manager"
    with pytest.raises(users_module.CredentialRefused, match="expired on 2027-01-15 09:00 UTC"):
        user_for_token(store, token, clock=lambda: T0 + 3600)


def test_last_used_is_written_at_most_once_a_minute(store: Engine) -> None:
    create_user(store, "manager", PASSWORD, "manager")
    token = create_token(store, "manager", "read", clock=lambda: T0)
    for moment, expected in ((T0 + 5, T0 + 5), (T0 + 64, T0 + 5), (T0 + 66, T0 + 66)):
        assert user_for_token(store, token, clock=FakeClock(moment)) is not None
        assert [t.last_used_at for t in list_tokens(store)] == [expected]


# -- password changes -------------------------------------------------------------------------

@pytest.mark.usefixtures("no_identity_cache")
def test_a_password_change_ends_the_other_sessions(site: Site) -> None:
    current = session_of(site.client, "manager")
    other = session_of(site.client, "manager")
    token = create_token(site.engine, "manager", "read")
    assert set_password(site.engine, "manager", "a new password!", keep_session_id=current) == 1
    assert get_as(site.client, session=current).status_code == 200
    assert get_as(site.client, session=other).status_code == 401
    assert get_as(site.client, token=token).status_code == 200  # tokens are not sessions
    assert attempt(site.client, "manager", PASSWORD).status_code == 401
    assert attempt(site.client, "manager", "a new password!").status_code == 303
    # `user add` / POST /api/v1/users on an existing user: the same password keeps the
    # sessions (a role change), a new one ends them all
    create_user(site.engine, "manager", "a new password!", "manager")
    assert get_as(site.client, session=current).status_code == 200
    create_user(site.engine, "manager", "yet another one", "admin")
    assert get_as(site.client, session=current).status_code == 401


# -- cookies ----------------------------------------------------------------------------------

def test_session_cookie_flags_and_cookie_secure(sqlite_site: Site) -> None:
    site = sqlite_site
    response = attempt(site.client, "manager", PASSWORD)
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith(f"{SESSION_COOKIE}="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags and "secure" not in flags
    site.client.app.state.account_settings = AccountSettings(  # type: ignore[attr-defined]
        cookie_secure=True, clock=site.clock)
    site.client.cookies.clear()
    form = site.client.get("/login")  # over http: the client keeps the Secure cookie to itself
    login_cookie = form.headers["set-cookie"]
    assert login_cookie.startswith(f"{LOGIN_CSRF_COOKIE}=")
    assert "; secure" in login_cookie.lower()
    token = login_cookie.split(";")[0].split("=", 1)[1]
    site.client.cookies.clear()
    response = site.client.post(
        "/login", data={"username": "manager", "password": PASSWORD, "csrf_token": token},
        headers={"Cookie": f"{LOGIN_CSRF_COOKIE}={token}"}, follow_redirects=False)
    assert response.status_code == 303
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    session_cookie = next(v for v in cookies if v.startswith(f"{SESSION_COOKIE}="))
    flags = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "secure"} <= flags


def test_account_settings_come_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from servicepulse.config import Settings

    for name, value in (("LOGIN_FAILURES_PER_USER", "3"), ("LOGIN_FAILURES_PER_ADDRESS", "7"),
                        ("LOGIN_FAILURE_WINDOW_MINUTES", "2.5"), ("TOKEN_LIFETIME_DAYS", "0"),
                        ("COOKIE_SECURE", "true")):
        monkeypatch.setenv(f"SERVICEPULSE_{name}", value)
    settings = AccountSettings.from_settings(Settings())
    assert (settings.failures_per_user, settings.failures_per_address,
            settings.failure_window_s, settings.token_lifetime_s, settings.cookie_secure) == (
        3, 7, 150.0, None, True)
    defaults = AccountSettings.from_settings(Settings.model_construct(
        **{name: field.default for name, field in Settings.model_fields.items()
           if name.startswith(("login_", "token_", "cookie_"))}))
    assert (defaults.failures_per_user, defaults.failures_per_address,
            defaults.failure_window_s, defaults.token_lifetime_s, defaults.cookie_secure) == (
        5, 20, 900.0, 365 * 86400.0, False)


# -- migration 0014 ---------------------------------------------------------------------------

def test_migration_0014_keeps_existing_users_and_tokens(store: Engine) -> None:
    config = _alembic_config(store)
    command.downgrade(config, "0014-1")
    assert "0007" in current_revisions(store)
    with store.begin() as connection:  # a user and a token as the old schema held them
        connection.execute(text(
            "INSERT INTO web_users (username, password_hash, role, agent_id, team_ids, "
            "created_at) VALUES ('old', :hash, 'manager', NULL, '[]', :at)"),
            {"hash": users_module.hash_password(PASSWORD), "at": T0})
        user_id: int = connection.execute(text("SELECT id FROM web_users")).scalar_one()
    old_token = "sp_" + "x" * 43
    with store.begin() as connection:
        connection.execute(text(
            "INSERT INTO web_api_tokens (user_id, token_hash, scope, created_at) "
            "VALUES (:user, :hash, 'read', :at)"),
            {"user": user_id, "hash": users_module._digest(old_token), "at": T0})
    assert migrate(store)
    assert "0014" in current_revisions(store)
    user = sign_in(store, "old", PASSWORD, "192.0.2.1", AccountSettings())
    assert user is not None and not user.disabled
    [info] = list_tokens(store)
    assert (info.username, info.expires_at, info.revoked_at) == ("old", None, None)
    assert user_for_token(store, old_token) is not None  # an old token never expires
    with store.begin() as connection:  # the new table takes rows
        connection.execute(insert(login_failures).values(username="old", address="x",
                                                         attempted_at=T0))
    command.downgrade(config, "0014-1")
    inspector = inspect(store)
    assert "web_login_failures" not in inspector.get_table_names()
    assert {c["name"] for c in inspector.get_columns("web_api_tokens")} == {
        "id", "user_id", "token_hash", "scope", "created_at", "last_used_at"}
    assert "disabled" not in {c["name"] for c in inspector.get_columns("web_users")}
    migrate(store)

"""`servicepulse user ...` and `servicepulse token ...` as an operator runs them: passwords
asked for (hidden, twice) or read from standard input, users disabled, enabled and deleted,
tokens created with a lifetime, listed without their secret, and revoked. On SQLite and on
the real PostgreSQL (`store`).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from servicepulse.cli.main import app
from servicepulse.web import users as users_module
from servicepulse.web.tables import api_tokens, sessions
from servicepulse.web.users import (
    authenticate,
    create_session,
    create_user,
    get_user,
    list_tokens,
    user_for_token,
)

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its smallest cost: these tests are about the commands, not the hash."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users_module, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture(autouse=True)
def no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """No servicepulse.toml or SERVICEPULSE_* setting from the developer's machine."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SERVICEPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(str(tmp_path))


def run(engine: Engine, *args: str, input: str | None = None) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return runner.invoke(app, ["--db", url, *args], input=input)


def said(result: Result) -> str:
    """What the command wrote, with rich's error box and line wrapping taken out."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def sessions_of(engine: Engine, username: str) -> int:
    user = get_user(engine, username)
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(sessions)
                                      .where(sessions.c.user_id == user.id)).scalar_one())


# -- passwords --------------------------------------------------------------------------------

def test_user_add_asks_for_the_password_twice(sqlite_store: Engine) -> None:
    # the confirmation differs the first time: asked again, then accepted
    result = run(sqlite_store, "user", "add", "--username", "ann", "--role", "manager",
                 input="first secret\nsecond secret\nthe real one\nthe real one\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Password: ") == 2
    assert result.stdout.count("Repeat for confirmation: ") == 2
    assert "Error: The two entered values do not match." in said(result)
    for secret in ("first secret", "second secret", "the real one"):
        assert secret not in result.output  # hidden input is not echoed
    assert result.stderr == "user ann: manager\n"
    assert authenticate(sqlite_store, "ann", "the real one") is not None
    assert authenticate(sqlite_store, "ann", "first secret") is None


def test_user_add_reads_the_password_from_stdin(store: Engine) -> None:
    result = run(store, "user", "add", "--username", "bot", "--role", "manager",
                 "--password-stdin", input="from standard input\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # no prompt
    assert authenticate(store, "bot", "from standard input") is not None
    empty = run(store, "user", "add", "--username", "bot2", "--role", "manager",
                "--password-stdin", input="")
    assert empty.exit_code == 2
    assert "standard input held no password" in said(empty)


def test_password_option_still_works_but_warns(sqlite_store: Engine) -> None:
    result = run(sqlite_store, "user", "add", "--username", "old", "--role", "admin",
                 "--password", "on the command line")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: --password leaves the password in your shell "
                                    "history")
    assert authenticate(sqlite_store, "old", "on the command line") is not None
    short = run(sqlite_store, "user", "add", "--username", "x", "--role", "admin",
                "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "password must have at least 8 characters" in said(short)
    both = run(sqlite_store, "user", "add", "--username", "x", "--role", "admin",
               "--password", "abcdefghij", "--password-stdin", input="abcdefghij\n")
    assert both.exit_code == 2
    assert "give either --password or --password-stdin, not both" in said(both)


def test_user_password_changes_it_and_ends_the_sessions(store: Engine) -> None:
    user = create_user(store, "ann", PASSWORD, "manager")
    create_session(store, user)
    create_session(store, user)
    result = run(store, "user", "password", "ann", input="new secret!\nnew secret!\n")
    assert result.exit_code == 0, result.output
    assert result.stderr == "user ann: password changed; 2 session(s) ended\n"
    assert sessions_of(store, "ann") == 0
    assert authenticate(store, "ann", "new secret!") is not None
    piped = run(store, "user", "password", "ann", "--password-stdin", input="newer secret\n")
    assert piped.exit_code == 0 and "0 session(s) ended" in piped.stderr
    assert authenticate(store, "ann", "newer secret") is not None
    unknown = run(store, "user", "password", "nobody", "--password-stdin", input="whatever1\n")
    assert unknown.exit_code == 2
    assert "no user 'nobody'; `servicepulse user list` shows the users" in said(unknown)


# -- disable, enable, delete, list ------------------------------------------------------------

def test_disable_enable_delete_and_list(store: Engine) -> None:
    ann = create_user(store, "ann", PASSWORD, "agent", agent_id="a1")
    create_user(store, "lead", PASSWORD, "team_lead", team_ids=["t1", "t2"])
    create_session(store, ann)
    token = users_module.create_token(store, "ann", "read")
    assert run(store, "user", "disable", "ann").exit_code == 0
    assert sessions_of(store, "ann") == 0
    assert get_user(store, "ann").disabled
    with pytest.raises(users_module.CredentialRefused):
        user_for_token(store, token)
    listed = json.loads(run(store, "user", "list", "--format", "json").stdout)
    assert [(u["username"], u["role"], u["agent_id"], u["team_ids"], u["disabled"])
            for u in listed] == [("ann", "agent", "a1", [], True),
                                 ("lead", "team_lead", None, ["t1", "t2"], False)]
    table = run(store, "user", "list").stdout.splitlines()
    assert table[0].split() == ["username", "role", "agent", "teams", "status", "created"]
    assert table[2].split()[:5] == ["ann", "agent", "a1", "-", "disabled"]
    assert table[3].split()[:5] == ["lead", "team_lead", "-", "t1,t2", "enabled"]
    assert run(store, "user", "enable", "ann").exit_code == 0
    assert user_for_token(store, token) is not None
    refused = run(store, "user", "delete", "ann", input="n\n")
    assert refused.exit_code == 1 and get_user(store, "ann").username == "ann"
    deleted = run(store, "user", "delete", "ann", "--yes")
    assert deleted.exit_code == 0
    assert deleted.stderr == "user ann: deleted, with 0 session(s) and 1 API token(s)\n"
    assert user_for_token(store, token) is None
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(api_tokens)
                                  ).scalar_one() == 0
    assert [u["username"] for u in json.loads(
        run(store, "user", "list", "--format", "json").stdout)] == ["lead"]
    missing = run(store, "user", "disable", "ann")
    assert missing.exit_code == 2 and "no user 'ann'" in said(missing)


# -- tokens -----------------------------------------------------------------------------------

def test_token_lifetimes(sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    create_user(sqlite_store, "ann", PASSWORD, "manager")
    for expires_in, seconds in (("90d", 90 * 86400.0), ("12h", 12 * 3600.0),
                                ("2w", 14 * 86400.0), ("never", None), (None, 365 * 86400.0)):
        args = ["--expires-in", expires_in] if expires_in else []
        result = run(sqlite_store, "token", "create", "--username", "ann", "--scope", "read",
                     *args)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("sp_") and result.stdout.count("\n") == 1
        info = list_tokens(sqlite_store)[-1]
        lifetime = None if info.expires_at is None else info.expires_at - info.created_at
        assert lifetime == seconds, expires_in
    monkeypatch.setenv("SERVICEPULSE_TOKEN_LIFETIME_DAYS", "30")
    assert run(sqlite_store, "token", "create", "--username", "ann", "--scope", "read"
               ).exit_code == 0
    info = list_tokens(sqlite_store)[-1]
    assert info.expires_at is not None and info.expires_at - info.created_at == 30 * 86400.0
    monkeypatch.setenv("SERVICEPULSE_TOKEN_LIFETIME_DAYS", "0")
    assert run(sqlite_store, "token", "create", "--username", "ann", "--scope", "read"
               ).exit_code == 0
    assert list_tokens(sqlite_store)[-1].expires_at is None
    bad = run(sqlite_store, "token", "create", "--username", "ann", "--scope", "read",
              "--expires-in", "90")
    assert bad.exit_code == 2
    assert "'90' is not a lifetime: use a number with a unit" in said(bad)


def test_token_list_never_shows_a_secret_and_revoke(store: Engine) -> None:
    create_user(store, "ann", PASSWORD, "manager")
    create_user(store, "bob", PASSWORD, "admin")
    made = [run(store, "token", "create", "--username", name, "--scope", scope,
                "--expires-in", "90d").stdout.strip()
            for name, scope in (("ann", "read"), ("bob", "admin"), ("ann", "ingest"))]
    with store.connect() as connection:
        digests: list[str] = list(connection.execute(select(api_tokens.c.token_hash)
                                                      ).scalars())
    secrets = [*made, *digests, *(token.removeprefix("sp_") for token in made)]
    table = run(store, "token", "list")
    everything = run(store, "token", "list", "--format", "json")
    for output in (table.output, everything.output):
        assert not [secret for secret in secrets if secret in output]
    rows = json.loads(everything.stdout)
    assert [(r["id"], r["user"], r["scope"], r["status"], r["last_used_at"], r["revoked_at"])
            for r in rows] == [(1, "ann", "read", "active", None, None),
                               (2, "bob", "admin", "active", None, None),
                               (3, "ann", "ingest", "active", None, None)]
    assert set(rows[0]) == {"id", "user", "scope", "status", "created_at", "last_used_at",
                            "expires_at", "revoked_at"}
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "user", "scope", "status", "created", "last", "used",
                                "expires"]
    assert [line.split()[:4] for line in lines[2:]] == [
        ["1", "ann", "read", "active"], ["2", "bob", "admin", "active"],
        ["3", "ann", "ingest", "active"]]
    assert user_for_token(store, made[0]) is not None  # used now: last used is set
    revoked = run(store, "token", "revoke", "1")
    assert revoked.exit_code == 0 and revoked.stderr == "token 1 of ann (read): revoked\n"
    again = run(store, "token", "revoke", "1")
    assert again.exit_code == 0 and "already revoked on" in again.stderr
    mine = json.loads(run(store, "token", "list", "--user", "ann", "--format", "json").stdout)
    assert [(r["id"], r["status"]) for r in mine] == [(1, "revoked"), (3, "active")]
    assert mine[0]["last_used_at"] is not None and mine[0]["revoked_at"] is not None
    with pytest.raises(users_module.CredentialRefused, match="was revoked on"):
        user_for_token(store, made[0])
    unknown = run(store, "token", "revoke", "99")
    assert unknown.exit_code == 2 and "no API token with id 99" in said(unknown)
    nobody = run(store, "token", "list", "--user", "nobody")
    assert nobody.exit_code == 2 and "no user 'nobody'" in said(nobody)


def test_expiry_shows_in_the_list(sqlite_store: Engine) -> None:
    create_user(sqlite_store, "ann", PASSWORD, "manager")
    users_module.create_token(sqlite_store, "ann", "read", expires_in_s=60.0,
                              clock=lambda: time.time() - 120)
    rows = json.loads(run(sqlite_store, "token", "list", "--format", "json").stdout)
    assert [r["status"] for r in rows] == ["expired"]

"""`servicepulse serve`, `servicepulse user ...` and `servicepulse token ...`.

Scripts use `user add` and `token create`; their options and output are a contract:
`token create` prints the token alone on stdout. Passwords are asked for at the terminal
(hidden, twice) or read from standard input (`--password-stdin`), so they stay out of the
shell history; `--password` still works for old scripts but says it is unsafe. Listings never
show a token or its hash: a token is shown once, when it is created.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from servicepulse.cli.context import state

if TYPE_CHECKING:  # SQLAlchemy loads when the store opens, not at start-up
    from sqlalchemy import Engine

console = Console(stderr=True)
user_app = typer.Typer(help="Users of the web service (roles: admin, manager, team_lead, reviewer, "
                                 "agent).",
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens (scopes: read, ingest, admin).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    from servicepulse.cli.bench import bench_app

    bench_app.command("web")(bench_web)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64,
                                         help="Server processes (PostgreSQL only: SQLite "
                                              "live updates stay within one process).")] = 1,
) -> None:
    """Run the web service: dashboards, live wallboard and the API (/api/v1, /openapi.json)."""
    engine = state(ctx).engine()  # migrates the store before the first request
    run_server(engine.url.render_as_string(hide_password=False), host, port, workers)


def run_server(url: str, host: str, port: int, workers: int = 1) -> None:
    import os

    import uvicorn

    os.environ["SERVICEPULSE_DATABASE_URL"] = url
    console.print(f"ServicePulse on http://{host}:{port}/  (API docs: /docs, health: /health)")
    uvicorn.run("servicepulse.web.server:app_from_environment", factory=True, host=host,
                port=port, workers=workers, log_level="warning", access_log=False,
                timeout_graceful_shutdown=2)


PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input.")]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]


def _fail(message: str, param_hint: str | None = None) -> NoReturn:
    raise typer.BadParameter(message, param_hint=param_hint)


def _read_password(password: str | None, password_stdin: bool) -> str:
    """The new password: `--password` (unsafe: shell history), `--password-stdin`, else asked
    for twice at the terminal without echo."""
    if password is not None and password_stdin:
        _fail("give either --password or --password-stdin, not both", "--password-stdin")
    if password is not None:
        console.print("warning: --password leaves the password in your shell history and "
                      "in the process list; prefer the prompt or --password-stdin")
        return password
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            _fail("standard input held no password (one line expected)", "--password-stdin")
        return line
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _check_format(value: str) -> str:
    if value not in ("table", "json"):
        _fail(f"{value!r}: use table or json", "--format")
    return value


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(header)] + [len(row[i]) for row in rows]) for i, header in
              enumerate(headers)]
    for line in [headers, ["-" * width for width in widths], *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                     strict=True)).rstrip())


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="Login name.")],
    role: Annotated[str, typer.Option("--role",
                                      help="admin, manager, team_lead, reviewer or agent.")],
    password: Annotated[str | None, typer.Option(
        "--password", help="At least 8 characters. Unsafe: it stays in the shell history; "
                           "leave it out to be asked, or use --password-stdin.")] = None,
    password_stdin: PasswordStdin = False,
    agent: Annotated[str | None, typer.Option("--agent",
                                              help="AGENT_ID an agent user is.")] = None,
    team: Annotated[list[str] | None, typer.Option(
        "--team", help="TEAM_ID a team lead leads, or a reviewer's own team (repeat for "
                         "several).")] = None,
) -> None:
    """Add a user, or update the password and role of an existing one (a new password ends
    their sessions). Asks for the password twice unless --password-stdin is given."""
    from servicepulse.web.users import UserError, create_user

    secret = _read_password(password, password_stdin)
    try:
        user = create_user(state(ctx).engine(), username, secret, role, agent, team or [])
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    scope = f" agent {user.agent_id}" if user.agent_id else ""
    scope += f" teams {', '.join(user.team_ids)}" if user.team_ids else ""
    disabled = " (disabled)" if user.disabled else ""
    console.print(f"user {user.username}: {user.role}{scope}{disabled}")


@user_app.command("list")
def user_list(ctx: typer.Context, format_: FormatOption = "table") -> None:
    """The users: name, role, scope, whether disabled, when added."""
    from servicepulse.web.users import list_users, when

    _check_format(format_)
    found = list_users(state(ctx).engine())
    if format_ == "json":
        _print_json([{"id": u.id, "username": u.username, "role": u.role.value,
                      "agent_id": u.agent_id, "team_ids": list(u.team_ids),
                      "disabled": u.disabled, "created_at": _iso(u.created_at)}
                     for u in found])
        return
    _print_table(["username", "role", "agent", "teams", "status", "created"],
                 [[u.username, u.role.value, u.agent_id or "-", ",".join(u.team_ids) or "-",
                   "disabled" if u.disabled else "enabled", when(u.created_at) or "-"]
                  for u in found])


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="The user whose password changes.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Change a user's password (asked twice, or --password-stdin); ends their sessions.
    Their API tokens stay valid: revoke them with `token revoke` if they may have leaked."""
    from servicepulse.web.users import UserError, set_password

    secret = _read_password(None, password_stdin)
    try:
        ended = set_password(state(ctx).engine(), username, secret)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"user {username}: password changed; {ended} session(s) ended")


def _set_disabled(ctx: typer.Context, username: str, disabled: bool) -> None:
    from servicepulse.web.users import UserError, set_disabled

    try:
        set_disabled(state(ctx).engine(), username, disabled)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    if disabled:
        from servicepulse.web.services import IDENTITY_TTL_S

        console.print(f"user {username}: disabled; their sessions are ended and their API "
                      f"tokens refused (within {IDENTITY_TTL_S:g} s on running servers)")
    else:
        console.print(f"user {username}: enabled; their API tokens work again")


@user_app.command("disable")
def user_disable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Stop a user signing in; ends their sessions and refuses their API tokens."""
    _set_disabled(ctx, username, True)


@user_app.command("enable")
def user_enable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Let a disabled user sign in again (and their unexpired tokens work again)."""
    _set_disabled(ctx, username, False)


@user_app.command("delete")
def user_delete(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with their sessions and API tokens (cannot be undone)."""
    from servicepulse.web.users import UserError, delete_user, get_user

    engine = state(ctx).engine()
    try:
        get_user(engine, username)
        if not yes and not typer.confirm(f"Delete user {username} with their sessions and "
                                         "API tokens?"):
            raise typer.Exit(1)
        sessions, tokens = delete_user(engine, username)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"user {username}: deleted, with {sessions} session(s) and {tokens} API "
                  "token(s)")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="The user the token acts as.")],
    scope: Annotated[str, typer.Option("--scope", help="read, ingest or admin.")],
    expires_in: Annotated[str | None, typer.Option(
        "--expires-in", help="Lifetime: 90d, 12h, 30m, 2w, or never (default: the "
                             "token_lifetime_days setting, 365 days).")] = None,
) -> None:
    """Create an API token and print it (only its hash is stored: keep it now)."""
    from servicepulse.web.users import UserError, create_token, parse_expiry

    try:
        if expires_in is None:
            days = state(ctx).settings().token_lifetime_days
            lifetime = days * 86400.0 if days > 0 else None
        else:
            lifetime = parse_expiry(expires_in)
        token = create_token(state(ctx).engine(), username, scope, lifetime)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    format_: FormatOption = "table",
) -> None:
    """The API tokens: id, user, scope, status and dates (never the token itself)."""
    import time

    from servicepulse.web.users import UserError, list_tokens, when

    _check_format(format_)
    try:
        found = list_tokens(state(ctx).engine(), user)
    except UserError as exc:
        raise typer.BadParameter(str(exc), param_hint="--user") from None
    now = time.time()
    if format_ == "json":
        _print_json([{"id": t.id, "user": t.username, "scope": t.scope,
                      "status": t.status(now), "created_at": _iso(t.created_at),
                      "last_used_at": _iso(t.last_used_at), "expires_at": _iso(t.expires_at),
                      "revoked_at": _iso(t.revoked_at)} for t in found])
        return
    _print_table(["id", "user", "scope", "status", "created", "last used", "expires"],
                 [[str(t.id), t.username, t.scope, t.status(now), when(t.created_at) or "-",
                   when(t.last_used_at) or "never", when(t.expires_at) or "never"]
                  for t in found])


@token_app.command("revoke")
def token_revoke(ctx: typer.Context,
                 token_id: Annotated[int, typer.Argument(metavar="ID",
                                                         help="The id `token list` shows.")]
                 ) -> None:
    """Revoke an API token: it answers 401 from then on (within a second on running
    servers). The row stays, listed as revoked."""
    from servicepulse.web.users import UserError, revoke_token, when

    try:
        token, revoked = revoke_token(state(ctx).engine(), token_id)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    if revoked:
        console.print(f"token {token.id} of {token.username} ({token.scope}): revoked")
    else:
        console.print(f"token {token.id} of {token.username}: already revoked on "
                      f"{when(token.revoked_at)}")


def bench_web(
    interactions: Annotated[int, typer.Option(help="Interactions in each store.")] = 1_000_000,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent clients.")] = 50,
    requests: Annotated[int, typer.Option(min=1, help="Requests per client per view.")] = 40,
    backends: Annotated[str, typer.Option(help="Comma-separated: sqlite,postgresql.")]
    = "sqlite,postgresql",
    postgres_url: Annotated[str, typer.Option(help="Server for the PostgreSQL store.")]
    = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ingest_batches: Annotated[int, typer.Option(min=1)] = 5,
    batch_size: Annotated[int, typer.Option(min=1)] = 5000,
    live_samples: Annotated[int, typer.Option(min=1)] = 10,
) -> None:
    """p50/p95 of the overview, team page and KPI API under concurrent clients, ingest
    throughput through the API and posted-record-to-wallboard latency; into BENCHMARKS.md."""
    from servicepulse.bench.web import run_web_bench

    typer.echo(run_web_bench(interactions, clients, requests,
                             [b.strip() for b in backends.split(",") if b.strip()],
                             postgres_url, ingest_batches, batch_size, live_samples))


DEMO_USERNAME = "demo"
DEMO_PASSWORD = "servicepulse-demo"


def serve_demo(engine: Engine, port: int, feeder: Any = None) -> None:
    """The last step of `servicepulse demo`: a demo admin user, the address, the server;
    with a `feeder` (servicepulse.simulate.live.Feeder), the simulated centre keeps working
    while the server runs (started here, stopped when the server stops)."""
    from servicepulse.web.users import create_user

    create_user(engine, DEMO_USERNAME, DEMO_PASSWORD, "admin")
    url = engine.url.render_as_string(hide_password=False)
    console.print(f"\nDashboard: http://127.0.0.1:{port}/  — log in as [bold]{DEMO_USERNAME}[/]"
                  f" / [bold]{DEMO_PASSWORD}[/] (admin). Ctrl+C stops it.")
    if feeder is not None:
        console.print("The centre keeps working: new contacts, agent states and surveys are "
                      "imported every few seconds (a line a minute says what).")
        feeder.start()
    try:
        run_server(url, "127.0.0.1", port)
    finally:
        if feeder is not None:
            feeder.stop()

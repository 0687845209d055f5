"""`servicepulse serve`, `servicepulse user add`, `servicepulse token create`.

Scripts use `user add` and `token create`; their options and output are a contract:
`token create` prints the token alone on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from servicepulse.cli.context import state

console = Console(stderr=True)
user_app = typer.Typer(help="Users of the web service (roles: admin, manager, team_lead, agent).",
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


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="Login name.")],
    password: Annotated[str, typer.Option("--password", help="At least 8 characters.")],
    role: Annotated[str, typer.Option("--role", help="admin, manager, team_lead or agent.")],
    agent: Annotated[str | None, typer.Option("--agent",
                                              help="AGENT_ID an agent user is.")] = None,
    team: Annotated[list[str] | None, typer.Option(
        "--team", help="TEAM_ID a team lead leads (repeat for several).")] = None,
) -> None:
    """Add a user, or update the password and role of an existing one."""
    from servicepulse.web.users import UserError, create_user

    try:
        user = create_user(state(ctx).engine(), username, password, role, agent, team or [])
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    scope = f" agent {user.agent_id}" if user.agent_id else ""
    scope += f" teams {', '.join(user.team_ids)}" if user.team_ids else ""
    console.print(f"user {user.username}: {user.role}{scope}")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="The user the token acts as.")],
    scope: Annotated[str, typer.Option("--scope", help="read, ingest or admin.")],
) -> None:
    """Create an API token and print it (only its hash is stored: keep it now)."""
    from servicepulse.web.users import UserError, create_token

    try:
        token = create_token(state(ctx).engine(), username, scope)
    except UserError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)


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


def serve_demo(engine: Engine, port: int) -> None:
    """The last step of `servicepulse demo`: a demo admin user, the address, the server."""
    from servicepulse.web.users import create_user

    create_user(engine, DEMO_USERNAME, DEMO_PASSWORD, "admin")
    url = engine.url.render_as_string(hide_password=False)
    console.print(f"\nDashboard: http://127.0.0.1:{port}/  — log in as [bold]{DEMO_USERNAME}[/]"
                  f" / [bold]{DEMO_PASSWORD}[/] (admin). Ctrl+C stops it.")
    run_server(url, "127.0.0.1", port)

"""`servicepulse`: the command line. Each area of the product registers its commands here.

Global option: `--db URL` (else SERVICEPULSE_DATABASE_URL, else ./servicepulse.db).
Exit codes: 0 success, 2 usage error, 3 import finished with quarantined rows.
"""

from __future__ import annotations

from typing import Annotated

import typer

from servicepulse.cli.context import CliState

app = typer.Typer(
    name="servicepulse",
    help="ServicePulse: customer-service KPIs, scorecards and staffing from every contact.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (sqlite:///FILE or postgresql+psycopg://...).",
                     envvar="SERVICEPULSE_DATABASE_URL", show_envvar=True),
    ] = None,
) -> None:
    ctx.obj = CliState(db_url=db)


def _register() -> None:
    # Imported here so that each command module can import `app` helpers without cycles.
    from servicepulse.cli import bench, demo, ingest, staffing, store_commands

    store_commands.register(app)
    ingest.register(app)
    demo.register(app)
    staffing.register(app)
    bench.register(app)
    from servicepulse.cli import insights; insights.register(app)  # noqa: E702, I001
    from servicepulse.cli import web; web.register(app)  # noqa: E702, I001
    from servicepulse.cli import export, kpi; kpi.register(app); export.register(app)  # noqa: E702, I001
    from servicepulse.cli import simulate; simulate.register(app)  # noqa: E702, I001
    from servicepulse.cli import scorecards; scorecards.register(app)  # noqa: E702, I001
    from servicepulse.cli import verify; verify.register(app)  # noqa: E702, I001


_register()


def run() -> None:
    """The console entry point: known user errors become a message and exit status 2."""
    from servicepulse.config import ConfigError

    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}\nFix the configuration (see docs/configuration.md).", err=True)
        raise SystemExit(2) from None


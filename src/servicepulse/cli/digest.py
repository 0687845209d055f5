"""`servicepulse digest send|history`: team digests by e-mail and webhook (docs/digests.md).

The server sends them on schedule; this command sends them by hand (a missed week, a new
team), shows what one would hold (`--dry-run`), and tests the mail settings (`--to`: the
digest to one address, nothing recorded). Without `--to`, a period's digest already sent is
not sent again, whoever sent it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from servicepulse.cli.context import parse_date, state

digest_app = typer.Typer(help="Team digests by e-mail and webhook (docs/digests.md).",
                         no_args_is_help=True)
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]
PERIODS = {"week": "weekly", "day": "daily"}


def register(app: typer.Typer) -> None:
    app.add_typer(digest_app, name="digest")


def _format(value: str) -> str:
    if value not in ("table", "json"):
        raise typer.BadParameter(f"{value!r}: use table or json", param_hint="--format")
    return value


@digest_app.command("send")
def send(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option(
        "--team", help="This team only (default: the configured teams).")] = None,
    period: Annotated[str | None, typer.Option(
        "--period", help="week or day (default: the configured cadence).")] = None,
    day: Annotated[str | None, typer.Option(
        "--date", help="Send the digest due on this day (YYYY-MM-DD): the week (or day) "
                       "before it. Default: the latest one due now.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Build the digests and say where they would go; send nothing.")
    ] = False,
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="Send the e-mail to this address only (repeatable), to test the mail "
                     "settings: no webhook, nothing recorded.")] = None,
    format_: FormatOption = "table",
) -> None:
    """Send each team's digest for the latest period due, once (a failed one is tried
    again)."""
    from servicepulse.scorecards.alerts import AlertError
    from servicepulse.scorecards.digest import DigestError, send_due

    _format(format_)
    if period is not None and period not in PERIODS:
        raise typer.BadParameter(f"{period!r}: use week or day", param_hint="--period")
    for address in to or []:
        if "@" not in address or any(c.isspace() for c in address):
            raise typer.BadParameter(f"{address!r} is not an e-mail address",
                                     param_hint="--to")
    when = parse_date(day, "--date")
    # the table below says what failed and what to do: not the server's log line as well
    logging.getLogger("servicepulse.digests").setLevel(logging.ERROR)
    settings = state(ctx).settings()
    engine = state(ctx).engine()
    try:
        outcomes = send_due(engine, settings, team=team,
                            cadence=PERIODS[period] if period else None, day=when,
                            to=list(to) if to else None, dry_run=dry_run, retry_now=True)
    except (DigestError, AlertError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    rows = [outcome.as_json() for outcome in outcomes]
    if format_ == "json":
        typer.echo(json.dumps(rows, indent=2))
    else:
        _print_outcomes(rows, dry_run)
    if any(row["status"] == "failed" for row in rows):
        raise typer.Exit(1)


def _print_outcomes(rows: list[dict[str, Any]], dry_run: bool) -> None:
    console = Console()
    if not rows:
        console.print("No team to send a digest to: name recipients or webhooks under "
                      "[digests] in the configuration (docs/digests.md), or give --team "
                      "and --to.", markup=False)
        return
    table = Table(title="Digests, periods end exclusive" + (" (dry run: nothing sent)"
                                                          if dry_run else ""))
    for column in ("team", "from", "to", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("e-mail to", overflow="fold")
    table.add_column("webhooks", justify="right")
    problems = []
    for row in rows:
        style = {"sent": "green", "failed": "red"}.get(row["status"], "")
        table.add_row(row["team"], row["period_start"], row["period_end"],
                      f"[{style}]{row['status']}[/]" if style else row["status"],
                      escape(", ".join(row["recipients"]) or "–"), str(len(row["hooks"])))
        problems += [f"{row['team']} {what}: {status}" for what, status in (
            ("e-mail", row["email"]), ("webhooks", row["webhooks"]))
            if status not in (None, "sent")]
    console.print(table)
    for problem in problems:
        console.print(escape(problem), overflow="fold")


@digest_app.command("history")
def history(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    format_: FormatOption = "table",
) -> None:
    """The digests sent (or tried), newest period first, with what went where."""
    from servicepulse.scorecards.digest import deliveries

    _format(format_)
    rows = deliveries(state(ctx).engine(), limit)
    for row in rows:
        for key in ("claimed_at", "sent_at"):
            row[key] = (datetime.fromtimestamp(row[key], UTC).isoformat(timespec="seconds")
                        if row[key] is not None else None)
    if format_ == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        Console().print("No digest sent yet (see `servicepulse digest send --help`).")
        return
    table = Table(title="Digest deliveries (periods end exclusive)")
    for column in ("team", "cadence", "from", "to", "status", "tries", "sent at (UTC)"):
        table.add_column(column, no_wrap=True)
    problems = []
    for row in rows:
        table.add_row(row["team"], row["cadence"], row["period_start"], row["period_end"],
                      row["status"], str(row["attempts"]),
                      (row["sent_at"] or "–")[:16].replace("T", " "))
        problems += [f"{row['team']} {row['period_start']} {what}: {status}" for what, status
                     in (("e-mail", row["email_status"]), ("webhooks", row["webhook_status"]))
                     if status not in (None, "sent")]
    console = Console()
    console.print(table)
    for problem in problems:
        console.print(escape(problem), overflow="fold")

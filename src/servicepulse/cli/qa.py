"""`servicepulse qa ...`: sample conversations for review, a reviewer's queue, calibration.

- `qa assign --reviewer USER`: per agent, at least `--per-agent` conversations of a week (the
  week of `--week`, default the newest conversation's), stratified by channel, drawn with
  `--seed`; `--exclude-own-team` leaves out the reviewer's own teams (a reviewer's or a team
  lead's `--team`s). A team lead samples only their teams. Stored as the reviewer's
  assignments.
- `qa queue --reviewer USER`: the open assignments (`--all` with the reviewed ones).
- `qa calibration [--from --to] [--form F]`: the reviewers' agreement on calibration reviews.

Every command takes `--format table|json`; JSON is the same document as the web API's.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servicepulse.cli.context import parse_date, state

qa_app = typer.Typer(help="Quality reviews: sample conversations, reviewers' queues, "
                          "calibration.", no_args_is_help=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]
ReviewerOption = Annotated[str, typer.Option(
    "--reviewer", help="Username of the reviewer (a user with role reviewer, team_lead, "
                       "manager or admin).")]


def register(app: typer.Typer) -> None:
    app.add_typer(qa_app, name="qa")


def _console() -> Console:
    # made per output, so that a table reads the terminal's width when it prints
    return Console()


def _table(title: str | None = None) -> Table:
    # the plain style of the other commands' tables: fits 80 columns where boxes would not
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0),
                 pad_edge=False)


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _reviewer(engine: Any, username: str) -> Any:
    from servicepulse.web.users import UserError, get_user

    try:
        user = get_user(engine, username)
    except UserError as exc:
        raise typer.BadParameter(str(exc), param_hint="--reviewer") from None
    if not user.reviews:
        raise typer.BadParameter(f"{username!r} is an agent, and agents do not review; give "
                                 "a user with role reviewer, team_lead, manager or admin",
                                 param_hint="--reviewer")
    return user


@qa_app.command("assign")
def assign_command(
    ctx: typer.Context,
    reviewer: ReviewerOption,
    week: Annotated[str | None, typer.Option(
        "--week", help="A day (YYYY-MM-DD) of the week to sample, Monday to Sunday UTC; "
                       "default: the last whole week up to the newest conversation.")] = None,
    per_agent: Annotated[int, typer.Option(
        "--per-agent", min=1, max=100, help="Conversations per agent (at least; all of an "
                                            "agent's when they had fewer).")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="The same seed draws the same "
                                                     "sample.")] = 1,
    exclude_own_team: Annotated[bool, typer.Option(
        "--exclude-own-team", help="Leave out the conversations of the reviewer's own "
                                   "teams.")] = False,
    form: Annotated[str | None, typer.Option("--form", help="QA form id to review them "
                                                            "with.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this "
                                                                  "channel.")] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Sample a week's conversations for a reviewer: per agent, stratified by channel."""
    from servicepulse.qa.assignments import AssignmentError, assign, latest_week
    from servicepulse.web.users import UserRole

    engine = state(ctx).engine()
    user = _reviewer(engine, reviewer)
    day = parse_date(week, "--week") or latest_week(engine)
    if day is None:
        raise typer.BadParameter("the store holds no conversations: import some first",
                                 param_hint="--week")
    if form is not None:
        _check_form(engine, form)
    if exclude_own_team and not user.team_ids:
        raise typer.BadParameter(f"{reviewer!r} has no team to leave out; give the user "
                                 "their team with `servicepulse user add ... --team TEAM_ID`",
                                 param_hint="--exclude-own-team")
    within = list(user.team_ids) if user.role is UserRole.team_lead else None
    if within is not None and exclude_own_team:
        raise typer.BadParameter("a team lead samples only their own teams, so leaving them "
                                 "out leaves nothing", param_hint="--exclude-own-team")
    try:
        result = assign(engine, user.username, day, per_agent, seed,
                        exclude_teams=list(user.team_ids) if exclude_own_team else [],
                        within_teams=within, form_id=form, channel=channel,
                        assigned_by="command line")
    except AssignmentError as exc:
        raise typer.BadParameter(str(exc)) from None
    if output is OutputFormat.json:
        _print_json(result.model_dump(mode="json"))
        return
    console = _console()
    console.print(f"Assigned to {result.reviewer}: the week of {result.week} (Monday, UTC), "
                  f"{per_agent} per agent, seed {seed}", soft_wrap=True)
    if not result.agents:
        console.print("no conversations to sample: none handled by an agent that week is "
                      "left unreviewed and unassigned (try another --week)", soft_wrap=True)
        return
    table = _table()
    for column in ("agent", "conversations", "assigned"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for sample in result.agents:
        short = " (all)" if sample.assigned == sample.candidates else ""
        table.add_row(sample.agent_id, str(sample.candidates), f"{sample.assigned}{short}")
    console.print(table)
    console.print(f"{len(result.assignments)} conversation(s) assigned; "
                  f"`servicepulse qa queue --reviewer {result.reviewer}` lists them",
                  soft_wrap=True)


def _check_form(engine: Any, form: str) -> None:
    from sqlalchemy import select

    from servicepulse.store.tables import qa_forms

    with engine.connect() as connection:
        known = connection.execute(select(qa_forms.c.id).where(qa_forms.c.id == form)).first()
    if known is None:
        raise typer.BadParameter(f"no QA form {form!r}; import it first (type qa_form)",
                                 param_hint="--form")


@qa_app.command("queue")
def queue_command(
    ctx: typer.Context,
    reviewer: ReviewerOption,
    include_done: Annotated[bool, typer.Option("--all", help="With the reviewed "
                                                             "ones.")] = False,
    output: FormatOption = OutputFormat.table,
) -> None:
    """A reviewer's open assignments, oldest week first."""
    from servicepulse.qa.assignments import queue

    engine = state(ctx).engine()
    user = _reviewer(engine, reviewer)
    found = queue(engine, user.username, include_done=include_done)
    if output is OutputFormat.json:
        _print_json([a.model_dump(mode="json") for a in found])
        return
    console = _console()
    if not found:
        console.print(f"{user.username} has no {'' if include_done else 'open '}assignments; "
                      "`servicepulse qa assign` samples some")
        return
    table = _table(f"Review queue of {user.username}")
    for column in ("week", "conversation", "agent", "channel", "started", "form", "status"):
        table.add_column(column, no_wrap=column != "agent")
    for a in found:
        table.add_row(a.week.isoformat(), a.interaction_id, a.agent_name or a.agent_id,
                      a.channel,
                      a.created_at.strftime("%Y-%m-%d %H:%M") if a.created_at else "-",
                      a.form_id or "-", "reviewed" if a.reviewed else "open")
    console.print(table)


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@qa_app.command("calibration")
def calibration_command(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD) of the "
                                                             "reviews' times.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Day after the last "
                                                        "(exclusive).")] = None,
    form: Annotated[str | None, typer.Option("--form", help="Only this QA form's "
                                                            "reviews.")] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """How alike reviewers grade the calibration reviews (Krippendorff's alpha, interval)."""
    from servicepulse.qa.calibration import calibration_report

    first, last = parse_date(from_, "--from"), parse_date(to, "--to")
    if first is not None and last is not None and last <= first:
        raise typer.BadParameter(f"--to ({last}) must be after --from ({first}); --to is "
                                 "exclusive", param_hint="--to")
    engine = state(ctx).engine()
    if form is not None:
        _check_form(engine, form)
    report = calibration_report(engine, first, last, form)
    if output is OutputFormat.json:
        _print_json(report.model_dump(mode="json"))
        return
    console = _console()
    if report.reviews == 0:
        console.print("no calibration reviews (qa_review with calibration: true) "
                      f"{_window_text(first, last)}", soft_wrap=True)
        return
    reviewers = [r.reviewer_id for r in report.reviewers]
    per_interaction = _table(f"Calibration {_window_text(first, last)}: IQS per "
                             "interaction")
    per_interaction.add_column("interaction")
    per_interaction.add_column("agent")
    for name in reviewers:
        per_interaction.add_column(name, justify="right")
    per_interaction.add_column("consensus", justify="right")
    per_interaction.add_column("spread", justify="right")
    for row in report.interactions:
        per_interaction.add_row(row.interaction_id, row.agent_id or "-",
                                *(_number(row.iqs.get(name)) for name in reviewers),
                                _number(row.consensus), _number(row.spread))
    console.print(per_interaction)
    graders = _table("Reviewers against the consensus")
    for column in ("reviewer", "reviews", "compared", "mean deviation",
                   "mean absolute deviation"):
        graders.add_column(column, justify="left" if column == "reviewer" else "right")
    for grader in report.reviewers:
        graders.add_row(grader.reviewer_id, str(grader.reviews), str(grader.compared),
                        _signed(grader.mean_deviation),
                        _number(grader.mean_absolute_deviation))
    console.print(graders)
    agreement = _table("Agreement (Krippendorff's alpha, interval)")
    for column in ("scores", "alpha", "values compared", "note"):
        agreement.add_column(column, justify="right" if column in ("alpha",
                                                                   "values compared")
                             else "left")
    agreement.add_row("IQS", _number(report.alpha, 3), str(report.pairable),
                      report.alpha_note or "")
    for category in report.categories:
        agreement.add_row(category.category, _number(category.alpha, 3),
                          str(category.pairable), category.note or "")
    console.print(agreement)
    console.print("alpha: 1 perfect agreement, 0 no better than chance; 0.8 and above is "
                  "usually taken as reliable. Mean deviation above 0: grades more "
                  "generously than the other reviewers.", soft_wrap=True)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def _window_text(first: date | None, last: date | None) -> str:
    if first is None and last is None:
        return "(all time)"
    if last is None:
        return f"(from {first})"
    if first is None:
        return f"(before {last})"
    return f"({first} to {last}, {last} not included)"

"""Scorecard commands: `targets show`, `scorecard`, `report`, `leaderboard`, `alerts ...`,
`health` (docs/scorecards.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from servicepulse.cli.as_of import as_of_line
from servicepulse.cli.context import parse_date, state
from servicepulse.errors import InvalidRequest

if TYPE_CHECKING:
    from servicepulse.config import Settings

FromOption = Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")]
ToOption = Annotated[str | None, typer.Option(
    "--to", help="Day after the last (YYYY-MM-DD, exclusive).")]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]

targets_app = typer.Typer(help="KPI targets: what applies and which level set it.",
                          no_args_is_help=True)
alerts_app = typer.Typer(help="Alert rules, checks and history.", no_args_is_help=True)




def _format(value: str) -> str:
    if value not in ("table", "json"):
        raise typer.BadParameter(f"{value!r}: use table or json", param_hint="--format")
    return value


def _settings(ctx: typer.Context) -> Settings:
    """The configuration, loaded once by the command line's start (cli/context.py)."""
    return state(ctx).settings()


def _zone(ctx: typer.Context) -> str:
    return state(ctx).settings().timezone


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _text(entry: dict[str, Any], key: str, fallback: Any) -> str:
    """A value as the scorecard words it (with its unit), else the bare number."""
    text = entry.get(key)
    return str(text) if text else _fmt(fallback)


def _interval(ci: Any) -> str:
    return f"{_fmt(ci[0])}–{_fmt(ci[1])}" if ci else "–"


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
    app.add_typer(alerts_app, name="alerts")
    app.command("scorecard")(scorecard)
    app.command("report")(report)
    app.command("leaderboard")(leaderboard)
    app.command("health")(health)
    from servicepulse.cli.bench import bench_app

    bench_app.command("scorecards")(bench_scorecards)


@targets_app.command("show")
def targets_show(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", help="Team id.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Agent id.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Role (without an agent).")] = None,
    format_: FormatOption = "table",
) -> None:
    """The targets that apply to a team, an agent or a role, and which level set each."""
    from servicepulse.kpi.targets import TargetError, resolve_targets
    from servicepulse.scorecards.scorecard import load_members

    _format(format_)
    if team and agent:
        raise typer.BadParameter("give --team or --agent, not both", param_hint="--team")
    if agent is not None:
        members = load_members(state(ctx).engine())
        if agent not in members:
            raise typer.BadParameter(f"agent {agent!r} is not in the store", param_hint="--agent")
        role, team = members[agent].role, members[agent].team
    try:
        resolved = resolve_targets(_settings(ctx), role=role, team=team)
    except TargetError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    targets = resolved.as_json()
    document = {"agent": agent, "role": role, "team": team, "targets": targets}
    if format_ == "json":
        _print_json(document)
        return
    who = ", ".join(f"{k} {v}" for k, v in (("agent", agent), ("role", role), ("team", team)) if v)
    table = Table(title=f"Targets for {who or 'the organisation'}")
    for column in ("KPI", "channel", "target", "weight", "set by"):
        table.add_column(column)
    for kpi, entry in targets.items():
        table.add_row(kpi, "", entry["describe"], _fmt(entry["weight"]), entry["set_by"])
        for channel, sub in entry.get("channels", {}).items():
            table.add_row("", channel, sub["describe"], _fmt(sub["weight"]), sub["set_by"])
    Console().print(table)


def scorecard(
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", help="Agent id.")] = None,
    team: Annotated[str | None, typer.Option("--team", help="Team id.")] = None,
    from_: FromOption = None,
    to: ToOption = None,
    format_: FormatOption = "table",
) -> None:
    """Role scorecards: value, interval, target, attainment, status, balanced score, flags."""
    from servicepulse.scorecards.scorecard import build_scorecards

    _format(format_)
    if (agent is None) == (team is None):
        raise typer.BadParameter("give exactly one of --agent ID or --team ID",
                                 param_hint="--agent/--team")
    started = time.time()  # the figures are as of the computation's start
    # an unknown agent or team is a NotFound (exit 4), a bad window an InvalidRequest
    # (exit 2): cli/main answers them; anything else is a bug, reported with a reference
    document = build_scorecards(state(ctx).engine(), agent=agent, team=team,
                                start=parse_date(from_, "--from"), end=parse_date(to, "--to"),
                                settings=_settings(ctx))
    if format_ == "json":
        _print_json(document)
        return
    console = Console()
    for card in document["agents"]:
        console.print(f"[bold]{card['agent']} {card['name']}[/bold] ({card['role']}, team "
                      f"{card['team']}): balanced score {_fmt(card['balanced_score'])}, "
                      f"{document['from']} to {document['to']} (exclusive)", overflow="fold")
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0),
                      pad_edge=False, header_style="bold")
        table.add_column("KPI", overflow="fold")
        table.add_column("value", justify="right", overflow="fold")
        table.add_column("95% interval", overflow="fold")
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("target", overflow="fold")
        table.add_column("status", no_wrap=True)
        reasons: list[str] = []
        for name, entry in card["kpis"].items():
            label = entry.get("label") or name
            table.add_row(label, _text(entry, "value_text", entry["value"]),
                          entry.get("interval_text") or _interval(entry.get("ci")),
                          _fmt(entry["n"]), _text(entry, "target_text", entry.get("target")),
                          entry["status"] + (f" ({entry['unavailable']})"
                                             if entry.get("unavailable") else ""))
            channels = entry.get("channels") or {}
            # one channel: the KPI's row says it all; several: a row each, own target
            for channel, sub in (channels.items() if len(channels) > 1 else ()):
                table.add_row(f"  {channel}", _text(sub, "value_text", sub.get("value")),
                              sub.get("interval_text") or _interval(sub.get("ci")),
                              _fmt(sub.get("n")), _text(sub, "target_text", sub.get("target")),
                              sub.get("status") or "–")
            if entry.get("reason"):
                reasons.append(f"{label}: {entry['reason']}")
        console.print(table)
        for reason in reasons:
            console.print(f"  {reason}", overflow="fold", highlight=False)
        for flag in card["flags"]:
            console.print(f"  [bold]{flag['flag']}[/bold]: {flag['evidence']}")
    team_doc = document["team"]
    console.print(f"Team {team_doc['team']} ({team_doc['name']}): {team_doc['agents']} agents, "
                  f"mean balanced score {_fmt(team_doc['balanced_score'])}; flags: "
                  + (", ".join(f"{flag.replace('_', ' ')} {count}"
                               for flag, count in team_doc["flags"].items())
                     if team_doc["flags"] else "none"), overflow="fold")
    typer.echo(as_of_line(started, _zone(ctx)))


def report(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="agent or team.")],
    identifier: Annotated[str, typer.Argument(metavar="ID", help="Agent or team id.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.html or FILE.pdf.")],
    from_: FromOption = None,
    to: ToOption = None,
) -> None:
    """A coaching report (agent) or a team-lead digest (team) as HTML or PDF with charts."""
    from servicepulse.scorecards.coaching import write_report

    if kind not in ("agent", "team"):
        raise typer.BadParameter(f"{kind!r}: use agent or team", param_hint="KIND")
    if out.suffix.lower() not in (".html", ".pdf"):
        raise typer.BadParameter(f"{out}: the file name must end in .html or .pdf",
                                 param_hint="--out")
    write_report(state(ctx).engine(), kind, identifier, out, start=parse_date(from_, "--from"),
                 end=parse_date(to, "--to"), settings=_settings(ctx))
    typer.echo(f"wrote {out}")


def leaderboard(
    ctx: typer.Context,
    team: Annotated[str | None, typer.Option("--team", help="Team id (default: all).")] = None,
    from_: FromOption = None,
    to: ToOption = None,
    format_: FormatOption = "table",
) -> None:
    """Points, badges and a ranking of agents with enough data (ties where not significant)."""
    from servicepulse.scorecards.gamification import build_leaderboard

    _format(format_)
    started = time.time()
    document = build_leaderboard(state(ctx).engine(), team=team, start=parse_date(from_, "--from"),
                                 end=parse_date(to, "--to"), settings=_settings(ctx))
    if format_ == "json":
        _print_json(document)
        return
    # ranks are within a role (a team lead is not ranked against agents): one table a role
    roles: dict[str, list[dict[str, Any]]] = {}
    for row in document["ranked"]:
        roles.setdefault(str(row.get("role") or "agents"), []).append(row)
    console = Console()
    console.print(f"Leaderboard {document['from']} to {document['to']} (exclusive); rank "
                  "within each role, = marks a tie (the difference is not significant at 95%)",
                  overflow="fold")
    for role, rows in roles.items():
        table = Table(title=role.replace("_", " "), title_justify="left")
        for column in ("rank", "agent", "team", "balanced score", "points", "badges"):
            table.add_column(column, justify="right" if column in ("rank", "balanced score",
                                                                     "points") else "left",
                             overflow="fold")
        for row in sorted(rows, key=lambda item: (item["rank"], item["agent"])):
            table.add_row(("=" if row["tied"] else "") + str(row["rank"]),
                          f"{row['agent']} {row['name']}", str(row["team"]),
                          _fmt(row["balanced_score"]), str(row["points"]),
                          ", ".join(b["badge"].replace("_", " ") for b in row["badges"]))
        console.print(table)
    if document["unranked"]:
        typer.echo("Not ranked (not enough data): " + ", ".join(
            f"{row['agent']} ({row['reason']})" for row in document["unranked"]))
    typer.echo(as_of_line(started, _zone(ctx)))


def health(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option("--customer", help="One account.")] = None,
    at_risk: Annotated[bool, typer.Option("--at-risk", help="Only accounts at risk.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show.")] = 20,
    to: ToOption = None,
    format_: FormatOption = "table",
) -> None:
    """Customer health: score 0-100 per account with the reasons, accounts at risk first."""
    from servicepulse.scorecards.health import customer_health

    _format(format_)
    started = time.time()
    document = customer_health(state(ctx).engine(), end=parse_date(to, "--to"),
                               customers=[customer] if customer else None,
                               settings=_settings(ctx))
    accounts = [a for a in document["accounts"] if a["at_risk"] or not at_risk][:limit]
    if format_ == "json":
        _print_json({**document, "accounts": accounts})
        return
    # the window's end is exclusive; without history before the window there is no contact
    # trend (never "up from 0" for every account): say so under the table
    table = Table(title=f"Customer health, window {document['from']} – {document['to']} "
                        "(exclusive)", caption=document.get("history_note"))
    for column in ("customer", "score", "at risk", "reasons"):
        table.add_column(column)
    for account in accounts:
        table.add_row(f"{account['customer']} {account['name'] or ''}",
                      _fmt(account["score"]), "yes" if account["at_risk"] else "",
                      "; ".join(account["reasons"]) or "–")
    Console().print(table)
    typer.echo(as_of_line(started, _zone(ctx)))


# --- alerts ----------------------------------------------------------------------------------


@alerts_app.command("add")
def alerts_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Rule name (replaces a stored rule of that name).")],
    kpi: Annotated[str, typer.Option("--kpi", help="KPI name, e.g. csat.")],
    scope: Annotated[str, typer.Option(
        "--scope", help="organisation, team:ID, agent:ID or role:ROLE.")] = "organisation",
    per_agent: Annotated[bool, typer.Option(
        "--per-agent", help="Check each agent of the scope apart.")] = False,
    condition: Annotated[str, typer.Option(
        "--condition", help="target (the target misses), below or above.")] = "target",
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="For below/above.")] = None,
    window_days: Annotated[int, typer.Option("--window-days", help="Days up to today.")] = 7,
    minimum_sample: Annotated[int | None, typer.Option(
        "--minimum-sample", help="Below it the rule says nothing (default: the setting).")
    ] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="URL to POST to.")] = None,
    email: Annotated[list[str] | None, typer.Option("--email", help="Address (repeat).")
                     ] = None,
) -> None:
    """Store an alert rule."""
    from servicepulse.scorecards.alerts import AlertError, AlertRule, add_rule

    try:
        rule = AlertRule(name=name, kpi=kpi, scope=scope, per_agent=per_agent,
                         condition=condition,  # type: ignore[arg-type]  # checked by the rule
                         threshold=threshold, window_days=window_days,
                         minimum_sample=minimum_sample, webhook=webhook,
                         email=tuple(email or ()))
    except AlertError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    add_rule(state(ctx).engine(), rule)
    typer.echo(f"stored alert rule {name}")


@alerts_app.command("list")
def alerts_list(ctx: typer.Context, format_: FormatOption = "table") -> None:
    """Alert rules from the configuration and the store."""
    from servicepulse.scorecards.alerts import all_rules

    _format(format_)
    rules = [rule.as_json() for rule in all_rules(state(ctx).engine(), _settings(ctx))]
    if format_ == "json":
        _print_json(rules)
        return
    table = Table(title="Alert rules")
    for column in ("name", "kpi", "scope", "condition", "window", "deliver to", "from"):
        table.add_column(column)
    for rule in rules:
        condition = rule["condition"] + (f" {rule['threshold']:g}"
                                         if rule["threshold"] is not None else "")
        table.add_row(rule["name"], rule["kpi"],
                      rule["scope"] + (" per agent" if rule["per_agent"] else ""), condition,
                      f"{rule['window_days']} d",
                      ", ".join([*([rule["webhook"]] if rule["webhook"] else []),
                                 *rule["email"]]) or "–", rule["origin"])
    Console().print(table)


@alerts_app.command("remove")
def alerts_remove(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Remove a stored alert rule (rules in the configuration are edited there)."""
    from servicepulse.scorecards.alerts import remove_rule

    if not remove_rule(state(ctx).engine(), name):
        typer.echo(f"error: no stored alert rule {name!r} (see `servicepulse alerts list`)",
                   err=True)
        raise typer.Exit(2)
    typer.echo(f"removed alert rule {name}")


@alerts_app.command("run")
def alerts_run(
    ctx: typer.Context,
    loop: Annotated[bool, typer.Option("--loop", help="Keep running as the scheduler.")
                    ] = False,
    interval: Annotated[str, typer.Option(
        "--interval", help="Time between full checks with --loop: 5m, 1h or seconds.")
    ] = "5m",
    poll: Annotated[float, typer.Option(
        "--poll", help="Seconds between checks of rules queued by imports with --loop.")
    ] = 10.0,
    day: Annotated[str | None, typer.Option(
        "--date", help="Check as of this day (YYYY-MM-DD; default today).")] = None,
    format_: FormatOption = "table",
) -> None:
    """Check every alert rule now (or keep checking with --loop) and deliver notices."""
    import time

    from servicepulse.scorecards.alerts import AlertError, check_pending, check_rules
    from servicepulse.workforce.defaults import IntervalError, parse_interval

    _format(format_)
    try:
        interval_s = parse_interval(interval)
    except IntervalError as error:
        raise typer.BadParameter(str(error), param_hint="--interval") from None
    engine = state(ctx).engine()
    today = parse_date(day, "--date")
    try:
        settings = _settings(ctx)
        summary = check_rules(engine, settings, today=today)
        _print_check(summary.as_json(), format_)
        next_full = time.monotonic() + interval_s
        while loop:
            time.sleep(min(poll, interval_s))
            if time.monotonic() >= next_full:
                summary = check_rules(engine, settings, today=today)
                next_full = time.monotonic() + interval_s
            else:
                summary = check_pending(engine, settings, today=today)
            if summary.checked or summary.delivered or summary.failed:
                _print_check(summary.as_json(), format_)
    except AlertError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _print_check(summary: dict[str, Any], format_: str) -> None:
    """One check's summary: a JSON line (one a check with --loop), or a small table."""
    if format_ == "json":
        typer.echo(json.dumps(summary))
        return
    from datetime import datetime

    console = Console()
    console.print(f"Alert check at {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}")
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("result", overflow="fold")
    table.add_row("rules checked", str(summary["checked"]))
    table.add_row("fired", ", ".join(summary["fired"]) or "none")
    table.add_row("recovered", ", ".join(summary["recovered"]) or "none")
    table.add_row("notices delivered", str(summary["delivered"]))
    table.add_row("deliveries failed", str(summary["failed"]))
    if summary["errors"]:
        table.add_row("errors", "\n".join(summary["errors"]))
    console.print(table)
    if not summary["checked"]:
        typer.echo("no alert rules to check: add one with `servicepulse alerts add` "
                   "(see docs/scorecards.md)")


@alerts_app.command("history")
def alerts_history(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    format_: FormatOption = "table",
) -> None:
    """Alerts fired and recovered, newest first, with their delivery."""
    from servicepulse.scorecards.alerts import history

    _format(format_)
    rows = history(state(ctx).engine(), limit=limit, rule=rule)
    if format_ == "json":
        _print_json(rows)
        return
    table = Table(title="Alert history")
    table.add_column("at", no_wrap=True, min_width=16)  # a cut time is no time
    for column in ("rule", "event", "message", "webhook", "email"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["at"][:16].replace("T", " "), row["rule"], row["event"], row["message"],
                      row["webhook_status"] or "–", row["email_status"] or "–")
    Console().print(table)


def bench_scorecards(
    agents: Annotated[int, typer.Option("--agents")] = 24,
    days: Annotated[int, typer.Option("--days")] = 14,
    repeats: Annotated[int, typer.Option("--repeats")] = 3,
    format_: FormatOption = "table",
) -> None:
    """Scorecards, coaching data and an alert check against one plain KPI query."""
    from servicepulse.bench.scorecards import run_bench
    from servicepulse.simulate import SimulationConfig

    _format(format_)
    try:  # the centre is simulated: a size it cannot be is a usage error, said before the run
        SimulationConfig(agents=agents, days=days, seed=1)
    except InvalidRequest as error:
        raise typer.BadParameter(str(error)) from None
    figures = {name: round(value, 3) for name, value in
               run_bench(agents=agents, days=days, repeats=repeats).items()}
    if format_ == "json":
        typer.echo(json.dumps(figures))
        return
    table = Table(title=f"Scorecards bench ({agents} agents, {days} days, {repeats} repeats)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:g}")
    Console().print(table)

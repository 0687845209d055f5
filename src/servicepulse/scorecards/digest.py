"""Scheduled team digests: each team lead's week (or day) in one message, sent by e-mail and to
chat webhooks without anyone opening the dashboard.

A digest holds the team's KPIs against their targets, the change against the previous
comparable period (the week before; for a daily digest, the same weekday a week before, since
contact centres run on a weekly rhythm) with the groups that explain it, the flags with their
evidence, and the agents to coach. E-mail carries it as HTML with the charts inline
(multipart/related, `cid:` images, so they show without loading anything from a server) and
the PDF attached; webhooks get Slack-compatible JSON (`text` plus `blocks`).

Each period's digest goes out once per team: a row of `digest_deliveries` is claimed (its
primary key is team, cadence and period) before the digest is built, so a restarted server,
two servers, or the command run by hand beside the server never send it twice. A failed
delivery is retried by later runs, only on the channel that failed, a few times at most.

Every figure comes from the KPI engine (through the scorecards), as on the pages.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import sqlalchemy
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from servicepulse.config import Settings
from servicepulse.errors import InvalidRequest
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.display import format_kpi_change
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure
from servicepulse.kpi.sources import REPEAT_KPIS
from servicepulse.scorecards import explain
from servicepulse.scorecards.alerts import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    DeliverySettings,
    delivery_settings,
    signature,
)
from servicepulse.scorecards.coaching import (
    attainment_chart,
    render_html,
    team_digest,
)
from servicepulse.scorecards.scorecard import LEAD_ROLES, load_members
from servicepulse.scorecards.tables import digest_deliveries

logger = logging.getLogger("servicepulse.digests")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_ATTEMPTS = 5
RETRY_AFTER_S = 15 * 60  # a failed delivery is tried again at most this often
STALE_CLAIM_S = 30 * 60  # a claim this old without an outcome: its server died while sending
COACH_LIMIT = 5
TOP_CONTRIBUTIONS = 2  # per dimension
EXPLAIN_BY = ("channel", "category", "agent")
CHECK_EVERY_S = 60.0


class DigestError(InvalidRequest):
    """A digest that cannot be built or sent as asked; the message says what to do."""


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestPeriod:
    """The days a digest covers and the comparable days before; ends are exclusive."""

    cadence: str
    start: date
    end: date
    previous_start: date
    previous_end: date

    def describe(self) -> str:
        last = self.end - timedelta(days=1)
        if self.cadence == "daily":
            return f"{self.start:%a %d %b %Y}"
        return f"{self.start:%d %b} to {last:%d %b %Y}"


def period_ending(cadence: str, end: date) -> DigestPeriod:
    """The period a digest sent on `end` covers: the 7 days before it (weekly) or the day
    before (daily, compared with the same weekday a week earlier)."""
    if cadence == "weekly":
        start = end - timedelta(days=7)
        return DigestPeriod(cadence, start, end, start - timedelta(days=7), start)
    if cadence == "daily":
        start = end - timedelta(days=1)
        return DigestPeriod(cadence, start, end, start - timedelta(days=7),
                            end - timedelta(days=7))
    raise DigestError(f"cadence {cadence!r}: use daily or weekly")


def due_period(cadence: str, weekday: str, hour: int, now: datetime) -> DigestPeriod:
    """The period of the latest send moment at or before `now` (an aware local time): weekly
    on `weekday` at `hour`, daily at `hour`."""
    moment = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if cadence == "weekly":
        moment -= timedelta(days=(now.weekday() - WEEKDAYS.index(weekday)) % 7)
        if moment > now:
            moment -= timedelta(days=7)
    elif moment > now:
        moment -= timedelta(days=1)
    return period_ending(cadence, moment.date())


# --- the digest's content --------------------------------------------------------------------


def _direction(name: str) -> int:
    direction = KPIS[name].direction if name in KPIS else "none"
    return {"higher": 1, "lower": -1}.get(direction, 0)


def agents_to_coach(cards: list[dict[str, Any]], limit: int = COACH_LIMIT
                    ) -> list[dict[str, Any]]:
    """Agents with a flag or a KPI missing its target, most flags and misses first, then the
    lowest balanced score; each with the reasons (team leads and managers are not coached
    here)."""
    found = []
    for card in cards:
        if card["role"] in LEAD_ROLES:
            continue
        flags = [flag for flag in card["flags"] if flag["flag"] != "low_sample"]
        misses = [(name, entry) for name, entry in card["kpis"].items()
                  if entry["status"] == "misses"]
        if not flags and not misses:
            continue
        # short: the flags' evidence is in the digest's own section
        reasons = [flag["flag"].replace("_", " ") for flag in flags]
        reasons += [f"{(entry.get('label') or name).split(' (')[0]} "
                    f"{entry.get('value_text') or entry['value']} misses "
                    f"{entry.get('target_text') or entry['target']}" for name, entry in misses]
        found.append({"agent": card["agent"], "name": card["name"], "role": card["role"],
                      "balanced_score": card["balanced_score"], "flags": len(flags),
                      "misses": len(misses), "reasons": reasons})
    found.sort(key=lambda a: (-a["flags"], -a["misses"],
                              a["balanced_score"] if a["balanced_score"] is not None else 101.0,
                              a["agent"]))
    return found[:limit]


def _previous_kpis(engine: sqlalchemy.Engine, agents: list[str], names: list[str],
                   period: DigestPeriod, settings: Any) -> dict[str, KpiFigure]:
    """The team's KPIs over the comparable period, for the same agents as the digest."""
    result = run_kpi_query(engine, KpiQuery(from_=period.previous_start, to=period.previous_end,
                                            kpis=names, filters={"agent": agents}), settings)
    return result.figures()


def repeats_pending(period: DigestPeriod, settings: Any, now: datetime | None = None
                    ) -> str | None:
    """FCR and the repeat rate count the repeats in the window after each contact: until
    the window after the period's last day is over they are not all in, so the period reads
    better than it will (fewer repeats seen) against the previous one, whose are. The note
    the digest shows then (and it judges neither change better or worse), else None."""
    from servicepulse.kpi.settings import kpi_settings

    resolved = kpi_settings(settings)
    days = resolved.repeat_window_days
    complete = period.end + timedelta(days=math.ceil(days))  # local days, as the KPIs'
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(resolved.timezone)).date()
    if today >= complete:
        return None
    return (f"FCR and the repeat contact rate count the repeats in the {days:g} days after "
            f"each contact: those of this period's contacts are not all in until "
            f"{complete:%d %b %Y}, so FCR may read high and the repeat rate low against the "
            "period before; neither change is judged yet")


def build_digest(engine: sqlalchemy.Engine, team: str, period: DigestPeriod,
                 settings: Any, now: datetime | None = None) -> dict[str, Any]:
    """The digest's data: `team_digest` (the `report team` document) plus the change against
    the previous period, its explanation, the agents to coach and the attainment chart."""
    data = team_digest(engine, team, start=period.start, end=period.end, settings=settings)
    pending = repeats_pending(period, settings, now)
    summary = data["team"]
    agents = sorted(card["agent"] for card in data["cards"])
    names = list(summary["kpis"])
    previous = _previous_kpis(engine, agents, names, period, settings)
    changes: dict[str, dict[str, Any]] = {}
    for name, entry in summary["kpis"].items():
        value = entry["value"]
        earlier = previous.get(name)
        before = earlier.value if earlier is not None else None
        change = value - before if value is not None and before is not None else None
        verdict = "none"
        if change is not None and _direction(name) and not (pending and name in REPEAT_KPIS):
            verdict = ("better" if change * _direction(name) > 0
                       else "worse" if change * _direction(name) < 0 else "none")
        changes[name] = {"value": value, "previous": before,
                         "previous_n": earlier.n if earlier is not None else None,
                         "change": change, "verdict": verdict,
                         "previous_text": explain.value_text(name, before),
                         "change_text": format_kpi_change(name, change)}
    data.update({
        "cadence": period.cadence, "period_text": period.describe(),
        "previous_from": period.previous_start.isoformat(),
        "previous_to": period.previous_end.isoformat(),
        "changes": changes, "repeats_pending": pending,
        "explanations": explain_changes(engine, agents, names, period, settings, changes),
        "coach": agents_to_coach(data["cards"]),
    })
    data["charts"]["attainment"] = attainment_chart({"kpis": summary["kpis"]})
    return data


def explain_changes(engine: sqlalchemy.Engine, agents: list[str], names: list[str],
                    period: DigestPeriod, settings: Any,
                    changes: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per rate or mean KPI that got better or worse, the groups (channel, category, agent)
    whose mix and rate contributed most to the change (`servicepulse.kpi.change`)."""
    from servicepulse.kpi.change import ExplainError, explain_change, explainable, store_runner
    from servicepulse.kpi.settings import kpi_settings

    run = store_runner(engine, settings)
    minimum = kpi_settings(settings).minimum_sample
    found: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        if changes[name]["verdict"] == "none":
            continue
        try:
            definition = explainable(name)
        except ExplainError:
            continue  # a count, a median or a ratio: no split into groups
        by = [d for d in EXPLAIN_BY if d in definition.dimensions]
        try:
            explanation = explain_change(run, name, (period.start, period.end),
                                         (period.previous_start, period.previous_end), by,
                                         filters={"agent": agents}, minimum_sample=minimum)
        except ExplainError as error:
            logger.info("digest: %s not explained: %s", name, error)
            continue
        rows = []
        for dimension in by:  # each dimension's contributions add up to the change
            groups = [item for item in explanation.contributions
                      if item.dimension == dimension and item.total != 0][:TOP_CONTRIBUTIONS]
            if not groups:
                continue
            parts = []
            for item in groups:
                significant = (" (significant)" if item.significant
                               else " (not significant)" if item.significant is False else "")
                parts.append(
                    f"{item.group if item.group is not None else 'none'} "
                    f"{format_kpi_change(name, item.total)}: rate "
                    f"{format_kpi_change(name, item.rate)} "
                    f"({explain.value_text(name, item.previous_value)} → "
                    f"{explain.value_text(name, item.value)}){significant}, mix "
                    f"{format_kpi_change(name, item.mix)} (share {item.previous_share:.0f}% → "
                    f"{item.share:.0f}%)")
            rows.append({"dimension": dimension,
                         "contributions": [item.as_dict() for item in groups],
                         "text": f"by {dimension}: " + "; ".join(parts)})
        if rows:
            found[name] = rows
    return found


# --- rendering -------------------------------------------------------------------------------


def subject(data: dict[str, Any]) -> str:
    team = data["team"]
    word = "Weekly" if data.get("cadence") == "weekly" else "Daily"
    text = f"[ServicePulse] {word} digest: {team['name'] or team['team']}, {data['period_text']}"
    return " ".join(text.split())  # a line break in a team's name must not end the header


def kpi_lines(data: dict[str, Any]) -> list[str]:
    """One line per KPI: value, target and status, the change against the previous period."""
    lines = []
    for name, entry in data["team"]["kpis"].items():
        change = data["changes"][name]
        target = entry.get("target_text") or entry.get("target") or "no target"
        status = explain.STATUS_WORDS.get(entry["status"], str(entry["status"]))
        judged = f"target {target}: {status}" if entry["status"] != "info" else target
        line = f"{entry['label']}: {entry['value_text'] or '–'} (n = {entry['n'] or 0}; {judged})"
        if change["change"] is not None:
            line += f"; {change['change_text']} against {change['previous_text']} before"
        lines.append(line)
    return lines


def plain_text(data: dict[str, Any]) -> str:
    team = data["team"]
    parts = [f"Team digest: {team['name'] or team['team']}, {data['period_text']} "
             f"({data['from']} to {data['to']}, end exclusive; compared with "
             f"{data['previous_from']} to {data['previous_to']})", "",
             f"Mean balanced score: {team['balanced_score']}", ""]
    parts += kpi_lines(data)
    if data.get("repeats_pending"):
        parts += ["", f"Note: {data['repeats_pending']}."]
    for name, rows in data["explanations"].items():
        parts += ["", f"Why {KPIS[name].label} changed:"]
        parts += [f"  {row['text']}" for row in rows]
    parts += ["", "Agents to coach:"]
    parts += [f"  {a['agent']} {a['name']}: {'; '.join(a['reasons'])}" for a in data["coach"]]
    if not data["coach"]:
        parts.append("  none: no flag and no target missed")
    parts += ["", "The full digest is attached as a PDF."]
    return "\n".join(parts) + "\n"


def _png_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def pdf_bytes(data: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    document: bytes = HTML(string=render_html(data)).write_pdf()
    return document


def email_message(data: dict[str, Any], recipients: list[str], delivery: DeliverySettings,
                  pdf: bytes) -> EmailMessage:
    """multipart/mixed: [alternative: [text, related: [html, the charts as cid: images]],
    the PDF]."""
    message = EmailMessage()
    message["Subject"] = subject(data)
    message["From"] = delivery.smtp_from
    message["To"] = ", ".join(recipients)
    message.set_content(plain_text(data))
    domain = delivery.smtp_from.rpartition("@")[2] or "servicepulse"
    charts = {name: uri for name, uri in data["charts"].items() if uri}
    cids = {name: make_msgid(name, domain=domain) for name in charts}
    html = render_html({**data, "charts": {name: f"cid:{cid[1:-1]}"
                                           for name, cid in cids.items()}})
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    for name, uri in charts.items():
        html_part.add_related(_png_bytes(uri), "image", "png", cid=cids[name],
                              filename=f"{name}.png")
    team = data["team"]["team"]
    message.add_attachment(pdf, maintype="application", subtype="pdf",
                           filename=f"digest-{team}-{data['from']}.pdf")
    return message


def _mrkdwn(text: str) -> str:
    """Text for Slack's mrkdwn: &, < and > escaped (names are data, not links)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(data: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible JSON: `text` (the notification and the fallback) and `blocks`."""
    team = data["team"]
    title = f"{team['name'] or team['team']}: digest for {data['period_text']}"
    headline = [f"{entry['label'].split(' (')[0]} {entry['value_text'] or '–'}"
                for entry in team["kpis"].values()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{data['from']} to {data['to']} (end exclusive), compared with "
            f"{data['previous_from']} to {data['previous_to']} · mean balanced score "
            f"{team['balanced_score']}")}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn("\n".join(
            f"• {line}" for line in kpi_lines(data)))[:3000]}},
    ]
    if data.get("repeats_pending"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _mrkdwn(f"Note: {data['repeats_pending']}.")}]})
    for name, rows in data["explanations"].items():
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*Why {KPIS[name].label} changed*\n" + _mrkdwn("\n".join(
                f"• {row['text']}" for row in rows)))[:3000]}})
    coach = "\n".join(f"• *{_mrkdwn(a['agent'] + ' ' + a['name'])}*: "
                      f"{_mrkdwn('; '.join(a['reasons']))}"
                      for a in data["coach"]) or "none: no flag and no target missed"
    blocks.append({"type": "section",
                   "text": {"type": "mrkdwn", "text": f"*Agents to coach*\n{coach}"[:3000]}})
    return {"text": _mrkdwn(f"{title}: " + ", ".join(headline)), "blocks": blocks}


# --- delivery --------------------------------------------------------------------------------


def smtp_problem(error: BaseException, delivery: DeliverySettings) -> str:
    """What went wrong with the mail server, and what to do about it."""
    where = f"{delivery.smtp_host}:{delivery.smtp_port}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(sorted(error.recipients))
        return (f"the SMTP server {where} refused the recipient(s) {refused}: fix the "
                "addresses in [digests.recipients]")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (f"the SMTP server {where} refused the login of {delivery.smtp_user!r} "
                f"({error.smtp_code}): check [alerts] smtp_user and smtp_password")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return (f"the SMTP server {where} refused the sender {delivery.smtp_from!r} "
                f"({error.smtp_code}): set [alerts] smtp_from to an address it accepts")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return (f"the SMTP server {where} does not support what the settings ask ({error}): "
                "set [alerts] smtp_starttls = false if it offers no STARTTLS, or remove "
                "smtp_user and smtp_password if it takes no login")
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(
            error.smtp_error, bytes) else str(error.smtp_error)
        return f"the SMTP server {where} answered {error.smtp_code} {reply}"
    if isinstance(error, ConnectionRefusedError):
        return (f"nothing accepts connections at {where}: start the mail server, or fix "
                "[alerts] smtp_host and smtp_port")
    if isinstance(error, socket.gaierror):
        return f"the SMTP host {delivery.smtp_host!r} is unknown: fix [alerts] smtp_host"
    if isinstance(error, TimeoutError):
        return (f"the SMTP server {where} did not answer within {delivery.timeout_s:g} s: "
                "check [alerts] smtp_host and smtp_port and the network")
    return f"sending mail through {where} failed: {type(error).__name__}: {error}"


def send_mail(message: EmailMessage, recipients: list[str], delivery: DeliverySettings
              ) -> str:
    """Send through the configured SMTP server: "sent", or what went wrong and what to do."""
    try:
        with smtplib.SMTP(delivery.smtp_host, delivery.smtp_port,
                          timeout=delivery.timeout_s) as smtp:
            if delivery.smtp_starttls:
                smtp.starttls()
            if delivery.smtp_user:
                smtp.login(delivery.smtp_user, delivery.smtp_password or "")
            refused = smtp.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as error:
        return smtp_problem(error, delivery)
    if refused:
        return (f"sent, but the SMTP server refused {', '.join(sorted(refused))}: fix those "
                "addresses in [digests.recipients]")
    return "sent"


def send_hook(url: str, payload: dict[str, Any], delivery: DeliverySettings) -> str:
    body = orjson.dumps(payload)
    headers = {"Content-Type": "application/json", EVENT_HEADER: "digest"}
    if delivery.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(delivery.webhook_secret, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=delivery.timeout_s)
    except httpx.HTTPError as error:
        return (f"the webhook {url} could not be reached ({type(error).__name__}: {error}): "
                "check the URL in [digests.webhooks]")
    if response.is_error:
        return (f"the webhook {url} answered {response.status_code} "
                f"{response.text[:200]!r}: check the URL in [digests.webhooks]")
    return "sent"


# --- which digests, to whom, once ------------------------------------------------------------


@dataclass
class DigestOutcome:
    team: str
    cadence: str
    period_start: str
    period_end: str
    status: str  # sent | failed | already sent | in progress | dry run | nothing to send
    email: str | None = None
    webhooks: str | None = None
    recipients: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _targets(table: dict[str, list[str]], team: str) -> list[str]:
    return list(dict.fromkeys(table.get("all", []) + table.get(team, [])))


def digest_teams(engine: sqlalchemy.Engine, settings: Any,
                 team: str | None = None) -> list[str]:
    """The teams to send: `team`, else the configured teams, else every team with a
    recipient or a webhook (directly or through "all")."""
    config = settings.digests
    members = load_members(engine)
    known = sorted({m.team for m in members.values() if m.team and m.active})
    if team is not None:
        if team not in known:
            raise DigestError(f"team {team!r} has no active agents in the store; known teams: "
                              f"{', '.join(known) or 'none'}")
        return [team]
    if config.teams:
        unknown = [name for name in config.teams if name not in known]
        if unknown:
            raise DigestError(f"[digests] teams: {', '.join(unknown)} not in the store (no "
                              f"active agents); known teams: {', '.join(known) or 'none'}")
        return list(config.teams)
    return [name for name in known
            if _targets(config.recipients, name) or _targets(config.webhooks, name)]


def schedule_zone(settings: Any) -> ZoneInfo:
    return ZoneInfo(settings.digests.timezone or settings.timezone)


def _claimer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _claim(engine: sqlalchemy.Engine, team: str, period: DigestPeriod, retry_now: bool = False
           ) -> tuple[bool, dict[str, Any] | None]:
    """Take this period's digest for `team`: (True, the earlier row or None) when this process
    is to send it, (False, the row) when another has sent it or is sending it. A failed one
    is taken again after RETRY_AFTER_S, up to MAX_ATTEMPTS (`retry_now`: at once, by hand)."""
    table = digest_deliveries
    key = (table.c.team == team, table.c.cadence == period.cadence,
           table.c.period_start == period.start.isoformat())
    now = time.time()
    try:
        with engine.begin() as connection:
            connection.execute(insert(table).values(
                team=team, cadence=period.cadence, period_start=period.start.isoformat(),
                period_end=period.end.isoformat(), status="sending", attempts=1,
                claimed_by=_claimer(), claimed_at=now))
        return True, None
    except IntegrityError:
        pass
    with engine.begin() as connection:
        row = connection.execute(select(table).where(*key)).mappings().first()
        if row is None:  # deleted meanwhile: leave it to the next run
            return False, None
        earlier = dict(row)
        retry = row["status"] == "failed" and (retry_now or (
            row["attempts"] < MAX_ATTEMPTS and now - row["claimed_at"] >= RETRY_AFTER_S))
        stale = row["status"] == "sending" and now - row["claimed_at"] >= STALE_CLAIM_S
        if not (retry or stale):
            return False, earlier
        # compare and set: of two processes retrying at once, one updates the row
        taken = connection.execute(update(table).where(
            *key, table.c.status == row["status"], table.c.attempts == row["attempts"]
        ).values(status="sending", attempts=row["attempts"] + 1, claimed_by=_claimer(),
                 claimed_at=now)).rowcount
    return taken == 1, earlier


def _finish(engine: sqlalchemy.Engine, team: str, period: DigestPeriod, email: str | None,
            webhooks: str | None) -> str:
    failed = any(value not in (None, "sent") for value in (email, webhooks))
    status = "failed" if failed else "sent"
    table = digest_deliveries
    with engine.begin() as connection:
        connection.execute(update(table).where(
            table.c.team == team, table.c.cadence == period.cadence,
            table.c.period_start == period.start.isoformat()
        ).values(status=status, email_status=email, webhook_status=webhooks,
                 sent_at=None if failed else time.time()))
    return status


def send_digest(engine: sqlalchemy.Engine, settings: Any, team: str, period: DigestPeriod, *,
                to: list[str] | None = None, dry_run: bool = False,
                retry_now: bool = False) -> DigestOutcome:
    """Build and deliver one team's digest for `period`, once. `to`: send the e-mail to these
    addresses only, to test the mail settings (no webhook, nothing recorded); `dry_run`: build
    it and say where it would go, sending nothing; `retry_now`: a failed delivery is tried
    again now (by hand), not after RETRY_AFTER_S."""
    config = settings.digests
    recipients = list(to) if to else _targets(config.recipients, team)
    hooks = [] if to else _targets(config.webhooks, team)
    outcome = DigestOutcome(team, period.cadence, period.start.isoformat(),
                            period.end.isoformat(), "dry run", recipients=recipients,
                            hooks=hooks)
    if not recipients and not hooks:
        outcome.status = "nothing to send"
        outcome.email = "no recipients: add some under [digests.recipients]"
        return outcome
    if dry_run:
        build_digest(engine, team, period, settings)
        return outcome
    earlier: dict[str, Any] | None = None
    if not to:
        mine, earlier = _claim(engine, team, period, retry_now)
        if not mine:
            row = earlier or {}
            outcome.status = ("already sent" if row.get("status") == "sent"
                              else "in progress" if row.get("status") == "sending"
                              else "failed")
            outcome.email, outcome.webhooks = row.get("email_status"), row.get("webhook_status")
            return outcome
    delivery = delivery_settings(settings)
    try:
        data = build_digest(engine, team, period, settings)
        email_done = (earlier or {}).get("email_status") == "sent"
        hooks_done = (earlier or {}).get("webhook_status") == "sent"
        if recipients and not email_done:
            message = email_message(data, recipients, delivery, pdf_bytes(data))
            outcome.email = send_mail(message, recipients, delivery)
        elif recipients:
            outcome.email = "sent"
        if hooks and not hooks_done:
            payload = slack_payload(data)
            problems = [problem for problem in (send_hook(url, payload, delivery)
                                                for url in hooks) if problem != "sent"]
            outcome.webhooks = "; ".join(problems) or "sent"
        elif hooks:
            outcome.webhooks = "sent"
    except Exception as error:
        # the claim must not stay "sending": a later run retries
        outcome.email = outcome.email or f"not sent: {type(error).__name__}: {error}"
        if not to:
            _finish(engine, team, period, outcome.email, outcome.webhooks)
        raise
    if to:
        outcome.status = "sent" if outcome.email == "sent" else "failed"
    else:
        outcome.status = _finish(engine, team, period, outcome.email, outcome.webhooks)
    for problem in (outcome.email, outcome.webhooks):
        if problem not in (None, "sent"):
            logger.warning("digest for team %s, %s to %s: %s", team, outcome.period_start,
                           outcome.period_end, problem)
    return outcome


def send_due(engine: sqlalchemy.Engine, settings: Any, *, now: datetime | None = None,
             team: str | None = None, cadence: str | None = None, day: date | None = None,
             to: list[str] | None = None, dry_run: bool = False,
             retry_now: bool = False) -> list[DigestOutcome]:
    """Each team's digest for the latest period due (or the period sent on `day`)."""
    config = settings.digests
    cadence = cadence or config.cadence.value
    period = period_ending(cadence, day or latest_due(cadence, settings, now))
    return [send_digest(engine, settings, name, period, to=to, dry_run=dry_run,
                        retry_now=retry_now)
            for name in digest_teams(engine, settings, team)]


def latest_due(cadence: str, settings: Any, now: datetime | None = None) -> date:
    """The end (exclusive) of the latest period due by the schedule's weekday, hour and zone."""
    config = settings.digests
    local = (now or datetime.now(UTC)).astimezone(schedule_zone(settings))
    return due_period(cadence, config.weekday, config.hour, local).end


def scheduled_digest(engine: sqlalchemy.Engine, team: str, *, cadence: str, day: date,
                     settings: Any) -> dict[str, Any]:
    """The digest as the schedule sends it on `day` (the web page's preview)."""
    return build_digest(engine, team, period_ending(cadence, day), settings)


def deliveries(engine: sqlalchemy.Engine, limit: int = 50) -> list[dict[str, Any]]:
    """The latest digest deliveries, newest period first."""
    table = digest_deliveries
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(
            table.c.period_start.desc(), table.c.team).limit(limit)).mappings().all()
    return [dict(row) for row in rows]


# --- the server's scheduler ------------------------------------------------------------------


def digests_configured(settings: Any) -> bool:
    config = settings.digests
    return bool(any(config.recipients.values()) or any(config.webhooks.values()))


class DigestScheduler:
    """A thread that sends each configured digest once its moment has come (checked every
    minute); one per server process: the claims keep processes from sending twice."""

    def __init__(self, engine: sqlalchemy.Engine, settings: Any,
                 every_s: float = CHECK_EVERY_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.settings, self.every_s, self.clock = engine, settings, every_s, clock
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digests", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.every_s)

    def run_once(self) -> list[DigestOutcome]:
        self.runs += 1
        try:
            outcomes = send_due(self.engine, self.settings, now=self.clock())
        except DigestError as error:
            logger.warning("digests: %s", error)
            return []
        except Exception:  # a broken digest must not stop the server's other work
            logger.exception("digests: sending failed")
            return []
        for outcome in outcomes:
            if outcome.status == "sent":
                logger.info("digest sent: team %s, %s to %s", outcome.team,
                            outcome.period_start, outcome.period_end)
        return outcomes


def start_scheduler(engine: sqlalchemy.Engine, settings: Settings) -> DigestScheduler | None:
    """The server's digest scheduler, when the configuration (the app's, loaded at its
    start) names anyone to send to."""
    if not digests_configured(settings):
        return None
    scheduler = DigestScheduler(engine, settings)
    scheduler.start()
    return scheduler

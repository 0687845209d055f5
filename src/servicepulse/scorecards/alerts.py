"""Alerts: rules on a KPI over a scope and a window, checked on a schedule and when records
arrive, delivered by webhook (JSON, HMAC-SHA256 signed) and SMTP email, once per change.

A rule names a KPI, a scope (`organisation`, `team:ID`, `agent:ID`, `role:ROLE`; with
`per_agent` each agent of the scope is checked apart), a condition (`target`: the target that
applies misses; `below` / `above` a threshold), a window of days ending today, and a minimum
sample (below it nothing changes). Rules come from the configuration (`[[alerts.rules]]`) and
from the store (`servicepulse alerts add`).

State per rule and subject makes delivery edge-triggered: a notice goes out when a subject
starts breaching ("fired") and when it stops ("recovered"), never on every check. Notices are
written to `alert_history` first and delivered after, so a receiver that is down is retried by
the next check and hears of each change once.

When records arrive, the import hook (inside the batch's transaction, cheap: no KPI query)
queues the rules whose scope the batch touched in `alert_pending`; `alerts run` (once, or
`--loop` as the scheduler) checks the queued rules first. The check itself needs the KPI
engine's own connection, which cannot see a batch before it commits, so it never runs inside
the import.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import httpx
import orjson
import sqlalchemy
from sqlalchemy import Connection, delete, insert, select, update

from servicepulse.errors import InvalidRequest
from servicepulse.ingest import hooks
from servicepulse.ingest.hooks import Touched
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.targets import ROLES, resolve_targets
from servicepulse.scorecards import tables as alert_tables
from servicepulse.scorecards.attainment import attainment
from servicepulse.store import tables

Condition = Literal["target", "below", "above"]
SIGNATURE_HEADER = "X-ServicePulse-Signature"
EVENT_HEADER = "X-ServicePulse-Event"
MAX_ATTEMPTS = 10


class AlertError(InvalidRequest):
    """A rule that cannot be checked; the message names the rule, the field and the fix."""


@dataclass(frozen=True)
class AlertRule:
    name: str
    kpi: str
    scope: str = "organisation"
    per_agent: bool = False
    condition: Condition = "target"
    threshold: float | None = None
    window_days: int = 7
    minimum_sample: int | None = None
    webhook: str | None = None
    email: tuple[str, ...] = ()
    enabled: bool = True
    origin: str = "store"

    def __post_init__(self) -> None:
        where = f"alert rule {self.name!r}"
        if not self.name:
            raise AlertError("an alert rule needs a name")
        if self.kpi not in KPIS:
            raise AlertError(f"{where}: kpi {self.kpi!r} is unknown; use one of "
                             f"{', '.join(KPIS)}")
        kind, _, value = self.scope.partition(":")
        if self.scope != "organisation" and (kind not in ("team", "agent", "role") or not value):
            raise AlertError(f"{where}: scope {self.scope!r}: use organisation, team:ID, "
                             "agent:ID or role:ROLE")
        if kind == "role" and value not in ROLES:
            raise AlertError(f"{where}: role {value!r} is unknown; use {', '.join(ROLES)}")
        if self.condition not in ("target", "below", "above"):
            raise AlertError(f"{where}: condition {self.condition!r}: use target, below or "
                             "above")
        if self.condition != "target" and self.threshold is None:
            raise AlertError(f"{where}: condition {self.condition} needs a threshold")
        if self.condition == "target" and self.kpi == "frt":
            raise AlertError(f"{where}: frt has a target per channel; use condition below "
                             "or above with a threshold in seconds")
        if self.window_days < 1:
            raise AlertError(f"{where}: window_days must be at least 1")
        if self.minimum_sample is not None and self.minimum_sample < 1:
            raise AlertError(f"{where}: minimum_sample must be at least 1")

    @classmethod
    def from_mapping(cls, data: dict[str, Any], origin: str) -> AlertRule:
        known = {f for f in cls.__dataclass_fields__ if f != "origin"}
        unknown = set(data) - known
        if unknown:
            raise AlertError(f"alert rule {data.get('name')!r} ({origin}): unknown key(s) "
                             f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values = dict(data)
        email = values.get("email") or ()
        values["email"] = (email,) if isinstance(email, str) else tuple(email)
        try:
            return cls(**values, origin=origin)
        except TypeError as error:
            raise AlertError(f"alert rule ({origin}): {error}") from None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["email"] = list(self.email)
        return data


@dataclass(frozen=True)
class DeliverySettings:
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "servicepulse@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    webhook_secret: str | None = None
    timeout_s: float = 10.0


def delivery_settings(settings: Any) -> DeliverySettings:
    table = dict(getattr(settings, "alerts", {}) or {})
    known = set(DeliverySettings.__dataclass_fields__)
    values = {key: value for key, value in table.items() if key in known}
    unknown = set(table) - known - {"rules"}
    if unknown:
        raise AlertError(f"[alerts]: unknown key(s) {', '.join(sorted(unknown))}; known: rules, "
                         f"{', '.join(sorted(known))}")
    return DeliverySettings(**values)


def config_rules(settings: Any) -> list[AlertRule]:
    table = dict(getattr(settings, "alerts", {}) or {})
    rules = table.get("rules", [])
    if not isinstance(rules, list):
        raise AlertError("[alerts]: rules must be an array of tables ([[alerts.rules]])")
    return [AlertRule.from_mapping(dict(rule), "configuration") for rule in rules]


def store_rules(connection: Connection) -> list[AlertRule]:
    rows = connection.execute(select(alert_tables.alert_rules)).mappings().all()
    return [AlertRule.from_mapping(
        {key: row[key] for key in row if key != "created_at"} | {
            "email": tuple(row["email"] or ())}, "store") for row in rows]


def all_rules(engine: sqlalchemy.Engine, settings: Any) -> list[AlertRule]:
    with engine.connect() as connection:
        stored = store_rules(connection)
    configured = config_rules(settings)
    names = {rule.name for rule in configured}
    return configured + [rule for rule in stored if rule.name not in names]


def add_rule(engine: sqlalchemy.Engine, rule: AlertRule) -> None:
    values = rule.as_json()
    values.pop("origin")
    with engine.begin() as connection:
        connection.execute(delete(alert_tables.alert_rules).where(
            alert_tables.alert_rules.c.name == rule.name))
        connection.execute(insert(alert_tables.alert_rules).values(
            **values, created_at=time.time()))


def remove_rule(engine: sqlalchemy.Engine, name: str) -> bool:
    with engine.begin() as connection:
        removed = connection.execute(delete(alert_tables.alert_rules).where(
            alert_tables.alert_rules.c.name == name)).rowcount
        connection.execute(delete(alert_tables.alert_state).where(
            alert_tables.alert_state.c.rule == name))
    return bool(removed)


# --- checking ------------------------------------------------------------------------------


@dataclass
class Observation:
    subject: str
    value: float | None
    n: int
    threshold: float | None
    breach: bool | None  # None: not enough data to say
    describe: str = ""


def _scope_filters(rule: AlertRule) -> dict[str, list[str]]:
    kind, _, value = rule.scope.partition(":")
    return {} if rule.scope == "organisation" else {kind: [value]}


def _agent_roles(engine: sqlalchemy.Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(select(tables.agents.c.id, tables.agents.c.role,
                                         tables.agents.c.team_id)).all()
    return {row.id: (row.role, row.team_id) for row in rows}


def evaluate(engine: sqlalchemy.Engine, rule: AlertRule, settings: Any, today: date,
             minimum_sample: int) -> list[Observation]:
    """The rule's KPI over the window [today − window + 1, today] per subject."""
    query = KpiQuery(by=["agent"] if rule.per_agent else [],
                     from_=today - timedelta(days=rule.window_days - 1),
                     to=today + timedelta(days=1), kpis=[rule.kpi],
                     filters=_scope_filters(rule))
    result = run_kpi_query(engine, query, settings)
    agents = _agent_roles(engine) if rule.per_agent or rule.scope.startswith("agent:") else {}
    kind, _, scope_value = rule.scope.partition(":")
    minimum = rule.minimum_sample or minimum_sample
    observations = []
    for row in result.rows:
        subject = row.group.get("agent") if rule.per_agent else (
            scope_value or "organisation")
        if subject is None:
            continue
        figure = row.figure(rule.kpi)
        value, n = (figure.value, int(figure.n or 0)) if figure is not None else (None, 0)
        role, team = (agents.get(subject, (None, None)) if rule.per_agent or kind == "agent"
                      else (scope_value if kind == "role" else None,
                            scope_value if kind == "team" else None))
        observations.append(_judge(rule, subject, value, n, minimum, settings, role, team))
    return observations


def _judge(rule: AlertRule, subject: str, value: float | None, n: int, minimum: int,
           settings: Any, role: str | None, team: str | None) -> Observation:
    sampled = KPIS[rule.kpi].statistic.kind != "sum"
    if value is None or (sampled and n < minimum):
        return Observation(subject, value, n, rule.threshold, None)
    if rule.condition == "below":
        assert rule.threshold is not None
        return Observation(subject, value, n, rule.threshold, value < rule.threshold,
                           f"below {rule.threshold:g}")
    if rule.condition == "above":
        assert rule.threshold is not None
        return Observation(subject, value, n, rule.threshold, value > rule.threshold,
                           f"above {rule.threshold:g}")
    target = resolve_targets(settings, role=role, team=team).get(rule.kpi)
    if target is None or target.judged_by.direction in ("info", "relative"):
        raise AlertError(f"alert rule {rule.name!r}: {rule.kpi} has no target to miss; use "
                         "condition below or above with a threshold")
    judged_by = target.judged_by
    att = attainment(judged_by, value)
    threshold = judged_by.target if judged_by.direction != "band" else None
    return Observation(subject, value, n, threshold, att is not None and att < 1.0,
                       f"target {target.describe()} ({target.set_by})")


@dataclass
class CheckSummary:
    checked: int = 0
    fired: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _message(rule: AlertRule, observation: Observation, event: str) -> str:
    label = KPIS[rule.kpi].label
    who = observation.subject if observation.subject != "organisation" else "the organisation"
    value = f"{observation.value:.1f}" if observation.value is not None else "no value"
    if event == "fired":
        return (f"{label} for {who} is {value} (n = {observation.n}) over the last "
                f"{rule.window_days} days: misses its {observation.describe}")
    return (f"{label} for {who} has recovered: {value} (n = {observation.n}) over the last "
            f"{rule.window_days} days, no longer {observation.describe}")


def check_rules(engine: sqlalchemy.Engine, settings: Any,
                rules: Sequence[AlertRule] | None = None, today: date | None = None,
                deliver: bool = True) -> CheckSummary:
    """Check `rules` (default: all enabled), record changes and deliver their notices."""
    from servicepulse.kpi.settings import kpi_settings

    resolved = kpi_settings(settings)
    if today is None:
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(resolved.timezone)).date()
    rules = [rule for rule in (rules if rules is not None else all_rules(engine, settings))
             if rule.enabled]
    summary = CheckSummary()
    state = alert_tables.alert_state
    for rule in rules:
        try:
            observations = evaluate(engine, rule, settings, today, resolved.minimum_sample)
        except AlertError as error:
            summary.errors.append(str(error))
            continue
        summary.checked += 1
        now = time.time()
        with engine.begin() as connection:
            previous = {row.subject: row.status for row in connection.execute(
                select(state.c.subject, state.c.status).where(state.c.rule == rule.name))}
            for observation in observations:
                if observation.breach is None:
                    continue
                status = "firing" if observation.breach else "ok"
                before = previous.get(observation.subject)
                values = {"status": status, "value": observation.value, "n": observation.n,
                          "checked_at": now}
                if before is None:
                    connection.execute(insert(state).values(
                        rule=rule.name, subject=observation.subject, since=now, **values))
                elif before != status:
                    connection.execute(update(state).where(
                        state.c.rule == rule.name, state.c.subject == observation.subject
                    ).values(since=now, **values))
                else:
                    connection.execute(update(state).where(
                        state.c.rule == rule.name, state.c.subject == observation.subject
                    ).values(**values))
                fired = status == "firing" and before != "firing"
                recovered = status == "ok" and before == "firing"
                if fired or recovered:
                    event = "fired" if fired else "recovered"
                    _record(connection, rule, observation, event, now)
                    (summary.fired if fired else summary.recovered).append(
                        f"{rule.name}:{observation.subject}")
    if deliver:
        delivered, failed = deliver_pending(engine, settings)
        summary.delivered, summary.failed = delivered, failed
    return summary


def _record(connection: Connection, rule: AlertRule, observation: Observation, event: str,
            now: float) -> None:
    message = _message(rule, observation, event)
    payload = {"event": event, "rule": rule.name, "kpi": rule.kpi, "scope": rule.scope,
               "subject": observation.subject, "value": observation.value,
               "n": observation.n, "threshold": observation.threshold,
               "condition": rule.condition, "window_days": rule.window_days,
               "message": message, "at": datetime.fromtimestamp(now, UTC).isoformat()}
    connection.execute(insert(alert_tables.alert_history).values(
        rule=rule.name, subject=observation.subject, event=event, at=now, kpi=rule.kpi,
        value=observation.value, n=observation.n, threshold=observation.threshold,
        message=message, payload=payload | {"webhook": rule.webhook, "email": list(rule.email)},
        webhook_status="pending" if rule.webhook else None,
        email_status="pending" if rule.email else None, attempts=0))


# --- delivery ------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The value of the X-ServicePulse-Signature header: sha256=<hex HMAC of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(url: str, payload: dict[str, Any], delivery: DeliverySettings) -> None:
    body = orjson.dumps(payload)
    headers = {"Content-Type": "application/json", EVENT_HEADER: str(payload["event"])}
    if delivery.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(delivery.webhook_secret, body)
    response = httpx.post(url, content=body, headers=headers, timeout=delivery.timeout_s)
    response.raise_for_status()


def send_email(addresses: Iterable[str], payload: dict[str, Any],
               delivery: DeliverySettings) -> None:
    message = EmailMessage()
    verb = "ALERT" if payload["event"] == "fired" else "RECOVERED"
    message["Subject"] = f"[ServicePulse] {verb}: {payload['kpi']} for {payload['subject']}"
    message["From"] = delivery.smtp_from
    message["To"] = ", ".join(addresses)
    message.set_content(f"{payload['message']}\n\nRule: {payload['rule']} (scope "
                        f"{payload['scope']}, condition {payload['condition']})\nAt: "
                        f"{payload['at']}\n")
    with smtplib.SMTP(delivery.smtp_host, delivery.smtp_port,
                      timeout=delivery.timeout_s) as smtp:
        if delivery.smtp_starttls:
            smtp.starttls()
        if delivery.smtp_user:
            smtp.login(delivery.smtp_user, delivery.smtp_password or "")
        smtp.send_message(message)


def deliver_pending(engine: sqlalchemy.Engine, settings: Any) -> tuple[int, int]:
    """Send every notice not yet delivered (up to MAX_ATTEMPTS tries each), oldest first."""
    delivery = delivery_settings(settings)
    history = alert_tables.alert_history
    pending = (history.c.webhook_status == "pending") | (history.c.email_status == "pending") | (
        history.c.webhook_status.like("retry:%")) | (history.c.email_status.like("retry:%"))
    with engine.connect() as connection:
        rows = connection.execute(select(history).where(
            pending, history.c.attempts < MAX_ATTEMPTS).order_by(history.c.id)).mappings().all()
    delivered = failed = 0
    for row in rows:
        payload = dict(row["payload"])
        targets = {"webhook": payload.pop("webhook", None), "email": payload.pop("email", [])}
        statuses = {"webhook_status": row["webhook_status"], "email_status": row["email_status"]}
        for channel, status in statuses.items():
            if status is None or status == "sent" or not (
                    status == "pending" or status.startswith("retry:")):
                continue
            try:
                if channel == "webhook_status":
                    send_webhook(targets["webhook"], payload, delivery)
                else:
                    send_email(targets["email"], payload, delivery)
                statuses[channel] = "sent"
                delivered += 1
            except (httpx.HTTPError, OSError, smtplib.SMTPException) as error:
                statuses[channel] = f"retry: {type(error).__name__}: {error}"[:500]
                failed += 1
        with engine.begin() as connection:
            connection.execute(update(history).where(history.c.id == row["id"]).values(
                **statuses, attempts=row["attempts"] + 1))
    return delivered, failed


def history(engine: sqlalchemy.Engine, limit: int = 100,
            rule: str | None = None) -> list[dict[str, Any]]:
    table = alert_tables.alert_history
    query = select(table).order_by(table.c.id.desc()).limit(limit)
    if rule is not None:
        query = query.where(table.c.rule == rule)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [{**{k: v for k, v in row.items() if k != "payload"},
             "at": datetime.fromtimestamp(row["at"], UTC).isoformat()} for row in rows]


# --- when records arrive -------------------------------------------------------------------

_RELEVANT_KINDS = {"interaction", "event", "survey", "agent_state", "shift", "customer",
                   "order", "social_post", "social_mention"}


def _touched_scope(connection: Connection, touched: Touched) -> tuple[set[str], set[str]]:
    """Agents and teams the batch touched (through its interactions, surveys, states)."""
    agents: set[str] = set()
    teams: set[str] = set()
    interactions = tables.interactions
    ids = sorted(touched.interaction_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in connection.execute(select(interactions.c.agent_id, interactions.c.team_id)
                                      .where(interactions.c.id.in_(chunk)).distinct()):
            agents.update([row.agent_id] if row.agent_id else [])
            teams.update([row.team_id] if row.team_id else [])
    for kind, table in (("survey", tables.surveys), ("agent_state", tables.agent_states)):
        kind_ids = sorted(touched.ids(kind))
        for start in range(0, len(kind_ids), 500):
            chunk = kind_ids[start:start + 500]
            found: list[str | None] = list(connection.execute(
                select(table.c.agent_id).where(table.c.id.in_(chunk)).distinct()).scalars())
            agents.update(value for value in found if value)
    return agents, teams


def queue_touched_rules(connection: Connection, touched: Touched) -> None:
    """Import hook: queue the rules whose scope this batch touched (no KPI query here)."""
    if not touched or not (set(touched.kinds) & _RELEVANT_KINDS or touched.interaction_ids):
        return
    rules = [rule for rule in store_rules(connection) + _configured_rules() if rule.enabled]
    if not rules:
        return
    agents, teams = _touched_scope(connection, touched)
    roles: set[str] = set()
    if agents:
        rows = connection.execute(select(tables.agents.c.role, tables.agents.c.team_id).where(
            tables.agents.c.id.in_(sorted(agents)))).all()
        roles = {row.role for row in rows}
        teams |= {row.team_id for row in rows if row.team_id}
    queued = []
    for rule in rules:
        kind, _, value = rule.scope.partition(":")
        if (rule.scope == "organisation" or (kind == "agent" and value in agents)
                or (kind == "team" and value in teams) or (kind == "role" and value in roles)):
            queued.append(rule.name)
    if not queued:
        return
    pending = alert_tables.alert_pending
    already: set[str] = set(connection.execute(select(pending.c.rule).where(
        pending.c.rule.in_(queued))).scalars())
    new = [{"rule": name, "queued_at": time.time()} for name in queued if name not in already]
    if new:
        connection.execute(insert(pending), new)


def _configured_rules() -> list[AlertRule]:
    """The configuration's rules, of the settings the program's start gave the hooks."""
    try:
        return config_rules(hooks.settings())
    except InvalidRequest:  # a bad configuration is reported by the commands, not by imports
        return []



def check_pending(engine: sqlalchemy.Engine, settings: Any,
                  today: date | None = None) -> CheckSummary:
    """Check the rules imports have queued since the last check."""
    pending = alert_tables.alert_pending
    with engine.begin() as connection:
        names: set[str] = set(connection.execute(select(pending.c.rule)).scalars())
        if names:
            connection.execute(delete(pending).where(pending.c.rule.in_(sorted(names))))
    rules = [rule for rule in all_rules(engine, settings) if rule.name in names]
    if not rules:
        delivered, failed = deliver_pending(engine, settings)
        return CheckSummary(delivered=delivered, failed=failed)
    return check_rules(engine, settings, rules, today)

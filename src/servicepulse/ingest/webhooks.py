"""Helpdesk webhooks: check a delivery's signature, turn its payload into canonical records.

Zendesk and Chatwoot push events as they happen; `POST /api/v1/webhooks/zendesk|chatwoot`
(servicepulse.web.routes.webhooks) verifies each delivery here and imports the records through
the importer, like an export file. The mapping of tickets, conversations and messages is the
connectors' own (servicepulse.ingest.connectors.zendesk / chatwoot): this module only unwraps
the webhook envelopes and adds what a stream of events says that an export says in other
fields (who commented when, a status change). Field mappings: docs/connectors.md, "Webhooks".

Everything is deterministic (record ids come from the source's ids, times from the payload,
never from the arrival time), so a delivery retried by the sender changes nothing. Senders do
not promise order, and a retry may come after newer deliveries: each delivery leaves a
bodiless system note at the time its snapshot was taken (`...-update-<ms>`), and a ticket or
conversation snapshot older than an event already stored for it is not applied (its events
still are), so a late retry never rolls a ticket back (`drop_stale`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from servicepulse.ingest.connectors.base import (
    BadSourceRow,
    ConnectorOptions,
    dumps,
    error_row,
    iso,
    iso_epoch,
    parse_time,
    prefixed,
    record_row,
    text_id,
)
from servicepulse.ingest.connectors.chatwoot import CHANNELS as CHATWOOT_CHANNELS
from servicepulse.ingest.connectors.chatwoot import ChatwootMapping
from servicepulse.ingest.connectors.zendesk import CHANNELS as ZENDESK_CHANNELS
from servicepulse.ingest.connectors.zendesk import ZendeskState, settings_from, ticket_records
from servicepulse.ingest.sources import SourceRow
from servicepulse.store import tables

ZENDESK_SOURCE = "webhook:zendesk"
CHATWOOT_SOURCE = "webhook:chatwoot"
MAX_AGE_S = 300.0  # a signed timestamp older (or further ahead) than this is a replay: 401
# A snapshot is stale when an event of its ticket is later than it by more than this (the
# times of one update differ by milliseconds between a payload's fields).
STALE_AFTER_S = 1.0

ZENDESK_SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
CHATWOOT_SIGNATURE_HEADER = "X-Chatwoot-Signature"
CHATWOOT_TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"


class SignatureError(ValueError):
    """The delivery is not provably from the configured sender (answered with 401)."""


class PayloadError(ValueError):
    """The body is not a payload of the sender at all (answered with 400)."""


# -- signatures -------------------------------------------------------------------------------


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def chatwoot_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Chatwoot's webhook signature: "sha256=" + hex HMAC-SHA256(secret, timestamp + "." +
    body)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _check_age(moment: datetime, now: float, header: str) -> None:
    age = now - moment.timestamp()
    if abs(age) > MAX_AGE_S:
        raise SignatureError(
            f"{header} is {abs(age):.0f} s {'old' if age > 0 else 'in the future'} (at most "
            f"{MAX_AGE_S:.0f} s allowed): a replayed or delayed delivery, or a wrong clock on "
            "one side; check the server's time (NTP)")


def verify_zendesk(secret: str, signature: str | None, timestamp: str | None, body: bytes,
                   now: float) -> None:
    """Raise SignatureError unless `signature` signs `timestamp` + `body` with `secret` and
    the timestamp is recent."""
    if not signature or not timestamp:
        raise SignatureError(f"missing {ZENDESK_SIGNATURE_HEADER} or {ZENDESK_TIMESTAMP_HEADER}"
                             ": send this webhook from Zendesk (webhooks are signed)")
    expected = zendesk_signature(secret, timestamp, body)
    if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
        raise SignatureError(f"{ZENDESK_SIGNATURE_HEADER} does not match: the webhook's "
                             "signing secret in Zendesk and webhook_secrets.zendesk differ")
    try:
        moment = parse_time(timestamp)
    except ValueError:
        raise SignatureError(f"{ZENDESK_TIMESTAMP_HEADER} {timestamp!r} is not an ISO 8601 "
                             "time") from None
    _check_age(moment, now, ZENDESK_TIMESTAMP_HEADER)


def verify_chatwoot(secret: str, signature: str | None, timestamp: str | None, body: bytes,
                    now: float) -> None:
    """Raise SignatureError unless `signature` signs `timestamp`.`body` with `secret` and the
    timestamp (epoch seconds) is recent."""
    if not signature or not timestamp:
        raise SignatureError(f"missing {CHATWOOT_SIGNATURE_HEADER} or "
                             f"{CHATWOOT_TIMESTAMP_HEADER}: give the Chatwoot webhook a secret "
                             "(Chatwoot signs deliveries with it)")
    expected = chatwoot_signature(secret, timestamp, body)
    sent = signature.strip()
    if not sent.startswith("sha256="):
        sent = "sha256=" + sent
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise SignatureError(f"{CHATWOOT_SIGNATURE_HEADER} does not match: the webhook's "
                             "secret in Chatwoot and webhook_secrets.chatwoot differ")
    try:
        moment = parse_time(int(timestamp.strip()))
    except ValueError:
        raise SignatureError(f"{CHATWOOT_TIMESTAMP_HEADER} {timestamp!r} is not epoch "
                             "seconds") from None
    _check_age(moment, now, CHATWOOT_TIMESTAMP_HEADER)


# -- deliveries -------------------------------------------------------------------------------


@dataclass
class Delivery:
    """What one webhook delivery says: its event name and its records (or why it is ignored)."""

    event: str | None
    rows: list[SourceRow] = field(default_factory=list)
    ignored: str | None = None  # set: nothing to import (an event ServicePulse does not use)
    # interaction id -> epoch seconds of the snapshot of it this delivery holds
    as_of: dict[str, float] = field(default_factory=dict)
    # (kind, id) of records timed by the delivery rather than by themselves (a trigger body's
    # latest comment or satisfaction rating): the first delivery that brought them keeps its
    # time
    first_seen: set[tuple[str, str]] = field(default_factory=set)
    # interaction id -> its status in a snapshot that says nothing of status changes (a
    # trigger body): compared with the stored status to find resolutions and reopens
    statuses: dict[str, str | None] = field(default_factory=dict)
    # interactions whose snapshot cannot say whether they are spam (a Chatwoot conversation
    # whose contact data has no `blocked`): a stored `spam` status stays
    keep_spam: set[str] = field(default_factory=set)


def drop_stale(engine: Engine, delivery: Delivery) -> Delivery:
    """The delivery as it applies to the store: without the interaction snapshots that are
    older than an event already stored for the same interaction (a late retry; their events
    are kept), without the `first_seen` records already stored, and with a `resolved` /
    `reopened` event where a snapshot's status crosses solved against the stored one."""
    if (not delivery.as_of and not delivery.first_seen and not delivery.statuses
            and not delivery.keep_spam):
        return delivery
    e = tables.events.c
    i = tables.interactions.c
    with engine.connect() as connection:
        asked = sorted(set(delivery.statuses) | delivery.keep_spam)
        stored_status: dict[str, str | None] = {
            str(row.id): row.status for row in connection.execute(
                select(i.id, i.status).where(i.id.in_(asked)))
        } if asked else {}
        found = connection.execute(
            select(e.interaction_id, func.max(e.at).label("latest"))
            .where(e.interaction_id.in_(sorted(delivery.as_of)))
            .group_by(e.interaction_id)).all() if delivery.as_of else []
        seen: set[tuple[str, str]] = set()
        for kind in sorted({kind for kind, _ in delivery.first_seen}):
            table = tables.RECORD_TABLES[kind]
            ids = sorted(key for k, key in delivery.first_seen if k == kind)
            stored: list[str] = list(connection.execute(
                select(table.c.id).where(table.c.id.in_(ids))).scalars())
            seen.update((kind, key) for key in stored)
    latest: dict[str, float | None] = {str(row.interaction_id): row.latest for row in found}
    stale = {key for key, at in latest.items()
             if at is not None and at > delivery.as_of[key] + STALE_AFTER_S}
    rows = [_kept_spam(row, delivery.keep_spam, stored_status) for row in delivery.rows
            if row.data is None or not (
                (row.data.get("type") == "interaction" and row.data.get("id") in stale)
                or (row.data.get("type"), row.data.get("id")) in seen)]
    for key, status in sorted(delivery.statuses.items()):
        if key in stale or key not in delivery.as_of:
            continue
        before = stored_status.get(key)
        if status in SOLVED and before not in SOLVED:
            kind = "resolved"
        elif before in SOLVED and status not in SOLVED:
            kind = "reopened"
        else:
            continue
        moment = delivery.as_of[key]
        rows.append(record_row(rows[0].source if rows else "webhook", len(rows) + 1,
                               rows[0].raw if rows else "", {
            "type": "event", "id": f"{key}-{kind}-{int(moment * 1000)}",
            "interaction_id": key, "at": iso_epoch(moment), "kind": kind, "actor": "system"}))
    return Delivery(delivery.event, rows, delivery.ignored, delivery.as_of,
                    delivery.first_seen, delivery.statuses, delivery.keep_spam)


def _kept_spam(row: SourceRow, keep_spam: set[str],
               stored_status: dict[str, str | None]) -> SourceRow:
    """The row, with the stored `spam` status where its snapshot cannot say otherwise."""
    data = row.data
    if (data is None or data.get("type") != "interaction" or data.get("id") not in keep_spam
            or stored_status.get(str(data.get("id"))) != "spam"):
        return row
    return record_row(row.source, row.line, row.raw, {**data, "status": "spam"})


def _snapshot_marker(interaction_id: str, moment: datetime) -> dict[str, Any]:
    """The bodiless system note that records when a delivery's snapshot was taken."""
    return {"type": "event", "id": f"{interaction_id}-update-{int(moment.timestamp() * 1000)}",
            "interaction_id": interaction_id, "at": iso(moment), "kind": "note",
            "actor": "system", "public": False}


def load_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"the body is not valid JSON ({exc}); the webhook must send "
                           "JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    return payload


class _Rows:
    """Records of one delivery as SourceRows; `line` is the record's position (1-based), so a
    bad record of a retried delivery is quarantined once."""

    def __init__(self, source: str, raw: str) -> None:
        self.source, self.raw = source, raw
        self.rows: list[SourceRow] = []

    def record(self, data: dict[str, Any]) -> None:
        self.rows.append(record_row(self.source, len(self.rows) + 1, self.raw, data))

    def error(self, field_name: str | None, reason: str, kind: str | None = None,
              record_id: str | None = None) -> None:
        self.rows.append(error_row(self.source, len(self.rows) + 1, self.raw, field_name,
                                   reason, kind, record_id))


# -- Zendesk ----------------------------------------------------------------------------------

ZENDESK_EVENT_PREFIX = "zen:event-type:"
# What a trigger's `{{ticket.via}}` placeholder prints, as the API's via.channel names
ZENDESK_VIA_NAMES = {"mail": "email", "web_form": "web", "web_service": "api",
                     "closed_ticket": "web", "get_satisfaction": "web", "mobile_sdk": "mobile_sdk",
                     "phone_call_(inbound)": "voice", "phone_call_(outbound)": "voice",
                     "voicemail": "voice", "text": "sms", "twitter_dm": "twitter",
                     "facebook_post": "facebook", "facebook_private_message": "facebook",
                     "messaging": "native_messaging"}
SOLVED = ("solved", "closed")
AGENT_ROLES = ("agent", "admin")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _zendesk_channel(value: Any) -> str:
    name = str(_lower(value) or "").replace(" ", "_")
    return ZENDESK_VIA_NAMES.get(name, name)


def _zendesk_id(value: Any) -> Any:
    # event payloads send ids as strings and "0" (or "") for "none"
    return None if text_id(value) in (None, "0", "null") else value


def _zendesk_ticket_fields(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket from a webhook in the REST API's spelling, for the connector's
    `ticket_records`: event payloads write enumerations in capitals (`"status": "SOLVED"`),
    trigger placeholders print names (`{{ticket.status}}` is "Solved", `{{ticket.via}}`
    "Mail", `{{ticket.tags}}` a space-separated text)."""
    out = dict(ticket)
    for name in ("status", "priority", "type"):
        out[name] = _lower(out.get(name)) or None
    via = out.get("via")
    channel = via.get("channel") if isinstance(via, dict) else via
    out["via"] = {"channel": _zendesk_channel(channel)}
    if "via_channel" in out and channel is None:
        out["via"] = {"channel": _zendesk_channel(out["via_channel"])}
    for name in ("assignee_id", "group_id", "requester_id", "submitter_id"):
        out[name] = _zendesk_id(out.get(name))
    tags = out.get("tags")
    if isinstance(tags, str):
        out["tags"] = tags.split()
    rating = out.get("satisfaction_rating")
    if isinstance(rating, dict) and isinstance(rating.get("score"), str):
        # a placeholder prints "Good" or "Bad with comment"
        out["satisfaction_rating"] = {**rating, "score": rating["score"].strip().lower()
                                      .replace(" ", "_")}
    return out


def _zendesk_comment(state: ZendeskState, ticket: dict[str, Any], comment: dict[str, Any],
                     at: Any) -> list[dict[str, Any]]:
    """A ticket comment as an event: a public comment by staff is an agent message (the first
    is the first response), by anyone else a customer message; a private one a note."""
    ticket_id = text_id(ticket.get("id"))
    author_value = comment.get("author")
    author: dict[str, Any] = author_value if isinstance(author_value, dict) else {}
    author_id = text_id(_zendesk_id(author.get("id") or comment.get("author_id")))
    role = _lower(author.get("role") or comment.get("author_role"))
    if "is_staff" in author:
        staff = bool(author["is_staff"])
    elif role:
        staff = role in AGENT_ROLES
    else:
        # a trigger body without the author's role: anyone but the requester is staff
        staff = author_id is not None and author_id != text_id(ticket.get("requester_id"))
    public_value = comment.get("is_public", comment.get("public", True))
    public = public_value if isinstance(public_value, bool) else (
        str(public_value).strip().lower() not in ("false", "0", "no"))
    when = comment.get("created_at") or at
    try:
        moment = parse_time(when)
    except ValueError as exc:
        raise BadSourceRow("comment.created_at", str(exc)) from None
    comment_id = text_id(comment.get("id")) or f"{ticket_id}-{int(moment.timestamp())}"
    body = comment.get("body") or comment.get("value")
    event: dict[str, Any] = {
        "type": "event", "id": f"{state.settings.prefix}comment-{comment_id}",
        "interaction_id": state.id(ticket_id), "at": iso(moment), "public": public,
        "body": body if isinstance(body, str) and body else None,
    }
    if not public:
        event.update(kind="note", actor="agent" if staff else "customer")
    elif staff:
        event.update(kind="agent_message", actor="agent",
                     agent_id=state.id(author_id) if author_id else None)
    else:
        event.update(kind="customer_message", actor="customer")
    out = [event]
    via = ticket.get("via")
    channel = ZENDESK_CHANNELS.get(str(via.get("channel") if isinstance(via, dict) else via),
                                   "web")
    if event["kind"] == "agent_message" and channel == "chat":
        # chat is timed by answered_at (as the connector sets it from the first reply)
        out.append({**event, "id": event["id"] + "-answered", "kind": "answered",
                    "body": None})
    return out


def _zendesk_status_change(state: ZendeskState, ticket: dict[str, Any], change: dict[str, Any],
                           event_id: str, at: Any) -> dict[str, Any] | None:
    current, previous = _lower(change.get("current")), _lower(change.get("previous"))
    if current in SOLVED and previous not in SOLVED:
        kind = "resolved"
    elif previous in SOLVED and current not in SOLVED:
        kind = "reopened"
    else:
        return None
    try:
        moment = parse_time(at)
    except ValueError as exc:
        raise BadSourceRow("time", str(exc)) from None
    return {"type": "event", "id": f"{state.settings.prefix}{text_id(ticket.get('id'))}-"
            f"{kind}-{event_id}", "interaction_id": state.id(ticket.get("id")),
            "at": iso(moment), "kind": kind, "actor": "system"}


def zendesk_delivery(payload: dict[str, Any],
                     channels: Mapping[str, str] | None = None) -> Delivery:
    """Records from a Zendesk webhook: a ticket event (`"type": "zen:event-type:ticket.*"`
    with the ticket in `detail`) or a trigger's JSON body (`{"ticket": {...}, "comment":
    {...}}`, or the ticket fields alone). `channels`: the configuration's
    `zendesk_channels` (the app's settings)."""
    state = ZendeskState(settings_from(ConnectorOptions(zendesk_channels=channels or {})))
    rows = _Rows(ZENDESK_SOURCE, dumps(payload))
    event_type = payload.get("type")
    comment: Any = None
    status_change: Any = None
    event_id = text_id(payload.get("id"))
    at = payload.get("time")
    is_event = isinstance(event_type, str) and event_type.startswith(ZENDESK_EVENT_PREFIX)
    if is_event:
        name = str(event_type).removeprefix(ZENDESK_EVENT_PREFIX)
        if not name.startswith("ticket."):
            return Delivery(name, ignored=f"{event_type} is not a ticket event")
        ticket: Any = payload.get("detail")
        body: dict[str, Any] = payload["event"] if isinstance(payload.get("event"), dict) else {}
        if name == "ticket.comment_added":
            comment = body.get("comment")
        elif name == "ticket.status_changed":
            status_change = body
    else:
        name = str(payload.get("event") or "ticket")
        ticket = payload.get("ticket", payload)
        comment = payload.get("comment")
        at = at or (ticket.get("updated_at") if isinstance(ticket, dict) else None)
    if not isinstance(ticket, dict) or text_id(ticket.get("id")) is None:
        raise PayloadError("no ticket in the payload: expected a Zendesk ticket event (the "
                           "ticket in `detail`) or a trigger body with a `ticket` object "
                           "holding at least id and created_at (see docs/connectors.md)")
    ticket = _zendesk_ticket_fields(ticket)
    ticket_id = str(state.id(ticket.get("id")))
    as_of = _latest(ticket.get("updated_at"), payload.get("time"))
    first_seen: set[tuple[str, str]] = set()
    try:
        for record in ticket_records(state, ticket, None):
            rows.record(record)
            if record["type"] == "survey" and not is_event:
                # timed by the ticket's updated_at, which later updates move on
                first_seen.add(("survey", record["id"]))
    except BadSourceRow as bad:
        rows.error(f"ticket.{bad.field_name}" if bad.field_name else None, str(bad),
                   "interaction", ticket_id)
    try:
        if isinstance(comment, dict):
            for comment_event in _zendesk_comment(state, ticket, comment, at):
                rows.record(comment_event)
                if not comment.get("created_at") and not is_event:
                    # a trigger body's latest comment is timed by the update that sent it,
                    # which may be a later one (a status change): its first time stands
                    first_seen.add(("event", comment_event["id"]))
        if isinstance(status_change, dict) and event_id is not None:
            status_event = _zendesk_status_change(state, ticket, status_change, event_id, at)
            if status_event is not None:
                rows.record(status_event)
    except BadSourceRow as bad:
        rows.error(bad.field_name, str(bad), "event")
    if as_of is None:
        return Delivery(name, rows.rows, first_seen=first_seen)
    rows.record(_snapshot_marker(ticket_id, as_of))
    # a trigger body tells the status, not its changes: drop_stale compares it with the store
    statuses = {} if is_event else {ticket_id: ticket.get("status")}
    return Delivery(name, rows.rows, as_of={ticket_id: as_of.timestamp()},
                    first_seen=first_seen, statuses=statuses)


def _latest(*values: Any) -> datetime | None:
    """The latest of the times given (unreadable or absent ones left out)."""
    moments = []
    for value in values:
        if value in (None, "", 0):
            continue
        try:
            moments.append(parse_time(value))
        except ValueError:
            continue
    return max(moments) if moments else None


# -- Chatwoot ---------------------------------------------------------------------------------

CHATWOOT_CONVERSATION_EVENTS = ("conversation_created", "conversation_updated",
                                "conversation_status_changed", "conversation_resolved",
                                "conversation_opened")
CHATWOOT_MESSAGE_EVENTS = ("message_created", "message_updated")
_CHATWOOT_TIMES = ("created_at", "updated_at", "last_activity_at", "timestamp",
                   "first_reply_created_at")


def _chatwoot_times(value: dict[str, Any]) -> dict[str, Any]:
    """Chatwoot's webhooks write some times as "2020-03-03 13:05:57 UTC": ISO 8601 for the
    connector."""
    out = dict(value)
    for name in _CHATWOOT_TIMES:
        text = out.get(name)
        if isinstance(text, str) and text.endswith(" UTC"):
            out[name] = text.removesuffix(" UTC").strip() + "+00:00"
    return out


def _chatwoot_conversation_id(message: dict[str, Any]) -> Any:
    # the conversation's display id is the id the API (and so the connector) uses
    conversation = message.get("conversation")
    if isinstance(conversation, dict):
        return conversation.get("display_id") or conversation.get("id")
    return message.get("conversation_id")


def _blocked_unknown(conversation: dict[str, Any], interaction_id: str) -> set[str]:
    """{interaction_id} when the conversation's contact data does not say whether the contact
    is blocked (Chatwoot's webhooks leave `blocked` out of it; its API pages hold it)."""
    meta = conversation.get("meta")
    sender = meta.get("sender") if isinstance(meta, dict) else None
    return {interaction_id} if not (isinstance(sender, dict) and "blocked" in sender) else set()


def chatwoot_delivery(payload: dict[str, Any]) -> Delivery:
    """Records from a Chatwoot webhook: `conversation_*` events carry the conversation,
    `message_*` events the message (with its conversation in `conversation`)."""
    chatwoot = ChatwootMapping(ConnectorOptions())
    event = str(payload.get("event") or "")
    rows = _Rows(CHATWOOT_SOURCE, dumps(payload))
    if event in CHATWOOT_CONVERSATION_EVENTS:
        if text_id(payload.get("id")) is None:
            raise PayloadError(f"{event} without the conversation's id")
        conversation = _chatwoot_times(payload)
        conversation["messages"] = [_chatwoot_times(m) for m in payload.get("messages") or []
                                    if isinstance(m, dict)]
        try:
            for record in chatwoot.conversation(conversation):
                rows.record(record)
        except BadSourceRow as bad:
            rows.error(bad.field_name, str(bad), "interaction",
                       prefixed(chatwoot.prefix, payload.get("id")))
        as_of = _latest(*(conversation.get(name) for name in _CHATWOOT_TIMES))
        interaction_id = str(prefixed(chatwoot.prefix, payload.get("id")))
        if as_of is None:
            return Delivery(event, rows.rows,
                            keep_spam=_blocked_unknown(conversation, interaction_id))
        rows.record(_snapshot_marker(interaction_id, as_of))
        return Delivery(event, rows.rows, as_of={interaction_id: as_of.timestamp()},
                        keep_spam=_blocked_unknown(conversation, interaction_id))
    if event in CHATWOOT_MESSAGE_EVENTS:
        message = _chatwoot_times(payload)
        message["conversation_id"] = _chatwoot_conversation_id(payload)
        try:
            message_event = chatwoot.message(message)
        except BadSourceRow as bad:
            rows.error(bad.field_name, str(bad), "event")
            return Delivery(event, rows.rows)
        if message_event is not None:
            rows.record(message_event)
            holder = payload.get("conversation")
            channel = CHATWOOT_CHANNELS.get(str(holder.get("channel")), "chat") \
                if isinstance(holder, dict) else "chat"
            if (message_event.get("kind") == "agent_message"
                    and message_event.get("actor") == "agent" and message_event.get("public")
                    and channel == "chat"):
                # a chat is answered by the first agent reply (the connector sets answered_at
                # from first_reply_created_at, which a message delivery does not carry)
                rows.record({**message_event, "id": message_event["id"] + "-answered",
                             "kind": "answered", "body": None})
        return Delivery(event, rows.rows)
    return Delivery(event or None, ignored=f"event {event!r} carries no contact data "
                    "ServicePulse uses" if event else "no `event` in the payload")

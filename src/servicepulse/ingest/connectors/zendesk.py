"""Zendesk: the JSON of the REST API (list pages) and of the incremental exports.

Reads any mix of pages: `tickets` (with sideloaded `metric_sets` or an embedded `metric_set`),
`ticket_metrics`, `satisfaction_ratings`, `users`, `groups`, `ticket_metric_events`, one object
a line (JSON Lines), or a single `{"ticket": {...}}`. Every id gets a prefix (`zd-`) so Zendesk
ids cannot collide with other sources.

Tickets and their metrics usually come in different files, so the connector reads in two
passes: first users, groups, ratings, metrics and metric events (users, groups and ratings are
emitted at once; metrics are kept by ticket id), then the tickets, each merged with its
metrics. Metrics whose ticket is not in this import become a first-reply event for the ticket
already in the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from servicepulse.ingest.connectors.base import (
    Connector,
    ConnectorOptions,
    JsonDamage,
    JsonItem,
    MappingError,
    dumps,
    error_row,
    iso,
    iter_json_items,
    json_error_row,
    load_settings,
    parse_time,
    plus_minutes,
    prefixed,
    record_row,
    text_id,
)
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import Role

DEFAULT_PREFIX = "zd-"
LIST_KEYS = ("tickets", "ticket_metrics", "metric_sets", "satisfaction_ratings", "users",
             "groups", "ticket_metric_events")
SINGLE_KEYS = {"ticket": "tickets", "ticket_metric": "ticket_metrics", "user": "users",
               "group": "groups", "satisfaction_rating": "satisfaction_ratings"}

# via.channel -> canonical channel (anything else: web, see docs/connectors.md)
CHANNELS = {
    "email": "email", "web": "web", "web_form": "web", "api": "web", "rule": "web",
    "web_widget": "chat", "chat": "chat", "native_messaging": "chat", "mobile_sdk": "chat",
    "mobile": "chat", "sunshine_conversations_api": "chat", "whatsapp": "chat",
    "line": "chat", "wechat": "chat", "telegram": "chat", "apple_business_chat": "chat",
    "voice": "phone", "phone": "phone",
    "sms": "sms", "twitter": "social", "facebook": "social", "instagram_dm": "social",
    "any_channel": "social",
}
# Only good and bad are answers (offered / unoffered are not). Good is a top-box answer on
# the default 1–5 CSAT scale, bad a bottom-box one, so `csat` (share of 4–5) is the share of
# good ratings, as Zendesk's own satisfaction score.
RATING_SCORES = {"good": 5, "good_with_comment": 5, "bad": 1, "bad_with_comment": 1}
AGENT_ROLES = ("agent", "admin")


@dataclass
class ZendeskSettings:
    prefix: str
    roles: dict[str, str]
    escalation_tags: frozenset[str]


def _settings(options: ConnectorOptions) -> ZendeskSettings:
    raw = load_settings(options.mapping)
    roles = {"agent": "frontline", "admin": "frontline"}
    roles.update({str(k): str(v) for k, v in dict(raw.get("roles", {})).items()})
    valid = {r.value for r in Role}
    for source_role, role in roles.items():
        if role not in valid:
            raise MappingError(f"{options.mapping}: [roles] {source_role} = {role!r} is not a "
                               f"role; use one of {', '.join(sorted(valid))}")
    return ZendeskSettings(
        prefix=options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX)),
        roles=roles,
        escalation_tags=frozenset(str(t) for t in raw.get("escalation_tags", ["escalated"])),
    )


def _kind_of(item: JsonItem) -> tuple[str | None, Any]:
    """The list a row belongs to (tickets, users, ...) by its page key or else its shape."""
    value = item.value
    if item.key is not None:
        return item.key, value
    if isinstance(value, dict) and len(value) == 1:
        (key, inner), = value.items()
        if key in SINGLE_KEYS and isinstance(inner, dict):
            return SINGLE_KEYS[key], inner
    if not isinstance(value, dict):
        return None, value
    if "metric" in value and "instance_id" in value:
        return "ticket_metric_events", value
    if "ticket_id" in value and ("reply_time_in_minutes" in value or "reopens" in value):
        return "ticket_metrics", value
    if "ticket_id" in value and "score" in value:
        return "satisfaction_ratings", value
    if "via" in value or ("requester_id" in value and "status" in value):
        return "tickets", value
    if "role" in value:
        return "users", value
    if "name" in value and ("is_public" in value or "default" in value or "deleted" in value):
        return "groups", value
    return None, value


@dataclass
class _Pending:
    """A ticket's metrics (or metric events) kept from pass one, with where they came from."""

    source: Path
    line: int
    value: dict[str, Any]


@dataclass
class _State:
    settings: ZendeskSettings
    agents: set[str] = field(default_factory=set)  # Zendesk user ids with an agent role
    ratings: set[str] = field(default_factory=set)  # rating ids emitted from the ratings list
    metrics: dict[str, _Pending] = field(default_factory=dict)
    first_reply_events: dict[str, _Pending] = field(default_factory=dict)
    emitted_tickets: dict[str, str] = field(default_factory=dict)  # id -> updated_at

    def id(self, value: Any) -> str | None:
        return prefixed(self.settings.prefix, value)


def _minutes(metric: dict[str, Any], name: str) -> float | None:
    value = metric.get(name)
    if isinstance(value, dict):
        value = value.get("calendar")
    return float(value) if isinstance(value, int | float) else None


class _Bad(ValueError):
    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name


def _time(row: dict[str, Any], name: str) -> datetime:
    if row.get(name) in (None, ""):
        raise _Bad(name, "missing")
    try:
        return parse_time(row[name])
    except ValueError as exc:
        raise _Bad(name, str(exc)) from None


def _optional_time(row: dict[str, Any], name: str) -> datetime | None:
    return None if row.get(name) in (None, "") else _time(row, name)


# -- pass one: everything but tickets ---------------------------------------------------------


def _user(state: _State, user: dict[str, Any]) -> dict[str, Any]:
    user_id = state.id(user.get("id"))
    if user_id is None:
        raise _Bad("id", "missing")
    role = str(user.get("role") or "end-user")
    if role in AGENT_ROLES:
        state.agents.add(str(text_id(user["id"])))
        locale = user.get("locale")
        return {
            "type": "agent", "id": user_id, "name": user.get("name") or user_id,
            "role": state.settings.roles.get(role, "frontline"), "email": user.get("email"),
            "team_id": state.id(user.get("default_group_id")),
            "active": bool(user.get("active", True)) and not user.get("suspended", False),
            "languages": [locale] if locale else None,
        }
    return {"type": "customer", "id": user_id, "name": user.get("name"),
            "email": user.get("email")}


def _group(state: _State, group: dict[str, Any]) -> dict[str, Any]:
    group_id = state.id(group.get("id"))
    if group_id is None:
        raise _Bad("id", "missing")
    return {"type": "team", "id": group_id, "name": group.get("name") or group_id}


def _rating(state: _State, rating: dict[str, Any], ticket: dict[str, Any] | None = None,
            submitted_at: datetime | None = None) -> dict[str, Any] | None:
    score = RATING_SCORES.get(str(rating.get("score")))
    if score is None:
        if rating.get("score") in ("offered", "unoffered", None):
            return None  # not an answer
        raise _Bad("score", f"{rating.get('score')!r} is not a Zendesk rating score "
                   "(offered, unoffered, good, bad)")
    source = ticket or rating
    if submitted_at is None:
        # the rating is created when offered and updated when the customer answers
        submitted_at = _optional_time(rating, "updated_at") or _time(rating, "created_at")
    return {
        "type": "survey", "id": f"{state.settings.prefix}sat-{text_id(rating.get('id'))}",
        "kind": "csat", "score": score, "submitted_at": iso(submitted_at),
        "interaction_id": state.id(rating.get("ticket_id") or (ticket or {}).get("id")),
        "agent_id": state.id(source.get("assignee_id")),
        "customer_id": state.id(source.get("requester_id")),
        "comment": rating.get("comment") or None,
    }


def _pass_one(paths: Sequence[Path], state: _State) -> Iterator[SourceRow]:
    for path in paths:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                yield json_error_row(path, item)
                continue
            kind, value = _kind_of(item)
            if kind == "tickets":
                continue
            raw = dumps(value)
            if kind is None or not isinstance(value, dict):
                yield error_row(path, item.index, raw, None,
                                "not a Zendesk ticket, ticket metric, satisfaction rating, user "
                                "or group; export from the Zendesk API as JSON")
                continue
            try:
                if kind == "users":
                    yield record_row(path, item.index, raw, _user(state, value))
                elif kind == "groups":
                    yield record_row(path, item.index, raw, _group(state, value))
                elif kind == "satisfaction_ratings":
                    survey = _rating(state, value)
                    if survey is not None:
                        state.ratings.add(str(text_id(value.get("id"))))
                        yield record_row(path, item.index, raw, survey)
                elif kind in ("ticket_metrics", "metric_sets"):
                    ticket_id = text_id(value.get("ticket_id"))
                    if ticket_id is None:
                        raise _Bad("ticket_id", "missing")
                    state.metrics[ticket_id] = _Pending(path, item.index, value)
                elif kind == "ticket_metric_events":
                    ticket_id = text_id(value.get("ticket_id"))
                    if (ticket_id is not None and value.get("metric") == "reply_time"
                            and value.get("type") == "fulfill"
                            and value.get("instance_id") in (1, "1")):
                        earlier = state.first_reply_events.get(ticket_id)
                        if earlier is None or _time(value, "time") < _time(earlier.value, "time"):
                            state.first_reply_events[ticket_id] = _Pending(path, item.index,
                                                                           value)
            except _Bad as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad))


# -- pass two: tickets ------------------------------------------------------------------------


def _ticket(state: _State, ticket: dict[str, Any],
            metric: dict[str, Any] | None) -> list[dict[str, Any]]:
    ticket_id = text_id(ticket.get("id"))
    if ticket_id is None:
        raise _Bad("id", "missing")
    created = _time(ticket, "created_at")
    status = str(ticket.get("status") or "") or None
    via = ticket.get("via") or {}
    channel = CHANNELS.get(str(via.get("channel")), "web") if isinstance(via, dict) else "web"
    submitter, requester = text_id(ticket.get("submitter_id")), text_id(ticket.get("requester_id"))
    outbound = submitter is not None and submitter != requester and submitter in state.agents
    tags = ticket.get("tags") or []
    record: dict[str, Any] = {
        "type": "interaction", "id": state.id(ticket_id), "channel": channel,
        "direction": "outbound" if outbound else "inbound", "created_at": iso(created),
        "customer_id": state.id(requester), "agent_id": state.id(ticket.get("assignee_id")),
        "team_id": state.id(ticket.get("group_id")), "subject": ticket.get("subject") or None,
        "priority": ticket.get("priority") or None, "category": ticket.get("type") or None,
        "status": status,
        "escalated": any(str(tag) in state.settings.escalation_tags for tag in tags),
    }
    if metric is not None:
        reply = _minutes(metric, "reply_time_in_minutes")
        if reply is not None:
            # Zendesk's first reply time (calendar) runs from creation to the first public
            # agent comment, so the first response is creation + that time.
            record["first_response_at"] = iso(plus_minutes(created, reply))
        record["reopens"] = int(metric.get("reopens") or 0)
        stations = max(int(metric.get("assignee_stations") or 0),
                       int(metric.get("group_stations") or 0))
        record["transfers"] = max(stations - 1, 0)
    if "first_response_at" not in record and ticket_id in state.first_reply_events:
        event = state.first_reply_events[ticket_id]
        record["first_response_at"] = iso(_time(event.value, "time"))
    if channel == "chat" and "first_response_at" in record:
        # a chat is answered when an agent first replies (the KPI engine times chat by
        # answered_at, like calls)
        record["answered_at"] = record["first_response_at"]
    if status in ("solved", "closed"):
        resolved = _optional_time(metric, "solved_at") if metric else None
        full = _minutes(metric, "full_resolution_time_in_minutes") if metric else None
        if resolved is None and full is not None:
            resolved = plus_minutes(created, full)
        if resolved is None:
            # no metrics: the last update of a solved ticket is its solve (approximation)
            resolved = _optional_time(ticket, "updated_at")
        record["resolved_at"] = iso(resolved) if resolved else None
    out = [record]
    embedded = ticket.get("satisfaction_rating")
    if (isinstance(embedded, dict) and embedded.get("id") is not None
            and str(text_id(embedded["id"])) not in state.ratings):
        when = _optional_time(ticket, "updated_at") or created
        survey = _rating(state, {**embedded, "ticket_id": ticket_id}, ticket, when)
        if survey is not None:
            out.append(survey)
    return out


def _pass_two(paths: Sequence[Path], state: _State) -> Iterator[SourceRow]:
    for path in paths:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                continue  # reported in pass one
            kind, value = _kind_of(item)
            if kind != "tickets":
                continue
            raw = dumps(value)
            if not isinstance(value, dict):
                yield error_row(path, item.index, raw, None, "a ticket must be a JSON object")
                continue
            ticket_id = text_id(value.get("id"))
            updated = str(value.get("updated_at") or "")
            if ticket_id is not None:
                # incremental exports repeat rows: within an import the newest version wins
                seen = state.emitted_tickets.get(ticket_id)
                if seen is not None and _later_or_same(seen, updated):
                    continue
                state.emitted_tickets[ticket_id] = updated
            pending = state.metrics.get(ticket_id) if ticket_id else None
            metric = value.get("metric_set") if isinstance(value.get("metric_set"), dict) else None
            if pending is not None:
                metric = pending.value
            try:
                records = _ticket(state, value, metric)
            except _Bad as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad), "interaction",
                                state.id(ticket_id))
                continue
            for record in records:
                yield record_row(path, item.index, raw, record)


def _later_or_same(seen: str, updated: str) -> bool:
    try:
        return parse_time(seen) >= parse_time(updated)
    except ValueError:
        return True


def _leftovers(state: _State) -> Iterator[SourceRow]:
    """Metrics of tickets not in this import: their first reply, as an event on the ticket."""
    replies: dict[str, tuple[_Pending, datetime]] = {}
    for ticket_id, pending in state.metrics.items():
        if ticket_id in state.emitted_tickets:
            continue
        reply = _minutes(pending.value, "reply_time_in_minutes")
        if reply is None:
            continue
        try:
            replies[ticket_id] = (pending, plus_minutes(_time(pending.value, "created_at"),
                                                        reply))
        except _Bad as bad:
            yield error_row(pending.source, pending.line, dumps(pending.value), bad.field_name,
                            f"{bad} (needed to place the first reply of a ticket not in this "
                            "import)")
    for ticket_id, pending in state.first_reply_events.items():
        if ticket_id not in replies and ticket_id not in state.emitted_tickets:
            try:
                replies[ticket_id] = (pending, _time(pending.value, "time"))
            except _Bad as bad:
                yield error_row(pending.source, pending.line, dumps(pending.value),
                                bad.field_name, str(bad))
    for ticket_id, (pending, at) in replies.items():
        yield record_row(pending.source, pending.line, dumps(pending.value), {
            "type": "event", "id": f"{state.settings.prefix}{ticket_id}-first-reply",
            "interaction_id": state.id(ticket_id), "at": iso(at), "kind": "agent_message",
            "actor": "agent", "public": True,
        })


def read_zendesk(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    return _zendesk_rows(paths, _State(_settings(options)))  # settings checked before any row


def _zendesk_rows(paths: Sequence[Path], state: _State) -> Iterator[SourceRow]:
    yield from _pass_one(paths, state)
    yield from _pass_two(paths, state)
    yield from _leftovers(state)


ZENDESK = Connector(
    "zendesk",
    "Zendesk REST API / incremental export JSON: tickets, ticket metrics, satisfaction "
    "ratings, users, groups, ticket metric events",
    read_zendesk,
)

"""Freshdesk: the JSON of the v2 REST API.

Freshdesk lists are bare JSON arrays (`GET /api/v2/tickets?include=stats`, `/agents`, `/groups`,
`/contacts`, `/surveys/satisfaction_ratings`), so each element is recognised by its shape; pages
wrapped in an object (`{"tickets": [...]}`) and JSON Lines are read too. Ids get the prefix
`fd-`. Everything a ticket needs is on the ticket (`stats`), so this connector streams.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from servicepulse.ingest.connectors.base import (
    Connector,
    ConnectorOptions,
    JsonDamage,
    MappingError,
    dumps,
    error_row,
    iso,
    iter_json_items,
    json_error_row,
    load_settings,
    parse_time,
    prefixed,
    record_row,
    text_id,
)
from servicepulse.ingest.sources import SourceRow

DEFAULT_PREFIX = "fd-"
LIST_KEYS = ("tickets", "agents", "groups", "contacts", "satisfaction_ratings")

STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITIES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
# source code -> (channel, direction); REFERENCES.md gives 1, 2, 3, 7, 9, 10; the others are
# Freshdesk's documented codes (4 forum, 5 Twitter, 6 Facebook, 8 MobiHelp, 11 e-commerce,
# 12 bot, 13 WhatsApp). Unknown codes: web.
SOURCES: dict[int, tuple[str, str]] = {
    1: ("email", "inbound"), 2: ("web", "inbound"), 3: ("phone", "inbound"),
    4: ("web", "inbound"), 5: ("social", "inbound"), 6: ("social", "inbound"),
    7: ("chat", "inbound"), 8: ("chat", "inbound"), 9: ("web", "inbound"),
    10: ("email", "outbound"), 11: ("web", "inbound"), 12: ("chat", "inbound"),
    13: ("chat", "inbound"),
}
# Satisfaction codes on Freshdesk's 2-, 3- and 5-point scales sit on the same 1–5 score (103
# is always the top, −103 the bottom, 100 neutral), so their meaning does not depend on the
# scale size and csat (share of 4–5) is the share of positive answers. Codes ±101 exist only
# on the 7-point scale, which is read on 1–7 with `survey_points = 7`.
FIVE_POINT = {103: 5, 102: 4, 100: 3, -102: 2, -103: 1}
SEVEN_POINT = {103: 7, 102: 6, 101: 5, 100: 4, -101: 3, -102: 2, -103: 1}


class _Bad(ValueError):
    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name


def _code(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Bad(name, f"{value!r} is not a Freshdesk {name} code")
    try:
        return int(value)
    except ValueError:
        raise _Bad(name, f"{value!r} is not a Freshdesk {name} code") from None


def _time(row: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise _Bad(name, "missing")
        return None
    try:
        return iso(parse_time(value))
    except ValueError as exc:
        raise _Bad(name, str(exc)) from None


def _kind_of(key: str | None, value: Any) -> str | None:
    if key is not None:
        return key
    if not isinstance(value, dict):
        return None
    if "ratings" in value:
        return "satisfaction_ratings"
    if "requester_id" in value and ("status" in value or "source" in value):
        return "tickets"
    if isinstance(value.get("contact"), dict):
        return "agents"
    if "agent_ids" in value or ("name" in value and "unassigned_for" in value):
        return "groups"
    if "email" in value or "phone" in value or "mobile" in value:
        return "contacts"
    return None


class _Freshdesk:
    def __init__(self, options: ConnectorOptions) -> None:
        raw = load_settings(options.mapping)
        self.prefix = options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX))
        points = raw.get("survey_points")
        if points not in (None, 2, 3, 5, 7):
            raise MappingError(f"{options.mapping}: survey_points = {points!r}; Freshdesk "
                               "surveys have 2, 3, 5 or 7 points")
        self.seven_point = points == 7
        self.role = str(raw.get("role", "frontline"))

    def id(self, value: Any) -> str | None:
        return prefixed(self.prefix, value)

    def ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        if text_id(ticket.get("id")) is None:
            raise _Bad("id", "missing")
        status_code = _code(ticket.get("status"), "status")
        source_code = _code(ticket.get("source", 2), "source")
        channel, direction = SOURCES.get(source_code, ("web", "inbound"))
        stats = ticket.get("stats") if isinstance(ticket.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        resolved = _time(stats, "resolved_at") or _time(stats, "closed_at")
        priority = ticket.get("priority")
        first_response = _time(stats, "first_responded_at")
        return {
            "type": "interaction", "id": self.id(ticket["id"]), "channel": channel,
            "direction": direction, "created_at": _time(ticket, "created_at", required=True),
            "customer_id": self.id(ticket.get("requester_id")),
            "agent_id": self.id(ticket.get("responder_id")),
            "team_id": self.id(ticket.get("group_id")),
            "subject": ticket.get("subject") or None,
            "category": ticket.get("type") or None,
            "priority": PRIORITIES.get(priority, str(priority)) if priority else None,
            # custom statuses (6 and up) keep their code
            "status": STATUSES.get(status_code, f"status_{status_code}"),
            "first_response_at": first_response,
            # a chat is answered by the first agent reply (the KPI engine times chat by
            # answered_at, like calls)
            "answered_at": first_response if channel == "chat" else None,
            # only open again when resolved/closed now: a reopen followed by a new resolution
            # leaves reopened_at set, and Freshdesk keeps only the last reopen (so at most 1)
            "resolved_at": resolved if status_code in (4, 5) else None,
            "reopens": 1 if stats.get("reopened_at") else 0,
            "escalated": bool(ticket.get("is_escalated")),
        }

    def rating(self, rating: dict[str, Any]) -> dict[str, Any]:
        ratings = rating.get("ratings")
        if not isinstance(ratings, dict) or "default_question" not in ratings:
            raise _Bad("ratings", "missing ratings.default_question")
        code = _code(ratings["default_question"], "rating")
        table = SEVEN_POINT if self.seven_point else FIVE_POINT
        if code not in table:
            hint = (" (±101 exist only on 7-point surveys: set survey_points = 7 in the "
                    "mapping file)" if code in (101, -101) else "")
            raise _Bad("ratings.default_question",
                       f"{code} is not a Freshdesk satisfaction code{hint}")
        return {
            "type": "survey", "id": f"{self.prefix}sat-{text_id(rating.get('id'))}",
            "kind": "csat", "score": table[code],
            "scale_min": 1 if self.seven_point else None,
            "scale_max": 7 if self.seven_point else None,
            "submitted_at": _time(rating, "created_at", required=True),
            "interaction_id": self.id(rating.get("ticket_id")),
            "agent_id": self.id(rating.get("agent_id")),
            "customer_id": self.id(rating.get("user_id")),
            "comment": rating.get("feedback") or None,
        }

    def agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        contact = agent.get("contact") or {}
        agent_id = self.id(agent.get("id"))
        if agent_id is None:
            raise _Bad("id", "missing")
        groups = agent.get("group_ids") or []
        language = contact.get("language")
        return {
            "type": "agent", "id": agent_id, "name": contact.get("name") or agent_id,
            "role": self.role, "email": contact.get("email"),
            "team_id": self.id(groups[0]) if groups else None,
            "active": bool(contact.get("active", True)),
            "languages": [language] if language else None,
        }

    def group(self, group: dict[str, Any]) -> dict[str, Any]:
        group_id = self.id(group.get("id"))
        if group_id is None:
            raise _Bad("id", "missing")
        return {"type": "team", "id": group_id, "name": group.get("name") or group_id}

    def contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        contact_id = self.id(contact.get("id"))
        if contact_id is None:
            raise _Bad("id", "missing")
        return {"type": "customer", "id": contact_id, "name": contact.get("name"),
                "email": contact.get("email")}


def read_freshdesk(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    return _freshdesk_rows(paths, _Freshdesk(options))  # settings checked before any row


def _freshdesk_rows(paths: Sequence[Path], freshdesk: _Freshdesk) -> Iterator[SourceRow]:
    convert = {"tickets": freshdesk.ticket, "satisfaction_ratings": freshdesk.rating,
               "agents": freshdesk.agent, "groups": freshdesk.group,
               "contacts": freshdesk.contact}
    for path in paths:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                yield json_error_row(path, item)
                continue
            raw = dumps(item.value)
            kind = _kind_of(item.key, item.value)
            if kind is None or not isinstance(item.value, dict):
                yield error_row(path, item.index, raw, None,
                                "not a Freshdesk ticket, satisfaction rating, agent, group or "
                                "contact; export with the Freshdesk v2 API as JSON")
                continue
            try:
                yield record_row(path, item.index, raw, convert[kind](item.value))
            except _Bad as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad),
                                None, None)


FRESHDESK = Connector(
    "freshdesk",
    "Freshdesk v2 API JSON: tickets with stats, satisfaction ratings, agents, groups, contacts",
    read_freshdesk,
)

"""Freshdesk: the JSON of the v2 REST API.

Freshdesk lists are bare JSON arrays (`GET /api/v2/tickets?include=stats`, `/agents`, `/groups`,
`/contacts`, `/surveys/satisfaction_ratings`, `/tickets/{id}/conversations`, `/time_entries`),
so each element is recognised by its shape; pages wrapped in an object (`{"tickets": [...]}`)
and JSON Lines are read too. Ids get the prefix `fd-`.

The conversation is where Freshdesk keeps who wrote what: replies, notes and the customer's
messages become events (so the first public agent reply is the first response where a ticket
has no `stats`, and the texts reach sentiment and contact drivers). Agents log their effort
as time entries, the only handle time Freshdesk has: a ticket's `handle_s` is the sum of its
entries. Both need the ticket (its requester tells the customer's portal replies from an
agent's; its channel says whether a reply answers a chat; its entries must be summed onto
it), so the connector reads in two passes: first everything but tickets and conversations
(agents, groups, contacts and ratings are emitted at once; time entries are summed by ticket;
each ticket's requester and channel are noted), then the tickets and conversations.

Spam and deleted tickets (`spam`, `deleted`: the `filter=spam` / `filter=deleted` lists) keep
their record, with status `spam` or `deleted`, so a later export can revive them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from servicepulse.ingest.connectors.base import (
    BadSourceRow,
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
    load_mapping_file,
    parse_time,
    prefixed,
    record_row,
    text_id,
)
from servicepulse.ingest.sources import SourceRow

DEFAULT_PREFIX = "fd-"
LIST_KEYS = ("tickets", "agents", "groups", "contacts", "satisfaction_ratings",
             "time_entries")

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
# Conversation `source` codes (Freshdesk's API): 0 reply, 2 note, 5 tweet, 6 survey feedback,
# 7 Facebook, 8 forwarded email, 9 phone, 11 e-commerce. A note (public or private) and a
# forward (to a third party) never answer the customer.
CONVERSATION_NOTE = 2
CONVERSATION_FORWARD = 8
# Satisfaction codes on Freshdesk's 2-, 3- and 5-point scales sit on the same 1–5 score (103
# is always the top, −103 the bottom, 100 neutral), so their meaning does not depend on the
# scale size and csat (share of 4–5) is the share of positive answers. Codes ±101 exist only
# on the 7-point scale, which is read on 1–7 with `survey_points = 7`.
FIVE_POINT = {103: 5, 102: 4, 100: 3, -102: 2, -103: 1}
SEVEN_POINT = {103: 7, 102: 6, 101: 5, 100: 4, -101: 3, -102: 2, -103: 1}
TIME_SPENT = re.compile(r"^(\d+):([0-5]\d)(?::([0-5]\d))?$")



def _code(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadSourceRow(name, f"{value!r} is not a Freshdesk {name} code")
    try:
        return int(value)
    except ValueError:
        raise BadSourceRow(name, f"{value!r} is not a Freshdesk {name} code") from None


def _time(row: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise BadSourceRow(name, "missing")
        return None
    try:
        return iso(parse_time(value))
    except ValueError as exc:
        raise BadSourceRow(name, str(exc)) from None


def _seconds_spent(value: Any) -> int:
    """Freshdesk's `time_spent` ("hh:mm", also "hh:mm:ss") in seconds."""
    match = TIME_SPENT.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise BadSourceRow("time_spent", f"{value!r} is not a Freshdesk time spent (write hh:mm, "
                           "e.g. 01:30)")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")


def _body_text(row: dict[str, Any], text_key: str, html_key: str) -> str | None:
    """The plain text Freshdesk gives (`body_text`), else the HTML `body` without its tags."""
    text = row.get(text_key)
    if isinstance(text, str) and text.strip():
        return text
    html = row.get(html_key)
    if isinstance(html, str) and html.strip():
        parser = _Text()
        parser.feed(html)
        parser.close()
        plain = re.sub(r"\n\s*\n+", "\n", "".join(parser.parts)).strip()
        return plain or None
    return None


def _kind_of(key: str | None, value: Any) -> str | None:
    if key is not None:
        return key
    if not isinstance(value, dict):
        return None
    if "ratings" in value:
        return "satisfaction_ratings"
    if "time_spent" in value:
        return "time_entries"
    if "requester_id" in value and ("status" in value or "source" in value):
        return "tickets"
    if "ticket_id" in value and ("body_text" in value or "body" in value
                                 or "incoming" in value):
        return "conversations"
    if isinstance(value.get("contact"), dict):
        return "agents"
    if "agent_ids" in value or ("name" in value and "unassigned_for" in value):
        return "groups"
    if "email" in value or "phone" in value or "mobile" in value:
        return "contacts"
    return None


@dataclass
class _Ticket:
    """What pass one notes of a ticket for pass two's conversations."""

    requester: str | None
    channel: str
    first_response: datetime | None = None  # stats.first_responded_at


@dataclass
class _Entry:
    """A time entry kept from pass one until its ticket is read (or found missing)."""

    path: Path
    index: int
    raw: str
    ticket: str
    seconds: int


@dataclass
class _State:
    tickets: dict[str, _Ticket] = field(default_factory=dict)
    # ticket -> entry id -> entry: an entry listed twice (the account's list and the
    # ticket's) counts once
    entries: dict[str, dict[str, _Entry]] = field(default_factory=dict)
    # files holding tickets or conversations, read again in pass two
    second_pass: list[Path] = field(default_factory=list)


class _Freshdesk:
    def __init__(self, options: ConnectorOptions) -> None:
        raw = load_mapping_file(options.mapping)
        self.prefix = options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX))
        points = raw.get("survey_points")
        if points not in (None, 2, 3, 5, 7):
            raise MappingError(f"{options.mapping}: survey_points = {points!r}; Freshdesk "
                               "surveys have 2, 3, 5 or 7 points")
        self.seven_point = points == 7
        self.role = str(raw.get("role", "frontline"))
        # the agents' and contacts' ids of this import (pass one), to tell who wrote a
        # conversation whose ticket is not in the import
        self.agents: set[str] = set()
        self.customers: set[str] = set()

    def id(self, value: Any) -> str | None:
        return prefixed(self.prefix, value)

    def channel(self, ticket: dict[str, Any]) -> tuple[str, str]:
        return SOURCES.get(_code(ticket.get("source", 2), "source"), ("web", "inbound"))

    def ticket(self, ticket: dict[str, Any], handle_s: int | None = None
               ) -> list[dict[str, Any]]:
        if text_id(ticket.get("id")) is None:
            raise BadSourceRow("id", "missing")
        status_code = _code(ticket.get("status"), "status")
        channel, direction = self.channel(ticket)
        stats = ticket.get("stats") if isinstance(ticket.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        # without stats (the plain ticket list) a resolved ticket's last update is the best
        # time there is for its resolution, as the Zendesk connector does without metrics
        resolved = (_time(stats, "resolved_at") or _time(stats, "closed_at")
                    or _time(ticket, "updated_at"))
        priority = ticket.get("priority")
        first_response = _time(stats, "first_responded_at")
        created_at = _time(ticket, "created_at", required=True)
        status = STATUSES.get(status_code, f"status_{status_code}")  # custom: keep the code
        if ticket.get("deleted") is True:
            status = "deleted"
        elif ticket.get("spam") is True:
            status = "spam"
        record = {
            "type": "interaction", "id": self.id(ticket["id"]), "channel": channel,
            "direction": direction, "created_at": created_at,
            "customer_id": self.id(ticket.get("requester_id")),
            "agent_id": self.id(ticket.get("responder_id")),
            "team_id": self.id(ticket.get("group_id")),
            "subject": ticket.get("subject") or None,
            "category": ticket.get("type") or None,
            "priority": PRIORITIES.get(priority, str(priority)) if priority else None,
            "status": status,
            "first_response_at": first_response,
            # a chat is answered by the first agent reply (the KPI engine times chat by
            # answered_at, like calls)
            "answered_at": first_response if channel == "chat" else None,
            # only open again when resolved/closed now: a reopen followed by a new resolution
            # leaves reopened_at set, and Freshdesk keeps only the last reopen (so at most 1)
            "resolved_at": resolved if status_code in (4, 5) else None,
            "reopens": 1 if stats.get("reopened_at") else 0,
            "escalated": bool(ticket.get("is_escalated")),
            "handle_s": handle_s,
        }
        out = [record]
        # The description is the ticket's first message (the conversations list leaves it
        # out): the customer's request, or the agent's e-mail of an outbound ticket.
        description = _body_text(ticket, "description_text", "description")
        if description is not None:
            event: dict[str, Any] = {
                "type": "event", "id": f"{record['id']}-description",
                "interaction_id": record["id"], "at": created_at, "public": True,
                "body": description,
            }
            if direction == "outbound":
                event.update(kind="agent_message", actor="agent", agent_id=record["agent_id"])
            else:
                event.update(kind="customer_message", actor="customer")
            out.append(event)
        # a single ticket viewed with include=conversations holds them
        about = _Ticket(text_id(ticket.get("requester_id")), channel,
                        parse_time(first_response) if first_response else None)
        for conversation in ticket.get("conversations") or []:
            if isinstance(conversation, dict):
                out.extend(self.conversation({"ticket_id": ticket["id"], **conversation},
                                             about))
        return out

    def conversation(self, conversation: dict[str, Any], ticket: _Ticket | None
                     ) -> list[dict[str, Any]]:
        conversation_id = text_id(conversation.get("id"))
        if conversation_id is None:
            raise BadSourceRow("id", "missing")
        ticket_id = self.id(conversation.get("ticket_id"))
        if ticket_id is None:
            raise BadSourceRow("ticket_id", "missing")
        source = conversation.get("source")
        private = bool(conversation.get("private"))
        user = text_id(conversation.get("user_id"))
        event: dict[str, Any] = {
            "type": "event", "id": f"{self.prefix}conv-{conversation_id}",
            "interaction_id": ticket_id, "at": _time(conversation, "created_at", required=True),
            "public": not private, "body": _body_text(conversation, "body_text", "body"),
        }
        # `incoming` marks what came from outside (e-mail); a customer's reply on the portal
        # is not incoming, but its author is the ticket's requester (or, the ticket not in
        # the import, someone who is not an agent: a contact of the import, or anyone not in
        # the import's agents file)
        by_customer = bool(conversation.get("incoming")) or (
            user is not None and not private
            and ((ticket is not None and user == ticket.requester)
                 or (ticket is None and user not in self.agents
                     and (user in self.customers or bool(self.agents)))))
        if by_customer:
            event.update(kind="customer_message", actor="customer")
            return [event]
        event.update(actor="agent", agent_id=self.id(user))
        if private or source in (CONVERSATION_NOTE, CONVERSATION_FORWARD):
            event.update(kind="note")
            return [event]
        if (ticket is not None and ticket.first_response is not None
                and parse_time(event["at"]) < ticket.first_response):
            # Freshdesk's own first response (stats) wins where both are in one import: a
            # reply before it is one Freshdesk did not count as a response
            event.update(kind="note")
            return [event]
        event.update(kind="agent_message")
        out = [event]
        if ticket is not None and ticket.channel == "chat":
            # a chat is answered by the first agent reply (the KPI engine times chat by
            # answered_at; the earliest `answered` event wins)
            out.append({**event, "id": event["id"] + "-answered", "kind": "answered",
                        "body": None})
        return out

    def time_entry(self, entry: dict[str, Any]) -> tuple[str, str, int]:
        """(entry id, ticket id, seconds spent)."""
        entry_id = text_id(entry.get("id"))
        if entry_id is None:
            raise BadSourceRow("id", "missing")
        ticket = text_id(entry.get("ticket_id"))
        if ticket is None:
            raise BadSourceRow("ticket_id",
                               "missing: a time entry counts as handle time of its ticket")
        return entry_id, ticket, _seconds_spent(entry.get("time_spent"))

    def rating(self, rating: dict[str, Any]) -> dict[str, Any]:
        ratings = rating.get("ratings")
        if not isinstance(ratings, dict) or "default_question" not in ratings:
            raise BadSourceRow("ratings", "missing ratings.default_question")
        code = _code(ratings["default_question"], "rating")
        table = SEVEN_POINT if self.seven_point else FIVE_POINT
        if code not in table:
            hint = (" (±101 exist only on 7-point surveys: set survey_points = 7 in the "
                    "mapping file)" if code in (101, -101) else "")
            raise BadSourceRow("ratings.default_question",
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
            raise BadSourceRow("id", "missing")
        groups = agent.get("group_ids") or []
        language = contact.get("language")
        self.agents.add(str(text_id(agent.get("id"))))
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
            raise BadSourceRow("id", "missing")
        return {"type": "team", "id": group_id, "name": group.get("name") or group_id}

    def contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        contact_id = self.id(contact.get("id"))
        if contact_id is None:
            raise BadSourceRow("id", "missing")
        self.customers.add(str(text_id(contact.get("id"))))
        return {"type": "customer", "id": contact_id, "name": contact.get("name"),
                "email": contact.get("email")}


NOT_FRESHDESK = ("not a Freshdesk ticket, conversation, time entry, satisfaction rating, agent, "
                 "group or contact; export with the Freshdesk v2 API as JSON")


@dataclass(frozen=True)
class _Element:
    """One element of an export, with the kind its shape says."""

    index: int
    raw: str
    kind: str | None
    value: Any


def _elements(path: Path, item: JsonItem) -> Iterator[_Element]:
    value = item.value
    kind = _kind_of(item.key, value)
    if kind is None and isinstance(value, dict) and isinstance(value.get("conversations"),
                                                                list):
        # a page wrapped as {"conversations": [...]} (a ticket's own list is inside a ticket)
        for index, element in enumerate(value["conversations"], start=1):
            yield _Element(index, dumps(element),
                           "conversations" if isinstance(element, dict) else None, element)
        return
    yield _Element(item.index, dumps(value), kind if isinstance(value, dict) else None, value)


def read_freshdesk(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    return _freshdesk_rows(paths, _Freshdesk(options))  # settings checked before any row


def _freshdesk_rows(paths: Sequence[Path], freshdesk: _Freshdesk) -> Iterator[SourceRow]:
    state = _State()
    yield from _pass_one(paths, freshdesk, state)
    # entries whose ticket this import does not hold: their sum has nowhere to go
    for ticket, entries in state.entries.items():
        if ticket in state.tickets:
            continue
        for entry in entries.values():
            yield error_row(entry.path, entry.index, entry.raw, "ticket_id",
                            f"ticket {entry.ticket} is not in this import: a ticket's handle "
                            "time is the sum of its time entries, so import the time entries "
                            "together with their tickets")
    yield from _pass_two(freshdesk, state)


def _pass_one(paths: Sequence[Path], freshdesk: _Freshdesk,
              state: _State) -> Iterator[SourceRow]:
    """Agents, groups, contacts and ratings emitted; time entries summed; tickets noted."""
    convert = {"satisfaction_ratings": freshdesk.rating, "agents": freshdesk.agent,
               "groups": freshdesk.group, "contacts": freshdesk.contact}
    for path in paths:
        again = False
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                yield json_error_row(path, item)
                continue
            for element in _elements(path, item):
                if element.kind is None:
                    yield error_row(path, element.index, element.raw, None, NOT_FRESHDESK)
                    continue
                try:
                    if element.kind in ("tickets", "conversations"):
                        again = True
                        if element.kind == "tickets":
                            _note_ticket(freshdesk, state, element.value)
                    elif element.kind == "time_entries":
                        entry_id, ticket, seconds = freshdesk.time_entry(element.value)
                        state.entries.setdefault(ticket, {})[entry_id] = _Entry(
                            path, element.index, element.raw, ticket, seconds)
                    else:
                        yield record_row(path, element.index, element.raw,
                                         convert[element.kind](element.value))
                except BadSourceRow as bad:
                    yield error_row(path, element.index, element.raw, bad.field_name,
                                    str(bad))
        if again:
            state.second_pass.append(path)


def _note_ticket(freshdesk: _Freshdesk, state: _State, ticket: dict[str, Any]) -> None:
    ticket_id = text_id(ticket.get("id"))
    if ticket_id is None:
        return  # reported in pass two
    try:
        channel, _ = freshdesk.channel(ticket)
    except BadSourceRow:
        channel = "web"  # reported in pass two
    stats = ticket.get("stats")
    first_response = stats.get("first_responded_at") if isinstance(stats, dict) else None
    try:
        responded = parse_time(first_response) if first_response else None
    except ValueError:
        responded = None  # reported in pass two
    state.tickets[ticket_id] = _Ticket(text_id(ticket.get("requester_id")), channel, responded)


def _pass_two(freshdesk: _Freshdesk, state: _State) -> Iterator[SourceRow]:
    """Tickets (with the sum of their time entries) and conversations."""
    for path in state.second_pass:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                continue  # reported in pass one
            for element in _elements(path, item):
                if element.kind not in ("tickets", "conversations"):
                    continue
                value = element.value
                try:
                    if element.kind == "tickets":
                        entries = state.entries.get(text_id(value.get("id")) or "", {})
                        handle = sum(e.seconds for e in entries.values()) if entries else None
                        records = freshdesk.ticket(value, handle)
                    else:
                        records = freshdesk.conversation(
                            value, state.tickets.get(text_id(value.get("ticket_id")) or ""))
                except BadSourceRow as bad:
                    yield error_row(path, element.index, element.raw, bad.field_name,
                                    str(bad))
                    continue
                for record in records:
                    yield record_row(path, element.index, element.raw, record)


FRESHDESK = Connector(
    "freshdesk",
    "Freshdesk v2 API JSON: tickets with stats, conversations, time entries, satisfaction "
    "ratings, agents, groups, contacts",
    read_freshdesk,
)

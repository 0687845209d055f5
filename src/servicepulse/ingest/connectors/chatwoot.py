"""Chatwoot: the JSON of the application API (v1).

Written from Chatwoot's documented API shapes (no live instance was available):
- conversations: `GET /api/v1/accounts/{a}/conversations` ->
  `{"data": {"meta": {...}, "payload": [conversation, ...]}}`; a conversation has `id` (the
  display id), `inbox_id`, `status` (open, resolved, pending, snoozed), `created_at` (epoch),
  `last_activity_at`, `first_reply_created_at`, `priority`, `labels` and `meta.sender`
  (contact), `meta.assignee` (agent), `meta.team`, `meta.channel` (`Channel::WebWidget`, ...);
- messages: `GET .../conversations/{id}/messages` -> `{"meta": {...}, "payload": [message]}`;
  a message has `id`, `conversation_id`, `content`, `message_type` (0 incoming, 1 outgoing,
  2 activity, 3 template; webhooks spell them out), `private`, `created_at`, `sender_type`
  (Contact, User, AgentBot), `sender` / `sender_id`;
- CSAT: `GET .../csat_survey_responses` -> `[{id, rating 1–5, feedback_message,
  conversation_id, contact {id}, assigned_agent {id}, created_at}]`;
- agents (`[{id, name, email, role, availability_status}]`), teams (`[{id, name,
  description, allow_auto_assign}]`) and contacts (`{"payload": [{id, name, email,
  phone_number}]}`).

Conversations become interactions, messages events (customer and agent texts, so the
projector finds the first response, and sentiment and contact drivers read the customer's
words), CSAT responses surveys. Ids get the prefix `cw-`. Times may be epoch seconds or
ISO 8601.

Spam and deletion, as Chatwoot has them: Chatwoot has no spam status; an agent *blocks* the
contact (`blocked` on the contact, also in each conversation's `meta.sender` of the API
pages; webhooks leave it out), and Chatwoot resolves every new conversation of a blocked
contact at once. Those conversations are kept
with status `spam` (unblocking revives them at the next export). A deleted conversation is
destroyed (no API or webhook shows it); a deleted message keeps its place with the text "This
message was deleted" and `content_attributes.deleted`: its event keeps its time but no body, so
the placeholder is never read as what the customer wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from servicepulse.ingest.connectors.base import (
    BadSourceRow,
    Connector,
    ConnectorOptions,
    JsonDamage,
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

DEFAULT_PREFIX = "cw-"
LIST_KEYS = ("data.payload", "payload", "conversations", "messages", "csat_survey_responses",
             "agents", "teams", "contacts")

CHANNELS = {
    "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Email": "email",
    "Channel::FacebookPage": "social", "Channel::TwitterProfile": "social",
    "Channel::Instagram": "social", "Channel::Whatsapp": "chat", "Channel::Telegram": "chat",
    "Channel::Line": "chat", "Channel::Sms": "sms", "Channel::TwilioSms": "sms",
}
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template",
                 "incoming": "incoming", "outgoing": "outgoing", "activity": "activity",
                 "template": "template"}
# Chatwoot's English activity texts that say what happened to the conversation
ACTIVITY_KINDS = (("marked resolved", "resolved"), ("was resolved", "resolved"),
                  ("reopened", "reopened"), ("assigned to", "assigned"),
                  ("self-assigned", "assigned"))



def _time(row: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = row.get(name)
    if value in (None, "", 0):
        if required:
            raise BadSourceRow(name, "missing")
        return None
    try:
        return iso(parse_time(value))
    except ValueError as exc:
        raise BadSourceRow(name, str(exc)) from None


def _kind_of(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "message_type" in value:
        return "messages"
    if "rating" in value and "conversation_id" in value:
        return "csat_survey_responses"
    if "inbox_id" in value and ("status" in value or "meta" in value):
        return "conversations"
    if "role" in value and "email" in value:
        return "agents"
    if "allow_auto_assign" in value:
        return "teams"
    if "phone_number" in value or "identifier" in value or "email" in value:
        return "contacts"
    return None


def _nested_id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else None


def _activity_phrases(mapping: Path | None, given: Any) -> tuple[tuple[str, str], ...]:
    """The settings' `[activities]` (kind = [phrases]) first, then Chatwoot's English ones."""
    kinds = sorted({kind for _, kind in ACTIVITY_KINDS})
    example = '[activities] resolved = ["als gelöst markiert"]'
    if not isinstance(given, dict):
        raise MappingError(f"{mapping}: activities must be a table of kind = [phrases], "
                           f"e.g. {example}")
    phrases: list[tuple[str, str]] = []
    for kind, values in given.items():
        if kind not in kinds:
            raise MappingError(f"{mapping}: [activities] {kind} is not an activity kind; use "
                               f"one of {', '.join(kinds)}")
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not all(
                isinstance(value, str) and value.strip() for value in values):
            raise MappingError(f"{mapping}: [activities] {kind} must be a list of phrases, "
                               f"e.g. {example}")
        phrases += [(value.strip().lower(), kind) for value in values]
    return (*phrases, *ACTIVITY_KINDS)


class ChatwootMapping:
    """Chatwoot's objects as records, with the settings of one account (id prefix, role,
    activity phrases). Each method raises BadSourceRow naming the field when the object
    cannot become a record; the reader and the webhooks turn that into an error row."""

    def __init__(self, options: ConnectorOptions) -> None:
        raw = load_mapping_file(options.mapping)
        self.prefix = options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX))
        self.role = str(raw.get("role", "frontline"))
        # an account in another language: its activity phrases (settings [activities]) are
        # looked for before the English ones
        self.activities = _activity_phrases(options.mapping, raw.get("activities", {}))

    def id(self, value: Any) -> str | None:
        return prefixed(self.prefix, value)

    def conversation(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        if text_id(conversation.get("id")) is None:
            raise BadSourceRow("id", "missing")
        meta = conversation.get("meta") or {}
        channel_type = meta.get("channel") or conversation.get("channel")
        status = conversation.get("status")
        channel = CHANNELS.get(str(channel_type), "chat")
        first_reply = _time(conversation, "first_reply_created_at")
        sender = meta.get("sender")
        if isinstance(sender, dict) and sender.get("blocked") is True:
            status = "spam"  # Chatwoot's spam: a blocked contact
        record = {
            "type": "interaction", "id": self.id(conversation["id"]),
            "channel": channel, "direction": "inbound",
            "created_at": _time(conversation, "created_at", required=True),
            "customer_id": self.id(_nested_id(meta.get("sender"))
                                   or conversation.get("contact_id")),
            "agent_id": self.id(_nested_id(meta.get("assignee"))
                                or conversation.get("assignee_id")),
            "team_id": self.id(_nested_id(meta.get("team")) or conversation.get("team_id")),
            "priority": conversation.get("priority") or None,
            "category": (conversation.get("labels") or [None])[0],
            "status": status,
            # Chatwoot's own first response time (human agents only); a later message
            # import refines it through the events
            "first_response_at": first_reply,
            # a chat is answered by the first agent reply (the KPI engine times chat by
            # answered_at, like calls)
            "answered_at": first_reply if channel == "chat" else None,
            # the API gives no resolution time: a resolved conversation's last activity is
            # its resolution, unless its activity messages say when (events then win)
            "resolved_at": (_time(conversation, "last_activity_at") or
                            _time(conversation, "timestamp"))
            if conversation.get("status") == "resolved" else None,
        }
        out = [record]
        for message in conversation.get("messages") or []:
            if isinstance(message, dict):
                event = self.message({"conversation_id": conversation["id"], **message})
                if event is not None:
                    out.append(event)
        return out

    def message(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if text_id(message.get("id")) is None:
            raise BadSourceRow("id", "missing")
        conversation = message.get("conversation_id")
        if text_id(conversation) is None:
            raise BadSourceRow("conversation_id", "missing")
        message_type = MESSAGE_TYPES.get(message.get("message_type"))
        if message_type is None:
            raise BadSourceRow("message_type", f"{message.get('message_type')!r} is not a Chatwoot "
                               "message type (0 incoming, 1 outgoing, 2 activity, 3 template)")
        sender_type = str(message.get("sender_type")
                          or (message.get("sender") or {}).get("type") or "").lower()
        sender_id = message.get("sender_id") or _nested_id(message.get("sender"))
        content = message.get("content")
        attributes = message.get("content_attributes")
        if isinstance(attributes, dict) and attributes.get("deleted"):
            content = None  # Chatwoot's placeholder, not the text that was written
        event: dict[str, Any] = {
            "type": "event", "id": f"{self.prefix}msg-{text_id(message['id'])}",
            "interaction_id": self.id(conversation),
            "at": _time(message, "created_at", required=True),
            "public": not bool(message.get("private")),
            "body": content if isinstance(content, str) and content else None,
        }
        if message_type == "incoming":
            event.update(kind="customer_message", actor="customer")
        elif message_type == "outgoing":
            if sender_type in ("agentbot", "agent_bot", "bot"):
                event.update(kind="agent_message", actor="bot")
            else:
                # a private message is an agent's internal note, never a response
                event.update(kind="note" if message.get("private") else "agent_message",
                             actor="agent", agent_id=self.id(sender_id) if sender_id else None)
        elif message_type == "template":
            event.update(kind="note", actor="bot")
        else:  # activity: what happened to the conversation, in Chatwoot's (English) words
            text = (content or "").lower() if isinstance(content, str) else ""
            kind = next((k for phrase, k in self.activities if phrase in text), "note")
            event.update(kind=kind, actor="system")
        return event

    def csat(self, response: dict[str, Any]) -> dict[str, Any]:
        if text_id(response.get("id")) is None:
            raise BadSourceRow("id", "missing")
        rating = response.get("rating")
        if not isinstance(rating, int | float) or isinstance(rating, bool):
            raise BadSourceRow("rating", f"{rating!r} is not a 1–5 rating")
        return {
            "type": "survey", "id": f"{self.prefix}csat-{text_id(response['id'])}",
            "kind": "csat", "score": rating,
            "submitted_at": _time(response, "created_at", required=True),
            "interaction_id": self.id(response.get("conversation_id")),
            "agent_id": self.id(_nested_id(response.get("assigned_agent"))
                                or response.get("assigned_agent_id")),
            "customer_id": self.id(_nested_id(response.get("contact"))
                                   or response.get("contact_id")),
            "comment": response.get("feedback_message") or None,
        }

    def agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        agent_id = self.id(agent.get("id"))
        if agent_id is None:
            raise BadSourceRow("id", "missing")
        return {"type": "agent", "id": agent_id,
                "name": agent.get("available_name") or agent.get("name") or agent_id,
                "role": self.role, "email": agent.get("email"),
                "active": bool(agent.get("confirmed", True))}

    def team(self, team: dict[str, Any]) -> dict[str, Any]:
        team_id = self.id(team.get("id"))
        if team_id is None:
            raise BadSourceRow("id", "missing")
        return {"type": "team", "id": team_id, "name": team.get("name") or team_id}

    def contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        contact_id = self.id(contact.get("id"))
        if contact_id is None:
            raise BadSourceRow("id", "missing")
        return {"type": "customer", "id": contact_id, "name": contact.get("name") or None,
                "email": contact.get("email") or None}

    def convert(self, kind: str, value: dict[str, Any]) -> list[dict[str, Any]]:
        if kind == "conversations":
            return self.conversation(value)
        if kind == "messages":
            event = self.message(value)
            return [event] if event else []
        if kind == "csat_survey_responses":
            return [self.csat(value)]
        if kind == "agents":
            return [self.agent(value)]
        if kind == "teams":
            return [self.team(value)]
        return [self.contact(value)]


def read_chatwoot(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    # settings checked before any row
    return _chatwoot_rows(paths, ChatwootMapping(options))


def _chatwoot_rows(paths: Sequence[Path], chatwoot: ChatwootMapping) -> Iterator[SourceRow]:
    for path in paths:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                yield json_error_row(path, item)
                continue
            raw = dumps(item.value)
            # Chatwoot wraps different lists in the same `payload` key: go by shape
            kind = _kind_of(item.value)
            if kind is None or not isinstance(item.value, dict):
                yield error_row(path, item.index, raw, None,
                                "not a Chatwoot conversation, message, CSAT response, agent, "
                                "team or contact; export with the Chatwoot API as JSON")
                continue
            try:
                records = chatwoot.convert(kind, item.value)
            except BadSourceRow as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad))
                continue
            for record in records:
                yield record_row(path, item.index, raw, record)


CHATWOOT = Connector(
    "chatwoot",
    "Chatwoot API JSON: conversations, messages, CSAT survey responses, agents, teams, "
    "contacts",
    read_chatwoot,
)

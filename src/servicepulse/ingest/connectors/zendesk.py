"""Zendesk: the JSON of the REST API (list pages) and of the incremental exports.

Reads any mix of pages: `tickets` (with sideloaded `metric_sets` or an embedded `metric_set`),
`ticket_metrics`, `satisfaction_ratings`, `users`, `groups`, `ticket_metric_events`, the
conversation (`audits` of `GET /api/v2/tickets/{id}/audits` or the audits list, `comments` of
`GET /api/v2/tickets/{id}/comments`, `ticket_events` of the incremental ticket event export),
`ticket_fields` (to find the Time Tracking app's "Total time spent (sec)" field, the tickets'
handle time), one object a line (JSON Lines), or a single `{"ticket": {...}}`. Every id gets
a prefix (`zd-`) so Zendesk ids cannot collide with other sources.

Tickets, their metrics and their conversation usually come in different files, so the
connector reads in three passes: first users, groups, ratings, metrics, metric events and
what the conversation says about each ticket (who requested it, its opening comment, its
status changes; users, groups and ratings are emitted at once), then the tickets, each merged
with its metrics, then the comments as events. A comment can only be told an agent's reply or
a customer's message once the users and the ticket are known, which is why it comes last; the
bodies are read again from the files rather than kept, so a large export does not sit in
memory. Metrics whose ticket is not in this import become a first-reply event for the ticket
already in the store.

Zendesk's own first reply time (the metrics) wins over the comments where both are in one
import: it is what Zendesk reports, and it knows things an export does not (who was an agent
at the time, sharing agreements). Without metrics, the first reply is the first public agent
comment after creation, never the ticket's opening comment (for a ticket an agent opened, it
is the request, as Zendesk's reply time has it), never a private note.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
    page_scalars,
    parse_time,
    plus_minutes,
    prefixed,
    record_row,
    text_id,
)
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import Channel, Role

DEFAULT_PREFIX = "zd-"
LIST_KEYS = ("tickets", "ticket_metrics", "metric_sets", "satisfaction_ratings", "users",
             "groups", "ticket_metric_events", "audits", "comments", "ticket_events",
             "ticket_fields", "deleted_tickets")
SINGLE_KEYS = {"ticket": "tickets", "ticket_metric": "ticket_metrics", "user": "users",
               "group": "groups", "satisfaction_rating": "satisfaction_ratings",
               "audit": "audits", "comment": "comments", "ticket_field": "ticket_fields"}
CONVERSATION = ("audits", "comments", "ticket_events")

# via.channel -> canonical channel (anything else: web; the settings may override any of
# them, see docs/connectors.md). Zendesk writes a via type by name, or by its number.
CHANNELS = {
    # e-mail
    "email": "email", "mail": "email", "4": "email",
    # web: forms, the help centre, and the ways a ticket is made from another (API,
    # business rules, follow-ups, imports, sharing, the agent apps)
    "web": "web", "web_form": "web", "0": "web", "dropbox": "web", "17": "web",
    "help_center": "web", "forum": "web", "topic": "web", "24": "web",
    "api": "web", "web_service": "web", "5": "web", "rule": "web", "8": "web",
    "closed_ticket": "web", "27": "web", "batch": "web", "20": "web", "import": "web",
    "ticket_sharing": "web", "31": "web", "blog": "web", "github": "web",
    "sample_ticket": "web", "mobile": "web", "iphone": "web", "system": "web",
    "side_conversation": "web",
    # chat and messaging
    "chat": "chat", "29": "chat", "chat_transcript": "chat", "web_widget": "chat",
    "native_messaging": "chat", "messaging": "chat", "mobile_sdk": "chat",
    "sunshine_conversations_api": "chat", "whatsapp": "chat", "line": "chat",
    "wechat": "chat", "telegram": "chat", "apple_business_chat": "chat",
    "google_business_messages": "chat", "google_rcs": "chat", "kakaotalk": "chat",
    "viber": "chat", "slack": "chat", "microsoft_teams": "chat", "answer_bot": "chat",
    # voice
    "voice": "phone", "phone": "phone", "voicemail": "phone", "33": "phone",
    "phone_call_inbound": "phone", "34": "phone", "phone_call_outbound": "phone",
    "35": "phone",
    # text messages
    "sms": "sms", "text_message": "sms",
    # social networks, and channel-framework integrations (mostly social)
    "twitter": "social", "twitter_dm": "social", "26": "social", "twitter_favorite": "social",
    "x": "social", "30": "social", "facebook": "social", "facebook_post": "social",
    "38": "social", "facebook_message": "social", "41": "social", "instagram_dm": "social",
    "instagram": "social", "youtube": "social", "any_channel": "social",
}
# via.channel values that say only "made through the API": an integration then often made the
# ticket on behalf of another channel, which `via.source` shows
API_CHANNELS = frozenset({"api", "web_service", "5"})
# Only good and bad are answers (offered / unoffered are not). Good is a top-box answer on
# the default 1–5 CSAT scale, bad a bottom-box one, so `csat` (share of 4–5) is the share of
# good ratings, as Zendesk's own satisfaction score.
RATING_SCORES = {"good": 5, "good_with_comment": 5, "bad": 1, "bad_with_comment": 1}
AGENT_ROLES = ("agent", "admin")
COMMENT_TYPES = ("Comment", "VoiceComment")
SOLVED = ("solved", "closed")
OPEN = ("new", "open", "pending", "hold")
SYSTEM_USER = "-1"  # Zendesk's own author id (triggers, automations)
# The custom ticket field in which Zendesk's Time Tracking app keeps the time agents spent on
# a ticket, in seconds (it also makes "Time spent last update (sec)": one update's, not read)
TIME_SPENT_TITLE = "total time spent (sec)"


@dataclass
class ZendeskSettings:
    prefix: str
    roles: dict[str, str]
    escalation_tags: frozenset[str]
    # via.channel -> channel: the table above, overridden by the configuration's
    # `zendesk_channels`, then by the settings file's [channels]
    channels: dict[str, str] = field(default_factory=lambda: dict(CHANNELS))
    overridden: frozenset[str] = frozenset()  # the via channels a user mapped
    # custom field ids holding a ticket's total time spent (the Time Tracking app's): the
    # settings' `time_spent_field`, and any field of that title in a ticket_fields page
    time_spent_fields: set[str] = field(default_factory=set)


def settings_from(options: ConnectorOptions) -> ZendeskSettings:
    """The connector's settings from the options' settings file and the configuration.

    Raises MappingError when either is wrong (before any row is read)."""
    raw = load_mapping_file(options.mapping)
    roles = {"agent": "frontline", "admin": "frontline"}
    roles.update({str(k): str(v) for k, v in dict(raw.get("roles", {})).items()})
    valid = {r.value for r in Role}
    for source_role, role in roles.items():
        if role not in valid:
            raise MappingError(f"{options.mapping}: [roles] {source_role} = {role!r} is not a "
                               f"role; use one of {', '.join(sorted(valid))}")
    channels = dict(CHANNELS)
    overrides = {str(via).strip().lower(): str(channel)
                 for via, channel in options.zendesk_channels.items()}
    given = raw.get("channels", {})
    if not isinstance(given, dict):
        raise MappingError(f"{options.mapping}: channels must be a table of Zendesk "
                           'via.channel = channel, e.g. [channels] api = "email"')
    known = {c.value for c in Channel}
    for via, channel in given.items():
        if str(channel) not in known:
            raise MappingError(f"{options.mapping}: [channels] {via} = {channel!r} is not a "
                               f"channel; use one of {', '.join(sorted(known))}")
        overrides[str(via).strip().lower()] = str(channel)
    channels.update(overrides)
    time_field = raw.get("time_spent_field")
    if time_field is not None and (isinstance(time_field, bool)
                                   or not str(time_field).strip().isdigit()):
        raise MappingError(f"{options.mapping}: time_spent_field = {time_field!r} is not a "
                           "Zendesk ticket field id; give the id of the Time Tracking app's "
                           "field \"Total time spent (sec)\" (Admin Center, Objects and rules, "
                           "Tickets, Fields), e.g. time_spent_field = 360028226411")
    return ZendeskSettings(
        prefix=options.id_prefix or str(raw.get("id_prefix", DEFAULT_PREFIX)),
        roles=roles,
        escalation_tags=frozenset(str(t) for t in raw.get("escalation_tags", ["escalated"])),
        channels=channels,
        overridden=frozenset(overrides),
        time_spent_fields={str(time_field).strip()} if time_field is not None else set(),
    )


def channel_of(settings: ZendeskSettings, via: Any) -> str:
    """The channel of a ticket's `via`: its `channel` through the table. A ticket made through
    the API on behalf of another channel says so in `via.source`: an e-mail address it came
    from (an e-mail), a phone number (a call), or a `rel` naming a channel (`chat`,
    `messaging`, ...); a channel the settings map is taken as mapped."""
    if not isinstance(via, dict):
        return settings.channels.get(str(via).strip().lower(), "web") if via else "web"
    name = str(via.get("channel")).strip().lower()
    if name in API_CHANNELS and name not in settings.overridden:
        source = via.get("source")
        if isinstance(source, dict):
            sender = source.get("from")
            sender = sender if isinstance(sender, dict) else {}
            rel = str(source.get("rel") or "").strip().lower()
            if rel in settings.channels and rel not in API_CHANNELS:
                return settings.channels[rel]
            if sender.get("address"):
                return "email"
            if sender.get("phone") or sender.get("formatted_phone"):
                return "phone"
    return settings.channels.get(name, "web")


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
    if isinstance(value.get("events"), list) and "ticket_id" in value:
        return "audits", value
    if isinstance(value.get("child_events"), list) and "ticket_id" in value:
        return "ticket_events", value
    if "body" in value and (value.get("type") in COMMENT_TYPES
                            or ("public" in value and "author_id" in value)):
        return "comments", value
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
    if "title" in value and ("raw_title" in value or "custom_field_options" in value):
        return "ticket_fields", value
    if "deleted_at" in value and "previous_state" in value:
        return "deleted_tickets", value
    return None, value


@dataclass
class _Pending:
    """A ticket's metrics (or metric events) kept from pass one, with where they came from."""

    source: Path
    line: int
    value: dict[str, Any]


@dataclass
class _StatusChange:
    """A change of a ticket's status, from an audit or a ticket event."""

    at: datetime
    event_id: str
    status: str
    previous: str | None  # None: not said (ticket events), the one before it in time
    source: Path
    line: int
    raw: str


@dataclass
class ZendeskState:
    """What one import (or one webhook delivery) has learnt so far: the settings, who is an
    agent, the metrics, the conversation of each ticket. `ticket_records` reads it."""

    settings: ZendeskSettings
    agents: set[str] = field(default_factory=set)  # Zendesk user ids with an agent role
    end_users: set[str] = field(default_factory=set)  # Zendesk user ids of end users
    ratings: set[str] = field(default_factory=set)  # rating ids emitted from the ratings list
    metrics: dict[str, _Pending] = field(default_factory=dict)
    deleted: dict[str, _Pending] = field(default_factory=dict)  # the deleted tickets list's
    first_reply_events: dict[str, _Pending] = field(default_factory=dict)
    emitted_tickets: dict[str, str] = field(default_factory=dict)  # id -> updated_at
    newest_tickets: dict[str, str] = field(default_factory=dict)  # id -> latest updated_at
    # what the conversation says of each ticket (pass one), for the comments (pass three)
    audit_tickets: dict[str, str] = field(default_factory=dict)  # audit id -> ticket id
    commented: set[str] = field(default_factory=set)  # tickets with comments in the import
    requesters: dict[str, str] = field(default_factory=dict)  # ticket id -> requester id
    created: dict[str, datetime] = field(default_factory=dict)  # ticket id -> created_at
    channels: dict[str, str] = field(default_factory=dict)  # ticket id -> channel
    statuses: dict[str, list[_StatusChange]] = field(default_factory=dict)
    # Zendesk's own first reply of a commented ticket (metrics or a reply_time metric event)
    metric_replies: dict[str, str] = field(default_factory=dict)
    emitted_comments: dict[str, bool] = field(default_factory=dict)  # comment id -> had a body
    page_tickets: dict[Path, str | None] = field(default_factory=dict)  # comments page -> ticket
    comment_audits: set[str] = field(default_factory=set)  # audits of comments of no ticket yet
    conversation_files: set[Path] = field(default_factory=set)  # files holding conversation

    def id(self, value: Any) -> str | None:
        return prefixed(self.settings.prefix, value)


def _minutes(metric: dict[str, Any], name: str) -> float | None:
    value = metric.get(name)
    if isinstance(value, dict):
        value = value.get("calendar")
    return float(value) if isinstance(value, int | float) else None



def _time(row: dict[str, Any], name: str) -> datetime:
    if row.get(name) in (None, ""):
        raise BadSourceRow(name, "missing")
    try:
        return parse_time(row[name])
    except ValueError as exc:
        raise BadSourceRow(name, str(exc)) from None


def _optional_time(row: dict[str, Any], name: str) -> datetime | None:
    return None if row.get(name) in (None, "") else _time(row, name)


# -- pass one: everything but tickets ---------------------------------------------------------


def _user(state: ZendeskState, user: dict[str, Any]) -> dict[str, Any]:
    user_id = state.id(user.get("id"))
    if user_id is None:
        raise BadSourceRow("id", "missing")
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
    state.end_users.add(str(text_id(user["id"])))
    return {"type": "customer", "id": user_id, "name": user.get("name"),
            "email": user.get("email")}


def _group(state: ZendeskState, group: dict[str, Any]) -> dict[str, Any]:
    group_id = state.id(group.get("id"))
    if group_id is None:
        raise BadSourceRow("id", "missing")
    return {"type": "team", "id": group_id, "name": group.get("name") or group_id}


def _rating(state: ZendeskState, rating: dict[str, Any], ticket: dict[str, Any] | None = None,
            submitted_at: datetime | None = None) -> dict[str, Any] | None:
    score = RATING_SCORES.get(str(rating.get("score")))
    if score is None:
        if rating.get("score") in ("offered", "unoffered", None):
            return None  # not an answer
        raise BadSourceRow("score", f"{rating.get('score')!r} is not a Zendesk rating score "
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


def _pass_one(paths: Sequence[Path], state: ZendeskState) -> Iterator[SourceRow]:
    for path in paths:
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                yield json_error_row(path, item)
                continue
            kind, value = _kind_of(item)
            if kind == "tickets":
                if isinstance(value, dict) and text_id(value.get("id")) is not None:
                    _note_version(state, str(text_id(value["id"])),
                                  str(value.get("updated_at") or ""))
                continue
            raw = dumps(value)
            if kind is None or not isinstance(value, dict):
                yield error_row(path, item.index, raw, None,
                                "not a Zendesk ticket, ticket metric, satisfaction rating, "
                                "user, group, audit, comment, ticket event, ticket field or "
                                "deleted ticket; export from the Zendesk API as JSON")
                continue
            if kind in CONVERSATION:
                state.conversation_files.add(path)  # read again in pass three
            try:
                if kind == "audits":
                    _note_audit(state, value, path, item.index)
                elif kind == "ticket_events":
                    _note_ticket_event(state, value, path, item.index)
                elif kind == "comments":
                    ticket_id = _comment_ticket(state, value, item, path)
                    if ticket_id is not None:
                        state.commented.add(ticket_id)
                    elif text_id(value.get("audit_id")) is not None:
                        state.comment_audits.add(str(text_id(value["audit_id"])))
                elif kind == "ticket_fields":
                    # no record: only the Time Tracking app's field is used, to find it
                    if (str(value.get("title") or "").strip().lower() == TIME_SPENT_TITLE
                            and text_id(value.get("id")) is not None):
                        state.settings.time_spent_fields.add(str(text_id(value["id"])))
                elif kind == "deleted_tickets":
                    ticket_id = text_id(value.get("id"))
                    if ticket_id is None:
                        raise BadSourceRow("id", "missing")
                    _time(value, "deleted_at")
                    state.deleted[ticket_id] = _Pending(path, item.index, value)
                elif kind == "users":
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
                        raise BadSourceRow("ticket_id", "missing")
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
            except BadSourceRow as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad))


# -- pass one: what the conversation says of each ticket ---------------------------------------


def _kind(event: dict[str, Any]) -> Any:
    # audits name an event's kind `type`; the incremental ticket event export `event_type`
    return event.get("event_type") or event.get("type")


def _children(row: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [child for child in row.get(name) or () if isinstance(child, dict)]


def _note_audit(state: ZendeskState, audit: dict[str, Any], path: Path, line: int) -> None:
    """An audit (one update of a ticket, its events): its ticket, whether it made the ticket,
    its requester, its status changes and whether it holds comments."""
    ticket_id = text_id(audit.get("ticket_id"))
    if ticket_id is None:
        raise BadSourceRow("ticket_id", "missing")
    at = _time(audit, "created_at")
    audit_id = text_id(audit.get("id"))
    if audit_id is not None:
        state.audit_tickets[audit_id] = ticket_id
    events = _children(audit, "events")
    if any(_kind(event) == "Create" for event in events):
        # the audit that made the ticket: its time and channel (a ticket in the import says
        # them itself, and wins)
        state.created.setdefault(ticket_id, at)
        state.channels.setdefault(ticket_id, channel_of(state.settings, audit.get("via")))
    for event in events:
        _note_event(state, ticket_id, event, at, path, line)


def _note_ticket_event(state: ZendeskState, row: dict[str, Any], path: Path, line: int) -> None:
    """A row of the incremental ticket event export: one update of a ticket, with its
    `child_events` (the audit's events)."""
    ticket_id = text_id(row.get("ticket_id"))
    if ticket_id is None:
        raise BadSourceRow("ticket_id", "missing")
    at = _event_time(row)
    children = _children(row, "child_events")
    if any(_kind(child) == "Create" for child in children):
        state.created.setdefault(ticket_id, at)
    for index, child in enumerate(children, start=1):
        if child.get("id") is None:
            child = {**child, "id": f"{text_id(row.get('id'))}-{index}"}
        _note_event(state, ticket_id, child, at, path, line)


def _event_time(row: dict[str, Any]) -> datetime:
    """A ticket event's time: `created_at`, else `timestamp` (epoch seconds)."""
    if row.get("created_at") not in (None, ""):
        return _time(row, "created_at")
    return _time(row, "timestamp")


def _note_event(state: ZendeskState, ticket_id: str, event: dict[str, Any], at: datetime,
                path: Path, line: int) -> None:
    kind = _kind(event)
    if kind in COMMENT_TYPES or event.get("comment_present"):
        state.commented.add(ticket_id)
        return
    field_name = event.get("field_name")
    # a ticket event's child names the field it sets as its key: {"status": "solved"}
    if field_name is None and "status" in event:
        field_name, value = "status", event["status"]
    elif field_name is None and "requester_id" in event:
        field_name, value = "requester_id", event["requester_id"]
    else:
        value = event.get("value")
    if field_name == "requester_id" and text_id(value) is not None:
        state.requesters[ticket_id] = str(text_id(value))
    elif field_name == "status" and isinstance(value, str) and value:
        # Create: the status a ticket started with (nothing before it)
        previous = "" if kind == "Create" else event.get("previous_value")
        changes = state.statuses.setdefault(ticket_id, [])
        event_id = str(text_id(event.get("id")) or f"{int(at.timestamp())}-{len(changes)}")
        if all(change.event_id != event_id for change in changes):  # audits and events
            changes.append(_StatusChange(at, event_id, value.strip().lower(),
                                         previous.strip().lower()
                                         if isinstance(previous, str) else None,
                                         path, line, dumps(event)))


_PAGE_TICKET = re.compile(r"/tickets/(\d+)/comments")
_FILE_TICKET = re.compile(r"tickets?[/_-](\d+)[/_-]comments", re.IGNORECASE)


def _comment_ticket(state: ZendeskState, comment: dict[str, Any], item: JsonItem,
                    path: Path) -> str | None:
    """The ticket of a comment: its own `ticket_id`, else the page's (a comments page says it
    only in its links: `/tickets/{id}/comments`), else its audit's, else the file's name
    (`tickets-33-comments.json`, `tickets/33/comments.json`)."""
    own = text_id(comment.get("ticket_id"))
    if own is not None:
        return own
    for name in PAGE_LINKS:  # a JSON Lines page: the line's own
        found = _PAGE_TICKET.search(str((item.document or {}).get(name) or ""))
        if found:
            return found.group(1)
    found_in_page = _page_ticket(state, path)
    if found_in_page is not None:
        return found_in_page
    audit = text_id(comment.get("audit_id"))
    if audit is not None and audit in state.audit_tickets:
        return state.audit_tickets[audit]
    found = _FILE_TICKET.search(path.as_posix())
    return found.group(1) if found else None


PAGE_LINKS = ("next_page", "previous_page", "url")


def _page_ticket(state: ZendeskState, path: Path) -> str | None:
    """The ticket a comments page names in its `next_page`, `previous_page` or `url`, or a
    cursor-paginated page in `links` (read once a file; they may follow the comments)."""
    if path not in state.page_tickets:
        ticket: str | None = None
        page = page_scalars(path, (*PAGE_LINKS, "links"))
        links = page.get("links")
        for value in [*(page.get(name) for name in PAGE_LINKS),
                      *(links.values() if isinstance(links, dict) else ())]:
            found = _PAGE_TICKET.search(str(value or ""))
            if found:
                ticket = found.group(1)
                break
        state.page_tickets[path] = ticket
    return state.page_tickets[path]


# -- pass two: tickets ------------------------------------------------------------------------


def ticket_records(state: ZendeskState, ticket: dict[str, Any],
                   metric: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A ticket (in the REST API's spelling) as its interaction record, and the survey of an
    embedded satisfaction rating; `metric` is its ticket metrics, if known.

    Raises BadSourceRow naming the field when the ticket cannot become a record."""
    ticket_id = text_id(ticket.get("id"))
    if ticket_id is None:
        raise BadSourceRow("id", "missing")
    created = _time(ticket, "created_at")
    status = str(ticket.get("status") or "") or None
    deleted = state.deleted.get(ticket_id)
    if deleted is not None and _later_or_same(str(deleted.value["deleted_at"]),
                                              str(ticket.get("updated_at") or "")):
        # the deleted tickets list says it was deleted after this version of the ticket (a
        # ticket restored since then is updated later and keeps its status)
        status = "deleted"
    channel = channel_of(state.settings, ticket.get("via"))
    submitter, requester = text_id(ticket.get("submitter_id")), text_id(ticket.get("requester_id"))
    if state.conversation_files:
        # what the comments need of their ticket (its own word wins over its audits')
        state.created[ticket_id], state.channels[ticket_id] = created, channel
        if requester is not None:
            state.requesters[ticket_id] = requester
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
    handle = _time_spent(state, ticket)
    if handle is not None:
        record["handle_s"] = handle
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


def _time_spent(state: ZendeskState, ticket: dict[str, Any]) -> int | None:
    """The ticket's handle time: the Time Tracking app's total time spent (seconds) from its
    custom fields; none when the field is not known or empty (0 is no time logged, not a
    handle time of 0)."""
    if not state.settings.time_spent_fields:
        return None
    fields = ticket.get("custom_fields")
    if not isinstance(fields, list):
        fields = ticket.get("fields")
    for custom in fields if isinstance(fields, list) else ():
        if not isinstance(custom, dict) or str(text_id(custom.get("id"))) not in (
                state.settings.time_spent_fields):
            continue
        value = custom.get("value")
        if value is None or value == "":
            return None
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise BadSourceRow("custom_fields", f"{value!r} in field "
                               f"{text_id(custom.get('id'))} (Total time spent) is not a "
                               "number of seconds") from None
        if seconds < 0:
            raise BadSourceRow("custom_fields", f"{value!r} in field "
                               f"{text_id(custom.get('id'))} (Total time spent) is negative")
        return round(seconds) or None
    return None


def _pass_two(paths: Sequence[Path], state: ZendeskState) -> Iterator[SourceRow]:
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
                # incremental exports repeat rows: within an import only the newest version
                # is emitted (once), so an import of the same files again changes nothing
                seen = state.emitted_tickets.get(ticket_id)
                newest = state.newest_tickets.get(ticket_id, updated)
                if (seen is not None and _later_or_same(seen, updated)) or (
                        newest != updated and _later_or_same(newest, updated)):
                    continue
                state.emitted_tickets[ticket_id] = updated
            pending = state.metrics.get(ticket_id) if ticket_id else None
            metric = value.get("metric_set") if isinstance(value.get("metric_set"), dict) else None
            if pending is not None:
                metric = pending.value
            try:
                records = ticket_records(state, value, metric)
            except BadSourceRow as bad:
                yield error_row(path, item.index, raw, bad.field_name, str(bad), "interaction",
                                state.id(ticket_id))
                continue
            ticket = records[0]
            if ticket_id in state.commented and "first_response_at" in ticket:
                # Zendesk's own first reply (metrics or metric event): it wins over the
                # comments, which become events too, so it is an event as well (the projector
                # takes the first public agent message)
                state.metric_replies[ticket_id] = ticket["first_response_at"]
                records += _first_reply_events(state, ticket_id, ticket["first_response_at"])
            for record in records:
                yield record_row(path, item.index, raw, record)


def _first_reply_events(state: ZendeskState, ticket_id: str, at: str) -> list[dict[str, Any]]:
    event = {"type": "event", "id": f"{state.settings.prefix}{ticket_id}-first-reply",
             "interaction_id": state.id(ticket_id), "at": at, "kind": "agent_message",
             "actor": "agent", "public": True}
    if state.channels.get(ticket_id) != "chat":
        return [event]
    # chat is timed by answered_at: its first answer is the first reply too
    return [event, {**event, "id": f"{event['id']}-answered", "kind": "answered"}]


def _note_version(state: ZendeskState, ticket_id: str, updated: str) -> None:
    newest = state.newest_tickets.get(ticket_id)
    if newest is None or not _later_or_same(newest, updated):
        state.newest_tickets[ticket_id] = updated


def _later_or_same(seen: str, updated: str) -> bool:
    try:
        return parse_time(seen) >= parse_time(updated)
    except ValueError:
        return True


def _leftovers(state: ZendeskState) -> Iterator[SourceRow]:
    """Metrics of tickets not in this import: their first reply, as an event on the ticket.
    Deleted tickets not in this import: an error each (a record is made from the ticket)."""
    for ticket_id, pending in state.deleted.items():
        if ticket_id not in state.emitted_tickets:
            yield error_row(pending.source, pending.line, dumps(pending.value), "id",
                            f"ticket {ticket_id} is not in this import: a deleted ticket is "
                            "marked deleted on its ticket's record, so import the deleted "
                            "tickets list together with the tickets (an incremental ticket "
                            "export already lists deleted tickets with status deleted)")
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
        except BadSourceRow as bad:
            yield error_row(pending.source, pending.line, dumps(pending.value), bad.field_name,
                            f"{bad} (needed to place the first reply of a ticket not in this "
                            "import)")
    for ticket_id, pending in state.first_reply_events.items():
        if ticket_id not in replies and ticket_id not in state.emitted_tickets:
            try:
                replies[ticket_id] = (pending, _time(pending.value, "time"))
            except BadSourceRow as bad:
                yield error_row(pending.source, pending.line, dumps(pending.value),
                                bad.field_name, str(bad))
    for ticket_id, (pending, at) in replies.items():
        state.metric_replies[ticket_id] = iso(at)
        for event in _first_reply_events(state, ticket_id, iso(at)):
            yield record_row(pending.source, pending.line, dumps(pending.value), event)


# -- pass three: the conversation -------------------------------------------------------------


def _pass_three(paths: Sequence[Path], state: ZendeskState) -> Iterator[SourceRow]:
    """Comments as events (read again from the files: their bodies are not kept), then the
    status changes as resolved / reopened events."""
    for path in paths:
        if path not in state.conversation_files:
            continue
        for item in iter_json_items(path, LIST_KEYS):
            if isinstance(item, JsonDamage):
                continue  # reported in pass one
            kind, value = _kind_of(item)
            if kind not in CONVERSATION or not isinstance(value, dict):
                continue
            try:
                for event in _conversation(state, kind, value, item, path):
                    yield record_row(path, item.index, dumps(event.pop("_raw")), event)
            except BadSourceRow as bad:
                yield error_row(path, item.index, dumps(value), bad.field_name, str(bad))
    yield from _status_events(state)


def _conversation(state: ZendeskState, kind: str, value: dict[str, Any], item: JsonItem,
                  path: Path) -> Iterator[dict[str, Any]]:
    """The events of one audit, ticket event row or comment (each with its source text in
    `_raw`)."""
    if kind == "comments":
        ticket_id = _comment_ticket(state, value, item, path)
        if ticket_id is None:
            raise BadSourceRow("ticket_id", "a comment of a page that does not say its ticket: "
                               "save each ticket's comments page with its `links` (or "
                               "`next_page`) as the API returns it, or name the file "
                               "tickets-<id>-comments.json")
        yield from _comment(state, ticket_id, value, _time(value, "created_at"), None)
        return
    ticket_id = str(text_id(value.get("ticket_id")))
    if kind == "audits":
        at, events, author = _time(value, "created_at"), _children(value, "events"), None
    else:
        at, events = _event_time(value), _children(value, "child_events")
        author = text_id(value.get("updater_id"))  # a ticket event's child says no author
    opening = any(_kind(event) == "Create" for event in events)
    for event in events:
        if _kind(event) in COMMENT_TYPES or event.get("comment_present"):
            yield from _comment(state, ticket_id, event, at, author, opening)


def _comment(state: ZendeskState, ticket_id: str, comment: dict[str, Any], at: datetime,
             author: str | None, opening: bool = False) -> Iterator[dict[str, Any]]:
    """A comment as an event: public by an agent → agent_message, public by anyone else →
    customer_message, private → note. Not a reply, though public by an agent (a public note):
    the ticket's opening comment (an agent who opens a ticket writes the request), and, when
    Zendesk's own first reply is in the import, a comment before it (Zendesk did not count it
    as a reply: its metrics win)."""
    comment_id = text_id(comment.get("id")) or f"{ticket_id}-{int(at.timestamp())}"
    body = comment.get("body") or comment.get("plain_body")
    body = body if isinstance(body, str) and body else None
    seen = state.emitted_comments.get(comment_id)
    if seen or (seen is not None and body is None):
        return  # the same comment from another page (audits, comments, ticket events)
    state.emitted_comments[comment_id] = body is not None
    author = text_id(comment.get("author_id")) or author
    public_value = comment.get("public", comment.get("comment_public", True))
    public = public_value if isinstance(public_value, bool) else (
        str(public_value).strip().lower() not in ("false", "0", "no"))
    created = state.created.get(ticket_id)
    opening = opening or (created is not None and at <= created)
    agent = _by_agent(state, ticket_id, author)
    event: dict[str, Any] = {
        "type": "event", "id": f"{state.settings.prefix}comment-{comment_id}",
        "interaction_id": state.id(ticket_id), "at": iso(at), "public": public, "body": body,
        "_raw": comment,
    }
    metric_reply = state.metric_replies.get(ticket_id)
    first_reply = parse_time(metric_reply) if metric_reply is not None else None
    if author == SYSTEM_USER:
        event.update(kind="note", actor="system")
    elif not public:
        event.update(kind="note", actor="agent" if agent else "customer")
    elif not agent:
        event.update(kind="customer_message", actor="customer")
    elif opening or (first_reply is not None and at < first_reply):
        event.update(kind="note", actor="agent", agent_id=state.id(author))
    else:
        event.update(kind="agent_message", actor="agent", agent_id=state.id(author))
    answered = event["kind"] == "agent_message" and state.channels.get(ticket_id) == "chat"
    yield event
    if answered:
        # chat is timed by answered_at (as the tickets' first reply sets it)
        yield {"type": "event", "id": f"{state.settings.prefix}comment-{comment_id}-answered",
               "interaction_id": state.id(ticket_id), "at": iso(at), "kind": "answered",
               "actor": "agent", "agent_id": state.id(author), "_raw": comment}


def _by_agent(state: ZendeskState, ticket_id: str, author: str | None) -> bool:
    """Whether a comment's author is an agent: an agent or admin of the users in the import;
    without them, anyone on the ticket but its requester (as the webhooks have it); nobody
    when neither the author nor the requester is known."""
    if author is None:
        return False
    if author in state.agents or author in state.end_users:
        return author in state.agents
    requester = state.requesters.get(ticket_id)
    return requester is not None and author != requester


def _status_events(state: ZendeskState) -> Iterator[SourceRow]:
    """Status changes in time order as resolved (into solved or closed) and reopened (out of
    solved into new, open, pending or on-hold) events; a change that leaves the status in
    the same group, or into deleted, says nothing."""
    for ticket_id, changes in state.statuses.items():
        current: str | None = None
        for change in sorted(changes, key=lambda c: (c.at, c.event_id)):
            previous = change.previous if change.previous is not None else current
            current = change.status
            if current in SOLVED and previous not in SOLVED:
                kind = "resolved"
            elif previous in SOLVED and current in OPEN:
                kind = "reopened"
            else:
                continue
            yield record_row(change.source, change.line, change.raw, {
                "type": "event", "id": f"{state.settings.prefix}{ticket_id}-{kind}-"
                f"{change.event_id}", "interaction_id": state.id(ticket_id),
                "at": iso(change.at), "kind": kind, "actor": "system"})


def read_zendesk(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    # settings checked before any row
    return _zendesk_rows(paths, ZendeskState(settings_from(options)))


def _zendesk_rows(paths: Sequence[Path], state: ZendeskState) -> Iterator[SourceRow]:
    yield from _pass_one(paths, state)
    for audit_id in state.comment_audits:
        # comments read before the audit that names their ticket
        if audit_id in state.audit_tickets:
            state.commented.add(state.audit_tickets[audit_id])
    yield from _pass_two(paths, state)
    yield from _leftovers(state)
    yield from _pass_three(paths, state)


ZENDESK = Connector(
    "zendesk",
    "Zendesk REST API / incremental export JSON: tickets, ticket metrics, satisfaction "
    "ratings, users, groups, ticket metric events, audits, comments, ticket events",
    read_zendesk,
)

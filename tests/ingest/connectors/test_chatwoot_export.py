"""A Chatwoot export with every page type, through the connector, the importer and the KPI
engine: the messages' texts reach sentiment and contact drivers, a blocked contact's
conversations are spam, a deleted message keeps its time but not its placeholder text.

The fixture (tests/fixtures/connectors/chatwoot_export/) is written in the shapes of Chatwoot's
application API v1 as its API documentation and serializers give them: conversation pages
`{"data": {"meta", "payload"}}` (epoch times, `meta.sender` with `blocked`, `meta.channel`,
the last message embedded), message pages `{"meta", "payload"}` (`message_type` 0 incoming,
1 outgoing, 2 activity, 3 template; `content_attributes.deleted`), CSAT responses, agents,
teams and contacts `{"meta", "payload"}`. Its values are invented for these tests; the
expected KPIs are worked out by hand in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.importer import ImportSummary, import_rows
from servicepulse.ingest.webhooks import chatwoot_delivery, drop_stale
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.store import tables
from tests.ingest.connectors.helpers import (
    FIXTURES,
    assert_sentiment_by_category,
    drivers_reading,
    errors,
    read,
    records,
)

EXPORT = FIXTURES / "chatwoot_export"
PAGES = sorted(EXPORT.glob("*.json"))
DAYS = {"from": "2024-05-05", "to": "2024-05-07"}  # the spam conversation is on the 5th


def load(engine: Engine, paths: list[Path]) -> ImportSummary:
    return import_rows(engine, CONNECTORS["chatwoot"].read(paths, ConnectorOptions()))


def stored(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(tables.metadata.tables[table])).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def test_a_blocked_contacts_conversations_are_spam() -> None:
    rows = read("chatwoot", *PAGES)
    assert errors(rows) == []
    got = records(rows)
    statuses = {i: r["status"] for (t, i), r in got.items() if t == "interaction"}
    # 25's contact is blocked: Chatwoot resolved it at once, ServicePulse keeps it as spam
    # (unblocking revives it: test_webhooks_read_blocked_contacts_and_deleted_messages)
    assert statuses == {"cw-21": "resolved", "cw-22": "open", "cw-23": "resolved",
                        "cw-24": "pending", "cw-25": "spam", "cw-26": "resolved"}
    assert got[("interaction", "cw-25")]["resolved_at"] == "2024-05-05T12:00:00Z"


def test_a_deleted_message_keeps_its_time_but_not_its_text() -> None:
    got = records(read("chatwoot", EXPORT / "messages_23.json"))
    assert got[("event", "cw-msg-2303")] == {
        "type": "event", "id": "cw-msg-2303", "interaction_id": "cw-23",
        "at": "2024-05-06T10:03:00Z", "kind": "customer_message", "actor": "customer",
        "public": True,  # no body: "This message was deleted" is not what the customer wrote
    }


def test_webhooks_read_blocked_contacts_and_deleted_messages(sqlite_store: Engine) -> None:
    page = json.loads((EXPORT / "conversations_page_2.json").read_text())
    spam = next(c for c in page["data"]["payload"] if c["id"] == 25)
    delivery = chatwoot_delivery({"event": "conversation_created", **spam})
    interactions = [r.data for r in delivery.rows if r.data and r.data["type"] == "interaction"]
    assert [(r["id"], r["status"]) for r in interactions] == [("cw-25", "spam")]
    # Chatwoot's webhooks leave `blocked` out of the contact: a conversation stored as spam
    # stays spam through them, until a delivery (or an export) says the contact is not blocked
    load(sqlite_store, [EXPORT / "conversations_page_2.json"])
    sender = {k: v for k, v in spam["meta"]["sender"].items() if k != "blocked"}
    unknown = {"event": "conversation_updated", **spam, "meta": {**spam["meta"],
                                                                  "sender": sender}}
    import_rows(sqlite_store, drop_stale(sqlite_store, chatwoot_delivery(unknown)).rows)
    assert stored(sqlite_store, "interactions")["cw-25"]["status"] == "spam"
    unblocked = {**unknown, "meta": {**spam["meta"], "sender": {**sender, "blocked": False}}}
    import_rows(sqlite_store, drop_stale(sqlite_store, chatwoot_delivery(unblocked)).rows)
    assert stored(sqlite_store, "interactions")["cw-25"]["status"] == "resolved"
    [deleted] = json.loads((EXPORT / "messages_23.json").read_text())["payload"][2:3]
    delivery = chatwoot_delivery({"event": "message_updated", **deleted,
                                  "conversation": {"display_id": 23,
                                                   "channel": "Channel::WebWidget"}})
    [event] = [r.data for r in delivery.rows if r.data]
    assert (event["id"], event["kind"], "body" in event) == (
        "cw-msg-2303", "customer_message", False)


# The customer's words, by label (the spam conversation has none): incoming messages (not
# the deleted one) and CSAT comments.
CUSTOMER_TEXTS = {
    "billing": [
        "Hi, I was charged twice for my subscription, can I get a refund?",
        "Thank you, that was quick and helpful!",
        "My card was charged but the order shows as unpaid, please refund me.",
        "Quick and friendly help, thank you.",
        "The refund took far too long and nobody told me why.",
    ],
    "login": [
        "I cannot log in, the password reset link has expired twice.",
        "The login page says my account is locked, what should I do?",
        "Hi, I forgot my password and cannot log in to the app.",
        "Thanks, it works now.",
    ],
}


def test_export_kpis_and_texts_by_hand(store: Engine) -> None:
    summary = load(store, PAGES)
    # 20 messages; the 6 embedded in the conversation pages (each one's last message) are
    # the same records again
    assert summary.as_json() == {
        "inserted": {"team": 1, "agent": 2, "customer": 6, "interaction": 6, "event": 20,
                     "survey": 3},
        "updated": {}, "unchanged": {"event": 6}, "quarantined": 0,
    }
    [row] = run_kpi_query(store, KpiQuery(kpis=[
        "contacts", "frt", "resolution_rate", "ttr", "csat"]))["rows"]
    got = row["kpis"]
    # six conversations less the blocked contact's (25)
    assert (got["contacts"]["value"], got["contacts"]["inbound"]) == (5, 5)
    # first human replies: chat 21 60 s (the bot's greeting at 5 s does not count), e-mail
    # 22 30 min (not the private note at 10 min), chat 23 2 min, SMS 26 5 min; 24 waits.
    # 60 120 300 1800: median 210, mean 2280 / 4 = 570
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (210.0, 4, 570.0)
    # resolved 21 23 26 of 5
    assert (got["resolution_rate"]["value"], got["resolution_rate"]["n"]) == (60.0, 5)
    # by the "marked resolved" activity messages: 10, 20 and 30 min
    assert (got["ttr"]["value"], got["ttr"]["n"], got["ttr"]["mean"]) == (1200.0, 3, 1200.0)
    # ratings 5, 2, 4: two of three in 4-5
    assert (got["csat"]["value"], got["csat"]["n"]) == (66.6667, 3)

    assert_sentiment_by_category(store, CUSTOMER_TEXTS)
    # a conversation has no subject: drivers read its first customer message (not the bot's
    # greeting, an agent's reply or a later message), for every inbound conversation of the day
    day: dict[str, str | None] = {
        "cw-21": "Hi, I was charged twice for my subscription, can I get a refund?",
        "cw-22": "I cannot log in, the password reset link has expired twice.",
        "cw-23": "My card was charged but the order shows as unpaid, please refund me.",
        "cw-24": "The login page says my account is locked, what should I do?",
        "cw-26": "Hi, I forgot my password and cannot log in to the app.",
    }
    drivers, examples = drivers_reading(store, day, DAYS)
    # each of the 5 in one topic, the examples exactly their texts (not the blocked contact's
    # "Cheap followers and likes")
    assert (drivers["contacts"], drivers["unassigned"]) == (5, 0)
    assert sum(topic["contacts"] for topic in drivers["topics"]) == 5
    assert examples == sorted(text for text in day.values() if text)

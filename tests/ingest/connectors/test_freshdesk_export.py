"""A Freshdesk export with every page type, through the connector, the importer and the KPI
engine: conversations become events, time entries handle time, spam and deleted tickets keep
their records, and the conversation texts reach sentiment and contact drivers.

The fixture (tests/fixtures/connectors/freshdesk_export/) is written in the shapes of
Freshdesk's v2 API as its client libraries record them (bare arrays; tickets with and without
`include=stats`; `/tickets/{id}/conversations` with `incoming`, `private`, `source`,
`user_id`, `body_text`; `/time_entries` with `time_spent` "hh:mm"; the `filter=spam` and
`filter=deleted` lists). Its values are invented for these tests; the expected KPIs are
worked out by hand in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.importer import ImportSummary, import_rows
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

EXPORT = FIXTURES / "freshdesk_export"
PAGES = sorted(EXPORT.glob("*.json"))  # every page type, in no particular order
# the spam and the deleted ticket are on the 5th, the others on the 6th
DAYS = {"from": "2024-05-05", "to": "2024-05-07"}


def load(engine: Engine, paths: list[Path]) -> ImportSummary:
    rows = CONNECTORS["freshdesk"].read(paths, ConnectorOptions())
    return import_rows(engine, rows)


def kpis(engine: Engine, names: list[str], **query: Any) -> dict[str, Any]:
    [row] = run_kpi_query(engine, KpiQuery(kpis=names, **query))["rows"]
    return dict(row["kpis"])


def stored(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(tables.metadata.tables[table])).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def test_conversations_become_events() -> None:
    rows = read("freshdesk", *PAGES)
    assert errors(rows) == []
    got = records(rows)
    events = {i: (r["kind"], r.get("actor"), r.get("agent_id"), r["public"])
              for (t, i), r in got.items() if t == "event" and i.startswith("fd-conv-")}
    assert events == {
        "fd-conv-5001": ("note", "agent", "fd-701", False),  # private note
        "fd-conv-5002": ("agent_message", "agent", "fd-701", True),  # reply (source 0)
        "fd-conv-5003": ("customer_message", "customer", None, True),  # incoming e-mail
        "fd-conv-5011": ("agent_message", "agent", "fd-702", True),
        # not incoming, but written by the ticket's requester: a reply on the portal
        "fd-conv-5012": ("customer_message", "customer", None, True),
        "fd-conv-5013": ("agent_message", "agent", "fd-702", True),
        "fd-conv-5021": ("agent_message", "agent", "fd-701", True),
        "fd-conv-5021-answered": ("answered", "agent", "fd-701", True),  # chat ticket 103
        "fd-conv-5022": ("customer_message", "customer", None, True),
        "fd-conv-5031": ("note", "agent", "fd-701", True),  # public note (source 2)
        "fd-conv-5032": ("note", "agent", "fd-701", False),
        "fd-conv-5033": ("agent_message", "agent", "fd-701", True),
        "fd-conv-5041": ("agent_message", "agent", "fd-702", True),
        "fd-conv-5041-answered": ("answered", "agent", "fd-702", True),  # chat ticket 107
        "fd-conv-5042": ("customer_message", "customer", None, True),
        "fd-conv-5051": ("agent_message", "agent", "fd-701", True),
    }
    assert got[("event", "fd-conv-5012")] == {
        "type": "event", "id": "fd-conv-5012", "interaction_id": "fd-102",
        "at": "2024-05-06T09:40:00Z", "kind": "customer_message", "actor": "customer",
        "public": True, "body": "Still no reset email and I am locked out. This is frustrating.",
    }
    # the description is the ticket's first message: the customer's, or on an outbound
    # ticket (source 10) the agent's
    assert got[("event", "fd-101-description")] == {
        "type": "event", "id": "fd-101-description", "interaction_id": "fd-101",
        "at": "2024-05-06T08:00:00Z", "kind": "customer_message", "actor": "customer",
        "public": True, "body": "I was charged twice for my subscription this month. Please "
                                "refund the duplicate payment.",
    }
    outbound = got[("event", "fd-104-description")]
    assert (outbound["kind"], outbound["actor"], outbound["agent_id"]) == (
        "agent_message", "agent", "fd-702")


def test_a_viewed_ticket_with_its_conversations_and_stats_that_win(tmp_path: Path) -> None:
    # GET /api/v2/tickets/7?include=conversations,stats: one object holding its conversations
    viewed = tmp_path / "ticket_7.json"
    viewed.write_text(json.dumps({
        "id": 7, "subject": "Where is my parcel", "status": 2, "source": 1, "priority": 1,
        "requester_id": 11, "responder_id": 21, "created_at": "2024-05-06T08:00:00Z",
        "description": "<div>Where is my parcel?<br>Order 5521</div>",
        "stats": {"first_responded_at": "2024-05-06T09:00:00Z"},
        "conversations": [
            # a public reply Freshdesk did not count as the first response: its stats win
            {"id": 1, "incoming": False, "private": False, "source": 0, "user_id": 21,
             "body": "<p>Auto: we got your message</p>", "created_at": "2024-05-06T08:01:00Z"},
            {"id": 2, "incoming": False, "private": False, "source": 0, "user_id": 21,
             "body_text": "It left the depot today.", "created_at": "2024-05-06T09:00:00Z"},
        ],
    }))
    # a page wrapped as {"conversations": [...]}, whose ticket is not in the import: the
    # customer's when incoming or by a contact of the import, else an agent's
    page = tmp_path / "conversations.json"
    page.write_text(json.dumps({"conversations": [
        {"id": 3, "ticket_id": 8, "incoming": True, "private": False, "source": 0,
         "user_id": 12, "body_text": "Thanks!", "created_at": "2024-05-06T10:00:00Z"},
        {"id": 4, "ticket_id": 8, "incoming": False, "private": False, "source": 0,
         "user_id": 22, "body_text": "Glad to help.", "created_at": "2024-05-06T10:05:00Z"},
        {"id": 5, "ticket_id": 8, "incoming": False, "private": False, "source": 0,
         "user_id": 13, "body_text": "Any news?", "created_at": "2024-05-06T10:10:00Z"},
    ]}))
    contacts = tmp_path / "contacts.json"
    contacts.write_text(json.dumps([{"id": 13, "name": "Kim Ode", "email": "kim@example.com"}]))
    rows = read("freshdesk", viewed, page, contacts)
    assert errors(rows) == []
    got = records(rows)
    events = {i: (r["kind"], r.get("body")) for (t, i), r in got.items() if t == "event"}
    assert events == {
        "fd-7-description": ("customer_message", "Where is my parcel?\nOrder 5521"),  # HTML
        "fd-conv-1": ("note", "Auto: we got your message"),
        "fd-conv-2": ("agent_message", "It left the depot today."),
        "fd-conv-3": ("customer_message", "Thanks!"),
        "fd-conv-4": ("agent_message", "Glad to help."),
        "fd-conv-5": ("customer_message", "Any news?"),  # a portal reply by contact 13
    }


def test_conversations_without_their_tickets_tell_the_customer_by_the_agents_file() -> None:
    # 102's conversations alone (its ticket imported before): with the agents file, the
    # portal reply by 9002 (no agent, not incoming) is the customer's; without it or the
    # contacts, who wrote it cannot be told and it reads as an agent's reply
    conversations = EXPORT / "conversations_102.json"
    kinds = {i: r["kind"] for (t, i), r in records(read(
        "freshdesk", conversations, EXPORT / "agents.json")).items() if t == "event"}
    assert kinds == {"fd-conv-5011": "agent_message", "fd-conv-5012": "customer_message",
                     "fd-conv-5013": "agent_message"}
    alone = records(read("freshdesk", conversations))
    assert alone[("event", "fd-conv-5012")]["kind"] == "agent_message"


def test_time_entries_are_the_tickets_handle_time(tmp_path: Path) -> None:
    got = records(read("freshdesk", *PAGES))
    handle = {i: r.get("handle_s") for (t, i), r in got.items() if t == "interaction"}
    # 103: 00:15 + 00:05 (listed both in /time_entries and in /tickets/103/time_entries:
    # counted once); 105: 00:12; 106: 00:20 + 00:10 (billable or not, time spent is time
    # spent); no entries: no handle time (not 0)
    assert handle == {"fd-101": None, "fd-102": None, "fd-103": 1200, "fd-104": None,
                      "fd-105": 720, "fd-106": 1800, "fd-107": None, "fd-108": None,
                      "fd-109": None, "fd-110": None}
    entries = tmp_path / "time_entries.json"
    entries.write_text(json.dumps([
        {"id": 1, "ticket_id": 103, "agent_id": 701, "time_spent": "1:30", "billable": True},
        {"id": 2, "ticket_id": 999, "agent_id": 701, "time_spent": "00:10"},
        {"id": 3, "ticket_id": 103, "agent_id": 701, "time_spent": "90 min"},
        {"id": 4, "agent_id": 701, "time_spent": "00:10"},
    ]))
    rows = read("freshdesk", EXPORT / "tickets_page_1.json", entries)
    assert [(line, field) for line, field, _ in errors(rows)] == [
        (3, "time_spent"), (4, "ticket_id"), (2, "ticket_id")]
    reasons = {line: reason for line, _, reason in errors(rows)}
    assert reasons[3] == "'90 min' is not a Freshdesk time spent (write hh:mm, e.g. 01:30)"
    assert reasons[2] == ("ticket 999 is not in this import: a ticket's handle time is the sum "
                          "of its time entries, so import the time entries together with their "
                          "tickets")
    assert records(rows)[("interaction", "fd-103")]["handle_s"] == 5400  # 1:30


def test_spam_and_deleted_tickets_keep_their_records_and_can_be_revived(
        sqlite_store: Engine, tmp_path: Path) -> None:
    got = records(read("freshdesk", EXPORT / "tickets_spam.json",
                       EXPORT / "tickets_deleted.json"))
    assert (got[("interaction", "fd-109")]["status"],
            got[("interaction", "fd-110")]["status"]) == ("spam", "deleted")
    load(sqlite_store, [EXPORT / "tickets_spam.json"])
    # marked not spam in Freshdesk: the next export lists it with the open tickets
    [ticket] = json.loads((EXPORT / "tickets_spam.json").read_text())
    revived = tmp_path / "tickets.json"
    revived.write_text(json.dumps([{**ticket, "spam": False}]))
    summary = load(sqlite_store, [revived])
    assert summary.as_json()["updated"] == {"interaction": 1}
    assert stored(sqlite_store, "interactions")["fd-109"]["status"] == "open"


def test_first_response_from_stats_or_the_first_public_agent_reply(
        sqlite_store: Engine) -> None:
    tickets = [EXPORT / "tickets_page_1.json", EXPORT / "tickets_page_2.json"]
    conversations = sorted(EXPORT.glob("conversations_*.json"))
    load(sqlite_store, tickets)
    alone = stored(sqlite_store, "interactions")
    # conversations with their tickets: the ticket says who its requester is (a portal reply
    # is the customer's) and whether it is a chat (answered by the first reply)
    summary = load(sqlite_store, tickets + conversations)
    # the tickets and their descriptions again, unchanged; 16 conversation events (two of
    # them the chat replies' `answered`) added
    assert summary.as_json() == {"inserted": {"event": 16}, "updated": {},
                                 "unchanged": {"interaction": 8, "event": 8},
                                 "quarantined": 0}
    both = stored(sqlite_store, "interactions")
    # stats.first_responded_at and the first public agent reply agree where both exist
    # (the private note at 08:10 on 101 is not a response)
    for ticket, seconds in {"fd-101": 1800, "fd-102": 1200, "fd-103": 40}.items():
        assert alone[ticket]["first_response_at"] - alone[ticket]["created_at"] == seconds
        assert both[ticket]["first_response_at"] == alone[ticket]["first_response_at"]
    assert both["fd-103"]["answered_at"] == alone["fd-103"]["answered_at"]
    # without stats (the plain ticket list) only the conversations say when: 106's first
    # public reply at 13:40 (not the public note at 13:10, nor the private one at 13:20);
    # chat 107 is answered by the reply at 14:01:30
    assert alone["fd-106"]["first_response_at"] is None
    assert both["fd-106"]["first_response_at"] - both["fd-106"]["created_at"] == 2400
    assert alone["fd-107"]["answered_at"] is None
    assert both["fd-107"]["answered_at"] - both["fd-107"]["created_at"] == 90
    assert both["fd-108"]["first_response_at"] is None  # nobody answered yet


def test_export_kpis_and_texts_by_hand(store: Engine) -> None:
    summary = load(store, PAGES)
    assert summary.as_json() == {
        "inserted": {"team": 2, "agent": 2, "customer": 8, "interaction": 10, "event": 26,
                     "survey": 5},
        "updated": {}, "unchanged": {}, "quarantined": 0,
    }
    got = kpis(store, ["contacts", "frt", "resolution_rate", "ttr", "csat", "aht"])
    # 10 tickets less spam 109 and deleted 110: inbound 101 102 103 105 106 107 108,
    # outbound 104
    assert (got["contacts"]["value"], got["contacts"]["inbound"],
            got["contacts"]["outbound"]) == (8, 7, 1)
    # inbound first responses: 101 e-mail 30 min, 102 portal 20 min (stats), 106 e-mail
    # 40 min (its first public reply), chats 103 40 s and 107 90 s (answered); phone 105 is
    # timed by an answer a ticket does not have; 108 unanswered; deleted 110's 1-min reply
    # counts nowhere. 40 90 1200 1800 2400: median 1200, mean 5530 / 5 = 1106
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (1200.0, 5, 1106.0)
    # resolved 101 102 103 105 106 107 of 8 (104 and 108 open) = 75 %
    assert (got["resolution_rate"]["value"], got["resolution_rate"]["n"]) == (75.0, 8)
    # 101 2 h, 102 50 min, 103 20 min, 105 15 min (stats); 106 2 h, 107 30 min (no stats:
    # updated_at). 900 1200 1800 3000 7200 7200: median 2400, mean 21300 / 6 = 3550
    assert (got["ttr"]["value"], got["ttr"]["n"], got["ttr"]["mean"]) == (2400.0, 6, 3550.0)
    # answers 103, -103, 102, 100 -> 5, 1, 4, 3: two of four positive; the 103 on deleted
    # ticket 110 counts nowhere
    assert (got["csat"]["value"], got["csat"]["n"]) == (50.0, 4)
    # handle time from time entries: 1200 (103), 720 (105), 1800 (106): mean 1240; handled
    # tickets without entries (101 102 104 107) are counted apart
    assert (got["aht"]["value"], got["aht"]["n"], got["aht"]["without_handle_data"]) == (
        1240.0, 3, 4)
    assert_texts_reach_sentiment_and_drivers(store)


# The customer's words in the export, by category (the spam and deleted tickets have no category
# and their texts count nowhere):
# ticket descriptions, incoming and portal replies, survey comments.
CUSTOMER_TEXTS = {
    "Refund": [
        "I was charged twice for my subscription this month. Please refund the duplicate "
        "payment.",
        "Why was my card charged twice for one order?",
        "I need a refund for the order I returned last week, the payment was not reversed.",
        "Thank you, the refund shows in my account now. Great service!",
        "Okay, thanks for checking the duplicate charge.",
        "Quick refund, thank you!",
    ],
    "Login": [
        "I cannot log in to my account. The password reset email never arrives.",
        "Customer called: locked out after too many login attempts, password reset needed.",
        "I forgot my password and the login page keeps failing.",
        "Two factor login code is not accepted, I cannot access my account.",
        "Still no reset email and I am locked out. This is frustrating.",
        "The new password works, thank you so much!",
        "It took far too long to get back into my account.",
    ],
}


def assert_texts_reach_sentiment_and_drivers(store: Engine) -> None:
    assert_sentiment_by_category(store, CUSTOMER_TEXTS)
    # contact drivers read each inbound contact's subject and its first customer message (the
    # ticket's description), never an agent's words: every inbound ticket of the day, by hand
    day = {
        "fd-101": "Charged twice for my subscription. I was charged twice for my subscription "
                  "this month. Please refund the duplicate payment.",
        "fd-102": "Cannot log in. I cannot log in to my account. The password reset email never "
                  "arrives.",
        "fd-103": "Chat with Chloe. Why was my card charged twice for one order?",
        "fd-105": "Call from +1 555 0105. Customer called: locked out after too many login "
                  "attempts, password reset needed.",
        "fd-106": "Refund for returned order. I need a refund for the order I returned last "
                  "week, the payment was not reversed.",
        "fd-107": "Chat with Gus. I forgot my password and the login page keeps failing.",
        "fd-108": "Two-factor code rejected. Two factor login code is not accepted, I cannot "
                  "access my account.",
        "fd-104": None,  # outbound: the agent's invoice notice is no contact reason
    }
    drivers, examples = drivers_reading(store, day, DAYS)
    # the 7 inbound tickets, each in one topic, the examples exactly their texts: the spam
    # (a prize) and the deleted ticket ("Test ticket, please ignore") are in none
    assert (drivers["contacts"], drivers["unassigned"]) == (7, 0)
    assert sum(topic["contacts"] for topic in drivers["topics"]) == 7
    assert examples == sorted(text for text in day.values() if text)

"""Zendesk conversation: audits, comments and ticket events, and deleted tickets, on an export
in the shape of the real API.

The fixtures in tests/fixtures/connectors/zendesk/export are written for these tests in the
exact shape of the Zendesk API's recorded responses (the public test recordings of the zenpy
client library): users and comments as cursor pages (`meta`, `links`), tickets as incremental
export pages (`end_of_stream`, `end_time`, `next_page`, ticket 2008 repeated with a newer
version), one ticket's audits, the account's audits list (`before_cursor`/`after_cursor`) and
the incremental ticket event export with `include=comment_events`. No ticket metrics.

The tickets, worked out by hand (first reply after creation):

- 2001 email (one ticket's audits): customer 09:00, private note 09:20, agent 09:45, customer,
  agent; solved 11:00. First reply 45 min.
- 2002 web (the audits list): customer 10:00, agent 10:10 + solved, customer 11:30 + open
  again. 10 min.
- 2003 native_messaging, a chat (ticket events): customer 08:00:00, agent 08:00:40, solved
  08:05. Answered after 40 s.
- 2004 api on behalf of an e-mail (`via.source.from.address`; a comments page): customer
  09:00, private 09:05, agent 09:30. 30 min.
- 2005 web, opened by an agent (outbound): the agent's opening comment 11:00, customer 11:20,
  agent 11:25.
- Time Tracking app (ticket_fields.json names its field "Total time spent (sec)"): 2001
  1260 s, 2002 540 s, 2003 300 s, 2004 none, 2005 0 (none logged), deleted 2006 120 s.
- 2006 and 2007 deleted (2006: customer, an agent 5 min later, a good rating); 2008 open,
  then deleted in the later page. Not contacts. The deleted tickets list names all three.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from servicepulse.config import CHANNEL_NAMES, ConfigError, load_settings
from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.connectors.base import MappingError
from servicepulse.ingest.importer import ImportSummary, import_rows
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import query_rollup
from servicepulse.kpi.settings import KpiSettings
from servicepulse.records.models import Channel
from servicepulse.store import tables
from tests.ingest.connectors.helpers import (
    FIXTURES,
    assert_sentiment_by_category,
    drivers_reading,
    errors,
    read,
    records,
)

EXPORT = sorted((FIXTURES / "zendesk" / "export").glob("*.json"))
WINDOW = {"from": "2024-05-06", "to": "2024-05-09"}


def load(engine: Engine, paths: list[Path], **options: Any) -> ImportSummary:
    rows = CONNECTORS["zendesk"].read(paths, ConnectorOptions(**options))
    return import_rows(engine, rows, batch_size=7)  # small batches: rows span batches


def kpis(engine: Engine, names: list[str]) -> dict[str, Any]:
    [row] = run_kpi_query(engine, KpiQuery.model_validate({**WINDOW, "kpis": names}),
                          KpiSettings())["rows"]
    return dict(row["kpis"])


def interactions(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(tables.interactions)).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def test_export_without_metrics_imports_whole_and_kpis_agree_by_hand(store: Engine) -> None:
    summary = load(store, EXPORT)
    # 3 agents and 4 customers (two user pages), 2 groups, 8 tickets (2008 twice: only the
    # later page's newer version), 19 comments + 2 chat answers + 4 status changes = 25
    # events, 3 ratings; nothing quarantined
    assert summary.as_json() == {
        "inserted": {"team": 2, "agent": 3, "customer": 4, "interaction": 8, "event": 25,
                     "survey": 3},
        "updated": {}, "unchanged": {}, "quarantined": 0,
    }
    stored = interactions(store)
    # deleted tickets are kept as records (2008: the later page's version)
    assert {key: stored[key]["status"] for key in ("zd-2006", "zd-2007", "zd-2008")} == {
        "zd-2006": "deleted", "zd-2007": "deleted", "zd-2008": "deleted"}
    # first response = the first public agent comment after creation: 2001 not the private
    # note at 09:20 but the reply at 09:45; 2005's opening comment by its agent is the
    # request, its first reply the agent's comment at 11:25
    first = {key: stored[key]["first_response_at"] - stored[key]["created_at"]
             for key in ("zd-2001", "zd-2002", "zd-2004", "zd-2005")}
    assert first == {"zd-2001": 2700, "zd-2002": 600, "zd-2004": 1800, "zd-2005": 1500}
    assert stored["zd-2003"]["answered_at"] - stored["zd-2003"]["created_at"] == 40
    # the status events: 2001 solved at 11:00 (not its updated_at 12:00); 2002 solved at
    # 10:10 and opened again at 11:30
    assert stored["zd-2001"]["resolved_at"] - stored["zd-2001"]["created_at"] == 7200
    assert (stored["zd-2002"]["resolved_at"], stored["zd-2002"]["reopens"]) == (None, 1)

    # handle time: the Time Tracking app's total, found by its field's title (not the field
    # "Time spent last update (sec)" beside it); 0 is no time logged
    assert {key: stored[key]["handle_s"] for key in sorted(stored)} == {
        "zd-2001": 1260, "zd-2002": 540, "zd-2003": 300, "zd-2004": None, "zd-2005": None,
        "zd-2006": 120, "zd-2007": None, "zd-2008": 60}

    got = kpis(store, ["contacts", "frt", "csat", "resolution_rate", "aht"])
    # contacts: 2001-2004 inbound, 2005 outbound; the three deleted tickets nowhere
    assert (got["contacts"]["value"], got["contacts"]["inbound"],
            got["contacts"]["outbound"]) == (5, 4, 1)
    # inbound first responses 40, 600, 1800, 2700 s (2006's 300 s is a deleted ticket's):
    # median (600 + 1800) / 2, mean 5140 / 4
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (1200.0, 4, 1285.0)
    # ratings good (2001) and bad (2002); 2006's good rating is a deleted ticket's
    assert (got["csat"]["value"], got["csat"]["n"]) == (50.0, 2)
    # resolved: 2001 and 2003 of five contacts
    assert (got["resolution_rate"]["value"], got["resolution_rate"]["n"]) == (40.0, 5)
    # AHT: (1260 + 540 + 300) / 3; 2004 and 2005 are handled without time logged; the
    # deleted tickets' 120 s and 60 s count nowhere
    assert (got["aht"]["value"], got["aht"]["n"], got["aht"]["without_handle_data"]) == (
        700.0, 3, 2)
    # the rollup (filled by the import hook) counts the same contacts
    rolled = query_rollup(store, KpiQuery.model_validate(
        {**WINDOW, "kpis": ["contacts", "frt", "csat"]}), KpiSettings())
    assert rolled is not None and rolled["source"] == "rollup"
    [row] = rolled["rows"]
    assert (row["kpis"]["contacts"]["value"], row["kpis"]["frt"]["n"],
            row["kpis"]["frt"]["mean"], row["kpis"]["csat"]["value"]) == (5, 4, 1285.0, 50.0)

    # the same export again changes nothing
    again = load(store, EXPORT)
    assert again.as_json()["inserted"] == {} and again.as_json()["updated"] == {}


def test_comments_become_events_by_who_wrote_them() -> None:
    rows = read("zendesk", *EXPORT)
    assert errors(rows) == []
    got = records(rows)
    kinds = {key: (record["kind"], record.get("actor"), record.get("public"))
             for (kind, key), record in got.items() if key.startswith("zd-comment-")}
    assert kinds == {
        # 2001 (one ticket's audits): customer, private note, agent, customer, agent
        "zd-comment-90001": ("customer_message", "customer", True),
        "zd-comment-90002": ("note", "agent", False),
        "zd-comment-90003": ("agent_message", "agent", True),
        "zd-comment-90004": ("customer_message", "customer", True),
        "zd-comment-90005": ("agent_message", "agent", True),
        # 2002 (the audits list, newest first)
        "zd-comment-90010": ("customer_message", "customer", True),
        "zd-comment-90011": ("agent_message", "agent", True),
        "zd-comment-90012": ("customer_message", "customer", True),
        # 2003 (ticket events): a chat, so each agent message is also an answer
        "zd-comment-90020": ("customer_message", "customer", True),
        "zd-comment-90021": ("agent_message", "agent", True),
        "zd-comment-90021-answered": ("answered", "agent", None),
        "zd-comment-90022": ("agent_message", "agent", True),
        "zd-comment-90022-answered": ("answered", "agent", None),
        # 2004 (a comments page naming its ticket only in its links)
        "zd-comment-90030": ("customer_message", "customer", True),
        "zd-comment-90031": ("note", "agent", False),
        "zd-comment-90032": ("agent_message", "agent", True),
        # 2005: the agent's opening comment is the request (a public note), not a reply
        "zd-comment-90040": ("note", "agent", True),
        "zd-comment-90041": ("customer_message", "customer", True),
        "zd-comment-90042": ("agent_message", "agent", True),
        # 2006 (deleted): kept like any other
        "zd-comment-90060": ("customer_message", "customer", True),
        "zd-comment-90061": ("agent_message", "agent", True),
    }
    reply = got[("event", "zd-comment-90003")]
    assert reply == {"type": "event", "id": "zd-comment-90003", "interaction_id": "zd-2001",
                     "at": "2024-05-06T09:45:00Z", "public": True, "kind": "agent_message",
                     "actor": "agent", "agent_id": "zd-702",
                     "body": "Sorry about that! I have corrected the invoice to 90 EUR."}
    status = {key: (record["kind"], record["at"]) for (kind, key), record in got.items()
              if kind == "event" and not key.startswith("zd-comment-")}
    assert status == {
        "zd-2001-resolved-95007": ("resolved", "2024-05-06T11:00:00Z"),
        "zd-2002-resolved-95009": ("resolved", "2024-05-06T10:10:00Z"),
        "zd-2002-reopened-95008": ("reopened", "2024-05-06T11:30:00Z"),
        # a ticket event's child `{"status": "solved"}` says no previous status: new, from
        # the ticket's Create event before it
        "zd-2003-resolved-95902": ("resolved", "2024-05-07T08:05:00Z"),
    }
    # api on behalf of an e-mail: via.source.from has an address
    assert got[("interaction", "zd-2004")]["channel"] == "email"
    assert got[("interaction", "zd-2007")]["channel"] == "web"  # api, no source


# The customers' words in the export, by ticket type: their public comments (on 2005, the
# outbound ticket, the customer's answer to the agent) and the rating comments; no agent
# reply, no private note, no opening comment an agent wrote.
CUSTOMER_TEXTS = {
    "incident": ["Hello, my invoice for April shows 120 EUR but my plan is 90 EUR.",
                 "Thank you, that looks right now.", "Fast and clear"],
    "problem": ["My payment failed twice today.",
                "It is still failing, this is really frustrating.", "Still failing"],
    "question": ["hi, my order #5521 has not arrived",
                 "Where is my refund? It has been two weeks."],
    "task": ["Thanks for the reminder, I updated the card."],
}


def test_comment_texts_reach_sentiment_and_drivers(store: Engine) -> None:
    load(store, EXPORT)
    assert_sentiment_by_category(store, CUSTOMER_TEXTS, **WINDOW)
    # drivers read each inbound ticket's subject and its first customer comment
    inbound: dict[str, str | None] = {
        "zd-2001": "Invoice shows the wrong amount. Hello, my invoice for April shows 120 EUR "
                   "but my plan is 90 EUR.",
        "zd-2002": "Payment failed twice. My payment failed twice today.",
        "zd-2003": "Order not arrived. hi, my order #5521 has not arrived",
        "zd-2004": "Refund. Where is my refund? It has been two weeks.",
        "zd-2005": None,  # outbound: the agent's notice is no contact reason
    }
    drivers, examples = drivers_reading(store, inbound, WINDOW)
    # the four inbound contacts, each in one topic, the examples exactly their texts: the
    # deleted tickets ("test please ignore", "asdf", "Account locked") are in none
    assert (drivers["contacts"], drivers["unassigned"]) == (4, 0)
    assert examples == sorted(text for text in inbound.values() if text)

def _metrics(tmp_path: Path) -> Path:
    """Ticket metrics for 2001, 2002 and 2004 (Zendesk's own first reply times)."""
    def metric(ticket: int, created: str, reply: int) -> dict[str, Any]:
        return {"id": ticket + 50000, "ticket_id": ticket, "created_at": created,
                "updated_at": created, "reopens": 0, "replies": 1, "assignee_stations": 1,
                "group_stations": 1, "reply_time_in_minutes": {"calendar": reply,
                                                               "business": reply}}
    page = tmp_path / "ticket_metrics.json"
    page.write_text(json.dumps({"ticket_metrics": [
        metric(2001, "2024-05-06T09:00:00Z", 40),  # the comments say 45
        metric(2002, "2024-05-06T10:00:00Z", 10),  # the comments agree
        metric(2004, "2024-05-07T09:00:00Z", 35),  # a public agent comment came at 30
    ], "next_page": None, "previous_page": None, "count": 3}))
    return page


def test_metrics_win_where_both_exist_and_agree_where_zendesk_counted_alike(
        sqlite_store: Engine, tmp_path: Path) -> None:
    without = read("zendesk", *EXPORT)
    with_metrics = read("zendesk", *EXPORT, _metrics(tmp_path))
    assert errors(with_metrics) == []
    load(sqlite_store, [*EXPORT, _metrics(tmp_path)])
    stored = interactions(sqlite_store)
    replies = {key: stored[key]["first_response_at"] - stored[key]["created_at"]
               for key in ("zd-2001", "zd-2002", "zd-2004")}
    # compared with the comments (first public agent comment): 2002 agrees (600 s both);
    # 2001's metric (2400 s) wins over the comment (2700 s); 2004's metric (2100 s) wins,
    # and the comment Zendesk did not count as a reply (at 1800 s) is kept as a public note
    assert replies == {"zd-2001": 2400, "zd-2002": 600, "zd-2004": 2100}
    comments = {(r.data or {}).get("id"): (r.data or {}).get("kind") for r in without}
    assert (comments["zd-comment-90011"], comments["zd-comment-90032"]) == (
        "agent_message", "agent_message")
    kinds = {(r.data or {}).get("id"): (r.data or {}).get("kind") for r in with_metrics}
    assert (kinds["zd-comment-90011"], kinds["zd-comment-90032"],
            kinds["zd-comment-90003"]) == ("agent_message", "note", "agent_message")
    got = kpis(sqlite_store, ["frt"])
    # 40, 600, 2100, 2400 s: median 1350, mean 5140 / 4
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (1350.0, 4, 1285.0)


def test_tickets_of_a_comments_page_without_links_come_from_the_file_name(
        tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "zendesk" / "export" / "comments_page.json").read_text())
    bare = {"comments": page["comments"], "next_page": None, "previous_page": None,
            "count": 3}
    named = tmp_path / "tickets-2004-comments.json"
    named.write_text(json.dumps(bare))
    unnamed = tmp_path / "comments.json"
    unnamed.write_text(json.dumps(bare))
    got = records(read("zendesk", named))
    assert {record["interaction_id"] for (kind, _), record in got.items()} == {"zd-2004"}
    rows = read("zendesk", unnamed)
    # nothing says the ticket (no links, no audits of these comments in the import)
    assert [(line, field) for line, field, _ in errors(rows)] == [
        (1, "ticket_id"), (2, "ticket_id"), (3, "ticket_id")]
    assert "tickets-<id>-comments.json" in errors(rows)[0][2]


def test_comment_authors_without_the_users_file(tmp_path: Path) -> None:
    # no users: the requester (from the ticket or the audit's Create event) is the customer,
    # anyone else on the ticket staff; Zendesk's own id -1 (a trigger) writes notes
    audits = tmp_path / "audits.json"
    audits.write_text(json.dumps({"audits": [
        {"id": 1, "ticket_id": 5, "created_at": "2024-05-06T09:00:00Z", "author_id": 11,
         "via": {"channel": "email", "source": {"from": {"address": "a@example.com"}}},
         "events": [{"id": 10, "type": "Comment", "author_id": 11, "body": "help",
                     "public": True},
                    {"id": 11, "type": "Create", "field_name": "requester_id", "value": "11"},
                    {"id": 12, "type": "Create", "field_name": "status", "value": "new"}]},
        {"id": 2, "ticket_id": 5, "created_at": "2024-05-06T09:10:00Z", "author_id": -1,
         "events": [{"id": 20, "type": "Comment", "author_id": -1, "body": "auto reply",
                     "public": True}]},
        {"id": 3, "ticket_id": 5, "created_at": "2024-05-06T09:30:00Z", "author_id": 12,
         "events": [{"id": 30, "type": "Comment", "author_id": 12, "body": "on it",
                     "public": True},
                    {"id": 31, "type": "Change", "field_name": "status", "value": "solved",
                     "previous_value": "new"}]},
    ]}))
    got = records(read("zendesk", audits))
    assert {key: (record["kind"], record.get("actor")) for (kind, key), record in got.items()
            } == {"zd-comment-10": ("customer_message", "customer"),
                  "zd-comment-20": ("note", "system"),
                  "zd-comment-30": ("agent_message", "agent"),
                  "zd-5-resolved-31": ("resolved", "system")}


def test_channels_cover_real_via_types_and_the_settings_override_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(CHANNEL_NAMES) == {channel.value for channel in Channel}

    def ticket(number: int, via: dict[str, Any]) -> dict[str, Any]:
        return {"id": number, "created_at": "2024-05-06T09:00:00Z", "status": "open",
                "requester_id": 1, "via": via}

    page = tmp_path / "tickets.json"
    page.write_text(json.dumps({"tickets": [
        ticket(1, {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}),
        ticket(2, {"channel": "api", "source": {"from": {}, "to": {}, "rel": "chat"}}),
        ticket(3, {"channel": "api", "source": {"from": {"phone": "+4930123"}, "rel": None}}),
        ticket(4, {"channel": 29}),  # a via id: chat
        ticket(5, {"channel": "voicemail"}),
        ticket(6, {"channel": "mail"}),
        ticket(7, {"channel": "any_channel"}),
        ticket(8, {"channel": "closed_ticket"}),
        ticket(9, {"channel": "something_new"}),
    ]}))

    def channels(**options: Any) -> dict[str, str]:
        got = records(read("zendesk", page, **options))
        return {key: record["channel"] for (kind, key), record in got.items()}

    assert channels() == {"zd-1": "web", "zd-2": "chat", "zd-3": "phone", "zd-4": "chat",
                          "zd-5": "phone", "zd-6": "email", "zd-7": "social", "zd-8": "web",
                          "zd-9": "web"}
    # the configuration maps an account's own integrations (the program's start loads it and
    # hands its zendesk_channels to the connector); the settings file wins over it
    config = tmp_path / "servicepulse.toml"
    config.write_text('[zendesk_channels]\napi = "email"\nany_channel = "chat"\n')
    configured = load_settings(config).zendesk_channels
    assert configured == {"api": "email", "any_channel": "chat"}
    settings = tmp_path / "zendesk.toml"
    settings.write_text('[channels]\nany_channel = "sms"\nsomething_new = "chat"\n')
    mapped = channels(mapping=settings, zendesk_channels=configured)
    # api mapped by the user: every api ticket is e-mail, whatever via.source says
    assert (mapped["zd-1"], mapped["zd-2"], mapped["zd-3"]) == ("email", "email", "email")
    assert (mapped["zd-7"], mapped["zd-9"]) == ("sms", "chat")
    settings.write_text('[channels]\napi = "fax"\n')
    with pytest.raises(MappingError, match=r"\[channels\] api = 'fax' is not a channel"):
        read("zendesk", page, mapping=settings)
    # a bad configuration is said when it is loaded, before any connector runs
    config.write_text('[zendesk_channels]\napi = "fax"\n')
    with pytest.raises(ConfigError, match=r"zendesk_channels\.api = 'fax': 'fax' is not a "):
        load_settings(config)


def test_time_spent_from_a_field_id_in_the_settings(tmp_path: Path) -> None:
    # without the ticket fields page, the settings name the Time Tracking app's field
    tickets = [path for path in EXPORT if path.name.startswith("tickets_incremental")]
    assert {key: record.get("handle_s") for (kind, key), record in records(
        read("zendesk", *tickets)).items() if kind == "interaction"} == dict.fromkeys(
        ("zd-2001", "zd-2002", "zd-2003", "zd-2004", "zd-2005", "zd-2006", "zd-2007",
         "zd-2008"))
    settings = tmp_path / "zendesk.toml"
    settings.write_text("time_spent_field = 360016990071\n")
    handle = {key: record.get("handle_s") for (kind, key), record in records(
        read("zendesk", *tickets, mapping=settings)).items() if kind == "interaction"}
    assert (handle["zd-2001"], handle["zd-2003"], handle["zd-2005"]) == (1260, 300, None)
    # a value that is no number of seconds is quarantined naming the field
    page = tmp_path / "tickets.json"
    page.write_text(json.dumps({"tickets": [
        {"id": 1, "created_at": "2024-05-06T09:00:00Z", "status": "open", "requester_id": 5,
         "via": {"channel": "email"},
         "custom_fields": [{"id": 360016990071, "value": "15 min"}]}]}))
    assert errors(read("zendesk", page, mapping=settings)) == [
        (1, "custom_fields", "'15 min' in field 360016990071 (Total time spent) is not a number "
                             "of seconds")]
    settings.write_text('time_spent_field = "Total time spent"\n')
    with pytest.raises(MappingError, match="time_spent_field = 'Total time spent' is not a "
                                           "Zendesk ticket field id"):
        read("zendesk", page, mapping=settings)


def test_the_deleted_tickets_list_marks_its_tickets_deleted(tmp_path: Path) -> None:
    page = tmp_path / "deleted_tickets.json"

    def deleted(*rows: tuple[int, str]) -> None:
        page.write_text(json.dumps({"deleted_tickets": [
            {"actor": {"id": 702, "name": "Bo Agent"}, "id": ticket, "subject": "x",
             "description": "x", "deleted_at": at, "previous_state": "open"}
            for ticket, at in rows], "next_page": None, "previous_page": None,
            "count": len(rows)}))

    first = FIXTURES / "zendesk" / "export" / "tickets_incremental_1.json"
    # 2002 (open, updated 11:30) deleted at 12:00; 2001 (solved, updated 12:00) deleted at
    # 11:00 and restored since (its later update stands); 9999 is not in this import
    deleted((2002, "2024-05-06T12:00:00Z"), (2001, "2024-05-06T11:00:00Z"),
            (9999, "2024-05-06T12:00:00Z"))
    rows = read("zendesk", page, first)
    statuses = {key: record["status"] for (kind, key), record in records(rows).items()
                if kind == "interaction"}
    assert statuses == {"zd-2001": "solved", "zd-2002": "deleted", "zd-2006": "deleted",
                        "zd-2008": "open"}
    assert errors(rows) == [(3, "id", "ticket 9999 is not in this import: a deleted ticket is "
                                      "marked deleted on its ticket's record, so import the "
                                      "deleted tickets list together with the tickets (an "
                                      "incremental ticket export already lists deleted tickets "
                                      "with status deleted)")]


def test_json_lines_conversation_rows_are_recognised_by_shape(tmp_path: Path) -> None:
    rows = tmp_path / "conversation.jsonl"
    rows.write_text("\n".join(json.dumps(row) for row in (
        {"id": 1, "ticket_id": 9, "created_at": "2024-05-06T09:00:00Z", "author_id": 5,
         "events": [{"id": 11, "type": "Comment", "author_id": 5, "body": "hello",
                     "public": True},
                    {"id": 12, "type": "Create", "field_name": "requester_id", "value": "5"}]},
        {"id": 2, "ticket_id": 9, "timestamp": 1714986600, "updater_id": 6,
         "child_events": [{"id": 21, "event_type": "Comment", "body": "hi, on it",
                           "public": True}]},
        {"id": 31, "type": "Comment", "ticket_id": 9, "author_id": 5, "body": "thanks",
         "public": True, "created_at": "2024-05-06T09:20:00Z"},
    )))
    got = records(read("zendesk", rows))
    # the ticket event's comment names no author: its row's updater (6, not the requester 5)
    assert {key: (record["kind"], record["at"]) for (kind, key), record in got.items()} == {
        "zd-comment-11": ("customer_message", "2024-05-06T09:00:00Z"),
        "zd-comment-21": ("agent_message", "2024-05-06T09:10:00Z"),
        "zd-comment-31": ("customer_message", "2024-05-06T09:20:00Z"),
    }

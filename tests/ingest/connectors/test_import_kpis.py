"""Connector output through the real importer and KPI engine: stored values and KPIs agree
with the numbers each source states itself; re-imports change nothing; a newer export updates
only what changed; bad parts are quarantined and the rest imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.importer import ImportSummary, import_rows
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.store import tables
from tests.ingest.connectors.helpers import FIXTURES

ZENDESK = [FIXTURES / "zendesk" / f"{n}.json" for n in
           ("users", "groups", "tickets", "ticket_metrics", "satisfaction_ratings",
            "ticket_metric_events")]
FRESHDESK = [FIXTURES / "freshdesk" / f"{n}.json" for n in
             ("agents", "groups", "contacts", "tickets", "satisfaction_ratings")]
CHATWOOT = [FIXTURES / "chatwoot" / f"{n}.json" for n in
            ("agents", "teams", "contacts", "conversations", "messages_11",
             "csat_survey_responses")]
QUEUE_LOG = FIXTURES / "asterisk" / "queue_log"


def load(engine: Engine, connector: str, paths: list[Path], **options: Any) -> ImportSummary:
    rows = CONNECTORS[connector].read(paths, ConnectorOptions(**options))
    return import_rows(engine, rows, batch_size=7)  # small batches: rows span batches


def kpis(engine: Engine, names: list[str], **query: Any) -> dict[str, Any]:
    result = run_kpi_query(engine, KpiQuery(kpis=names, **query))
    [row] = result["rows"]
    return dict(row["kpis"])


def stored(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(tables.metadata.tables[table])).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def test_zendesk_import_agrees_with_zendesk_metrics(store: Engine) -> None:
    first = load(store, "zendesk", ZENDESK)
    assert first.as_json() == {
        "inserted": {"team": 2, "agent": 2, "customer": 2, "interaction": 5, "event": 1,
                     "survey": 3},
        "updated": {}, "unchanged": {}, "quarantined": 0,
    }
    interactions = stored(store, "interactions")
    # Zendesk's reply_time_in_minutes.calendar * 60 == first_response_at - created_at
    replies = {"zd-101": 30, "zd-102": 90, "zd-103": 5}
    for ticket, minutes in replies.items():
        row = interactions[ticket]
        assert row["first_response_at"] - row["created_at"] == minutes * 60
    # full_resolution_time_in_minutes.calendar (240, 20) == resolved_at - created_at
    for ticket, minutes in {"zd-101": 240, "zd-103": 20}.items():
        row = interactions[ticket]
        assert row["resolved_at"] - row["created_at"] == minutes * 60
    # importing the same export again changes nothing
    again = load(store, "zendesk", ZENDESK)
    assert again.as_json() == {
        "inserted": {}, "updated": {},
        "unchanged": {"team": 2, "agent": 2, "customer": 2, "interaction": 5, "event": 1,
                      "survey": 3},
        "quarantined": 0,
    }


def test_zendesk_kpis(sqlite_store: Engine) -> None:
    load(sqlite_store, "zendesk", ZENDESK)
    got = kpis(sqlite_store, ["frt", "csat", "contacts"])
    # inbound first replies (Zendesk reply times + 104's metric event): 30, 90, 5, 2 min =
    # 1800, 5400, 300, 120 s -> median (300 + 1800) / 2 = 1050, mean 7620 / 4 = 1905
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (1050.0, 4, 1905.0)
    # Zendesk's satisfaction score = good / (good + bad) = 2 / 3
    assert (got["csat"]["value"], got["csat"]["n"]) == (66.6667, 3)
    assert (got["contacts"]["inbound"], got["contacts"]["outbound"]) == (4, 1)


def test_zendesk_newer_export_updates_only_what_changed(sqlite_store: Engine,
                                                        tmp_path: Path) -> None:
    load(sqlite_store, "zendesk", ZENDESK)
    page = json.loads((FIXTURES / "zendesk" / "tickets.json").read_text())
    ticket = next(t for t in page["tickets"] if t["id"] == 102)
    newer = {**ticket, "status": "solved", "updated_at": "2024-03-06T09:00:00Z"}
    metric = {"ticket_id": 102, "created_at": "2024-03-04T10:00:00Z", "reopens": 1,
              "assignee_stations": 3, "group_stations": 2, "solved_at": "2024-03-06T09:00:00Z",
              "reply_time_in_minutes": {"calendar": 90, "business": 90},
              "full_resolution_time_in_minutes": {"calendar": 2820, "business": 900}}
    export = tmp_path / "incremental.json"
    export.write_text(json.dumps({"tickets": [newer], "metric_sets": [metric],
                                  "end_of_stream": True, "after_cursor": "x"}))
    summary = load(sqlite_store, "zendesk", [export])
    assert summary.as_json() == {"inserted": {}, "updated": {"interaction": 1},
                                 "unchanged": {}, "quarantined": 0}
    row = stored(sqlite_store, "interactions")["zd-102"]
    assert row["status"] == "solved"
    assert row["resolved_at"] - row["created_at"] == 2820 * 60


def test_freshdesk_kpis(sqlite_store: Engine) -> None:
    summary = load(sqlite_store, "freshdesk", FRESHDESK)
    assert summary.quarantined == 0
    got = kpis(sqlite_store, ["frt", "csat", "reopen_rate", "escalation_rate"])
    # stats.first_responded_at - created_at over inbound non-phone tickets: #1 email 20 min,
    # #2 chat 45 s (answered), #5 portal 40 min; #4 is a phone ticket (timed by answer, which
    # a ticket does not have); #3 is outbound. Median 1200, mean (1200 + 45 + 2400) / 3 = 1215
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (1200.0, 3, 1215.0)
    # Freshdesk's positive share: 103 and 102 of four answers (103, 100, -103, 102) = 50 %
    assert (got["csat"]["value"], got["csat"]["n"]) == (50.0, 4)
    # resolved: #1, #2 (reopened once), #5 -> 1 / 3
    assert (got["reopen_rate"]["value"], got["reopen_rate"]["n"]) == (33.3333, 3)


def test_chatwoot_kpis_and_events(sqlite_store: Engine) -> None:
    summary = load(sqlite_store, "chatwoot", CHATWOOT)
    assert summary.as_json()["inserted"] == {"team": 1, "agent": 2, "customer": 2,
                                             "interaction": 3, "event": 8, "survey": 3}
    conversation = stored(sqlite_store, "interactions")["cw-11"]
    # the messages agree with first_reply_created_at (10:01:00, the bot's 10:00:05 greeting
    # does not count) and the activity message says resolved at 10:30:00
    assert conversation["first_response_at"] - conversation["created_at"] == 60
    assert conversation["resolved_at"] - conversation["created_at"] == 1800
    got = kpis(sqlite_store, ["frt", "csat"])
    # Chatwoot's first response times: 60 s (chat 11) and 30 s (email 12): median = mean = 45
    assert (got["frt"]["value"], got["frt"]["n"], got["frt"]["mean"]) == (45.0, 2, 45.0)
    # Chatwoot's satisfaction: ratings 4-5 of all = 2 / 3 (ratings 5, 3, 4)
    assert (got["csat"]["value"], got["csat"]["n"]) == (66.6667, 3)


def test_asterisk_kpis_agree_with_the_queue_log(sqlite_store: Engine) -> None:
    summary = load(sqlite_store, "asterisk", [QUEUE_LOG])
    assert summary.as_json() == {"inserted": {"interaction": 7, "agent_state": 10},
                                 "updated": {}, "unchanged": {}, "quarantined": 0}
    got = kpis(sqlite_store, ["asa", "aht", "abandon_rate", "transfer_rate"])
    # ASA = mean CONNECT holdtime (12 + 5 + 20) / 3 = 12.3333
    assert (got["asa"]["value"], got["asa"]["n"]) == (12.3333, 3)
    # AHT = mean COMPLETE*/TRANSFER calltime (180 + 120 + 60) / 3 = 120
    assert (got["aht"]["value"], got["aht"]["n"]) == (120.0, 3)
    # offered = 7 calls - 1 short abandon (EXITWITHKEY after 3 s < 5 s) = 6, abandoned 2
    # (ABANDON after 45 s, EXITWITHTIMEOUT after 300 s); the call still queued at the end
    # of the log is offered, not abandoned: 2 / 6
    assert (got["abandon_rate"]["value"], got["abandon_rate"]["n"]) == (33.3333, 6)
    assert (got["transfer_rate"]["value"], got["transfer_rate"]["n"]) == (33.3333, 3)
    result = run_kpi_query(sqlite_store, KpiQuery(kpis=["occupancy"], by=["agent"]))
    occupancy = {row["group"]["agent"]: row["kpis"]["occupancy"]["value"]
                 for row in result["rows"]}
    # SIP/1001: handling 180 + 60, available 112 + 308 + 70 + 170 (the lunch break is
    # neither) -> 240 / 900; SIP/1002: handling 120, available 305 + 575 -> 120 / 1000
    assert occupancy == {"ast-SIP/1001": 26.6667, "ast-SIP/1002": 12.0}


def test_growing_queue_log_updates_only_what_changed(sqlite_store: Engine,
                                                     tmp_path: Path) -> None:
    lines = QUEUE_LOG.read_text().splitlines(keepends=True)
    partial = tmp_path / "queue_log"
    partial.write_text("".join(lines[:20]))  # up to the CONNECT at +970
    first = load(sqlite_store, "asterisk", [partial])
    assert first.quarantined == 0
    calls = stored(sqlite_store, "interactions")
    assert calls["ast-1700000950.8"]["resolved_at"] is None  # still talking
    partial.write_text("".join(lines))
    second = load(sqlite_store, "asterisk", [partial])
    # call 8 completes; call 10 is new. SIP/1001's open handling state gets its end and a
    # new available state follows; SIP/1002's open available state ends at REMOVEMEMBER.
    assert second.as_json() == {
        "inserted": {"interaction": 1, "agent_state": 1},
        "updated": {"interaction": 1, "agent_state": 2},
        "unchanged": {"interaction": 5, "agent_state": 7},
        "quarantined": 0,
    }
    call = stored(sqlite_store, "interactions")["ast-1700000950.8"]
    assert call["resolved_at"] - call["answered_at"] == 60


@pytest.mark.parametrize("connector, path, quarantined, imported", [
    ("asterisk", FIXTURES / "asterisk" / "queue_log_damaged",
     [(3, None), (4, "event"), (5, None)], {"interaction": 2, "agent_state": 1}),
    ("zendesk", FIXTURES / "zendesk" / "tickets_truncated.json",
     [(43, None)], {"interaction": 2, "survey": 1}),  # 101 embeds its rating
])
def test_damaged_exports_quarantine_the_bad_part(sqlite_store: Engine, connector: str,
                                                 path: Path, quarantined: list[Any],
                                                 imported: dict[str, int]) -> None:
    summary = load(sqlite_store, connector, [path])
    assert summary.as_json()["inserted"] == imported
    with sqlite_store.connect() as connection:
        rows = connection.execute(
            select(tables.quarantine.c.source, tables.quarantine.c.line,
                   tables.quarantine.c.field).order_by(tables.quarantine.c.line)).all()
    assert [(line, field) for _, line, field in rows] == quarantined
    assert {source for source, _, _ in rows} == {str(path)}


@pytest.mark.parametrize("connector, paths, options", [
    ("freshdesk", FRESHDESK, {}),
    ("chatwoot", CHATWOOT, {}),
    ("asterisk", [QUEUE_LOG], {}),
    ("asterisk-cdr", [FIXTURES / "asterisk" / "Master.csv"],
     {"mapping": FIXTURES / "asterisk" / "asterisk.toml"}),
    ("csv", [FIXTURES / "csv" / "helpdesk_export.csv"],
     {"mapping": FIXTURES / "csv" / "helpdesk_mapping.toml"}),
    ("social", [FIXTURES / "social" / "x_tweet_activity.csv",
                FIXTURES / "social" / "facebook_posts.csv"], {}),
])
def test_importing_an_export_again_changes_nothing(sqlite_store: Engine, connector: str,
                                                   paths: list[Path],
                                                   options: dict[str, Any]) -> None:
    first = load(sqlite_store, connector, paths, **options)
    assert first.as_json()["inserted"]
    again = load(sqlite_store, connector, paths, **options)
    assert again.as_json()["inserted"] == {} and again.as_json()["updated"] == {}
    # (a record given twice in one export, like Chatwoot's last message embedded in its
    # conversation and listed with the messages, counts as unchanged the second time)
    assert again.unchanged == first.inserted + first.unchanged
    assert again.quarantined == first.quarantined

"""The `csv` (any spreadsheet with a TOML mapping) and `social` connectors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions, MappingError
from tests.ingest.connectors.helpers import FIXTURES, errors, read, records

HELPDESK = FIXTURES / "csv" / "helpdesk_mapping.toml"


def test_mapping_makes_interactions_and_surveys() -> None:
    rows = read("csv", "csv/helpdesk_export.csv", mapping=HELPDESK)
    # T-5's channel "Fax" is not mapped: it fails validation (tested below)
    got = records([r for r in rows if not (r.data and r.data["id"] == "hd-T-5")])
    # Berlin is UTC+1 on 4 March: 09:00 local = 08:00Z; "12,5" minutes with decimal ","
    assert got[("interaction", "hd-T-1")] == {
        "type": "interaction", "id": "hd-T-1", "created_at": "2024-03-04T08:00:00Z",
        "first_response_at": "2024-03-04T08:15:00Z", "resolved_at": "2024-03-04T10:00:00Z",
        "status": "resolved", "channel": "email", "agent_id": "hd-jo", "customer_id": "c-1",
        "handle_s": 750.0,
    }
    assert got[("survey", "hd-csat-T-1")] == {
        "type": "survey", "id": "hd-csat-T-1", "kind": "csat", "score": 5.0,
        "submitted_at": "2024-03-04T10:00:00Z", "interaction_id": "hd-T-1",
        "comment": 'said "thanks"',
    }
    # h:mm:ss durations; an empty Closed cell leaves the field out; value maps are exact
    # first, then case-insensitive ("solved" -> resolved)
    assert got[("interaction", "hd-T-2")]["handle_s"] == 270.0
    assert "resolved_at" not in got[("interaction", "hd-T-2")]
    assert got[("interaction", "hd-T-3")]["status"] == "resolved"
    # no Satisfaction: no survey for T-2
    assert ("survey", "hd-csat-T-2") not in got


def test_bad_cells_are_quarantined_with_their_row() -> None:
    rows = read("csv", "csv/helpdesk_export.csv", mapping=HELPDESK)
    assert [(line, field) for line, field, _ in errors(rows)] == [(5, "created_at")]
    [bad] = [r for r in rows if r.error]
    assert bad.raw == "T-4;yesterday;;;Open;Mail;jo;c-3;;;"
    assert "'yesterday' cannot be read as a time" in bad.error.reason  # type: ignore[union-attr]
    # an unmapped value passes through, and record validation quarantines it at import
    fax = next(r for r in rows if r.data and r.data["id"] == "hd-T-5")
    assert fax.data is not None and fax.data["channel"] == "Fax"


def test_mapping_errors_say_what_to_fix(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n")
    cases = {
        'kind = "ticket"\n[fields]\nid = "a"\n': "kind 'ticket' is not a record kind",
        'kind = "interaction"\n[fields]\nident = "a"\n': "['ident'] are not fields",
        'kind = "interaction"\n[fields]\nid = { col = "a" }\n': "unknown key(s) ['col']",
        'kind = "interaction"\n[fields]\ntalk_s = { column = "a", unit = "days" }\n':
            "unit 'days'",
        'kind = "interaction"\nfields = 3\n': "a [fields] table",
        'kind = "interaction"\n[fields\n': "not valid TOML",
    }
    for text, message in cases.items():
        mapping.write_text(text)
        with pytest.raises(MappingError, match=re.escape(message)):
            read("csv", data, mapping=mapping)
    with pytest.raises(MappingError, match="needs a mapping file"):
        read("csv", data)


def test_a_file_without_the_mapped_columns_is_one_error(tmp_path: Path) -> None:
    data = tmp_path / "other.csv"
    data.write_text("Ticket;Opened\nT-9;04.03.2024 09:00\n")
    rows = read("csv", data, mapping=HELPDESK)
    [(line, field, reason)] = errors(rows)
    assert line == 1 and field is None
    assert "'Closed'" in reason and "its columns: Ticket, Opened" in reason


def test_epoch_times_constants_and_lists(tmp_path: Path) -> None:
    data = tmp_path / "agents.csv"
    data.write_text("who,since,langs,cost\nann,1709546400000,en|fr,\"1,234.50\"\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'kind = "agent_state"\n[fields]\nid = { column = "who", template = "s-{}" }\n'
        'agent_id = "who"\nstate = { value = "available" }\n'
        'start = { column = "since", format = "epoch_ms" }\n')
    got = records(read("csv", data, mapping=mapping))
    assert got[("agent_state", "s-ann")] == {
        "type": "agent_state", "id": "s-ann", "agent_id": "ann", "state": "available",
        "start": "2024-03-04T10:00:00Z"}
    mapping.write_text(
        'kind = "agent"\nthousands = ","\n[fields]\nid = "who"\nname = "who"\n'
        'role = { value = "frontline" }\nlanguages = { column = "langs", split = "|" }\n'
        'hourly_cost = "cost"\n')
    got = records(read("csv", data, mapping=mapping))
    assert got[("agent", "ann")] == {"type": "agent", "id": "ann", "name": "ann",
                                     "role": "frontline", "languages": ["en", "fr"],
                                     "hourly_cost": 1234.5}


def test_social_exports_are_recognised_by_their_columns() -> None:
    rows = read("social", "social/x_tweet_activity.csv", "social/facebook_posts.csv",
                "social/instagram_posts.csv")
    assert errors(rows) == []
    got = records(rows)
    # X: replies -> comments, retweets -> shares, url clicks -> clicks; time has +0000
    assert got[("social_post", "x-1764000000000000001")] == {
        "type": "social_post", "id": "x-1764000000000000001", "platform": "x",
        "posted_at": "2024-03-02T14:05:00Z", "impressions": 1200, "likes": 30,
        "comments": 6, "shares": 4, "clicks": 10,
    }
    # Facebook: Reactions -> likes, Total clicks -> clicks; MM/DD/YYYY
    assert got[("social_post", "fb-1234567890_111")] == {
        "type": "social_post", "id": "fb-1234567890_111", "platform": "facebook",
        "posted_at": "2024-03-01T10:15:00Z", "impressions": 2000, "reach": 1500,
        "likes": 50, "comments": 12, "shares": 8, "clicks": 40,
    }
    assert got[("social_post", "ig-17900000000000001")] == {
        "type": "social_post", "id": "ig-17900000000000001", "platform": "instagram",
        "posted_at": "2024-03-05T18:00:00Z", "impressions": 900, "reach": 700, "likes": 80,
        "comments": 9, "shares": 5, "saves": 11,
    }


def test_social_mentions_need_a_mapping() -> None:
    rows = read("social", "social/mentions.csv")
    [(line, _, reason)] = errors(rows)
    assert line == 1 and "give --mapping" in reason
    rows = read("social", "social/mentions.csv",
                mapping=FIXTURES / "social" / "mentions_mapping.toml")
    got = records([r for r in rows if r.data and "at" in r.data])
    assert got[("social_mention", "sl-m-1")] == {
        "type": "social_mention", "id": "sl-m-1", "platform": "x",
        "at": "2024-03-04T10:00:00Z", "author": "@ivy",
        "text": "@acme my order is late again"}
    # m-3 has no date: the row is passed on without `at` and quarantined at validation
    undated = next(r for r in rows if r.data and r.data["id"] == "sl-m-3")
    assert undated.data is not None and "at" not in undated.data


def test_social_refuses_non_social_kinds() -> None:
    with pytest.raises(MappingError, match="use --format csv"):
        read("social", "csv/helpdesk_export.csv", mapping=HELPDESK)


def test_social_settings_file_sets_the_time_zone_of_recognised_exports(tmp_path: Path) -> None:
    settings = tmp_path / "social.toml"
    settings.write_text('timezone = "Europe/Paris"\n')
    got = records(read("social", "social/facebook_posts.csv", mapping=settings))
    # 03/01/2024 10:15 in Paris (UTC+1) = 09:15Z
    assert got[("social_post", "fb-1234567890_111")]["posted_at"] == "2024-03-01T09:15:00Z"


@pytest.mark.parametrize("connector, settings", [
    ("csv", 'kind = "interaction"\n[fields]\nident = "a"\n'),
    ("social", 'kind = "agent"\n[fields]\nid = "a"\nname = "a"\nrole = "a"\n'),
    ("asterisk", '[pause_reasons]\nLunch = "eating"\n'),
    ("asterisk-cdr", 'timezone = "Mars/Olympus"\n'),
    ("zendesk", '[roles]\nadmin = "boss"\n'),
    ("freshdesk", "survey_points = 4\n"),
    ("chatwoot", "role = [\n"),
])
def test_a_wrong_settings_file_fails_before_any_row_is_read(tmp_path: Path, connector: str,
                                                          settings: str) -> None:
    mapping = tmp_path / "settings.toml"
    mapping.write_text(settings)
    with pytest.raises(MappingError):
        CONNECTORS[connector].read([tmp_path / "never-read.json"],
                                   ConnectorOptions(mapping=mapping))

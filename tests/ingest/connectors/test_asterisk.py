"""Asterisk queue_log and CDR (Master.csv) connectors.

Fixture `queue_log` is written from the queue_log format in REFERENCES.md (Asterisk's
queue_log documentation): `epoch|callid|queue|agent|EVENT|data...`; times are epochs
1700000000 + n, so `T(n)` below is that time as ISO 8601.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.ingest.connectors.helpers import FIXTURES, errors, read, records, seconds_between


def T(offset: int) -> str:
    return datetime.fromtimestamp(1_700_000_000 + offset, UTC).isoformat().replace("+00:00", "Z")


def test_queue_log_calls_become_phone_interactions() -> None:
    rows = read("asterisk", "asterisk/queue_log")
    assert errors(rows) == []
    got = records(rows)
    calls = {i: r for (t, i), r in got.items() if t == "interaction"}
    assert set(calls) == {"ast-1700000100.1", "ast-1700000200.3", "ast-1700000300.4",
                          "ast-1700000400.6", "ast-1700000500.7", "ast-1700000950.8",
                          "ast-1700001100.10"}
    # ENTERQUEUE +100, CONNECT +112 (holdtime 12), COMPLETECALLER +292 (calltime 180)
    assert calls["ast-1700000100.1"] == {
        "type": "interaction", "id": "ast-1700000100.1", "channel": "phone",
        "direction": "inbound", "created_at": T(100), "queue": "support",
        "customer_id": "tel:5551234", "agent_id": "ast-SIP/1001", "answered_at": T(112),
        "talk_s": 180.0, "handle_s": 180.0, "transfers": 0, "status": "completed",
        "resolved_at": T(292),
    }
    # holdtime is the queue wait: answered_at - created_at == holdtime (12, 5, 20)
    for call, holdtime in (("ast-1700000100.1", 12), ("ast-1700000300.4", 5),
                           ("ast-1700000950.8", 20)):
        record = calls[call]
        assert seconds_between(record["created_at"], record["answered_at"]) == holdtime
        assert "hold_s" not in record
    # TRANSFER(extension|context|holdtime|calltime|origposition) = 2000|from-internal|5|120|1
    transferred = calls["ast-1700000300.4"]
    assert (transferred["transfers"], transferred["talk_s"], transferred["status"],
            transferred["customer_id"]) == (1, 120.0, "transferred", "tel:+4420700000")
    # ABANDON waittime 45 at +245; EXITWITHTIMEOUT waittime 300 at +700 (caller anonymous);
    # EXITWITHKEY key 1, waittime 3 at +503
    abandoned = {i: (calls[i]["created_at"], calls[i]["abandoned_at"], calls[i].get("customer_id"))
                 for i in ("ast-1700000200.3", "ast-1700000400.6", "ast-1700000500.7")}
    assert abandoned == {
        "ast-1700000200.3": (T(200), T(245), "tel:5559876"),
        "ast-1700000400.6": (T(400), T(700), None),
        "ast-1700000500.7": (T(500), T(503), "tel:5551234"),
    }
    for call in abandoned:
        assert "answered_at" not in calls[call] and "resolved_at" not in calls[call]
    # still waiting when the log ends: emitted open, completed by a longer log later
    assert calls["ast-1700001100.10"] == {
        "type": "interaction", "id": "ast-1700001100.10", "channel": "phone",
        "direction": "inbound", "created_at": T(1100), "queue": "support",
        "customer_id": "tel:5551111", "transfers": 0, "status": "queued",
    }


def test_queue_log_member_events_become_agent_states() -> None:
    got = records(read("asterisk", "asterisk/queue_log"))
    states = sorted((r["agent_id"], r["start"], r.get("end"), r["state"])
                    for (t, _), r in got.items() if t == "agent_state")
    # SIP/1001: ADDMEMBER 0, CONNECT 112, COMPLETECALLER 292, PAUSE Lunch 600, UNPAUSE 900,
    # CONNECT 970, COMPLETEAGENT 1030, REMOVEMEMBER 1200 (RINGNOANSWER changes nothing).
    # SIP/1002: ADDMEMBER 0, CONNECT 305, TRANSFER 425, REMOVEMEMBER 1000.
    assert states == [
        ("ast-SIP/1001", T(0), T(112), "available"),
        ("ast-SIP/1001", T(112), T(292), "handling"),
        ("ast-SIP/1001", T(292), T(600), "available"),
        ("ast-SIP/1001", T(600), T(900), "break"),
        ("ast-SIP/1001", T(900), T(970), "available"),
        ("ast-SIP/1001", T(970), T(1030), "handling"),
        ("ast-SIP/1001", T(1030), T(1200), "available"),
        ("ast-SIP/1002", T(0), T(305), "available"),
        ("ast-SIP/1002", T(305), T(425), "handling"),
        ("ast-SIP/1002", T(425), T(1000), "available"),
    ]
    assert ("agent_state", "ast-SIP/1001@1700000600") in got


def test_pause_reasons_and_agent_ids_follow_the_settings(tmp_path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("100|NONE|q|PJSIP/bob|AGENTLOGIN|PJSIP/bob\n"
                   "160|NONE|q|PJSIP/bob|PAUSE|Team huddle\n"
                   "220|NONE|q|PJSIP/bob|PAUSE|Training\n"
                   "280|NONE|q|PJSIP/bob|UNPAUSE|\n"
                   "400|NONE|q|PJSIP/bob|AGENTLOGOFF|PJSIP/bob|300\n")
    settings = tmp_path / "settings.toml"
    settings.write_text('[agents]\n"PJSIP/bob" = "bob"\n'
                        '[pause_reasons]\n"team huddle" = "meeting"\n')
    got = records(read("asterisk", log, mapping=settings))
    assert sorted((r["agent_id"], r["state"], r["start"], r["end"]) for r in got.values()) == [
        ("bob", "available", "1970-01-01T00:01:40Z", "1970-01-01T00:02:40Z"),
        ("bob", "available", "1970-01-01T00:04:40Z", "1970-01-01T00:06:40Z"),
        ("bob", "meeting", "1970-01-01T00:02:40Z", "1970-01-01T00:03:40Z"),
        ("bob", "training", "1970-01-01T00:03:40Z", "1970-01-01T00:04:40Z"),  # default: word
    ]


def test_rotated_log_places_calls_from_their_stated_waits(tmp_path) -> None:
    # The ENTERQUEUE lines are in the previous (rotated) log; CONNECT's holdtime and
    # ABANDON's waittime put the arrival back: 1000 - 30 = 970, 2000 - 40 = 1960.
    log = tmp_path / "queue_log"
    log.write_text("1000|c1|q|SIP/7|CONNECT|30|c1b|2\n"
                   "1100|c1|q|SIP/7|COMPLETEAGENT|30|100|1\n"
                   "2000|c2|q|NONE|ABANDON|2|3|40\n")
    got = records(read("asterisk", log))
    assert got[("interaction", "ast-c1")]["created_at"] == "1970-01-01T00:16:10Z"
    assert got[("interaction", "ast-c1")]["talk_s"] == 100.0
    assert got[("interaction", "ast-c2")]["created_at"] == "1970-01-01T00:32:40Z"


def test_damaged_queue_log_quarantines_bad_lines_and_reads_the_rest() -> None:
    rows = read("asterisk", "asterisk/queue_log_damaged")
    assert [(line, field) for line, field, _ in errors(rows)] == [
        (3, None),  # "1700000105|1700000100.1|support": 3 fields
        (4, "event"),  # TELEPORT is no queue_log event
        (5, None),  # CONNECT without its holdtime
    ]
    reasons = [reason for _, _, reason in errors(rows)]
    assert "expected at least 5" in reasons[0]
    assert "unknown queue_log event 'TELEPORT'" in reasons[1]
    assert reasons[2] == "CONNECT line: missing holdtime (data field 1)"
    bad = [r for r in rows if r.error is not None]
    assert bad[0].raw == "1700000105|1700000100.1|support"
    got = records(rows)
    # the call survives its broken CONNECT: COMPLETECALLER at +292 with calltime 180 says it
    # was answered at +112 by SIP/1001
    call = got[("interaction", "ast-1700000100.1")]
    assert (call["answered_at"], call["talk_s"], call["agent_id"]) == (T(112), 180.0,
                                                                       "ast-SIP/1001")
    assert got[("interaction", "ast-1700000300.4")]["abandoned_at"] == T(330)


def test_cdr_master_csv() -> None:
    rows = read("asterisk-cdr", "asterisk/Master.csv",
                mapping=FIXTURES / "asterisk" / "asterisk.toml")
    got = records(rows)
    # Europe/Paris is UTC+1 on 1 March: 09:00:00 local = 08:00:00Z
    assert got[("interaction", "ast-cdr-1709283600.1")] == {
        "type": "interaction", "id": "ast-cdr-1709283600.1", "channel": "phone",
        "direction": "inbound", "created_at": "2024-03-01T08:00:00Z",
        "customer_id": "tel:5551234", "agent_id": "alice", "status": "answered",
        "answered_at": "2024-03-01T08:00:10Z", "talk_s": 300.0, "handle_s": 300.0,
        "resolved_at": "2024-03-01T08:05:10Z",
    }
    unanswered = got[("interaction", "ast-cdr-1709284200.3")]
    assert (unanswered["status"], unanswered["abandoned_at"]) == ("no_answer",
                                                                  "2024-03-01T08:10:30Z")
    # a Queue call: billsec (180) includes the queue wait, so no talk or answer time
    queued = got[("interaction", "ast-cdr-1709284800.5")]
    assert queued["queue"] == "support" and "talk_s" not in queued
    assert "answered_at" not in queued
    assert queued["agent_id"] == "ast-Local/1002@from-queue"
    # from-internal is listed as outbound: the customer is the dialled number, the agent the
    # calling device (SIP/1001 -> alice)
    outbound = got[("interaction", "ast-cdr-1709285400.6")]
    assert (outbound["direction"], outbound["customer_id"], outbound["agent_id"],
            outbound["talk_s"]) == ("outbound", "tel:5557777", "alice", 60.0)
    assert [(line, reason[:30]) for line, _, reason in errors(rows)] == [
        (5, "CDR row has 6 column(s); Maste"),
        (6, "start '03/01/2024 09:40' is no"),
    ]
    # the raw text keeps the doubled quotes of the source
    assert '"""Alice"" <5551234>"' in rows[0].raw


def test_cdr_without_settings_reads_times_as_utc() -> None:
    got = records(read("asterisk-cdr", "asterisk/Master.csv"))
    record = got[("interaction", "ast-cdr-1709283600.1")]
    assert record["created_at"] == "2024-03-01T09:00:00Z"
    assert record["agent_id"] == "ast-SIP/1001"
    assert got[("interaction", "ast-cdr-1709285400.6")]["direction"] == "inbound"


def test_asterisk_12_transfers_and_a_second_queue_entry(tmp_path) -> None:
    # BLINDTRANSFER(extension|context|holdtime|calltime|origposition);
    # ATTENDEDTRANSFER(method|method data...|holdtime|calltime|origposition)
    log = tmp_path / "queue_log.gz"
    import gzip

    with gzip.open(log, "wt") as handle:
        handle.write("100|c1|sales|NONE|ENTERQUEUE||5550001|1\n"
                     "110|c1|sales|SIP/1|CONNECT|10|c1b|2\n"
                     "170|c1|sales|SIP/1|BLINDTRANSFER|200|default|10|60|1\n"
                     "180|c1|support|NONE|ENTERQUEUE||5550001|1\n"
                     "185|c1|support|SIP/2|CONNECT|5|c1c|1\n"
                     "285|c1|support|SIP/2|ATTENDEDTRANSFER|LINK|SIP/2-01|SIP/3-02|5|100|1\n")
    got = records(read("asterisk", log))
    first, second = got[("interaction", "ast-c1")], got[("interaction", "ast-c1-2")]
    assert (first["queue"], first["talk_s"], first["transfers"], first["agent_id"]) == (
        "sales", 60.0, 1, "ast-SIP/1")
    assert (second["queue"], second["talk_s"], second["transfers"], second["agent_id"]) == (
        "support", 100.0, 1, "ast-SIP/2")
    # wait of the second entry: 185 - 180 = 5 = CONNECT holdtime
    assert seconds_between(second["created_at"], second["answered_at"]) == 5

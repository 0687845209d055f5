"""Alerts delivered to a real local HTTP receiver and a real local SMTP server (aiosmtpd):
signed webhook JSON, email, no repeats, a recovery notice, queued on import, retried."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from servicepulse.config import Settings
from servicepulse.scorecards import tables as alert_tables
from servicepulse.scorecards.alerts import (
    SIGNATURE_HEADER,
    AlertError,
    AlertRule,
    add_rule,
    check_pending,
    check_rules,
    history,
    signature,
)
from tests.scorecards.builders import DAY_ONE, iso, load, team_records

SECRET = "s3cret"
TODAY = date(2026, 3, 4)  # the fixture's last day: a 7-day window holds all of it


class Receiver:
    """A local webhook receiver recording every request (headers, parsed JSON)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _settings(port: int) -> Settings:
    return Settings(alerts={"smtp_host": "127.0.0.1", "smtp_port": port,
                            "smtp_from": "alerts@servicepulse.test", "webhook_secret": SECRET})


def test_fire_once_then_recover(store: Engine, receiver: Receiver,
                                mailbox: tuple[Mailbox, int]) -> None:
    sqlite_store = store  # on both stores: the import hook runs inside each one's transaction
    box, port = mailbox
    settings = _settings(port)
    load(sqlite_store, team_records())
    add_rule(sqlite_store, AlertRule("a2-csat", "csat", scope="agent:A2", webhook=receiver.url,
                                     email=("lead@example.com",)))
    first = check_rules(sqlite_store, settings, today=TODAY)
    # A2's CSAT is 20/40 = 50% against the target 80: fired, delivered twice (webhook, email)
    assert first.fired == ["a2-csat:A2"] and (first.delivered, first.failed) == (2, 0)
    ((headers, body),) = receiver.requests
    payload = json.loads(body)
    assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    assert headers["X-ServicePulse-Event"] == "fired"
    assert (payload["event"], payload["subject"], payload["value"], payload["n"],
            payload["threshold"]) == ("fired", "A2", 50.0, 40, 80.0)
    assert payload["message"] == ("Customer satisfaction for A2 is 50.0 (n = 40) over the last "
                                  "7 days: misses its target ≥ 80 (default)")
    ((recipients, email),) = box.messages
    assert recipients == ["lead@example.com"]
    assert email["Subject"] == "[ServicePulse] ALERT: csat for A2"
    assert "misses its target ≥ 80" in email.get_payload(decode=True).decode()

    # Still below target: nothing new is sent
    again = check_rules(sqlite_store, settings, today=TODAY)
    assert (again.fired, again.recovered, again.delivered) == ([], [], 0)
    assert len(receiver.requests) == 1 and len(box.messages) == 1

    # 100 more top answers arrive: (20 + 100) / 140 = 85.7% ≥ 80. The import queues the rule
    # (its scope was touched); checking the queue sends the recovery notice.
    load(sqlite_store, [{"type": "survey", "id": f"S-new-{i}", "kind": "csat", "score": 5,
                         "submitted_at": iso(DAY_ONE), "agent_id": "A2"} for i in range(100)])
    with sqlite_store.connect() as connection:
        queued = list(connection.execute(select(alert_tables.alert_pending.c.rule)).scalars())
    assert queued == ["a2-csat"]
    recovered = check_pending(sqlite_store, settings, today=TODAY)
    assert recovered.recovered == ["a2-csat:A2"] and recovered.delivered == 2
    payload = json.loads(receiver.requests[-1][1])
    assert (payload["event"], payload["value"], payload["n"]) == ("recovered", 85.7143, 140)
    assert box.messages[-1][1]["Subject"] == "[ServicePulse] RECOVERED: csat for A2"
    events = [(row["event"], row["webhook_status"], row["email_status"])
              for row in history(sqlite_store)]
    assert events == [("recovered", "sent", "sent"), ("fired", "sent", "sent")]


def test_threshold_rules_per_agent_and_minimum_sample(sqlite_store: Engine,
                                                      receiver: Receiver) -> None:
    load(sqlite_store, team_records())
    add_rule(sqlite_store, AlertRule("team-aht", "aht", scope="team:T1", per_agent=True,
                                     condition="above", threshold=315, webhook=receiver.url))
    # AHT: A1 300, A2 150, A3 320, A4 340, A5 310 → A3 and A4 above 315
    summary = check_rules(sqlite_store, Settings(), today=TODAY)
    assert sorted(summary.fired) == ["team-aht:A3", "team-aht:A4"]
    # unsigned without a secret
    assert all(SIGNATURE_HEADER not in headers for headers, _ in receiver.requests)
    # A5's 12 CSAT answers are below a minimum sample of 30: no verdict, nothing fired
    add_rule(sqlite_store, AlertRule("a5-csat", "csat", scope="agent:A5", condition="above",
                                     threshold=90))
    assert check_rules(sqlite_store, Settings(), today=TODAY).fired == []


def test_a_receiver_that_is_down_hears_later(sqlite_store: Engine) -> None:
    load(sqlite_store, team_records())
    down = f"http://127.0.0.1:{_free_port()}/hook"
    add_rule(sqlite_store, AlertRule("a2-fcr", "fcr", scope="agent:A2", webhook=down))
    first = check_rules(sqlite_store, Settings(), today=TODAY)
    assert first.fired == ["a2-fcr:A2"] and first.failed == 1
    assert history(sqlite_store)[0]["webhook_status"].startswith("retry: ConnectError")
    receiver = Receiver()
    try:
        add_rule(sqlite_store, AlertRule("a2-fcr", "fcr", scope="agent:A2", webhook=down))
        with sqlite_store.begin() as connection:  # the receiver came up at a new address
            row = connection.execute(select(alert_tables.alert_history)).mappings().one()
            connection.execute(alert_tables.alert_history.update().values(
                payload={**row["payload"], "webhook": receiver.url}))
        later = check_rules(sqlite_store, Settings(), today=TODAY)
        assert (later.fired, later.delivered) == ([], 1)  # the old notice, not a new one
        assert json.loads(receiver.requests[0][1])["event"] == "fired"
    finally:
        receiver.close()


def test_rules_from_configuration_and_their_errors() -> None:
    from servicepulse.scorecards.alerts import config_rules

    rules = config_rules(Settings(alerts={"rules": [
        {"name": "org-abandon", "kpi": "abandon_rate", "condition": "above", "threshold": 5,
         "email": "ops@example.com"}]}))
    assert rules[0].email == ("ops@example.com",) and rules[0].origin == "configuration"
    with pytest.raises(AlertError, match="kpi 'csatt' is unknown"):
        AlertRule("x", "csatt")
    with pytest.raises(AlertError, match="scope 'everyone'"):
        AlertRule("x", "csat", scope="everyone")
    with pytest.raises(AlertError, match="condition below needs a threshold"):
        AlertRule("x", "csat", condition="below")
    with pytest.raises(AlertError, match="frt has a target per channel"):
        AlertRule("x", "frt")
    with pytest.raises(AlertError, match="unknown key"):
        config_rules(Settings(alerts={"rules": [{"name": "x", "kpi": "csat", "kpis": "y"}]}))

"""Team digests received by a real local SMTP server (aiosmtpd) and a real local HTTP receiver:
the message's subject, recipients, inline charts by cid, the PDF attached, the numbers (by
hand and against the engine's), the Slack-compatible JSON; each period sent once, whoever
sends it; the mail server's refusals reported with what to do; the server's scheduler.

The store holds the hand-computed team (tests/fixtures/scorecards/team.json) in the week of
2026-03-02 and, a week earlier, the same team with two changes: A2 had 40 low CSAT answers
(not 20) and A5 answered 20 calls (not 42)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from servicepulse.config import ConfigError, Settings, load_settings
from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.display import format_kpi_change
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.scorecards import explain
from servicepulse.scorecards.alerts import SIGNATURE_HEADER, DeliverySettings, signature
from servicepulse.scorecards.digest import (
    MAX_ATTEMPTS,
    RETRY_AFTER_S,
    DigestScheduler,
    _claim,
    due_period,
    latest_due,
    period_ending,
    send_due,
    send_hook,
    send_mail,
)
from servicepulse.scorecards.tables import digest_deliveries
from servicepulse.store.database import open_store
from tests.scorecards.builders import FIXTURES, load, team_records
from tests.scorecards.test_alerts import Receiver, _free_port

SECRET = "digest-secret"
SEND_DAY = date(2026, 3, 9)  # a Monday: the weekly digest covers 2026-03-02 .. 03-08
MEMBERS = ["A1", "A2", "A3", "A4", "A5", "L1"]


class Mailbox:
    """Messages the local SMTP server accepted; recipients containing "refuse" are refused."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if "refuse" in address:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Smtp:
    box: Mailbox
    port: int


@pytest.fixture(scope="module")
def smtp() -> Iterator[Smtp]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp(box, port)
    controller.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _shifted(records: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The contacts, surveys and states moved `days` earlier, under new ids."""
    moved = []
    for record in records:
        if record["type"] not in ("interaction", "survey", "agent_state"):
            continue
        copy = dict(record, id="P" + record["id"])
        if "interaction_id" in copy:
            copy["interaction_id"] = "P" + copy["interaction_id"]
        for key, value in record.items():
            if key.endswith("_at") or key in ("start", "end"):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                copy[key] = (moment - timedelta(days=days)).isoformat().replace("+00:00", "Z")
        moved.append(copy)
    return moved


@pytest.fixture(scope="module")
def team_weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("digest")
    spec = json.loads((FIXTURES / "team.json").read_text())
    for agent in spec["agents"]:
        if agent["id"] == "A2":
            agent["csat_low"] = 40
        if agent["id"] == "A5":
            agent["contacts"] = 20
    earlier = folder / "earlier.json"
    earlier.write_text(json.dumps(spec))
    engine = open_store(f"sqlite:///{folder / 'store.db'}")
    load(engine, team_records() + _shifted(team_records(earlier), 7))
    yield engine
    engine.dispose()


def _settings(smtp: Smtp, **digests: Any) -> Settings:
    return Settings(alerts={"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                            "smtp_from": "digests@servicepulse.test",
                            "webhook_secret": SECRET}, digests=digests)


@pytest.fixture(scope="module")
def sent(team_weeks: Engine, smtp: Smtp, receiver: Receiver) -> dict[str, Any]:
    """The weekly digest of 2026-03-02 .. 03-08 sent once, by mail and to the webhook."""
    settings = _settings(smtp, recipients={"T1": ["lead@care.test"], "all": ["ops@care.test"]},
                         webhooks={"T1": [receiver.url]})
    outcomes = send_due(team_weeks, settings, day=SEND_DAY)
    return {"settings": settings, "outcomes": outcomes,
            "mail": list(smtp.box.messages), "hooks": list(receiver.requests)}


def _engine_kpis(store: Engine, start: date, end: date) -> dict[str, Any]:
    names = ["csat", "fcr", "aht", "occupancy", "contacts", "repeat_contact_rate"]
    result = run_kpi_query(store, KpiQuery(from_=start, to=end, kpis=names,
                                           filters={"agent": MEMBERS}), Settings())
    return dict(result["rows"][0]["kpis"])


def test_the_email_holds_the_digest(sent: dict[str, Any]) -> None:
    assert [o.status for o in sent["outcomes"]] == ["sent"]
    assert sent["outcomes"][0].email == "sent" and sent["outcomes"][0].webhooks == "sent"
    assert len(sent["mail"]) == 1
    recipients, message = sent["mail"][0]
    assert sorted(recipients) == ["lead@care.test", "ops@care.test"]
    assert message["Subject"] == "[ServicePulse] Weekly digest: Care, 02 Mar to 08 Mar 2026"
    assert message["From"] == "digests@servicepulse.test"
    assert sorted(a.strip() for a in message["To"].split(",")) == ["lead@care.test",
                                                                   "ops@care.test"]
    # the charts inline: every cid the HTML names is an image part of the same related part
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    images = {str(part["Content-ID"]).strip().strip("<>"): part.get_content()
              for part in message.walk() if part.get_content_type() == "image/png"}
    assert len(cids) == 2 and cids == set(images)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
    assert 'src="data:' not in html and 'src="http' not in html
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["digest-T1-2026-03-02.pdf"]
    assert attachments[0].get_content().startswith(b"%PDF")
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part is not None and "Agents to coach:" in text_part.get_content()


def _change_row(html: str, name: str) -> list[str]:
    """The cells of `name`'s row in the digest's change table."""
    table = html.split("<h2>Change against", 1)[1].split("</table>", 1)[0]
    row = re.search(rf"<tr><td>{re.escape(escape(KPIS[name].label))}</td>(.*?)</tr>", table,
                    re.S)
    assert row is not None, name
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_the_numbers_are_the_engines(team_weeks: Engine, sent: dict[str, Any]) -> None:
    html_part = sent["mail"][0][1].get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    # by hand: CSAT 130 of 172 answers top (75.6%) against 130 of 192 (67.7%) the week
    # before; 242 contacts against 220
    assert _change_row(html, "csat")[:3] == ["75.6%", "67.7%", "+7.9 pts"]
    assert _change_row(html, "contacts")[:3] == ["242", "220", "+22"]
    now = _engine_kpis(team_weeks, date(2026, 3, 2), date(2026, 3, 9))
    before = _engine_kpis(team_weeks, date(2026, 2, 23), date(2026, 3, 2))
    assert now["csat"]["value"] == pytest.approx(100 * 130 / 172, abs=1e-4)
    assert before["csat"]["value"] == pytest.approx(100 * 130 / 192, abs=1e-4)
    for name in now:
        value, previous = now[name]["value"], before[name]["value"]
        assert _change_row(html, name)[:3] == [
            explain.value_text(name, value), explain.value_text(name, previous),
            format_kpi_change(name, value - previous)], name


def test_the_change_is_explained(sent: dict[str, Any]) -> None:
    # CSAT by agent, by hand: the rates of A1 (90%) and A3 (80%) did not move, their share of
    # the answers grew from 40/192 to 40/172: mix = (40/172 − 40/192) × rate
    html_part = sent["mail"][0][1].get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    block = re.search(r'<div class="why"><b>Why Customer satisfaction changed \(\+7\.9 pts\)'
                      r"</b>(.*?)</div>", html, re.S)
    assert block is not None
    why = re.sub(r"<[^>]+>", " ", block.group(1))
    mix_a1 = (40 / 172 - 40 / 192) * 90
    mix_a3 = (40 / 172 - 40 / 192) * 80
    assert (f"by agent: A1 {format_kpi_change('csat', mix_a1)}: rate 0.0 pts (90.0% → 90.0%)"
            in why)
    assert f"A3 {format_kpi_change('csat', mix_a3)}" in why
    assert "by channel: phone +7.9 pts" in why  # one channel: all of the change


def test_the_webhook_gets_slack_json(sent: dict[str, Any], receiver: Receiver) -> None:
    assert len(sent["hooks"]) == 1
    headers, body = sent["hooks"][0]
    assert headers["Content-Type"] == "application/json"
    assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    payload = json.loads(body)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith("Care: digest for 02 Mar to 08 Mar 2026: CSAT 75.6%")
    assert payload["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "Care: digest for 02 Mar to 08 Mar 2026"}}
    assert all(block["type"] in ("header", "context", "section")
               for block in payload["blocks"])
    sections = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert ("• CSAT (customer satisfaction): 75.6% (n = 172; target ≥ 80.0%: near); "
            "+7.9 pts against 67.7% before") in sections
    assert "*Agents to coach*\n• *A2 Agent A2*: busy not effective" in sections


def test_a_period_is_sent_once(team_weeks: Engine, sent: dict[str, Any], smtp: Smtp,
                               receiver: Receiver) -> None:
    messages, hooks = len(smtp.box.messages), len(receiver.requests)
    again = send_due(team_weeks, sent["settings"], day=SEND_DAY)
    # a second server on the same store: the claim is in the store, not in the process
    other = open_store(team_weeks.url.render_as_string(hide_password=False))
    try:
        elsewhere = send_due(other, sent["settings"], day=SEND_DAY, retry_now=True)
    finally:
        other.dispose()
    assert [o.status for o in again + elsewhere] == ["already sent", "already sent"]
    assert (len(smtp.box.messages), len(receiver.requests)) == (messages, hooks)
    with team_weeks.connect() as connection:
        rows = connection.execute(select(digest_deliveries)).mappings().all()
    assert [(r["team"], r["cadence"], r["period_start"], r["period_end"], r["status"],
             r["attempts"]) for r in rows] == [
        ("T1", "weekly", "2026-03-02", "2026-03-09", "sent", 1)]


def test_claims_race(store: Engine) -> None:
    """Eight processes' worth of threads claim one period at once: exactly one wins."""
    period = period_ending("daily", date(2030, 1, 2))
    barrier = threading.Barrier(8)
    won: list[bool] = []

    def claim() -> None:
        barrier.wait()
        won.append(_claim(store, "T1", period)[0])

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]


def test_failed_and_stale_claims_are_taken_again(store: Engine) -> None:
    table = digest_deliveries
    now = time.time()

    def row(day: str, status: str, attempts: int, age: float) -> Any:
        with store.begin() as connection:
            connection.execute(insert(table).values(
                team="T1", cadence="daily", period_start=day, period_end=day, status=status,
                attempts=attempts, claimed_by="elsewhere:1", claimed_at=now - age))
        return period_ending("daily", date.fromisoformat(day) + timedelta(days=1))

    assert _claim(store, "T1", row("2031-01-01", "failed", 1, RETRY_AFTER_S + 5))[0]
    assert not _claim(store, "T1", row("2031-01-02", "failed", 1, 60))[0]
    assert _claim(store, "T1", period_ending("daily", date(2031, 1, 3)), retry_now=True)[0]
    assert not _claim(store, "T1", row("2031-01-04", "failed", MAX_ATTEMPTS, 10 ** 6))[0]
    assert not _claim(store, "T1", row("2031-01-05", "sending", 1, 60))[0]
    assert _claim(store, "T1", row("2031-01-06", "sending", 1, 3600))[0]  # its server died
    assert not _claim(store, "T1", row("2031-01-07", "sent", 1, 10 ** 6), retry_now=True)[0]
    with store.connect() as connection:
        attempts = connection.execute(select(table.c.attempts).where(
            table.c.period_start == "2031-01-01")).scalar()
    assert attempts == 2


def test_refusals_say_what_to_do(smtp: Smtp, receiver: Receiver) -> None:
    delivery = DeliverySettings(smtp_host="127.0.0.1", smtp_port=smtp.port,
                                smtp_from="digests@servicepulse.test", timeout_s=5)
    message = EmailMessage()
    message["Subject"], message["From"] = "test", delivery.smtp_from
    message.set_content("hello")
    refused = send_mail(message, ["refuse-me@care.test"], delivery)
    assert refused == (f"the SMTP server 127.0.0.1:{smtp.port} refused the recipient(s) "
                       "refuse-me@care.test: fix the addresses in [digests.recipients]")
    partly = send_mail(message, ["lead@care.test", "refuse-too@care.test"], delivery)
    assert partly == ("sent, but the SMTP server refused refuse-too@care.test: fix those "
                      "addresses in [digests.recipients]")
    closed = _free_port()
    down = send_mail(message, ["lead@care.test"],
                     DeliverySettings(smtp_host="127.0.0.1", smtp_port=closed, timeout_s=5))
    assert down == (f"nothing accepts connections at 127.0.0.1:{closed}: start the mail "
                    "server, or fix [alerts] smtp_host and smtp_port")
    login = send_mail(message, ["lead@care.test"], DeliverySettings(
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_user="lead", smtp_password="x",
        timeout_s=5))
    assert login == (f"the SMTP server 127.0.0.1:{smtp.port} does not support what the "
                     "settings ask (SMTP AUTH extension not supported by server.): set [alerts] "
                     "smtp_starttls = false if it offers no STARTTLS, or remove smtp_user and "
                     "smtp_password if it takes no login")
    nowhere = f"http://127.0.0.1:{closed}/hook"
    assert send_hook(nowhere, {"text": "x"}, delivery).startswith(
        f"the webhook {nowhere} could not be reached (ConnectError")


def test_a_webhook_that_answers_an_error(sent: dict[str, Any]) -> None:
    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no_service")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX"
    try:
        problem = send_hook(url, {"text": "x"}, DeliverySettings(timeout_s=5))
    finally:
        server.shutdown()
        server.server_close()
    assert problem == f"the webhook {url} answered 404 'no_service': check the URL in " \
        "[digests.webhooks]"


def test_when_a_digest_is_due() -> None:
    london = ZoneInfo("Europe/London")
    monday_8 = datetime(2026, 3, 9, 8, 0, tzinfo=london)
    weekly = due_period("weekly", "monday", 8, monday_8)
    assert (weekly.start, weekly.end, weekly.previous_start, weekly.previous_end) == (
        date(2026, 3, 2), date(2026, 3, 9), date(2026, 2, 23), date(2026, 3, 2))
    assert due_period("weekly", "monday", 8, monday_8 - timedelta(minutes=1)).end == date(
        2026, 3, 2)
    assert due_period("weekly", "friday", 17, monday_8).end == date(2026, 3, 6)
    daily = due_period("daily", "monday", 8, monday_8)
    assert (daily.start, daily.end, daily.previous_start, daily.previous_end) == (
        date(2026, 3, 8), date(2026, 3, 9), date(2026, 3, 1), date(2026, 3, 2))
    assert due_period("daily", "monday", 8, monday_8 - timedelta(hours=1)).end == date(
        2026, 3, 8)
    # the latest due by the settings' schedule, in their zone (London is UTC+1 in summer)
    settings = Settings(digests={"weekday": "monday", "hour": 8, "timezone": "Europe/London"})
    assert latest_due("weekly", settings, datetime(2026, 3, 9, 8, 0, tzinfo=UTC)) == date(
        2026, 3, 9)
    assert latest_due("weekly", settings, datetime(2026, 3, 9, 7, 59, tzinfo=UTC)) == date(
        2026, 3, 2)
    assert latest_due("weekly", settings, datetime(2026, 6, 1, 7, 30, tzinfo=UTC)) == date(
        2026, 6, 1)  # 08:30 in London
    assert latest_due("daily", settings, datetime(2026, 3, 11, 7, 0, tzinfo=UTC)) == date(
        2026, 3, 10)


def test_repeats_not_all_in_are_not_judged(team_weeks: Engine) -> None:
    """Sent on Monday 9 March, the week's contacts have not had their 7 days for a repeat
    (until 16 March): FCR and the repeat rate are shown with a note, neither judged nor
    explained; CSAT is. From 16 March (UTC, the KPIs' zone) the repeats are all in."""
    from servicepulse.scorecards.coaching import render_html
    from servicepulse.scorecards.digest import build_digest, plain_text, slack_payload

    period = period_ending("weekly", SEND_DAY)
    data = build_digest(team_weeks, "T1", period, Settings(),
                        now=datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    assert data["repeats_pending"] == (
        "FCR and the repeat contact rate count the repeats in the 7 days after each contact: "
        "those of this period's contacts are not all in until 16 Mar 2026, so FCR may read "
        "high and the repeat rate low against the period before; neither change is judged yet")
    verdicts = {name: change["verdict"] for name, change in data["changes"].items()}
    assert (verdicts["fcr"], verdicts["repeat_contact_rate"], verdicts["csat"]) == (
        "none", "none", "better")
    assert "fcr" not in data["explanations"] and "csat" in data["explanations"]
    html = render_html(data)
    assert '<p class="muted" id="repeats-pending">* FCR and the repeat' in html
    assert "\nNote: FCR and the repeat contact rate count" in plain_text(data)
    assert slack_payload(data)["blocks"][3]["elements"][0]["text"].startswith(
        "Note: FCR and the repeat contact rate")
    assert _change_row(html.replace("First contact resolution *", "First contact resolution"),
                       "fcr")[2] == "+72.7 pts"
    later = build_digest(team_weeks, "T1", period, Settings(),
                         now=datetime(2026, 3, 16, 0, 0, tzinfo=UTC))
    assert later["repeats_pending"] is None and later["changes"]["fcr"]["verdict"] == "better"


def test_the_digest_page_shows_the_scheduled_digest(team_weeks: Engine,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """/scorecards/team/T1/digest?period=week|day: the digest the schedule e-mails, its
    numbers by hand as in the mail (test_the_numbers_are_the_engines)."""
    from fastapi.testclient import TestClient

    from servicepulse.web.app import create_app
    from servicepulse.web.users import create_token, create_user

    monkeypatch.setenv("SERVICEPULSE_CONFIG", "/dev/null")
    create_user(team_weeks, "page-boss", "correct horse battery", "manager")
    create_user(team_weeks, "page-other", "correct horse battery", "team_lead",
                team_ids=["T9"])
    headers = {name: {"Authorization": f"Bearer {create_token(team_weeks, name, 'read')}"}
               for name in ("page-boss", "page-other")}
    with TestClient(create_app(team_weeks, serve_stale=False, prewarm=False)) as client:
        week = client.get("/scorecards/team/T1/digest?period=week&to=2026-03-09",
                          headers=headers["page-boss"])
        assert week.status_code == 200, week.text
        assert "02 Mar to 08 Mar 2026 · 6 people" in week.text
        assert "<h2>Change against 2026-02-23 to 2026-03-02</h2>" in week.text
        assert _change_row(week.text, "csat")[:3] == ["75.6%", "67.7%", "+7.9 pts"]
        assert _change_row(week.text, "contacts")[:3] == ["242", "220", "+22"]
        assert "Why Customer satisfaction changed (+7.9 pts)" in week.text
        # a day: Tuesday 3 March against Tuesday 24 February. The builder spreads each
        # agent's calls round robin over the three days (index % 3 == 1 on the 3rd), but A2's
        # 20 repeat pairs (indices 0-39) all fall on the 2nd: A1 13, A2 14 (of 40-79), A3 15,
        # A4 12, A5 14 = 68; the week before A5 answered 20 calls, 7 on the day: 61
        day = client.get("/scorecards/team/T1/digest?period=day&to=2026-03-04",
                         headers=headers["page-boss"])
        assert day.status_code == 200, day.text
        assert "<h2>Change against 2026-02-24 to 2026-02-25</h2>" in day.text
        assert _change_row(day.text, "contacts")[:3] == ["68", "61", "+7"]
        pdf = client.get("/scorecards/team/T1/digest?period=week&to=2026-03-09&format=pdf",
                         headers=headers["page-boss"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-disposition"] == (
            'inline; filename="digest-T1-2026-03-02.pdf"')
        refused = client.get("/scorecards/team/T1/digest?period=month",
                             headers=headers["page-boss"])
        assert refused.status_code == 422
        assert client.get("/scorecards/team/T1/digest?period=week",
                          headers=headers["page-other"]).status_code == 403
        # the team scorecard links to the last week's digest
        team = client.get("/scorecards/team/T1?from=2026-03-02&to=2026-03-09",
                          headers=headers["page-boss"])
        assert 'href="/scorecards/team/T1/digest?period=week">last week\'s digest</a>' in (
            team.text.replace("&#39;", "'"))


def test_settings_and_their_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[digests]\ncadence = "daily"\nweekday = "Friday"\nhour = 17\n'
                    'timezone = "Asia/Tokyo"\n[digests.recipients]\nT1 = ["a@b.test"]\n')
    config = load_settings(good).digests
    assert (config.cadence.value, config.weekday, config.hour, config.timezone,
            config.recipients) == ("daily", "friday", 17, "Asia/Tokyo", {"T1": ["a@b.test"]})
    bad = tmp_path / "bad.toml"
    bad.write_text('[digests]\nweekday = "fri"\nhour = 24\nsend_to = []\n')
    with pytest.raises(ConfigError) as error:
        load_settings(bad)
    text = str(error.value)
    assert f"{bad}: digests.weekday = 'fri': 'fri' is not a weekday" in text
    assert "digests.hour = 24" in text
    assert "unknown key 'digests.send_to'" in text


def test_the_servers_scheduler_sends_once(team_weeks: Engine, smtp: Smtp) -> None:
    settings = _settings(smtp, cadence="daily", hour=6, timezone="UTC",
                         recipients={"T1": ["daily@care.test"]})
    scheduler = DigestScheduler(team_weeks, settings, every_s=0.05,
                                clock=lambda: datetime(2026, 3, 5, 6, 30, tzinfo=UTC))
    scheduler.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                "daily@care.test" in rcpt for rcpt, _ in smtp.box.messages):
            time.sleep(0.1)
        runs = scheduler.runs
        while scheduler.runs < runs + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    daily = [message for rcpt, message in smtp.box.messages if rcpt == ["daily@care.test"]]
    assert len(daily) == 1
    assert daily[0]["Subject"] == "[ServicePulse] Daily digest: Care, Wed 04 Mar 2026"


def test_digest_command(team_weeks: Engine, sent: dict[str, Any], smtp: Smtp,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    from servicepulse.cli.main import app

    monkeypatch.setenv("SERVICEPULSE_ALERTS", json.dumps(
        {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_from": "cli@care.test"}))
    monkeypatch.setenv("SERVICEPULSE_DIGESTS", "{}")
    db = ["--db", team_weeks.url.render_as_string(hide_password=False)]
    before = len(smtp.box.messages)
    runner = CliRunner()
    result = runner.invoke(app, [*db, "digest", "send", "--team", "T1", "--period", "day",
                                 "--date", "2026-03-04", "--to", "me@care.test",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["team"], row["cadence"], row["period_start"], row["period_end"], row["status"],
            row["email"], row["recipients"]) == ("T1", "daily", "2026-03-03", "2026-03-04",
                                                 "sent", "sent", ["me@care.test"])
    assert len(smtp.box.messages) == before + 1
    assert smtp.box.messages[-1][0] == ["me@care.test"]
    # a test send records nothing: the scheduled digest of that day still goes out
    with team_weeks.connect() as connection:
        assert connection.execute(select(digest_deliveries.c.team).where(
            digest_deliveries.c.period_start == "2026-03-03")).first() is None
    result = runner.invoke(app, [*db, "digest", "send", "--period", "month"])
    assert result.exit_code == 2 and "'month': use week or day" in result.output
    result = runner.invoke(app, [*db, "digest", "send", "--team", "T9", "--to", "me@care.test"])
    assert result.exit_code == 2
    assert "team 'T9' has no active agents in the store; known teams: T1" in result.output
    result = runner.invoke(app, [*db, "digest", "history"])
    assert result.exit_code == 0, result.output
    row = r"T1 +│ weekly +│ 2026-03-02 +│ 2026-03-09 +│ sent +│ 1 "
    assert re.search(row, result.output), result.output


def test_the_server_runs_the_scheduler_when_digests_are_configured(
        sqlite_store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from servicepulse.web.app import create_app

    def running() -> bool:
        return any(thread.name == "digests" for thread in threading.enumerate())

    monkeypatch.setenv("SERVICEPULSE_CONFIG", "/dev/null")
    with TestClient(create_app(sqlite_store, serve_stale=False)):
        assert not running()  # nobody to send to: no thread
    monkeypatch.setenv("SERVICEPULSE_DIGESTS", json.dumps({"recipients": {"T1": ["a@b.test"]}}))
    with TestClient(create_app(sqlite_store, serve_stale=False)):
        assert running()
    assert not running()


def test_names_are_data_in_headers_and_slack_text() -> None:
    from servicepulse.scorecards.digest import _mrkdwn, subject

    data = {"team": {"name": "Care\r\nBcc: all@care.test", "team": "T1"}, "cadence": "daily",
            "period_text": "Wed 04 Mar 2026"}
    assert subject(data) == ("[ServicePulse] Daily digest: Care Bcc: all@care.test, "
                             "Wed 04 Mar 2026")
    assert _mrkdwn("<!channel> A&B > C") == "&lt;!channel&gt; A&amp;B &gt; C"

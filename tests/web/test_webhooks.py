"""Helpdesk webhooks: POST /api/v1/webhooks/zendesk and /chatwoot.

The fixtures (tests/fixtures/webhooks/) are deliveries in the senders' documented shapes: a
Zendesk ticket's life as ticket events (created, comment added, status changed), another
ticket as a trigger's JSON body, and a Chatwoot chat (conversation_created, message_created,
conversation_status_changed). Signatures are computed here with hmac, from the senders'
definitions, independently of servicepulse.ingest.webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from servicepulse.config import WebhookSecrets
from servicepulse.store import tables
from servicepulse.store.database import open_store
from servicepulse.web.app import create_app
from servicepulse.web.routes import webhooks as webhook_routes
from servicepulse.web.users import create_token, create_user
from tests.conftest import FIXTURES

# one worker builds the module's delivered store (with --dist loadgroup)
pytestmark = pytest.mark.xdist_group("webhooks")

HOOKS = FIXTURES / "webhooks"
ZENDESK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3RzX29ubHk="
CHATWOOT_SECRET = "cw-secret-for-tests"
ZENDESK_URL = "/api/v1/webhooks/zendesk"
CHATWOOT_URL = "/api/v1/webhooks/chatwoot"
# Ticket 101 as Zendesk ticket events; ticket 102 as a trigger's body (customer comment,
# private note, agent reply, solved: the last two with the documented template, whose latest
# comment has no time of its own), in the order Zendesk sends them.
ZENDESK_SEQUENCE = ("zendesk_101_created.json", "zendesk_101_comment.json",
                    "zendesk_101_solved.json", "zendesk_102_trigger_customer.json",
                    "zendesk_102_trigger_note.json", "zendesk_102_trigger_reply.json",
                    "zendesk_102_trigger_solved.json")
CHATWOOT_SEQUENCE = ("chatwoot_7_created.json", "chatwoot_7_note.json", "chatwoot_7_reply.json",
                     "chatwoot_7_resolved_activity.json", "chatwoot_7_status_changed.json")


def body_of(name: str) -> bytes:
    return (HOOKS / name).read_bytes()


def zendesk_headers(body: bytes, secret: str = ZENDESK_SECRET,
                    at: datetime | None = None) -> dict[str, str]:
    """Zendesk: base64(HMAC-SHA256(secret, timestamp + body)), timestamp ISO 8601."""
    timestamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "Content-Type": "application/json"}


def chatwoot_headers(body: bytes, secret: str = CHATWOOT_SECRET,
                     at: float | None = None) -> dict[str, str]:
    """Chatwoot: "sha256=" + hex HMAC-SHA256(secret, "<epoch seconds>.<body>")."""
    timestamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-Chatwoot-Signature": "sha256=" + digest.hexdigest(),
            "X-Chatwoot-Timestamp": timestamp, "X-Chatwoot-Delivery": "d7c0ffee",
            "Content-Type": "application/json"}


def post_zendesk(client: TestClient, name: str) -> dict[str, Any]:
    body = body_of(name)
    response = client.post(ZENDESK_URL, content=body, headers=zendesk_headers(body))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def post_chatwoot(client: TestClient, name: str) -> dict[str, Any]:
    body = body_of(name)
    response = client.post(CHATWOOT_URL, content=body, headers=chatwoot_headers(body))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(engine, serve_stale=False, prewarm=False)
    app.state.webhook_secrets = WebhookSecrets(zendesk=SecretStr(ZENDESK_SECRET),
                                               chatwoot=SecretStr(CHATWOOT_SECRET))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def hooks(sqlite_store: Engine) -> Iterator[TestClient]:
    """The app on an empty SQLite store with both webhook secrets configured."""
    yield from _client(sqlite_store)


@pytest.fixture(scope="module")
def delivered_template(tmp_path_factory: pytest.TempPathFactory
                       ) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A store that received both sequences once (each delivery imports in ~1 s: the rollup
    hook), and the answer to each delivery. Tests work on copies."""
    path = tmp_path_factory.mktemp("webhooks") / "delivered.db"
    engine = open_store(f"sqlite:///{path}")
    answers: dict[str, dict[str, Any]] = {}
    for client in _client(engine):
        versions = [hub_version(client)]
        for name in ZENDESK_SEQUENCE:
            answers[name] = post_zendesk(client, name)
            versions.append(hub_version(client))
        for name in CHATWOOT_SEQUENCE:
            answers[name] = post_chatwoot(client, name)
            versions.append(hub_version(client))
        # every delivery changed something, and each time the live wallboard was told
        answers["hub versions"] = {"increasing": all(
            later > earlier for earlier, later in pairwise(versions))}
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, answers


@pytest.fixture
def delivered(delivered_template: tuple[Path, dict[str, dict[str, Any]]],
              tmp_path: Path) -> Iterator[TestClient]:
    """The app on a copy of the store that received both sequences."""
    path = tmp_path / "store.db"
    shutil.copy(delivered_template[0], path)
    engine = open_store(f"sqlite:///{path}")
    yield from _client(engine)
    engine.dispose()


@pytest.fixture
def answers(delivered_template: tuple[Path, dict[str, dict[str, Any]]]
            ) -> dict[str, dict[str, Any]]:
    return delivered_template[1]


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.services.engine  # type: ignore[attr-defined]
    return engine


def hub_version(client: TestClient) -> int:
    version: int = client.app.state.services.hub.version  # type: ignore[attr-defined]
    return version


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every record table and the quarantine, rows sorted: equal snapshots = nothing changed."""
    out = {}
    with engine.connect() as connection:
        for kind, table in [*tables.RECORD_TABLES.items(), ("quarantine", tables.quarantine)]:
            rows = connection.execute(select(table)).all()
            out[kind] = sorted((tuple(row) for row in rows), key=repr)
    return out


# -- signatures and limits --------------------------------------------------------------------
# A success here posts an event ServicePulse ignores (200, nothing imported): the signature is
# what is under test, and an import would only cost time.

USER_EVENT = "zendesk_user_event.json"
TYPING = "chatwoot_typing.json"


def test_a_signed_zendesk_delivery_is_accepted_and_a_forged_one_is_not(
        hooks: TestClient) -> None:
    body = body_of(USER_EVENT)
    forged = zendesk_headers(body, secret="not the secret")
    response = hooks.post(ZENDESK_URL, content=body, headers=forged)
    assert response.status_code == 401
    assert "X-Zendesk-Webhook-Signature does not match" in response.json()["detail"]
    # the right signature over a different body (one byte changed) fails too
    tampered = body.replace(b'"7001"', b'"7002"')
    assert tampered != body
    response = hooks.post(ZENDESK_URL, content=tampered, headers=zendesk_headers(body))
    assert response.status_code == 401
    response = hooks.post(ZENDESK_URL, content=body, headers=zendesk_headers(body))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ignored"


def test_missing_signature_headers_are_401(hooks: TestClient) -> None:
    body = body_of(USER_EVENT)
    headers = zendesk_headers(body)
    for missing in ("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"):
        partial = {k: v for k, v in headers.items() if k != missing}
        response = hooks.post(ZENDESK_URL, content=body, headers=partial)
        assert response.status_code == 401, missing
        assert response.json()["detail"].startswith("missing X-Zendesk-Webhook-Signature")
    body = body_of(TYPING)
    response = hooks.post(CHATWOOT_URL, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    # no user or token lets a delivery through without its signature
    response = hooks.post(CHATWOOT_URL, content=body,
                          headers={"Authorization": "Bearer anything"})
    assert response.status_code == 401


def test_a_stale_or_future_timestamp_is_401_even_when_signed(hooks: TestClient) -> None:
    body = body_of(USER_EVENT)
    six_minutes = timedelta(minutes=6)
    for at in (datetime.now(UTC) - six_minutes, datetime.now(UTC) + six_minutes):
        response = hooks.post(ZENDESK_URL, content=body, headers=zendesk_headers(body, at=at))
        assert response.status_code == 401
        assert "at most 300 s allowed" in response.json()["detail"]
    # four minutes old is within the five allowed
    response = hooks.post(ZENDESK_URL, content=body,
                          headers=zendesk_headers(body, at=datetime.now(UTC)
                                                  - timedelta(minutes=4)))
    assert response.status_code == 200
    body = body_of(TYPING)
    response = hooks.post(CHATWOOT_URL, content=body,
                          headers=chatwoot_headers(body, at=time.time() - 301))
    assert response.status_code == 401
    response = hooks.post(CHATWOOT_URL, content=body,
                          headers=chatwoot_headers(body, secret="wrong"))
    assert response.status_code == 401
    assert "X-Chatwoot-Signature does not match" in response.json()["detail"]
    response = hooks.post(CHATWOOT_URL, content=body,
                          headers=chatwoot_headers(body, at=time.time() - 240))
    assert response.status_code == 200


def test_without_a_configured_secret_the_webhook_is_503(sqlite_store: Engine,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    # Configuration as the server reads it: servicepulse.toml names only the Zendesk secret
    config = tmp_path / "servicepulse.toml"
    config.write_text(f'[webhook_secrets]\nzendesk = "{ZENDESK_SECRET}"\n', encoding="utf-8")
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(config))
    app = create_app(sqlite_store, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        body = body_of(TYPING)
        response = client.post(CHATWOOT_URL, content=body, headers=chatwoot_headers(body))
        assert response.status_code == 503
        assert "SERVICEPULSE_WEBHOOK_SECRETS__CHATWOOT" in response.json()["detail"]
        body = body_of(USER_EVENT)
        response = client.post(ZENDESK_URL, content=body, headers=zendesk_headers(body))
        assert response.status_code == 200, response.text


def test_the_secret_can_come_from_the_environment(sqlite_store: Engine,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.delenv("SERVICEPULSE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no servicepulse.toml here
    monkeypatch.setenv("SERVICEPULSE_WEBHOOK_SECRETS__CHATWOOT", CHATWOOT_SECRET)
    app = create_app(sqlite_store, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        body = body_of(TYPING)
        response = client.post(CHATWOOT_URL, content=body, headers=chatwoot_headers(body))
        assert response.status_code == 200, response.text
        body = body_of(USER_EVENT)
        response = client.post(ZENDESK_URL, content=body, headers=zendesk_headers(body))
        assert response.status_code == 503


def test_an_oversized_body_is_413(hooks: TestClient) -> None:
    body = b'{"event": "message_created", "content": "' + b"x" * (
        webhook_routes.WEBHOOK_MAX_BODY_BYTES) + b'"}'
    response = hooks.post(CHATWOOT_URL, content=body, headers=chatwoot_headers(body))
    assert response.status_code == 413
    # streamed without a Content-Length, the limit holds as well
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    response = hooks.post(CHATWOOT_URL, content=chunks, headers=chatwoot_headers(body))
    assert response.status_code == 413
    assert snapshot(engine_of(hooks))["event"] == []


def test_a_body_that_is_not_a_payload_is_400(hooks: TestClient) -> None:
    for body in (b"{not json", b"[1, 2]", b'{"event": "ticket_updated", "ticket": {}}'):
        response = hooks.post(ZENDESK_URL, content=body, headers=zendesk_headers(body))
        assert response.status_code == 400, body
    body = b'{"event": "conversation_created", "status": "open"}'
    response = hooks.post(CHATWOOT_URL, content=body, headers=chatwoot_headers(body))
    assert response.status_code == 400
    assert response.json()["detail"] == "conversation_created without the conversation's id"


def test_events_without_contact_data_are_acknowledged_and_ignored(hooks: TestClient) -> None:
    assert post_zendesk(hooks, USER_EVENT) == {
        "event": "user.active_changed", "status": "ignored",
        "reason": "zen:event-type:user.active_changed is not a ticket event",
        "inserted": {}, "updated": {}, "unchanged": {}, "quarantined": 0, "rejected": []}
    assert post_chatwoot(hooks, TYPING)["status"] == "ignored"
    assert all(rows == [] for rows in snapshot(engine_of(hooks)).values())


# -- records ----------------------------------------------------------------------------------


def test_zendesk_deliveries_become_the_ticket_and_its_comments(
        delivered: TestClient, answers: dict[str, dict[str, Any]]) -> None:
    assert [answers[name]["event"] for name in ZENDESK_SEQUENCE] == [
        "ticket.created", "ticket.comment_added", "ticket.status_changed",
        "comment_added", "comment_added", "comment_added", "ticket_solved"]
    # created: the ticket and the note of its snapshot; comment: the comment and a snapshot
    # note, the ticket updated (status new -> open)
    assert answers["zendesk_101_created.json"]["inserted"] == {"interaction": 1, "event": 1}
    assert answers["zendesk_101_comment.json"]["inserted"] == {"event": 2}
    assert answers["zendesk_101_comment.json"]["updated"] == {"interaction": 1}
    # solved: the ticket updated, a snapshot note and (pending before) a resolution; the
    # latest comment (the 09:35 reply, here timed by the 09:50 update) is not moved to 09:50
    assert answers["zendesk_102_trigger_solved.json"]["inserted"] == {"event": 2}
    assert answers["zendesk_102_trigger_solved.json"]["updated"] == {"interaction": 1}
    assert answers["hub versions"] == {"increasing": True}
    with engine_of(delivered).connect() as connection:
        i = tables.interactions.c
        rows = {row.id: row for row in connection.execute(
            select(i.id, i.channel, i.direction, i.created_at, i.first_response_at,
                   i.resolved_at, i.agent_id, i.customer_id, i.team_id, i.status, i.priority,
                   i.category))}
        e = tables.events.c
        events = {row.id: (row.interaction_id, row.kind, row.actor, bool(row.public))
                  for row in connection.execute(
                      select(e.id, e.interaction_id, e.kind, e.actor, e.public)
                      .where(e.interaction_id.like("zd-%")))}
    assert set(rows) == {"zd-101", "zd-102", "cw-7"}
    ticket = rows["zd-101"]
    assert (ticket.channel, ticket.direction, ticket.agent_id, ticket.customer_id,
            ticket.team_id, ticket.status, ticket.priority, ticket.category) == (
        "email", "inbound", "zd-9001", "zd-7001", "zd-500", "solved", "normal", "question")
    assert ticket.created_at == epoch("2026-11-23T09:00:00+00:00")
    # the agent's public comment at 09:12 is the first response; solved at 10:00
    assert ticket.first_response_at == epoch("2026-11-23T09:12:00+00:00")
    assert ticket.resolved_at == epoch("2026-11-23T10:00:00+00:00")
    trigger = rows["zd-102"]
    # trigger placeholders ("Mail", "Solved", "High", "Incident") in the API's words
    assert (trigger.channel, trigger.status, trigger.priority, trigger.category,
            trigger.agent_id) == ("email", "solved", "high", "incident", "zd-9002")
    # not the requester's comment at 09:31 nor the private note at 09:32: the reply at 09:35
    assert trigger.first_response_at == epoch("2026-11-23T09:35:00+00:00")
    assert trigger.resolved_at == epoch("2026-11-23T09:50:00+00:00")
    snapshot_note = ("note", "system", False)
    assert events == {
        "zd-comment-30001": ("zd-101", "agent_message", "agent", True),
        "zd-101-resolved-01JZ0000000000000000000103": ("zd-101", "resolved", "system", True),
        "zd-comment-30008": ("zd-102", "customer_message", "customer", True),
        "zd-comment-30009": ("zd-102", "note", "agent", False),
        "zd-comment-30010": ("zd-102", "agent_message", "agent", True),
        # a trigger body's status went from pending (stored) to solved at 09:50
        "zd-102-resolved-1795427400000": ("zd-102", "resolved", "system", True),
        # one per snapshot time: 09:00, 09:12, 10:00 (epoch ms) ...
        "zd-101-update-1795424400000": ("zd-101", *snapshot_note),
        "zd-101-update-1795425120000": ("zd-101", *snapshot_note),
        "zd-101-update-1795428000000": ("zd-101", *snapshot_note),
        # ... and 09:31, 09:32, 09:35, 09:50
        "zd-102-update-1795426260000": ("zd-102", *snapshot_note),
        "zd-102-update-1795426320000": ("zd-102", *snapshot_note),
        "zd-102-update-1795426500000": ("zd-102", *snapshot_note),
        "zd-102-update-1795427400000": ("zd-102", *snapshot_note),
    }


def test_chatwoot_deliveries_become_the_conversation_and_its_messages(
        delivered: TestClient) -> None:
    with engine_of(delivered).connect() as connection:
        i = tables.interactions.c
        row = connection.execute(select(
            i.id, i.channel, i.created_at, i.answered_at, i.first_response_at, i.resolved_at,
            i.agent_id, i.customer_id, i.status, i.category).where(i.id == "cw-7")).one()
        e = tables.events.c
        events = {event_id: kind for event_id, kind in connection.execute(
            select(e.id, e.kind).where(e.interaction_id == "cw-7"))}
    assert (row.id, row.channel, row.agent_id, row.customer_id, row.status, row.category) == (
        "cw-7", "chat", "cw-12", "cw-41", "resolved", "delivery")
    assert row.created_at == 1795431600  # 2026-11-23T11:00:00Z
    # the agent's reply at 11:00:55 ("2026-11-23 11:00:55 UTC"), not the private note at 11:00:30
    assert row.answered_at == row.first_response_at == 1795431655
    assert row.resolved_at == 1795432800  # the "marked resolved" activity at 11:20
    assert events == {"cw-msg-900": "customer_message", "cw-msg-902": "note",
                      "cw-msg-901": "agent_message", "cw-msg-901-answered": "answered",
                      "cw-msg-903": "resolved",
                      # snapshots: conversation_created (last activity 11:00:10), resolved
                      "cw-7-update-1795431610000": "note", "cw-7-update-1795432800000": "note"}


def test_a_comment_that_arrives_before_its_ticket_still_counts(hooks: TestClient) -> None:
    # Zendesk does not promise delivery order: the comment's event waits for its ticket, and
    # the older snapshot (created, 09:00) does not replace the newer one (open, 09:12)
    version = hub_version(hooks)
    post_zendesk(hooks, "zendesk_101_comment.json")
    assert hub_version(hooks) > version  # the live wallboard is told
    assert post_zendesk(hooks, "zendesk_101_created.json")["inserted"] == {"event": 1}
    with engine_of(hooks).connect() as connection:
        i = tables.interactions.c
        first_response, status = connection.execute(
            select(i.first_response_at, i.status)).one()
    assert first_response == epoch("2026-11-23T09:12:00+00:00")
    assert status == "open"


def test_a_rating_keeps_the_time_it_was_first_delivered(hooks: TestClient) -> None:
    # A trigger body's satisfaction_rating is timed by the ticket's updated_at ("Good with
    # comment" as the placeholder prints it); the automation that closes the ticket four
    # days later sends the same rating again, and must not move the answer to that day.
    # (rated: the ticket, the rating, the snapshot note and the resolution at 10:00)
    assert post_zendesk(hooks, "zendesk_104_rated.json")["inserted"] == {
        "interaction": 1, "survey": 1, "event": 2}
    closed = post_zendesk(hooks, "zendesk_104_closed.json")
    assert (closed["inserted"], closed["updated"]) == ({"event": 1}, {"interaction": 1})
    with engine_of(hooks).connect() as connection:
        s = tables.surveys.c
        survey = connection.execute(select(s.id, s.kind, s.score, s.submitted_at, s.agent_id,
                                           s.interaction_id, s.comment)).one()
        i = tables.interactions.c
        status, resolved_at = connection.execute(select(i.status, i.resolved_at)).one()
    assert tuple(survey) == ("zd-sat-880", "csat", 5.0, epoch("2026-11-23T10:00:00+00:00"),
                             "zd-9001", "zd-104", "Quick, thanks")
    # the ticket follows its latest update (closed), but closing a solved ticket is not a
    # new resolution: resolved_at stays at the solve (not the close, four days on)
    assert (status, resolved_at) == ("closed", epoch("2026-11-23T10:00:00+00:00"))


def test_a_bad_record_is_quarantined_once_and_the_rest_imported(hooks: TestClient) -> None:
    result = post_zendesk(hooks, "zendesk_no_created_at.json")
    assert result["quarantined"] == 1
    assert result["rejected"] == [{"line": 1, "field": "ticket.created_at", "reason": "missing"}]
    assert result["inserted"] == {}  # no time to place a snapshot note at either
    post_zendesk(hooks, "zendesk_no_created_at.json")  # Zendesk retries
    with engine_of(hooks).connect() as connection:
        q = tables.quarantine.c
        quarantined = connection.execute(select(q.source, q.kind, q.record_id, q.field)).all()
    assert [tuple(row) for row in quarantined] == [
        ("webhook:zendesk", "interaction", "zd-103", "ticket.created_at")]


# -- idempotence and KPIs ---------------------------------------------------------------------


def test_the_same_delivery_twice_changes_nothing(delivered: TestClient) -> None:
    # every delivery again, in the same order and then (as late retries) in reverse
    before, version = snapshot(engine_of(delivered)), hub_version(delivered)
    for names, post in ((ZENDESK_SEQUENCE, post_zendesk), (CHATWOOT_SEQUENCE, post_chatwoot)):
        for name in (*names, *reversed(names)):
            result = post(delivered, name)
            assert (result["inserted"], result["updated"]) == ({}, {}), name
            assert result["status"] == "imported" and result["unchanged"], name
    assert snapshot(engine_of(delivered)) == before
    assert hub_version(delivered) == version  # nothing changed, nothing pushed


@pytest.mark.postgres
def test_the_same_on_postgresql(postgres_store: Engine) -> None:
    sequence = ZENDESK_SEQUENCE[:3]
    for client in _client(postgres_store):
        for name in sequence:
            post_zendesk(client, name)
        before = snapshot(postgres_store)
        for name in (*sequence, *reversed(sequence)):
            result = post_zendesk(client, name)
            assert (result["inserted"], result["updated"]) == ({}, {}), name
        assert snapshot(postgres_store) == before
    i = tables.interactions.c
    with postgres_store.connect() as connection:
        row = connection.execute(select(i.created_at, i.first_response_at, i.resolved_at,
                                        i.status)).one()
    # 09:00, 09:12, 10:00 on 2026-11-23 UTC
    assert tuple(row) == (1795424400.0, 1795425120.0, 1795428000.0, "solved")


def test_kpis_from_a_webhook_sequence(delivered: TestClient) -> None:
    engine = engine_of(delivered)
    create_user(engine, "manager", "correct horse battery", "manager")
    token = create_token(engine, "manager", "read")
    response = delivered.get("/api/v1/kpi", params={
        "from": "2026-11-23", "to": "2026-11-24", "by": "channel", "kpi": "frt,ttr,contacts"},
        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    kpis = {row["group"]["channel"]: row["kpis"] for row in response.json()["rows"]}
    # email (first response − created): ticket 101 09:00 → 09:12 = 720 s, ticket 102
    # 09:30 → 09:35 = 300 s; median of two = mean = (720 + 300) / 2 = 510 s.
    # chat (answered − created): 11:00:00 → 11:00:55 = 55 s.
    assert (kpis["email"]["frt"]["value"], kpis["email"]["frt"]["n"]) == (510, 2)
    assert (kpis["chat"]["frt"]["value"], kpis["chat"]["frt"]["n"]) == (55, 1)
    # ttr: ticket 101 09:00 → 10:00 = 3600 s, 102 09:30 → 09:50 = 1200 s: median of two =
    # (3600 + 1200) / 2 = 2400 s; chat 11:00 → 11:20 = 1200 s
    assert (kpis["email"]["ttr"]["value"], kpis["email"]["ttr"]["n"]) == (2400, 2)
    assert (kpis["chat"]["ttr"]["value"], kpis["chat"]["ttr"]["n"]) == (1200, 1)
    assert (kpis["email"]["contacts"]["value"], kpis["chat"]["contacts"]["value"]) == (2, 1)

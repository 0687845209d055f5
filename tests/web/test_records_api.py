"""POST /api/v1/records: JSON array or NDJSON, a result per record, idempotent, quarantined
rejects, bounded body size."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from servicepulse.store.tables import interactions, quarantine
from servicepulse.web.app import create_app
from tests.web.conftest import Tokens, fake_kpi

GOOD = {"type": "interaction", "id": "new-1", "channel": "chat",
        "created_at": "2026-11-07T10:00:00Z", "agent_id": "a1"}
BAD_CHANNEL = {"type": "interaction", "id": "new-2", "channel": "pigeon",
               "created_at": "2026-11-07T10:00:00Z"}


def test_json_array_gives_a_result_per_record(client: TestClient, tokens: Tokens,
                                              centre: tuple[Engine, Tokens]) -> None:
    body = [GOOD, BAD_CHANNEL, "not an object"]
    response = client.post("/api/v1/records", json=body, headers=tokens.header("manager"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["received"], result["accepted"], result["rejected"]) == (3, 1, 2)
    assert result["inserted"] == {"interaction": 1}
    by_index = {r["index"]: r for r in result["results"]}
    assert by_index[0] == {"index": 0, "status": "accepted", "field": None, "reason": None}
    assert by_index[1]["status"] == "rejected"
    assert by_index[1]["field"] == "channel"
    assert "pigeon" in by_index[1]["reason"]
    assert by_index[2]["status"] == "rejected"
    assert "expected a JSON object" in by_index[2]["reason"]
    engine = centre[0]
    with engine.connect() as connection:
        rows = connection.execute(select(quarantine.c.source, quarantine.c.line,
                                         quarantine.c.field).order_by(quarantine.c.line)).all()
    assert [tuple(row) for row in rows] == [("api", 1, "channel"), ("api", 2, None)]


def test_posting_twice_changes_nothing(client: TestClient, tokens: Tokens,
                                       centre: tuple[Engine, Tokens]) -> None:
    first = client.post("/api/v1/records", json=[GOOD], headers=tokens.header("manager_ingest"))
    again = client.post("/api/v1/records", json=[GOOD], headers=tokens.header("manager_ingest"))
    assert first.json()["inserted"] == {"interaction": 1}
    assert again.json()["inserted"] == {}
    assert again.json()["unchanged"] == {"interaction": 1}
    with centre[0].connect() as connection:
        # 10 fixture interactions + the new one, once
        assert connection.execute(select(func.count()).select_from(interactions)).scalar() == 11


def test_ndjson_body(client: TestClient, tokens: Tokens) -> None:
    body = b"\n".join([orjson.dumps(GOOD), b"", b"{not json", orjson.dumps(BAD_CHANNEL)])
    response = client.post("/api/v1/records", content=body,
                           headers={**tokens.header("manager"),
                                    "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200
    results = response.json()["results"]
    # the blank line is skipped: indexes count records
    assert [(r["index"], r["status"]) for r in results] == [
        (0, "accepted"), (1, "rejected"), (2, "rejected")]
    assert "not valid JSON" in results[1]["reason"]


def test_ndjson_line_with_an_undecodable_byte_is_rejected_alone(
        client: TestClient, tokens: Tokens) -> None:
    """Invalid UTF-8 was decoded with replacement characters and stored as if given."""
    latin1 = orjson.dumps({**GOOD, "id": "i-latin1", "subject": "Caf\u00e9"}).replace(
        "Caf\u00e9".encode(), b"Caf\xe9")
    body = b"\n".join([latin1, orjson.dumps(GOOD)])
    response = client.post("/api/v1/records", content=b"\xef\xbb\xbf" + body,
                           headers={**tokens.header("manager"),
                                    "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["index"], r["status"]) for r in results] == [(0, "rejected"), (1, "accepted")]
    column = latin1.index(b"\xe9") + 1
    assert results[0]["reason"] == (f"not valid UTF-8: byte 0xe9 at column {column}; "
                                    "send UTF-8 text")


def test_invalid_json_array_is_400(client: TestClient, tokens: Tokens) -> None:
    response = client.post("/api/v1/records", content=b"[{]",
                           headers={**tokens.header("manager"),
                                    "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_oversized_body_is_413(centre: tuple[Engine, Tokens]) -> None:
    engine, tokens = centre
    app = create_app(engine, kpi=fake_kpi, max_body_bytes=1000, prewarm=False)
    with TestClient(app) as small:
        body = orjson.dumps([GOOD] * 20)  # 20 x ~110 bytes > 1000
        response = small.post("/api/v1/records", content=body,
                              headers={**tokens.header("manager"),
                                       "Content-Type": "application/json"})
        assert response.status_code == 413
        assert "at most 1000 bytes" in response.json()["detail"]

        # without Content-Length (chunked upload), the limit holds while reading
        def chunks():  # type: ignore[no-untyped-def]
            for _ in range(20):
                yield orjson.dumps(GOOD)

        streamed = small.post("/api/v1/records", content=chunks(),
                              headers={**tokens.header("manager"),
                                       "Content-Type": "application/x-ndjson"})
        assert streamed.status_code == 413
        # the limit applies before authentication too: nothing big is read for free
        assert small.post("/api/v1/records", content=body).status_code == 413
        # a body under the limit goes through
        assert small.post("/api/v1/records", json=[GOOD],
                          headers=tokens.header("manager")).status_code == 200


def test_agents_may_not_post(client: TestClient, tokens: Tokens) -> None:
    assert client.post("/api/v1/records", json=[GOOD],
                       headers=tokens.header("agent")).status_code == 403


def test_the_answer_is_what_pydantic_writes_for_its_model(client: TestClient,
                                                          tokens: Tokens) -> None:
    from servicepulse.web.routes.api import RecordsResponse

    response = client.post("/api/v1/records", json=[GOOD, BAD_CHANNEL, 7],
                           headers=tokens.header("manager"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = RecordsResponse.model_validate_json(response.content)
    assert response.content == document.model_dump_json().encode()
    assert response.json()["results"][2] == {
        "index": 2, "status": "rejected", "field": None,
        "reason": "expected a JSON object, got int"}

"""Cached views are rendered once per output, user and URL; the KPI API keeps its JSON text."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.web.app import create_app
from servicepulse.web.services import PageCache, Services
from tests.web.conftest import Tokens, fake_kpi


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def test_a_page_is_rendered_once_per_view_output(client: TestClient, tokens: Tokens) -> None:
    pages = _services(client).pages
    first = client.get("/", headers=tokens.header("admin"))
    again = client.get("/", headers=tokens.header("admin"))
    assert first.status_code == again.status_code == 200
    assert again.headers["content-type"] == "text/html; charset=utf-8"
    assert again.text == first.text
    assert len(pages._pages) == 1
    _services(client).hub.changed()  # new data: the view is computed again ...
    recomputed = client.get("/", headers=tokens.header("admin")).text
    # the same figures; its "as of" is the new computation's (a second later, or the same)
    assert _without_as_of(recomputed) == _without_as_of(first.text)
    assert _as_of(recomputed) >= _as_of(first.text)
    assert len(pages._pages) == 2  # ... and its page rendered again


AS_OF = re.compile(r'<time datetime="([^"]+)">[^<]*</time>')


def _as_of(page: str) -> str:
    found = AS_OF.findall(page)
    assert len(found) == 1, found
    return str(found[0])


def _without_as_of(page: str) -> str:
    return AS_OF.sub("", page)


def test_each_user_gets_their_own_page(client: TestClient, tokens: Tokens) -> None:
    admin = client.get("/", headers=tokens.header("admin"))
    manager = client.get("/", headers=tokens.header("manager"))
    assert "admin · admin" in admin.text and "manager · manager" in manager.text
    assert "manager · manager" not in admin.text
    assert len(_services(client).pages._pages) == 2


def test_another_url_is_another_page(client: TestClient, tokens: Tokens) -> None:
    client.get("/", headers=tokens.header("admin"))
    client.get("/?from=2026-11-02&to=2026-11-09", headers=tokens.header("admin"))
    assert len(_services(client).pages._pages) == 2


def test_page_cache_answers_only_for_the_same_output_object() -> None:
    pages = PageCache(max_entries=2)
    output: dict[str, list[str]] = {"tiles": []}
    pages.put("a", output, b"<p>a</p>")
    assert pages.get("a", output) == b"<p>a</p>"
    assert pages.get("a", {"tiles": []}) is None  # equal, but another computation
    pages.put("b", output, b"b")
    pages.put("c", output, b"c")
    assert pages.get("a", output) is None  # the oldest went beyond the bound
    assert (pages.get("b", output), pages.get("c", output)) == (b"b", b"c")


def test_kpi_api_answers_the_json_text_of_the_document(client: TestClient,
                                                        tokens: Tokens) -> None:
    response = client.get("/api/v1/kpi?by=agent&kpi=csat&from=2026-11-02&to=2026-11-09",
                          headers=tokens.header("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == orjson.dumps(response.json())
    assert response.json()["rows"][0]["kpis"]["csat"]["value"] == 1.0


def test_kpi_api_writes_a_value_that_is_not_a_number_as_null(
        centre: tuple[Engine, Tokens]) -> None:
    def not_a_number(engine: Engine, query: KpiQuery) -> KpiResult:
        result = fake_kpi(engine, query)
        result.rows[0].figures["csat"].value = float("nan")
        return result

    app = create_app(centre[0], kpi=not_a_number, serve_stale=False, prewarm=False)
    with TestClient(app) as client:
        response = client.get("/api/v1/kpi?kpi=csat", headers=centre[1].header("admin"))
    assert response.status_code == 200
    assert response.json()["rows"][0]["kpis"]["csat"]["value"] is None

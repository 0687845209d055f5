"""Every route of the app with hostile values in every parameter it declares: never a 5xx,
and 422 (naming the parameter) for a control character.

The routes and their parameters come from the app itself (`app.routes`, each route's
dependencies flattened), so a new route or parameter is fuzzed without editing this file.
Values: control characters (NUL, SOH, ESC, DEL), 10,000 characters, odd Unicode (right-to-left
override, byte order mark, a non-character, an emoji, Greek), invalid UTF-8 percent escapes
with a lone `%`, and path traversal (encoded and plain). Each (route, parameter, value) is
sent once, by the roles in turn (admin, manager, lead, reviewer, agent, no credentials), so
every role meets every parameter (six values each, six roles) while the test stays at about
1,500 requests (each parameter gets every value but one control character, the four taking
turns; a parameter the route does not declare gets all four); form and JSON bodies are
checked too. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from servicepulse.web.app import create_app
from tests.web.conftest import Tokens, fake_kpi, load_centre
from tests.web.module_stores import BACKENDS, module_store

# (label, how it goes in the URL: already percent-encoded)
CONTROL_VALUES = [("NUL", quote("a\x00b")), ("SOH", quote("\x01")),
                  ("ESC", quote("\x1b[31mred")), ("DEL", quote("x\x7f"))]
OTHER_VALUES = [
    ("long", "x" * 10_000),
    ("odd-unicode", quote("\u202eevil\ufeff\uffff🙂Ωμέγα")),  # RTL override, BOM, non-char
    ("invalid-utf8", "%ED%A0%80%FF%"),  # a lone surrogate encoded, a stray byte, a lone %
    ("traversal", "..%2F..%2F..%2F..%2Fetc%2Fpasswd"),
    ("traversal-dots", "../../../../etc/passwd"),
]
ROLES = ["admin", "manager", "lead", "reviewer", "agent", None]
# A path parameter's valid value (one the centre holds), used while another parameter is fuzzed.
VALID_PATH = {"agent_id": "a1", "team_id": "team-a", "customer_id": "c1", "interaction_id": "i01"}
# Server-sent events never end: only the control characters (answered before the route) are
# sent to it.
STREAMING = {"/api/v1/live"}


@dataclass
class Route:
    method: str
    path: str
    query: list[str] = field(default_factory=list)
    path_params: list[str] = field(default_factory=list)
    form: list[str] = field(default_factory=list)
    json_fields: dict[str, Any] = field(default_factory=dict)  # field -> a valid value


def _walk(dependant: Dependant, route: Route) -> None:
    route.query += [p.alias for p in dependant.query_params if p.alias not in route.query]
    route.path_params += [p.alias for p in dependant.path_params
                          if p.alias not in route.path_params]
    for body in dependant.body_params:
        annotation = body.field_info.annotation
        if type(body.field_info).__name__ == "Form":
            route.form.append(body.alias)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            route.json_fields = {name: _valid(name) for name in annotation.model_fields}
    for sub in dependant.dependencies:
        _walk(sub, route)


def _valid(name: str) -> Any:
    return {"username": "fuzzed", "password": "long enough pass", "role": "manager",
            "team_ids": [], "agent_id": None}.get(name, "x")


def routes_of(app: Any) -> list[Route]:
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.route, APIRoute):
            continue  # the static mount: fuzzed by its own test below
        for method in sorted(context.methods or ()):
            if method == "HEAD":
                continue
            route = Route(method, context.path or "")
            _walk(context.route.dependant, route)
            found.append(route)
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, Tokens]]:
    """The web tests' small centre and its app, once per backend for the module."""
    with module_store(request.param, tmp_path_factory) as engine:
        tokens = load_centre(engine)
        app = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, tokens


def _headers(tokens: Tokens, role: str | None) -> dict[str, str]:
    return tokens.header(role) if role else {}


def _url(route: Route, name: str | None = None, value: str = "", where: str = "query") -> str:
    path = route.path
    for param in route.path_params:
        given = value if where == "path" and param == name else quote(VALID_PATH[param])
        path = path.replace("{" + param + "}", given)
    if where == "query" and name is not None:
        return f"{path}?{quote(name)}={value}"
    return path


def _check(response: Any, expect_422: bool, what: tuple[Any, ...]) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:300])
    assert "root:" not in response.text, what  # no file outside the app was served
    if expect_422:
        assert response.status_code == 422, (what, response.status_code, response.text[:300])
        detail = response.json()["detail"][0]
        assert "control character" in detail["problem"], (what, detail)


def test_every_route_declares_what_is_fuzzed(fuzzed: tuple[TestClient, Tokens]) -> None:
    routes = {(r.method, r.path): r for r in routes_of(fuzzed[0].app)}
    # a sample of what the enumeration must find, so it cannot silently find nothing
    assert "q" in routes[("GET", "/api/v1/customers")].query
    assert routes[("GET", "/api/v1/customers/{customer_id}")].path_params == ["customer_id"]
    assert set(routes[("POST", "/admin/users")].form) >= {"username", "password"}
    assert "username" in routes[("POST", "/api/v1/users")].json_fields
    assert {"agent", "team", "from"} <= set(routes[("GET", "/api/v1/kpi")].query)
    assert len(routes) >= 50


def send_all(client: TestClient, requests: list[tuple[str, str, dict[str, str]]]
             ) -> list[httpx.Response]:
    """The requests one after the other on the app's own event loop (the TestClient's, the
    lifespan running): a third of a TestClient request's cost each, which keeps thousands of
    them to seconds."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return [await http.request(method, url, headers=headers)
                    for method, url, headers in requests]

    assert client.portal is not None
    return client.portal.call(run)


def test_hostile_query_and_path_values_never_give_5xx(
        fuzzed: tuple[TestClient, Tokens]) -> None:
    client, tokens = fuzzed
    roles = itertools.cycle(ROLES)
    controls = itertools.cycle(CONTROL_VALUES)
    requests: list[tuple[str, str, dict[str, str]]] = []
    expected: list[tuple[Any, ...]] = []  # (route, where, name, label, role, 422 expected)
    for route in routes_of(client.app):
        slots = [("query", name) for name in route.query]
        slots += [("path", name) for name in route.path_params]
        for where, name in slots:
            # each parameter: one control character (they take turns) and every other value
            values = [next(controls)] + ([] if route.path in STREAMING else OTHER_VALUES)
            for label, value in values:
                role = next(roles)
                requests.append((route.method, _url(route, name, value, where),
                                 _headers(tokens, role)))
                expected.append((route.path, where, name, label, role,
                                 (label, value) in CONTROL_VALUES))
        # a parameter the route does not declare is checked all the same
        for label, value in CONTROL_VALUES:
            role = next(roles)
            requests.append((route.method, _url(route, "undeclared", value),
                             _headers(tokens, role)))
            expected.append((route.path, "query", "undeclared", label, role, True))
    for response, (path, where, name, label, role, control) in zip(
            send_all(client, requests), expected, strict=True):
        _check(response, control, (path, where, name, label, role))
        if control:
            assert response.json()["detail"][0]["where"] == f"{where}.{name}", (path, name)
    assert len(requests) > 1200


def test_hostile_form_and_json_bodies_never_give_5xx(
        fuzzed: tuple[TestClient, Tokens]) -> None:
    client, tokens = fuzzed
    raw = {"NUL": "a\x00b", "SOH": "\x01", "ESC": "\x1b[31m", "DEL": "x\x7f"}
    others = {"long": "x" * 10_000, "unicode": "\u202eevil\ufeff🙂", "traversal": "../../x"}
    checked = 0
    for route in routes_of(client.app):
        for name in route.form:
            for label, value in {**raw, **others}.items():
                form = {field_name: "fuzzed-value" for field_name in route.form}
                form[name] = value
                response = client.request(route.method, route.path, data=form,
                                          headers=tokens.header("admin"))
                _check(response, label in raw, (route.path, name, label))
                if label in raw:
                    assert response.json()["detail"][0]["where"] == f"body.{name}"
                checked += 1
        for name in route.json_fields:
            for label, value in {**raw, **others}.items():
                body = {**route.json_fields, name: value}
                response = client.request(route.method, route.path, json=body,
                                          headers=tokens.header("admin"))
                _check(response, label in raw, (route.path, name, label))
                if label in raw:
                    assert response.json()["detail"][0]["where"] == f"body.{name}"
                checked += 1
    # a lone surrogate in JSON is not valid Unicode: 422 as well
    response = client.post("/api/v1/users", content=b'{"username": "x\\ud800"}',
                           headers={**tokens.header("admin"),
                                    "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["where"] == "body"
    assert checked >= 3 * 7


def test_text_fields_may_hold_tabs_and_line_breaks(fuzzed: tuple[TestClient, Tokens]) -> None:
    client, tokens = fuzzed
    response = client.post("/api/v1/users", headers=tokens.header("admin"),
                           json={"username": "tab\tname", "password": "line\nbreak pass",
                                 "role": "manager"})
    assert response.status_code == 201, response.text
    # ...but a query parameter may not
    response = client.get("/api/v1/customers?q=a%09b", headers=tokens.header("admin"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["where"] == "query.q"


def test_the_records_body_is_left_to_the_record_models(
        fuzzed: tuple[TestClient, Tokens]) -> None:
    client, tokens = fuzzed
    response = client.post("/api/v1/records", headers=tokens.header("manager"),
                           json=[{"type": "customer", "id": "c-ok", "name": "Ok"}])
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_static_files_with_hostile_paths(fuzzed: tuple[TestClient, Tokens]) -> None:
    client, _tokens = fuzzed
    for label, value in CONTROL_VALUES + OTHER_VALUES:
        response = client.get(f"/static/{value}")
        _check(response, (label, value) in CONTROL_VALUES, ("static", label))
        if (label, value) not in CONTROL_VALUES:
            assert response.status_code in (404, 405, 414), (label, response.status_code)
    assert client.get("/static/app.css").status_code == 200

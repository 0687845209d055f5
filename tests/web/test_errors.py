"""The domain errors (`servicepulse.errors`) answer their HTTP status with their message, in
JSON for the API and on the error page for a browser; a bug (a KeyError, an IndexError, any
other exception) answers a 500 that names the reference it was logged under, never the
traceback or the exception's text."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.errors import Conflict, InvalidRequest, NotFound, ServicePulseError, Unavailable
from servicepulse.web.app import create_app
from tests.web.conftest import Tokens, fake_kpi

REFERENCE = re.compile(r"logged under reference ([0-9a-f]{8}):")


def _app(engine: Engine) -> FastAPI:
    app = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)

    def raising(error: Exception) -> Callable[[], Awaitable[None]]:
        async def route() -> None:
            raise error
        return route

    errors: dict[str, Exception] = {
        "invalid": InvalidRequest("from=2026-13-01 is not a date: use YYYY-MM-DD"),
        "missing": NotFound("no widget 'w9'"),
        "conflict": Conflict("the review r1 is already submitted"),
        "unavailable": Unavailable("the mail server does not answer: try again later"),
        "base": ServicePulseError("raised as the base class"),
        "keyerror": KeyError("csat"),
        "indexerror": IndexError("list index out of range"),
        "plain-lookup": LookupError("no thing 't1'"),
        "plain-value": ValueError("a value the user can fix"),
    }
    for name, error in errors.items():
        app.add_api_route(f"/api/v1/raise/{name}", raising(error))
        app.add_api_route(f"/raise/{name}", raising(error))
    return app


@pytest.mark.parametrize(("name", "status", "detail"), [
    ("invalid", 422, "from=2026-13-01 is not a date: use YYYY-MM-DD"),
    ("missing", 404, "no widget 'w9'"),
    ("conflict", 409, "the review r1 is already submitted"),
    ("unavailable", 503, "the mail server does not answer: try again later"),
])
def test_each_domain_error_answers_its_status_and_message(
        centre: tuple[Engine, Tokens], name: str, status: int, detail: str) -> None:
    engine, _tokens = centre
    with TestClient(_app(engine), raise_server_exceptions=False) as client:
        response = client.get(f"/api/v1/raise/{name}")
        page = client.get(f"/raise/{name}", headers={"accept": "text/html"})
    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert (response.headers.get("retry-after") == "30") is (status == 503)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert detail.replace("'", "&#39;") in page.text


# a plain ValueError or LookupError is no user error either: the code meant for the user
# raises InvalidRequest and NotFound, so these answer 500, not 422 and 404
@pytest.mark.parametrize("name", ["keyerror", "indexerror", "base", "plain-lookup",
                                  "plain-value"])
def test_a_bug_is_a_500_with_the_reference_it_was_logged_under(
        centre: tuple[Engine, Tokens], caplog: pytest.LogCaptureFixture, name: str) -> None:
    engine, _tokens = centre
    with caplog.at_level(logging.ERROR, logger="servicepulse.web.app"), \
            TestClient(_app(engine), raise_server_exceptions=False) as client:
        response = client.get(f"/api/v1/raise/{name}")
        page = client.get(f"/raise/{name}", headers={"accept": "text/html"})
    assert response.status_code == 500
    body = response.json()
    found = REFERENCE.search(body["detail"])
    assert found is not None and body["reference"] == found.group(1)
    assert response.headers["x-error-reference"] == body["reference"]
    for text in (response.text, page.text):
        assert "csat" not in text and "Traceback" not in text and "index out" not in text
        assert "raised as the base class" not in text
        assert "no thing" not in text and "the user can fix" not in text
    assert page.status_code == 500 and "logged under reference" in page.text
    # both answers were logged, with the traceback, under the references they name
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 2
    assert body["reference"] in logged[0].getMessage()
    assert page.headers["x-error-reference"] in logged[1].getMessage()
    assert page.headers["x-error-reference"] in page.text


def test_a_real_route_answers_not_found_and_invalid(client: TestClient, tokens: Tokens) -> None:
    missing = client.get("/api/v1/teams/no-such-team", headers=tokens.header("manager"))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no team 'no-such-team'"}
    backwards = client.get("/api/v1/overview?from=2026-11-09&to=2026-11-02",
                           headers=tokens.header("manager"))
    assert backwards.status_code == 422
    assert backwards.json() == {
        "detail": "'to' (2026-11-02) must be after 'from' (2026-11-09); 'to' is exclusive"}


def test_the_kpi_query_models_refusal_is_a_422_with_its_message(
        engine_client: TestClient, tokens: Tokens) -> None:
    """The engine's query model refuses in pydantic validators (a ValueError inside them);
    the web turns that refusal into an InvalidRequest naming the problem, not a 500."""
    manager = tokens.header("manager")
    unknown = engine_client.get("/api/v1/kpi", params={"kpi": "nonsense"}, headers=manager)
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("kpis: unknown KPI nonsense: known are ")
    page = engine_client.get("/api/v1/kpi", params={"kpi": "nonsense"},
                             headers={**manager, "accept": "text/html"})
    assert page.status_code == 422 and "unknown KPI nonsense" in page.text

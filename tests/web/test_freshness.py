"""The freshness contract: every view says as of when its numbers are.

A page that shows figures ends with "Figures as of HH:MM:SS (zone)" in the organisation's time
zone, the moment its figures were computed: a page served from the result cache keeps the time
of the computation that made them, not the time of the request. The JSON API says the same as
`as_of`. The cache's clock is set here, so each expected time is exact. The live wallboard
(Chromium) updates its line with each new state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from servicepulse.web import cache as cache_module
from servicepulse.web.app import create_app
from servicepulse.web.cache import ResultCache, as_of_time, figures_as_of, with_as_of
from servicepulse.web.services import Services
from tests.web.browser import login, shot
from tests.web.conftest import LiveServer, Tokens, fake_kpi, serve_in_thread

ZONE = "Europe/Berlin"  # not UTC, so that the page's zone is the organisation's
FIRST = datetime(2026, 12, 7, 8, 15, 30, tzinfo=UTC).timestamp()  # 09:15:30 in Berlin
LATER = datetime(2026, 12, 7, 8, 20, 0, tzinfo=UTC).timestamp()  # 09:20:00 in Berlin


class Clock:
    """The result cache's clock: wall time as set, monotonic time real (entries' expiry)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


def line(clock: str, iso: str) -> str:
    return (f'<p class="as-of" data-timezone="{ZONE}">Figures as of '
            f'<time datetime="{iso}">{clock}</time> ({ZONE})</p>')


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(FIRST)
    monkeypatch.setattr(cache_module, "time", fixed)
    return fixed


@pytest.fixture
def berlin(centre: tuple[Engine, Tokens], monkeypatch: pytest.MonkeyPatch,
           clock: Clock) -> Iterator[TestClient]:
    monkeypatch.setenv("SERVICEPULSE_TIMEZONE", ZONE)
    app = create_app(centre[0], kpi=fake_kpi, serve_stale=False, prewarm=False)
    with TestClient(app) as test_client:
        yield test_client


def _services(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def test_the_overview_says_as_of_its_computation_in_the_organisations_zone(
        berlin: TestClient, tokens: Tokens) -> None:
    assert _services(berlin).kpi_settings.timezone == ZONE
    page = berlin.get("/", headers=tokens.header("admin"))
    assert page.status_code == 200
    assert page.text.count('class="as-of"') == 1
    assert line("09:15:30", "2026-12-07T09:15:30+01:00") in page.text


def test_a_cached_page_shows_the_first_computations_time(berlin: TestClient, tokens: Tokens,
                                                         clock: Clock) -> None:
    admin = tokens.header("admin")
    berlin.get("/", headers=admin)
    clock.now = LATER  # a minute later, nothing changed: served from the cache
    again = berlin.get("/", headers=admin)
    assert line("09:15:30", "2026-12-07T09:15:30+01:00") in again.text
    # the JSON view shares the cached computation, and says the same
    api = berlin.get("/api/v1/overview", headers=admin).json()
    assert api["as_of"] == "2026-12-07T09:15:30+01:00"
    # another user's page is rendered anew from the same computation: the same time
    manager = berlin.get("/", headers=tokens.header("manager"))
    assert line("09:15:30", "2026-12-07T09:15:30+01:00") in manager.text
    _services(berlin).hub.changed()  # new data: computed again, now
    fresh = berlin.get("/", headers=admin)
    assert line("09:20:00", "2026-12-07T09:20:00+01:00") in fresh.text
    assert berlin.get("/api/v1/overview", headers=admin).json()["as_of"] \
        == "2026-12-07T09:20:00+01:00"


def test_every_dashboard_view_of_the_api_says_as_of(berlin: TestClient, tokens: Tokens) -> None:
    admin = tokens.header("admin")
    for path in ("/api/v1/overview", "/api/v1/channels", "/api/v1/trends?kpi=csat",
                 "/api/v1/agents/a1", "/api/v1/teams/team-a", "/api/v1/insights/sentiment",
                 "/api/v1/insights/anomalies"):
        response = berlin.get(path, headers=admin)
        assert response.status_code == 200, path
        assert response.json()["as_of"] == "2026-12-07T09:15:30+01:00", path


def test_kpi_api_adds_as_of_and_keeps_the_rest(berlin: TestClient, tokens: Tokens,
                                               clock: Clock) -> None:
    url = "/api/v1/kpi?by=agent&kpi=csat&from=2026-11-02&to=2026-11-09"
    response = berlin.get(url, headers=tokens.header("admin"))
    assert response.status_code == 200
    document = response.json()
    assert response.content == orjson.dumps(document)  # still compact JSON text
    assert document["as_of"] == "2026-12-07T09:15:30+01:00"
    # the engine's header (the stand-in's result is typed, so it has the time zone too)
    assert list(document) == ["from", "to", "by", "period", "filters", "timezone", "rows",
                              "as_of"]
    assert document["rows"][0]["kpis"]["csat"]["value"] == 1.0
    clock.now = LATER
    cached = berlin.get(url, headers=tokens.header("admin")).json()
    assert cached["as_of"] == "2026-12-07T09:15:30+01:00"
    csv = berlin.get(url + "&format=csv", headers=tokens.header("admin"))
    assert csv.status_code == 200 and "as_of" not in csv.text


def test_the_wallboard_says_as_of_its_state(berlin: TestClient, tokens: Tokens) -> None:
    page = berlin.get("/wallboard", headers=tokens.header("admin"))
    assert page.status_code == 200
    state = _services(berlin).hub.state
    assert state is not None
    as_of = datetime.fromisoformat(state["as_of"])
    assert as_of.utcoffset() == ZoneInfo(ZONE).utcoffset(as_of.replace(tzinfo=None))
    # the hub's clock is real: the state is of this test's last seconds
    assert abs(as_of.timestamp() - time.time()) < 30
    assert line(as_of.strftime("%H:%M:%S"), state["as_of"]) in page.text
    api = berlin.get("/api/v1/wallboard", headers=tokens.header("admin")).json()
    assert datetime.fromisoformat(api["as_of"]) >= as_of


def test_pages_without_figures_say_nothing_of_them(berlin: TestClient, tokens: Tokens) -> None:
    admin = tokens.header("admin")
    assert 'class="as-of"' not in berlin.get("/login").text
    assert 'class="as-of"' not in berlin.get("/admin/users", headers=admin).text
    missing = berlin.get("/teams/no-such-team", headers=admin)
    assert missing.status_code == 404 and 'class="as-of"' not in missing.text


def test_a_stale_value_served_keeps_its_computations_time(clock: Clock) -> None:
    """Stale-while-revalidate: the old figures answer at once, and say when they are of."""
    async def scenario() -> tuple[float | None, Any, float | None, Any]:
        cache = ResultCache(serve_stale=True, timezone=ZONE)

        async def request(version: int, compute: Any) -> tuple[float | None, Any]:
            # each request is a task of its own, with its own copy of the context
            value = await cache.get("k", version, compute)
            return figures_as_of(), value

        _, first = await asyncio.create_task(request(1, lambda: "first"))
        clock.now = LATER
        as_of, stale = await asyncio.create_task(request(2, lambda: "second"))
        for task in list(cache._background):
            await task
        newer, fresh = await asyncio.create_task(request(2, lambda: "second"))
        return as_of, (first, stale), newer, fresh

    as_of, values, newer, fresh = asyncio.run(scenario())
    assert values == ("first", "first") and as_of == FIRST
    assert (newer, fresh) == (LATER, "second")


def test_with_as_of_adds_the_field_to_any_object(clock: Clock) -> None:
    async def scenario() -> tuple[bytes, bytes]:
        cache = ResultCache(timezone=ZONE)
        await cache.get("k", 1, lambda: 1)
        return with_as_of(b"{}", ZONE), with_as_of(b'{"a": 1}\n', ZONE)

    empty, one = asyncio.run(scenario())
    assert orjson.loads(empty) == {"as_of": "2026-12-07T09:15:30+01:00"}
    assert orjson.loads(one) == {"a": 1, "as_of": "2026-12-07T09:15:30+01:00"}
    with pytest.raises(ValueError, match="JSON object"):
        with_as_of(b"[1]", ZONE)


def test_pages_computed_for_each_request_say_now(berlin: TestClient, tokens: Tokens) -> None:
    """QA's reviews and calibration are computed for each request, not cached: as of now."""
    for path in ("/qa/reviews", "/qa/calibration"):
        before = int(time.time())
        page = berlin.get(path, headers=tokens.header("admin"))
        after = int(time.time())
        assert page.status_code == 200, path
        shown = {line(as_of_time(at, ZONE).strftime("%H:%M:%S"), as_of_time(at, ZONE).isoformat())
                 for at in range(before, after + 1)}
        assert any(expected in page.text for expected in shown), path


@pytest.fixture
def berlin_server(centre: tuple[Engine, Tokens],
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """The app with the real KPI engine behind a real server, the organisation in Berlin."""
    monkeypatch.setenv("SERVICEPULSE_TIMEZONE", ZONE)
    app = create_app(centre[0], serve_stale=False, prewarm=False)
    with serve_in_thread(app) as url:
        yield LiveServer(url, centre[0], centre[1])


def test_the_live_wallboard_updates_its_as_of_with_its_data(page: Page,
                                                           berlin_server: LiveServer) -> None:
    login(page, berlin_server, "manager")
    page.goto(f"{berlin_server.url}/wallboard")
    expect(page.locator("#wb-status")).to_have_text("live")
    shown = page.locator(".as-of time")
    first = datetime.fromisoformat(str(shown.get_attribute("datetime")))
    time.sleep(1.1)  # the line shows seconds: the next state's time is another one
    response = httpx.post(
        f"{berlin_server.url}/api/v1/records",
        headers={"Authorization": f"Bearer {berlin_server.tokens.manager_ingest}"},
        json=[{"type": "interaction", "id": "fresh-1", "channel": "chat",
               "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}], timeout=30)
    assert response.json()["accepted"] == 1
    expect(shown).not_to_have_attribute("datetime", first.isoformat(), timeout=10_000)
    newer = datetime.fromisoformat(str(shown.get_attribute("datetime")))
    assert newer > first and newer.utcoffset() == first.utcoffset()
    # the browser writes the clock in the organisation's zone, as the server sent it
    expect(shown).to_have_text(newer.strftime("%H:%M:%S"))
    shot(page, "wallboard-as-of")


def test_the_scorecard_api_and_page_say_as_of_their_computation(
        berlin: TestClient, tokens: Tokens, clock: Clock) -> None:
    admin = tokens.header("admin")
    url = "/api/v1/scorecards/team/team-a?from=2026-11-02&to=2026-11-09"
    first = berlin.get(url, headers=admin)
    assert first.status_code == 200, first.text
    document = first.json()
    assert document["as_of"] == "2026-12-07T09:15:30+01:00"
    assert list(document)[-1] == "as_of" and document["team"]["team"] == "team-a"
    clock.now = LATER  # the page shares the API's computation
    page = berlin.get("/scorecards/team/team-a?from=2026-11-02&to=2026-11-09", headers=admin)
    assert page.status_code == 200
    assert line("09:15:30", "2026-12-07T09:15:30+01:00") in page.text


@pytest.mark.parametrize("command", [
    ["kpi", "--from", "2026-11-02", "--to", "2026-11-09"],
    ["scorecard", "--team", "team-a", "--from", "2026-11-02", "--to", "2026-11-09"],
    ["leaderboard", "--from", "2026-11-02", "--to", "2026-11-09"],
    ["health"],
])
def test_a_command_s_table_ends_as_of_and_its_json_stays_the_document(
        centre: tuple[Engine, Tokens], monkeypatch: pytest.MonkeyPatch,
        command: list[str]) -> None:
    from typer.testing import CliRunner

    from servicepulse.cli.main import app

    monkeypatch.setenv("SERVICEPULSE_TIMEZONE", ZONE)
    store = ["--db", centre[0].url.render_as_string(hide_password=False)]
    runner = CliRunner(env={"COLUMNS": "200"})
    before = int(time.time())
    table = runner.invoke(app, [*store, *command])
    after = int(time.time())
    assert table.exit_code == 0, table.output
    expected = {f"as of {as_of_time(at, ZONE):%Y-%m-%d %H:%M:%S} ({ZONE})"
                for at in range(before, after + 1)}
    assert table.stdout.splitlines()[-1] in expected
    document = runner.invoke(app, [*store, *command, "--format", "json"])
    assert document.exit_code == 0, document.output
    assert "as of" not in document.stdout
    assert isinstance(orjson.loads(document.stdout), dict)  # the whole output is the document

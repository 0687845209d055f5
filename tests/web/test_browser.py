"""The dashboard in a real browser (Debian's Chromium driven by Playwright): log in, the
overview tiles show the API's numbers, a drill-down lists the right interactions, the
wallboard changes after a record is posted through the API, an agent gets 403 on another
agent's page. Screenshots of each page go to $SERVICEPULSE_SCREENSHOTS when set."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import login, shot
from tests.web.conftest import WEEK, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _login(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/login")
    shot(page, "login")
    login(page, server, username)


def test_overview_and_drill_down(page: Page, live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.tokens.manager}"}
    api = httpx.get(f"{live_server.url}/api/v1/kpi",
                    params={**WEEK, "kpi": "contacts,csat,abandon_rate"}, headers=headers,
                    timeout=60).json()["rows"][0]["kpis"]
    _login(page, live_server, "manager")
    page.goto(f"{live_server.url}/?from={WEEK['from']}&to={WEEK['to']}")
    contacts = page.locator('.tile[data-kpi="contacts"] .value')
    csat = page.locator('.tile[data-kpi="csat"] .value')
    abandon = page.locator('.tile[data-kpi="abandon_rate"] .value')
    expect(contacts).to_have_text(f"{api['contacts']['value']:,.0f}")  # 10
    expect(csat).to_have_text(f"{api['csat']['value']:.1f}%")  # 60.0%
    expect(abandon).to_have_text(f"{api['abandon_rate']['value']:.1f}%")  # 20.0%
    expect(page.locator('.tile[data-kpi="csat"]')).to_have_class(re.compile("missed"))
    shot(page, "overview")
    # drill down from the CSAT number: the five answered interactions
    csat.locator("a").click()
    page.wait_for_url(re.compile(r"/interactions\?.*kpi=csat"))
    ids = page.locator("#interactions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")
    assert sorted(ids) == ["i01", "i02", "i05", "i06", "i08"]
    expect(page.locator("#total")).to_have_text("5")
    shot(page, "drilldown")
    for path, name in (("/teams/team-a", "team"), ("/agents/a1", "agent"),
                       ("/channels", "channels"), ("/customers/c1", "customer"),
                       ("/trends?kpi=csat&period=day&by=channel&from=2026-11-02&to=2026-11-09",
                        "trends")):
        page.goto(f"{live_server.url}{path}" + ("" if "?" in path else
                                                f"?from={WEEK['from']}&to={WEEK['to']}"))
        expect(page.locator("h1")).to_be_visible()
        if name == "trends":
            expect(page.locator("#trend-chart canvas")).to_have_count(1)  # drawn by uPlot
        shot(page, name)


def _post_contact(server: LiveServer, contact_id: str, channel: str, created: datetime) -> None:
    """A waiting contact through the records API (which signals the live hub)."""
    response = httpx.post(
        f"{server.url}/api/v1/records",
        headers={"Authorization": f"Bearer {server.tokens.manager_ingest}"},
        json=[{"type": "interaction", "id": contact_id, "channel": channel,
               "created_at": created.isoformat().replace("+00:00", "Z")}], timeout=30)
    assert response.json()["accepted"] == 1


def test_wallboard_changes_after_a_posted_record(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server, "manager")
    page.goto(f"{live_server.url}/wallboard")
    expect(page.locator("#wb-status")).to_have_text("live")
    contacts = page.locator("#wb-contacts")
    before = int(contacts.inner_text())
    _post_contact(live_server, "browser-1", "chat", datetime.now(UTC))
    expect(contacts).to_have_text(str(before + 1), timeout=2000)
    expect(page.locator("#wb-queues tbody")).to_contain_text("chat")
    # a backlog's oldest wait reads in days: 3 d 12 h (and the seconds of the test) is 3.5 d
    _post_contact(live_server, "browser-2", "web", datetime.now(UTC) - timedelta(days=3, hours=12))
    expect(page.locator("#wb-queues tbody tr", has_text="web")).to_contain_text(
        "3.5 d", timeout=2000)
    shot(page, "wallboard")


def test_agent_gets_403_on_another_agents_page(page: Page, live_server: LiveServer) -> None:
    _login(page, live_server, "ann")
    own = page.goto(f"{live_server.url}/agents/a1")
    assert own is not None and own.status == 200
    expect(page.locator("h1")).to_contain_text("Ann Archer")
    shot(page, "scorecard")
    other = page.goto(f"{live_server.url}/agents/a2")
    assert other is not None and other.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")

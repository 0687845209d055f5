"""The pages in Chromium: the interactions filters work from the form and the state links, no
page scrolls sideways on a phone (a 390-px viewport: a wide table scrolls inside its own box),
the favicon is served (no 404 on any page), and the Users form starts on the least privileged
role. On the small web centre (tests/fixtures/web/centre.jsonl)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, Response, ViewportSize, expect

from tests.web.browser import login, shot
from tests.web.conftest import WEEK, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE: ViewportSize = {"width": 390, "height": 844}
# Every page of the navigation and each kind of detail page, as an admin sees them.
PAGES = ["/", "/wallboard", "/teams", "/teams/team-a", "/agents", "/agents/a1", "/channels",
         "/trends", "/interactions", "/interactions?kpi=frt", "/customers", "/customers/c1",
         "/quarantine", "/admin/users", "/insights/sentiment", "/insights/drivers",
         "/insights/anomalies", "/leaderboard", "/alerts", "/customer-health", "/staffing",
         "/scorecards/agent/a1", "/scorecards/team/team-a"]


def _listed(opened: Page) -> list[str]:
    return opened.locator("#interactions tbody tr[data-id]").evaluate_all(
        "rows => rows.map(row => row.dataset.id)")


def test_the_interactions_filters_work_in_the_page(page: Page,
                                                   live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/interactions")
    expect(page.locator("#summary")).to_contain_text("10 interactions · showing 1–10")
    page.select_option("select[name=channel]", "phone")
    page.click("#filters button[type=submit]")
    # the address names only the filters chosen (the empty fields are left out)
    page.wait_for_url(f"{live_server.url}/interactions?channel=phone")
    assert _listed(page) == ["i04", "i03", "i02", "i01"]
    # the state links keep the other filters
    page.click('#states a[data-state="abandoned"]')
    page.wait_for_url(re.compile(r"state=abandoned"))
    assert _listed(page) == ["i04", "i03"]
    expect(page.locator("#summary")).to_contain_text("2 interactions · showing 1–2")
    shot(page, "interactions-filtered")
    # a text search in the subjects, with the form's other choices cleared
    page.goto(f"{live_server.url}/interactions")
    page.fill("input[name=q]", "refund")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"{live_server.url}/interactions?q=refund")
    assert _listed(page) == ["i09"]
    expect(page.locator("select[name=state]")).to_have_value("")


def test_the_phone_drill_down_shows_the_answer_wait(page: Page,
                                                    live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/interactions?kpi=frt&channel=phone&from={WEEK['from']}"
              f"&to={WEEK['to']}")
    cells = page.locator('#interactions td[data-col="first_response"]').all_inner_texts()
    assert cells == ["40 s", "10 s"]  # i02 answered after 40 s, i01 after 10 s


def test_no_page_scrolls_sideways_on_a_phone(page: Page,
                                             live_server: LiveServer) -> None:
    login(page, live_server, "admin")
    page.set_viewport_size(PHONE)
    wide: dict[str, int] = {}
    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        page.wait_for_timeout(100)  # the charts draw after load
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = width
            shot(page, f"phone-overflow{path.replace('/', '-')}")
    assert wide == {}, f"pages wider than the phone's {PHONE['width']} px: {wide}"
    # the channels table is wider than the phone: it scrolls inside its own box
    page.goto(f"{live_server.url}/channels")
    table = page.locator("main table.data").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")
    assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"


def test_the_favicon_is_served_and_linked(page: Page,
                                          live_server: LiveServer) -> None:
    missing: list[str] = []

    def check(response: Response) -> None:
        if response.status == 404:
            missing.append(response.url)

    page.on("response", check)
    login(page, live_server, "manager")
    for path in ("/", "/interactions", "/channels"):
        page.goto(f"{live_server.url}{path}")
    icons = page.locator("link[rel=icon]").evaluate_all("links => links.map(l => l.href)")
    assert icons == [f"{live_server.url}/static/favicon.svg", f"{live_server.url}/favicon.ico"]
    types = {icon: httpx.get(icon, timeout=30) for icon in icons}
    assert {icon: (got.status_code, got.headers["content-type"])
            for icon, got in types.items()} == {
        icons[0]: (200, "image/svg+xml"), icons[1]: (200, "image/x-icon")}
    assert types[icons[1]].content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert missing == []


def test_the_users_form_starts_on_the_least_privileged_role(page: Page,
                                                            live_server: LiveServer) -> None:
    login(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/users")
    role = page.locator("select[name=role]")
    expect(role).to_have_value("agent")
    # a reviewer reads every team's conversations but has none of a lead's tools (teams,
    # alerts, staffing, ...): above an agent, below a team lead
    assert role.locator("option").all_inner_texts() == ["agent", "reviewer", "team lead",
                                                        "manager", "admin"]
    # sent without the agent id: refused, and the form comes back as it was typed
    page.fill("input[name=username]", "newbie")
    page.fill("input[name=password]", "long enough password")
    page.click("form.stack button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("an agent user needs the id of the agent")
    expect(page.locator("input[name=username]")).to_have_value("newbie")
    expect(role).to_have_value("agent")

"""Partial periods and the one default window, as a team lead sees them in Chromium.

The centre fixture holds data from 2 to 6 November 2026 (the first record at 09:00 on the
2nd, the last at 12:00 on the 6th): the days it covers whole are 3, 4 and 5 November.
- The default window is the last 28 days ending before the data's last day: 9 Oct – 5 Nov
  2026; it is partial (the data starts 2 Nov) and the window before holds no data at all,
  so there is no comparable previous period.
- The window 5–6 Nov (to 7 Nov) is partial (6 Nov is the data's last day); the one before,
  3–4 Nov, is whole. The same days of each that both cover: 5 Nov against 3 Nov.
- Trends by week by default start on the data's first day: one week, 2 Nov, partial (not
  13 weeks of which 12 are empty).
- Customer health with 120 accounts shows 50 a page, lowest score first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from servicepulse.store.database import open_store
from servicepulse.web.app import create_app
from servicepulse.web.users import create_user
from tests.scorecards.builders import load
from tests.web.browser import login
from tests.web.conftest import PASSWORD, LiveServer, serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_overview_default_window_is_shown_and_partial(page: Page,
                                                      live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/")
    text = page.locator("p.window-text")
    expect(text).to_contain_text("last 28 days: 9 Oct – 5 Nov 2026")
    expect(page.locator(".partial-mark")).to_be_visible()
    expect(page.locator(".partial-note")).to_contain_text("data starts 2 Nov 2026")
    expect(text).to_contain_text("no comparable previous period")
    expect(page.locator("[data-kpi=contacts] .change")).to_contain_text(
        "no comparable previous period")
    # FCR of the window's last days: their repeats are not all in yet (the data ends 6 Nov,
    # so contacts after 29 Oct have not had 7 whole days)
    expect(page.locator("[data-kpi=fcr] .tile-note")).to_have_text(
        "contacts after 29 Oct 2026 have not had their 7 days for a repeat yet: this may read "
        "high")
    expect(page.locator("[data-kpi=csat] .tile-note")).to_have_count(0)
    # first response per channel, each against its own target; phone as service level
    rows = page.locator(".frt-channels tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator(".frt-channels tr[data-channel=email]")).to_contain_text("≤ 1.0 d")
    expect(page.locator(".frt-channels tr[data-channel=phone]")).to_contain_text(
        "answered in time")


def test_overview_compares_the_same_days(page: Page,
                                         live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/?from=2026-11-05&to=2026-11-07")
    text = page.locator("p.window-text")
    expect(text).to_contain_text("5 Nov – 6 Nov 2026 (2 days)")
    expect(page.locator(".partial-mark")).to_be_visible()
    expect(page.locator(".partial-note")).to_contain_text("data ends 6 Nov 2026")
    expect(text).to_contain_text("compared like with like: 5 Nov 2026 vs 3 Nov 2026")
    expect(page.locator("[data-kpi=contacts] .change")).to_contain_text("on the same days")
    # a whole window holds no marker
    page.goto(f"{live_server.url}/?from=2026-11-04&to=2026-11-05")
    expect(page.locator("p.window-text")).to_contain_text(
        "compared with the day before (3 Nov 2026)")
    expect(page.locator(".partial-mark")).to_have_count(0)


def test_trends_start_where_the_data_does(page: Page,
                                          live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/trends?kpi=contacts")
    body = page.locator("table.data tbody tr")
    expect(body).to_have_count(1)
    expect(body.first).to_have_class("partial")
    expect(body.first.locator("td").first).to_have_text("2026-11-02")
    expect(page.locator("p.window-text")).to_contain_text("last 4 days: 2 Nov – 5 Nov 2026")


@pytest.fixture
def accounts_server(tmp_path: Path) -> Iterator[LiveServer]:
    """120 customers, C000 to C119, customer i with 1 + i % 3 inbound emails a day apart
    from 10 November 2026 (2 repeats −10: 90.0; 1 repeat −5: 95.0; none: 100.0), and a last
    contact on 20 November: the default window is 23 Oct – 19 Nov."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    rows = []
    for number in range(120):
        customer = f"C{number:03d}"
        rows.append({"type": "customer", "id": customer, "name": f"Customer {number}"})
        for day in range(1 + number % 3):
            rows.append({"type": "interaction", "id": f"I{number}-{day}", "channel": "email",
                         "direction": "inbound", "customer_id": customer,
                         "created_at": f"2026-11-{10 + day:02d}T09:00:00Z"})
    rows.append({"type": "interaction", "id": "last", "channel": "email",
                 "created_at": "2026-11-20T09:00:00Z"})
    load(engine, rows)
    create_user(engine, "admin", PASSWORD, "admin")
    with serve_in_thread(create_app(engine, serve_stale=False, prewarm=False)) as url:
        yield LiveServer(url, engine, None)  # type: ignore[arg-type]
    engine.dispose()


def test_health_is_paged(page: Page, accounts_server: LiveServer) -> None:
    login(page, accounts_server, "admin")
    page.goto(f"{accounts_server.url}/customer-health")
    expect(page.locator("table.kpis tbody tr")).to_have_count(50)
    expect(page.locator("nav.pager").first).to_contain_text(
        "Accounts 1–50 of 120, most at risk first · page 1 of 3")
    # 40 customers with 3 contacts, 2 repeats each (−10: 90.0) come first
    expect(page.locator("table.kpis tbody tr").first.locator("td").nth(1)).to_have_text("90.0")
    page.locator("nav.pager").first.get_by_text("next →").click()
    expect(page.locator("nav.pager").first).to_contain_text("Accounts 51–100 of 120")
    page.goto(f"{accounts_server.url}/customer-health?page=3")
    expect(page.locator("table.kpis tbody tr")).to_have_count(20)
    expect(page.locator("nav.pager").first).to_contain_text("page 3 of 3")


def test_team_agent_and_channel_pages_say_their_window(page: Page,
                                                       live_server: LiveServer) -> None:
    login(page, live_server, "manager")
    page.goto(f"{live_server.url}/teams/team-a?from=2026-11-03&to=2026-11-10")
    text = page.locator("p.window-text")
    expect(text).to_contain_text("3 Nov – 9 Nov 2026 (7 days)")
    expect(text.locator(".partial-mark")).to_have_text("partial: data ends 6 Nov 2026")
    page.goto(f"{live_server.url}/channels?from=2026-11-03&to=2026-11-06")
    expect(page.locator("p.window-text")).to_contain_text("3 Nov – 5 Nov 2026 (3 days)")
    expect(page.locator(".partial-mark")).to_have_count(0)
    page.goto(f"{live_server.url}/agents/a1")
    expect(page.locator("p.window-text")).to_contain_text("last 28 days: 9 Oct – 5 Nov 2026")

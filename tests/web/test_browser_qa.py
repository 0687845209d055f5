"""The review page in a real browser (Chromium through Playwright): a reviewer opens a
conversation from the interactions list, a score outside its scale is shown beside its field,
the corrected review is saved and listed, and the agent then reads it on their own page; the
page fits a phone's width."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import login, shot
from tests.web.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

FORM = {"id": "care", "name": "Customer care", "categories": [
    {"name": "tone", "weight": 1, "scale_max": 4, "description": "Friendly and clear"},
    {"name": "accuracy", "weight": 3, "scale_min": 1, "scale_max": 5, "critical": True},
    {"name": "resolution", "weight": 2, "scale_max": 1}]}


def test_review_a_conversation_and_see_it_listed(page: Page, live_server: LiveServer) -> None:
    response = httpx.post(f"{live_server.url}/api/v1/qa/forms", json=FORM,
                          headers=live_server.tokens.header("manager"))
    assert response.status_code == 201, response.text
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/interactions?from=2026-11-02&to=2026-11-09")
    page.click("#interactions a[href='/qa/review/i01']")
    expect(page.locator("h1")).to_have_text("Review i01")
    expect(page.locator("#conversation")).to_be_visible()
    expect(page.locator("fieldset.critical legend")).to_contain_text("accuracy")
    page.fill("input[name=score_tone]", "7")  # the scale is 0 to 4
    page.fill("input[name=score_accuracy]", "4")
    page.fill("input[name=score_resolution]", "1")
    page.click("#review-form button[type=submit]")
    expect(page.locator("#err-tone")).to_have_text("7 is outside the category's scale 0–4")
    expect(page.locator("fieldset.invalid")).to_have_count(1)
    shot(page, "qa-review-error")
    page.fill("input[name=score_tone]", "3")
    page.fill("textarea[name=comment]", "Friendly, and the refund was right")
    page.click("#review-form button[type=submit]")
    expect(page.locator("p.ok")).to_contain_text("saved")
    # (75 + 3 * 75 + 2 * 100) / 6 = 83.3
    expect(page.locator(".qa-given").first).to_contain_text("IQS 83.3 · rita")
    shot(page, "qa-review-saved")
    page.click("nav.qa-tabs >> text=Reviews")
    expect(page.locator("#reviews tbody tr")).to_have_count(1)
    expect(page.locator("#reviews tbody tr").first).to_contain_text("83.3")
    page.goto(f"{live_server.url}/qa/queue")
    expect(page.locator("#my-reviews tbody tr").first).to_contain_text("i01")


def test_the_agent_reads_it_and_the_page_fits_a_phone(page: Page,
                                                       live_server: LiveServer) -> None:
    httpx.post(f"{live_server.url}/api/v1/qa/forms", json=FORM,
               headers=live_server.tokens.header("manager")).raise_for_status()
    httpx.post(f"{live_server.url}/api/v1/qa/reviews", headers=live_server.tokens.header(
        "reviewer"), json={"interaction_id": "i02", "form_id": "care", "comment": "Good call",
                           "scores": {"tone": 4, "accuracy": 1, "resolution": 1}}
               ).raise_for_status()
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, "ann")
    page.click("header nav >> text=My reviews")
    row = page.locator("#reviews tbody tr").first
    expect(row).to_contain_text("i02")
    expect(row.locator(".qa-iqs")).to_have_text("0.0")  # accuracy, critical, at its minimum
    row.locator("a").click()
    expect(page.locator("h1")).to_have_text("Reviews of i02")
    expect(page.locator("#review-form")).to_have_count(0)  # agents do not review
    expect(page.locator(".qa-given")).to_contain_text("Good call")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the review page is {width} px wide on a 390 px phone"
    shot(page, "qa-agent-phone")

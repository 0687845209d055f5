"""Shared Chromium fixtures for the browser tests: Debian's Chromium through Playwright, a page
that fails the test on a script error or a request leaving the machine, and a screenshot of
the page attached to the test's output when the test fails (to $SERVICEPULSE_SCREENSHOTS, or
the test's temporary directory).

tests/conftest.py loads this module as a plugin: a test asks for `page` (and `live_server`);
`login` and `shot` are imported from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.web.conftest import PASSWORD, LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = os.environ.get("SERVICEPULSE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest,
         tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    outside: list[str] = []
    context.on("request", lambda req: outside.append(req.url)
               if not req.url.startswith("http://127.0.0.1") else None)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        path = folder / f"{name}.png"
        try:
            opened.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", f"the page at failure: {path}"))
            print(f"\nscreenshot of the page at failure: {path}")
        except Exception as exc:  # the test already failed: say why there is no picture
            print(f"\nno screenshot: {exc}")
    context.close()
    assert not outside, f"requests left the machine: {outside}"
    assert not errors, f"script errors: {errors}"


def shot(page: Page, name: str) -> None:
    """A full-page screenshot to $SERVICEPULSE_SCREENSHOTS when set (to look at the pages)."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


def login(page: Page, server: LiveServer | str, username: str) -> None:
    """Sign in through the login form of `server` (a live server or its address)."""
    url = server if isinstance(server, str) else server.url
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")

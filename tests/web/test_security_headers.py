"""Security headers on every kind of response (pages, API, static files, errors of every
status, redirects, the 413 of the body limit, the 422 of the control-character check, a 500),
templates that need no inline script or style, and the pages in a real browser (Debian's
Chromium driven by Playwright) rendering with their charts and no Content-Security-Policy
violation. `SERVICEPULSE_SCREENSHOTS=DIR` saves screenshots of the overview, team, customer,
agent and trends pages."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
)
from sqlalchemy import Engine

import servicepulse
from servicepulse.web.app import create_app
from servicepulse.web.guards import CONTENT_SECURITY_POLICY
from tests.web.conftest import PASSWORD, WEEK, LiveServer, Tokens, fake_kpi

EXPECTED = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
TEMPLATES = Path(servicepulse.__file__).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = os.environ.get("SERVICEPULSE_SCREENSHOTS")


def _assert_headers(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (what, name, headers.get(name))


def test_the_policy_allows_only_the_apps_own_resources() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_every_kind_of_response_carries_the_headers(client: TestClient, tokens: Tokens) -> None:
    admin, agent = tokens.header("admin"), tokens.header("agent")
    cases = [
        ("page", "GET", "/", admin, 200),
        ("page of another helper's router", "GET", "/leaderboard", admin, 200),
        ("API", "GET", "/api/v1/customers", admin, 200),
        ("CSV", "GET", "/api/v1/customers?format=csv", admin, 200),
        ("static", "GET", "/static/app.css", {}, 200),
        ("health", "GET", "/health", {}, 200),
        ("login page", "GET", "/login", {}, 200),
        ("401", "GET", "/api/v1/kpi", {}, 401),
        ("401 page", "GET", "/teams", {"Accept": "text/html"}, 401),
        ("403", "GET", "/wallboard", agent, 403),
        ("404", "GET", "/api/v1/customers/c-none", admin, 404),
        ("404 unknown route", "GET", "/no-such-page", admin, 404),
        ("404 static", "GET", "/static/no-such-file.css", {}, 404),
        ("405", "DELETE", "/api/v1/customers", admin, 405),
        ("422 validation", "GET", "/api/v1/customers?page=0", admin, 422),
        ("422 control character", "GET", "/api/v1/customers?q=%00", admin, 422),
    ]
    for what, method, path, headers, status in cases:
        response = client.request(method, path, headers=headers, follow_redirects=False)
        assert response.status_code == status, (what, response.status_code)
        _assert_headers(response, what)


def test_redirects_and_the_body_limit_carry_the_headers(centre: tuple[Engine, Tokens]) -> None:
    engine, tokens = centre
    app = create_app(engine, kpi=fake_kpi, max_body_bytes=100, serve_stale=False,
                     prewarm=False)
    with TestClient(app) as client:
        too_big = client.post("/api/v1/records", content=b"[" + b" " * 200 + b"]",
                              headers=tokens.header("manager"))
        assert too_big.status_code == 413
        _assert_headers(too_big, "413")
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        redirect = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                               "csrf_token": token, "next": "/"},
                               follow_redirects=False)
        assert redirect.status_code == 303
        _assert_headers(redirect, "303 after login")


def test_an_unexpected_error_is_a_plain_500_with_the_headers(
        centre: tuple[Engine, Tokens]) -> None:
    engine, _tokens = centre
    app: FastAPI = create_app(engine, kpi=fake_kpi, serve_stale=False, prewarm=False)

    async def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert response.json()["detail"].startswith("internal error")
    _assert_headers(response, "500")


def test_documents_with_inline_style_allow_exactly_that_style(client: TestClient,
                                                               tokens: Tokens) -> None:
    response = client.get("/scorecards/agent/a1/coaching", headers=tokens.header("admin"))
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    inline = re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in policy, policy
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
    assert response.headers["x-frame-options"] == "DENY"
    docs = client.get("/docs", headers=tokens.header("admin"))
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_templates_hold_no_inline_script_nor_style_attribute() -> None:
    """Inline scripts and style attributes would be blocked by the policy. JSON data blocks
    are not run, so they may stay; the coaching and digest documents (also printed to PDF)
    keep their one <style> block, allowed by its hash."""
    documents = {"_style.html"}
    checked = 0
    for template in TEMPLATES.rglob("templates/*.html"):
        text = template.read_text()
        checked += 1
        assert not re.search(r"\sstyle\s*=", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template  # onclick=...
        assert "javascript:" not in text, template
        for attributes in re.findall(r"<script\b([^>]*)>", text):
            assert "src=" in attributes or 'type="application/json"' in attributes, template
        if template.name not in documents:
            assert "<style" not in text, template
    assert checked >= 25


# -- in a real browser -------------------------------------------------------------------------

@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    # every violation of the policy, reported by the page itself (init scripts are not
    # subject to the policy) and on the console
    context.add_init_script("window.__csp = []; document.addEventListener("
                            "'securitypolicyviolation', e => window.__csp.push("
                            "e.violatedDirective + ' ' + e.blockedURI));")
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_response(response: Response) -> None:
        # every script, style and image the pages ask for is there, the favicon too
        if response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    opened.on("console", on_console)
    opened.on("response", on_response)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened, problems
    context.close()


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/csp-{name}.png", full_page=True)




@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_pages_render_with_their_charts_and_no_policy_violation(
        page: tuple[Page, list[str]], live_server: LiveServer) -> None:
    opened, problems = page
    opened.goto(f"{live_server.url}/login")
    opened.fill("input[name=username]", "admin")
    opened.fill("input[name=password]", PASSWORD)
    opened.click("button[type=submit]")
    opened.wait_for_url(f"{live_server.url}/")
    window = f"from={WEEK['from']}&to={WEEK['to']}"
    visits = [
        ("overview", f"/?{window}", ".tile[data-kpi=contacts] .value", None),
        ("team", f"/teams/team-a?{window}", "table", None),
        ("customer", "/customers/c1", "table", None),
        ("agent", f"/agents/a1?{window}", "#agent-trend canvas", None),
        ("trends", f"/trends?kpi=csat&period=day&by=channel&{window}", "#trend-chart canvas",
         1),
        ("wallboard", "/wallboard", "#wb-status", None),
        ("staffing", "/staffing", "#staffing-agents canvas", 1),  # the forecast plan
        ("leaderboard", "/leaderboard", "h1", None),
        ("health", "/customer-health", "h1", None),
        ("sentiment", f"/insights/sentiment?{window}", "h1", None),
        ("coaching", f"/scorecards/agent/a1/coaching?{window}", "h1", None),
        ("users", "/admin/users", "h1", None),
    ]
    for name, path, visible, count in visits:
        opened.goto(f"{live_server.url}{path}")
        expect(opened.locator(visible).first).to_be_visible()
        if count is not None:
            expect(opened.locator(visible)).to_have_count(count)
        violations = opened.evaluate("window.__csp")
        assert violations == [], (name, violations)
        assert problems == [], (name, problems)
        _shot(opened, name)
    # the page's stylesheet applied (a blocked stylesheet would leave the default font)
    opened.goto(f"{live_server.url}/?{window}")
    font = opened.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Times" not in font, font


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_another_site_cannot_frame_the_dashboard(page: tuple[Page, list[str]],
                                                 live_server: LiveServer) -> None:
    opened, _problems = page
    login_url = f"{live_server.url}/login"
    opened.set_content(f'<iframe id="framed" src="{login_url}"></iframe>')
    opened.wait_for_timeout(500)
    frame = opened.frame_locator("#framed")
    # the browser refuses to show the page inside the frame (frame-ancestors 'none', DENY)
    expect(frame.locator("input[name=username]")).to_have_count(0)

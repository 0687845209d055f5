"""The staffing page in Chromium opens on the command line's plan: the same day, interval,
targets, occupancy cap and shrinkage, and so the same under-staffed intervals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.web.app import create_app
from servicepulse.web.users import create_user
from tests.fresh_stores import loaded_sqlite_store
from tests.web.browser import login
from tests.web.conftest import PASSWORD, LiveServer, serve_in_thread
from tests.workforce.test_plan import load_plan_history

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def staffing_server(tmp_path: Path) -> Iterator[LiveServer]:
    sqlite_store = loaded_sqlite_store(tmp_path / "store.db", "plan_history",
                                       load_plan_history)
    create_user(sqlite_store, "manager", PASSWORD, "manager")
    with serve_in_thread(create_app(sqlite_store, serve_stale=False, prewarm=False)) as url:
        yield LiveServer(url, sqlite_store, None)  # type: ignore[arg-type]
    sqlite_store.dispose()


def test_the_page_opens_on_the_command_lines_plan(staffing_server: LiveServer,
                                                  page: Page) -> None:
    url = staffing_server.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--db", url, "staffing", "plan", "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    # the fixture's newest contact is 2026-03-16: both plan the day after it
    assert cli["start"].startswith("2026-03-17")
    login(page, staffing_server.url, "manager")
    page.goto(f"{staffing_server.url}/staffing")
    form = page.locator("#staffing-form")
    assert form.locator("input[name=from]").input_value() == "2026-03-17"
    assert form.locator("select[name=interval]").input_value() == "30"
    values = {name: form.locator(f"input[name={name}]").input_value()
              for name in ("target_sl", "target_time", "max_occupancy", "shrinkage")}
    assert values == {"target_sl": "80", "target_time": "20", "max_occupancy": "85",
                      "shrinkage": "0"}
    summary = " ".join(page.locator("#plan-summary").inner_text().split())
    assert "target 80% in 20 s, occupancy ≤ 85%, shrinkage 0%" in summary
    assert f"{cli['summary']['under_staffed_intervals']} of 48 intervals under-staffed" \
        in summary

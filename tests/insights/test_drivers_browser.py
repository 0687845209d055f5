"""The contact drivers page in Chromium shows what `servicepulse drivers` prints for the same
data: the same default window, the same topics, contacts and units (the issue: 3 topics on
the page, 8 on the command line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.store import open_store
from servicepulse.web.app import create_app
from servicepulse.web.users import create_user
from tests.insights.test_drivers import load, simulated_contacts
from tests.web.browser import login
from tests.web.conftest import PASSWORD, serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def drivers_store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'drivers.db'}")
    load(engine, simulated_contacts())
    create_user(engine, "manager", PASSWORD, "manager")
    yield engine
    engine.dispose()


def test_page_and_command_show_the_same_drivers(drivers_store: Engine,
                                                page: Page) -> None:
    url = drivers_store.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--db", url, "drivers", "--format", "json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    table = CliRunner().invoke(app, ["--db", url, "drivers"], env={"COLUMNS": "200"})
    with serve_in_thread(create_app(drivers_store, serve_stale=False, prewarm=False)) as server:
        login(page, server, "manager")
        page.goto(f"{server}/insights/drivers", timeout=120_000)
        rows = page.locator("table.drivers tbody tr")
        assert rows.count() == len(cli["topics"]) == 4  # four reasons in the data
        shown = [(rows.nth(k).locator("th").inner_text().strip(),
                  rows.nth(k).locator("td").first.inner_text().strip())
                 for k in range(rows.count())]
        subtitle = page.locator("p.sub").first.inner_text()
    assert shown == [(topic["topic"], f"{topic['contacts']:,}") for topic in cli["topics"]]
    assert f"{cli['from']} to {cli['to']} (exclusive)" in subtitle
    assert f"Contact drivers {cli['from']} to {cli['to']} (exclusive)" in table.output
    for topic in cli["topics"]:  # the command's table: same labels, contacts and AHT unit
        line = next(line for line in table.output.splitlines()
                    if line.startswith(topic["topic"]))
        assert f"{topic['contacts']:,}" in line and " min " in line

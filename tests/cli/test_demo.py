"""`servicepulse demo` started now: the wallboard shows the agents at work and today's contacts,
and moves when the feed delivers what happens next.

A small centre (24 agents: care teams in New York and Manila, so someone is at work at most
hours) over two days keeps it cheap. The expected numbers come from the demo file itself:
every agent whose shift covers this moment is logged in (their states cover the shift).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.simulate import SimulationConfig
from servicepulse.simulate.live import Feeder, LiveFeed, iso
from servicepulse.store.database import open_store
from servicepulse.store.tables import interactions
from servicepulse.web.app import create_app
from servicepulse.web.users import create_user
from tests.web.browser import login
from tests.web.conftest import PASSWORD, serve_in_thread

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def demo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'servicepulse.db'}"
    result = CliRunner().invoke(app, ["--db", url, "demo", "--no-serve", "--agents", "24",
                                      "--days", "2"])
    assert result.exit_code == 0, result.output
    engine = open_store(url)
    create_user(engine, "admin", PASSWORD, "admin")
    yield engine
    engine.dispose()


def _demo_records() -> list[dict[str, Any]]:
    return [orjson.loads(line)
            for line in Path("demo-data/demo.jsonl").read_bytes().splitlines()]


def _contacts_today(engine: Engine) -> int:
    midnight = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(
            interactions.c.created_at >= midnight.timestamp(),
            interactions.c.created_at < (midnight + timedelta(days=1)).timestamp())).scalar_one())


def _wallboard_numbers(page: Page) -> tuple[int, int]:
    """(agents logged in, contacts today) as the wallboard shows them."""
    agents = 0
    for row in page.locator("#wb-states tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if len(cells) == 2:
            agents += int(cells[1])
    return agents, int(page.inner_text("#wb-contacts"))


def test_the_wallboard_of_a_demo_started_now_is_alive(
    demo_store: Engine, page: Page
) -> None:
    records = _demo_records()
    state = json.loads(Path("demo-data/demo.json").read_text())
    now = iso(datetime.now(UTC))
    today = now[:10]
    # The demo's days end today, and the file holds nothing later than its moment.
    assert date.fromisoformat(state["start"]) + timedelta(days=1) == date.fromisoformat(today)
    created = [r["created_at"] for r in records if r["type"] == "interaction"]
    assert max(created) <= iso(datetime.fromisoformat(state["as_of"])) <= now
    on_shift = {r["agent_id"] for r in records
                if r["type"] == "shift" and r["start"] <= now < r["end"]}
    contacts_today = sum(1 for c in created if c.startswith(today))
    assert contacts_today > 0

    with serve_in_thread(create_app(demo_store, serve_stale=False, prewarm=False)) as url:
        login(page, url, "admin")
        page.goto(f"{url}/wallboard")
        expect(page.locator("#wb-status")).to_have_text("live")
        assert _wallboard_numbers(page) == (len(on_shift), contacts_today)
        if not on_shift:  # (a weekend hour when New York and Manila are both closed)
            assert page.locator("#wb-states .empty").count() == 1
        # The feed delivers what comes next (here: the next 20 minutes at once): the wallboard
        # follows without a reload.
        config = SimulationConfig(agents=state["agents"], days=state["days"],
                                  seed=state["seed"],
                                  start=date.fromisoformat(state["start"]),
                                  around_the_clock=state["around_the_clock"])
        feeder = Feeder(LiveFeed(config, datetime.fromisoformat(state["as_of"])), demo_store)
        end_of_day = datetime.fromisoformat(f"{today}T23:59:59+00:00")
        feeder.tick(min(datetime.now(UTC) + timedelta(minutes=20), end_of_day))
        grown = _contacts_today(demo_store)
        if grown > contacts_today:
            expect(page.locator("#wb-contacts")).to_have_text(str(grown), timeout=30_000)
        assert int(page.inner_text("#wb-contacts")) == grown

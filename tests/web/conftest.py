"""Fixtures of the web tests: the small centre of tests/fixtures/web/centre.jsonl in a store,
its users (one per role) and API tokens, and TestClients on the app.

The store is built once per session and copied per test (a file copy instead of an import
and four argon2 hashes each time). `client` answers KPI questions with `fake_kpi` (instant,
for tests about routing, roles and rendering); `engine_client` runs the real KPI engine, for
tests that check numbers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.store.database import open_store
from servicepulse.web.app import create_app
from servicepulse.web.users import create_token, create_user
from tests.conftest import FIXTURES

CENTRE = FIXTURES / "web" / "centre.jsonl"
# The fixture's week: Monday 2 November 2026 up to (not including) Monday 9 November.
WEEK = {"from": date(2026, 11, 2).isoformat(), "to": date(2026, 11, 9).isoformat()}
PASSWORD = "correct horse battery"


@dataclass
class Tokens:
    admin: str
    manager: str
    manager_read: str
    manager_ingest: str
    lead: str
    agent: str
    reviewer: str

    def header(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, name)}"}


def load_centre(engine: Engine) -> Tokens:
    summary = import_rows(engine, read_paths([CENTRE]))
    assert summary.quarantined == 0, summary.rejected
    create_user(engine, "admin", PASSWORD, "admin")
    create_user(engine, "manager", PASSWORD, "manager")
    create_user(engine, "lead", PASSWORD, "team_lead", team_ids=["team-a"])
    create_user(engine, "ann", PASSWORD, "agent", agent_id="a1")
    # a QA reviewer whose own team is team-b (sampling can leave it out)
    create_user(engine, "rita", PASSWORD, "reviewer", team_ids=["team-b"])
    return Tokens(
        admin=create_token(engine, "admin", "admin"),
        manager=create_token(engine, "manager", "admin"),
        manager_read=create_token(engine, "manager", "read"),
        manager_ingest=create_token(engine, "manager", "ingest"),
        lead=create_token(engine, "lead", "read"),
        agent=create_token(engine, "ann", "read"),
        reviewer=create_token(engine, "rita", "admin"),
    )


def fake_kpi(_engine: Engine, query: KpiQuery) -> KpiResult:
    """A stand-in for the KPI engine with its result's shape: one row per value of the
    first `by` dimension that the filters name (else "a1"), value 1 and n 1 for every KPI."""
    names = query.kpis or ["contacts"]
    figure = {"value": 1.0, "n": 1, "ci": [0.5, 1.5], "low_sample": True,
              "previous": {"value": 2.0, "n": 1}, "change": -1.0}
    groups: list[dict[str, Any]] = [{}]
    if query.by:
        dimension = query.by[0]
        groups = [{dimension: key} for key in query.filters.get(dimension, ["a1"])]
    if query.period != "all":
        groups = [{**group, "period": str(query.from_)} for group in groups]
    first = query.from_ or date(2026, 11, 2)
    return KpiResult.from_json({
        "from": first.isoformat(), "to": (query.to or first + timedelta(days=7)).isoformat(),
        "by": query.by, "period": query.period, "filters": query.filters, "timezone": "UTC",
        "rows": [{"group": group, "kpis": {name: dict(figure) for name in names}}
                 for group in groups]})


@pytest.fixture(scope="session")
def centre_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Tokens]:
    path = tmp_path_factory.mktemp("web") / "centre.db"
    engine = open_store(f"sqlite:///{path}")
    tokens = load_centre(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, tokens


@pytest.fixture
def centre(centre_template: tuple[Path, Tokens], tmp_path: Path) -> Iterator[tuple[Engine, Tokens]]:
    template, tokens = centre_template
    path = tmp_path / "store.db"
    shutil.copy(template, path)
    engine = open_store(f"sqlite:///{path}")
    yield engine, tokens
    engine.dispose()


@pytest.fixture
def client(centre: tuple[Engine, Tokens]) -> Iterator[TestClient]:
    app = create_app(centre[0], kpi=fake_kpi, serve_stale=False, prewarm=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def engine_client(centre: tuple[Engine, Tokens]) -> Iterator[TestClient]:
    app = create_app(centre[0], serve_stale=False, prewarm=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(centre: tuple[Engine, Tokens]) -> Tokens:
    return centre[1]


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    """Log in through the form, as a browser does (CSRF cookie, then POST)."""
    form = client.get("/login")
    assert form.status_code == 200
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text


@dataclass
class LiveServer:
    url: str
    engine: Engine
    tokens: Tokens


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread: a real server for browsers and SSE."""
    import threading
    import time

    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(centre: tuple[Engine, Tokens]) -> Iterator[LiveServer]:
    """The app with the real KPI engine behind a real server."""
    app = create_app(centre[0], serve_stale=False, prewarm=False)
    with serve_in_thread(app) as url:
        yield LiveServer(url, centre[0], centre[1])

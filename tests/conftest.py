"""Shared fixtures: a fresh store on SQLite and on the real PostgreSQL server.

The PostgreSQL fixture never skips: if the server at 127.0.0.1:5432 is missing, tests fail,
which is what CI must do (set SERVICEPULSE_TEST_POSTGRES_URL to point elsewhere).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from servicepulse.store.database import open_store

FIXTURES = Path(__file__).parent / "fixtures"
# The browser tests' Chromium fixtures (`browser`, `page`), for every test module
pytest_plugins = ("tests.web.browser",)
POSTGRES_ADMIN_URL = os.environ.get(
    "SERVICEPULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                               ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so that fixtures (the browser's page) can
    tell at teardown whether the test failed, and attach a screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_store() -> Iterator[Engine]:
    """A fresh schema-isolated database on the real server (dropped afterwards)."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sp_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = open_store(url)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Engine:
    """Each test using it runs on the embedded SQLite store and on the real PostgreSQL."""
    fixture = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    engine: Engine = request.getfixturevalue(fixture)
    return engine

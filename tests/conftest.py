"""Shared fixtures: a fresh store on SQLite and on the real PostgreSQL server.

The PostgreSQL fixture never skips: if the server at 127.0.0.1:5432 is missing, tests fail,
which is what CI must do (set SERVICEPULSE_TEST_POSTGRES_URL to point elsewhere).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.store.database import open_store
from tests.fresh_stores import (
    create_postgres_database,
    drop_postgres_database,
    finish,
    fresh_sqlite_store,
)

FIXTURES = Path(__file__).parent / "fixtures"
# The browser tests' Chromium fixtures (`browser`, `page`), for every test module
pytest_plugins = ("tests.web.browser",)
# Compiled KPI statements are kept per test run (each xdist worker its own file), never in the
# user's cache; subprocesses the tests start inherit it.
os.environ.setdefault("SERVICEPULSE_SQL_CACHE", str(
    Path(tempfile.mkdtemp(prefix="servicepulse-sql-")) / "compiled-sql.sqlite3"))
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The test databases dropped in the background are gone, and the templates too."""
    finish()


@pytest.fixture(autouse=True, scope="session")
def composed() -> None:
    """The program's wiring (the import hooks), as the app factory and the command line's
    start do it: servicepulse.composition."""
    from servicepulse.composition import compose

    compose()


@pytest.fixture(autouse=True)
def program_settings_forgotten() -> Iterator[None]:
    """Each test's commands and apps hand the import hooks their own settings (the
    composition root does, once a program): none of them outlives the test."""
    yield
    from servicepulse.ingest import hooks

    hooks.configure(None)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    engine = fresh_sqlite_store(tmp_path / "store.db")  # a copy of a migrated store
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_store() -> Iterator[Engine]:
    """A fresh database of its own on the real server (a copy of a migrated template;
    dropped afterwards, in the background)."""
    url = create_postgres_database(POSTGRES_ADMIN_URL)
    engine = open_store(url)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_postgres_database(POSTGRES_ADMIN_URL, engine.url.database or "")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Engine:
    """Each test using it runs on the embedded SQLite store and on the real PostgreSQL."""
    fixture = "sqlite_store" if request.param == "sqlite" else "postgres_store"
    engine: Engine = request.getfixturevalue(fixture)
    return engine

"""Stores for the scorecard tests: the hand-computed team (tests/fixtures/scorecards/team.json)
and a small simulation (24 agents × 7 days) with the simulator's planted agents."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.scorecard import Context, gather
from servicepulse.store.database import open_store
from tests.fresh_stores import fresh_sqlite_store
from tests.scorecards.builders import load, team_records


@pytest.fixture
def settings() -> Settings:
    return Settings()


_team_template: list[Path] = []


def team_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-computed team loaded once per test process; modules get copies. (Not a
    fixture: tests/cli/test_scorecard_tables.py imports `team_store` alone.)"""
    if not _team_template:
        path = tmp_path_factory.mktemp("team-template") / "store.db"
        engine = fresh_sqlite_store(path)
        load(engine, team_records())
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _team_template.append(path)
    return _team_template[0]


@pytest.fixture(scope="module")
def team_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The hand-computed team on SQLite, shared by a module's tests (a copy of the
    template: a module's writes, such as test_web's users, stay in the module)."""
    path = tmp_path_factory.mktemp("team") / "store.db"
    shutil.copyfile(team_template(tmp_path_factory), path)
    engine = open_store(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def team_context(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The engine's figures for team T1 with default settings, gathered once per test
    process from the template (what every module's copy holds; `dataclasses.replace(
    team_context, settings=...)` re-judges them with other targets)."""
    engine = open_store(f"sqlite:///{team_template(tmp_path_factory)}")
    try:
        return gather(engine, team="T1", settings=Settings())
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A 24-agent, 7-day simulation and the ids of its planted agents."""
    from servicepulse.simulate import SimulationConfig, simulate_records, special_agents

    config = SimulationConfig(agents=24, days=7, seed=1)
    path: Path = tmp_path_factory.mktemp("simulated") / "store.db"
    engine = open_store(f"sqlite:///{path}")
    load(engine, simulate_records(config))
    yield engine, special_agents(config)
    engine.dispose()

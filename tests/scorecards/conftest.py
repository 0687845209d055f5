"""Stores for the scorecard tests: the hand-computed team (tests/fixtures/scorecards/team.json)
and a small simulation (24 agents × 7 days) with the simulator's planted agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.scorecard import Context, gather
from servicepulse.store.database import open_store
from tests.scorecards.builders import load, team_records


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="module")
def team_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The hand-computed team on SQLite, shared by a module's read-only tests."""
    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('team') / 'store.db'}")
    load(engine, team_records())
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def team_context(team_store: Engine) -> Context:
    """The engine's figures for team T1 with default settings, gathered once per module
    (`dataclasses.replace(team_context, settings=...)` re-judges them with other targets)."""
    return gather(team_store, team="T1", settings=Settings())


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

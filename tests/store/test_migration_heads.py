"""`open_store` recognises a store already at the newest revisions without Alembic (issue 16:
a command no longer loads Alembic, nor runs an empty upgrade, each time it opens the store):
the revisions read from the migration files must be what Alembic writes in the version table of
a store it migrated, and the store's revisions read from that table what Alembic reads. A store
behind still migrates, through Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

from servicepulse.store.database import (
    _alembic_config,
    _newest_revisions,
    current_revisions,
    migrate,
    open_store,
)


def _alembic_current(engine: Engine) -> frozenset[str]:
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def test_newest_revisions_are_what_alembic_leaves_in_a_migrated_store(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'alembic.db'}")
    command.upgrade(_alembic_config(engine), "heads")
    assert _newest_revisions() == _alembic_current(engine)
    # several branches, and a head another revision depends on (0004, needed by 0020) is not
    # in the table: comparing with Alembic's heads instead ran an empty upgrade at every open
    heads = frozenset(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    assert len(_newest_revisions()) >= 2
    assert heads - _newest_revisions() == {"0004"}


def test_a_new_file_has_no_revision_and_is_migrated(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert current_revisions(engine) == frozenset() == _alembic_current(engine)
    assert migrate(engine) is True
    assert current_revisions(engine) == _newest_revisions() == _alembic_current(engine)
    assert migrate(engine) is False  # nothing left to apply


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_current_revisions_are_alembics(backend: str, request: pytest.FixtureRequest) -> None:
    store: Engine = request.getfixturevalue(f"{backend}_store")
    assert current_revisions(store) == _alembic_current(store) == _newest_revisions()
    assert migrate(store) is False


def test_a_store_one_revision_behind_is_migrated(sqlite_store: Engine) -> None:
    # one branch's newest revision undone (schema and version row) by Alembic itself
    newest = max(_newest_revisions())
    command.downgrade(_alembic_config(sqlite_store), f"{newest}-1")
    assert newest not in current_revisions(sqlite_store)
    assert current_revisions(sqlite_store) == _alembic_current(sqlite_store)
    assert migrate(sqlite_store) is True
    assert current_revisions(sqlite_store) == _newest_revisions()


def test_opening_a_migrated_store_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    code = ("import sys\nfrom servicepulse.store import open_store\n"
            f"open_store({url!r})\nprint('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False"

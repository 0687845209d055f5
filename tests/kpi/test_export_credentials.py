"""`servicepulse export --format parquet`: the records and derived data, never credentials.

A store with a user, a session, an API token, a failed sign-in and an alert rule whose
webhook URL holds a secret is exported; every file's bytes, and every value of every file,
are searched for each secret. The record tables are all there with their exact row counts,
and every table of the store is either exported or named as not exported (a new table fails
here until someone decides).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as parquet
import pytest
from sqlalchemy import Engine, func, insert, inspect, select, table
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.kpi.backends import (
    DERIVED_TABLE_NAMES,
    EXPORTED_TABLES,
    NOT_EXPORTED,
    RECORD_TABLE_NAMES,
    unclassified_tables,
)
from servicepulse.store.database import open_store
from servicepulse.web import tables as web_tables
from servicepulse.web.users import create_session, get_user
from tests.kpi.helpers import WEEK

RUNNER = CliRunner()
PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec-7f3a9c1e5b2d4f60"
# tests/fixtures/kpi/week.jsonl by record kind, plus the one commented survey added below
RECORD_ROWS = {"teams": 2, "agents": 3, "calendars": 0, "customers": 4, "interactions": 13,
               "events": 0, "surveys": 9, "agent_states": 6, "shifts": 1, "orders": 0,
               "social_posts": 2, "social_mentions": 0}


def _run(db: str, *args: str, input: str | None = None) -> str:
    result = RUNNER.invoke(app, ["--db", db, *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def store_with_credentials(tmp_path: Path) -> tuple[str, Engine, list[str]]:
    """A store with records, sentiment scores, a rollup and every kind of credential; the
    secrets it holds (as stored, and as handed to their owners)."""
    db = f"sqlite:///{tmp_path / 'store.db'}"
    commented = tmp_path / "commented.jsonl"
    commented.write_text(json.dumps({
        "type": "survey", "id": "s-comment", "kind": "csat", "score": 5, "scale_min": 1,
        "scale_max": 5, "submitted_at": "2026-03-03T10:00:00Z", "interaction_id": "i1",
        "comment": "Great help, thank you so much"}) + "\n")
    _run(db, "import", str(WEEK), str(commented))
    _run(db, "sentiment", "--format", "json")
    _run(db, "user", "add", "--username", "ana", "--role", "admin", "--password-stdin",
         input=PASSWORD + "\n")
    token = _run(db, "token", "create", "--username", "ana", "--scope", "read").strip()
    _run(db, "alerts", "add", "csat-low", "--kpi", "csat",
         "--webhook", f"https://hooks.example.com/notify/{WEBHOOK_SECRET}")
    engine = open_store(db)
    session_id = create_session(engine, get_user(engine, "ana"))
    with engine.begin() as connection:
        connection.execute(insert(web_tables.login_failures).values(
            username="ana", address="203.0.113.77", attempted_at=time.time()))
        password_hash: str = connection.execute(
            select(web_tables.users.c.password_hash)).scalar_one()
        session_hash, csrf = connection.execute(select(
            web_tables.sessions.c.session_hash, web_tables.sessions.c.csrf_token)).one()
        token_hash: str = connection.execute(
            select(web_tables.api_tokens.c.token_hash)).scalar_one()
    assert len(token) > 40 and "\n" not in token, token  # the printed token alone
    secrets = [password_hash, str(session_hash), str(csrf), token_hash, token, session_id,
               PASSWORD, WEBHOOK_SECRET, "203.0.113.77"]
    return db, engine, secrets


def _table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


def _counts(engine: Engine, names: list[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: int(connection.execute(select(func.count()).select_from(table(name))
                                             ).scalar_one()) for name in names}


def test_the_export_holds_records_and_derived_data_and_no_credential(
        store_with_credentials: tuple[str, Engine, list[str]], tmp_path: Path) -> None:
    db, engine, secrets = store_with_credentials
    directory = tmp_path / "export"
    output = _run(db, "export", "--format", "parquet", str(directory))

    files = sorted(path.name for path in directory.iterdir())
    present = set(EXPORTED_TABLES) & set(_table_names(engine))
    assert files == sorted(f"{name}.parquet" for name in present)
    assert set(RECORD_TABLE_NAMES) | set(DERIVED_TABLE_NAMES) <= present
    rows = {name: parquet.read_table(directory / f"{name}.parquet").num_rows
            for name in present}
    assert {name: rows[name] for name in RECORD_ROWS} == RECORD_ROWS
    assert rows == _counts(engine, sorted(present))  # derived tables as stored
    assert rows["text_sentiment"] == 1  # the one comment, scored
    assert rows["kpi_daily_rollup"] > 0
    for name, count in rows.items():
        assert f"{directory / name}.parquet: {count} rows" in output

    # Every file, byte for byte and value by value. The check can see a stored string: an
    # agent's role is found both ways in agents.parquet.
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        values = "\n".join(str(value) for column in parquet.read_table(path).columns
                           for value in column.to_pylist())
        for secret in secrets:
            assert secret.encode() not in data, (path.name, secret)
            assert secret not in values, (path.name, secret)
    agents = directory / "agents.parquet"
    assert b"technical_support" in agents.read_bytes()
    assert "technical_support" in str(parquet.read_table(agents).to_pylist())


def test_every_table_of_the_store_is_exported_or_excluded_by_name(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert unclassified_tables(engine) == [], (
        "add each new table to EXPORTED_TABLES (analytics data) or NOT_EXPORTED (with why) "
        "in servicepulse.kpi.backends")
    assert EXPORTED_TABLES.isdisjoint(NOT_EXPORTED)
    credentials = {web_tables.users.name, web_tables.sessions.name,
                   web_tables.api_tokens.name, web_tables.login_failures.name}
    assert credentials <= set(NOT_EXPORTED)


def test_an_earlier_exports_credential_file_is_pointed_out(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    _run(db, "import", str(WEEK))
    directory = tmp_path / "export"
    directory.mkdir()
    (directory / "web_users.parquet").write_bytes(b"left by an earlier version")
    result = RUNNER.invoke(app, ["--db", db, "export", "--format", "parquet", str(directory)])
    assert result.exit_code == 0, result.output
    assert "web_users.parquet" not in result.stdout
    assert (f"warning: {directory / 'web_users.parquet'} was left by an earlier export"
            in result.stderr)

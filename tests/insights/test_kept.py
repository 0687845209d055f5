"""Kept drivers results: read while the store is unchanged, computed again after any write.

A store's files are "aged" here (their modification times set an hour back), as a store
nobody wrote to for a while is; a store written to in the last QUIET_S seconds is never
stamped, so every test that writes and reads at once still computes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.insights import drivers, kept
from servicepulse.insights.drivers import DriversQuery, DriversRunner
from servicepulse.insights.kept import store_stamp
from tests.fresh_stores import loaded_sqlite_store
from tests.insights.test_drivers import load, load_simulated, reason_of

MARCH = DriversQuery.model_validate({"from": "2026-03-01", "to": "2026-04-01"})
AN_HOUR_AGO = time.time() - 3600


def age(engine: Engine, when: float = AN_HOUR_AGO) -> None:
    """Set the store's files' modification times to `when` (a store left alone since)."""
    database = Path(str(engine.url.database))
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            os.utime(path, (when, when))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache directory of the test's own, and no model kept in this process."""
    monkeypatch.setenv("SERVICEPULSE_CACHE_DIR", str(tmp_path / "cache"))
    drivers._fitted.clear()
    yield tmp_path / "cache"
    drivers._fitted.clear()


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A minute: a store the test just wrote to is never stamped, however slow the machine
    (its aged files are an hour old)."""
    monkeypatch.setattr(kept, "QUIET_S", 60.0)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often topics are fitted and the KPI engine is asked."""
    calls = {"fits": 0, "kpis": 0}
    fit, kpis = drivers.discover_topics, drivers.topic_kpis

    def counted_fit(*arguments: Any, **keywords: Any) -> Any:
        calls["fits"] += 1
        return fit(*arguments, **keywords)

    def counted_kpis(*arguments: Any, **keywords: Any) -> Any:
        calls["kpis"] += 1
        return kpis(*arguments, **keywords)

    monkeypatch.setattr(drivers, "discover_topics", counted_fit)
    monkeypatch.setattr(drivers, "topic_kpis", counted_kpis)
    return calls


def test_the_stamp_changes_with_every_write(sqlite_store: Engine) -> None:
    """Any commit changes the stamp, also when the files' times are the same (the log grows,
    or restarts with new salts); a store written to a moment ago has none."""
    store = sqlite_store
    with store.begin() as connection:
        connection.execute(text("CREATE TABLE probe (n INTEGER)"))
    assert store_stamp(store) is None  # written a moment ago: not trusted yet
    age(store)
    first = store_stamp(store)
    assert first is not None and store_stamp(store) == first
    with store.begin() as connection:
        connection.execute(text("INSERT INTO probe VALUES (1)"))
    age(store)  # the same times as before: the log's size tells the write
    second = store_stamp(store)
    assert second not in (None, first)
    # the log copied into the database and started again from its beginning: the next
    # write lands where the first frames were (same size), with new salts in the header
    with store.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")
    age(store)
    checkpointed = store_stamp(store)
    size = Path(f"{store.url.database}-wal").stat().st_size
    with store.begin() as connection:
        connection.execute(text("INSERT INTO probe VALUES (2)"))
    assert Path(f"{store.url.database}-wal").stat().st_size <= size  # not grown
    age(store)
    assert store_stamp(store) not in (None, first, second, checkpointed)
    # the times alone
    current = store_stamp(store)
    age(store, AN_HOUR_AGO + 1)
    assert store_stamp(store) not in (None, current)


def test_no_stamp_without_a_store_file() -> None:
    """PostgreSQL and an in-memory SQLite database: results are computed every time."""
    assert store_stamp(create_engine("postgresql+psycopg://nobody@127.0.0.1:5432/none")) is None
    assert store_stamp(create_engine("sqlite://")) is None
    assert store_stamp(create_engine("sqlite:////nonexistent/store.db")) is None


def test_a_kept_result_is_read_until_the_store_changes(
        sqlite_store: Engine, cache: Path, counted: dict[str, int]) -> None:
    store = sqlite_store
    load_simulated(store)
    age(store)
    first = DriversRunner(store).run(MARCH).as_json()
    assert counted == {"fits": 1, "kpis": 1}
    assert len(list((cache / "drivers-results").glob("*.json"))) == 1
    drivers._fitted.clear()  # a new process: the result is read from the cache directory
    assert DriversRunner(store).run(MARCH).as_json() == first
    assert counted == {"fits": 1, "kpis": 1}
    # another range of the same store: computed (and its model fitted)
    DriversRunner(store).run(DriversQuery.model_validate(
        {"from": "2026-03-01", "to": "2026-03-07"}))
    assert counted == {"fits": 2, "kpis": 2}
    # one billing customer changes their answer from 2 to 5: the texts are the same, so the
    # model is kept, but the KPIs are computed again
    load(store, [{"type": "survey", "id": "s-billing-0", "kind": "csat",
                  "interaction_id": "billing-0", "score": 5,
                  "submitted_at": "2026-03-02T13:02:00Z"}])
    changed = DriversRunner(store).run(MARCH).as_json()
    assert counted == {"fits": 2, "kpis": 3}
    billing = {reason_of(topic): topic for topic in changed["topics"]}["billing"]
    before = {reason_of(topic): topic for topic in first["topics"]}["billing"]
    # CSAT: answers of 4 or 5 among the 30 answers: 0 before, 1 now (100 / 30 = 3.3333 %)
    assert (before["kpis"]["csat"]["value"], billing["kpis"]["csat"]["value"]) == (0.0, 3.3333)
    assert billing["kpis"]["csat"]["n"] == 30
    # written a moment ago: nothing kept for this state; once left alone, kept again
    assert len(list((cache / "drivers-results").glob("*.json"))) == 2
    age(store)
    assert DriversRunner(store).run(MARCH).as_json() == changed
    assert DriversRunner(store).run(MARCH).as_json() == changed
    assert counted == {"fits": 2, "kpis": 4}
    assert len(list((cache / "drivers-results").glob("*.json"))) == 3


def test_the_window_is_asked_only_when_no_result_is_kept(
        sqlite_store: Engine, cache: Path, counted: dict[str, int]) -> None:
    """Without dates a kept result is found by the query as asked and today's date: the
    default window (which loads the web's modules) is not worked out again."""
    store = sqlite_store
    load_simulated(store)
    age(store)
    windows: list[int] = []

    def window() -> tuple[date, date]:
        windows.append(1)
        return date(2026, 3, 1), date(2026, 4, 1)

    asked = DriversQuery()
    first = DriversRunner(store).run(asked, window=window)
    assert (first.from_, first.to, first.contacts) == (date(2026, 3, 1), date(2026, 4, 1), 120)
    assert DriversRunner(store).run(asked, window=window) == first
    assert windows == [1] and counted == {"fits": 1, "kpis": 1}
    # the same days asked by date are the same topics (the model kept), kept apart
    assert DriversRunner(store).run(MARCH).topics == first.topics
    assert counted == {"fits": 1, "kpis": 2}


def test_the_command_reads_the_kept_result(tmp_path: Path, cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`servicepulse drivers` twice on an unchanged store: the same output, and the second
    time neither the default window nor the KPI engine is asked."""
    from servicepulse.cli import insights as cli_insights

    engine = loaded_sqlite_store(tmp_path / "cli.db", "drivers-simulated", load_simulated)
    age(engine)
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    windows: list[int] = []
    window = cli_insights.default_window

    def counted_window(*arguments: Any) -> Any:
        windows.append(1)
        return window(*arguments)

    monkeypatch.setattr(cli_insights, "default_window", counted_window)
    outputs = []
    for _ in range(2):
        result = CliRunner().invoke(app, ["--db", url, "drivers", "--format", "json"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output))
    assert outputs[0] == outputs[1]
    assert windows == [1]
    assert outputs[0]["contacts"] == 120 and len(outputs[0]["topics"]) == 4
    table = CliRunner().invoke(app, ["--db", url, "drivers"], env={"COLUMNS": "120"})
    assert table.exit_code == 0, table.output
    assert f"Contact drivers {outputs[0]['from']} to {outputs[0]['to']} (exclusive): 120 " \
        in table.output
    assert windows == [1]

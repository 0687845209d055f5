"""Versioned rebuild marks (servicepulse.store.marks) on the real stores, and a concurrent
writer on PostgreSQL: a clear waits for the bump and then leaves the mark standing."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from servicepulse.insights.tables import text_sentiment_pending
from servicepulse.kpi.tables import kpi_rollup_dirty
from servicepulse.store import marks


def test_a_bump_raises_the_version_and_a_clear_needs_the_version_read(store: Engine) -> None:
    march_1, march_2 = ("2026-03-01",), ("2026-03-02",)
    with store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [march_1, march_2])
        first = marks.read(connection, kpi_rollup_dirty)
        marks.bump(connection, kpi_rollup_dirty, [march_2])
        read = marks.read(connection, kpi_rollup_dirty)
    assert read[march_1] == first[march_1] and read[march_2] > first[march_2]
    with store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [march_1])  # changed after the read
        assert marks.unchanged(connection, kpi_rollup_dirty, read) == {march_2}
        assert marks.clear(connection, kpi_rollup_dirty, read) == 1
        after = marks.read(connection, kpi_rollup_dirty)
    assert list(after) == [march_1] and after[march_1] > read[march_1]


def test_a_mark_cleared_and_set_again_is_not_the_one_read(store: Engine) -> None:
    """A rebuild that read a mark, while another rebuild cleared it and a batch set it again,
    must not take the new mark for the one it read (its version would repeat if marks
    started at 1 again)."""
    day = ("2026-03-01",)
    with store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [day])
        read = marks.read(connection, kpi_rollup_dirty)  # rebuild P reads
        assert marks.clear(connection, kpi_rollup_dirty, read) == 1  # rebuild Q finishes
        marks.bump(connection, kpi_rollup_dirty, [day])  # a batch changes the day again
        assert marks.unchanged(connection, kpi_rollup_dirty, read) == set()
        assert marks.clear(connection, kpi_rollup_dirty, read) == 0  # P clears nothing
        assert list(marks.read(connection, kpi_rollup_dirty)) == [day]


def test_marks_of_two_key_columns(store: Engine) -> None:
    with store.begin() as connection:
        marks.bump(connection, text_sentiment_pending,
                   [("event", "e1"), ("interaction", "e1"), ("event", "e1")])
        read = marks.read(connection, text_sentiment_pending)
        assert sorted(read) == [("event", "e1"), ("interaction", "e1")]  # a key twice: once
        assert read[("event", "e1")] == read[("interaction", "e1")]  # one bump, one version
        assert marks.clear(connection, text_sentiment_pending,
                           {("event", "e1"): read[("event", "e1")]}) == 1
        assert list(marks.read(connection, text_sentiment_pending)) == [("interaction", "e1")]


@pytest.mark.postgres
def test_a_clear_waits_for_a_concurrent_bump_then_keeps_the_mark(
        postgres_store: Engine) -> None:
    with postgres_store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [("2026-03-01",)])
        read = marks.read(connection, kpi_rollup_dirty)
    cleared: list[int] = []
    with postgres_store.connect() as batch:
        transaction = batch.begin()
        marks.bump(batch, kpi_rollup_dirty, [("2026-03-01",)])  # a batch, not committed yet

        def rebuild() -> None:
            with postgres_store.begin() as connection:
                cleared.append(marks.clear(connection, kpi_rollup_dirty, read))

        clearing = threading.Thread(target=rebuild)
        clearing.start()
        time.sleep(0.5)
        assert clearing.is_alive()  # waits for the batch's row lock
        transaction.commit()
        clearing.join(30)
    assert cleared == [0]
    with postgres_store.connect() as connection:
        after = marks.read(connection, kpi_rollup_dirty)
        assert list(after) == [("2026-03-01",)] and after[("2026-03-01",)] > read[("2026-03-01",)]
        assert connection.execute(sa.select(sa.func.count()).select_from(kpi_rollup_dirty)
                                  ).scalar() == 1

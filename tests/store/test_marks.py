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
    with store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [("2026-03-01",), ("2026-03-02",)])
        marks.bump(connection, kpi_rollup_dirty, [("2026-03-02",)])
        read = marks.read(connection, kpi_rollup_dirty)
    assert read == {("2026-03-01",): 1, ("2026-03-02",): 2}
    with store.begin() as connection:
        marks.bump(connection, kpi_rollup_dirty, [("2026-03-01",)])  # changed after the read
        assert marks.unchanged(connection, kpi_rollup_dirty, read) == {("2026-03-02",)}
        assert marks.clear(connection, kpi_rollup_dirty, read) == 1
        assert marks.read(connection, kpi_rollup_dirty) == {("2026-03-01",): 2}


def test_marks_of_two_key_columns(store: Engine) -> None:
    with store.begin() as connection:
        marks.bump(connection, text_sentiment_pending,
                   [("event", "e1"), ("interaction", "e1"), ("event", "e1")])
        assert marks.read(connection, text_sentiment_pending) == {
            ("event", "e1"): 1, ("interaction", "e1"): 1}  # a key given twice: bumped once
        assert marks.clear(connection, text_sentiment_pending, {("event", "e1"): 1}) == 1
        assert marks.read(connection, text_sentiment_pending) == {("interaction", "e1"): 1}


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
        assert marks.read(connection, kpi_rollup_dirty) == {("2026-03-01",): 2}
        assert connection.execute(sa.select(sa.func.count()).select_from(kpi_rollup_dirty)
                                  ).scalar() == 1

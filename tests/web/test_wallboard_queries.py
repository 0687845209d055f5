"""The wallboard's queue query is answered by the partial index of open contacts (migration
0007) on both stores, and counts exactly the contacts still waiting."""

from __future__ import annotations

import calendar
import time
from datetime import date
from typing import Any

from sqlalchemy import Engine, event, inspect

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.sources import SourceRow
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiResult
from servicepulse.web.access import Access
from servicepulse.web.runners import RunContext, WallboardRunner


def _no_kpi(_engine: Engine, query: KpiQuery) -> KpiResult:
    return KpiResult(date(2026, 11, 2), date(2026, 11, 3), [], "all", {}, "UTC")


def test_the_open_contacts_index_exists(store: Engine) -> None:
    indexes = {index["name"] for index in inspect(store).get_indexes("interactions")}
    assert "ix_interactions_open" in indexes


def test_queues_count_only_the_contacts_still_waiting(store: Engine) -> None:
    now = time.time()

    def at(seconds_ago: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - seconds_ago))

    records = [
        {"type": "interaction", "id": "w1", "channel": "chat", "created_at": at(120)},
        {"type": "interaction", "id": "w2", "channel": "chat", "created_at": at(60)},
        {"type": "interaction", "id": "w3", "channel": "phone", "created_at": at(30)},
        {"type": "interaction", "id": "answered", "channel": "phone", "created_at": at(90),
         "answered_at": at(80)},
        {"type": "interaction", "id": "responded", "channel": "email", "created_at": at(90),
         "first_response_at": at(10)},
        {"type": "interaction", "id": "abandoned", "channel": "chat", "created_at": at(90),
         "abandoned_at": at(85)},
        {"type": "interaction", "id": "resolved", "channel": "email", "created_at": at(90),
         "resolved_at": at(5)},
        {"type": "interaction", "id": "outbound", "channel": "phone", "created_at": at(90),
         "direction": "outbound"},
    ]
    summary = import_rows(store, [SourceRow("t", i, r, "") for i, r in enumerate(records)])
    assert summary.quarantined == 0, summary.rejected
    context = RunContext(engine=store, kpi=_no_kpi, access=Access())
    queues = {q["channel"]: q for q in WallboardRunner(context).run_counts()["queues"]}
    done = time.time()
    assert {channel: q["waiting"] for channel, q in queues.items()} == {"chat": 2, "phone": 1}
    # w1's wait, from its created_at (whole seconds) to the query, between `now` and `done`
    # (however long the import took on a busy machine), to the second it is rounded to
    w1_created = calendar.timegm(time.gmtime(now - 120))
    assert now - w1_created - 1 <= queues["chat"]["longest_wait_s"] <= done - w1_created + 1


def test_sqlite_reads_the_queues_through_the_open_contacts_index(sqlite_store: Engine) -> None:
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(sqlite_store, "before_cursor_execute", seen)
    try:
        WallboardRunner(RunContext(engine=sqlite_store, kpi=_no_kpi, access=Access())
                        ).run_counts()
    finally:
        event.remove(sqlite_store, "before_cursor_execute", seen)
    statement, parameters = statements[0]  # the queues: waiting contacts per channel
    assert "coalesce(interactions.answered_at" in statement
    with sqlite_store.connect() as connection:
        plan = " | ".join(str(row[3]) for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "USING INDEX ix_interactions_open (created_at>? AND created_at<?)" in plan

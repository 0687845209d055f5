"""The quarantine service (`servicepulse.ingest.quarantine`), the one the CLI's `quarantine`
commands and the API's quarantine list both use, on SQLite and on the real PostgreSQL: count,
listing by file and by id, pages newest first, a retry after the limits were widened (what
passes is imported and leaves; what fails keeps its entry with the fresh reason; a
connector's source text is not retried) and drops that must name what they drop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from servicepulse.errors import InvalidRequest
from servicepulse.ingest import quarantine
from servicepulse.ingest.importer import Importer
from servicepulse.ingest.sources import SourceRow
from servicepulse.records import plausible
from servicepulse.store import tables

DAY = 86_400


def _interaction(ident: str, handle_s: float) -> dict[str, Any]:
    return {"type": "interaction", "id": ident, "channel": "phone",
            "created_at": "2026-03-02T09:00:00Z", "handle_s": handle_s}


@pytest.fixture
def quarantined(store: Engine) -> Iterator[Engine]:
    """a.jsonl: i1 (1.5 days), i2 (3 days), i3 (fine); b.jsonl: i4 (2 days); and one helpdesk
    ticket (not a canonical record) from zendesk:tickets.csv."""
    rows = [SourceRow("a.jsonl", line, data, orjson.dumps(data).decode())
            for line, data in enumerate([_interaction("i1", 1.5 * DAY),
                                         _interaction("i2", 3 * DAY),
                                         _interaction("i3", 600)], start=1)]
    four = _interaction("i4", 2 * DAY)
    rows.append(SourceRow("b.jsonl", 1, four, orjson.dumps(four).decode()))
    rows.append(SourceRow("zendesk:tickets.csv", 2, {"id": "z1"}, "z1,Printer on fire,open"))
    summary = Importer(store).import_rows(rows, after_import=False)
    assert summary.quarantined == 4
    previous = plausible.current()
    yield store
    plausible.configure(previous)


def _ids(engine: Engine) -> dict[str, int]:
    """Quarantine id by record id."""
    return {row["record_id"] or row["source"]: row["id"] for row in quarantine.rows(engine)}


def _interactions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(tables.interactions.c.id)).scalars())


def test_count_rows_and_pages(quarantined: Engine) -> None:
    engine = quarantined
    assert quarantine.count(engine) == 4
    ids = _ids(engine)
    assert set(ids) == {"i1", "i2", "i4", "z1"}
    assert [row["record_id"] for row in quarantine.rows(engine, source="a.jsonl")] == ["i1", "i2"]
    assert [row["line"] for row in quarantine.rows(engine, ids=[ids["i4"]])] == [1]
    assert len(quarantine.rows(engine, limit=3)) == 3
    oldest = quarantine.rows(engine)[0]
    assert (oldest["field"], oldest["kind"]) == ("handle_s", "interaction")
    assert oldest["reason"].startswith("over 86400 s, the longest plausible duration")
    total, first = quarantine.page(engine, 1, 3)
    total_again, second = quarantine.page(engine, 2, 3)
    assert total == total_again == 4
    newest_first = sorted(ids.values(), reverse=True)
    assert [row["id"] for row in first + second] == newest_first
    assert set(first[0]) == set(quarantine.PAGE_COLUMNS)


def test_a_retry_imports_what_passes_now_and_refreshes_the_rest(quarantined: Engine) -> None:
    engine = quarantined
    ids = _ids(engine)
    unchanged = quarantine.retry(engine)
    assert (unchanged.selected, unchanged.retried, unchanged.passed) == (4, 3, 0)
    assert (unchanged.still, unchanged.not_canonical) == (4, 1)
    # two days are plausible now: i1 (1.5 days) passes, i2 (3 days) fails with the new limit
    plausible.configure(plausible.Plausibility(max_duration_s=2 * DAY))
    result = quarantine.retry(engine, source="a.jsonl")
    assert (result.selected, result.retried, result.passed, result.still) == (2, 2, 1, 1)
    assert _interactions(engine) == {"i1", "i3"}
    assert set(_ids(engine)) == {"i2", "i4", "z1"}
    [i2] = quarantine.rows(engine, ids=[ids["i2"]])
    assert i2["reason"].startswith("over 172800 s, the longest plausible duration")
    # by id: i4 (exactly two days) passes
    assert quarantine.retry(engine, ids=[ids["i4"]]).passed == 1
    assert _interactions(engine) == {"i1", "i3", "i4"}
    assert quarantine.count(engine) == 2


def test_a_drop_names_what_it_drops(quarantined: Engine) -> None:
    engine = quarantined
    ids = _ids(engine)
    with pytest.raises(InvalidRequest, match="name quarantine ids, a source file or every row"):
        quarantine.drop(engine)
    assert quarantine.drop(engine, ids=[ids["i4"]]) == 1
    assert quarantine.drop(engine, source="a.jsonl") == 2
    assert quarantine.drop(engine, source="a.jsonl") == 0
    assert quarantine.drop(engine, everything=True) == 1
    assert quarantine.count(engine) == 0

"""The importer on the real stores: idempotence, updates, order, offsets, quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select, text

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.ingest.sources import SourceRow
from servicepulse.store import tables
from tests.conftest import FIXTURES

CENTRE = FIXTURES / "ingest" / "contact_centre.jsonl"
# 20 lines: 16 valid records; bad: line 11 (not JSON), 13 (NPS 11 outside 0-10),
# 15 (state ends before it starts), 19 (channel "fax").


def _row(engine: Engine, table: str, record_id: str) -> dict[str, object]:
    with engine.connect() as connection:
        row = connection.execute(text(f"select * from {table} where id = :id"),
                                 {"id": record_id}).mappings().one()
    return dict(row)


def test_mixed_partly_broken_file_keeps_every_good_record(store: Engine) -> None:
    summary = import_rows(store, read_paths([CENTRE]), batch_size=4)
    assert summary.as_json() == {
        "inserted": {"team": 1, "agent": 3, "customer": 1, "interaction": 2, "event": 4,
                     "survey": 1, "agent_state": 1, "shift": 1, "order": 1, "social_post": 1},
        "updated": {}, "unchanged": {}, "quarantined": 4,
    }
    with store.connect() as connection:
        quarantined = connection.execute(
            select(tables.quarantine.c.line, tables.quarantine.c.field,
                   tables.quarantine.c.reason).order_by(tables.quarantine.c.line)).all()
    assert [(line, field) for line, field, _ in quarantined] == [
        (11, None), (13, "score"), (15, "end"), (19, "channel")]
    assert "not valid JSON" in quarantined[0][2]
    assert quarantined[1][2] == "11 is outside the nps scale 0–10"


def test_importing_twice_changes_nothing(store: Engine) -> None:
    import_rows(store, read_paths([CENTRE]))
    again = import_rows(store, read_paths([CENTRE]), batch_size=3)
    assert sum(again.inserted.values()) == 0
    assert sum(again.updated.values()) == 0
    assert sum(again.unchanged.values()) == 16
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables.quarantine)).scalar() == 4


def test_events_out_of_order_and_across_batches_build_the_interaction(store: Engine) -> None:
    # i1's events arrive before and after the interaction record, out of `at` order, and the
    # batch size of 2 splits them across transactions.
    import_rows(store, read_paths([CENTRE]), batch_size=2)
    i1 = _row(store, "interactions", "i1")
    assert i1["created_at"] == 1772442000.0  # created event 09:00:00Z (record said 09:00:30Z)
    assert i1["first_response_at"] == 1772442000.0 + 180  # first public agent message 09:03
    assert i1["resolved_at"] == 1772442000.0 + 480  # resolved event 09:08
    assert i1["talk_s"] == 300 and i1["wrap_s"] == 30  # kept from the record: no events say
    assert orjson.loads(str(i1["given"]))["created_at"] == 1772442030.0


def test_time_offsets_and_naive_times_are_utc(store: Engine) -> None:
    import_rows(store, read_paths([CENTRE]))
    i2 = _row(store, "interactions", "i2")
    assert i2["created_at"] == 1772442600.0  # 2026-03-02T09:10:00 without offset = UTC
    assert i2["answered_at"] - i2["created_at"] == 25


def test_new_content_updates_and_same_content_is_unchanged(store: Engine) -> None:
    import_rows(store, read_paths([CENTRE]))
    changed = {"type": "agent", "id": "a2", "name": "Ben Okafor", "role": "technical_support",
               "team_id": "t1"}
    same = {"type": "team", "id": "t1", "name": "Tier 1", "lead_id": "a3"}
    rows = [SourceRow("api", n, data, orjson.dumps(data).decode())
            for n, data in enumerate([changed, same], start=1)]
    summary = import_rows(store, rows)
    assert summary.as_json()["updated"] == {"agent": 1}
    assert summary.as_json()["unchanged"] == {"team": 1}
    assert _row(store, "agents", "a2")["role"] == "technical_support"


def test_a_later_reopen_event_reopens_a_stored_interaction(store: Engine) -> None:
    import_rows(store, read_paths([CENTRE]))
    reopen = {"type": "event", "id": "i2-r", "interaction_id": "i2", "kind": "reopened",
              "at": "2026-03-03T08:00:00Z", "actor": "customer"}
    import_rows(store, [SourceRow("api", 1, reopen, "")])
    i2 = _row(store, "interactions", "i2")
    assert i2["resolved_at"] is None and i2["reopens"] == 1


def test_quarantined_record_leaves_quarantine_when_fixed(store: Engine, tmp_path: Path) -> None:
    import_rows(store, read_paths([CENTRE]))
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text('{"type": "interaction", "id": "i3", "channel": "email", '
                     '"created_at": "2026-03-02T09:00:00Z"}\n')
    import_rows(store, read_paths([fixed]))
    with store.connect() as connection:
        lines = connection.execute(select(tables.quarantine.c.line)).scalars().all()
    assert sorted(lines) == [11, 13, 15]


def test_per_kind_csv(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "agents.csv"
    path.write_text("id,name,role,languages,hourly_cost\n"
                    "a1,Ana,frontline,en;es,20.5\n"
                    "a2,Ben,pilot,,\n"
                    "a3,Chloe,team_lead,\"[\"\"fr\"\"]\",\n")
    summary = import_rows(store, read_paths([path]))
    assert summary.as_json()["inserted"] == {"agent": 2}
    assert summary.rejected[0][0] == 3 and summary.rejected[0][1].field == "role"
    a1 = _row(store, "agents", "a1")
    assert a1["hourly_cost"] == 20.5
    assert a1["languages"] in (["en", "es"], '["en", "es"]', '["en","es"]')


@pytest.mark.parametrize("valid", [
    {"type": "survey", "id": "x", "kind": "csat", "score": 4,
     "submitted_at": "2026-03-02T09:00:00Z"},
    {"type": "interaction", "id": "x", "channel": "chat", "created_at": "2026-03-02T09:00:00Z"},
])
def test_unknown_fields_are_rejected_with_their_name(sqlite_store: Engine,
                                                     valid: dict[str, object]) -> None:
    summary = import_rows(sqlite_store, [SourceRow("api", 7, {**valid, "colour": "red"}, "")])
    assert summary.quarantined == 1
    line, error = summary.rejected[0]
    assert line == 7 and error.field == "colour"
    assert error.reason == f"unknown field for a {valid['type']} record"


def test_parallel_import_stores_the_same_as_serial(tmp_path: Path) -> None:
    from servicepulse.store.database import open_store

    results = []
    for workers in (0, 1):
        engine = open_store(f"sqlite:///{tmp_path / f'w{workers}.db'}")
        summary = import_rows(engine, read_paths([CENTRE], parse=workers == 0), batch_size=3,
                              workers=workers)
        with engine.connect() as connection:
            stored = connection.execute(text(
                "select id, created_at, first_response_at, resolved_at, content_hash "
                "from interactions order by id")).all()
            lines = connection.execute(select(tables.quarantine.c.line)
                                       .order_by(tables.quarantine.c.line)).scalars().all()
        results.append((summary.as_json(), stored, lines))
        engine.dispose()
    assert results[0] == results[1]
    assert results[1][2] == [11, 13, 15, 19]


def test_summary_counters_hold_no_zero_entries(sqlite_store: Engine) -> None:
    import_rows(sqlite_store, read_paths([CENTRE]))
    again = import_rows(sqlite_store, read_paths([CENTRE]))
    assert not again.inserted and not again.updated  # "nothing changed" is falsy


def _pipeline_rows(repeats: bool = False) -> list[SourceRow]:
    """2,500 interactions (three chunks of a pipelined batch), line 2000 refused; `repeats`:
    i-10 again in another chunk with a new channel and i-20 again unchanged."""
    records: list[dict[str, object]] = [
        {"type": "interaction", "id": f"i-{n}", "channel": "email",
         "created_at": "2026-11-02T09:00:00Z"} for n in range(2500)]
    records[2000] = {**records[2000], "channel": "pigeon"}
    if repeats:
        records[1500] = {**records[10], "channel": "chat"}
        records[2100] = dict(records[20])
    return [SourceRow("test", n, record, orjson.dumps(record).decode())
            for n, record in enumerate(records)]


def test_pipelined_import_counts_and_stores_as_one_batch(store: Engine) -> None:
    from servicepulse.ingest import importer

    summary = importer.Importer(store, pipeline=True).import_rows(_pipeline_rows())
    assert importer._pool is not None  # prepared in the worker process
    assert summary.as_json() == {"inserted": {"interaction": 2499}, "updated": {},
                                 "unchanged": {}, "quarantined": 1}
    assert summary.rows == 2500
    assert [(line, error.field) for line, error in summary.rejected] == [(2000, "channel")]
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(tables.interactions)
                                  ).scalar() == 2499
        assert connection.execute(select(tables.quarantine.c.line)).scalars().all() == [2000]
    again = importer.Importer(store, pipeline=True).import_rows(_pipeline_rows())
    assert again.as_json() == {"inserted": {}, "updated": {}, "unchanged": {"interaction": 2499},
                               "quarantined": 1}
    with store.connect() as connection:
        assert connection.execute(select(tables.quarantine.c.line)).scalars().all() == [2000]


def test_a_batch_repeating_an_id_counts_as_the_serial_import(store: Engine) -> None:
    from servicepulse.ingest import importer

    # prepared whole (not chunk by chunk): a repeat counts once as updated or unchanged,
    # its last version is stored; the same again when the batch is posted twice
    expected = [{"inserted": {"interaction": 2497}, "updated": {"interaction": 1},
                 "unchanged": {"interaction": 1}, "quarantined": 1},
                {"inserted": {}, "updated": {"interaction": 1},
                 "unchanged": {"interaction": 2498}, "quarantined": 1}]
    for want in expected:
        summary = importer.Importer(store, pipeline=True).import_rows(_pipeline_rows(True))
        assert summary.as_json() == want
        assert _row(store, "interactions", "i-10")["channel"] == "chat"


def test_pipelined_import_survives_a_dead_worker(sqlite_store: Engine) -> None:
    import os
    import signal

    from servicepulse.ingest import importer

    pool = importer.prepare_pool()
    assert pool is not None
    pool.submit(int).result()  # the worker is running
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    summary = importer.Importer(sqlite_store, pipeline=True).import_rows(_pipeline_rows())
    assert summary.as_json()["inserted"] == {"interaction": 2499}
    assert summary.quarantined == 1
    assert importer.prepare_pool() is not pool  # the next import starts a new worker


def test_source_rows_pickle_as_they_were() -> None:
    import pickle

    from servicepulse.records.validate import RecordError

    rows = [SourceRow("a.csv", 3, {"id": "x"}, "id\nx", None, "agent"),
            SourceRow("api", None, None, "{", RecordError(None, "not valid JSON", "team", "t"))]
    assert [pickle.loads(pickle.dumps(row)) for row in rows] == rows


def test_utc_days_of_many_instants_round_as_one_at_a_time() -> None:
    from datetime import date

    from servicepulse.ingest.importer import _utc_days

    # 100 days = 8,640,000 s; 0.4 us before it rounds to midnight (fromtimestamp keeps
    # microseconds, half to even), 0.6 us before stays on day 99 (10 April 1970)
    assert _utc_days([8639999.9999996]) == {date(1970, 4, 11)}
    assert _utc_days([8639999.9999994, 8640000.0 - 3600]) == {date(1970, 4, 10)}
    assert _utc_days([0.0, -1.0, 86399.5, 1796515199.9999998]) == {
        date(1970, 1, 1), date(1969, 12, 31), date(2026, 12, 6)}
    assert _utc_days([]) == set()


def test_a_batch_of_new_and_changed_interactions_with_events(store: Engine) -> None:
    """The hooks of a batch use what the importer stored (inserted ids, resolved_at after the
    events) instead of looking it up: the same stored rows and stale rollup days."""
    from servicepulse.ingest.importer import Importer
    from servicepulse.kpi.tables import kpi_rollup_dirty

    def interaction(key: str, created: str, resolved: str | None = None) -> dict[str, object]:
        record = {"type": "interaction", "id": key, "channel": "email", "created_at": created}
        return record if resolved is None else {**record, "resolved_at": resolved}

    old = interaction("i-old", "2026-03-02T10:00:00Z", "2026-03-04T09:00:00Z")
    same = interaction("i-same", "2026-03-01T10:00:00Z", "2026-03-20T10:00:00Z")
    # an event stored before its interaction: resolves i-early when that arrives
    early_event = {"type": "event", "id": "e-early", "interaction_id": "i-early",
                   "kind": "resolved", "at": "2026-03-06T12:00:00Z", "actor": "agent"}
    import_rows(store, [SourceRow("t", n, r, "") for n, r in
                        enumerate([old, same, early_event])])
    with store.begin() as connection:
        connection.execute(kpi_rollup_dirty.delete())

    batch = [
        # changed: resolved later, then reopened by an event of the same batch (open again)
        interaction("i-old", "2026-03-02T10:00:00Z", "2026-03-09T09:00:00Z"),
        {"type": "event", "id": "e-reopen", "interaction_id": "i-old", "kind": "reopened",
         "at": "2026-03-10T08:00:00Z", "actor": "customer"},
        same,  # unchanged
        interaction("i-early", "2026-03-05T10:00:00Z"),  # new, resolved by the stored event
        interaction("i-plain", "2026-03-07T10:00:00Z", "2026-03-08T23:00:00Z"),  # new
    ]
    summary = Importer(store).import_rows([SourceRow("t", n, r, "") for n, r in
                                           enumerate(batch)], after_import=False)
    assert summary.as_json() == {
        "inserted": {"event": 1, "interaction": 2}, "updated": {"interaction": 1},
        "unchanged": {"interaction": 1}, "quarantined": 0}
    stored = {key: _row(store, "interactions", key)
              for key in ("i-old", "i-same", "i-early", "i-plain")}
    march = 1772323200.0  # 2026-03-01T00:00:00Z
    assert {key: (row["created_at"], row["resolved_at"], row["reopens"])
            for key, row in stored.items()} == {
        "i-old": (march + 86400 + 36000, None, 1),
        "i-same": (march + 36000, march + 19 * 86400 + 36000, 0),
        "i-early": (march + 4 * 86400 + 36000, march + 5 * 86400 + 43200, 0),
        "i-plain": (march + 6 * 86400 + 36000, march + 7 * 86400 + 82800, 0),
    }
    assert {key: (row["first_response_business_s"], row["resolution_business_s"])
            for key, row in stored.items()} == {key: (None, None) for key in stored}
    assert orjson.loads(str(stored["i-old"]["given"]))["resolved_at"] == march + 8 * 86400 + 32400
    with store.connect() as connection:
        dirty = sorted(connection.execute(select(kpi_rollup_dirty.c.day)).scalars())
    # the days of what changed: i-old's created and given resolved days, its event's day and
    # the day it was resolved on before (03-04: it leaves that day's resolutions), the new
    # ones' created days, i-plain's resolved day and i-early's resolved day (by its stored
    # event); not i-same's
    assert dirty == ["2026-03-02", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07",
                     "2026-03-08", "2026-03-09", "2026-03-10"]


def test_pipelined_chunks_run_the_batch_hooks_once_with_what_they_all_changed(
        store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hooks run once per batch (one transaction), after every chunk is written, with
    the union of what the chunks changed; an interaction a later chunk re-derives (an event
    of that chunk reopens it) loses its resolved_at hint, so the hooks look it up."""
    from servicepulse.ingest import importer
    from servicepulse.ingest.hooks import Touched
    from servicepulse.kpi.tables import kpi_rollup_dirty

    records: list[dict[str, object]] = [
        {"type": "interaction", "id": f"i-{n}", "channel": "email",
         "created_at": "2026-11-02T09:00:00Z"} for n in range(2499)]
    records[5] = {**records[5], "resolved_at": "2026-11-03T10:00:00Z"}  # chunk 1 of 4
    records.append({"type": "event", "id": "e-reopen", "interaction_id": "i-5",  # chunk 4
                    "kind": "reopened", "at": "2026-11-04T08:00:00Z", "actor": "customer"})
    seen: list[Touched] = []

    def record(connection: object, touched: Touched) -> None:
        seen.append(touched)

    hooks = importer.load_hooks()
    monkeypatch.setattr(importer, "load_hooks", lambda: [*hooks, record])
    summary = importer.Importer(store, pipeline=True).import_rows(
        [SourceRow("test", n, r, "") for n, r in enumerate(records)], after_import=False)
    assert summary.as_json() == {"inserted": {"interaction": 2499, "event": 1}, "updated": {},
                                 "unchanged": {}, "quarantined": 0}
    assert len(seen) == 1
    touched = seen[0]
    assert touched.kinds == {"interaction": {f"i-{n}" for n in range(2499)},
                             "event": {"e-reopen"}}
    assert touched.inserted_interactions == {f"i-{n}" for n in range(2499)}
    assert set(touched.resolved_at) == {f"i-{n}" for n in range(2499)} - {"i-5"}
    assert set(touched.resolved_at.values()) == {None}
    i5 = _row(store, "interactions", "i-5")
    assert (i5["resolved_at"], i5["reopens"]) == (None, 1)
    with store.connect() as connection:
        dirty: list[str] = sorted(connection.execute(select(kpi_rollup_dirty.c.day)).scalars())
    # created, the resolution i-5 left, the reopening
    assert dirty == ["2026-11-02", "2026-11-03", "2026-11-04"]


def test_a_fixed_record_leaves_the_quarantine_of_its_own_kind_only(store: Engine) -> None:
    bad_interaction = {"type": "interaction", "id": "x", "channel": "fax",
                       "created_at": "2026-03-02T09:00:00Z"}
    bad_survey = {"type": "survey", "id": "x", "kind": "nps", "score": 11,
                  "submitted_at": "2026-03-02T09:00:00Z"}
    import_rows(store, [SourceRow("api", 1, bad_interaction, "1"),
                        SourceRow("api", 2, bad_survey, "2")])
    fixed = {**bad_interaction, "channel": "email"}
    summary = import_rows(store, [SourceRow("api", 3, fixed, "3")])
    assert summary.as_json()["inserted"] == {"interaction": 1}
    with store.connect() as connection:
        left = connection.execute(select(tables.quarantine.c.kind, tables.quarantine.c.line)
                                  ).all()
    assert [tuple(row) for row in left] == [("survey", 2)]


def test_given_is_the_record_as_prepared(store: Engine) -> None:
    """`given` holds the validated record (times as epoch seconds, defaults filled in), and
    only that: not itself."""
    record = {"type": "interaction", "id": "g-1", "channel": "chat",
              "created_at": "2026-03-02T09:00:00Z", "agent_id": "a-1"}
    import_rows(store, [SourceRow("api", 1, record, "")])
    given = orjson.loads(str(_row(store, "interactions", "g-1")["given"]))
    assert "given" not in given
    assert {key: given[key] for key in ("id", "channel", "created_at", "agent_id",
                                         "direction", "reopens", "escalated")} == {
        "id": "g-1", "channel": "chat", "created_at": 1772442000.0, "agent_id": "a-1",
        "direction": "inbound", "reopens": 0, "escalated": False}


def test_touched_absorbs_a_later_part_with_its_hints() -> None:
    from servicepulse.ingest.hooks import Touched

    first = Touched(kinds={"interaction": {"a", "b"}}, interaction_ids={"a", "b"},
                    inserted_interactions={"a", "b"}, resolved_at={"a": 1.0, "b": None})
    # the later part inserts c and re-derives a (an event of it) without a hint for a
    later = Touched(kinds={"interaction": {"c"}, "event": {"e"}}, interaction_ids={"a", "c"},
                    inserted_interactions={"c"}, resolved_at={"c": 3.0})
    first.absorb(later)
    assert first.kinds == {"interaction": {"a", "b", "c"}, "event": {"e"}}
    assert first.interaction_ids == {"a", "b", "c"}
    assert first.inserted_interactions == {"a", "b", "c"}
    assert first.resolved_at == {"b": None, "c": 3.0}


def test_sqlite_writers_checkpoint_the_wal_every_10000_pages(sqlite_store: Engine) -> None:
    # an API batch writes about 2,000 pages: SQLite's default (1,000) checkpointed every one
    with sqlite_store.connect() as connection:
        pragmas = [connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("wal_autocheckpoint", "journal_mode", "synchronous")]
    assert pragmas == [10000, "wal", 1]  # synchronous 1: NORMAL


def test_new_events_beside_their_interaction_given_again_unchanged_are_projected(
        store: Engine) -> None:
    """An interaction sent again unchanged in the batch that brings new events of its own
    (two feeds, or a retried request holding more) is re-derived all the same. Found by the
    fault matrix's concurrent imports: the hold time stayed 0 where a clean import had 188."""
    interaction = {"type": "interaction", "id": "x1", "channel": "phone",
                   "created_at": "2026-03-02T10:00:00Z", "answered_at": "2026-03-02T10:00:20Z"}

    def rows(*records: dict[str, Any]) -> list[SourceRow]:
        return [SourceRow("feed", n, record, orjson.dumps(record).decode())
                for n, record in enumerate(records, 1)]

    import_rows(store, rows(interaction))
    events = [{"type": "event", "id": f"e{n}", "interaction_id": "x1", "kind": kind,
               "at": f"2026-03-02T10:{minute}Z"}
              for n, (kind, minute) in enumerate([("hold_start", "01:00"), ("hold_end", "04:08"),
                                                  ("resolved", "06:00")], 1)]
    summary = import_rows(store, rows(interaction, *events))
    assert summary.as_json()["unchanged"] == {"interaction": 1}
    x1 = _row(store, "interactions", "x1")
    assert x1["hold_s"] == 188.0  # 10:01:00 to 10:04:08
    assert x1["resolved_at"] == 1772445960.0  # 2026-03-02T10:06:00Z


def test_a_row_of_an_unknown_overlong_type_is_quarantined_without_a_kind(store: Engine) -> None:
    """A `type` that names no kind is not stored as the quarantine's kind: on PostgreSQL one
    over 40 characters stopped the import (StringDataRightTruncation)."""
    record = {"type": "x" * 60, "id": "r1"}
    summary = import_rows(store, [SourceRow("feed", 1, record, orjson.dumps(record).decode())])
    assert summary.quarantined == 1
    with store.connect() as connection:
        assert connection.execute(select(tables.quarantine.c.kind, tables.quarantine.c.line)
                                  ).all() == [(None, 1)]

"""`verify` of the KPI rollup and the business-hours durations: a clean import verifies
clean; each corruption made directly in the store is reported exactly (values worked out
from tests/fixtures/store/verify.jsonl) and repaired; a day marked stale is pending.

The fixture (UTC, calendar 09:00-17:00 on weekdays for team t1 only; 2026-03-02 a Monday):
i1 chat a1/t1 created 03-02 16:00, answered 16:00:30, resolved 03-03 10:00: business-hours
first response 30 s, resolution 3,600 + 3,600 = 7,200 s (bucket 40: 1.25^39 <= 7200 < 1.25^40);
i2 email a1/t1 created 03-02 10:00, first response 12:00, resolved 15:00: 7,200 and 18,000 s
(bucket 44); i3 phone a2/t2 03-03 09:00, answered 09:01: no calendar, durations null.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from servicepulse.kpi import business_hours_verify, rollup_verify
from servicepulse.kpi.tables import (
    kpi_daily_rollup,
    kpi_daily_sums_team_packed,
    kpi_monthly_histogram_team_packed,
    kpi_rollup_dirty,
)
from servicepulse.store import tables
from servicepulse.store.derived import DerivedCheck, Difference, run_checks
from tests.conftest import FIXTURES
from tests.kpi.helpers import BACKENDS, loaded_store

CHECKS: list[DerivedCheck] = [business_hours_verify.CHECK, rollup_verify.CHECK]
VERIFY = FIXTURES / "store" / "verify.jsonl"


# Every test here starts from the fixture imported: `store` and `sqlite_store` hold it
# (imported once per test process, copied per test).
@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with loaded_store(request.param, tmp_path, VERIFY) as engine:
        yield engine


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    with loaded_store("sqlite", tmp_path, VERIFY) as engine:
        yield engine


def _found(store: Engine) -> dict[str, list[Difference]]:
    report = run_checks(store, CHECKS)
    return {kind.kind: kind.found.differences for kind in report.kinds}


def _corrupt(store: Engine, *statements: Any) -> None:
    with store.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def test_a_clean_import_verifies_clean(store: Engine) -> None:
    report = run_checks(store, CHECKS)
    assert report.consistent
    assert [kind.kind for kind in report.kinds] == ["business hours", "rollup"]
    assert report.kinds[0].found.checked == 3  # interactions
    assert report.kinds[1].found.checked > 0


def test_rollup_corruptions_are_found_exactly_and_repaired(store: Engine) -> None:
    r, p, m = kpi_daily_rollup, kpi_daily_sums_team_packed, kpi_monthly_histogram_team_packed
    _corrupt(store,
             update(r).where(r.c.day == "2026-03-02", r.c.agent == "a1", r.c.channel == "chat")
             .values(contacts__n=5),
             delete(p).where(p.c.day == "2026-03-03", p.c.team == "t2"),
             delete(m).where(m.c.measure == "ttr__business_hours", m.c.channel == "email"))
    found = _found(store)
    assert found["business hours"] == []
    differences = found["rollup"]
    assert len(differences) == 3
    count, packed_row, month_row = sorted(differences, key=lambda item: item.detail)
    assert count == Difference("rollup", "2026-03-02",
                               "agent=a1, team=t1, role=frontline, channel=chat", 5.0, 1.0,
                               "kpi_daily_rollup: contacts__n")
    assert (packed_row.day, packed_row.group, packed_row.stored, packed_row.detail) == (
        "2026-03-03", "team=t2, role=frontline, channel=phone", None,
        "kpi_daily_sums_team_packed: row missing")
    # i3: one inbound phone contact answered after 60 s
    assert packed_row.recomputed["contacts__n"] == 1.0
    assert packed_row.recomputed["asa__sum"] == 60.0
    assert month_row == Difference(
        "rollup", "2026-03-01", "team=t1, role=frontline, channel=email", None, {44: 1},
        "kpi_monthly_histogram_team_packed: ttr__business_hours row missing")

    report = run_checks(store, CHECKS, repair=True)
    # the days rebuilt: 03-02, 03-03 and 03-01 (the month's row: a day of that month)
    assert report.consistent and report.kinds[1].repaired == 3  # checked again: clean


def test_a_wrong_duration_is_reported_once_and_repaired(store: Engine) -> None:
    i = tables.interactions
    _corrupt(store, update(i).where(i.c.id == "i1").values(resolution_business_s=3600.0))
    # the rollup is recomputed from the recomputed durations: it matches what is stored
    assert _found(store) == {"business hours": [Difference(
        "business hours", "2026-03-02", "i1", 3600.0, 7200.0, "resolution_business_s")],
        "rollup": []}
    report = run_checks(store, CHECKS, repair=True)
    assert report.consistent and report.kinds[0].repaired == 1
    with store.connect() as connection:
        assert connection.execute(select(i.c.resolution_business_s).where(
            i.c.id == "i1")).scalar_one() == 7200.0


def test_a_stale_day_is_pending_and_covers_its_days(store: Engine) -> None:
    r = kpi_daily_rollup
    # 03-02 lies in what a rebuild of 03-03 recomputes (the repeat window before it)
    _corrupt(store, insert(kpi_rollup_dirty).values(day="2026-03-03"),
             update(r).where(r.c.day == "2026-03-02", r.c.agent == "a1",
                             r.c.channel == "email").values(contacts__n=7))
    assert _found(store)["rollup"] == [Difference(
        "rollup", "2026-03-03", "", None, None,
        "pending rebuild (kpi_rollup_dirty): marked stale by an import; 1 rollup value(s) "
        "on the days its rebuild covers differ until then", pending=True)]
    report = run_checks(store, CHECKS, repair=True)
    assert report.consistent
    with store.connect() as connection:
        assert connection.execute(select(kpi_rollup_dirty)).all() == []
        assert connection.execute(select(r.c.contacts__n).where(
            r.c.day == "2026-03-02", r.c.agent == "a1", r.c.channel == "email")
        ).scalar_one() == 1.0


@pytest.mark.parametrize("day", ["2026-02-10"])
def test_rows_on_days_without_data_are_reported(sqlite_store: Engine, day: str) -> None:
    p = kpi_daily_sums_team_packed
    with sqlite_store.connect() as connection:
        row = dict(connection.execute(select(p).where(p.c.team == "t2")).mappings().one())
    _corrupt(sqlite_store, insert(p).values({**row, "day": day}))
    [extra] = _found(sqlite_store)["rollup"]
    assert (extra.day, extra.group, extra.recomputed, extra.detail) == (
        day, "team=t2, role=frontline, channel=phone", None,
        "kpi_daily_sums_team_packed: row the records do not give")
    assert extra.stored["contacts__n"] == 1.0
    assert run_checks(sqlite_store, CHECKS, repair=True).consistent

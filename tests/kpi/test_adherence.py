"""Schedule adherence and conformance, worked by hand (tests/fixtures/kpi/adherence.jsonl).

Agent a1, shift 09:00-17:00 UTC on 2 March with a break 12:00-12:30 and a meeting
15:00-16:00 (and an explicit work stretch 09:00-10:00, the same as the default). States:
available 08:30-10:00 (starts before the shift), handling 10:00-12:10 (10 min into the
break), break 12:10-12:40 (10 min past it), available 12:40-15:00, meeting 15:00-15:45,
available 15:45-17:30 (past the shift's end), offline after.
  planned work 390 min, of it in work states 405 - 25 = 380 (12:30-12:40 is a break)
  break 20 of 30 min, meeting 45 of 60 min: adherent 380 + 20 + 45 = 445 of 480 min
  adherence 445 / 480 = 92.7083 %; conformance: work states 90 + 130 + 140 + 105 = 465 min
  (inside or outside the shift) / 390 planned work = 119.2308 %.
Agent a2, a night shift 22:00-02:00 with a training 00:30-01:30: after_call_work 21:00-01:00,
training 01:00-02:00. Clipped to days: 2 March 120 of 120 min adherent (100 %), work 180 min
/ 120 planned = 150 %; 3 March work 00:00-00:30 and training 01:00-01:30 adherent, 60 of 120
(50 %), work 60 / 60 = 100 %.
Agent a3 has states (60 min available) and no shift: no adherence (n = 0).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from servicepulse.store.tables import shift_activities
from tests.kpi.helpers import KPI_FIXTURES, load, rows_by_group

FIXTURE = KPI_FIXTURES / "adherence.jsonl"
UTC_SETTINGS = KpiSettings(timezone="UTC")
KPIS = ["adherence", "conformance"]


def _query(store: Engine, **query: object) -> dict[tuple[object, ...], dict[str, object]]:
    document = run_kpi_query(store, KpiQuery.model_validate(
        {"from": "2026-03-02", "to": "2026-03-04", "kpis": KPIS, **query}), UTC_SETTINGS)
    return {key: {name: (result["value"], result["n"]) for name, result in kpis.items()}
            for key, kpis in rows_by_group(document).items()}


def test_by_agent_and_day_clipped_to_the_day(store: Engine) -> None:
    load(store, FIXTURE)
    assert _query(store, by=["agent"], period="day") == {
        ("a1", "2026-03-02"): {"adherence": (92.7083, 1), "conformance": (119.2308, 1)},
        ("a2", "2026-03-02"): {"adherence": (100.0, 1), "conformance": (150.0, 1)},
        ("a2", "2026-03-03"): {"adherence": (50.0, 1), "conformance": (100.0, 1)},
        ("a3", "2026-03-02"): {"adherence": (None, 0), "conformance": (None, 0)},
    }


def test_by_team_over_the_whole_range(store: Engine) -> None:
    # adherent 445 + 120 + 60 = 625 of 720 scheduled min; work 465 + 180 + 60 + a3's 60 =
    # 765 min against 390 + 180 planned work min; n = 2 shifts (a2's counted once)
    load(store, FIXTURE)
    assert _query(store, by=["team"], period="all") == {
        ("t1",): {"adherence": (round(100 * 625 / 720, 4), 2),
                  "conformance": (round(100 * 765 / 570, 4), 2)},
    }


def test_a_changed_shift_rewrites_its_activities(sqlite_store: Engine, tmp_path: Path) -> None:
    load(sqlite_store, FIXTURE)
    changed = tmp_path / "changed.jsonl"
    # a1's shift again, without its break and meeting: all 480 min are planned work, of
    # which 405 min are in work states
    changed.write_text('{"type": "shift", "id": "sh-a1", "agent_id": "a1", "start": '
                       '"2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z"}\n')
    load(sqlite_store, changed)
    with sqlite_store.connect() as connection:
        kept: Sequence[str] = connection.execute(
            select(shift_activities.c.shift_id)).scalars().all()
    assert kept == ["sh-a2"]
    result = _query(sqlite_store, by=["agent"], period="all", filters={"agent": ["a1"]})
    assert result == {("a1",): {"adherence": (round(100 * 405 / 480, 4), 1),
                                "conformance": (round(100 * 465 / 480, 4), 1)}}


@pytest.mark.parametrize(("activities", "field", "reason"), [
    ('[{"kind": "break", "start": "2026-03-02T08:45:00Z", "end": "2026-03-02T09:15:00Z"}]',
     "activities.0", "is outside its shift"),
    ('[{"kind": "break", "start": "2026-03-02T12:00:00Z", "end": "2026-03-02T12:30:00Z"}, '
     '{"kind": "meeting", "start": "2026-03-02T12:15:00Z", "end": "2026-03-02T13:00:00Z"}]',
     "activities.1", "overlaps activities.0"),
    ('[{"kind": "lunch", "start": "2026-03-02T12:00:00Z", "end": "2026-03-02T12:30:00Z"}]',
     "activities.0.kind", "'break'"),
])
def test_bad_activities_are_quarantined_with_field_and_reason(
        sqlite_store: Engine, tmp_path: Path, activities: str, field: str, reason: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "shift", "id": "bad", "agent_id": "a1", "start": '
                   '"2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z", '
                   f'"activities": {activities}}}\n')
    summary = import_rows(sqlite_store, read_paths([bad]))
    assert summary.quarantined == 1
    (line, error), = summary.rejected
    assert line == 1 and error.field == field and reason in error.reason


def test_csv_shifts_carry_activities_as_json(sqlite_store: Engine, tmp_path: Path) -> None:
    shifts = tmp_path / "shift.csv"
    shifts.write_text(
        'id,agent_id,start,end,activities\n'
        'c1,a1,2026-03-02T09:00:00Z,2026-03-02T17:00:00Z,"[{""kind"": ""break"", '
        '""start"": ""2026-03-02T12:00:00Z"", ""end"": ""2026-03-02T12:30:00Z""}]"\n')
    load(sqlite_store, shifts)
    with sqlite_store.connect() as connection:
        rows = connection.execute(select(shift_activities)).all()
    assert [(row.shift_id, row.kind, row.end - row.start) for row in rows] == \
        [("c1", "break", 1800.0)]


def _at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_plan_counts_until_now(store: Engine, tmp_path: Path) -> None:
    """Today's adherence reads the day so far: the part of a running shift still to come has
    no states yet and is not counted, nor is a shift not begun. Around the real clock (now0,
    a whole second; the query's now is a few seconds later, d):
    - b1: shift now0−2h .. now0+6h with a break planned at now0+1h; available since its start
      (open): 2 h + d scheduled, all of it work in work states: 100 % and 100 % (without the
      clip 2 of 8 h: 25 %);
    - b2: shift now0−3h .. now0+5h, break planned now0−30min .. now0+30min (running now);
      available until the break, on break since (open): adherent 2.5 h + (30 min + d) of
      3 h + d; work 2.5 h of 2.5 h planned work (the break so far is not work): 100 %, 100 %;
    - b3: a shift from now0+1h: not counted;
    - b4: yesterday's shift now0−30h .. now0−22h, available its first 4 h: 50 %, 50 %."""
    now0 = datetime.fromtimestamp(int(time.time()), UTC)

    def hours(h: float) -> str:
        return _at(now0 + timedelta(hours=h))

    records: list[dict[str, object]] = [{"type": "team", "id": "t9", "name": "Now"}]
    for agent in ("b1", "b2", "b3", "b4"):
        records.append({"type": "agent", "id": agent, "name": agent, "role": "frontline",
                        "team_id": "t9"})
    records += [
        {"type": "shift", "id": "n1", "agent_id": "b1", "start": hours(-2), "end": hours(6),
         "activities": [{"kind": "break", "start": hours(1), "end": hours(1.5)}]},
        {"type": "agent_state", "id": "s1", "agent_id": "b1", "state": "available",
         "start": hours(-2)},
        {"type": "shift", "id": "n2", "agent_id": "b2", "start": hours(-3), "end": hours(5),
         "activities": [{"kind": "break", "start": hours(-0.5), "end": hours(0.5)}]},
        {"type": "agent_state", "id": "s2", "agent_id": "b2", "state": "available",
         "start": hours(-3), "end": hours(-0.5)},
        {"type": "agent_state", "id": "s3", "agent_id": "b2", "state": "break",
         "start": hours(-0.5)},
        {"type": "shift", "id": "n3", "agent_id": "b3", "start": hours(1), "end": hours(9)},
        {"type": "shift", "id": "n4", "agent_id": "b4", "start": hours(-30),
         "end": hours(-22)},
        {"type": "agent_state", "id": "s4", "agent_id": "b4", "state": "available",
         "start": hours(-30), "end": hours(-26)},
    ]
    path = tmp_path / "now.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    load(store, path)
    days = {"from": (now0 - timedelta(days=2)).date().isoformat(),
            "to": (now0 + timedelta(days=2)).date().isoformat()}
    assert _query(store, by=["agent"], period="all", **days) == {
        ("b1",): {"adherence": (100.0, 1), "conformance": (100.0, 1)},
        ("b2",): {"adherence": (100.0, 1), "conformance": (100.0, 1)},
        ("b4",): {"adherence": (50.0, 1), "conformance": (50.0, 1)},
    }


def test_an_agent_filter_gives_the_agents_own_figures(store: Engine) -> None:
    # The filter is applied to the states, shifts and activities before they are joined
    # (kpi.sources.Frame.of_agents): a2's figures are those of the unfiltered query.
    load(store, FIXTURE)
    assert _query(store, by=["agent"], period="day", filters={"agent": ["a2"]}) == {
        ("a2", "2026-03-02"): {"adherence": (100.0, 1), "conformance": (150.0, 1)},
        ("a2", "2026-03-03"): {"adherence": (50.0, 1), "conformance": (100.0, 1)},
    }
    assert _query(store, by=["agent"], period="all", filters={"agent": ["a1", "a3"]}) == {
        ("a1",): {"adherence": (92.7083, 1), "conformance": (119.2308, 1)},
        ("a3",): {"adherence": (None, 0), "conformance": (None, 0)},
    }


def test_a_week_clipped_to_its_first_day_leaves_out_the_days_before(store: Engine) -> None:
    # 2 March 2026 is a Monday: the week of 3 March has key 2 March but starts on 3 March.
    # Spans of 2 March lie in that calendar week yet before the period: a1's whole day and
    # the first part of a2's night shift are left out; a2's 3 March part stays (60 of 120
    # min adherent, 60 min of work against 60 planned).
    load(store, FIXTURE)
    assert _query(store, by=["agent"], period="week", **{"from": "2026-03-03"}) == {
        ("a2", "2026-03-02"): {"adherence": (50.0, 1), "conformance": (100.0, 1)},
    }

"""Arrival history and the staffing plan on the stored data (SQLite and PostgreSQL).

Fixture tests/fixtures/workforce/plan_history.jsonl, worked by hand:
- inbound phone calls: Mon 2 March 09:xx: 3; Mon 9 March 09:xx: 5 (one exactly at 09:00),
  10:xx: 2; one on the plan day (Mon 16 March 09:10). Not counted: an outbound call, an
  email and a chat (other channels), all on 9 March 09:xx.
- handle times of the 10 history calls (each handled by an agent): nine of 300 s (talk + hold
  + wrap), one with only handle_s = 400 -> AHT = (9 × 300 + 400) / 10 = 310 s, the KPI
  engine's AHT of phone over 2-15 March. Not counted: the plan-day call's 1000 s (after the
  history), the outbound call's 1000 s (no agent: not handled), the email's 1000 s and the
  chat's 500 s (other channels; phone and chat together: (3100 + 500) / 11 = 327.27 s).
- shifts on 16 March: a1 08:30-10:30, a2 09:00-10:00 plus an overlapping duplicate
  09:30-09:45 (counted once), a3 10:00-10:15 -> scheduled 08:00 = 0.5, 09:00 = 2, 10:00 = 0.75.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_jsonl
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.store.database import open_store
from servicepulse.workforce.forecast import ForecastError, arrival_history
from servicepulse.workforce.plan import mean_handle_time, scheduled_agents, staffing_plan
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fresh_stores import (
    create_loaded_postgres_database,
    drop_postgres_database,
    loaded_sqlite_store,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "workforce" / "plan_history.jsonl"


def load_plan_history(engine: Engine) -> None:
    summary = import_rows(engine, read_jsonl(FIXTURE))
    assert summary.quarantined == 0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def planned_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The fixture imported into a fresh store (a copy of one imported once per process)."""
    if request.param == "sqlite":
        engine = loaded_sqlite_store(tmp_path / "store.db", "plan_history", load_plan_history)
        yield engine
        engine.dispose()
        return
    engine = open_store(create_loaded_postgres_database(POSTGRES_ADMIN_URL, "plan_history",
                                                        load_plan_history))
    yield engine
    engine.dispose()
    drop_postgres_database(POSTGRES_ADMIN_URL, engine.url.database or "")


def test_history_handle_time_and_schedule(planned_store: Engine) -> None:
    # One test for the three readers: each store set-up (a migrated database) is costly.
    day = datetime(2026, 3, 9, tzinfo=UTC)
    end = datetime(2026, 3, 10, tzinfo=UTC)
    hourly = arrival_history(planned_store, day, end, 3600, ["phone"])
    assert len(hourly.values) == 24
    assert hourly.values[9] == 5  # c4 at 09:00:00 sharp belongs to 09:00-10:00
    assert hourly.values[10] == 2
    assert hourly.values.sum() == 7
    quarter = arrival_history(planned_store, day.replace(hour=9), day.replace(hour=10), 900,
                              ["phone"])
    # 09:00 c4, 09:10 c5 | 09:15 only outbound/email/chat | 09:30 c6 | 09:45 c7, 09:50 c8
    assert list(quarter.values) == [2, 0, 1, 2]
    both = arrival_history(planned_store, day, end, 3600, ["phone", "chat"])
    assert both.values[9] == 6

    start, end = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)
    assert mean_handle_time(planned_store, ["phone"], start, end) == pytest.approx(310.0)
    assert mean_handle_time(planned_store, ["phone", "chat"], start, end) == pytest.approx(
        3600 / 11)
    assert mean_handle_time(planned_store, ["sms"], start, end) is None  # none handled
    on_shift = scheduled_agents(planned_store, datetime(2026, 3, 16, 8, tzinfo=UTC), 3600, 4)
    assert list(on_shift) == [0.5, 2.0, 0.75, 0.0]
    # Half-hour intervals: 08:30-09:00 a1; 09:00-09:30 a1 + a2; 10:00-10:30 a1 + a3's 15 min.
    halves = scheduled_agents(planned_store, datetime(2026, 3, 16, 8, tzinfo=UTC), 1800, 6)
    assert list(halves) == [0.0, 1.0, 2.0, 2.0, 1.5, 0.0]


def test_staffing_plans_by_hand(planned_store: Engine) -> None:
    plan = staffing_plan(planned_store, date(2026, 3, 16), date(2026, 3, 16), interval_s=3600,
                         target_sl=0.8, max_occupancy=0.85, shrinkage=0.25, history_weeks=2)
    assert plan.aht_s == pytest.approx(310.0)
    assert plan.target_time_s == 20  # phone's threshold
    assert len(plan.intervals) == 24
    # History starts at the first stored call's hour, not at empty weeks before it.
    assert plan.history_start == datetime(2026, 3, 2, 9, tzinfo=UTC)
    at = {row.start.hour: row for row in plan.intervals}

    # 09:00: forecast (3 + 5) / 2 = 4 calls, A = 4 × 310 / 3600 = 0.344444 Erlangs.
    # 1 agent: SL = 1 − A e^{−(1 − A) 20 / 310} = 1 − 0.344444 × 0.958588 = 0.669820 < 80%.
    # 2 agents: B = (A²/2) / (1 + A + A²/2) = 0.042258, C = 2B / (2 − A(1 − B)) = 0.050605,
    # SL = 1 − C e^{−(2 − A) 20 / 310} = 0.954521 -> required 2, with 25% shrinkage
    # ceil(2 / 0.75) = 3. Scheduled 2 -> −1; productive floor(2 × 0.75) = 1 agent projects
    # SL 0.669820, occupancy 0.344444, ASA = A × 310 / (1 − A) = 162.88 s.
    nine = at[9]
    assert nine.forecast_calls == 4 and nine.actual_calls == 1
    assert (nine.required_agents, nine.required_scheduled) == (2, 3)
    assert nine.scheduled_agents == 2.0 and nine.over_under == -1.0
    assert nine.projected_service_level == pytest.approx(0.669820, abs=1e-6)
    assert nine.projected_occupancy == pytest.approx(0.344444, abs=1e-6)
    assert nine.projected_asa == pytest.approx(162.88, abs=0.01)

    # 10:00: forecast (0 + 2) / 2 = 1 call, A = 0.086111: 1 agent gives
    # 1 − 0.086111 e^{−0.913889 × 20 / 310} = 0.918819 -> 1 required, ceil(1 / 0.75) = 2.
    # Scheduled 0.75 -> −1.25; floor(0.75 × 0.75) = 0 productive agents: nobody answers.
    ten = at[10]
    assert ten.forecast_calls == 1 and ten.actual_calls == 0
    assert (ten.required_agents, ten.required_scheduled) == (1, 2)
    assert ten.scheduled_agents == 0.75 and ten.over_under == -1.25
    assert ten.projected_service_level == 0.0 and ten.projected_asa is None

    # 08:00: no calls forecast (9 March 08:00 was empty), a1 on shift for half the hour.
    eight = at[8]
    assert eight.forecast_calls == 0 and eight.required_agents == 0
    assert eight.scheduled_agents == 0.5 and eight.over_under == 0.5
    assert eight.projected_service_level == 1.0

    assert all(row.required_agents == 0 for hour, row in at.items() if hour not in (9, 10))
    assert plan.under_staffed == 2
    assert plan.required_agent_hours == 5.0  # 3 + 2
    assert plan.scheduled_agent_hours == 3.25  # 0.5 + 2 + 0.75

    # With a patience the projection is Erlang A.
    plan = staffing_plan(planned_store, date(2026, 3, 16), date(2026, 3, 16), interval_s=3600,
                         shrinkage=0.25, history_weeks=2, patience_s=60.0, aht_s=310.0)
    nine = next(row for row in plan.intervals if row.start.hour == 9)
    # One agent for A = 0.344 with 60 s patience: some callers leave, so the projection now
    # reports abandonment, and the service level still counts them as missed.
    assert nine.projected_abandon is not None and 0 < nine.projected_abandon < 0.35
    assert nine.projected_service_level <= 1 - nine.projected_abandon
    assert nine.required_agents >= 1

    with pytest.raises(ForecastError, match="before"):
        staffing_plan(planned_store, date(2026, 3, 17), date(2026, 3, 16))

    # Half-hour intervals over two days.
    plan = staffing_plan(planned_store, date(2026, 3, 16), date(2026, 3, 17), interval_s=1800,
                         history_weeks=2, aht_s=300.0)
    assert len(plan.intervals) == 96
    assert plan.intervals[0].start == datetime(2026, 3, 16, tzinfo=UTC)
    assert plan.intervals[-1].end == datetime(2026, 3, 18, tzinfo=UTC)
    # 09:00-09:30 on both Mondays: 2 + 2 calls -> 2; Tuesday nothing in history.
    by_start = {row.start: row for row in plan.intervals}
    assert by_start[datetime(2026, 3, 16, 9, tzinfo=UTC)].forecast_calls == 2
    assert sum(row.forecast_calls for row in plan.intervals[48:]) == 0
    assert math.isclose(by_start[datetime(2026, 3, 17, 9, tzinfo=UTC)].scheduled_agents, 1.0)


def test_plan_without_history_says_what_to_do(store: Engine) -> None:
    with pytest.raises(ForecastError, match="import some history first"):
        staffing_plan(store, date(2026, 3, 16), date(2026, 3, 16))


def test_plan_aht_is_the_kpi_engines(planned_store: Engine) -> None:
    """The plan asks the engine: its AHT is `servicepulse kpi --kpis aht --by channel` over
    the history's days (2 March, the first stored call's day, to 16 March exclusive)."""
    result = run_kpi_query(planned_store, KpiQuery.model_validate(
        {"kpis": ["aht"], "by": ["channel"], "from": "2026-03-02", "to": "2026-03-16",
         "compare": False}))
    by_channel = {channel: (row.figures["aht"].value, row.figures["aht"].n)
                  for channel, row in result.by_group("channel").items()}
    assert by_channel == {"phone": (310.0, 10), "chat": (500.0, 1), "email": (1000.0, 1)}
    plan = staffing_plan(planned_store, date(2026, 3, 16), date(2026, 3, 16), interval_s=3600,
                         history_weeks=2)
    assert plan.aht_s == by_channel["phone"][0]
    both = staffing_plan(planned_store, date(2026, 3, 16), date(2026, 3, 16), interval_s=3600,
                         history_weeks=2, channels=("phone", "chat"))
    assert both.aht_s == pytest.approx(3600 / 11)  # (3100 + 500) / (10 + 1)

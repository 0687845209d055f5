"""The daily rollup: kept up to date by the import hook, answering like the exact path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import (
    AGENT_GRAIN,
    ROLLUP_KPIS,
    TEAM_GRAIN,
    TEAM_MONTH_GRAIN,
    grain_for,
    histogram_quantile,
    query_rollup,
    refresh_rollups,
)
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.tables import (
    ROLLUP_MEASURES,
    TEAM_ROLLUP_DIMENSIONS,
    kpi_daily_histogram,
    kpi_daily_histogram_team,
    kpi_daily_rollup,
    kpi_daily_rollup_team,
    kpi_daily_sums_team_packed,
    kpi_monthly_histogram_team,
    kpi_monthly_rollup_team,
)
from tests.kpi.helpers import WEEK, load, rows_by_group

QUERY = {"from": "2026-03-02", "to": "2026-03-09", "kpis": list(ROLLUP_KPIS)}
DISTRIBUTIONS = ("frt", "ttr")


def _without_quantiles(document: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    """Rows with the histogram-based medians and p90s (approximate) left out."""
    rows = rows_by_group(document)
    for kpis in rows.values():
        for name in DISTRIBUTIONS:
            for field in ("value", "p90", "ci", "p90_ci", "change", "previous",
                          "business_hours"):
                kpis[name].pop(field, None)
    return rows


def test_measure_columns_match_the_definitions() -> None:
    names = []
    for name in ROLLUP_KPIS:
        definition = KPIS[name]
        names += list(definition.statistic.measures(name))
        for extra, statistic in definition.extras.items():
            names += list(statistic.measures(f"{name}__{extra}"))
    assert tuple(names) == ROLLUP_MEASURES


@pytest.mark.parametrize("grouping", [
    {"by": ["agent"], "period": "day"},
    {"by": ["team", "channel"], "period": "all"},
    {"by": [], "period": "week", "filters": {"channel": ["phone", "chat"]}},
])
def test_rollup_answers_like_the_exact_path(store: Engine, grouping: dict[str, Any]) -> None:
    load(store, WEEK)  # the import hook fills the rollup
    query = KpiQuery.model_validate({**QUERY, **grouping})
    exact = run_kpi_query(store, query, KpiSettings())
    rolled = query_rollup(store, query, KpiSettings())
    assert rolled is not None and rolled["source"] == "rollup"
    assert _without_quantiles(rolled) == _without_quantiles(exact)


def test_a_later_contact_updates_an_earlier_day(sqlite_store: Engine, tmp_path: Path) -> None:
    load(sqlite_store, WEEK)
    query = KpiQuery.model_validate({**QUERY, "kpis": ["fcr", "contacts"]})
    before = query_rollup(sqlite_store, query, KpiSettings())
    assert before is not None
    assert before["rows"][0]["kpis"]["fcr"]["value"] == 25.0  # i1 of the four
    # c1 calls again about billing on 03-08: i1 (03-02, billing) was not resolved first time
    late = tmp_path / "late.jsonl"
    late.write_text('{"type": "interaction", "id": "i13", "channel": "phone", '
                    '"customer_id": "c1", "category": "billing", '
                    '"created_at": "2026-03-08T09:00:00Z"}\n')
    load(sqlite_store, late)
    after = query_rollup(sqlite_store, query, KpiSettings())
    assert after is not None
    assert after["rows"][0]["kpis"]["fcr"]["value"] == 0.0
    assert after["rows"][0]["kpis"]["contacts"]["value"] == 11
    # importing the same file again changes nothing
    with sqlite_store.connect() as connection:
        rows_before = connection.execute(select(func.count()).select_from(kpi_daily_rollup)
                                         ).scalar_one()
    load(sqlite_store, late)
    with sqlite_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(kpi_daily_rollup)
                                  ).scalar_one() == rows_before


def test_full_rebuild_gives_the_same_rollup(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    query = KpiQuery.model_validate({**QUERY, "by": ["agent"], "period": "day"})
    incremental = query_rollup(sqlite_store, query, KpiSettings())
    with sqlite_store.begin() as connection:
        assert refresh_rollups(connection, None, KpiSettings()) > 0
    assert query_rollup(sqlite_store, query, KpiSettings()) == incremental


def test_questions_the_rollup_cannot_answer(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    for query in ({"by": ["segment"]}, {"kpis": ["occupancy"]}, {"by": ["queue"]},
                  {"filters": {"language": ["en"]}}):
        assert query_rollup(sqlite_store, KpiQuery.model_validate(query), KpiSettings()) is None
    # kept in UTC: a query in another zone goes to the exact path
    assert query_rollup(sqlite_store, KpiQuery.model_validate(QUERY),
                        KpiSettings(timezone="Europe/Paris")) is None


def test_histogram_quantile() -> None:
    # 4 values in bucket 0 [0, 1) and 4 in bucket 1 [1, 1.25): median rank h = 4.5 falls in
    # bucket 0 at 4 − 0.5 → 0 + 1·(4.5 − 0 − 0.5)/4 = 1.0 … the top of bucket 0;
    # p90 rank 7.3 → bucket 1: 1 + 0.25·(7.3 − 4 − 0.5)/4 = 1.175
    counts = {0: 4, 1: 4}
    assert histogram_quantile(counts, 0.5) == 1.0
    assert histogram_quantile(counts, 0.9) == 1.175
    assert histogram_quantile({}, 0.5) is None


def test_a_stale_day_sends_the_query_to_the_exact_path(sqlite_store: Engine) -> None:
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths
    from servicepulse.kpi.rollup import dirty_days, refresh_dirty_rollups

    query = KpiQuery.model_validate(QUERY)
    # an import that defers its after-import work leaves its days marked stale
    Importer(sqlite_store).import_rows(read_paths([WEEK]), after_import=False)
    with sqlite_store.connect() as connection:
        assert dirty_days(connection)
    assert query_rollup(sqlite_store, query, KpiSettings()) is None
    assert refresh_dirty_rollups(sqlite_store, KpiSettings()) > 0
    with sqlite_store.connect() as connection:
        assert dirty_days(connection) == set()
    rolled = query_rollup(sqlite_store, query, KpiSettings())
    assert rolled is not None and rolled["source"] == "rollup"


# --- the team grain (no agent): what dashboards by team, role or channel read -------------

# a4 works in t1 beside a1 (frontline): the team grain sums their rows into one
SECOND_AGENT = "\n".join([
    '{"type": "agent", "id": "a4", "name": "Dee", "role": "frontline", "team_id": "t1"}',
    '{"type": "interaction", "id": "i20", "channel": "phone", "customer_id": "c4", '
    '"agent_id": "a4", "category": "billing", "created_at": "2026-03-02T11:00:00Z", '
    '"answered_at": "2026-03-02T11:00:40Z", "talk_s": 120, "resolved_at": '
    '"2026-03-02T11:05:00Z"}',
    '{"type": "interaction", "id": "i21", "channel": "chat", "customer_id": "c4", '
    '"agent_id": "a4", "category": "billing", "created_at": "2026-03-03T13:00:00Z", '
    '"answered_at": "2026-03-03T13:00:08Z", "talk_s": 90, "resolved_at": '
    '"2026-03-03T13:40:00Z"}',
    '{"type": "survey", "id": "s20", "kind": "csat", "score": 2, "interaction_id": "i20", '
    '"agent_id": "a4", "submitted_at": "2026-03-02T12:00:00Z"}',
]) + "\n"


def _load_with_second_agent(engine: Engine, tmp_path: Path) -> None:
    extra = tmp_path / "second_agent.jsonl"
    extra.write_text(SECOND_AGENT)
    load(engine, WEEK, extra)


def _grain_contents(engine: Engine) -> tuple[list[Any], list[Any]]:
    """The team grain (days, then months) as stored, and the agent grain summed over agents
    (and over months: sorted rows)."""
    keys = ["timezone", "day", *TEAM_ROLLUP_DIMENSIONS]
    with engine.connect() as connection:
        stored = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_daily_rollup_team.c[k] for k in [*keys, *ROLLUP_MEASURES]))))
        summed = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_daily_rollup.c[k] for k in keys),
                   *(func.sum(kpi_daily_rollup.c[m]) for m in ROLLUP_MEASURES))
            .group_by(*(kpi_daily_rollup.c[k] for k in keys))))
        buckets = [*keys, "measure", "bucket"]
        stored_h = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_daily_histogram_team.c[k] for k in [*buckets, "count"]))))
        summed_h = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_daily_histogram.c[k] for k in buckets),
                   func.sum(kpi_daily_histogram.c["count"]))
            .group_by(*(kpi_daily_histogram.c[k] for k in buckets))))
        months = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_monthly_rollup_team.c[k] for k in ["timezone", "month",
                                                              *TEAM_ROLLUP_DIMENSIONS,
                                                              *ROLLUP_MEASURES]))))
        months_h = sorted(tuple(row) for row in connection.execute(
            select(*(kpi_monthly_histogram_team.c[k] for k in ["timezone", "month",
                                                                 *TEAM_ROLLUP_DIMENSIONS,
                                                                 "measure", "bucket",
                                                                 "count"]))))
    return ([stored, stored_h, months, months_h],
            [summed, summed_h, _by_month(summed, 5), _by_month(summed_h, 7)])


def _by_month(rows: list[Any], keys: int) -> list[Any]:
    """Rows (timezone, day, *more keys, *sums) summed per month (sums of whole numbers:
    exact in any order)."""
    months: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        key = (row[0], row[1][:7] + "-01", *row[2:keys])
        sums = months.setdefault(key, [0] * (len(row) - keys))
        for index, value in enumerate(row[keys:]):
            sums[index] += value
    return sorted((*key, *sums) for key, sums in months.items())


@pytest.mark.parametrize("grouping", [
    {"by": ["team"], "period": "day"},
    {"by": ["channel"], "period": "all"},
    {"by": ["team", "role", "channel"], "period": "week"},
    {"by": ["role"], "period": "month", "filters": {"team": ["t1"]}},
    {"by": [], "period": "day", "filters": {"channel": ["phone", "chat"]}},
])
def test_the_team_grain_answers_like_the_agent_grain(store: Engine, tmp_path: Path,
                                                     grouping: dict[str, Any]) -> None:
    _load_with_second_agent(store, tmp_path)
    query = KpiQuery.model_validate({**QUERY, **grouping})
    assert grain_for(query) is TEAM_GRAIN
    coarse = query_rollup(store, query, KpiSettings())
    fine = query_rollup(store, query, KpiSettings(), grain=AGENT_GRAIN)
    assert coarse is not None and coarse["rows"]
    assert coarse == fine  # the same document, medians and p90s included
    with store.connect() as connection:
        # a1 and a4 (t1, frontline) share phone on 03-02 and chat on 03-03: fewer rows
        agent_rows = connection.execute(select(func.count()).select_from(kpi_daily_rollup)
                                        ).scalar_one()
        team_rows = connection.execute(select(func.count()).select_from(
            kpi_daily_rollup_team)).scalar_one()
    assert team_rows == agent_rows - 2


@pytest.mark.parametrize("grouping", [
    {"by": ["channel"], "period": "month", "from": "2026-02-01", "to": "2026-04-01"},
    {"by": ["team", "role"], "period": "quarter", "from": "2026-01-01", "to": "2026-07-01"},
    {"by": [], "period": "month", "from": "2026-03-01", "to": "2026-04-01",
     "filters": {"team": ["t1"], "channel": ["phone", "chat"]}},
])
def test_whole_months_read_the_month_grain(store: Engine, tmp_path: Path,
                                           grouping: dict[str, Any]) -> None:
    _load_with_second_agent(store, tmp_path)
    query = KpiQuery.model_validate({**QUERY, **grouping})
    monthly = query_rollup(store, query, KpiSettings())
    assert monthly is not None and monthly["rows"]
    assert monthly == query_rollup(store, query, KpiSettings(), grain=AGENT_GRAIN)
    assert monthly == query_rollup(store, query, KpiSettings(), grain=TEAM_MONTH_GRAIN)
    with store.begin() as connection:  # the daily team rows gone: the months still answer
        connection.execute(kpi_daily_rollup_team.delete())
        connection.execute(kpi_daily_sums_team_packed.delete())
        connection.execute(kpi_daily_histogram_team.delete())
    assert query_rollup(store, query, KpiSettings()) == monthly


def test_the_team_grain_matches_the_exact_path(sqlite_store: Engine, tmp_path: Path) -> None:
    _load_with_second_agent(sqlite_store, tmp_path)
    query = KpiQuery.model_validate({**QUERY, "by": ["team", "channel"], "period": "all"})
    rolled = query_rollup(sqlite_store, query, KpiSettings())
    assert rolled is not None
    rows = _without_quantiles(rolled)
    assert rows == _without_quantiles(run_kpi_query(sqlite_store, query, KpiSettings()))
    # t1 by phone: i1 (a1, answered in 15 s) and i20 (a4, 40 s), read from one team-grain row
    assert rows[("t1", "phone")]["contacts"]["value"] == 2
    assert rows[("t1", "phone")]["asa"]["value"] == 27.5


def test_imports_keep_the_grains_in_step(sqlite_store: Engine, tmp_path: Path) -> None:
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths
    from servicepulse.kpi.rollup import refresh_dirty_rollups

    _load_with_second_agent(sqlite_store, tmp_path)
    stored, summed = _grain_contents(sqlite_store)
    assert stored == summed and stored[0] and stored[1]
    # a later contact changes an earlier day's FCR (i1 of 03-02): both grains rebuilt
    late = tmp_path / "late.jsonl"
    late.write_text('{"type": "interaction", "id": "i13", "channel": "phone", '
                    '"customer_id": "c1", "agent_id": "a4", "category": "billing", '
                    '"created_at": "2026-03-08T09:00:00Z"}\n')
    load(sqlite_store, late)
    stored, summed = _grain_contents(sqlite_store)
    assert stored == summed
    query = KpiQuery.model_validate({**QUERY, "kpis": ["fcr", "contacts"], "by": ["team"]})
    rolled = query_rollup(sqlite_store, query, KpiSettings())
    assert rolled is not None
    # t1 (a1, a2, a4) from 03-02 to 03-09: i1, i2, i4, i9, i11 (22:00 UTC on 03-08), i20,
    # i21 and the late i13
    assert rows_by_group(rolled)[("t1",)]["contacts"]["value"] == 8
    # a deferred import leaves its days stale: the query goes to the exact path until the
    # days are rebuilt, in both grains
    later = tmp_path / "later.jsonl"
    later.write_text('{"type": "interaction", "id": "i14", "channel": "chat", '
                     '"agent_id": "a1", "created_at": "2026-03-06T09:00:00Z"}\n')
    Importer(sqlite_store).import_rows(read_paths([later]), after_import=False)
    assert query_rollup(sqlite_store, query, KpiSettings()) is None
    assert refresh_dirty_rollups(sqlite_store, KpiSettings()) > 0
    stored, summed = _grain_contents(sqlite_store)
    assert stored == summed
    rolled = query_rollup(sqlite_store, query, KpiSettings())
    assert rolled == query_rollup(sqlite_store, query, KpiSettings(), grain=AGENT_GRAIN)
    # a full rebuild gives the same team grain
    with sqlite_store.begin() as connection:
        refresh_rollups(connection, None, KpiSettings())
    assert _grain_contents(sqlite_store)[0] == stored


def test_an_agent_query_reads_the_agent_grain(sqlite_store: Engine, tmp_path: Path) -> None:
    _load_with_second_agent(sqlite_store, tmp_path)
    by_agent = KpiQuery.model_validate({**QUERY, "by": ["agent"], "period": "all"})
    agent_filter = KpiQuery.model_validate({**QUERY, "by": ["team"],
                                            "filters": {"agent": ["a1", "a4"]}})
    assert grain_for(by_agent) is AGENT_GRAIN and grain_for(agent_filter) is AGENT_GRAIN
    before = [query_rollup(sqlite_store, q, KpiSettings()) for q in (by_agent, agent_filter)]
    with sqlite_store.begin() as connection:  # the team grain emptied: agent queries unchanged
        connection.execute(kpi_daily_rollup_team.delete())
        connection.execute(kpi_daily_sums_team_packed.delete())
        connection.execute(kpi_daily_histogram_team.delete())
    after = [query_rollup(sqlite_store, q, KpiSettings()) for q in (by_agent, agent_filter)]
    assert after == before and before[0] is not None and before[0]["rows"]
    by_team = KpiQuery.model_validate({**QUERY, "by": ["team"]})
    emptied = query_rollup(sqlite_store, by_team, KpiSettings())
    assert emptied is not None and all(
        row["kpis"]["contacts"]["value"] is None for row in emptied["rows"])
    with pytest.raises(ValueError, match="team grain of the rollup has no agent"):
        query_rollup(sqlite_store, by_agent, KpiSettings(), grain=TEAM_GRAIN)


def test_histogram_quantile_in_one_bucket() -> None:
    # 3 values in bucket 4 [1.25^3, 1.25^4) = [1.953125, 2.44140625): median rank 2 →
    # 1.953125 + 0.48828125·(2 − 0 − 0.5)/3 = 2.1972656 → 2.1973; p90 rank 2.8 → 2.3275
    assert histogram_quantile({4: 3}, 0.5) == 2.1973
    assert histogram_quantile({4: 3}, 0.9) == 2.3275


def test_dashboards_may_read_stale_days_as_of_their_last_rebuild(sqlite_store: Engine,
                                                                 tmp_path: Path) -> None:
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths
    from servicepulse.kpi.rollup import refresh_dirty_rollups

    load(sqlite_store, WEEK)  # imported and rolled up: 10 contacts in the week
    query = KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09",
                                     "kpis": ["contacts"]})
    late = tmp_path / "late.jsonl"
    late.write_text('{"type": "interaction", "id": "late1", "channel": "email", '
                    '"created_at": "2026-03-04T12:00:00Z"}\n')
    Importer(sqlite_store).import_rows(read_paths([late]), after_import=False)
    # the exact path only, by default; a dashboard may read the last rebuild meanwhile
    assert query_rollup(sqlite_store, query, KpiSettings()) is None
    stale = query_rollup(sqlite_store, query, KpiSettings(), allow_stale=True)
    assert stale is not None
    assert "2026-03-04" in stale["stale_days"]
    assert stale["rows"][0]["kpis"]["contacts"]["value"] == 10
    assert refresh_dirty_rollups(sqlite_store, KpiSettings()) > 0
    fresh = query_rollup(sqlite_store, query, KpiSettings(), allow_stale=True)
    assert fresh is not None and "stale_days" not in fresh
    assert fresh["rows"][0]["kpis"]["contacts"]["value"] == 11


def test_a_changed_record_updates_the_day_it_left(sqlite_store: Engine, tmp_path: Path) -> None:
    """A record re-imported with other times moves its numbers: the day it leaves is rebuilt
    too, not only the days it arrives on (here weeks apart, beyond any repeat window)."""
    load(sqlite_store, WEEK)
    query = KpiQuery.model_validate({**QUERY, "period": "day",
                                     "kpis": ["contacts", "frt", "ttr", "resolution_rate"]})
    before = rows_by_group(query_rollup(sqlite_store, query, KpiSettings()) or {})
    assert before[("2026-03-02",)]["ttr"]["n"] == 2  # i0 (from 02-27) and i1
    assert before[("2026-03-03",)]["contacts"]["value"] == 1  # i4
    moved = tmp_path / "moved.jsonl"
    # i0 now created and resolved in January; i4 now created on 04-20
    moved.write_text(
        '{"type": "interaction", "id": "i0", "channel": "email", "agent_id": "a2", '
        '"created_at": "2026-01-10T10:00:00Z", "first_response_at": "2026-01-10T11:00:00Z", '
        '"resolved_at": "2026-01-11T10:00:00Z"}\n'
        '{"type": "interaction", "id": "i4", "channel": "chat", "customer_id": "c2", '
        '"agent_id": "a1", "category": "billing", "created_at": "2026-04-20T12:00:00Z", '
        '"answered_at": "2026-04-20T12:01:10Z", "talk_s": 200, "transfers": 1, '
        '"resolved_at": "2026-04-20T12:30:00Z"}\n')
    load(sqlite_store, moved)
    rolled = query_rollup(sqlite_store, query, KpiSettings())
    assert rolled is not None and rolled["source"] == "rollup"
    after = rows_by_group(rolled)
    assert after[("2026-03-02",)]["ttr"]["n"] == 1  # i1 only
    assert after[("2026-03-03",)]["contacts"]["n"] == 0  # i4 left
    assert _without_quantiles(rolled) == _without_quantiles(
        run_kpi_query(sqlite_store, query, KpiSettings()))

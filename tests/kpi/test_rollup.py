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
    ROLLUP_KPIS,
    histogram_quantile,
    query_rollup,
    refresh_rollups,
)
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.tables import ROLLUP_MEASURES, kpi_daily_rollup
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

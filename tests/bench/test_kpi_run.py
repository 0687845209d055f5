"""`servicepulse bench kpi` end to end on tiny data (timings are not asserted, only what the
run measured and that the engine agrees with the hand-written query)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from servicepulse.bench import kpi as bench_kpi
from servicepulse.store.tables import interactions
from tests.kpi.helpers import WEEK, load


@pytest.fixture
def sections(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    written: dict[str, str] = {}
    monkeypatch.setattr(bench_kpi, "write_section",
                        lambda name, text: written.__setitem__(name, text))
    return written


def test_the_series_compares_the_engine_with_the_hand_written_query(
        tmp_path: Path, sections: dict[str, str]) -> None:
    text = bench_kpi.run_kpi_bench([2_000], None, [], runs=1, postgres_url=None,
                                   workdir=tmp_path, echo=lambda line: None)
    assert sections["kpi"] == text
    assert re.search(r"^\| 2,000 \| [0-9.]+ \|", text, re.MULTILINE)
    # every agent-day's contacts, FCR and FRT median equal the hand-written query's
    agreement = re.search(r"at 2,000: (\d+) agent-days compared, largest difference "
                          r"([0-9.]+)", text)
    assert agreement is not None
    assert int(agreement.group(1)) > 1_000
    assert agreement.group(2) == "0.0000"
    assert "| sqlite |" not in text


def test_a_store_size_outside_the_series_is_loaded_into_the_stores_only(
        tmp_path: Path, sections: dict[str, str]) -> None:
    text = bench_kpi.run_kpi_bench([], None, [2_000], runs=1, postgres_url=None,
                                   workdir=tmp_path, echo=lambda line: None)
    assert "engine on DuckDB (s)" not in text
    assert re.search(r"^\| sqlite \| 2,000 \| [0-9.]+ \| [0-9.]+ \|$", text, re.MULTILINE)
    assert "Rollup at 2,000 interactions (SQLite)" in text
    assert "| by team x day, last 30 days |" in text


def test_the_rollup_bench_reads_an_imported_store_as_it_is(
        sqlite_store: Engine, sections: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="holds no interactions"):
        bench_kpi.run_rollup_bench(sqlite_store, runs=1)
    load(sqlite_store, WEEK)
    text = bench_kpi.run_rollup_bench(sqlite_store, runs=1)
    assert sections["rollup"] == text
    with sqlite_store.connect() as connection:
        count = connection.execute(select(func.count()).select_from(interactions)).scalar_one()
    # the latest contact was created 2026-03-12T09:00:00Z
    assert f"sqlite, {count:,} interactions, data up to 2026-03-12;" in text
    assert re.search(r"^\| by team x day, last 30 days \| [0-9.]+ \| [0-9.]+ \|$", text,
                     re.MULTILINE)
    assert re.search(r"^\| by channel x month, the year \| [0-9.]+ \| [0-9.]+ \|$", text,
                     re.MULTILINE)


def test_the_dashboard_queries_of_a_year_ending_mid_month() -> None:
    queries = bench_kpi.dashboard_queries(date(2025, 6, 15))
    last_month, year = queries.values()
    assert (last_month.from_, last_month.to) == (date(2025, 5, 16), date(2025, 6, 15))
    assert (year.from_, year.to) == (date(2024, 7, 1), date(2025, 7, 1))
    december = bench_kpi.dashboard_queries(date(2025, 12, 15))["by channel x month, the year"]
    assert (december.from_, december.to) == (date(2025, 1, 1), date(2026, 1, 1))
    whole = bench_kpi.dashboard_queries(date(2026, 1, 1))["by channel x month, the year"]
    assert (whole.from_, whole.to) == (date(2025, 1, 1), date(2026, 1, 1))

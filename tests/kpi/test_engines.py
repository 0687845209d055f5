"""The whole KPI suite on every engine gives the same document.

`run_kpi_query` runs an SQLite store on SQLite and a PostgreSQL store on DuckDB with the store
attached (`servicepulse.kpi.analytical`); PostgreSQL itself (the baseline) must agree with it,
as must DuckDB and Spark on the Parquet export (`servicepulse export --format parquet`).
Spark is slow to start: one session for the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from servicepulse.kpi.analytical import store_backend
from servicepulse.kpi.backends import duckdb_backend, export_parquet, spark_backend
from servicepulse.kpi.engine import run_kpi_query, run_on_backend
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import KPI_FIXTURES, WEEK, load

QA = KPI_FIXTURES / "qa.jsonl"  # QA forms and reviews of the week's contacts

# Every KPI, by day (customer KPIs have no agent) and by agent and week, with a time zone
# that moves days off UTC midnight.
QUERIES = [
    KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09", "period": "day"}),
    KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09", "by": ["agent"],
                             "period": "week"}),
    # QA categories are KPIs only when named (iqs_<category>)
    KpiQuery.model_validate({"from": "2026-03-02", "to": "2026-03-09", "by": ["team", "channel"],
                             "period": "day", "kpis": ["iqs", "iqs_accuracy", "iqs_greeting",
                                                       "iqs_tone", "iqs_diagnosis",
                                                       "iqs_empathy"]}),
]
SETTINGS = KpiSettings(timezone="America/New_York")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from servicepulse.kpi.backends import spark_session

    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _reference(sqlite_store: Engine) -> list[dict[str, Any]]:
    load(sqlite_store, WEEK, QA)
    return [run_kpi_query(sqlite_store, query, SETTINGS) for query in QUERIES]


def test_the_suite_has_data_on_every_kpi(sqlite_store: Engine) -> None:
    # so that "the same" below compares numbers, not nulls
    documents = _reference(sqlite_store)
    seen = {name for document in documents for row in document["rows"]
            for name, result in row["kpis"].items() if result["value"] is not None}
    asked = {name for document in documents for name in document["rows"][0]["kpis"]}
    assert seen == asked - {"sentiment"}


@pytest.mark.postgres
def test_postgres_matches_sqlite(sqlite_store: Engine, postgres_store: Engine) -> None:
    load(postgres_store, WEEK, QA)
    assert [run_kpi_query(postgres_store, query, SETTINGS) for query in QUERIES] \
        == _reference(sqlite_store)


@pytest.mark.postgres
def test_the_stores_own_postgres_engine_matches_the_analytical_path(
        sqlite_store: Engine, postgres_store: Engine) -> None:
    load(postgres_store, WEEK, QA)
    with store_backend(postgres_store) as backend:
        assert backend.name == "postgres"
        assert [run_on_backend(backend, query, SETTINGS) for query in QUERIES] \
            == _reference(sqlite_store)


def test_duckdb_over_parquet_matches_sqlite(sqlite_store: Engine, tmp_path: Path) -> None:
    expected = _reference(sqlite_store)
    export_parquet(sqlite_store, tmp_path)
    backend = duckdb_backend(tmp_path)
    assert [run_on_backend(backend, query, SETTINGS) for query in QUERIES] == expected


@pytest.mark.spark
@pytest.mark.slow
def test_spark_over_parquet_matches_sqlite(sqlite_store: Engine, tmp_path: Path,
                                           spark: Any) -> None:
    expected = _reference(sqlite_store)
    export_parquet(sqlite_store, tmp_path)
    backend = spark_backend(tmp_path, spark)
    # The ungrouped query by day only: it reads every KPI and Spark is slow to answer.
    assert run_on_backend(backend, QUERIES[0], SETTINGS) == expected[0]


def test_duckdb_reads_an_export_split_into_row_groups(sqlite_store: Engine, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Row groups let DuckDB and Spark read a file on every core; the figures must not
    # depend on how the rows are split (7 rows a group: many groups even for the fixture).
    import pyarrow.parquet as parquet

    import servicepulse.kpi.backends as backends

    expected = _reference(sqlite_store)
    monkeypatch.setattr(backends, "PARQUET_ROW_GROUP", 7)
    written = export_parquet(sqlite_store, tmp_path)
    metadata = parquet.ParquetFile(tmp_path / "interactions.parquet").metadata
    assert written["interactions"] > 7
    assert metadata.num_row_groups == -(-written["interactions"] // 7)
    assert [run_on_backend(duckdb_backend(tmp_path), query, SETTINGS)
            for query in QUERIES] == expected


def test_without_the_spark_extra_the_engine_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from servicepulse.errors import Unavailable
    from servicepulse.kpi.backends import spark_session

    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(Unavailable, match=r"servicepulse\[spark\]"):
        spark_session()

"""Engines beyond the store: a Parquet export of the store, read by DuckDB or by Spark.

`export_parquet` writes one `<table>.parquet` a table (the store's own columns, times as epoch
seconds), which `duckdb_backend` and `spark_backend` register under the store's table names so
that the same KPI definitions run on them unchanged.

An export is analytics data handed to other tools and people: it carries the records and the
data derived from them, never credentials. So what it writes is an allow-list
(`EXPORTED_TABLES`), not "every table but some": a table added later (a new credential or
secret) is not exported until someone decides it is analytics data. Every other table of the
store is named in `NOT_EXPORTED` with the reason, and a test fails when a table of the store is
in neither list, so the decision cannot be skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import sqlalchemy
from ibis.backends import BaseBackend

from servicepulse.errors import Unavailable
from servicepulse.kpi.analytical import store_backend
from servicepulse.store.tables import RECORD_TABLES

# The record tables must be there.
RECORD_TABLE_NAMES = tuple(table.name for table in RECORD_TABLES.values())
# Data derived from the records, exported with them (by name: kpi imports no higher layer):
# the sentiment scores (the sentiment KPI reads them on every engine) and the KPI rollups'
# rows (per-day sums, counts and duration histograms); shifts' planned activities as rows
# (adherence reads them on every engine); QA reviews' category scores (iqs_<category>).
DERIVED_TABLE_NAMES = (
    "text_sentiment", "shift_activities", "qa_review_scores",
    "kpi_daily_rollup", "kpi_daily_histogram",
    "kpi_daily_rollup_team", "kpi_daily_histogram_team",
    "kpi_monthly_rollup_team", "kpi_monthly_histogram_team",
)
EXPORTED_TABLES = frozenset(RECORD_TABLE_NAMES + DERIVED_TABLE_NAMES)
# Every other table of the store, and why it stays out of an export.
NOT_EXPORTED: dict[str, str] = {
    "web_users": "credentials: password hashes",
    "web_sessions": "credentials: session digests and CSRF tokens",
    "web_api_tokens": "credentials: API token digests",
    "web_login_failures": "security log: user names and addresses of failed sign-ins",
    "alert_rules": "configuration: webhook URLs (which may embed a secret) and e-mail "
                   "addresses",
    "alert_history": "alert deliveries: payloads sent to webhooks and their status",
    "alert_state": "the alert checker's working state",
    "alert_pending": "the alert checker's work queue",
    "quarantine": "raw rejected input rows as received (they may hold anything a source "
                  "sent); see `servicepulse quarantine list`",
    "kpi_rollup_dirty": "work queue: days whose rollup is to be recomputed",
    "text_sentiment_pending": "work queue: texts waiting to be scored",
    "kpi_daily_histogram_packed": "the rollup's rows again, packed as binary blobs",
    "kpi_daily_histogram_team_packed": "the rollup's rows again, packed as binary blobs",
    "kpi_monthly_histogram_team_packed": "the rollup's rows again, packed as binary blobs",
    "kpi_daily_sums_packed": "the rollup's rows again, packed as binary blobs",
    "kpi_daily_sums_team_packed": "the rollup's rows again, packed as binary blobs",
    "kpi_monthly_sums_team_packed": "the rollup's rows again, packed as binary blobs",
    "alembic_version": "the schema's migration state",
    "qa_assignments": "work queue: the conversations sampled for each reviewer (by web "
                      "user name) still to review; the reviews themselves are the "
                      "qa_reviews records, exported",
    "digest_deliveries": "digest deliveries: each team's sent periods, the claim that sends "
                         "each once, and the mail servers' and webhooks' errors",
}
# Rows per Parquet row group. DuckDB and Spark split a file's scan by row group: pyarrow's
# default (about a million rows) leaves a 1M-row table to one thread; DuckDB's own size
# lets every core read.
PARQUET_ROW_GROUP = 122_880


def unclassified_tables(engine: sqlalchemy.Engine) -> list[str]:
    """Tables of the store neither exported nor named as not exported (a new table whose
    export nobody decided: it is not exported)."""
    present = set(sqlalchemy.inspect(engine).get_table_names())
    return sorted(present - EXPORTED_TABLES - set(NOT_EXPORTED))


def export_parquet(engine: sqlalchemy.Engine, directory: Path) -> dict[str, int]:
    """Write the store's analytics tables (`EXPORTED_TABLES`: the records and the data
    derived from them, never credentials) to DIRECTORY/<table>.parquet; rows per table."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    names = sorted(set(sqlalchemy.inspect(engine).get_table_names()) & EXPORTED_TABLES)
    with store_backend(engine) as backend:
        for name in names:
            table = backend.table(name)
            # JSON columns travel as text: every engine reads them the same way.
            table = table.mutate(**{column: table[column].cast("string")
                                    for column, dtype in table.schema().items()
                                    if dtype.is_json()})
            arrow = backend.to_pyarrow(table)
            import pyarrow.parquet as parquet

            parquet.write_table(arrow, directory / f"{name}.parquet",
                                row_group_size=PARQUET_ROW_GROUP)
            written[name] = arrow.num_rows
    return written


def leftover_files(directory: Path) -> list[Path]:
    """Files of DIRECTORY named after a table that is not exported: left by an export of an
    earlier version, which wrote every table (they may hold credentials)."""
    return [directory / f"{name}.parquet" for name in sorted(NOT_EXPORTED)
            if (directory / f"{name}.parquet").is_file()]


def _parquet_files(directory: Path) -> dict[str, Path]:
    missing = [name for name in RECORD_TABLE_NAMES
               if not (directory / f"{name}.parquet").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory}: no {', '.join(f'{name}.parquet' for name in missing)}; write the "
            f"export with `servicepulse export --format parquet {directory}`")
    return {path.name.removesuffix(".parquet"): path
            for path in sorted(directory.glob("*.parquet"))}


def duckdb_backend(directory: Path, threads: int | None = None) -> BaseBackend:
    """An in-process DuckDB with the Parquet export's tables as views."""
    backend = ibis.duckdb.connect(**({"threads": threads} if threads else {}))
    for name, path in _parquet_files(directory).items():
        backend.read_parquet(path, table_name=name)
    return backend


def spark_session(cores: int = 2) -> Any:
    """A local Spark session (one per process: Spark is slow to start)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise Unavailable("the Spark engine is an extra: install it with "
                          "`pip install 'servicepulse[spark]'` (and a Java 17 runtime), or "
                          "use --engine duckdb") from None

    return (SparkSession.builder.master(f"local[{cores}]").appName("servicepulse-kpi")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(cores))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate())


def spark_backend(directory: Path, session: Any | None = None) -> BaseBackend:
    """Spark with the Parquet export's tables as temporary views."""
    session = session or spark_session()
    for name, path in _parquet_files(directory).items():
        session.read.parquet(str(path)).createOrReplaceTempView(name)
    return ibis.pyspark.connect(session)

"""Engines beyond the store: a Parquet export of the store, read by DuckDB or by Spark.

`export_parquet` writes one `<table>.parquet` a table (the store's own columns, times as epoch
seconds), which `duckdb_backend` and `spark_backend` register under the store's table names so
that the same KPI definitions run on them unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import sqlalchemy
from ibis.backends import BaseBackend

from servicepulse.kpi.engine import store_backend
from servicepulse.store.tables import RECORD_TABLES

# The record tables must be there; other areas' tables (text_sentiment, rollups, ...) are
# exported too, so that KPIs they add run on every engine.
RECORD_TABLE_NAMES = tuple(table.name for table in RECORD_TABLES.values())
NOT_EXPORTED = {"alembic_version", "quarantine"}
# Rows per Parquet row group. DuckDB and Spark split a file's scan by row group: pyarrow's
# default (about a million rows) leaves a 1M-row table to one thread; DuckDB's own size
# lets every core read.
PARQUET_ROW_GROUP = 122_880


def export_parquet(engine: sqlalchemy.Engine, directory: Path) -> dict[str, int]:
    """Write every table of the store to DIRECTORY/<table>.parquet; rows per table."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    names = sorted(set(sqlalchemy.inspect(engine).get_table_names()) - NOT_EXPORTED)
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
    from pyspark.sql import SparkSession

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

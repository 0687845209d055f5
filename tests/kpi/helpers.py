"""Shared helpers of the KPI tests: load a fixture into a store, pick rows of a result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from servicepulse.store.database import open_store
from tests.conftest import FIXTURES, POSTGRES_ADMIN_URL
from tests.fresh_stores import (
    create_loaded_postgres_database,
    drop_postgres_database,
    loaded_sqlite_store,
)

KPI_FIXTURES = FIXTURES / "kpi"
WEEK = KPI_FIXTURES / "week.jsonl"


def load(engine: Engine, *paths: Path) -> None:
    summary = import_rows(engine, read_paths(list(paths)))
    assert summary.quarantined == 0, summary.rejected


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def loaded_store(backend: str, tmp_path: Path, *paths: Path) -> Iterator[Engine]:
    """A fresh store on `backend` ("sqlite" or "postgres") holding the fixture files `paths`
    as `load` imports them: imported once per test process and copied (an import costs
    seconds, its rollups computed; a copy milliseconds)."""
    name = "|".join(str(path) for path in paths)
    if backend == "sqlite":
        engine = loaded_sqlite_store(tmp_path / "store.db", name, lambda e: load(e, *paths))
        try:
            yield engine
        finally:
            engine.dispose()
        return
    engine = open_store(create_loaded_postgres_database(
        POSTGRES_ADMIN_URL, name, lambda e: load(e, *paths)))
    try:
        yield engine
    finally:
        engine.dispose()
        drop_postgres_database(POSTGRES_ADMIN_URL, engine.url.database or "")


def kpis(engine: Engine, settings: KpiSettings | None = None, **query: Any) -> dict[str, Any]:
    """The KPI results of the one row of an ungrouped query."""
    document = run_kpi_query(engine, KpiQuery.model_validate(query), settings or KpiSettings())
    assert len(document["rows"]) == 1, document["rows"]
    result: dict[str, Any] = document["rows"][0]["kpis"]
    return result


def rows_by_group(document: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row["group"].values()): row["kpis"] for row in document["rows"]}


def categorised_repeats(directory: Path) -> Path:
    """uncategorised_repeats.jsonl with every contact given a category: r2 (u1) and r3 (u2)
    in a category unlike the contact before or after them."""
    lines = []
    for line in (KPI_FIXTURES / "uncategorised_repeats.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("id") == "r2":
            record["category"] = "shipping"
        if record.get("id") == "r3":
            record["category"] = "billing"
        lines.append(json.dumps(record))
    fixture = directory / "categorised.jsonl"
    fixture.write_text("\n".join(lines) + "\n")
    return fixture

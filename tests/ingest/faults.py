"""The fault matrix's tools and fixtures (a conftest makes the fixtures visible).

Each case imports the same simulated centre into a fresh store under a fault, re-runs what
was killed, and compares the store with a clean import of the same records: the records, the
business-hours durations, every rollup row, every sentiment score, the exact KPI document and
the rollup's, and no rebuild mark left over; `servicepulse verify` must find it consistent.

Kills are real: the command runs in its own process, with a kill point installed by KILLER
(test code only) that sends SIGKILL to the process at the Nth call of an internal function.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine

from servicepulse.cli.verify import default_checks
from servicepulse.ingest.importer import Importer
from servicepulse.ingest.readers import read_paths
from servicepulse.insights.tables import text_sentiment, text_sentiment_pending
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.rollup import query_rollup
from servicepulse.kpi.tables import (
    kpi_daily_histogram,
    kpi_daily_histogram_team,
    kpi_daily_rollup,
    kpi_daily_rollup_team,
    kpi_monthly_histogram_team,
    kpi_monthly_rollup_team,
    kpi_rollup_dirty,
)
from servicepulse.simulate import SimulationConfig, simulate_records
from servicepulse.store import tables
from servicepulse.store.database import open_store
from servicepulse.store.derived import run_checks
from tests.conftest import POSTGRES_ADMIN_URL
from tests.fresh_stores import (
    create_postgres_database,
    drop_postgres_database,
    fresh_sqlite_store,
)

# Installs a kill point, then runs the `servicepulse` command with the remaining arguments.
KILLER = """
import os, signal, sys
point, after = sys.argv[1], int(sys.argv[2])
calls = [0]

def killing(original):
    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] >= after:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    return wrapped

if point == "batch":  # inside the batch's transaction, before its hooks and commit
    from servicepulse.ingest.importer import Importer
    Importer._after_batch = killing(Importer._after_batch)
elif point == "rollup":  # writing the rebuilt rollup, after the batches committed
    import servicepulse.kpi.rollup as rollup
    rollup.write_rollups = killing(rollup.write_rollups)
elif point == "sentiment":  # scoring the texts, after the rollup was written
    import servicepulse.insights.sentiment as sentiment
    sentiment.score_text = killing(sentiment.score_text)
sys.argv = ["servicepulse", *sys.argv[3:]]
from servicepulse.cli.main import run
run()
"""
ROLLUP_TABLES = (kpi_daily_rollup, kpi_daily_histogram, kpi_daily_rollup_team,
                 kpi_daily_histogram_team, kpi_monthly_rollup_team, kpi_monthly_histogram_team)
BATCH = "400"


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 agents over a day, without the customer records (most of the rows, none of the
    derived data): about 4,000 records with customer texts, surveys and business hours."""
    path = tmp_path_factory.mktemp("centre") / "centre.jsonl"
    with path.open("wb") as handle:
        for record in simulate_records(SimulationConfig(agents=12, days=1, seed=3)):
            if record["type"] != "customer":
                handle.write(orjson.dumps(record) + b"\n")
    return path


def split_parts(source: Path, directory: Path, count: int) -> list[Path]:
    """`count` files; line n goes to files n % count and (n + 1) % count, so every record is
    imported twice, by two importers at once, in different batches.

    Except the QA records, whose references are not free to arrive in any order: a review
    must find its form and interaction stored or in its own file (docs/records.md), else it
    is quarantined. So every file holds the forms, and a review goes to the two files that
    hold its interaction (which comes before it in the centre)."""
    lines = source.read_bytes().splitlines(keepends=True)
    parts: list[set[int]] = []  # per line, the files it goes to
    parts_of_interaction: dict[str, set[int]] = {}
    for n, line in enumerate(lines):
        record = orjson.loads(line)
        where = {n % count, (n + 1) % count}
        if record["type"] == "interaction":
            parts_of_interaction[record["id"]] = where
        elif record["type"] == "qa_form":
            where = set(range(count))
        elif record["type"] == "qa_review":
            where = parts_of_interaction[record["interaction_id"]]
        parts.append(where)
    paths = [directory / f"part{k}.jsonl" for k in range(count)]
    for k, path in enumerate(paths):
        path.write_bytes(b"".join(line for line, where in zip(lines, parts, strict=True)
                                  if k in where))
    return paths


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def new_store(backend: str, tmp_path: Path) -> Iterator[Any]:
    """A factory of fresh, migrated stores (URLs) on the backend; dropped afterwards."""
    created: list[str] = []

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path / f"{uuid.uuid4().hex[:8]}.db"
            fresh_sqlite_store(path).dispose()  # migrated before any import process starts
            return f"sqlite:///{path}"
        url = create_postgres_database(POSTGRES_ADMIN_URL, prefix="sp_fault")  # migrated
        created.append(url)
        return url

    yield make
    for url in created:
        drop_postgres_database(POSTGRES_ADMIN_URL, sa.engine.make_url(url).database or "")


def servicepulse(url: str, *arguments: str, kill: tuple[str, int] | None = None
                  ) -> subprocess.CompletedProcess[bytes]:
    prefix = ["-c", KILLER, kill[0], str(kill[1])] if kill else ["-m", "servicepulse"]
    return subprocess.run([sys.executable, *prefix, "--db", url, *arguments],
                          capture_output=True, timeout=600, check=False,
                          env={**os.environ, "COLUMNS": "200"})


def import_file(url: str, *paths: Path, kill: tuple[str, int] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    return servicepulse(url, "import", *map(str, paths), "--batch-size", BATCH,
                         "--output", "json", kill=kill)


def rounded(value: Any) -> Any:
    """Sums of floats added in another order may differ in the last bits."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return round(value, 9 - math.floor(math.log10(abs(value))))
    return value


def table_rows(connection: sa.Connection, table: sa.Table, leave_out: tuple[str, ...] = ()
          ) -> list[tuple[Any, ...]]:
    columns = [column for column in table.columns if column.name not in leave_out]
    return sorted((tuple(rounded(value) for value in row)
                   for row in connection.execute(sa.select(*columns))),
                  key=lambda row: tuple((value is None, str(value)) for value in row))


def snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found: dict[str, Any] = {
                table.name: table_rows(connection, table)
                for table in tables.RECORD_TABLES.values()}
            for table in ROLLUP_TABLES:
                found[table.name] = table_rows(connection, table)
            found["text_sentiment"] = table_rows(connection, text_sentiment, ("scored_at",))
            found["marks"] = (table_rows(connection, kpi_rollup_dirty),
                              table_rows(connection, text_sentiment_pending))
        query = KpiQuery(by=["team"], period="day")
        found["kpi"] = plain(run_kpi_query(engine, query))
        found["rollup_kpi"] = plain(query_rollup(
            engine, KpiQuery(by=["team"], period="day", kpis=["contacts", "aht", "csat"])))
        return found
    finally:
        engine.dispose()


def plain(document: Any) -> Any:
    """A KPI document with its floats rounded like the rows (and no timing fields)."""
    if isinstance(document, dict):
        return {key: plain(value) for key, value in document.items()
                if key not in ("seconds", "as_of", "generated_at")}
    if isinstance(document, list):
        return [plain(value) for value in document]
    return rounded(document)


def import_here(url: str, *paths: Path) -> dict[str, Any]:
    """An import in this process (a re-run, a clean import: no fault, no process to start);
    its summary as `import --output json` gives it."""
    engine = open_store(url)
    try:
        return Importer(engine, int(BATCH)).import_rows(read_paths(list(paths))).as_json()
    finally:
        engine.dispose()


def verify(url: str) -> None:
    """`servicepulse verify` (its checks, in this process) finds the store consistent."""
    engine = open_store(url)
    try:
        report = run_checks(engine, default_checks())
        assert report.consistent, report.as_json()
    finally:
        engine.dispose()


_CLEAN: dict[str, dict[str, Any]] = {}  # backend -> snapshot of a clean import


@pytest.fixture
def clean(centre: Path, new_store: Any, backend: str) -> dict[str, Any]:
    """The snapshot of a clean import (made once per backend and test process)."""
    if backend not in _CLEAN:
        url = new_store()
        assert import_here(url, centre)["quarantined"] == 0
        found = snapshot(url)
        assert found["text_sentiment"] and found[kpi_daily_rollup.name]
        assert found["rollup_kpi"] is not None  # the rollup answers (nothing stale)
        assert found["marks"] == ([], [])
        _CLEAN[backend] = found
    return _CLEAN[backend]


def assert_same(url: str, clean: dict[str, Any]) -> None:
    verify(url)
    found = snapshot(url)
    for key, expected in clean.items():
        assert found[key] == expected, key



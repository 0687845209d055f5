"""`servicepulse bench import`: records per second into SQLite and PostgreSQL.

The data is the simulator's (interactions with their events, surveys, states, shifts, ...),
written once to bench-data/ and imported into a fresh store per run. The baseline measured in
the same process is the floor of the pipeline: reading and parsing the same file (orjson) with
no validation and no database, so the ratio says what validation + storage cost on top.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from rich.console import Console
from sqlalchemy import create_engine, text

from servicepulse.bench.report import machine_line, median, write_section
from servicepulse.ingest.importer import Importer
from servicepulse.ingest.readers import read_paths
from servicepulse.store.database import open_store

console = Console(stderr=True)
BENCH_DATA = Path("bench-data")


def bench_file(agents: int, days: int, seed: int = 7) -> tuple[Path, int, int]:
    """The simulated file (made once), its record count and interaction count."""
    from servicepulse.simulate import SimulationConfig, write_jsonl

    path = BENCH_DATA / f"sim-{agents}a-{days}d-s{seed}.jsonl"
    if not path.exists():
        BENCH_DATA.mkdir(exist_ok=True)
        console.print(f"simulating {agents} agents x {days} days -> {path}")
        write_jsonl(SimulationConfig(agents=agents, days=days, seed=seed), path)
    records = interactions = 0
    with path.open("rb") as handle:
        for line in handle:
            records += 1
            if b'"type":"interaction"' in line:
                interactions += 1
    return path, records, interactions


def _parse_only(path: Path) -> None:
    with path.open("rb") as handle:
        for line in handle:
            orjson.loads(line)


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _import_sqlite(path: Path, workdir: Path) -> float:
    db = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
    engine = open_store(f"sqlite:///{db}")
    try:
        return _timed(lambda: Importer(engine).import_rows(read_paths([path])))
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)


def _import_postgres(path: Path, admin_url: str) -> float:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"sp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_store(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        return _timed(lambda: Importer(engine).import_rows(read_paths([path])))
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_import_bench(agents: int, days: int, runs: int, postgres_url: str | None,
                     write: bool = True) -> str:
    path, records, interactions = bench_file(agents, days)
    console.print(f"{path}: {records:,} records, {interactions:,} interactions")
    parse = [_timed(lambda: _parse_only(path)) for _ in range(runs)]
    sqlite = []
    for n in range(runs):
        sqlite.append(_import_sqlite(path, BENCH_DATA))
        console.print(f"sqlite run {n + 1}: {records / sqlite[-1]:,.0f} records/s")
    postgres = []
    if postgres_url:
        for n in range(runs):
            postgres.append(_import_postgres(path, postgres_url))
            console.print(f"postgres run {n + 1}: {records / postgres[-1]:,.0f} records/s")
    lines = [
        "## Import (`servicepulse bench import`)",
        "",
        f"{machine_line()}. Simulated data: `--agents {agents} --days {days}`, "
        f"{records:,} records of which {interactions:,} interactions (with their events, "
        f"surveys, agent states, shifts, orders, social). Fresh store per run; median of "
        f"{runs} runs; all runs listed.",
        "",
        "| path | median s | records/s (median) | runs (s) | vs parse-only |",
        "|---|---|---|---|---|",
        f"| parse only (orjson, no validation, no DB): baseline | {median(parse):.1f} | "
        f"{records / median(parse):,.0f} | {', '.join(f'{t:.1f}' for t in parse)} | 1.0x |",
        f"| import into SQLite (WAL) | {median(sqlite):.1f} | {records / median(sqlite):,.0f} |"
        f" {', '.join(f'{t:.1f}' for t in sqlite)} | {median(sqlite) / median(parse):.1f}x |",
    ]
    if postgres:
        lines.append(
            f"| import into PostgreSQL | {median(postgres):.1f} | "
            f"{records / median(postgres):,.0f} | {', '.join(f'{t:.1f}' for t in postgres)} | "
            f"{median(postgres) / median(parse):.1f}x |")
    markdown = "\n".join(lines)
    if write:
        write_section("import", markdown)
    return markdown

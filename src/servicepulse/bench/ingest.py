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
from sqlalchemy import Engine, create_engine, text

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


def _import(engine: Engine, path: Path, workers: int) -> tuple[float, float]:
    """(seconds of the batches, seconds of the after-import work: rollups, text scoring)."""
    summary = Importer(engine, workers=workers).import_rows(
        read_paths([path], parse=workers == 0))
    return summary.seconds, summary.after_import_seconds


def _import_sqlite(path: Path, workdir: Path, workers: int) -> tuple[float, float]:
    db = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
    engine = open_store(f"sqlite:///{db}")
    try:
        return _import(engine, path, workers)
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)


def _import_postgres(path: Path, admin_url: str, workers: int) -> tuple[float, float]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    # CREATE DATABASE takes a name, not a parameter: this one is made here
    name = f"sp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_store(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        return _import(engine, path, workers)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _row(label: str, records: int, runs: list[tuple[float, float]], baseline: float) -> str:
    batches = [b for b, _ in runs]
    totals = [b + a for b, a in runs]
    return (f"| {label} | {records / median(batches):,.0f} | {median(batches):.1f} | "
            f"{', '.join(f'{t:.1f}' for t in batches)} | {median(batches) / baseline:.1f}x | "
            f"{median(totals):.1f} ({records / median(totals):,.0f}/s) |")


def run_import_bench(agents: int, days: int, runs: int, postgres_url: str | None,
                     workers: int = 1, write: bool = True) -> str:
    path, records, interactions = bench_file(agents, days)
    console.print(f"{path}: {records:,} records, {interactions:,} interactions")
    parse = median([_timed(lambda: _parse_only(path)) for _ in range(runs)])
    results: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgres": []}
    for n in range(runs):
        results["sqlite"].append(_import_sqlite(path, BENCH_DATA, workers))
        if postgres_url:
            results["postgres"].append(_import_postgres(path, postgres_url, workers))
        console.print(f"run {n + 1}: " + ", ".join(
            f"{store} {records / r[-1][0]:,.0f} records/s" for store, r in results.items() if r))
    lines = [
        "## Import (`servicepulse bench import`)",
        "",
        f"{machine_line()}. Simulated data `--agents {agents} --days {days}`: {records:,} "
        f"records of which {interactions:,} interactions, with their events, surveys, agent "
        f"states, shifts, orders and social records. A fresh store per run, {workers} "
        f"validation worker(s) beside the writer, median of {runs} runs. The import proper is "
        "the batches (read, validate, upsert, project events, business-hours durations); "
        "after it, once, come the daily KPI rollup and the sentiment scoring of the new texts "
        "(last column: everything).",
        "",
        "| store | records/s | median s | runs (s) | vs parse-only | with rollup + sentiment, s |",
        "|---|---|---|---|---|---|",
        f"| parse only (orjson; no validation, no database): baseline | {records / parse:,.0f} "
        f"| {parse:.1f} | | 1.0x | |",
        _row("SQLite (WAL)", records, results["sqlite"], parse),
    ]
    if results["postgres"]:
        lines.append(_row("PostgreSQL", records, results["postgres"], parse))
    markdown = "\n".join(lines)
    if write:
        write_section("import", markdown)
    return markdown

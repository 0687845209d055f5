"""`servicepulse bench verify`: how long `servicepulse verify` takes on a store of a given
size, on SQLite and PostgreSQL (numbers in BENCHMARKS.md, section "verify").

The store: the web benchmark's synthetic records (`synthetic_records`: 60 days, 60 agents
in 4 teams), with a business-hours calendar on every team and a customer message on one
interaction in four (plainly English texts, each distinct), bulk loaded (no import hooks),
then its derived data built once by the areas' own refreshers (business-hours durations,
the rollup, the sentiment scores). It is kept (bench-data/verify-N.db, database
sp_bench_verify_N) and reused by later runs. Each run is a whole `verify` without repair;
the medians are reported per kind and in total, and the run must find the store consistent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, create_engine, func, select, text

from servicepulse.bench.report import machine_line, median, write_section
from servicepulse.bench.web import BENCH_DATA, DATA_SHAPE, bulk_load
from servicepulse.bench.web_data import synthetic_records
from servicepulse.store.database import open_store
from servicepulse.store.derived import NO_PROGRESS, DerivedCheck, run_checks
from servicepulse.store.tables import interactions

console = Console(stderr=True)
TEXT_EVERY = 4  # one interaction in four has a customer message
_OPENINGS = ("Hello,", "Hi there,", "Good morning,", "Hey,")
_ISSUES = ("where is my order {n}? It has not arrived and I am getting worried.",
           "I was charged twice for order {n} and I would like the money back.",
           "thank you so much for the quick help with order {n}, it is great!",
           "the parcel for order {n} arrived damaged and I am really not happy.",
           "can you tell me when order {n} will be delivered to my address?")


def bench_records(size: int) -> Iterator[dict[str, Any]]:
    """The web benchmark's records with a calendar on each team and customer messages."""
    yield {"type": "calendar", "id": "cal-bench", "timezone": "UTC",
           "hours": {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}}
    count = 0
    for record in synthetic_records(size, **DATA_SHAPE):
        if record["type"] == "team":
            record = {**record, "calendar_id": "cal-bench"}
        yield record
        if record["type"] == "interaction":
            count += 1
            if count % TEXT_EVERY == 0:
                body = (f"{_OPENINGS[count % len(_OPENINGS)]} "
                        + _ISSUES[(count // 7) % len(_ISSUES)].format(n=count))
                yield {"type": "event", "id": f"msg-{record['id']}",
                       "interaction_id": record["id"], "at": record["created_at"],
                       "kind": "customer_message", "actor": "customer", "body": body}


def _store_url(backend: str, size: int, postgres_url: str) -> str:
    if backend == "sqlite":
        BENCH_DATA.mkdir(exist_ok=True)
        return f"sqlite:///{(BENCH_DATA / f'verify-{size}.db').resolve()}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"sp_bench_verify_{size}"
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).scalar():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin.url.set(database=name).render_as_string(hide_password=False)


def prepare_store(backend: str, size: int, postgres_url: str) -> tuple[Engine, dict[str, float]]:
    """The store of `size` interactions with its derived data (built once, then reused);
    the seconds each build step took when it was built now."""
    from servicepulse.insights.sentiment import score_texts
    from servicepulse.insights.tables import text_sentiment
    from servicepulse.kpi.business_hours import refresh_business_durations
    from servicepulse.kpi.rollup import refresh_rollups
    from servicepulse.kpi.tables import kpi_daily_rollup

    engine = open_store(_store_url(backend, size, postgres_url))
    have = _rows(engine, interactions)
    if have and have != size:
        raise SystemExit(f"{engine.url.render_as_string()} holds {have:,} interactions, not "
                         f"{size:,}: drop it first")
    # each step runs when what it writes is missing: a build killed half-way is completed
    steps = (("load", lambda: have == 0, None),
             ("business hours", lambda: _rows(engine, interactions.c.resolution_business_s)
              == 0, refresh_business_durations),
             ("rollup", lambda: _rows(engine, kpi_daily_rollup) == 0, refresh_rollups),
             ("sentiment", lambda: _rows(engine, text_sentiment) == 0,
              lambda connection: score_texts(connection)))
    built: dict[str, float] = {}
    for name, missing, step in steps:
        if not missing():
            continue
        console.print(f"[{backend}] {name} ...")
        started = time.perf_counter()
        if step is None:
            bulk_load(engine, bench_records(size))
        else:
            with engine.begin() as connection:
                step(connection)
        built[name] = time.perf_counter() - started
        console.print(f"[{backend}] {name}: {built[name]:.0f} s")
    if not built:
        return engine, built
    if backend == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return engine, built


def _rows(engine: Engine, what: Any) -> int:
    """Rows of a table, or non-null values of a column."""
    statement = select(func.count()).select_from(what) if hasattr(what, "columns") else \
        select(func.count(what))
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def _timed_checks(engine: Engine, checks: Sequence[DerivedCheck]) -> tuple[dict[str, float],
                                                                            bool, int]:
    """Seconds per kind of one verify, whether it found the store consistent, and the
    number of stored values it compared."""
    times: dict[str, float] = {}
    consistent, checked = True, 0
    for check in checks:
        started = time.perf_counter()
        report = run_checks(engine, [check], progress=NO_PROGRESS)
        times[check.name] = time.perf_counter() - started
        consistent = consistent and report.consistent
        checked += report.kinds[0].found.checked
    times["total"] = sum(times.values())
    return times, consistent, checked


def run_verify_bench(size: int, runs: int, backends: Sequence[str], postgres_url: str,
                     checks: Sequence[DerivedCheck]) -> str:
    rows: list[str] = []
    notes: list[str] = []
    for backend in backends:
        engine, built = prepare_store(backend, size, postgres_url)
        load_before = os.getloadavg()
        measured: list[dict[str, float]] = []
        checked = 0
        for run in range(runs):
            times, consistent, checked = _timed_checks(engine, checks)
            console.print(f"[{backend}] run {run + 1}: " + ", ".join(
                f"{name} {seconds:.1f} s" for name, seconds in times.items()))
            if not consistent:
                notes.append(f"{backend}: run {run + 1} found differences (the store was "
                             "not consistent: see `servicepulse verify`)")
            measured.append(times)
        engine.dispose()
        notes.append(f"{backend}: load average (1, 5, 15 min) before the runs "
                     + ", ".join(f"{value:.1f}" for value in load_before) + ", after "
                     + ", ".join(f"{value:.1f}" for value in os.getloadavg())
                     + " (other work on the machine shows in every figure)")
        names = list(measured[0])
        rows.append(f"| {backend} | {size:,} | {checked:,} | " + " | ".join(
            f"{median([times[name] for times in measured]):.1f}" for name in names) + " |")
        if built:
            notes.append(f"{backend}: store built in this run: " + ", ".join(
                f"{name} {seconds:.0f} s" for name, seconds in built.items()))
    names = [check.name for check in checks]
    text_lines = [
        f"`servicepulse bench verify --interactions {size} --runs {runs} --backends "
        f"{','.join(backends)}`: one whole "
        "`servicepulse verify` (no repair) on a store of synthetic interactions (60 days, "
        f"60 agents, a calendar on every team, a customer message on one interaction in "
        f"{TEXT_EVERY}) whose derived data is consistent. {machine_line()}; medians of "
        f"{runs} runs.", "",
        "| backend | interactions | values compared | " + " | ".join(
            f"{name} (s)" for name in names) + " | total (s) |",
        "|---|---:|---:|" + "---:|" * (len(names) + 1), *rows]
    if notes:
        text_lines += ["", *(f"- {note}" for note in notes)]
    markdown = "\n".join(text_lines)
    write_section("verify", markdown)
    return markdown

"""`servicepulse bench qa`: what the internal quality score costs a KPI query by agent.

Data: `servicepulse.bench.kpi.generate` (interactions, surveys, agents, customers, states over
a year, straight into the Parquet export's schema), plus one QA form of five categories and
reviews of a tenth of the interactions (the issue: 100k reviews beside 1M contacts), each with
its IQS and its category scores worked out by the importer's own functions
(`servicepulse.records.qa`). The engine runs on DuckDB over the Parquet files and on SQLite and
PostgreSQL stores loaded from them.

Measured, by agent over the year (`kpi --by agent`, the previous year compared, as the
command does): the bench's scorecard KPIs (the same query without reviews), the same with
`iqs` added (what the reviews add), `iqs` alone (`kpi --kpi iqs --by agent`) and one category
KPI alone (`iqs_accuracy`). The issue's bar: IQS adds less than 20%.

The machine is shared, so the queries take turns: each round runs every query once, and each
query's median is over the rounds. A burst of load elsewhere then slows every query of that
round, not one query's runs.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from servicepulse.bench.kpi import (
    BENCH_KPIS,
    DAY_S,
    DAYS,
    PARQUET_ROW_GROUP,
    START,
    _epochs,
    _ids,
    _table,
    generate,
    load_postgres,
    load_sqlite,
)
from servicepulse.bench.report import machine_line, median, time_runs, write_section
from servicepulse.kpi.results import KpiResult
from servicepulse.records.models import QaCategory
from servicepulse.records.qa import category_percents, review_iqs

REVIEW_SHARE = 0.1  # reviews per interaction (the issue: 100k reviews over 1M contacts)
CALIBRATION_SHARE = 0.03
CATEGORIES = (
    QaCategory(name="greeting", weight=1, scale_max=2),
    QaCategory(name="understanding", weight=2, scale_max=4),
    QaCategory(name="accuracy", weight=3, scale_min=1, scale_max=5, critical=True),
    QaCategory(name="tone", weight=2, scale_max=4),
    QaCategory(name="closing", weight=1, scale_max=2),
)
QUERIES = {
    "scorecard KPIs (no reviews read)": BENCH_KPIS,
    "scorecard KPIs + iqs": [*BENCH_KPIS, "iqs"],
    "iqs alone": ["iqs"],
    "iqs_accuracy alone": ["iqs_accuracy"],
}
BASE, WITH_IQS, IQS_ALONE = list(QUERIES)[:3]


def add_reviews(directory: Path, interactions: int, seed: int = 18) -> int:
    """Write the QA form, reviews of REVIEW_SHARE of the interactions and their category
    scores into the export `directory` (written by `generate`); the number of reviews."""
    # the empty QA tables `generate` wrote give the export's schemas
    schemas = {name: pq.read_schema(directory / f"{name}.parquet")
               for name in ("qa_forms", "qa_reviews", "qa_review_scores")}
    rng = np.random.default_rng(seed)
    n = int(interactions * REVIEW_SHARE)
    reviewed = rng.choice(interactions, size=n, replace=False)
    created = pq.read_table(directory / "interactions.parquet",
                            columns=["created_at"]).column(0).to_numpy()
    at = created[reviewed] + rng.uniform(3600, 3 * DAY_S, n)
    names = [c.name for c in CATEGORIES]
    drawn = np.column_stack([rng.integers(int(c.scale_min), int(c.scale_max) + 1, n)
                             for c in CATEGORIES]).tolist()
    scores = [dict(zip(names, row, strict=True)) for row in drawn]
    # the importer's arithmetic, review by review (what the store would hold)
    iqs = [review_iqs(CATEGORIES, review) for review in scores]
    percents = [category_percents(CATEGORIES, review) for review in scores]
    review_ids = _ids("qr", np.arange(n))
    content_hash = pa.repeat(pa.scalar("0" * 32), n)
    tables = {
        "qa_forms": _table(schemas["qa_forms"], {
            "id": pa.array(["form"]), "name": pa.array(["Conversation quality"]),
            "categories": pa.array([orjson.dumps([c.model_dump(exclude_none=True)
                                                  for c in CATEGORIES]).decode()]),
            "content_hash": pa.array(["0" * 32])}, 1),
        "qa_reviews": _table(schemas["qa_reviews"], {
            "id": review_ids, "interaction_id": _ids("i", reviewed),
            "reviewer_id": _ids("lead", rng.integers(0, 10, n)),
            "form_id": pa.repeat(pa.scalar("form"), n), "at": at,
            "scores": pa.array([orjson.dumps(review).decode() for review in scores]),
            "calibration": rng.random(n) < CALIBRATION_SHARE, "iqs": np.array(iqs),
            "content_hash": content_hash}, n),
        "qa_review_scores": _table(schemas["qa_review_scores"], {
            "review_id": pa.concat_arrays([review_ids] * len(names)),
            "category": pa.array(np.repeat(names, n)),
            "percent": np.array([review[name] for name in names for review in percents])},
            n * len(names)),
    }
    for name, table in tables.items():
        pq.write_table(table, directory / f"{name}.parquet", row_group_size=PARQUET_ROW_GROUP)
    return n


def _query(kpis: list[str]) -> Any:
    from servicepulse.kpi.query import KpiQuery

    return KpiQuery.model_validate({"by": ["agent"], "kpis": kpis, "from": START.isoformat(),
                                    "to": (START + timedelta(days=DAYS)).isoformat()})


def pandas_iqs_by_agent(directory: Path) -> pd.Series:
    """The year's IQS by agent from the Parquet files with pandas (independent of the engine):
    the mean IQS of the non-calibration reviews, by the reviewed interaction's agent."""
    reviews = pd.read_parquet(directory / "qa_reviews.parquet",
                              columns=["interaction_id", "at", "iqs", "calibration"])
    contacts = pd.read_parquet(directory / "interactions.parquet", columns=["id", "agent_id"])
    start, end = _epochs()
    reviews = reviews[~reviews.calibration & (reviews["at"] >= start) & (reviews["at"] < end)]
    joined = reviews.merge(contacts, left_on="interaction_id", right_on="id")
    # an abandoned call has no agent: its reviews form the group "no agent" ("")
    return joined.groupby(joined.agent_id.fillna(""))["iqs"].mean()


def engine_agreement(result: KpiResult, hand: pd.Series) -> float:
    """The largest difference between the engine's IQS by agent and pandas' (every agent
    with reviews must be in both)."""
    figures = {row.group["agent"] or "": row.figure("iqs") for row in result.rows}
    engine = {agent: float(figure.value) for agent, figure in figures.items()
              if figure is not None and figure.n and figure.value is not None}
    if set(engine) != set(hand.index):
        raise AssertionError(f"agents differ: {sorted(set(engine) ^ set(hand.index))[:5]}")
    return max(abs(engine[agent] - value) for agent, value in hand.items())


def interleaved_medians(runs: dict[str, Callable[[], object]], rounds: int
                        ) -> dict[str, float]:
    """Each run's median seconds over `rounds` rounds in which every run runs once, after
    one warm-up round."""
    times: dict[str, list[float]] = {label: [] for label in runs}
    for round_number in range(rounds + 1):
        for label, run in runs.items():
            measured = time_runs(run, repeats=1, warmup=0)
            if round_number:
                times[label] += measured
    return {label: median(values) for label, values in times.items()}


Row = tuple[int, int, str, dict[str, float]]


def run_qa_bench(sizes: list[int], runs: int, sqlite: bool = True,
                 postgres_url: str | None = None, workdir: Path | None = None,
                 echo: Callable[[str], None] = print) -> str:
    from servicepulse.kpi.backends import duckdb_backend
    from servicepulse.kpi.settings import KpiSettings

    settings = KpiSettings()
    root = workdir or Path(tempfile.mkdtemp(prefix="sp-bench-qa-"))
    rows: list[Row] = []
    notes: list[str] = []
    for size in sizes:
        directory = root / f"n{size}"
        began = time.perf_counter()
        generate(directory, size)
        reviews = add_reviews(directory, size)
        echo(f"{size:,} interactions and {reviews:,} reviews generated in "
             f"{time.perf_counter() - began:.0f} s ({directory})")
        hand = pandas_iqs_by_agent(directory)
        engines: list[tuple[str, Any]] = [("DuckDB over Parquet", duckdb_backend(directory))]
        if sqlite:
            engines.append(("SQLite store", directory / "store.db"))
        if postgres_url:
            engines.append(("PostgreSQL store", postgres_url))
        for engine_name, target in engines:
            began = time.perf_counter()
            run_query, dispose = _runner(target, directory, settings)
            if engine_name != "DuckDB over Parquet":
                echo(f"  {engine_name} loaded in {time.perf_counter() - began:.0f} s")
            try:
                difference = engine_agreement(run_query(_query(["iqs"])), hand)
                notes.append(f"{engine_name} at {size:,}: the IQS of {len(hand)} agents equals "
                             f"pandas' to {difference:.1e}")
                times = interleaved_medians(
                    {label: partial(run_query, _query(kpis)) for label, kpis in QUERIES.items()},
                    runs)
            finally:
                dispose()
            echo(f"  {engine_name}: " + ", ".join(f"{label} {seconds:.2f} s"
                                                  for label, seconds in times.items()))
            rows.append((size, reviews, engine_name, times))
        write_section("qa", _section(rows, runs, notes))
        if workdir is None:
            shutil.rmtree(directory, ignore_errors=True)
    if workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return _section(rows, runs, notes)


def _runner(target: Any, directory: Path, settings: Any
            ) -> tuple[Callable[[Any], KpiResult], Callable[[], None]]:
    """How to run a query on `target` (a DuckDB backend, a SQLite file to load, or a
    PostgreSQL server to load a scratch database on), and how to let it go."""
    from servicepulse.kpi.engine import run_kpi_query, run_on_backend

    if not isinstance(target, (str, Path)):
        return partial(run_on_backend, target, settings=settings), lambda: None
    if isinstance(target, Path):
        engine = load_sqlite(directory, target)
        dispose: Callable[[], None] = engine.dispose
    else:
        engine, dispose = load_postgres(directory, target)
    return partial(run_kpi_query, engine, settings=settings), dispose


def _section(rows: list[Row], runs: int, notes: list[str]) -> str:
    labels = list(QUERIES)
    lines = [
        "`kpi --by agent` over a year (200 agents; the previous year compared, as the command "
        f"does): the bench's scorecard KPIs ({', '.join(BENCH_KPIS)}) without and with `iqs`, "
        "and the QA KPIs alone (`kpi --kpi iqs --by agent`). One QA form of five categories "
        "(one critical, scales 0-2, 0-4 and 1-5); reviews of a tenth of the interactions, "
        f"{CALIBRATION_SHARE:.0%} of them calibration reviews. {machine_line()}; medians of "
        f"{runs} rounds after a warm-up round, each round running every query once in turn "
        "(the machine is shared: load elsewhere slows a whole round, not one query).", "",
        "| interactions | reviews | engine | " + " | ".join(f"{label} (s)" for label in labels)
        + " | iqs adds | iqs alone / scorecard |",
        "|---:|---:|---|" + "---:|" * len(labels) + "---:|---:|"]
    for size, reviews, engine, times in rows:
        base = times[BASE]
        lines.append(f"| {size:,} | {reviews:,} | {engine} | "
                     + " | ".join(f"{times[label]:.2f}" for label in labels)
                     + f" | {100 * (times[WITH_IQS] - base) / base:+.0f}% | "
                     f"{100 * times[IQS_ALONE] / base:.0f}% |")
    lines += ["", "Checked in the same run: the engine's IQS by agent against pandas over the "
                  "Parquet files (the mean IQS of the non-calibration reviews of each agent's "
                  "interactions):", *(f"- {note}" for note in notes)]
    return "\n".join(["## QA: the internal quality score", "", *lines])

"""`servicepulse bench kpi`: the scorecard by agent x day at 1M-10M interactions.

Data: generated with numpy straight into the Parquet export's schema (the simulator is built
for realism, not for 10M rows in seconds), then loaded into SQLite and PostgreSQL stores for
the store engines. Compared in the same process, on the same Parquet:
- the engine on DuckDB (`run_on_backend(duckdb_backend(DIR), ...)`),
- one hand-written DuckDB SQL query computing the same figures (the practical limit),
- a straightforward pandas implementation (what teams do today);
and the engine on SQLite and PostgreSQL, plus the dashboard's rollup query.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from cachetools import LRUCache

from servicepulse.bench.report import machine_line, median, time_runs, write_section
from servicepulse.errors import InvalidRequest
from servicepulse.kpi.backends import PARQUET_ROW_GROUP
from servicepulse.kpi.results import KpiRow

BENCH_KPIS = ["contacts", "frt", "aht", "fcr", "csat", "service_level", "abandon_rate",
              "resolution_rate"]
START = date(2025, 1, 1)
DAYS = 365
AGENTS = 200
DAY_S = 86_400.0
REPEAT_WINDOW_S = 7 * DAY_S
MAX_COMPILED = 128  # SQL texts remembered per kept connection


# --- data ------------------------------------------------------------------------------------


def _schemas(directory: Path) -> dict[str, pa.Schema]:
    """The Parquet schema of every table, from an export of an empty store."""
    from servicepulse.kpi.backends import export_parquet
    from servicepulse.store.database import open_store

    with tempfile.TemporaryDirectory() as scratch:
        engine = open_store(f"sqlite:///{Path(scratch) / 'empty.db'}")
        export_parquet(engine, directory)
        engine.dispose()
    return {path.stem: pq.read_schema(path) for path in directory.glob("*.parquet")}


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pa.compute.binary_join_element_wise(
        pa.scalar(prefix), pa.array(numbers).cast(pa.string()), "")


def _choice(rng: np.random.Generator, values: list[str], size: int,
            weights: list[float] | None = None) -> pa.Array:
    picked = rng.choice(len(values), size=size, p=weights)
    return pa.DictionaryArray.from_arrays(pa.array(picked.astype(np.int32)),
                                          pa.array(values)).cast(pa.string())


def _table(schema: pa.Schema, columns: dict[str, Any], rows: int) -> pa.Table:
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(rows, field.type))
        else:
            # from_pandas: numpy's NaN for "no value" becomes NULL, as the export writes it
            # (a NaN time IS NOT NULL in SQL: every call would count as answered)
            arrays.append(pa.array(value, from_pandas=True).cast(field.type)
                          if not isinstance(value, pa.Array) else value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def generate(directory: Path, interactions: int, seed: int = 7) -> dict[str, int]:
    """Write a store-shaped Parquet export with `interactions` contacts over a year."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = _schemas(directory)
    rng = np.random.default_rng(seed)
    n = interactions
    start = (START - date(1970, 1, 1)).days * DAY_S
    customers = max(n // 5, 1)
    channel_names = ["phone", "chat", "email", "social"]
    channel = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    voice = channel < 2
    created = start + rng.random(n) * DAYS * DAY_S
    answered = voice & (rng.random(n) < 0.9)
    abandoned = voice & ~answered
    resolved = rng.random(n) < 0.85
    inbound = rng.random(n) < 0.95
    with_customer = rng.random(n) < 0.95
    agent = rng.integers(0, AGENTS, n)
    answered_at = np.where(answered, created + rng.exponential(30, n), np.nan)
    abandoned_at = np.where(abandoned, created + rng.exponential(40, n), np.nan)
    first_response_at = np.where(~voice, created + rng.exponential(3600, n), np.nan)
    resolved_at = np.where(resolved & ~abandoned, created + 60 + rng.exponential(7200, n),
                           np.nan)
    talk = np.where(answered, rng.gamma(4, 60, n), np.nan)
    columns: dict[str, Any] = {
        "id": _ids("i", np.arange(n)),
        "channel": pa.DictionaryArray.from_arrays(pa.array(channel.astype(np.int32)),
                                                  pa.array(channel_names)).cast(pa.string()),
        "created_at": created,
        "direction": np.where(inbound, "inbound", "outbound"),
        "agent_id": _ids("a", np.where(abandoned, 0, agent)),
        "queue": _choice(rng, ["general", "billing", "tech", "vip", "returns"], n),
        "category": _choice(rng, ["billing", "shipping", "returns", "account", "technical",
                                  "product", "complaint", "other"], n),
        "language": _choice(rng, ["en", "de", "fr"], n, [0.7, 0.2, 0.1]),
        "first_response_at": first_response_at,
        "answered_at": answered_at,
        "resolved_at": resolved_at,
        "abandoned_at": abandoned_at,
        "talk_s": talk,
        "hold_s": np.where(answered, rng.exponential(20, n), np.nan),
        "wrap_s": np.where(answered, rng.exponential(30, n), np.nan),
        "handle_s": np.where(~voice, rng.gamma(3, 200, n), np.nan),
        "reopens": (rng.random(n) < 0.05).astype(np.int64),
        "transfers": (rng.random(n) < 0.08).astype(np.int64),
        "escalated": rng.random(n) < 0.04,
        "content_hash": pa.repeat(pa.scalar("0" * 32), n),
        "given": pa.repeat(pa.scalar("{}"), n),
    }
    # 5% without a customer; abandoned calls have no agent
    columns["customer_id"] = pa.compute.if_else(
        pa.array(with_customer), _ids("c", _customer_numbers(rng, n, customers)),
        pa.nulls(n, pa.string()))
    columns["agent_id"] = pa.compute.if_else(pa.array(abandoned), pa.nulls(n, pa.string()),
                                             columns["agent_id"])
    tables: dict[str, pa.Table] = {"interactions": _table(schemas["interactions"], columns, n)}
    surveys = n // 10
    kind = rng.choice(3, size=surveys, p=[0.6, 0.25, 0.15])
    score = np.select([kind == 0, kind == 1], [rng.integers(1, 6, surveys),
                                                rng.integers(0, 11, surveys)],
                      rng.integers(1, 8, surveys)).astype(float)
    tables["surveys"] = _table(schemas["surveys"], {
        "id": _ids("s", np.arange(surveys)),
        "kind": pa.DictionaryArray.from_arrays(pa.array(kind.astype(np.int32)),
                                               pa.array(["csat", "nps", "ces"])).cast(pa.string()),
        "score": score,
        "submitted_at": start + rng.random(surveys) * DAYS * DAY_S,
        "scale_min": np.select([kind == 1], [0.0], 1.0),
        "scale_max": np.select([kind == 0, kind == 1], [5.0, 10.0], 7.0),
        "agent_id": _ids("a", rng.integers(0, AGENTS, surveys)),
        "content_hash": pa.repeat(pa.scalar("0" * 32), surveys),
    }, surveys)
    tables["agents"] = _table(schemas["agents"], {
        "id": _ids("a", np.arange(AGENTS)),
        "name": _ids("Agent ", np.arange(AGENTS)),
        "role": np.where(np.arange(AGENTS) % 4 == 0, "technical_support", "frontline"),
        "team_id": _ids("t", np.arange(AGENTS) % 10),
        "active": np.ones(AGENTS, dtype=bool),
        "languages": pa.repeat(pa.scalar("[]"), AGENTS),
        "content_hash": pa.repeat(pa.scalar("0" * 32), AGENTS),
    }, AGENTS)
    tables["customers"] = _table(schemas["customers"], {
        "id": _ids("c", np.arange(customers)),
        "segment": _choice(rng, ["gold", "silver", "bronze"], customers),
        "content_hash": pa.repeat(pa.scalar("0" * 32), customers),
    }, customers)
    # agent states: each agent-day 2 h available, 5 h handling, 0.5 h wrap, 0.5 h break
    day_starts = start + np.arange(DAYS) * DAY_S + 8 * 3600
    agent_days = np.repeat(np.arange(AGENTS), DAYS)
    first = np.tile(day_starts, AGENTS)
    spans = [("available", 0, 2), ("handling", 2, 7), ("after_call_work", 7, 7.5),
             ("break", 7.5, 8)]
    rows = len(first) * len(spans)
    tables["agent_states"] = _table(schemas["agent_states"], {
        "id": _ids("st", np.arange(rows)),
        "agent_id": _ids("a", np.tile(agent_days, len(spans))),
        "state": np.repeat([name for name, _, _ in spans], len(first)),
        "start": np.concatenate([first + s * 3600 for _, s, _ in spans]),
        "end": np.concatenate([first + e * 3600 for _, _, e in spans]),
        "content_hash": pa.repeat(pa.scalar("0" * 32), rows),
    }, rows)
    for name, schema in schemas.items():
        table = tables.get(name, schema.empty_table())
        pq.write_table(table, directory / f"{name}.parquet", row_group_size=PARQUET_ROW_GROUP)
    return {name: tables[name].num_rows for name in tables}


def _customer_numbers(rng: np.random.Generator, n: int, customers: int) -> np.ndarray:
    # half the contacts come from a tenth of the customers: repeats within the window happen
    frequent = rng.random(n) < 0.5
    return np.where(frequent, rng.integers(0, max(customers // 10, 1), n),
                    rng.integers(0, customers, n))


# --- loading stores --------------------------------------------------------------------------


def load_sqlite(directory: Path, path: Path) -> Any:
    from servicepulse.store.database import open_store

    engine = open_store(f"sqlite:///{path}")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for file in sorted(directory.glob("*.parquet")):
            table = pq.read_table(file)
            if table.num_rows == 0:
                continue
            names = ", ".join(f'"{name}"' for name in table.column_names)
            marks = ", ".join("?" for _ in table.column_names)
            for batch in table.to_batches(200_000):
                rows = list(zip(*(column.to_pylist() for column in batch.columns),
                                strict=True))
                cursor.executemany(f'INSERT INTO "{file.stem}" ({names}) VALUES ({marks})',
                                   rows)
        raw.commit()
        cursor.execute("ANALYZE")
    finally:
        raw.close()
    return engine


def load_postgres(directory: Path, admin_url: str) -> tuple[Any, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    from servicepulse.store.database import open_store

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    # CREATE DATABASE takes a name, not a parameter: this one is made here
    name = f"sp_bench_kpi_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_store(admin.url.set(database=name).render_as_string(hide_password=False))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for file in sorted(directory.glob("*.parquet")):
            table = pq.read_table(file)
            if table.num_rows == 0:
                continue
            names = ", ".join(f'"{column}"' for column in table.column_names)
            buffer = io.BytesIO()
            pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
            with cursor.copy(f'COPY "{file.stem}" ({names}) FROM STDIN WITH (FORMAT csv)') \
                    as copy:
                copy.write(buffer.getvalue())
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()

    def drop() -> None:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop


# --- the three ways to compute the scorecard ----------------------------------------------


def hand_written_sql(directory: Path) -> str:
    """The same figures in one DuckDB query (UTC days, repeat window 7 days)."""
    i, s = directory / "interactions.parquet", directory / "surveys.parquet"
    return f"""
WITH i AS (
  SELECT *, CAST(floor(created_at / 86400) AS BIGINT) AS day,
    CASE WHEN channel IN ('phone', 'chat') THEN answered_at - created_at
         ELSE first_response_at - created_at END AS frt,
    min(CASE WHEN direction = 'inbound' THEN created_at END) OVER (
      PARTITION BY customer_id, category ORDER BY created_at, id
      ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_same
  FROM '{i}' WHERE created_at < $end + {REPEAT_WINDOW_S + 1} AND created_at >= $start
),
scores AS (
  SELECT agent_id, CAST(floor(submitted_at / 86400) AS BIGINT) AS day,
    count(*) FILTER (WHERE kind = 'csat') AS csat_n,
    count(*) FILTER (WHERE kind = 'csat' AND score >= scale_max - 1) AS csat_s
  FROM '{s}' WHERE submitted_at >= $start AND submitted_at < $end GROUP BY ALL
)
SELECT agent_id, day, count(*) AS contacts,
  median(frt) FILTER (WHERE direction = 'inbound') AS frt_median,
  avg(frt) FILTER (WHERE direction = 'inbound') AS frt_mean,
  quantile_cont(frt, 0.9) FILTER (WHERE direction = 'inbound') AS frt_p90,
  avg(CASE WHEN channel IN ('phone', 'chat') AND talk_s IS NOT NULL
           THEN talk_s + coalesce(hold_s, 0) + coalesce(wrap_s, 0) ELSE handle_s END)
    FILTER (WHERE agent_id IS NOT NULL AND abandoned_at IS NULL) AS aht,
  100.0 * count(*) FILTER (WHERE direction = 'inbound' AND resolved_at IS NOT NULL
    AND reopens = 0 AND transfers = 0 AND NOT escalated
    AND NOT coalesce(customer_id IS NOT NULL AND next_same - created_at <= {REPEAT_WINDOW_S},
                     false))
    / nullif(count(*) FILTER (WHERE direction = 'inbound' AND resolved_at IS NOT NULL), 0)
    AS fcr,
  100.0 * count(*) FILTER (WHERE resolved_at IS NOT NULL) / count(*) AS resolution_rate,
  100.0 * count(*) FILTER (WHERE direction = 'inbound' AND abandoned_at IS NOT NULL
    AND answered_at IS NULL AND abandoned_at - created_at >= 5
    AND channel IN ('phone', 'chat'))
    / nullif(count(*) FILTER (WHERE direction = 'inbound' AND channel IN ('phone', 'chat')
      AND NOT coalesce(abandoned_at IS NOT NULL AND answered_at IS NULL
                       AND abandoned_at - created_at < 5, false)), 0) AS abandon_rate,
  100.0 * count(*) FILTER (WHERE direction = 'inbound' AND answered_at - created_at
    <= CASE channel WHEN 'phone' THEN 20 WHEN 'chat' THEN 30 END)
    / nullif(count(*) FILTER (WHERE direction = 'inbound' AND channel IN ('phone', 'chat')
      AND (answered_at IS NOT NULL OR abandoned_at - created_at >= 5)), 0) AS service_level,
  any_value(100.0 * scores.csat_s / nullif(scores.csat_n, 0)) AS csat
FROM i LEFT JOIN scores USING (agent_id, day)
WHERE created_at < $end
GROUP BY agent_id, day
"""


def pandas_scorecard(directory: Path, start: float, end: float) -> pd.DataFrame:
    """What a team writes today: read the export, compute with pandas."""
    i = pd.read_parquet(directory / "interactions.parquet")
    s = pd.read_parquet(directory / "surveys.parquet")
    i = i[(i.created_at >= start) & (i.created_at < end + REPEAT_WINDOW_S + 1)]
    i = i.sort_values(["customer_id", "category", "created_at", "id"])
    inbound = i.direction == "inbound"
    i["inbound_at"] = i.created_at.where(inbound)
    # next inbound contact of the same customer and category: the following row's time,
    # back-filled over outbound rows, within each group
    keys = ["customer_id", "category"]
    i["next_same"] = i.groupby(keys, dropna=False)["inbound_at"].shift(-1)
    i["next_same"] = i.groupby(keys, dropna=False)["next_same"].bfill()
    i = i[i.created_at < end]
    voice = i.channel.isin(["phone", "chat"])
    inbound = i.direction == "inbound"
    i["day"] = (i.created_at // DAY_S).astype("int64")
    i["frt"] = np.where(voice, i.answered_at - i.created_at, i.first_response_at - i.created_at)
    i["frt"] = i.frt.where(inbound)
    handled = i.agent_id.notna() & i.abandoned_at.isna()
    talk = i.talk_s + i.hold_s.fillna(0) + i.wrap_s.fillna(0)
    i["aht"] = np.where(voice & i.talk_s.notna(), talk, i.handle_s)
    i["aht"] = i.aht.where(handled)
    resolved_inbound = inbound & i.resolved_at.notna()
    repeat = i.customer_id.notna() & (i.next_same - i.created_at <= REPEAT_WINDOW_S)
    i["fcr_n"] = resolved_inbound
    i["fcr_s"] = resolved_inbound & (i.reopens == 0) & (i.transfers == 0) & ~i.escalated \
        & ~repeat
    i["resolved"] = i.resolved_at.notna()
    short = i.abandoned_at.notna() & i.answered_at.isna() & (i.abandoned_at - i.created_at < 5)
    i["offered"] = inbound & voice & ~short
    i["abandoned"] = i.offered & i.abandoned_at.notna() & i.answered_at.isna()
    threshold = i.channel.map({"phone": 20.0, "chat": 30.0})
    i["sl_n"] = inbound & voice & (i.answered_at.notna() | (i.abandoned_at - i.created_at >= 5))
    i["sl_s"] = inbound & (i.answered_at - i.created_at <= threshold)
    grouped = i.groupby(["agent_id", "day"])
    out = grouped.agg(contacts=("id", "size"), frt_median=("frt", "median"),
                      frt_mean=("frt", "mean"),
                      aht=("aht", "mean"), fcr_n=("fcr_n", "sum"), fcr_s=("fcr_s", "sum"),
                      resolved=("resolved", "sum"), offered=("offered", "sum"),
                      abandoned=("abandoned", "sum"), sl_n=("sl_n", "sum"),
                      sl_s=("sl_s", "sum"))
    out["frt_p90"] = grouped.frt.quantile(0.9)
    out["fcr"] = 100 * out.fcr_s / out.fcr_n.where(out.fcr_n > 0)
    out["resolution_rate"] = 100 * out.resolved / out.contacts
    out["abandon_rate"] = 100 * out.abandoned / out.offered.where(out.offered > 0)
    out["service_level"] = 100 * out.sl_s / out.sl_n.where(out.sl_n > 0)
    s = s[(s.submitted_at >= start) & (s.submitted_at < end) & (s.kind == "csat")]
    s = s.assign(day=(s.submitted_at // DAY_S).astype("int64"),
                 top=s.score >= s.scale_max - 1)
    csat = s.groupby(["agent_id", "day"]).top.mean().mul(100).rename("csat")
    return out.join(csat, how="left").reset_index()


# --- running ---------------------------------------------------------------------------------


def _query(days: int = DAYS) -> Any:
    from servicepulse.kpi.query import KpiQuery

    return KpiQuery.model_validate({"by": ["agent"], "period": "day", "kpis": BENCH_KPIS,
                                    "from": START.isoformat(),
                                    "to": (START + timedelta(days=days)).isoformat()})


def _epochs(days: int = DAYS) -> tuple[float, float]:
    start = (START - date(1970, 1, 1)).days * DAY_S
    return start, start + days * DAY_S


def _agreement(rows: list[KpiRow], hand: pd.DataFrame) -> str:
    """Engine vs hand-written on contacts, FCR and the FRT median of every agent-day."""
    expected = {(row.agent_id, int(row.day)): row for row in hand.itertuples()}
    worst = 0.0
    checked = 0
    for row in rows:
        agent = row.group["agent"]
        day = (date.fromisoformat(row.group["period"]) - date(1970, 1, 1)).days
        other = expected.get((agent, day))
        if other is None or row.value("contacts") is None:
            continue
        checked += 1
        for mine, theirs in ((row.value("contacts"), other.contacts),
                             (row.value("fcr"), other.fcr),
                             (row.value("frt"), other.frt_median)):
            if mine is None or theirs is None or (isinstance(theirs, float)
                                                  and math.isnan(theirs)):
                continue
            worst = max(worst, abs(float(mine) - float(theirs)))
    return f"{checked} agent-days compared, largest difference {worst:.4f}"


def run_kpi_bench(sizes: list[int], large: int | None, store_sizes: list[int], runs: int,
                  postgres_url: str | None, workdir: Path | None = None,
                  echo: Callable[[str], None] = print) -> str:
    import duckdb
    from sqlalchemy import Engine

    from servicepulse.kpi.backends import duckdb_backend
    from servicepulse.kpi.engine import columns_on_backend, run_kpi_query
    from servicepulse.kpi.rollup import (
        refresh_rollups,
    )
    from servicepulse.kpi.settings import KpiSettings

    settings = KpiSettings()
    root = workdir or Path(tempfile.mkdtemp(prefix="sp-bench-kpi-"))
    root.mkdir(parents=True, exist_ok=True)
    query = _query()
    start, end = _epochs()
    scaling: list[dict[str, Any]] = []
    stores: list[dict[str, Any]] = []
    notes: list[str] = []
    rollup_lines: list[str] = []

    def section() -> str:
        lines = [f"Scorecard by agent x day ({', '.join(BENCH_KPIS)}; {AGENTS} agents, "
                 f"{DAYS} days; the engine also works out CIs and order-statistic "
                 "intervals, and the previous period unless said otherwise). "
                 f"{machine_line()}; medians of {runs} runs "
                 "after a warm-up run (1 run, no warm-up, for the store engines at 10M). "
                 "Engine on DuckDB: every run builds its Ibis expressions and compiles them "
                 "to SQL (a one-off command); kept connection: the same query asked again on "
                 "a connection that kept both (as the web server runs it); kept, no previous "
                 "period: the same with `compare=False`, which reads no period before the "
                 "first, as the hand-written query reads none (the like-for-like ratio for "
                 "the rows read; the engine still compares each day with the day before it "
                 "and works out intervals, which the hand-written query does not). "
                 "Parquet written as the export writes it (row groups of "
                 f"{PARQUET_ROW_GROUP:,} rows).", "",
                 "| interactions | engine on DuckDB (s) | kept connection (s) | "
                 "kept, no previous period (s) | "
                 "+ JSON rows (s) | hand-written DuckDB SQL (s) | pandas (s) | "
                 "engine / hand-written | kept / hand-written | "
                 "kept, no previous period / hand-written | pandas / engine | "
                 "pandas / kept |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        if not scaling:  # a run of the stores alone
            lines = lines[:1]
        for item in scaling:
            pandas_time = item.get("pandas")
            kept_time = item.get("kept") or item["engine"]
            alike_time = item.get("kept_alike") or kept_time
            lines.append(
                f"| {item['n']:,} | {item['engine']:.2f} | {kept_time:.2f} | "
                f"{alike_time:.2f} | {item['rows']:.2f} | {item['hand']:.2f} | "
                + (f"{pandas_time:.2f}" if pandas_time else "—") + " | "
                + f"{item['engine'] / item['hand']:.2f}x | {kept_time / item['hand']:.2f}x | "
                + f"{alike_time / item['hand']:.2f}x | "
                + (f"{pandas_time / item['engine']:.1f}x | {pandas_time / kept_time:.1f}x"
                   if pandas_time else "— | —") + " |")
        if len(scaling) > 1:
            first, last = scaling[0], scaling[-1]
            growth = last["n"] / first["n"]
            lines += ["", f"Cost growth {first['n']:,} → {last['n']:,} rows (x{growth:g}): "
                          f"engine x{last['engine'] / first['engine']:.2f}, hand-written "
                          f"x{last['hand'] / first['hand']:.2f}."]
        if stores:
            lines += ["", "| engine | interactions | load (s) | scorecard query (s) |",
                      "|---|---:|---:|---:|"]
            lines += [f"| {item['engine']} | {item['n']:,} | {item['load']:.1f} | "
                      f"{item['query']:.2f} |" for item in stores]
        if rollup_lines:
            lines += ["", *rollup_lines]
        if notes:
            lines += ["", *(f"- {note}" for note in notes)]
        return "\n".join(lines)

    compared = set(sizes) | ({large} if large else set())
    # a store size outside the scaling series is loaded into the stores only (the long
    # 10M store runs can then be measured apart from the DuckDB series)
    all_sizes = sorted(compared | set(store_sizes))
    for n in all_sizes:
        directory = root / f"parquet-{n}"
        began = time.perf_counter()
        generate(directory, n)
        echo(f"{n:,}: generated in {time.perf_counter() - began:.1f} s")
        if n in compared:  # the DuckDB series: engine, hand-written SQL, pandas
            backend = duckdb_backend(directory)
            document: list[KpiRow] = []
            document_times: list[float] = []

            def engine_run(backend: Any = backend, document: list[KpiRow] = document,
                           document_times: list[float] = document_times) -> None:
                _header, columns = columns_on_backend(backend, query, settings)
                began = time.perf_counter()  # the result's rows: one figure per group and KPI
                document[:] = columns.rows()
                document_times.append(time.perf_counter() - began)

            engine_times = time_runs(engine_run, repeats=runs, warmup=1)
            # time_runs timed figures + rows; the engine's figures alone exclude the rows
            rows_times = document_times[-runs:]
            engine_times = [total - rows for total, rows in zip(engine_times, rows_times,
                                                               strict=True)]
            connection = duckdb.connect()
            sql = hand_written_sql(directory)
            hand: dict[str, pd.DataFrame] = {}

            def hand_run(connection: Any = connection, sql: str = sql,
                         hand: dict[str, pd.DataFrame] = hand) -> None:
                hand["result"] = connection.execute(sql, {"start": start, "end": end}).df()

            hand_times = time_runs(hand_run, repeats=runs, warmup=1)
            if n == min(compared):
                notes.append("engine vs hand-written at "
                             f"{n:,}: {_agreement(document, hand['result'])}")
            # the documents' million small objects would slow every later collection
            document.clear()
            hand.clear()
            # As the server runs it: a kept connection that remembers the expressions it built
            # and the SQL it compiled, so a query asked again costs the database and the
            # statistics only (the hand-written query needs neither step either).
            kept_times = _kept_connection_times(directory, query, settings, runs)
            # Like for like: the hand-written query computes no previous period.
            alike_times = _kept_connection_times(
                directory, query.model_copy(update={"compare": False}), settings, runs)
            item: dict[str, Any] = {"n": n, "engine": median(engine_times),
                                    "kept": median(kept_times),
                                    "kept_alike": median(alike_times),
                                    "rows": median(rows_times), "hand": median(hand_times)}
            if n <= 10_000_000:
                def pandas_run(directory: Path = directory) -> None:
                    pandas_scorecard(directory, start, end)

                item["pandas"] = median(time_runs(pandas_run, repeats=max(1, min(runs, 3)),
                                                  warmup=0))
            scaling.append(item)
            echo(str(item))
        for store_engine in ("sqlite", "postgres"):
            if n not in store_sizes or (store_engine == "postgres" and not postgres_url):
                continue
            began = time.perf_counter()
            drop: Callable[[], None] | None = None
            engine: Engine
            if store_engine == "sqlite":
                engine = load_sqlite(directory, directory / "store.db")
            else:
                assert postgres_url is not None
                engine, drop = load_postgres(directory, postgres_url)
            load_s = time.perf_counter() - began
            store_runs = 1 if n >= 10_000_000 else runs
            def store_run(engine: Engine = engine) -> None:
                run_kpi_query(engine, query, settings)

            query_s = median(time_runs(store_run, repeats=store_runs, warmup=0))
            stores.append({"engine": store_engine, "n": n, "load": load_s, "query": query_s})
            echo(str(stores[-1]))
            if store_engine == "sqlite" and n == max(store_sizes):
                began = time.perf_counter()
                with engine.begin() as transaction:
                    refresh_rollups(transaction, None, settings)
                build_s = time.perf_counter() - began
                times = rollup_query_times(engine, settings, START + timedelta(days=DAYS),
                                           runs)
                grain_rows = _grain_rows(engine, [grain.rollup for grain in _rollup_grains()])
                rollup_lines[:] = [
                    f"Rollup at {n:,} interactions (SQLite): built from scratch in "
                    f"{build_s:.1f} s (imports refresh only the days they touch); "
                    + ", ".join(f"{name} {rows:,} rows" for name, rows in grain_rows.items())
                    + ". Dashboards read the team grain (no agent) unless they group or "
                    "filter by agent, per month when every period is whole months; the "
                    "agent grain (what they read before) is the baseline.", "",
                    *rollup_query_table(times)]
                echo("\n".join(rollup_lines))
            if drop is not None:
                drop()
            else:
                engine.dispose()
        write_section("kpi", section())
        if workdir is None and n != all_sizes[-1]:
            shutil.rmtree(directory, ignore_errors=True)
    if workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    text = section()
    write_section("kpi", text)
    return text


def dashboard_queries(end: date) -> dict[str, Any]:
    """The two dashboard queries the rollup serves, for data ending the day before `end`:
    by team x day over the last 30 days, and by channel x month over the 12 whole months up
    to `end`'s month (the year, when `end` is the first of a month)."""
    from servicepulse.kpi.query import KpiQuery

    month_end = end if end.day == 1 else (end.replace(day=28) + timedelta(days=4)).replace(day=1)
    first_month = month_end.replace(year=month_end.year - 1)
    return {
        "by team x day, last 30 days": KpiQuery.model_validate({
            "by": ["team"], "period": "day", "kpis": BENCH_KPIS,
            "from": (end - timedelta(days=30)).isoformat(), "to": end.isoformat()}),
        "by channel x month, the year": KpiQuery.model_validate({
            "by": ["channel"], "period": "month", "kpis": BENCH_KPIS,
            "from": first_month.isoformat(), "to": month_end.isoformat()})}


def rollup_query_times(engine: Any, settings: Any, end: date, runs: int
                       ) -> dict[str, tuple[float, float]]:
    """Median seconds of each dashboard query on the rollup's team grain (what dashboards
    read) and on its agent grain (the baseline)."""
    from servicepulse.kpi.rollup import AGENT_GRAIN, query_rollup

    times: dict[str, tuple[float, float]] = {}
    for label, dashboard in dashboard_queries(end).items():
        def rollup_run(dashboard: Any = dashboard, grain: Any = None) -> None:
            assert query_rollup(engine, dashboard, settings, grain=grain) is not None

        def agent_run(dashboard: Any = dashboard) -> None:
            rollup_run(dashboard, AGENT_GRAIN)

        times[label] = (median(time_runs(rollup_run, repeats=max(runs, 5), warmup=1)),
                        median(time_runs(agent_run, repeats=3, warmup=0)))
    return times


def rollup_query_table(times: dict[str, tuple[float, float]]) -> list[str]:
    return ["| dashboard query (rollup) | team grain, median (ms) | "
            "agent grain, median of 3 (ms) |", "|---|---:|---:|",
            *(f"| {label} | {team * 1000:.1f} | {agent * 1000:.1f} |"
              for label, (team, agent) in times.items())]


def run_rollup_bench(engine: Any, runs: int) -> str:
    """The dashboard queries on an existing store's rollup (built already): the data's
    last 30 days and its year."""
    from sqlalchemy import func, select

    from servicepulse.kpi.rollup import refresh_dirty_rollups
    from servicepulse.kpi.settings import KpiSettings
    from servicepulse.store.tables import interactions

    settings = KpiSettings()
    with engine.connect() as connection:
        count, last = connection.execute(select(func.count(), func.max(
            interactions.c.created_at))).one()
    if not count:
        raise InvalidRequest("the store holds no interactions: import some first "
                         "(servicepulse import FILE; imports keep the rollup up to date)")
    refresh_dirty_rollups(engine, settings)  # days an import left stale
    grains = _grain_rows(engine, [grain.rollup for grain in _rollup_grains()])
    if not any(grains.values()):
        raise InvalidRequest("the store's rollup is empty: its interactions were not loaded by "
                         "`servicepulse import`, which builds it")
    end = date(1970, 1, 1) + timedelta(days=int(last // DAY_S) + 1)
    times = rollup_query_times(engine, settings, end, runs)
    text = "\n".join([
        f"Dashboard queries on an existing store's rollup ({engine.url.get_backend_name()}, "
        f"{count:,} interactions, data up to {end - timedelta(days=1)}; "
        + ", ".join(f"{name} {rows:,} rows" for name, rows in grains.items())
        + f"). {machine_line()}; medians of {max(runs, 5)} runs after a warm-up run (agent "
        "grain: 3).", "", *rollup_query_table(times)])
    write_section("rollup", text)
    return text


def _rollup_grains() -> list[Any]:
    from servicepulse.kpi.rollup import GRAINS, TEAM_MONTH_GRAIN

    return [*GRAINS, TEAM_MONTH_GRAIN]


class CompiledSql:
    """A connection's `compile`, remembering the SQL of each expression it compiled: how the
    kept-connection column was measured (the DuckDB engine over the export; the web server's
    store connections keep bound statements instead, `servicepulse.kpi.bound_sql`)."""

    def __init__(self, compile_: Any, max_entries: int = MAX_COMPILED) -> None:
        self._compile = compile_
        self._sql: LRUCache[Any, str] = LRUCache(max_entries)
        self.hits = 0
        self.misses = 0

    @property
    def max_entries(self) -> int:
        return int(self._sql.maxsize)

    def __call__(self, expr: Any, /, *, limit: Any = None, params: Any = None,
                 pretty: bool = False) -> str:
        if limit is not None or params or pretty:
            return str(self._compile(expr, limit=limit, params=params, pretty=pretty))
        key = expr.op()
        sql = self._sql.get(key)  # a hit counts as a use
        if sql is not None:
            self.hits += 1
            return sql
        self.misses += 1
        sql = self._sql[key] = str(self._compile(expr))
        return sql


def _kept_connection_times(directory: Path, query: Any, settings: Any,
                           runs: int) -> list[float]:
    """The query's times on one kept DuckDB connection that remembers the expressions it
    built and the SQL it compiled (as the web server runs it)."""
    from servicepulse.kpi.backends import duckdb_backend
    from servicepulse.kpi.engine import ExpressionCache, columns_on_backend
    kept = duckdb_backend(directory)
    kept.compile = CompiledSql(kept.compile)
    expressions = ExpressionCache()
    return time_runs(lambda: columns_on_backend(kept, query, settings, expressions),
                     repeats=runs, warmup=1)


def _grain_rows(engine: Any, tables: list[Any]) -> dict[str, int]:
    from sqlalchemy import func, select

    with engine.connect() as connection:
        return {table.name: int(connection.execute(
            select(func.count()).select_from(table)).scalar_one()) for table in tables}


def default_workdir() -> Path | None:
    value = os.environ.get("SERVICEPULSE_BENCH_DIR")
    return Path(value) if value else None

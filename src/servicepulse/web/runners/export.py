"""One row per conversation: every input of every KPI, for a spreadsheet or another tool.

Managers ask for this more than for any chart (docs/kpis.md): a row per interaction with its
times, business-hours durations, the verdicts the KPIs reach on it (first response within
target, answered within the service-level threshold, repeat contact, first contact
resolution), its survey scores, the sentiment of its customer texts and its quality review
score. The rows are the drill-down's (`DrillDownRunner.statement`: the same filters and the
same access scope), ordered oldest first, and streamed: the store's cursor is read a chunk at
a time and written out, so an export of any size runs in constant memory.

The verdicts mirror the KPI engine's definitions (servicepulse.kpi.definitions and sources);
tests recompute contacts, FCR, CSAT and more from the rows and compare with the engine.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select

from servicepulse.insights.tables import text_sentiment
from servicepulse.kpi.sources import NOT_CONTACT_STATUSES
from servicepulse.store import tables
from servicepulse.store.tables import agents, customers, interactions, surveys
from servicepulse.web.csv_export import _cell_text
from servicepulse.web.runners.base import RunContext
from servicepulse.web.runners.records import (
    VOICE_CHAT,
    DrillDownRunner,
    InteractionQuery,
    _iso,
)

CHUNK_ROWS = 2_000  # rows fetched from the cursor, and written, at a time


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "string", "float", "int", "bool": the Parquet type
    description: str


COLUMNS: tuple[Column, ...] = (
    Column("id", "string", "the interaction's id"),
    Column("channel", "string", "phone, email, chat, social, sms, web or in_person"),
    Column("direction", "string", "inbound or outbound"),
    Column("status", "string", "the source system's own word"),
    Column("state", "string", "waiting, open, resolved or abandoned, from the times"),
    Column("is_contact", "bool", "false for a deleted or spam contact, which no KPI counts"),
    Column("created_at", "string", "ISO 8601, UTC"),
    Column("first_response_at", "string", "ISO 8601, UTC"),
    Column("answered_at", "string", "ISO 8601, UTC"),
    Column("resolved_at", "string", "ISO 8601, UTC"),
    Column("abandoned_at", "string", "ISO 8601, UTC"),
    Column("customer_id", "string", ""),
    Column("segment", "string", "the customer's segment"),
    Column("agent_id", "string", "the agent credited (see docs/records.md)"),
    Column("team_id", "string", "the interaction's team, else its agent's"),
    Column("role", "string", "the agent's role"),
    Column("queue", "string", ""),
    Column("category", "string", ""),
    Column("language", "string", ""),
    Column("priority", "string", ""),
    Column("frt_s", "float", "first response time as FRT counts it: phone and chat "
                             "answered_at - created_at, others first_response_at - created_at"),
    Column("frt_target_s", "float", "the channel's first-response target"),
    Column("frt_within_target", "bool", "frt_s <= frt_target_s (inbound, with a target)"),
    Column("frt_business_s", "float", "first response time in business hours"),
    Column("wait_s", "float", "answered_at - created_at (ASA, service level)"),
    Column("ttr_s", "float", "resolved_at - created_at"),
    Column("ttr_business_s", "float", "time to resolution in business hours"),
    Column("talk_s", "float", ""),
    Column("hold_s", "float", ""),
    Column("wrap_s", "float", ""),
    Column("handle_s", "float", "handle time as given"),
    Column("handle_time_s", "float", "AHT's input: phone and chat talk + hold + wrap, "
                                     "others handle_s"),
    Column("handled", "bool", "has an agent and was not abandoned"),
    Column("resolved", "bool", ""),
    Column("abandoned", "bool", "abandoned before an answer"),
    Column("short_abandon", "bool", "abandoned before the short-abandon threshold"),
    Column("sl_threshold_s", "float", "the channel's service-level threshold"),
    Column("answered_within", "bool", "answered within the service-level threshold"),
    Column("reopens", "int", ""),
    Column("transfers", "int", ""),
    Column("escalated", "bool", ""),
    Column("repeat", "bool", "another inbound contact of the customer followed within the "
                             "repeat window (inbound with a customer; else empty)"),
    Column("fcr", "bool", "first contact resolution verdict (resolved inbound; else empty)"),
    Column("csat_score", "float", "the newest CSAT answer about it"),
    Column("csat_scale_max", "float", "that answer's scale maximum (top two = max - 1 up)"),
    Column("nps_score", "float", "the newest NPS answer about it"),
    Column("ces_score", "float", "the newest CES answer about it"),
    Column("surveys", "int", "survey answers about it"),
    Column("sentiment_score", "float", "mean sentiment score of its customer texts (-1..1)"),
    Column("sentiment_texts", "int", "customer texts scored"),
    Column("iqs", "float", "mean IQS of its QA reviews (not calibration), when reviewed"),
    Column("qa_reviews", "int", "QA reviews (not calibration)"),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)

c = interactions.c


def _latest_score(kind: str, column: ColumnElement[Any], outer: Any) -> Any:
    s = surveys.c
    return (select(column).where(s.interaction_id == outer.id, s.kind == kind)
            .order_by(s.submitted_at.desc(), s.id.desc()).limit(1).scalar_subquery())


def _later_inbound(outer: Any, window_s: float, same_category: bool) -> ColumnElement[bool]:
    """Another inbound contact of the same customer after this one (by created_at, then id,
    as the engine orders them) within the repeat window; with `same_category`, in the same
    category where both have one (an uncategorised contact matches any)."""
    other = interactions.alias("later")
    o = other.c
    conditions = [
        o.customer_id == outer.customer_id, o.direction == "inbound",
        or_(o.created_at > outer.created_at,
            and_(o.created_at == outer.created_at, o.id > outer.id)),
        o.created_at - outer.created_at <= window_s,
        or_(o.status.is_(None), func.lower(o.status).not_in(NOT_CONTACT_STATUSES)),
    ]
    if same_category:
        conditions.append(or_(o.category == outer.category, o.category.is_(None),
                              outer.category.is_(None)))
    return exists(select(o.id).where(*conditions))


def export_statement(context: RunContext, params: InteractionQuery) -> Select[Any]:
    """The drill-down's rows with everything the KPIs read about each, oldest first."""
    statement, _ = DrillDownRunner(context, params).statement()
    base = statement.subquery("listed")
    b = base.c
    window_s = context.settings.repeat_window_days * 86_400.0
    s = surveys.c
    sentiment = text_sentiment.c
    columns: list[Any] = [
        *(b[name] for name in ("id", "channel", "direction", "status", "state", "created_at",
                               "first_response_at", "answered_at", "resolved_at",
                               "abandoned_at", "customer_id", "agent_id", "queue",
                               "category", "language", "priority", "talk_s", "hold_s",
                               "wrap_s", "handle_s", "reopens", "transfers", "escalated",
                               "first_response_business_s", "resolution_business_s")),
        customers.c.segment.label("segment"),
        func.coalesce(b.team_id, agents.c.team_id).label("team_id"),
        agents.c.role.label("role"),
        _later_inbound(b, window_s, same_category=False).label("any_repeat"),
        _later_inbound(b, window_s, same_category=True).label("fcr_repeat"),
        _latest_score("csat", s.score, b).label("csat_score"),
        _latest_score("csat", s.scale_max, b).label("csat_scale_max"),
        _latest_score("nps", s.score, b).label("nps_score"),
        _latest_score("ces", s.score, b).label("ces_score"),
        select(func.count()).where(s.interaction_id == b.id).scalar_subquery()
        .label("surveys"),
        select(func.avg(sentiment.score)).where(sentiment.interaction_id == b.id)
        .scalar_subquery().label("sentiment_score"),
        select(func.count(sentiment.score)).where(sentiment.interaction_id == b.id)
        .scalar_subquery().label("sentiment_texts"),
    ]
    reviews = tables.metadata.tables.get("qa_reviews")  # the quality area's table, if any
    if reviews is not None:
        r = reviews.c
        reviewed = and_(r.interaction_id == b.id, r.calibration == false())
        columns += [select(func.avg(r.iqs)).where(reviewed).scalar_subquery().label("iqs"),
                    select(func.count()).where(reviewed).scalar_subquery()
                    .label("qa_reviews")]
    return (select(*columns)
            .select_from(base.outerjoin(agents, agents.c.id == b.agent_id)
                         .outerjoin(customers, customers.c.id == b.customer_id))
            .order_by(b.created_at, b.id))


def _since(later: float | None, created: float) -> float | None:
    return None if later is None else round(later - created, 3)


def export_row(row: Any, context: RunContext) -> dict[str, Any]:
    """One stored row as the export's row (the verdicts as the KPI definitions reach them)."""
    settings = context.settings
    m = row._mapping
    channel, created = m["channel"], m["created_at"]
    voice = channel in VOICE_CHAT
    inbound = m["direction"] == "inbound"
    answered = m["answered_at"] is not None
    abandoned = m["abandoned_at"] is not None and not answered
    wait = _since(m["answered_at"], created)
    abandon_wait = _since(m["abandoned_at"], created)
    frt = wait if voice else _since(m["first_response_at"], created)
    target = settings.frt_targets.get(channel)
    threshold = settings.service_level_thresholds.get(channel)
    talk, hold, wrap = m["talk_s"], m["hold_s"], m["wrap_s"]
    handle_time = (talk + (hold or 0.0) + (wrap or 0.0)) if voice and talk is not None \
        else m["handle_s"]
    resolved = m["resolved_at"] is not None
    status = m["status"]
    has_customer = m["customer_id"] is not None
    first_contact = (m["reopens"] == 0 and m["transfers"] == 0 and not m["escalated"]
                     and not (has_customer and m["fcr_repeat"]))
    return {
        "id": m["id"], "channel": channel, "direction": m["direction"], "status": status,
        "state": m["state"],
        "is_contact": status is None or status.lower() not in NOT_CONTACT_STATUSES,
        "created_at": _iso(created), "first_response_at": _iso(m["first_response_at"]),
        "answered_at": _iso(m["answered_at"]), "resolved_at": _iso(m["resolved_at"]),
        "abandoned_at": _iso(m["abandoned_at"]), "customer_id": m["customer_id"],
        "segment": m["segment"], "agent_id": m["agent_id"], "team_id": m["team_id"],
        "role": m["role"], "queue": m["queue"], "category": m["category"],
        "language": m["language"], "priority": m["priority"],
        "frt_s": frt, "frt_target_s": target,
        "frt_within_target": None if frt is None or target is None or not inbound
        else frt <= target,
        "frt_business_s": m["first_response_business_s"], "wait_s": wait,
        "ttr_s": _since(m["resolved_at"], created),
        "ttr_business_s": m["resolution_business_s"],
        "talk_s": talk, "hold_s": hold, "wrap_s": wrap, "handle_s": m["handle_s"],
        "handle_time_s": handle_time,
        "handled": m["agent_id"] is not None and m["abandoned_at"] is None,
        "resolved": resolved, "abandoned": abandoned,
        "short_abandon": abandoned and abandon_wait is not None
        and abandon_wait < settings.short_abandon_s,
        "sl_threshold_s": threshold,
        "answered_within": None if threshold is None
        else answered and wait is not None and wait <= threshold,
        "reopens": m["reopens"], "transfers": m["transfers"], "escalated": bool(m["escalated"]),
        "repeat": bool(m["any_repeat"]) if inbound and has_customer else None,
        "fcr": first_contact if inbound and resolved else None,
        "csat_score": m["csat_score"], "csat_scale_max": m["csat_scale_max"],
        "nps_score": m["nps_score"], "ces_score": m["ces_score"],
        "surveys": m["surveys"],
        "sentiment_score": None if m["sentiment_score"] is None
        else round(float(m["sentiment_score"]), 4),
        "sentiment_texts": m["sentiment_texts"],
        "iqs": None if m.get("iqs") is None else round(float(m["iqs"]), 4),
        "qa_reviews": m.get("qa_reviews", 0),
    }


def iter_rows(context: RunContext, params: InteractionQuery) -> Iterator[dict[str, Any]]:
    """The export's rows, read from a streaming cursor CHUNK_ROWS at a time."""
    statement = export_statement(context, params)
    with context.engine.connect() as connection:
        result = connection.execution_options(stream_results=True,
                                              yield_per=CHUNK_ROWS).execute(statement)
        for row in result:
            yield export_row(row, context)


def csv_chunks(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV text, header first, a chunk of rows at a time (formula-like cells as text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    for count, row in enumerate(rows, 1):
        writer.writerow([_csv_cell(row[name]) for name in COLUMN_NAMES])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _cell_text(value)


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    written = -1  # the header is not a row
    for chunk in csv_chunks(rows):
        out.write(chunk)
        written += chunk.count("\n")
    return written


def write_parquet(rows: Iterator[dict[str, Any]], path: Path) -> int:
    """Write the rows to a Parquet file, one row group per chunk; the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as parquet

    types = {"string": pa.string(), "float": pa.float64(), "int": pa.int64(),
             "bool": pa.bool_()}
    schema = pa.schema([(column.name, types[column.type]) for column in COLUMNS])
    written = 0
    with parquet.ParquetWriter(path, schema) as writer:
        for chunk in _chunked(rows, CHUNK_ROWS):
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            written += len(chunk)
    return written


def _chunked(rows: Iterator[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

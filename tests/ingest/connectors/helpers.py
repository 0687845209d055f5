"""Shared helpers of the connector tests: run a connector, validate what it yields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any

from sqlalchemy import Engine

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.sources import SourceRow
from servicepulse.insights.drivers import DriversQuery, DriversRunner, contact_texts
from servicepulse.insights.sentiment import score_text
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.records.validate import parse_record

FIXTURES = Path(__file__).parents[2] / "fixtures" / "connectors"


def read(name: str, *files: str | Path, **options: Any) -> list[SourceRow]:
    paths = [f if isinstance(f, Path) else FIXTURES / f for f in files]
    return list(CONNECTORS[name].read(paths, ConnectorOptions(**options)))


def records(rows: list[SourceRow]) -> dict[tuple[str, str], dict[str, Any]]:
    """The good rows by (type, id), each checked to be a valid canonical record; the last of
    a repeated (type, id) wins, as in the importer."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.error is None:
            assert row.data is not None
            parse_record(row.data)  # raises if the connector made an invalid record
            out[(row.data["type"], row.data["id"])] = row.data
    return out


def errors(rows: list[SourceRow]) -> list[tuple[int | None, str | None, str]]:
    return [(r.line, r.error.field, r.error.reason) for r in rows if r.error is not None]


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def score(text: str) -> float:
    """The text's sentiment score, as the scorer gives it for one text alone."""
    result = score_text(text).score
    assert result is not None, f"{text!r} is not scored"
    return result


def assert_sentiment_by_category(engine: Engine, expected: dict[str, list[str]],
                                 **window: str) -> None:
    """The sentiment KPI of each category is the mean score of exactly its customer texts
    (none unscored): no agent reply, note or agent-written opening is read as the customer's."""
    result = run_kpi_query(engine, KpiQuery.model_validate(
        {**window, "kpis": ["sentiment"], "by": ["category"]}))
    sentiment = {row["group"]["category"]: row["kpis"]["sentiment"] for row in result["rows"]}
    # no other category has a text (a deleted or spam contact's texts count nowhere)
    assert {category for category, got in sentiment.items()
            if got["n"] or got["unscored"]} == set(expected)
    for category, texts in expected.items():
        got = sentiment[category]
        assert (got["value"], got["n"], got["unscored"]) == (
            round(mean(score(text) for text in texts), 4), len(texts), 0), category


def drivers_reading(engine: Engine, expected: dict[str, str | None],
                    window: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Checks the text contact drivers read for each contact (its subject and first customer
    message; None: no text, e.g. an outbound contact) and runs drivers on the window with room
    for every example: the document and every topic's examples, sorted."""
    with engine.connect() as connection:
        given = dict(contact_texts(connection, None, None))
    assert {key: given.get(key) for key in expected} == expected
    document = DriversRunner(engine).run(DriversQuery.model_validate(
        {**window, "topics": 2, "examples": 20})).as_json()
    examples = sorted(text for topic in document["topics"] for text in topic["examples"])
    return document, examples

"""Shared helpers of the connector tests: run a connector, validate what it yields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.sources import SourceRow
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

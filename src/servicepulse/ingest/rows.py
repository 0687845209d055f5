"""Validated records as store rows (times as epoch seconds UTC), with their content hash."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from enum import Enum
from typing import Any

import orjson

from servicepulse.records.models import Record, Survey

# model attribute -> column, where the field's alias is a Python keyword-ish name
_RENAMED = {"kind_": "kind"}


def _store_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_store_value(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def record_to_row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in record.__dict__.items():
        if name == "type":
            continue
        row[_RENAMED.get(name, name)] = _store_value(value)
    if isinstance(record, Survey):
        row["scale_min"], row["scale_max"] = record.scale
    if "hours" in row:
        row["hours"] = {day: [list(r) for r in ranges] for day, ranges in row["hours"].items()}
    row["content_hash"] = content_hash(row)
    return row


def content_hash(row: dict[str, Any]) -> str:
    """Digest of a row's content: the same record, however written, hashes the same."""
    payload = orjson.dumps({k: v for k, v in row.items() if k != "content_hash"},
                           option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=12).hexdigest()

"""Validated records as store rows (times as epoch seconds UTC), with their content hash.

This runs once per imported record, so it is written for speed: the conversion plan of each
model (which attributes are times, enums, lists) is worked out once per model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, get_args

import orjson
from pydantic import BaseModel

from servicepulse.records.models import Activity, Record, Survey

# model attribute -> column (fields whose alias is `kind` are `kind_` on the model)
_RENAMED = {"kind_": "kind"}
_PLAIN, _TIME, _ENUM, _OTHER = 0, 1, 2, 3


def _classify(annotation: Any) -> int:
    args = get_args(annotation) or (annotation,)
    flat: list[Any] = []
    for arg in args:
        flat.extend(get_args(arg) or (arg,))
    if any(arg is datetime for arg in flat):
        return _TIME
    if any(isinstance(arg, type) and issubclass(arg, Enum) for arg in flat):
        return _ENUM
    if any(isinstance(arg, type) and issubclass(arg, list | dict | BaseModel)
           for arg in flat) or any(
        getattr(arg, "__origin__", None) in (list, dict) for arg in flat
    ):
        return _OTHER
    return _PLAIN


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one model's attributes become columns, grouped so a row is built by one dict
    comprehension and a few fix-ups (not a branch per attribute)."""

    names: tuple[tuple[str, str], ...]  # (attribute, column) of every field, in field order
    times: tuple[str, ...]  # columns holding a datetime (epoch seconds in the row)
    enums: tuple[str, ...]  # columns holding an enum (its value in the row)
    others: tuple[str, ...]  # columns holding lists or mappings


@cache
def _plan(model: type[Record]) -> _Plan:
    fields = [(name, _RENAMED.get(name, name), _classify(field.annotation))
              for name, field in model.model_fields.items() if name != "type"]
    return _Plan(tuple((name, column) for name, column, _ in fields),
                 tuple(column for _, column, how in fields if how == _TIME),
                 tuple(column for _, column, how in fields if how == _ENUM),
                 tuple(column for _, column, how in fields if how == _OTHER))


def _activity(activity: Activity) -> dict[str, Any]:
    # a shift's planned activity as the store keeps it: times as epoch seconds, like columns
    return {"kind": activity.kind_.value, "start": activity.start.timestamp(),
            "end": activity.end.timestamp()}


def _other_value(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], Activity):
        return [_activity(item) for item in value]
    if isinstance(value, list):
        # dates (holidays), nested models (a QA form's categories) as JSON-ready values
        return [item.isoformat() if isinstance(item, date)
                else item.model_dump(mode="json", exclude_none=True)
                if isinstance(item, BaseModel) else item for item in value]
    if isinstance(value, dict):
        # calendar hours: {"mon": [("09:00", "17:00")]}; a review's scores: {"tone": 3.0}
        return {key: [list(r) for r in ranges] if isinstance(ranges, list | tuple) else ranges
                for key, ranges in value.items()}
    return value


def record_to_row(record: Record) -> dict[str, Any]:
    values = record.__dict__
    plan = _plan(type(record))
    row = {column: values[name] for name, column in plan.names}
    # converted in place: the row keeps the model's field order (the `given` JSON text)
    for column in plan.times:
        value = row[column]
        if value is not None:
            row[column] = value.timestamp()
    for column in plan.enums:
        value = row[column]
        if value is not None:
            row[column] = value.value
    for column in plan.others:
        value = row[column]
        if value is not None:
            row[column] = _other_value(value)
    if isinstance(record, Survey):
        row["scale_min"], row["scale_max"] = record.scale
    row["content_hash"] = content_hash(row)
    return row


def content_hash(row: dict[str, Any]) -> str:
    """Digest of a row's content: the same record, however written, hashes the same."""
    if "content_hash" in row:
        row = {k: v for k, v in row.items() if k != "content_hash"}
    payload = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=12).hexdigest()

"""Turn one raw mapping (a JSON object or a CSV row) into a validated record, or say why not."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from servicepulse.records.models import RECORD_KINDS, RECORD_MODELS, Record

# Fields that hold a list or an object; in a CSV cell they are written as JSON
# (a list may also be written "en;fr").
STRUCTURED_FIELDS = {"languages", "hours", "holidays"}


class RecordError(Exception):
    """Why a raw row is not a valid record: the field (or None for the whole row) and reason.

    A plain exception class, not a frozen dataclass: Python itself assigns attributes to
    exceptions (`__traceback__` in context managers, `__notes__` from add_note, which
    Hypothesis uses) and unpickles them from `args` (process pools), all of which a frozen
    dataclass refuses.
    """

    def __init__(self, field: str | None, reason: str, kind: str | None = None,
                 record_id: str | None = None) -> None:
        super().__init__(field, reason, kind, record_id)
        self.field = field
        self.reason = reason
        self.kind = kind
        self.record_id = record_id

    def __str__(self) -> str:
        where = f"field {self.field!r}: " if self.field else ""
        return f"{where}{self.reason}"

    def __repr__(self) -> str:
        return (f"RecordError(field={self.field!r}, reason={self.reason!r}, kind={self.kind!r}, "
                f"record_id={self.record_id!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordError):
            return NotImplemented
        return self.args == other.args

    def __hash__(self) -> int:
        return hash(self.args)


def parse_record(data: Any, default_kind: str | None = None) -> Record:
    """Validate one raw object. `default_kind` is used when it has no "type" (per-kind CSV)."""
    if not isinstance(data, dict):
        raise RecordError(None, f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("type") or default_kind
    record_id = data.get("id")
    record_id = str(record_id) if record_id is not None else None
    if kind is None:
        raise RecordError("type", "missing: every record needs a \"type\" "
                          f"(one of {', '.join(RECORD_KINDS)})", None, record_id)
    model = RECORD_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise RecordError("type", f"unknown record kind {kind!r}; expected one of "
                          f"{', '.join(RECORD_KINDS)}", None, record_id)
    if None in data.values():
        # null means "not known", as an empty CSV cell does: the field's default applies
        # (a "reopens": null from an export would otherwise be refused as not a number)
        data = {key: value for key, value in data.items() if value is not None}
    if "type" not in data:
        data = {**data, "type": kind}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
            # model-level checks name their field first ("end: ends before its start")
            head, sep, rest = message.partition(": ")
            if sep and field is None and " " not in head:
                field, message = head, rest
        if first["type"].startswith("datetime_"):
            message = (f"{message}; write times as ISO 8601, e.g. 2026-03-01T09:30:00Z or "
                       "2026-03-01T11:30:00+02:00")
        elif first["type"].startswith("date_"):
            message = f"{message}; write dates as ISO 8601, e.g. 2026-12-25"
        if first["type"] == "missing":
            message = "missing required field"
        elif first["type"] == "extra_forbidden":
            message = f"unknown field for a {kind} record"
        elif "input" in first and first["type"] != "missing" and not isinstance(
            first["input"], dict
        ):
            message = f"{message} (got {first['input']!r})"
        raise RecordError(field, message, kind, record_id) from None


def clean_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as raw record data: empty cells are absent, structured cells are parsed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None:
            continue
        key = key.strip()
        value = value.strip()
        if value == "":
            continue
        if key in STRUCTURED_FIELDS:
            if value[0] in "[{":
                try:
                    out[key] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    raise RecordError(key, f"cell is not valid JSON: {value[:80]!r}") from None
            else:
                out[key] = [part.strip() for part in value.split(";") if part.strip()]
            continue
        out[key] = value
    return out

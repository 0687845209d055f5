"""Turn one raw mapping (a JSON object or a CSV row) into a validated record, or say why not."""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import ValidationError

from servicepulse.records.models import RECORD_KINDS, RECORD_MODELS, Record

# Fields that hold a list or an object; in a CSV cell they are written as JSON
# (a list may also be written "en;fr").
STRUCTURED_FIELDS = {"languages", "hours", "holidays", "activities", "categories", "scores"}

# Text no store keeps as given: NUL (PostgreSQL refuses it, SQLite cuts the text there) and
# lone surrogates (not Unicode scalar values: no UTF-8 encodes them). A bad byte of a file is
# one of these once read (the readers decode with surrogateescape, NUL stays NUL).
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIELD_LIMIT = 200  # the quarantine's `field` and `record_id` columns
REPLACEMENT = "\ufffd"


def unstorable_at(text: str) -> int | None:
    """The index of the first character of `text` no store can keep (NUL, a lone surrogate)."""
    nul = text.find("\x00")
    if text.isascii():
        return nul if nul >= 0 else None
    match = _SURROGATE.search(text)
    if match is None:
        return nul if nul >= 0 else None
    return match.start() if nul < 0 else min(nul, match.start())


def surrogate_at(text: str) -> int | None:
    """The index of the first lone surrogate in `text` (a byte that was not UTF-8, read with
    surrogateescape, or a broken \\u escape), or None."""
    if text.isascii():
        return None
    match = _SURROGATE.search(text)
    return None if match is None else match.start()


def storable(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD: for what is kept to show
    (the quarantine's raw text and reasons), never for a record's own values."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text


def _describe_character(char: str) -> str:
    if char == "\x00":
        return "a NUL character (U+0000)"
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"the byte 0x{code - 0xDC00:02X} (not valid UTF-8)"
    return f"a lone surrogate (U+{code:04X}, not a character)"


def text_problem(text: str, at: int | None = None) -> str | None:
    """Why `text` cannot be stored as given (its character `at`, else the first that cannot
    be stored), or None."""
    if at is None:
        at = unstorable_at(text)
    if at is None:
        return None
    return (f"contains {_describe_character(text[at])} at character {at + 1}; text must be "
            "valid UTF-8 without NUL characters")


def _has_unstorable_text(value: Any) -> bool:
    """Whether any string anywhere in `value` holds a NUL or a lone surrogate. Written for
    speed, as it runs on every value of every record: one test per string."""
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is str:
            if "\x00" in item or (not item.isascii() and _SURROGATE.search(item)):
                return True
        elif (kind is dict or kind is list) and _has_unstorable_text(item):
            return True
    return False


def _text_error(value: Any, path: str) -> RecordError | None:
    """The error for the first string in `value` that cannot be stored as given, named by its
    path (`subject`, `languages.1`); None when there is none.

    Keys are not looked at: a key that is not a field name is refused anyway (unknown field,
    or not a weekday of `hours`), and RecordError makes its name storable."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return RecordError(name, problem)
        elif isinstance(item, dict | list):
            error = _text_error(item, name)
            if error is not None:
                return error
    return None


class RecordError(Exception):
    """Why a raw row is not a valid record: the field (or None for the whole row) and reason.

    A plain exception class, not a frozen dataclass: Python itself assigns attributes to
    exceptions (`__traceback__` in context managers, `__notes__` from add_note, which
    Hypothesis uses) and unpickles them from `args` (process pools), all of which a frozen
    dataclass refuses.
    """

    def __init__(self, field: str | None, reason: str, kind: str | None = None,
                 record_id: str | None = None) -> None:
        # What the quarantine stores must be storable whatever the input held: NUL and
        # lone surrogates replaced, the field name and record id within their columns (an
        # id too long to be valid is not an id: None).
        if field is not None and (len(field) > _FIELD_LIMIT or unstorable_at(field) is not None):
            field = storable(field)[:_FIELD_LIMIT]
        if record_id is not None and (len(record_id) > _FIELD_LIMIT
                                      or unstorable_at(record_id) is not None):
            record_id = None
        if unstorable_at(reason) is not None:
            reason = storable(reason)
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
    if _has_unstorable_text(data):
        # NUL and lone surrogates anywhere (ids too) are refused, never stored or truncated
        error = _text_error(data, "")
        if error is not None:
            raise RecordError(error.field, error.reason, kind, record_id)
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

"""What every connector shares: its interface, its options, error rows, times and JSON pages.

A connector turns a source's own export format into canonical records (docs/records.md). It never
validates (the importer does) and never raises for bad input: a piece it cannot read or convert
becomes a `SourceRow` with `error` set, which the importer quarantines with its source and line,
and the rest of the file is still read.
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from servicepulse.ingest.readers import BOM, COMPRESSION_ERRORS, compression_problem
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.validate import RecordError, storable, surrogate_at, text_problem


@dataclass(frozen=True)
class ConnectorOptions:
    """How to read an export.

    mapping: a TOML file: the column mapping for `csv` and `social`; settings for the others
      (agent id maps, pause reasons, survey scale, ...; see docs/connectors.md).
    timezone: IANA zone of times written without an offset (CDR, spreadsheets). Overrides
      the mapping file's `timezone`.
    id_prefix: prefix of every id the connector makes, so ids of different sources (or two
      accounts of one source) cannot collide. Each connector has its own default (`zd-`, ...).
    """

    mapping: Path | None = None
    timezone: str | None = None
    id_prefix: str | None = None


Reader = Callable[[Sequence[Path], ConnectorOptions], Iterator[SourceRow]]


@dataclass(frozen=True)
class Connector:
    name: str
    description: str
    reader: Reader = field(repr=False)

    def read(self, paths: Sequence[Path],
             options: ConnectorOptions | None = None) -> Iterator[SourceRow]:
        """Canonical records (and error rows) from the export files, in file order.

        Raises MappingError at once (before any row is read) when the mapping or settings
        file is wrong; bad input never raises.
        """
        return self.reader(list(paths), options or ConnectorOptions())


class MappingError(ValueError):
    """The mapping/settings file itself is wrong: the whole import cannot start."""


class BadSourceRow(ValueError):
    """One piece of a source (a ticket, a message, a CSV row) cannot become a record: which
    field was wrong (None: the piece as a whole) and why.

    Raised by the connectors' mapping functions and caught by whoever read the piece (the
    connector's reader, the webhooks), which turns it into an error row naming the file and
    line; it never reaches a caller of `Connector.read`."""

    def __init__(self, field_name: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


# -- rows -------------------------------------------------------------------------------------


def error_row(source: Path | str, line: int | None, raw: str, field_name: str | None,
              reason: str, kind: str | None = None, record_id: str | None = None) -> SourceRow:
    # the raw text as the quarantine can store it (a NUL or a byte that was not UTF-8 in the
    # source shown as U+FFFD; the reason says what it was)
    return SourceRow(source=str(source), line=line, data=None, raw=storable(raw),
                     error=RecordError(field_name, reason, kind, record_id))


def record_row(source: Path | str, line: int | None, raw: str, data: dict[str, Any]) -> SourceRow:
    # Fields left None are dropped: the canonical record treats absent and null alike and a
    # smaller record keeps the quarantine readable. A NUL or an undecodable byte in a value
    # stays: validation refuses the record naming the field.
    return SourceRow(source=str(source), line=line,
                     data={k: v for k, v in data.items() if v is not None}, raw=storable(raw))


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # a lone surrogate (a byte that was not UTF-8, or a broken \u escape, read by the
        # salvaging decoder) or a value orjson does not know: still shown, never raised
        return storable(json.dumps(value, ensure_ascii=False, default=str))


# -- files ------------------------------------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


class TextLines:
    """The lines of a text file, for a connector that must never raise for bad content.

    A byte that is not valid in the encoding is kept as a surrogate escape (U+DC80-U+DCFF),
    so the row holding it is refused by validation naming its field, instead of the file
    failing to decode. Damaged or truncated compressed data ends the lines: `damage` then
    says why, for the connector to report as an error row (the lines before were read)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self.lines = 0
        self.damage: str | None = None

    def __iter__(self) -> Iterator[str]:
        try:
            for line in self._handle:
                self.lines += 1
                yield line
        except COMPRESSION_ERRORS as exc:
            self.damage = compression_problem(exc, self.lines)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> TextLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_text(path: Path, encoding: str = "utf-8-sig") -> TextLines:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    if path.suffix.lower() == ".gz":
        return TextLines(gzip.open(path, "rt", encoding=encoding, errors="surrogateescape",
                                   newline=""))
    return TextLines(path.open("r", encoding=encoding, errors="surrogateescape", newline=""))


def damage_row(path: Path, lines: TextLines) -> Iterator[SourceRow]:
    """The error row for damaged compressed data, if `lines` met any."""
    if lines.damage is not None:
        yield error_row(path, None, "", None, lines.damage)


def read_bytes(path: Path) -> bytes:
    with open_binary(path) as handle:
        return handle.read()


def _read_what_can_be_read(path: Path) -> tuple[bytes, str | None]:
    """The file's bytes (decompressed), and why the rest could not be read (damaged or
    truncated compressed data: what came before is returned)."""
    chunks: list[bytes] = []
    try:
        with open_binary(path) as handle:
            while chunk := handle.read(1 << 20):
                chunks.append(chunk)
    except COMPRESSION_ERRORS as exc:
        data = b"".join(chunks)
        return data, compression_problem(exc, data.count(b"\n"))
    return b"".join(chunks), None


def is_json_lines(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in (".jsonl", ".ndjson")


def load_settings(path: Path | None) -> dict[str, Any]:
    """The TOML mapping/settings file as a dict ({} without one)."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise MappingError(f"{path}: mapping file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc}); fix the file and retry") from None


# -- times ------------------------------------------------------------------------------------


def zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"timezone {name!r} is not an IANA time zone "
                           "(e.g. Europe/Paris, America/New_York, UTC)") from None


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`-free +00:00 offset, second precision unless finer given."""
    moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def iso_epoch(epoch: float) -> str:
    return iso(datetime.fromtimestamp(epoch, UTC))


def parse_time(value: Any, timezone: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 string (naive = `timezone`, else UTC) or epoch seconds as a UTC datetime.

    Raises ValueError with a readable reason.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z")
                                        else text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone or UTC)
    return moment.astimezone(UTC)


def plus_minutes(moment: datetime, minutes: float) -> datetime:
    return moment + timedelta(minutes=minutes)


# -- JSON exports -----------------------------------------------------------------------------

_decoder = json.JSONDecoder()
_WHITESPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class JsonItem:
    """One element of a JSON export: where it came from and what it holds."""

    key: str | None  # the top-level key of the array it was in (None: a bare array / JSONL)
    index: int  # 1-based position in that array, or line number for JSON Lines
    value: Any
    document: dict[str, Any] | None = None  # the page's other top-level scalars


@dataclass(frozen=True)
class JsonDamage:
    """The part of a file that could not be read (truncated or invalid JSON)."""

    line: int
    reason: str
    raw: str


def _skip(text: str, at: int) -> int:
    """The offset of the next non-blank character at or after `at`."""
    match = _WHITESPACE.match(text, at)
    return match.end() if match else at


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def iter_json_items(path: Path, list_keys: Sequence[str] = ()) -> Iterator[JsonItem | JsonDamage]:
    """The elements of a JSON export: a bare array, an object whose `list_keys` arrays hold
    the rows (API pages), or JSON Lines (one row or one page a line).

    A damaged file still yields every element before the damage, then one JsonDamage.
    `list_keys` may name nested paths with dots (Chatwoot's `data.payload`).
    """
    try:
        data, damage = _read_what_can_be_read(path)
    except OSError as exc:
        yield JsonDamage(0, f"cannot read the file: {exc.strerror or exc}", "")
        return
    if data.startswith(BOM):
        data = data[len(BOM):]  # a byte-order mark is not content
    if is_json_lines(path):
        yield from _iter_json_lines(data, list_keys)
    else:
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            # surrogateescape: an element holding a byte that is not UTF-8 is reported alone
            yield from _salvage(data.decode("utf-8", errors="surrogateescape"), list_keys)
        else:
            yield from _items_of(document, list_keys, 0)
    if damage is not None:
        yield JsonDamage(0, damage, "")


def _items_of(document: Any, list_keys: Sequence[str], line: int) -> Iterator[JsonItem]:
    if isinstance(document, list):
        for index, element in enumerate(document, start=1):
            yield JsonItem(None, line or index, element)
        return
    if not isinstance(document, dict):
        yield JsonItem(None, line or 1, document)
        return
    found = False
    scalars = {k: v for k, v in document.items() if not isinstance(v, list | dict)}
    for key in list_keys:
        value: Any = document
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, list):
            found = True
            for index, row in enumerate(value, start=1):
                yield JsonItem(key, line or index, row, scalars)
    if not found:
        # a single object (one ticket, one JSON Lines row): the caller recognises it by shape
        yield JsonItem(None, line or 1, document)


def _iter_json_lines(data: bytes, list_keys: Sequence[str]) -> Iterator[JsonItem | JsonDamage]:
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield JsonDamage(number, f"line is not valid JSON ({exc})",
                             storable(line.decode("utf-8", errors="replace")))
            continue
        yield from _items_of(document, list_keys, number)


def _salvage(text: str, list_keys: Sequence[str]) -> Iterator[JsonItem | JsonDamage]:
    """Walk a damaged document with the standard decoder, keeping every complete element of
    the row arrays (also nested ones such as `data.payload`) before the damage."""
    position = _skip(text, 0)
    if text.startswith("[", position):
        parts: Iterator[JsonItem | JsonDamage | int] = _salvage_array(text, position + 1, None)
    elif text.startswith("{", position):
        parts = _salvage_object(text, position + 1, list_keys, "")
    else:
        yield _damage(text, position, "at the start of the file")
        return
    for part in parts:
        if not isinstance(part, int):
            yield part


def _undecodable_text(value: Any) -> str | None:
    """Why a salvaged value cannot be stored: the problem of its first text (or key) holding a
    lone surrogate (a byte that was not UTF-8, kept by surrogateescape, or a broken \\u
    escape). NUL is left to validation, which names the field."""
    if isinstance(value, str):
        at = surrogate_at(value)
        return None if at is None else text_problem(value, at)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _undecodable_text(key) or _undecodable_text(item)
            if problem is not None:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _undecodable_text(item)
            if problem is not None:
                return problem
    return None


def _damage(text: str, at: int, what: str) -> JsonDamage:
    line = _line_of(text, at)
    return JsonDamage(line, f"invalid or truncated JSON {what} (at line {line}); the elements "
                      "before it were read", storable(text[at:at + 2000]))


def _salvage_array(text: str, at: int, key: str | None
                   ) -> Iterator[JsonItem | JsonDamage | int]:
    """Elements of the array whose '[' is just before `at`; last, the offset after its ']'
    (nothing after a damage)."""
    index = 0
    at = _skip(text, at)
    if text.startswith("]", at):
        yield at + 1
        return
    while True:
        try:
            value, end = _decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            yield _damage(text, at, f"in element {index + 1}" + (f" of {key!r}" if key else ""))
            return
        index += 1
        problem = _undecodable_text(value)
        if problem is not None:
            # a byte that was not UTF-8 (or a lone surrogate escape): this element alone
            line = _line_of(text, at)
            yield JsonDamage(line, f"element {index}" + (f" of {key!r}" if key else "")
                             + f" (at line {line}) holds a text that {problem}",
                             storable(text[at:min(end, at + 2000)]))
        else:
            yield JsonItem(key, index, value)
        at = _skip(text, end)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
            continue
        if text.startswith("]", at):
            yield at + 1
            return
        yield _damage(text, at, f"after element {index}")
        return


def _salvage_object(text: str, at: int, list_keys: Sequence[str], prefix: str
                    ) -> Iterator[JsonItem | JsonDamage | int]:
    """Rows of the list keys inside the object whose '{' is just before `at`; last, the offset
    after its '}' (nothing after a damage)."""
    while True:
        at = _skip(text, at)
        if text.startswith("}", at):
            yield at + 1
            return
        try:
            key, end = _decoder.raw_decode(text, at)
            colon = _skip(text, end)
            if not isinstance(key, str) or not text.startswith(":", colon):
                raise json.JSONDecodeError("expected a key", text, at)
        except json.JSONDecodeError:
            yield _damage(text, at, "at a key")
            return
        at = _skip(text, colon + 1)
        path = prefix + key
        inner: Iterator[JsonItem | JsonDamage | int] | None = None
        if path in list_keys and text.startswith("[", at):
            inner = _salvage_array(text, at + 1, path)
        elif text.startswith("{", at) and any(k.startswith(path + ".") for k in list_keys):
            inner = _salvage_object(text, at + 1, list_keys, path + ".")
        else:
            try:
                _, at = _decoder.raw_decode(text, at)
            except json.JSONDecodeError:
                yield _damage(text, at, f"in the value of {path!r}")
                return
        if inner is not None:
            closed = None
            for part in inner:
                if isinstance(part, int):
                    closed = part
                else:
                    yield part
            if closed is None:
                return  # damaged inside; the damage was reported
            at = closed
        at = _skip(text, at)
        if text.startswith(",", at):
            at += 1
            continue
        if text.startswith("}", at):
            yield at + 1
            return
        yield _damage(text, at, "after a value")
        return


def json_error_row(path: Path, damage: JsonDamage) -> SourceRow:
    return error_row(path, damage.line or None, damage.raw, None, damage.reason)


def text_id(value: Any) -> str | None:
    """A source id (number or string) as text, None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def prefixed(prefix: str, value: Any) -> str | None:
    text = text_id(value)
    return None if text is None else f"{prefix}{text}"

"""What every connector shares: its interface, its options, error rows, times and JSON pages.

A connector turns a source's own export format into canonical records (DESIGN.md §2). It never
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

from servicepulse.ingest.sources import SourceRow
from servicepulse.records.validate import RecordError


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


# -- rows -------------------------------------------------------------------------------------


def error_row(source: Path | str, line: int | None, raw: str, field_name: str | None,
              reason: str, kind: str | None = None, record_id: str | None = None) -> SourceRow:
    return SourceRow(source=str(source), line=line, data=None, raw=raw,
                     error=RecordError(field_name, reason, kind, record_id))


def record_row(source: Path | str, line: int | None, raw: str, data: dict[str, Any]) -> SourceRow:
    # Fields left None are dropped: the canonical record treats absent and null alike and a
    # smaller record keeps the quarantine readable.
    return SourceRow(source=str(source), line=line,
                     data={k: v for k, v in data.items() if v is not None}, raw=raw)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# -- files ------------------------------------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def open_text(path: Path, encoding: str = "utf-8-sig") -> IO[str]:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open("r", encoding=encoding, newline="")


def read_bytes(path: Path) -> bytes:
    with open_binary(path) as handle:
        return handle.read()


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
        data = read_bytes(path)
    except OSError as exc:
        yield JsonDamage(0, f"cannot read the file: {exc.strerror or exc}", "")
        return
    if is_json_lines(path):
        yield from _iter_json_lines(data, list_keys)
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield from _salvage(data.decode("utf-8", errors="replace"), list_keys)
        return
    yield from _items_of(document, list_keys, 0)


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
                             line.decode("utf-8", errors="replace"))
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


def _damage(text: str, at: int, what: str) -> JsonDamage:
    line = _line_of(text, at)
    return JsonDamage(line, f"invalid or truncated JSON {what} (at line {line}); the elements "
                      "before it were read", text[at:at + 2000])


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

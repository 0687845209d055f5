"""What every connector shares: its interface, its options, error rows, times and JSON pages.

A connector turns a source's own export format into canonical records (docs/records.md). It never
validates (the importer does) and never raises for bad input: a piece it cannot read or convert
becomes a `SourceRow` with `error` set, which the importer quarantines with its source and line,
and the rest of the file is still read.
"""

from __future__ import annotations

import codecs
import gzip
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ijson
import orjson

from servicepulse.ingest.readers import BOM, COMPRESSION_ERRORS, compression_problem
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.validate import RecordError, storable


@dataclass(frozen=True)
class ConnectorOptions:
    """How to read an export.

    mapping: a TOML file: the column mapping for `csv` and `social`; settings for the others
      (agent id maps, pause reasons, survey scale, ...; see docs/connectors.md).
    timezone: IANA zone of times written without an offset (CDR, spreadsheets). Overrides
      the mapping file's `timezone`.
    id_prefix: prefix of every id the connector makes, so ids of different sources (or two
      accounts of one source) cannot collide. Each connector has its own default (`zd-`, ...).
    zendesk_channels: the configuration's `zendesk_channels` (Zendesk via.channel -> channel),
      from the settings the program's start loaded (a connector never reads the
      configuration itself); the mapping file's [channels] come on top.
    """

    mapping: Path | None = None
    timezone: str | None = None
    id_prefix: str | None = None
    zendesk_channels: Mapping[str, str] = field(default_factory=dict)


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
        # a lone surrogate (a byte that was not UTF-8 in a text export, kept by
        # surrogateescape) or a value orjson does not know: still shown, never raised
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


def is_json_lines(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return bool(suffixes) and suffixes[-1] in (".jsonl", ".ndjson")


def load_mapping_file(path: Path | None) -> dict[str, Any]:
    """A connector's own TOML mapping file (`--mapping`) as a dict ({} without one); not the
    configuration, which only the composition roots load (servicepulse.config.load_settings)."""
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
# JSON documents stream through ijson (yajl's C parser): a row is built while the file is read,
# and a document that breaks (truncated, damaged, an HTML error page) still yields every row
# before the break, then one JsonDamage saying where it broke.

_CHUNK = 1 << 16  # bytes handed to the parser at a time (ijson's own default)


@dataclass(frozen=True)
class JsonItem:
    """One element of a JSON export: where it came from and what it holds."""

    key: str | None  # the top-level key of the array it was in (None: a bare array / JSONL)
    index: int  # 1-based position in that array, or line number for JSON Lines
    value: Any
    # JSON Lines only: the line's other top-level scalars (a page a line). A streamed
    # document's scalars may come after its rows, so they are not known while rows are read:
    # see `page_scalars`.
    document: dict[str, Any] | None = None


@dataclass(frozen=True)
class JsonDamage:
    """The part of a file that could not be read (truncated or invalid JSON)."""

    line: int
    reason: str
    raw: str


class _JsonBytes:
    """A JSON file's bytes as the parser reads them: decompressed, without a byte-order mark,
    and with every byte that is not UTF-8 replaced by U+FFFD. yajl stops the whole document at
    such a byte; replaced, only the element holding it is reported (`repaired` then says to
    look). Damaged compressed data ends the bytes early, `damage` saying why.

    Not kept from the hand-written salvager this replaces: a \\u escape of a lone surrogate
    (no character; the salvager refused that element alone). yajl writes "?" for a lone high
    one and stops at a lone low one, which is then a break like any other."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self.repaired = False
        self.damage: str | None = None
        self.lines = 0  # newlines read so far (for the line of a compression damage)

    def read(self, size: int = _CHUNK) -> bytes:
        while True:
            try:
                chunk = self._handle.read(size)
            except COMPRESSION_ERRORS as exc:
                self.damage, chunk = compression_problem(exc, self.lines), b""
            self.lines += chunk.count(b"\n")
            text = self._decoder.decode(chunk, final=not chunk)
            if not self.repaired and text.count("\ufffd") > chunk.count(b"\xef\xbf\xbd"):
                self.repaired = True
            if text or not chunk:  # b"" is the end for the parser: only at the real end
                return text.encode("utf-8")

    def __enter__(self) -> _JsonBytes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()


def _open_json(path: Path) -> _JsonBytes:
    return _JsonBytes(open_binary(path))


def iter_json_items(path: Path, list_keys: Sequence[str] = ()) -> Iterator[JsonItem | JsonDamage]:
    """The elements of a JSON export: a bare array, an object whose `list_keys` arrays hold
    the rows (API pages), or JSON Lines (one row or one page a line).

    A damaged file still yields every element before the damage, then one JsonDamage.
    `list_keys` may name nested paths with dots (Chatwoot's `data.payload`). The rows of each
    list key come in the order of `list_keys`.
    """
    try:
        if is_json_lines(path):
            yield from _iter_json_lines(path, list_keys)
        else:
            yield from _iter_json_document(path, list_keys)
    except OSError as exc:
        yield JsonDamage(0, f"cannot read the file: {exc.strerror or exc}", "")


def _first_byte(path: Path) -> bytes:
    with _open_json(path) as source:
        while chunk := source.read():
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]
    return b""


def _iter_json_document(path: Path, list_keys: Sequence[str]) -> Iterator[JsonItem | JsonDamage]:
    first = _first_byte(path)
    # the arrays to stream: a bare array's elements, or each list key's (one pass a key: the
    # C parser builds the rows of one prefix; a Python loop over every event to route several
    # prefixes in one pass reads a page three to four times slower)
    if first == b"[":
        prefixes: list[tuple[str | None, str]] = [(None, "item")]
    elif first == b"{":
        present = _named_keys(path, list_keys)
        prefixes = [(key, f"{key}.item") for key in list_keys if key.split(".")[-1] in present]
    else:
        prefixes = []
    found = first == b"["
    broken = False
    damage: str | None = None
    for key, prefix in prefixes:
        yielded = 0
        with _open_json(path) as source:
            try:
                for yielded, value in enumerate(
                        ijson.items(source, prefix, use_float=True), start=1):
                    yield _checked(key, yielded, value, source.repaired)
            except (ijson.JSONError, UnicodeDecodeError):
                broken = True  # where: said once, below
            damage = damage or source.damage
        if yielded == 0 and key is not None and not broken:
            found = found or _is_array(path, key)
        found = found or yielded > 0
    if not found and not broken:
        # a single object (one ticket, one JSON Lines row) or a bare value: the caller
        # recognises it by shape; a document that does not parse is reported below
        with _open_json(path) as source:
            try:
                for value in ijson.items(source, "", use_float=True):
                    yield _checked(None, 1, value, source.repaired)
            except (ijson.JSONError, UnicodeDecodeError):
                broken = True
            damage = damage or source.damage
    if broken:
        yield _where_it_breaks(path, list_keys if first == b"{" else ())
    if damage is not None:
        yield JsonDamage(0, damage, "")


def _named_keys(path: Path, list_keys: Sequence[str]) -> set[str]:
    """The last parts of `list_keys` that appear quoted anywhere in the file: the passes worth
    making (a name that appears elsewhere costs a pass that finds nothing)."""
    wanted = {key.split(".")[-1] for key in list_keys}
    needles = {name: f'"{name}"'.encode() for name in wanted}
    longest = max((len(n) for n in needles.values()), default=0)
    present: set[str] = set()
    tail = b""
    with open_binary(path) as handle:  # the names are ASCII: the raw bytes will do
        try:
            while (chunk := handle.read(1 << 20)) and present != wanted:
                window = tail + chunk
                present.update(name for name, needle in needles.items()
                               if name not in present and needle in window)
                tail = window[-longest:]
        except COMPRESSION_ERRORS:
            pass  # the passes report it
    return present


def _is_array(path: Path, key: str) -> bool:
    """Whether `key` holds an array (asked only when it yielded no row: an empty page)."""
    with _open_json(path) as source:
        try:
            return any(isinstance(value, list)
                       for value in ijson.items(source, key, use_float=True))
        except (ijson.JSONError, UnicodeDecodeError):
            return False


def _checked(key: str | None, index: int, value: Any, repaired: bool) -> JsonItem | JsonDamage:
    """The element, or its damage when it holds a byte that was not UTF-8 (replaced by U+FFFD
    as read): that element alone is reported, the others are kept."""
    if repaired and _replaced_text(value):
        where = f"element {index}" + (f" of {key!r}" if key else "")
        return JsonDamage(index, f"{where} holds a text with a byte that is not UTF-8 (shown "
                          "as U+FFFD); save the export as UTF-8 and import it again",
                          storable(dumps(value))[:2000])
    return JsonItem(key, index, value)


def _replaced_text(value: Any) -> bool:
    if isinstance(value, str):
        return "\ufffd" in value
    if isinstance(value, dict):
        return any(_replaced_text(k) or _replaced_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_replaced_text(item) for item in value)
    return False


class _Context:
    """What the parser was in, from its events: which list's element (and how many came
    before), or which key's value."""

    def __init__(self, list_keys: Sequence[str]) -> None:
        # a bare array's elements are `item`; a page's rows `<key>.item`
        self.arrays = {"item": None, **{f"{key}.item": key for key in list_keys}}
        self.counts: dict[str, int] = {}
        self.inside: str | None = None  # the element prefix being built
        self.depth = 0
        self.last: tuple[str, str, Any] | None = None
        self.chunk_offset = 0  # where the chunk whose events come next starts (set by caller)
        self.opened_in = 0  # where the chunk holding the open element's first byte starts

    def follow(self, events: list[tuple[str, str, Any]]) -> None:
        for prefix, event, value in events:
            if self.inside is not None:
                if event in ("start_map", "start_array"):
                    self.depth += 1
                elif event in ("end_map", "end_array"):
                    self.depth -= 1
                if self.depth == 0:
                    self.counts[self.inside] = self.counts.get(self.inside, 0) + 1
                    self.inside = None
            elif prefix in self.arrays and event != "map_key":
                if event in ("start_map", "start_array"):
                    self.inside, self.depth, self.opened_in = prefix, 1, self.chunk_offset
                else:  # a scalar element
                    self.counts[prefix] = self.counts.get(prefix, 0) + 1
            self.last = (prefix, event, value)

    def describe(self) -> str:
        if self.last is None:
            return "at the start of the file"
        if self.inside is not None:
            return f"in element {self.counts.get(self.inside, 0) + 1}{self._of(self.inside)}"
        prefix, event, value = self.last
        element = prefix if prefix in self.arrays else f"{prefix}.item"
        if element in self.arrays and (event != "map_key" or prefix != element):
            if event == "start_array":
                return f"in element 1{self._of(element)}"
            if element in self.counts:
                return f"after element {self.counts[element]}{self._of(element)}"
        if event == "map_key":
            return f"in the value of {'.'.join(p for p in (prefix, value) if p)!r}"
        if event == "start_map":
            return "at a key" if prefix == "" else f"at a key of {prefix!r}"
        if prefix == "" and event in ("end_map", "end_array"):
            return "after the end of the document"
        return f"after the value of {prefix!r}" if prefix else "after a value"

    def _of(self, element: str) -> str:
        key = self.arrays.get(element)
        return f" of {key!r}" if key else ""


def _where_it_breaks(path: Path, list_keys: Sequence[str]) -> JsonDamage:
    """The damage of a document that does not parse: what it was in (which element of which
    list, or which key's value), the line where that element starts, and the line, column and
    byte where the parser stopped.

    Read again, only for a broken document. yajl does not say the offset of an error, and
    parse events carry none, so: a first pass in chunks finds the chunk that fails and the
    chunk where the broken element began; a second feeds the bytes from there one at a time,
    so the element's first byte and the failing byte are known exactly."""
    first = _Context(list_keys)
    failed_at = _failing_chunk(path, first)
    if failed_at is None:  # parsed this time (a file changed while read)
        return JsonDamage(0, "invalid or truncated JSON; the elements before it were read", "")
    start = first.opened_in if first.inside is not None else failed_at
    context = _Context(list_keys)
    events = ijson.sendable_list()
    parser = ijson.parse_coro(events)
    offset, lines, line_start = 0, 1, 0
    element_line: int | None = None
    around = bytearray()
    problem = "premature end"
    after = b""
    with _open_json(path) as source:
        while True:
            chunk = source.read()
            if chunk and offset + len(chunk) <= start:  # before the broken part: at once
                parser.send(chunk)
                context.follow(events)
                del events[:]
                lines += chunk.count(b"\n")
                newline = chunk.rfind(b"\n")
                line_start = offset + newline + 1 if newline >= 0 else line_start
                offset += len(chunk)
                around += chunk
                del around[:-2000]
                continue
            at = 0
            try:
                for at in range(len(chunk)):
                    byte = chunk[at:at + 1]
                    parser.send(byte)
                    was_inside = context.inside
                    context.follow(events)
                    del events[:]
                    if context.inside is not None and was_inside is None:
                        element_line = lines  # the broken element's first byte, if it breaks
                    around += byte
                    offset += 1
                    if byte == b"\n":
                        lines, line_start = lines + 1, offset
                if not chunk:
                    parser.send(b"")  # the end: a truncated document fails here
                    parser.close()
                    break
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                context.follow(events)
                problem = _yajl_problem(exc)
                after = chunk[at:at + 200]  # and a little of what follows
                break
            del around[:-2000]
    if context.inside is None:
        element_line = lines
    where = (f"at line {lines}, column {offset - line_start + 1}, byte {offset + 1}: "
             f"{problem}")
    if element_line is not None and element_line != lines:
        where = f"it starts at line {element_line}; the JSON breaks {where}"
    return JsonDamage(element_line or lines,
                      f"invalid or truncated JSON {context.describe()} ({where}); the elements "
                      "before it were read",
                      storable((bytes(around[-2000:]) + after).decode("utf-8",
                                                                    errors="replace")))


def _failing_chunk(path: Path, context: _Context) -> int | None:
    """The offset of the chunk where the parser fails (None: it does not), `context`
    following the events until then."""
    events = ijson.sendable_list()
    parser = ijson.parse_coro(events)
    offset = 0
    with _open_json(path) as source:
        while True:
            chunk = source.read()
            context.chunk_offset = offset
            try:
                parser.send(chunk)
                if not chunk:
                    parser.close()
            except (ijson.JSONError, UnicodeDecodeError):
                context.follow(events)
                return offset
            context.follow(events)
            del events[:]
            if not chunk:
                return None
            offset += len(chunk)


def _yajl_problem(exc: Exception) -> str:
    """yajl's reason, without its picture of the text (`premature EOF`, `invalid char in json
    text`, ...)."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    for lead in ("b'", 'b"'):
        text = text.removeprefix(lead)
    return text.split(": ", 1)[-1].split("\\n")[0].strip().rstrip(".") or "not JSON"


def _iter_json_lines(path: Path, list_keys: Sequence[str]) -> Iterator[JsonItem | JsonDamage]:
    number = 0
    with open_binary(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if number == 1 and line.startswith(BOM):
                    line = line[len(BOM):]  # a byte-order mark is not content
                if not line.strip():
                    continue
                try:
                    document = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    yield JsonDamage(number, f"line is not valid JSON ({exc})",
                                     storable(line.decode("utf-8", errors="replace")))
                    continue
                yield from _items_of(document, list_keys, number)
        except COMPRESSION_ERRORS as exc:
            yield JsonDamage(0, compression_problem(exc, number), "")


def _items_of(document: Any, list_keys: Sequence[str], line: int) -> Iterator[JsonItem]:
    """The rows of one JSON Lines line (a row, or a page of rows)."""
    if not isinstance(document, dict):
        yield JsonItem(None, line, document)
        return
    found = False
    scalars = {k: v for k, v in document.items() if not isinstance(v, list | dict)}
    for key in list_keys:
        value: Any = document
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, list):
            found = True
            for row in value:
                yield JsonItem(key, line, row, scalars)
    if not found:
        yield JsonItem(None, line, document)


def page_scalars(path: Path, names: Sequence[str]) -> dict[str, Any]:
    """The values of a JSON page's top-level `names` (`next_page`, `links`, ...), wherever in
    the page they are; {} for JSON Lines, a bare array, or a page broken before them."""
    if is_json_lines(path):
        return {}
    out: dict[str, Any] = {}
    with _open_json(path) as source:
        try:
            for name, value in ijson.kvitems(source, "", use_float=True):
                if name in names:
                    out[name] = value
        except (ijson.JSONError, UnicodeDecodeError):
            pass  # a damaged page is reported where it is read
    return out


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

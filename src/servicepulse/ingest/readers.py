"""Readers for the canonical interchange formats: JSON Lines and per-kind CSV.

They stream (one line in memory at a time), never validate and never raise for bad content:
a line that is not JSON, or holds a byte that is not UTF-8, becomes a SourceRow with `error`
set, so the importer quarantines it with its file and line and goes on with the rest.

A file that cannot be read as text at all raises `UnreadableFile` naming it: one that is not
UTF-8 text (binary, UTF-16, compressed without its .gz), a .gz that is not gzip, and
compressed data that is damaged or truncated (raised where the damage is met: the rows
before it have been yielded). `check_readable` finds the first kinds before anything is read.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson

from servicepulse.errors import InvalidRequest
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import RECORD_KINDS
from servicepulse.records.validate import RecordError, clean_csv_row, storable, unstorable_at

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
MAX_LINE_BYTES = 1_000_000  # a longer line is quarantined, not parsed
BOM = codecs.BOM_UTF8
SNIFF_BYTES = 8192  # how much of a file (decompressed) decides whether it is text
# What damaged gzip data raises while it is read: a bad header or CRC, a stream that ends
# early, deflate data that does not decode.
COMPRESSION_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
# Bytes never found in text: C0 controls but tab, line feed, vertical tab, form feed,
# carriage return and escape (and DEL is allowed: some exports use it).
_TEXT_BYTES = bytes(range(0x20, 0x100)) + b"\t\n\v\f\r\x1b"
# Signatures of formats that are not text, and what to do about each.
_SIGNATURES = (
    (b"\xff\xfe", "is UTF-16 or UTF-32 text (it starts with their byte-order mark); save it "
     "as UTF-8"),
    (b"\xfe\xff", "is UTF-16 text (it starts with its byte-order mark); save it as UTF-8"),
    (b"\x1f\x8b", "is gzip-compressed; name it with .gz at the end (e.g. records.jsonl.gz) so "
     "that it is decompressed"),
    (b"PK\x03\x04", "is a ZIP archive; extract it and import the files inside"),
    (b"BZh", "is bzip2-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"\xfd7zXZ\x00", "is xz-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed; decompress it, or compress it with gzip (.gz)"),
    (b"%PDF", "is a PDF document, not records"),
)

ByteCounter = Callable[[int], None]


class UsageError(InvalidRequest):
    """The paths given cannot be read at all (missing file, unknown file type)."""


class UnreadableFile(UsageError):
    """A file that cannot be read as text: not UTF-8 text at all, or damaged compressed data.
    The message names the file and says why (and, met while reading, how far it got)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _compressed(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _open(path: Path) -> IO[bytes]:
    if _compressed(path):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def compression_problem(exc: BaseException, line: int) -> str:
    """What to say about damaged compressed data met after `line` lines."""
    detail = str(exc) or type(exc).__name__
    if "Not a gzipped file" in detail:
        return ("is not gzip-compressed although its name ends in .gz; rename it without .gz, "
                "or compress it with gzip")
    where = (f"after line {line:,} (the rows before it were read)" if line
             else "before its first line")
    return (f"the compressed data is damaged or truncated {where}: {detail}; compress the "
            "file again from its source")


def _damaged(path: Path, exc: BaseException, line: int) -> UnreadableFile:
    return UnreadableFile(path, compression_problem(exc, line))


def _not_text(head: bytes, compressed: bool) -> str | None:
    """Why the first bytes of a file say it is not UTF-8 text, or None."""
    for signature, reason in _SIGNATURES:
        if head.startswith(signature):
            return (reason if not (compressed and signature == b"\x1f\x8b")
                    else "is compressed twice; decompress it once")
    if not head:
        return None
    controls = len(head.translate(None, _TEXT_BYTES))
    # undecodable bytes (an incremental decoder: a character cut by the sample's end is not)
    decoded = codecs.getincrementaldecoder("utf-8")("replace").decode(head)
    suspicious = controls + decoded.count("\ufffd")
    if suspicious > 1 and suspicious * 10 > len(head):
        return (f"is not UTF-8 text: {suspicious:,} of its first {len(head):,} bytes are control "
                "characters or not valid UTF-8 (a binary file, or text in another encoding: "
                "save it as UTF-8 JSON Lines or CSV)")
    return None


def check_readable(path: Path) -> None:
    """Raise UnreadableFile when `path` cannot be opened, is not gzip although named .gz,
    starts with damaged compressed data, or is not UTF-8 text (judged on its first 8 KiB:
    a few bad bytes in text are quarantined row by row instead)."""
    compressed = _compressed(path)
    try:
        with _open(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except COMPRESSION_ERRORS as exc:
        raise _damaged(path, exc, 0) from None
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read: {exc.strerror or exc}") from None
    problem = _not_text(head, compressed)
    if problem is not None:
        raise UnreadableFile(path, problem)


def _undecodable(line: bytes, exc: UnicodeDecodeError) -> str:
    return (f"the byte 0x{line[exc.start]:02X} at byte {exc.start + 1:,} of the line is not "
            "valid UTF-8 (a file saved as Latin-1 or Windows-1252? save it as UTF-8)")


def _logical_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return suffixes[-1] if suffixes else ""


def kind_from_file_name(path: Path) -> str | None:
    """`agents.csv`, `agent.csv` or `agent_states.csv` name their kind; None otherwise."""
    stem = path.name.split(".")[0].lower().replace("-", "_")
    for kind in RECORD_KINDS:
        if stem in (kind, kind + "s"):
            return kind
    return None


def expand_paths(paths: Iterable[Path], any_file: bool = False) -> list[Path]:
    """Files to read: each file given, and every readable file below each folder given.
    `any_file`: a source format decides what it reads (an Asterisk `queue_log` has no suffix)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file()
                and (any_file or _logical_suffix(p) in JSON_SUFFIXES + CSV_SUFFIXES)
            )
        elif path.is_file():
            if not any_file and _logical_suffix(path) not in JSON_SUFFIXES + CSV_SUFFIXES:
                raise UsageError(f"{path}: unknown file type; expected .jsonl, .ndjson, .json "
                                 "or .csv (optionally .gz)")
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return files


def read_jsonl(path: Path, on_bytes: ByteCounter | None = None,
               parse: bool = True) -> Iterator[SourceRow]:
    """Rows of a JSON Lines file. With `parse=False` the JSON is left to the importer
    (`data` None, `raw` the line), which a parallel import parses in its workers."""
    check_readable(path)
    source = str(path)
    number = 0
    with _open(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if on_bytes is not None:
                    on_bytes(len(line))
                stripped = line.strip()
                if number == 1 and stripped.startswith(BOM):
                    stripped = stripped[len(BOM):].strip()  # a byte-order mark: not content
                if not stripped:
                    continue
                if len(stripped) > MAX_LINE_BYTES:
                    raw = storable(stripped[:2000].decode("utf-8", errors="replace"))
                    yield SourceRow(source, number, None, raw, RecordError(
                        None, f"line is {len(stripped):,} bytes; the limit is "
                        f"{MAX_LINE_BYTES:,}"))
                    continue
                try:
                    raw = stripped.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield SourceRow(source, number, None,
                                    storable(stripped.decode("utf-8", errors="replace")),
                                    RecordError(None, _undecodable(stripped, exc)))
                    continue
                if b"\x00" in stripped:
                    at = stripped.index(b"\x00") + 1
                    yield SourceRow(source, number, None, storable(raw), RecordError(
                        None, f"a NUL byte at byte {at:,} of the line: not valid JSON (and "
                        "text may not hold NUL characters)"))
                    continue
                if not parse:
                    yield SourceRow(source, number, None, raw)
                    continue
                try:
                    data = orjson.loads(stripped)
                except orjson.JSONDecodeError as exc:
                    yield SourceRow(source, number, None, raw,
                                    RecordError(None, f"not valid JSON ({exc})"))
                    continue
                if not isinstance(data, dict):
                    yield SourceRow(source, number, None, raw, RecordError(
                        None, f"expected a JSON object, got {type(data).__name__}"))
                    continue
                yield SourceRow(source, number, data, raw)
        except COMPRESSION_ERRORS as exc:
            raise _damaged(path, exc, number) from None


def _bad_cell(row: dict[str | None, object]) -> tuple[str | None, str] | None:
    """The first cell (field name, reason) holding a byte that is not UTF-8, if any."""
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and (at := unstorable_at(item)) is not None:
                code = ord(item[at])
                if 0xDC80 <= code <= 0xDCFF:
                    return key, (f"the byte 0x{code - 0xDC00:02X} at character {at + 1:,} of the "
                                 "cell is not valid UTF-8 (a file saved as Latin-1 or "
                                 "Windows-1252? save it as UTF-8)")
    return None


def read_csv(path: Path, on_bytes: ByteCounter | None = None) -> Iterator[SourceRow]:
    check_readable(path)
    source = str(path)
    default_kind = kind_from_file_name(path)
    line = 0
    with _open(path) as binary:
        # surrogateescape: a byte that is not UTF-8 is kept (as U+DC80-U+DCFF), so its row is
        # quarantined with its line, rather than the whole file failing to decode
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape",
                                newline="")
        reader = csv.DictReader(text)
        try:
            try:
                fields = reader.fieldnames or []
            except csv.Error as exc:
                yield SourceRow(source, 1, None, "", RecordError(
                    None, f"cannot read the header row: {exc}"), default_kind)
                return
            header = ",".join(fields)
            if unstorable_at(header) is not None:
                yield SourceRow(source, 1, None, storable(header), RecordError(
                    None, "the header row holds a byte that is not valid UTF-8 or a NUL "
                    "character; the column names must be field names"), default_kind)
                return
            if default_kind is None and "type" not in fields:
                yield SourceRow(source, 1, None, header, RecordError(
                    "type", "the file name does not name a record kind (e.g. agents.csv) and "
                    "there is no type column; rename the file or add the column"))
                return
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    stuck = reader.line_num == line  # no progress (not seen with csv's errors)
                    line = reader.line_num
                    yield SourceRow(source, line, None, "", RecordError(
                        None, f"unreadable CSV row: {exc}"
                        + ("; the rest of the file cannot be read" if stuck else "")),
                        default_kind)
                    if stuck:
                        return
                    continue
                line = reader.line_num
                raw = ",".join("" if v is None else str(v) for v in row.values())
                if on_bytes is not None:
                    # approximate: csv does not expose the byte position; count the characters
                    on_bytes(len(raw) + 1)
                if not raw.isascii() or "\x00" in raw:
                    bad = _bad_cell(row)
                    raw = storable(raw)
                    if bad is not None:
                        yield SourceRow(source, line, None, raw, RecordError(*bad),
                                        default_kind)
                        continue
                extra = row.get(None)
                if extra is not None:
                    yield SourceRow(source, line, None, raw, RecordError(
                        None, f"row has {len(fields) + len(extra)} cells, the header has "
                        f"{len(fields)}"), default_kind)
                    continue
                try:
                    data = clean_csv_row(row)
                except RecordError as exc:
                    yield SourceRow(source, line, None, raw, exc, default_kind)
                    continue
                yield SourceRow(source, line, data, raw, None, default_kind)
        except COMPRESSION_ERRORS as exc:
            raise _damaged(path, exc, line) from None


def read_paths(paths: Iterable[Path], on_bytes: ByteCounter | None = None,
               parse: bool = True,
               unreadable: list[UnreadableFile] | None = None) -> Iterator[SourceRow]:
    """Every row of every file, in order (folders expanded, .gz read transparently).

    A file that cannot be read (`UnreadableFile`) is raised, or, given a list `unreadable`,
    added to it: its rows read before the damage have been yielded, and the next file is
    read (the caller reports the list once the rows are imported)."""
    for path in expand_paths(paths):
        rows = (read_csv(path, on_bytes) if _logical_suffix(path) in CSV_SUFFIXES
                else read_jsonl(path, on_bytes, parse))
        try:
            yield from rows
        except UnreadableFile as exc:
            if unreadable is None:
                raise
            unreadable.append(exc)

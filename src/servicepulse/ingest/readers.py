"""Readers for the canonical interchange formats: JSON Lines and per-kind CSV.

They stream (one line in memory at a time), never validate and never raise for bad content:
a line that is not JSON becomes a SourceRow with `error` set, so the importer quarantines it
with its file and line and goes on with the rest.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

import orjson

from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import RECORD_KINDS
from servicepulse.records.validate import RecordError, clean_csv_row

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
MAX_LINE_BYTES = 1_000_000  # a longer line is quarantined, not parsed

ByteCounter = Callable[[int], None]


class UsageError(ValueError):
    """The paths given cannot be read at all (missing file, unknown file type)."""


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


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
    source = str(path)
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if on_bytes is not None:
                on_bytes(len(line))
            stripped = line.strip()
            if not stripped:
                continue
            raw = stripped.decode("utf-8", errors="replace")
            if len(stripped) > MAX_LINE_BYTES:
                yield SourceRow(source, number, None, raw[:2000], RecordError(
                    None, f"line is {len(stripped):,} bytes; the limit is {MAX_LINE_BYTES:,}"))
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


def read_csv(path: Path, on_bytes: ByteCounter | None = None) -> Iterator[SourceRow]:
    source = str(path)
    default_kind = kind_from_file_name(path)
    with _open(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        fields = reader.fieldnames or []
        if default_kind is None and "type" not in fields:
            yield SourceRow(source, 1, None, ",".join(fields), RecordError(
                "type", "the file name does not name a record kind (e.g. agents.csv) and there "
                "is no type column; rename the file or add the column"))
            return
        for row in reader:
            line = reader.line_num
            raw = ",".join("" if v is None else str(v) for v in row.values())
            if on_bytes is not None:
                # approximate: csv does not expose the byte position; count the row's characters
                on_bytes(len(raw) + 1)
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


def read_paths(paths: Iterable[Path], on_bytes: ByteCounter | None = None,
               parse: bool = True) -> Iterator[SourceRow]:
    """Every row of every file, in order (folders expanded, .gz read transparently)."""
    for path in expand_paths(paths):
        if _logical_suffix(path) in CSV_SUFFIXES:
            yield from read_csv(path, on_bytes)
        else:
            yield from read_jsonl(path, on_bytes, parse)

"""Spreadsheet exports (`csv`) and social-media exports (`social`) through a column mapping.

A mapping (TOML) says which canonical record(s) each row makes and where each canonical field
comes from: a column, a constant, a value map, a time format and zone, a duration unit, an id
prefix. `social` reads post metrics and mentions with a mapping too, and recognises the post
exports of Meta Business Suite (Facebook, Instagram) and X analytics without one. The full
format is in docs/connectors.md. Rows stream: one row in, its record(s) out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from servicepulse.ingest.connectors.base import (
    BadSourceRow,
    Connector,
    ConnectorOptions,
    MappingError,
    damage_row,
    error_row,
    iso,
    load_mapping_file,
    open_text,
    parse_time,
    record_row,
    zone,
)
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.models import RECORD_MODELS

TIME_FIELDS = {"created_at", "first_response_at", "answered_at", "resolved_at", "abandoned_at",
               "at", "submitted_at", "start", "end", "posted_at", "acquired_at", "churned_at"}
DURATION_FIELDS = {"talk_s", "hold_s", "wrap_s", "handle_s"}
LIST_FIELDS = {"languages", "holidays"}
INTEGER_FIELDS = {"impressions", "reach", "likes", "comments", "shares", "clicks", "saves",
                  "reopens", "transfers"}
NUMBER_FIELDS = {"score", "scale_min", "scale_max", "amount", "hourly_cost"} | DURATION_FIELDS
UNITS = {"seconds": 1.0, "s": 1.0, "milliseconds": 0.001, "ms": 0.001, "minutes": 60.0,
         "min": 60.0, "hours": 3600.0, "h": 3600.0}
SPEC_KEYS = {"column", "value", "values", "default", "format", "unit", "prefix", "template",
             "split", "timezone", "decimal", "thousands"}


def _canonical_fields(kind: str) -> set[str]:
    model = RECORD_MODELS[kind]
    return {info.alias or name for name, info in model.model_fields.items()}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    column: str | None = None
    value: Any = None  # a constant (when no column)
    values: Mapping[str, Any] = field(default_factory=dict)
    default: Any = None
    format: str | None = None
    unit: float = 1.0
    prefix: str = ""
    template: str | None = None
    split: str | None = None
    timezone: ZoneInfo | None = None
    decimal: str = "."
    thousands: str = ""


@dataclass(frozen=True)
class RecordSpec:
    kind: str
    fields: tuple[FieldSpec, ...]
    skip_when_empty: tuple[str, ...] = ()

    def columns(self) -> set[str]:
        return {f.column for f in self.fields if f.column} | set(self.skip_when_empty)


@dataclass(frozen=True)
class Mapping_:
    records: tuple[RecordSpec, ...]
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    name: str = "mapping"


def _spec(kind: str, name: str, raw: Any, defaults: dict[str, Any], where: str) -> FieldSpec:
    if isinstance(raw, str):
        raw = {"column": raw}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: field {name!r} must be a column name or a table "
                           f"({', '.join(sorted(SPEC_KEYS))})")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise MappingError(f"{where}: field {name!r} has unknown key(s) {sorted(unknown)}; "
                           f"allowed: {', '.join(sorted(SPEC_KEYS))}")
    if "column" not in raw and "value" not in raw:
        raise MappingError(f"{where}: field {name!r} needs a `column` or a constant `value`")
    unit = raw.get("unit", "seconds")
    if unit not in UNITS:
        raise MappingError(f"{where}: field {name!r}: unit {unit!r} is not one of "
                           f"{', '.join(UNITS)}")
    is_id = name == "id" or name.endswith("_id")
    template = raw.get("template")
    if template is not None and "{}" not in str(template):
        raise MappingError(f"{where}: field {name!r}: template {template!r} needs a {{}}")
    return FieldSpec(
        name=name, column=raw.get("column"), value=raw.get("value"),
        values={str(k): v for k, v in dict(raw.get("values", {})).items()},
        default=raw.get("default"),
        format=raw.get("format", defaults.get("time_format") if name in TIME_FIELDS else None),
        unit=UNITS[unit],
        prefix=str(raw.get("prefix", defaults.get("id_prefix", "") if is_id else "")),
        template=template,
        split=raw.get("split", ";" if name in LIST_FIELDS else None),
        timezone=zone(raw.get("timezone")) or defaults.get("zone"),
        decimal=str(raw.get("decimal", defaults.get("decimal") or ".")),
        thousands=str(raw.get("thousands", defaults.get("thousands") or "")),
    )


def _record_spec(raw: dict[str, Any], defaults: dict[str, Any], where: str) -> RecordSpec:
    kind = raw.get("kind")
    if kind not in RECORD_MODELS:
        raise MappingError(f"{where}: kind {kind!r} is not a record kind; use one of "
                           f"{', '.join(RECORD_MODELS)}")
    fields_raw = raw.get("fields")
    if not isinstance(fields_raw, dict) or not fields_raw:
        raise MappingError(f"{where}: a [fields] table mapping canonical fields to columns "
                           "is required")
    known = _canonical_fields(kind) - {"type"}
    unknown = set(fields_raw) - known
    if unknown:
        raise MappingError(f"{where}: {sorted(unknown)} are not fields of a {kind} record; "
                           f"its fields: {', '.join(sorted(known))}")
    specs = tuple(_spec(kind, name, spec, defaults, where) for name, spec in fields_raw.items())
    skip = raw.get("skip_when_empty", [])
    if isinstance(skip, str):
        skip = [skip]
    return RecordSpec(kind, specs, tuple(str(s) for s in skip))


def parse_mapping(raw: dict[str, Any], options: ConnectorOptions, where: str) -> Mapping_:
    """A mapping from its TOML data; MappingError says what is wrong and where."""
    timezone = zone(options.timezone or raw.get("timezone"))
    defaults = {"time_format": raw.get("time_format"), "zone": timezone,
                "decimal": raw.get("decimal"), "thousands": raw.get("thousands"),
                "id_prefix": options.id_prefix if options.id_prefix is not None
                else raw.get("id_prefix", "")}
    if "records" in raw:
        if not isinstance(raw["records"], list):
            raise MappingError(f"{where}: `records` must be an array of tables ([[records]])")
        records = tuple(_record_spec({**{"kind": raw.get("kind")}, **r}, defaults,
                                     f"{where} [[records]] #{n}")
                        for n, r in enumerate(raw["records"], start=1))
    else:
        records = (_record_spec(raw, defaults, where),)
    delimiter = str(raw.get("delimiter", ","))
    if len(delimiter) != 1:
        raise MappingError(f"{where}: delimiter {delimiter!r} must be one character")
    return Mapping_(records, delimiter, str(raw.get("encoding", "utf-8-sig")), where)


# -- values -----------------------------------------------------------------------------------



def _number(text: str, spec: FieldSpec) -> float:
    """A number written the export's way (`decimal = ","`, `thousands = "."`)."""
    for separator in spec.thousands:
        text = text.replace(separator, "")
    if spec.decimal != ".":
        text = text.replace(spec.decimal, ".")
    return float(text)


def _duration(text: str, spec: FieldSpec) -> float:
    if ":" in text:  # h:mm:ss or mm:ss
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + _number(part, spec)
        return seconds
    return _number(text, spec) * spec.unit


@lru_cache(maxsize=65_536)
def parse_cell_time(text: str, time_format: str | None, timezone: ZoneInfo | None) -> str:
    """A spreadsheet cell's time (`time_format`: a strptime format, `epoch`, `epoch_ms`, or
    none for ISO 8601) as ISO 8601 in UTC; naive times are in `timezone`. Raises ValueError."""
    # Exports repeat the same minute many times and strptime is slow: parse each text once
    # (the connectors benchmark clears the cache between runs).
    if time_format in ("epoch", "epoch_ms"):
        seconds = float(text) / (1000 if time_format == "epoch_ms" else 1)
        return iso(datetime.fromtimestamp(seconds, UTC))
    if time_format:
        moment = datetime.strptime(text, time_format)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone or UTC)
        return iso(moment)
    return iso(parse_time(text, timezone))


def _time_value(text: str, spec: FieldSpec) -> str:
    return parse_cell_time(text, spec.format, spec.timezone)


def _value(spec: FieldSpec, row: dict[str, str]) -> Any:
    if spec.column is None:
        return spec.value
    cell = (row.get(spec.column) or "").strip()
    if cell == "":
        return spec.default
    if spec.values:
        if cell in spec.values:
            return spec.values[cell]
        folded = {k.casefold(): v for k, v in spec.values.items()}
        if cell.casefold() in folded:
            return folded[cell.casefold()]
    try:
        if spec.name in TIME_FIELDS:
            return _time_value(cell, spec)
        if spec.name in DURATION_FIELDS:
            return _duration(cell, spec)
        if spec.name in INTEGER_FIELDS | NUMBER_FIELDS:
            number = _number(cell, spec)
            if spec.name in INTEGER_FIELDS and number.is_integer():
                return int(number)
            return number
    except ValueError as exc:
        what = ("time" if spec.name in TIME_FIELDS else
                "duration" if spec.name in DURATION_FIELDS else "number")
        hint = ("; set decimal/thousands in the mapping if it is written like 1.234,5"
                if what != "time" else "")
        raise BadSourceRow(spec.name, f"column {spec.column!r}: {cell!r} cannot be read as a "
                           f"{what} ({exc}){hint}") from None
    if spec.split and spec.name in LIST_FIELDS:
        return [part.strip() for part in cell.split(spec.split) if part.strip()]
    if spec.name == "id" or spec.name.endswith("_id"):
        if spec.template:
            cell = spec.template.replace("{}", cell)
        return f"{spec.prefix}{cell}"
    if spec.template:
        return spec.template.replace("{}", cell)
    return cell


def _records(mapping: Mapping_, row: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for record in mapping.records:
        if any(not (row.get(column) or "").strip() for column in record.skip_when_empty):
            continue
        data: dict[str, Any] = {"type": record.kind}
        for spec in record.fields:
            data[spec.name] = _value(spec, row)
        out.append(data)
    return out


def read_table(path: Path, mapping: Mapping_) -> Iterator[SourceRow]:
    try:
        handle = open_text(path, mapping.encoding)
    except OSError as exc:
        yield error_row(path, None, "", None, f"cannot read the file: {exc.strerror or exc}")
        return
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield from damage_row(path, handle)
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield error_row(path, 1, "", None, f"cannot read the header row: {exc}")
            return
        missing = sorted(set().union(*(r.columns() for r in mapping.records)) - set(header))
        if missing:
            yield error_row(path, 1, mapping.delimiter.join(header), None,
                            f"the mapping ({mapping.name}) names column(s) {missing} that this "
                            f"file does not have; its columns: {', '.join(header)}")
            return
        number = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                number += 1
                yield error_row(path, number, "", None, f"unreadable CSV row: {exc}")
                continue
            number += 1  # row number counting the header (SourceRow.line)
            if not any(v.strip() for v in values):
                continue
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=mapping.delimiter, lineterminator="").writerow(values)
            raw = buffer.getvalue()
            if len(values) > len(header):
                yield error_row(path, number, raw, None,
                                f"row has {len(values)} cells but the header has {len(header)} "
                                "columns (an unquoted delimiter?)")
                continue
            row = dict(zip(header, values, strict=False))
            try:
                records = _records(mapping, row)
            except BadSourceRow as bad:
                yield error_row(path, number, raw, bad.field_name, str(bad))
                continue
            for data in records:
                yield record_row(path, number, raw, data)
    yield from damage_row(path, handle)


def read_csv_mapped(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    if options.mapping is None:
        raise MappingError("the csv format needs a mapping file (--mapping FILE.toml) from the "
                           "export's columns to canonical fields; see docs/connectors.md")
    mapping = parse_mapping(load_mapping_file(options.mapping), options, str(options.mapping))
    return _tables(paths, mapping)


def _tables(paths: Sequence[Path], mapping: Mapping_) -> Iterator[SourceRow]:
    for path in paths:
        yield from read_table(path, mapping)


# -- social -----------------------------------------------------------------------------------

# Post exports recognised by their header (column names as the tools write them).
SOCIAL_PRESETS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # X analytics, "tweet activity" export
    "x": (("Tweet id", "impressions"), {
        "kind": "social_post", "id_prefix": "x-",
        "fields": {"id": "Tweet id", "platform": {"value": "x"},
                   "posted_at": {"column": "time", "format": "%Y-%m-%d %H:%M %z"},
                   "impressions": "impressions", "likes": "likes", "comments": "replies",
                   "shares": "retweets", "clicks": "url clicks"}}),
    # Meta Business Suite, Instagram content export
    "instagram": (("Account username", "Publish time", "Post ID"), {
        "kind": "social_post", "id_prefix": "ig-", "time_format": "%m/%d/%Y %H:%M",
        "fields": {"id": "Post ID", "platform": {"value": "instagram"},
                   "posted_at": "Publish time", "impressions": "Impressions", "reach": "Reach",
                   "likes": "Likes", "comments": "Comments", "shares": "Shares",
                   "saves": "Saves"}}),
    # Meta Business Suite, Facebook page content export
    "facebook": (("Page name", "Publish time", "Post ID"), {
        "kind": "social_post", "id_prefix": "fb-", "time_format": "%m/%d/%Y %H:%M",
        "fields": {"id": "Post ID", "platform": {"value": "facebook"},
                   "posted_at": "Publish time", "impressions": "Impressions", "reach": "Reach",
                   "likes": "Reactions", "comments": "Comments", "shares": "Shares",
                   "clicks": "Total clicks"}}),
}
SOCIAL_KINDS = {"social_post", "social_mention"}


def _header(path: Path) -> tuple[list[str], str | None]:
    """The file's column names, and why they could not be read (damaged compressed data)."""
    try:
        with open_text(path) as handle:
            return [h.strip() for h in next(csv.reader(handle), [])], handle.damage
    except (OSError, csv.Error, UnicodeDecodeError):
        return [], None


def read_social(paths: Sequence[Path], options: ConnectorOptions) -> Iterator[SourceRow]:
    given: Mapping_ | None = None
    raw = load_mapping_file(options.mapping)
    if "fields" not in raw and "records" not in raw:
        # no column mapping, only settings for the recognised exports (timezone of Meta's
        # local publish times)
        if raw.get("timezone") and options.timezone is None:
            options = replace(options, timezone=str(raw["timezone"]))
    else:
        given = parse_mapping(raw, options, str(options.mapping))
        kinds = {r.kind for r in given.records} - SOCIAL_KINDS
        if kinds:
            raise MappingError(f"{options.mapping}: the social format makes social_post and "
                               f"social_mention records, not {sorted(kinds)}; use --format csv")
    zone(options.timezone)  # a wrong zone fails now, not at the first recognised file
    return _social_rows(paths, options, given)


def _social_rows(paths: Sequence[Path], options: ConnectorOptions,
                 given: Mapping_ | None) -> Iterator[SourceRow]:
    for path in paths:
        mapping = given
        if mapping is None:
            columns, damage = _header(path)
            if damage is not None:
                yield error_row(path, None, "", None, damage)
                continue
            header = set(columns)
            for name, (signature, preset) in SOCIAL_PRESETS.items():
                if set(signature) <= header:
                    mapping = parse_mapping(preset, options, f"{name} preset")
                    break
        if mapping is None:
            yield error_row(path, 1, "", None,
                            "no mapping given and the columns match no known export (X "
                            "analytics, Meta Business Suite Facebook/Instagram); give "
                            "--mapping FILE.toml (see docs/connectors.md)")
            continue
        yield from read_table(path, mapping)


CSV = Connector(
    "csv",
    "Any spreadsheet or helpdesk CSV export, through a TOML column mapping",
    read_csv_mapped,
)
SOCIAL = Connector(
    "social",
    "Social-media post metrics and mentions from CSV exports (X, Facebook, Instagram "
    "recognised; others through a column mapping)",
    read_social,
)

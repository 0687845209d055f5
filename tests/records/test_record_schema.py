"""`servicepulse schema`: a valid JSON Schema (draft 2020-12) that agrees with validation.

Checked with jsonschema-rs (installed with schemathesis; the `jsonschema` package is not
installed), with format validation on, so the schema's time rules are tested too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
from record_examples import MINIMAL
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.records import RECORD_KINDS, RecordError, parse_record

FIXTURES = Path(__file__).parent.parent / "fixtures" / "records"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    printed: dict[str, Any] = json.loads(result.stdout)
    return printed


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def test_schema_is_valid_json_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema_rs.meta.validate(schema)  # raises when the schema itself is malformed
    assert len(schema["anyOf"]) == len(RECORD_KINDS) == 14


def test_every_kind_requires_its_type(schema: dict[str, Any]) -> None:
    for reference in schema["anyOf"]:
        definition = schema["$defs"][reference["$ref"].rsplit("/", 1)[1]]
        assert definition["required"][0] == "type"
        assert definition["properties"]["type"]["const"] in RECORD_KINDS


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_minimal_examples_are_valid_under_the_schema(validator: Any, kind: str) -> None:
    assert validator.is_valid(MINIMAL[kind]), list(validator.iter_errors(MINIMAL[kind]))


def test_every_line_of_the_mixed_fixture_is_valid_under_the_schema(validator: Any) -> None:
    lines = (FIXTURES / "mixed.jsonl").read_bytes().splitlines()
    assert len(lines) == 29
    for number, line in enumerate(lines, start=1):
        data = orjson.loads(line)
        assert validator.is_valid(data), (number, list(validator.iter_errors(data)))


@pytest.mark.parametrize(
    "created_at",
    [
        "2026-03-02T09:00:00",
        "2026-03-02 09:00",
        "2026-03-02",
        "2026-03-02T11:00:00+02:00",
        "2026-03-02T09:00:00.5Z",
    ],
)
def test_times_the_records_accept_are_valid_under_the_schema(
    validator: Any, created_at: str
) -> None:
    # JSON Schema's "date-time" format would refuse the first three, which DESIGN.md allows
    data = {**MINIMAL["interaction"], "created_at": created_at}
    parse_record(data)
    assert validator.is_valid(data)


@pytest.mark.parametrize(
    ("change", "drop"),
    [
        ({}, "type"),  # a line must say its kind
        ({}, "channel"),  # missing required field
        ({"channel": "fax"}, None),  # unknown enum value
        ({"colour": "red"}, None),  # unknown field
        ({"created_at": "yesterday"}, None),  # unparseable time
        ({"created_at": 1772442000}, None),  # epoch number
        ({"talk_s": -1}, None),  # negative duration
        ({"reopens": 1.5}, None),  # a count is whole
    ],
)
def test_invalid_records_are_invalid_under_the_schema_too(
    validator: Any, change: dict[str, Any], drop: str | None
) -> None:
    data = {**MINIMAL["interaction"], **change}
    if drop is not None:
        del data[drop]
    assert not validator.is_valid(data)
    with pytest.raises(RecordError):
        parse_record(data)


def test_null_optional_fields_are_valid_under_the_schema(validator: Any) -> None:
    # parse_record reads null as absent (the default applies); the schema agrees
    data = {**MINIMAL["interaction"], "reopens": None, "escalated": None, "agent_id": None}
    assert parse_record(data).reopens == 0  # type: ignore[attr-defined]
    assert validator.is_valid(data)
    # but a required field given as null is missing, for both
    missing = {**MINIMAL["interaction"], "channel": None}
    assert not validator.is_valid(missing)
    with pytest.raises(RecordError):
        parse_record(missing)

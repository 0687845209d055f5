"""docs/records.md: its examples are valid records, one per kind, and its tables list every field.

So the documentation cannot drift from the models without a test failing.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import orjson
import pytest

from servicepulse.records import RECORD_KINDS, RECORD_MODELS, parse_record
from servicepulse.records.validate import clean_csv_row

DOC = (Path(__file__).parents[2] / "docs" / "records.md").read_text(encoding="utf-8")


def kind_sections() -> dict[str, str]:
    """The text of each `### \\`kind\\`` section."""
    parts = re.split(r"^### `(\w+)`\n", DOC, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    # the last kind's section runs until the next "## " heading
    return {kind: text.split("\n## ", 1)[0] for kind, text in sections.items()}


def test_every_kind_has_a_section() -> None:
    assert list(kind_sections()) == list(RECORD_KINDS)


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_each_section_has_a_valid_example_of_its_kind(kind: str) -> None:
    blocks = re.findall(r"```json\n(.*?)\n```", kind_sections()[kind], flags=re.DOTALL)
    assert len(blocks) == 1
    lines = blocks[0].splitlines()
    assert len(lines) == 1  # JSON Lines: one object, one line
    record = parse_record(orjson.loads(lines[0]))
    assert record.record_type == kind


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_each_section_lists_every_field(kind: str) -> None:
    # first column of the field table; "a, b" rows list several fields
    listed: set[str] = set()
    for row in re.findall(r"^\| ([a-z_, ]+) \|", kind_sections()[kind], flags=re.MULTILINE):
        listed.update(name.strip() for name in row.split(","))
    model = RECORD_MODELS[kind]
    fields = {field.alias or name for name, field in model.model_fields.items()} - {"type"}
    assert listed - {"field"} == fields
    required = {
        field.alias or name
        for name, field in model.model_fields.items()
        if field.is_required() and name != "type"
    }
    marked = set(re.findall(r"^\| (\w+) \| req \|", kind_sections()[kind], flags=re.MULTILINE))
    assert marked - {"field"} == required  # "field | req" is the header row


def test_csv_example_is_valid() -> None:
    block = re.findall(r"```csv\n(.*?)\n```", DOC, flags=re.DOTALL)
    assert len(block) == 1
    agents = [
        parse_record(clean_csv_row(row), default_kind="agent")
        for row in csv.DictReader(io.StringIO(block[0]))
    ]
    assert [a.id for a in agents] == ["agent-lea", "agent-sam", "agent-ito"]

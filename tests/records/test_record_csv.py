"""CSV cells as record data (`clean_csv_row`), and the per-kind CSV fixtures end to end."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from servicepulse.records import RecordError, parse_record
from servicepulse.records.models import Agent, Calendar, Direction, Interaction
from servicepulse.records.validate import clean_csv_row

FIXTURES = Path(__file__).parent.parent / "fixtures" / "records"


def test_empty_cell_is_absent_so_the_default_applies() -> None:
    row = {
        "id": "a1",
        "name": "Sam",
        "role": "frontline",
        "email": "",
        "active": "  ",
        "languages": "",
    }
    assert clean_csv_row(row) == {"id": "a1", "name": "Sam", "role": "frontline"}
    agent = parse_record(clean_csv_row(row), default_kind="agent")
    assert isinstance(agent, Agent)
    assert agent.email is None and agent.active is True and agent.languages == []


def test_cells_and_header_names_are_stripped() -> None:
    assert clean_csv_row({" id ": " a1 ", "name": "Sam "}) == {"id": "a1", "name": "Sam"}


def test_short_row_cells_are_absent() -> None:
    # csv.DictReader fills a short row with None
    assert clean_csv_row({"id": "a1", "name": None}) == {"id": "a1"}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("cell", "languages"),
    [
        ("en;fr", ["en", "fr"]),
        ("en ; fr ;", ["en", "fr"]),
        ("en", ["en"]),
        ('["en", "fr"]', ["en", "fr"]),
        ("[]", []),
    ],
)
def test_list_cells_semicolons_or_json(cell: str, languages: list[str]) -> None:
    assert clean_csv_row({"languages": cell}) == {"languages": languages}


def test_holidays_cell_is_a_list_of_dates() -> None:
    data = clean_csv_row({"holidays": "2026-12-25;2027-01-01"})
    assert data == {"holidays": ["2026-12-25", "2027-01-01"]}


def test_hours_cell_is_json() -> None:
    cell = '{"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}'
    assert clean_csv_row({"hours": cell}) == {
        "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    }


@pytest.mark.parametrize("cell", ['{"mon": [["09:00", "17:00"]', "[en, fr]"])
def test_broken_json_cell_names_its_column(cell: str) -> None:
    column = "hours" if cell.startswith("{") else "languages"
    with pytest.raises(RecordError) as caught:
        clean_csv_row({"id": "x", column: cell})
    assert caught.value.field == column
    assert caught.value.reason.startswith("cell is not valid JSON: ")


def test_hours_written_without_json_is_refused_by_validation() -> None:
    # "09:00-17:00" is not JSON, so it is split as a list and then refused as hours
    data = clean_csv_row({"id": "c", "timezone": "UTC", "hours": "09:00-17:00"})
    with pytest.raises(RecordError) as caught:
        parse_record(data, default_kind="calendar")
    assert caught.value.field == "hours"


def test_text_cells_are_converted_by_validation() -> None:
    data = clean_csv_row(
        {
            "id": "i1",
            "channel": "phone",
            "created_at": "2026-03-02T11:00:00+02:00",
            "talk_s": "240.5",
            "reopens": "2",
            "escalated": "true",
        }
    )
    record = parse_record(data, default_kind="interaction")
    assert isinstance(record, Interaction)
    assert (record.talk_s, record.reopens, record.escalated) == (240.5, 2, True)
    assert record.created_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def read_fixture(name: str, kind: str) -> list[Any]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as handle:
        return [
            parse_record(clean_csv_row(row), default_kind=kind) for row in csv.DictReader(handle)
        ]


def test_agents_csv_fixture() -> None:
    agents = read_fixture("agents.csv", "agent")
    assert [a.id for a in agents] == ["agent-lea", "agent-sam", "agent-ito"]
    lea, sam, ito = agents
    assert (lea.name, lea.email, lea.hourly_cost, lea.active, lea.languages) == (
        "Léa Martin",
        "lea@example.com",
        None,
        True,
        ["fr", "en"],
    )
    assert (sam.hourly_cost, sam.active, sam.email, sam.languages) == (
        21.5,
        True,
        None,
        ["en", "es"],
    )
    assert (ito.team_id, ito.active, ito.languages) == (None, False, [])


def test_calendars_csv_fixture_with_a_type_column() -> None:
    calendars = read_fixture("calendars.csv", "calendar")
    assert all(isinstance(c, Calendar) for c in calendars)
    paris, new_york = calendars
    assert paris.hours == {
        "mon": [("09:00", "12:30"), ("13:30", "18:00")],
        "fri": [("09:00", "17:00")],
    }
    assert paris.holidays == [date(2026, 12, 25), date(2027, 1, 1)]
    assert (new_york.timezone, new_york.holidays) == ("America/New_York", [])


def test_interactions_csv_fixture() -> None:
    first, second = read_fixture("interactions.csv", "interaction")
    # 11:00+02:00 is 09:00Z
    assert first.created_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert (first.direction, first.talk_s, first.hold_s, first.wrap_s) == (
        Direction.inbound,
        240,
        45,
        30,
    )
    assert (first.reopens, first.transfers, first.escalated) == (0, 0, False)
    # "2026-03-02 10:00" has no offset: UTC
    assert second.created_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert (second.direction, second.agent_id, second.resolved_at) == (
        Direction.outbound,
        None,
        None,
    )
    assert (second.reopens, second.transfers, second.escalated) == (1, 2, True)

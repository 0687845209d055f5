"""The canonical example files `mixed.jsonl` and `broken.jsonl` say what docs/records.md says.

The import tests rely on these counts; if a fixture changes, change docs/records.md (section
"Example files") and this test together.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from servicepulse.records import RecordError, parse_record
from servicepulse.records.models import Record

FIXTURES = Path(__file__).parent.parent / "fixtures" / "records"

MIXED_COUNTS = {
    "team": 1,
    "agent": 3,
    "calendar": 1,
    "customer": 2,
    "interaction": 2,
    "event": 9,
    "survey": 3,
    "agent_state": 3,
    "shift": 1,
    "order": 2,
    "social_post": 1,
    "social_mention": 1,
}  # 29 records, every kind
BROKEN_COUNTS = {
    "team": 1,
    "agent": 1,
    "customer": 1,
    "interaction": 2,
    "event": 1,
    "survey": 1,
    "agent_state": 1,
    "shift": 1,
    "order": 1,
    "social_post": 1,
    "social_mention": 1,
}  # 12 valid records (no calendar)
# line number -> (field, start of the reason); field None = the whole line
BROKEN_LINES: dict[int, tuple[str | None, str]] = {
    4: (None, "not valid JSON"),
    6: ("type", "unknown record kind 'ticket'"),
    8: ("created_at", "missing required field"),
    10: ("channel", "Input should be 'phone'"),
    12: ("score", "11 is outside the nps scale 0–10"),
    14: ("end", "ends before its start"),
    16: ("talk_s", "Input should be greater than or equal to 0"),
    18: ("at", "Input should be a valid datetime"),
}


def read(name: str) -> tuple[list[tuple[int, Record]], dict[int, RecordError]]:
    """Like the JSON Lines reader: valid records with their line, and errors by line."""
    good: list[tuple[int, Record]] = []
    bad: dict[int, RecordError] = {}
    for number, line in enumerate((FIXTURES / name).read_bytes().splitlines(), start=1):
        try:
            good.append((number, parse_record(orjson.loads(line))))
        except orjson.JSONDecodeError as exc:
            bad[number] = RecordError(None, f"not valid JSON ({exc})")
        except RecordError as exc:
            bad[number] = exc
    return good, bad


def test_mixed_holds_every_kind_and_nothing_bad() -> None:
    good, bad = read("mixed.jsonl")
    assert bad == {}
    assert Counter(record.record_type for _, record in good) == MIXED_COUNTS
    assert len(good) == 29
    # ids are unique within their kind
    assert len({(record.record_type, record.id) for _, record in good}) == 29


def test_broken_keeps_its_good_lines_and_says_why_for_each_bad_one() -> None:
    good, bad = read("broken.jsonl")
    assert Counter(record.record_type for _, record in good) == BROKEN_COUNTS
    assert sum(BROKEN_COUNTS.values()) == len(good) == 12
    assert sorted(bad) == sorted(BROKEN_LINES) == [4, 6, 8, 10, 12, 14, 16, 18]
    for number, (field, reason) in BROKEN_LINES.items():
        assert bad[number].field == field, number
        assert bad[number].reason.startswith(reason), (number, bad[number].reason)
    # bad lines sit between good ones: first and last lines are good
    assert good[0][0] == 1 and good[-1][0] == 20


def test_mixed_offsets_are_converted() -> None:
    good, _ = read("mixed.jsonl")
    by_id = {record.id: record for _, record in good}
    assert by_id["int-2"].created_at.isoformat() == "2026-03-02T09:15:00+00:00"  # type: ignore[attr-defined]
    # the shift 09:00+01:00 .. 17:00+01:00 is 08:00Z .. 16:00Z
    assert by_id["sh-1"].start.isoformat() == "2026-03-02T08:00:00+00:00"  # type: ignore[attr-defined]
    assert by_id["sh-1"].end.isoformat() == "2026-03-02T16:00:00+00:00"  # type: ignore[attr-defined]
    # churned 2026-02-28T17:00+01:00 is 16:00Z
    assert by_id["cust-2"].churned_at.isoformat() == "2026-02-28T16:00:00+00:00"  # type: ignore[attr-defined]

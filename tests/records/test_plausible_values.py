"""Plausible values only (DESIGN.md §2, issue 15): times inside the window, durations up to the
maximum, finite numbers, no NUL (nor lone surrogates) in any text, a byte-order mark accepted.

Each bad value is quarantined with its field and reason and the valid rows of the same file are
imported; a property test throws hostile values at interaction records on SQLite and
PostgreSQL: every record is either stored and reads back exactly, or quarantined with a field
and a reason, and nothing raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.config import ConfigError, Settings, load_settings
from servicepulse.ingest.importer import Importer, import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.ingest.sources import SourceRow
from servicepulse.records import RecordError, parse_record, plausible
from servicepulse.records.plausible import Plausibility
from servicepulse.store import tables

# A fixed "today", so that the window's end is known: 1970-01-01 to 2036-03-01 (whole days).
TODAY = date(2026, 3, 1)
LIMITS = Plausibility.window(today=TODAY)
TOO_EARLY = ("before 1970-01-01, the earliest plausible time; see the setting "
             "plausible_from")
TOO_LATE = ("after 2036-03-01, the latest plausible day (10 years after today); see the "
            "setting plausible_years_ahead")
TOO_LONG = "over 86400 s, the longest plausible duration; see the setting max_duration_s"
NUL_AT = "contains a NUL character (U+0000) at character {}; text must be valid UTF-8 without " \
         "NUL characters"
DURATIONS = ("talk_s", "hold_s", "wrap_s", "handle_s")

runner = CliRunner()


@pytest.fixture(autouse=True)
def limits() -> Iterator[Plausibility]:
    """Every test validates with LIMITS, and leaves the process's limits as it found them
    (the CLI's import sets them from the settings)."""
    previous = plausible.configure(LIMITS)
    yield LIMITS
    plausible.configure(previous)


def interaction(**fields: Any) -> dict[str, Any]:
    return {"type": "interaction", "id": "i1", "channel": "chat",
            "created_at": "2026-03-02T09:00:00Z", **fields}


def refused(data: dict[str, Any]) -> tuple[str | None, str]:
    with pytest.raises(RecordError) as caught:
        parse_record(data)
    return caught.value.field, caught.value.reason


# -- times ------------------------------------------------------------------------------------


def test_year_one_is_quarantined_not_an_overflow() -> None:
    assert refused(interaction(created_at="0001-01-01T00:00:00Z")) == (
        "created_at", f"{TOO_EARLY} (got '0001-01-01T00:00:00Z')")
    # with an offset there is no such UTC time at all: still a reason, never OverflowError
    assert refused(interaction(created_at="0001-01-01T00:00:00+01:00")) == (
        "created_at", f"{TOO_EARLY} (got '0001-01-01T00:00:00+01:00')")
    assert refused(interaction(created_at="9999-12-31T23:59:59-01:00")) == (
        "created_at", f"{TOO_LATE} (got '9999-12-31T23:59:59-01:00')")


def test_2099_is_quarantined() -> None:
    assert refused(interaction(created_at="2099-01-01T00:00:00Z")) == (
        "created_at", f"{TOO_LATE} (got '2099-01-01T00:00:00Z')")
    assert refused(interaction(resolved_at="2099-01-01")) == (
        "resolved_at", f"{TOO_LATE} (got '2099-01-01')")


@pytest.mark.parametrize(("value", "inside"), [
    ("1970-01-01T00:00:00Z", True),
    ("1970-01-01", True),
    ("1970-01-01T01:00:00+01:00", True),  # 00:00Z
    ("1969-12-31T23:59:59.999999Z", False),
    ("1970-01-01T00:59:59.999999+01:00", False),
    ("2036-03-01T23:59:59.999999Z", True),  # the last plausible day, to its end
    ("2036-03-01T22:59:59-01:00", True),
    ("2036-03-02T00:00:00Z", False),
    ("2036-03-01T23:00:00-01:00", False),  # 2036-03-02T00:00Z
])
def test_the_window_edges(value: str, inside: bool) -> None:
    data = interaction(created_at=value)
    if inside:
        assert parse_record(data).created_at.tzinfo is UTC  # type: ignore[attr-defined]
    else:
        field, reason = refused(data)
        assert field == "created_at"
        assert reason.startswith(TOO_EARLY if value.startswith("19") else TOO_LATE)


def test_every_time_field_of_every_kind_is_held_to_the_window() -> None:
    old = "1900-01-01T00:00:00Z"
    cases = [
        ({"type": "customer", "id": "c", "acquired_at": old}, "acquired_at"),
        ({"type": "event", "id": "e", "interaction_id": "i", "at": old, "kind": "note"}, "at"),
        ({"type": "survey", "id": "s", "kind": "csat", "score": 5, "submitted_at": old},
         "submitted_at"),
        ({"type": "agent_state", "id": "a", "agent_id": "a", "state": "available",
          "start": "2026-01-01T00:00:00Z", "end": "2099-01-01T00:00:00Z"}, "end"),
        ({"type": "shift", "id": "s", "agent_id": "a", "start": old, "end": old}, "start"),
        ({"type": "order", "id": "o", "customer_id": "c", "at": old, "amount": 1,
          "kind": "purchase"}, "at"),
        ({"type": "social_post", "id": "p", "platform": "x", "posted_at": old}, "posted_at"),
        ({"type": "social_mention", "id": "m", "platform": "x", "at": old, "text": "hi"}, "at"),
        (interaction(first_response_at="2099-01-01T00:00:00Z"), "first_response_at"),
    ]
    for data, field in cases:
        assert refused(data)[0] == field, data


def test_the_window_follows_the_settings() -> None:
    narrow = Plausibility.from_settings(
        Settings(plausible_from=date(2020, 1, 1), plausible_years_ahead=1), today=TODAY)
    assert (narrow.first_day, narrow.last_day) == (date(2020, 1, 1), date(2027, 3, 1))
    plausible.configure(narrow)
    assert refused(interaction(created_at="2019-12-31T23:59:59Z")) == (
        "created_at", "before 2020-01-01, the earliest plausible time; see the setting "
        "plausible_from (got '2019-12-31T23:59:59Z')")
    assert refused(interaction(created_at="2027-03-02T00:00:00Z"))[1].startswith(
        "after 2027-03-01, the latest plausible day (1 years after today)")
    assert parse_record(interaction(created_at="2027-03-01T23:00:00Z"))


def test_the_defaults() -> None:
    default = Plausibility()
    assert default.first_day == date(1970, 1, 1)
    assert default.last_day == plausible.years_after(datetime.now(UTC).date(), 10)
    assert default.max_duration_s == 86_400
    assert Plausibility.from_settings(Settings()) == Plausibility.window()
    # 29 February ten years on is 28 February
    assert Plausibility.window(today=date(2028, 2, 29)).last_day == date(2038, 2, 28)


# -- durations and other numbers -------------------------------------------------------------


@pytest.mark.parametrize("field", DURATIONS)
def test_durations_over_a_day_are_quarantined(field: str) -> None:
    assert parse_record(interaction(**{field: 86_400}))
    assert refused(interaction(**{field: 86_401})) == (field, f"{TOO_LONG} (got 86401)")
    assert refused(interaction(**{field: 86_400.001})) == (field, f"{TOO_LONG} (got 86400.001)")
    assert refused(interaction(**{field: 1e308})) == (field, f"{TOO_LONG} (got 1e+308)")
    assert refused(interaction(**{field: "1e308"})) == (field, f"{TOO_LONG} (got '1e308')")


def test_the_maximum_duration_follows_the_settings() -> None:
    plausible.configure(Plausibility.from_settings(Settings(max_duration_s=3600), today=TODAY))
    assert parse_record(interaction(talk_s=3600))
    assert refused(interaction(talk_s=3601)) == (
        "talk_s", "over 3600 s, the longest plausible duration; see the setting "
        "max_duration_s (got 3601)")


@pytest.mark.parametrize(("field", "data"), [
    ("handle_s", interaction()),
    ("score", {"type": "survey", "id": "s", "kind": "csat", "score": 5,
               "submitted_at": "2026-03-02T09:00:00Z"}),
    ("amount", {"type": "order", "id": "o", "customer_id": "c", "at": "2026-03-02T09:00:00Z",
                "amount": 1, "kind": "purchase"}),
    ("hourly_cost", {"type": "agent", "id": "a", "name": "A", "role": "frontline"}),
])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "NaN", "inf",
                                   "-Infinity"])
def test_non_finite_numbers_are_refused(field: str, data: dict[str, Any], value: Any) -> None:
    field_name, reason = refused({**data, field: value})
    assert field_name == field
    assert reason.startswith("Input should be a finite number")


def test_counts_fit_the_stores_integer_columns() -> None:
    assert parse_record(interaction(reopens=2**31 - 1)).reopens == 2**31 - 1  # type: ignore[attr-defined]
    assert refused(interaction(reopens=2**31)) == (
        "reopens", "Input should be less than or equal to 2147483647 (got 2147483648)")
    assert refused({"type": "social_post", "id": "p", "platform": "x",
                    "posted_at": "2026-03-02T09:00:00Z", "likes": 10**20})[0] == "likes"


# -- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "field", "at"), [
    (interaction(subject="Refund\x00 please"), "subject", 7),
    (interaction(id="i\x001"), "id", 2),
    (interaction(agent_id="\x00"), "agent_id", 1),
    ({"type": "event", "id": "e", "interaction_id": "i1", "at": "2026-03-02T09:00:00Z",
      "kind": "customer_message", "body": "hello\x00world"}, "body", 6),
    ({"type": "agent", "id": "a", "name": "A", "role": "frontline",
      "languages": ["en", "f\x00r"]}, "languages.1", 2),
    ({"type": "calendar", "id": "c", "timezone": "UTC", "hours": {"mon": [["09:00", "\x00"]]}},
     "hours.mon.0.1", 1),
])
def test_nul_anywhere_is_refused_naming_the_field(data: dict[str, Any], field: str,
                                                  at: int) -> None:
    assert refused(data) == (field, NUL_AT.format(at))


def test_an_id_with_nul_is_not_carried_to_the_quarantine() -> None:
    with pytest.raises(RecordError) as caught:
        parse_record(interaction(id="i\x001"))
    assert caught.value.record_id is None and caught.value.kind == "interaction"


def test_lone_surrogates_are_refused() -> None:
    assert refused(interaction(subject="a\ud800b")) == (
        "subject", "contains a lone surrogate (U+D800, not a character) at character 2; text "
        "must be valid UTF-8 without NUL characters")
    # a byte that was not UTF-8, as a surrogateescape decoder keeps it
    assert refused(interaction(queue="caf\udce9")) == (
        "queue", "contains the byte 0xE9 (not valid UTF-8) at character 4; text must be valid "
        "UTF-8 without NUL characters")


def test_other_control_characters_and_odd_unicode_are_kept() -> None:
    subject = "tab\tbell\x07esc\x1b[31m del\x7f rtl\u202e bom\ufeff e\u0301 🙂 \uffff"
    record = parse_record(interaction(subject=subject))
    assert record.subject == subject  # type: ignore[attr-defined]


# -- files: the bad rows quarantined, the others imported ----------------------------------------

GOOD = [interaction(id="good-1"), interaction(id="good-2", handle_s=86_400),
        interaction(id="good-3", created_at="1970-01-01T00:00:00Z")]
BAD = [
    (interaction(id="bad-1", created_at="0001-01-01T00:00:00Z"), "created_at",
     f"{TOO_EARLY} (got '0001-01-01T00:00:00Z')"),
    (interaction(id="bad-2", created_at="2099-01-01T00:00:00Z"), "created_at",
     f"{TOO_LATE} (got '2099-01-01T00:00:00Z')"),
    (interaction(id="bad-3", handle_s=1e308), "handle_s", f"{TOO_LONG} (got 1e+308)"),
    (interaction(id="bad-4", talk_s=86_401), "talk_s", f"{TOO_LONG} (got 86401)"),
    (interaction(id="bad-5", subject="a\x00b"), "subject", NUL_AT.format(2)),
    (interaction(id="bad-\x006"), "id", NUL_AT.format(5)),
]


def _mixed_file(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.jsonl"
    lines = [GOOD[0], *(data for data, _, _ in BAD), GOOD[1], GOOD[2]]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def _stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(tables.interactions.c.id)).scalars())


def _quarantine(engine: Engine) -> list[tuple[int, str | None, str | None, str]]:
    q = tables.quarantine
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(  # type: ignore[misc]
            select(q.c.line, q.c.record_id, q.c.field, q.c.reason).order_by(q.c.line))]


def test_a_file_with_implausible_rows_imports_the_others(store: Engine, tmp_path: Path) -> None:
    summary = import_rows(store, read_paths([_mixed_file(tmp_path)]))
    assert summary.inserted["interaction"] == 3 and summary.quarantined == len(BAD)
    assert _stored_ids(store) == ["good-1", "good-2", "good-3"]
    expected = [(line, data["id"] if "\x00" not in data["id"] else None, field, reason)
                for line, (data, field, reason) in enumerate(BAD, start=2)]
    assert _quarantine(store) == expected


def test_the_cli_import_quarantines_them_and_the_store_keeps_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the original failure: one record of 0001-01-01 broke every later import and `kpi`
    monkeypatch.setenv("SERVICEPULSE_CONFIG", str(tmp_path / "servicepulse.toml"))
    (tmp_path / "servicepulse.toml").write_text("max_duration_s = 86400\n")
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    result = runner.invoke(app, [*db, "import", str(_mixed_file(tmp_path)), "--output", "json"])
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["quarantined"] == len(BAD)
    again = runner.invoke(app, [*db, "import", str(_mixed_file(tmp_path)), "--output", "json"])
    assert again.exit_code == 3 and json.loads(again.stdout)["unchanged"] == {"interaction": 3}
    kpi = runner.invoke(app, [*db, "kpi", "--format", "json"])
    assert kpi.exit_code == 0, kpi.output


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_cli_applies_the_configured_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               workers: str) -> None:
    # also in the validation worker processes (forked after the limits are set)
    monkeypatch.setenv("SERVICEPULSE_MAX_DURATION_S", "600")
    path = tmp_path / "long.jsonl"
    path.write_bytes(orjson.dumps(interaction(talk_s=601)) + b"\n"
                     + orjson.dumps(interaction(id="i2", talk_s=600)) + b"\n")
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    result = runner.invoke(app, [*db, "import", str(path), "--workers", workers,
                                 "--output", "json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["inserted"] == {"interaction": 1}
    listed = runner.invoke(app, [*db, "quarantine", "list", "--format", "json"])
    assert json.loads(listed.stdout)[0]["reason"] == (
        "over 600 s, the longest plausible duration; see the setting max_duration_s (got 601)")


def test_bad_plausibility_settings_are_configuration_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEPULSE_PLAUSIBLE_FROM", "2999-01-01")
    with pytest.raises(ConfigError, match=r"plausible_from .* is in the future"):
        load_settings()
    monkeypatch.setenv("SERVICEPULSE_PLAUSIBLE_FROM", "1800-01-01")
    with pytest.raises(ConfigError, match="plausible_from"):
        load_settings()
    monkeypatch.delenv("SERVICEPULSE_PLAUSIBLE_FROM")
    monkeypatch.setenv("SERVICEPULSE_MAX_DURATION_S", "0")
    with pytest.raises(ConfigError, match="max_duration_s"):
        load_settings()


BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_at_the_start_of_a_jsonl_file_is_accepted(store: Engine,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(BOM + b"".join(orjson.dumps(line) + b"\n" for line in GOOD))
    summary = import_rows(store, read_paths([path]))
    assert summary.quarantined == 0 and _stored_ids(store) == ["good-1", "good-2", "good-3"]
    # only at the start: elsewhere it is not JSON
    path.write_bytes(orjson.dumps(GOOD[0]) + b"\n" + BOM + orjson.dumps(GOOD[1]) + b"\n")
    rows = list(read_paths([path]))
    assert rows[0].error is None and rows[1].error is not None


def test_a_byte_order_mark_at_the_start_of_a_csv_file_is_accepted(store: Engine,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_bytes(BOM + b"id,channel,created_at,subject,handle_s\n"
                     b"c1,chat,2026-03-02T09:00:00Z,hello,60\n"
                     b"c2,chat,0001-01-01T00:00:00Z,old,\n"
                     b"c3,email,2026-03-02T10:00:00Z,nul\x00here,\n"
                     b"c4,phone,2026-03-02T11:00:00Z,,86401\n"
                     b"c5,phone,2026-03-02T11:00:00Z,,86400\n")
    summary = import_rows(store, read_paths([path]))
    assert _stored_ids(store) == ["c1", "c5"] and summary.quarantined == 3
    assert _quarantine(store) == [
        (3, "c2", "created_at", f"{TOO_EARLY} (got '0001-01-01T00:00:00Z')"),
        (4, "c3", "subject", NUL_AT.format(4)),
        (5, "c4", "handle_s", f"{TOO_LONG} (got '86401')"),
    ]


# -- the property: hostile values never break the store ----------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates, controls, NUL
    st.text(st.characters(codec="utf-8"), min_size=990, max_size=1010),  # around the limits
    st.sampled_from(["", " ", "\x00", "\ud800", "\udce9", "\u202e", "\ufeff", "e\u0301", "🙂",
                     "\x1b[31m", "\r\n", "\x7f", "\uffff", "\U0010ffff", "'; drop table x;--",
                     "null", "\\u0000", "a" * 201]),
)
HOSTILE_NUMBER = st.one_of(
    st.floats(),  # NaN, infinities, 5e-324, 1e308, -0.0
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 86_400, 86_400.000001, 86_401, 2**31 - 1, 2**31, 2**63, 1e308, 5e-324,
                     -0.0, "12", "1e308", "nan", "inf", "0x10", "", True, None]),
)
HOSTILE_TIME = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([None, UTC])).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z", "1970-01-01",
                     "2036-03-01T23:59:59.999999Z", "2036-03-02", "2099-01-01", "2026-02-30",
                     "20260101", "", "now", 1_700_000_000, 0, None]),
)
TEXT_FIELDS = ("id", "customer_id", "agent_id", "team_id", "queue", "category", "subject",
               "priority", "status", "language")
TIME_FIELDS = ("created_at", "first_response_at", "answered_at", "resolved_at", "abandoned_at")
NUMBER_FIELDS = (*DURATIONS, "reopens", "transfers")


@st.composite
def hostile_interactions(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        data: dict[str, Any] = {"type": "interaction", "id": f"p{index}",
                                "channel": draw(st.sampled_from(["chat", "phone", "email"])),
                                "created_at": "2026-03-02T09:00:00Z"}
        for name in draw(st.sets(st.sampled_from(TEXT_FIELDS + TIME_FIELDS + NUMBER_FIELDS
                                                 + ("escalated", "direction")), max_size=4)):
            if name in TEXT_FIELDS:
                value: Any = draw(HOSTILE_TEXT)
                if name == "id":
                    value = f"p{index}-{value}"  # unique within the batch, hostile after that
            elif name in TIME_FIELDS:
                value = draw(HOSTILE_TIME)
            elif name in NUMBER_FIELDS:
                value = draw(HOSTILE_NUMBER)
            else:
                value = draw(st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER))
            data[name] = value
        records.append(data)
    return records


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _check_stored(engine: Engine, data: dict[str, Any]) -> None:
    """The validated record, exactly as stored: text not truncated or changed, numbers and
    times exact."""
    record = parse_record(data)
    with engine.connect() as connection:
        row = connection.execute(select(tables.interactions).where(
            tables.interactions.c.id == record.id)).mappings().one()
    for name in TEXT_FIELDS:
        if name in data and data[name] is not None:
            assert getattr(record, name) == data[name]  # validation keeps text as given
            assert row[name] == data[name], name  # and so does the store
    for name in TIME_FIELDS:
        assert row[name] == _epoch(getattr(record, name)), name
    for name in NUMBER_FIELDS:
        expected = getattr(record, name)
        assert row[name] == expected and type(row[name]) is type(expected), name
    assert bool(row["escalated"]) == record.escalated  # type: ignore[attr-defined]
    assert row["direction"] == record.direction.value  # type: ignore[attr-defined]
    assert orjson.loads(row["given"])["id"] == record.id


def _property(engine: Engine, records: list[dict[str, Any]]) -> None:
    outcome: dict[str, RecordError | None] = {}
    for data in records:
        try:
            parse_record(data)
            outcome[data["id"]] = None
        except RecordError as error:  # anything else fails the test
            outcome[data["id"]] = error
    rows = [SourceRow("hostile", line, data, "")
            for line, data in enumerate(records, start=1)]
    # never raises; the after-import work (text scores) is not what is tested here, and
    # would cost seconds an example
    summary = Importer(engine).import_rows(rows, after_import=False)
    assert summary.quarantined == sum(error is not None for error in outcome.values())
    quarantined = {line: (field, reason) for line, _, field, reason in _quarantine(engine)}
    for line, data in enumerate(records, start=1):
        error = outcome[data["id"]]
        event("stored" if error is None else f"quarantined: {error.field}")
        if error is None:
            _check_stored(engine, data)
        else:
            field, reason = quarantined[line]
            assert field and reason, data  # a field and a reason, every time
            assert (field, reason) == (error.field, error.reason)
    with engine.begin() as connection:  # the next example starts from an empty store
        for table in (tables.interactions, tables.quarantine):
            connection.execute(table.delete())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=hostile_interactions())
def test_hostile_values_are_imported_exactly_or_quarantined_with_a_reason(
        store: Engine, records: list[dict[str, Any]]) -> None:
    _property(store, records)


def test_quarantine_retry_applies_the_configured_limits(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "later.jsonl"
    later = f"{datetime.now(UTC).year + 15}-01-01T00:00:00Z"  # the CLI's window: real today
    path.write_bytes(orjson.dumps(interaction(created_at=later)) + b"\n")
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert runner.invoke(app, [*db, "import", str(path)]).exit_code == 3
    assert runner.invoke(app, [*db, "quarantine", "retry"]).exit_code == 3  # still implausible
    monkeypatch.setenv("SERVICEPULSE_PLAUSIBLE_YEARS_AHEAD", "20")
    retried = runner.invoke(app, [*db, "quarantine", "retry"])
    assert retried.exit_code == 0 and "1 imported, 0 still quarantined" in retried.stdout

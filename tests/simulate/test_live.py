"""The living demo's simulator: a file that ends now, a feed that releases the rest as its time
comes, and a centre whose agents work inside the occupancy band.

Expected values are computed from the whole-day simulation with plain filters on its records
(what has a time at or before the moment), not with the module under test; the feed is
checked through a real store (SQLite and PostgreSQL), by counting what the importer stored.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

import servicepulse.cli.simulate as simulate_cli
from servicepulse.cli.main import app
from servicepulse.simulate import SimulationConfig, simulate_records, special_agents, write_jsonl
from servicepulse.simulate.live import Feeder, LiveFeed, iso
from servicepulse.store.tables import agent_states, events, interactions, surveys

Record = dict[str, Any]

NOW = datetime(2026, 12, 7, 15, 30, 0, tzinfo=UTC)  # a Monday: New York is at work (10:30)
NOW_TEXT = "2026-12-07T15:30:00Z"
# The centre the CLI simulates by default at NOW: 24 agents, 2 days ending today.
TWO_DAYS = SimulationConfig(agents=24, days=2, seed=1, start=date(2026, 12, 6))
TIME_FIELDS = ("created_at", "answered_at", "first_response_at", "resolved_at", "abandoned_at",
               "at", "submitted_at", "posted_at", "start", "end", "acquired_at", "churned_at")


def _read(path: Path) -> list[Record]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def whole_days() -> list[Record]:
    return list(simulate_records(TWO_DAYS))


def _run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Path:
    monkeypatch.chdir(tmp_path)  # no configuration file: the organisation's zone is UTC
    monkeypatch.setattr(simulate_cli, "current_time", lambda: NOW)
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.jsonl"
    result = CliRunner().invoke(app, ["simulate", "--agents", "24", "--seed", "1",
                                      "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out


def test_simulate_ends_today_up_to_now_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_days: list[Record]
) -> None:
    records = _read(_run_cli(tmp_path, monkeypatch, "--days", "2"))
    full = {(r["type"], r["id"]): r for r in whole_days}
    # Nothing dated after now, except the schedule (shifts are published ahead).
    for record in records:
        if record["type"] != "shift":
            late = [f for f in TIME_FIELDS if str(record.get(f, "")) > NOW_TEXT]
            assert not late, record
    # Exactly what had happened by now, taken from the whole days.
    def happened(r: Record) -> bool:
        field = {"interaction": "created_at", "event": "at", "survey": "submitted_at",
                 "agent_state": "start", "order": "at", "social_post": "posted_at",
                 "social_mention": "at", "customer": "acquired_at",
                 "qa_review": "at"}.get(r["type"])
        return field is None or r[field] <= NOW_TEXT

    expected = Counter(r["type"] for r in whole_days if happened(r))
    assert Counter(r["type"] for r in records) == expected
    assert expected["interaction"] > 300 and expected["agent_state"] > 500  # a working day
    # The last day is today: interactions of today, and contacts in progress show as such.
    assert max(r["created_at"] for r in records if r["type"] == "interaction") > "2026-12-07T15"
    in_progress = 0
    for record in records:
        whole = full[(record["type"], record["id"])]
        if record["type"] == "agent_state":
            still_open = whole["end"] > NOW_TEXT
            assert ("end" not in record) == still_open
            in_progress += still_open
        elif record["type"] == "interaction":
            for name in ("answered_at", "first_response_at", "abandoned_at"):
                assert record.get(name) == (whole.get(name) if whole.get(name, "") <= NOW_TEXT
                                            else None), (name, record, whole)
            if whole.get("resolved_at", "~") <= NOW_TEXT:
                assert record["resolved_at"] == whole["resolved_at"]
            else:  # (resolved before a reopen that is still to come, or open)
                assert record.get("resolved_at", "") <= NOW_TEXT
                assert record["status"] in ("open", "abandoned", "solved")
                assert ("resolved_at" in record) == (record["status"] == "solved")
            if whole.get("talk_s") is not None and "wrap_s" not in record:
                assert record["answered_at"] <= NOW_TEXT  # a call in progress
                assert "talk_s" not in record
    # Each agent at work has exactly one open state (New York's day shift is on).
    at_work = {r["agent_id"] for r in whole_days if r["type"] == "agent_state"
               and r["start"] <= NOW_TEXT < r["end"]}
    assert in_progress == len(at_work) > 5


def test_end_simulates_whole_days_and_the_same_seed_gives_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _run_cli(tmp_path, monkeypatch, "--days", "2", "--end", "2026-12-03")
    again = _run_cli(tmp_path, monkeypatch, "--end", "2026-12-03", "--days", "2")
    assert first.read_bytes() == again.read_bytes()
    library = tmp_path / "library.jsonl"
    write_jsonl(SimulationConfig(agents=24, days=2, seed=1, start=date(2026, 12, 2)), library,
                progress=False)
    assert first.read_bytes() == library.read_bytes()
    shifts = sorted(r["start"][:10] for r in _read(first) if r["type"] == "shift")
    assert shifts[0] == "2026-12-02" and shifts[-1] <= "2026-12-04"  # (Manila is ahead)
    # --start with --end: the days between, both included
    between = _run_cli(tmp_path, monkeypatch, "--start", "2026-12-02", "--end", "2026-12-03")
    assert between.read_bytes() == first.read_bytes()
    runner = CliRunner()
    bad = runner.invoke(app, ["simulate", "--start", "2026-12-03", "--end", "2026-12-02",
                              "--out", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 2 and "before --start" in _plain(bad.output)
    clash = runner.invoke(app, ["simulate", "--start", "2026-12-01", "--end", "2026-12-02",
                                "--days", "5", "--out", str(tmp_path / "x.jsonl")])
    assert clash.exit_code == 2 and "is 2 days, not 5" in _plain(clash.output)


def _plain(output: str) -> str:
    """The text of a usage error without the box drawn around it."""
    return re.sub(r"[│╭╮╰╯─\s]+", " ", output)


def _store_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        def count(query: Any) -> int:
            return int(connection.execute(query).scalar_one())

        return {
            "interaction": count(select(func.count()).select_from(interactions)),
            "event": count(select(func.count()).select_from(events)),
            "survey": count(select(func.count()).select_from(surveys)),
            "agent_state": count(select(func.count()).select_from(agent_states)),
            "open_state": count(select(func.count()).where(agent_states.c.end.is_(None))),
            "answered": count(select(func.count()).where(interactions.c.answered_at.is_not(None))),
        }


def _expected_counts(records: list[Record], moment: str) -> dict[str, int]:
    """What a store holding the centre as of `moment` counts, from the whole-day records."""
    def n(kind: str, test: Any) -> int:
        return sum(1 for r in records if r["type"] == kind and test(r))

    return {
        "interaction": n("interaction", lambda r: r["created_at"] <= moment),
        "event": n("event", lambda r: r["at"] <= moment),
        "survey": n("survey", lambda r: r["submitted_at"] <= moment),
        "agent_state": n("agent_state", lambda r: r["start"] <= moment),
        "open_state": n("agent_state", lambda r: r["start"] <= moment < r["end"]),
        "answered": n("interaction", lambda r: r.get("answered_at", "~") <= moment),
    }


def test_the_feed_imports_what_is_due_and_nothing_later(
    store: Engine, tmp_path: Path, whole_days: list[Record]
) -> None:
    from servicepulse.ingest.importer import Importer
    from servicepulse.ingest.readers import read_paths

    path = tmp_path / "demo.jsonl"
    write_jsonl(TWO_DAYS, path, progress=False, as_of=NOW)
    Importer(store).import_rows(read_paths([path]))
    assert _store_counts(store) == _expected_counts(whole_days, NOW_TEXT)

    feeder = Feeder(LiveFeed(TWO_DAYS, NOW), store)
    later = datetime(2026, 12, 7, 15, 31, 0, tzinfo=UTC)
    first = feeder.tick(later)
    assert _store_counts(store) == _expected_counts(whole_days, "2026-12-07T15:31:00Z")
    # Exactly the records whose view changed in the minute: new ones and updates.
    moved = {(r["type"], r["id"]) for r in whole_days
             if any(NOW_TEXT < str(r.get(f, "")) <= "2026-12-07T15:31:00Z"
                    for f in TIME_FIELDS)}
    assert sum(first.by_kind.values()) >= len(moved) > 0
    second = feeder.tick(datetime(2026, 12, 7, 15, 45, 0, tzinfo=UTC))
    expected = _expected_counts(whole_days, "2026-12-07T15:45:00Z")
    assert _store_counts(store) == expected
    assert expected["interaction"] > _expected_counts(whole_days, "2026-12-07T15:31:00Z")[
        "interaction"]
    assert second.by_kind.get("interaction", 0) > 0
    # A tick with nothing new imports nothing.
    assert feeder.tick(datetime(2026, 12, 7, 15, 45, 0, tzinfo=UTC)).by_kind == {}


def test_the_feed_goes_on_into_the_next_day(tmp_path: Path) -> None:
    """A demo left running past midnight: the feed simulates the next day as it comes."""
    config = SimulationConfig(agents=24, days=3, seed=1, start=date(2026, 12, 6))
    feed = LiveFeed(config, datetime(2026, 12, 7, 23, 50, tzinfo=UTC))
    due = feed.due(datetime(2026, 12, 8, 14, 0, tzinfo=UTC))
    created = [r["created_at"] for r in due if r["type"] == "interaction"]
    assert created and max(created) > "2026-12-08T13" and min(created) <= "2026-12-08"
    whole = list(simulate_records(config))
    expected = {r["id"] for r in whole if r["type"] == "interaction"
                and "2026-12-07T23:50:00Z" < r["created_at"] <= "2026-12-08T14:00:00Z"}
    assert expected <= {r["id"] for r in due if r["type"] == "interaction"}
    assert iso(datetime(2026, 12, 8, 14, 0, tzinfo=UTC)) == feed.fed_until


def test_most_agents_run_inside_the_occupancy_band() -> None:
    """Occupancy (handling + after-call work over that plus available time) per agent over
    two weeks: all but the planted agents near the 75-85% band, and all but two inside it
    (a one-person queue, such as social media, swings with its day's volume)."""
    config = SimulationConfig(agents=24, days=14, seed=1, start=date(2026, 11, 9))
    rows = [r for r in simulate_records(config) if r["type"] == "agent_state"]
    frame = pd.DataFrame(rows)
    frame["seconds"] = (pd.to_datetime(frame["end"]) - pd.to_datetime(frame["start"])
                        ).dt.total_seconds()
    by_state = frame.pivot_table(index="agent_id", columns="state", values="seconds",
                                 aggfunc="sum", fill_value=0.0)
    busy = by_state["handling"] + by_state["after_call_work"]
    occupancy = (busy / (busy + by_state["available"])).round(3)
    planted = special_agents(config)
    assert occupancy[planted["overloaded"]] > 0.9
    others = occupancy.drop(index=list(planted.values()))
    outside = others[(others < 0.75) | (others > 0.85)]
    assert len(others) == 19 and len(outside) <= 2, outside.to_dict()
    assert others.between(0.72, 0.88).all(), others.to_dict()

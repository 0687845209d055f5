"""Who is out of adherence now (the wallboard's list), worked by hand at 12:10 UTC on 2 March.

a1 planned a break 12:00-12:30 and is available since 11:00: out since 12:00 (the plan
changed). a2 plans work and went on a break at 12:05: out since 12:05. a3 is on the break
planned: in adherence. a4 plans work and has no state since 11:50 (logged out without an
offline state): out since 11:50. a5 has no shift now: not on the list, not counted. a6's
meeting ended at 12:00 and she is on a break since 11:30: out since 12:00 (the work began).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from servicepulse.workforce.adherence import out_of_adherence, state_kind
from tests.kpi.helpers import load


def _at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-03-02T{clock}:00+00:00").astimezone(UTC).timestamp()


def _records(tmp_path: Path) -> Path:
    def shift(agent: str, *activities: tuple[str, str, str]) -> str:
        planned = ", ".join(f'{{"kind": "{kind}", "start": "2026-03-02T{start}:00Z", '
                            f'"end": "2026-03-02T{end}:00Z"}}' for kind, start, end in activities)
        return (f'{{"type": "shift", "id": "sh-{agent}", "agent_id": "{agent}", "start": '
                f'"2026-03-02T09:00:00Z", "end": "2026-03-02T17:00:00Z", '
                f'"activities": [{planned}]}}')

    def state(key: str, agent: str, name: str, start: str, end: str | None = None) -> str:
        until = f', "end": "2026-03-02T{end}:00Z"' if end else ""
        return (f'{{"type": "agent_state", "id": "{key}", "agent_id": "{agent}", "state": '
                f'"{name}", "start": "2026-03-02T{start}:00Z"{until}}}')

    lines = ['{"type": "team", "id": "t1", "name": "Floor"}']
    lines += [f'{{"type": "agent", "id": "a{i}", "name": "Agent {i}", "role": "frontline", '
              f'"team_id": "t1"}}' for i in range(1, 7)]
    lines += [
        shift("a1", ("break", "12:00", "12:30")), state("s1", "a1", "available", "11:00"),
        shift("a2"), state("s2a", "a2", "handling", "11:00", "12:05"),
        state("s2b", "a2", "break", "12:05"),
        shift("a3", ("break", "12:00", "12:30")), state("s3", "a3", "break", "12:02"),
        shift("a4"), state("s4", "a4", "available", "09:00", "11:50"),
        state("s5", "a5", "available", "09:00"),
        shift("a6", ("meeting", "11:00", "12:00")), state("s6", "a6", "break", "11:30"),
    ]
    path = tmp_path / "now.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_who_is_out_of_adherence_and_since_when(store: Engine, tmp_path: Path) -> None:
    load(store, _records(tmp_path))
    with store.connect() as connection:
        on_shift, out = out_of_adherence(connection, _at("12:10"))
    assert on_shift == 5
    assert [(o.agent_id, o.planned, o.state, o.since) for o in out] == [
        ("a4", "work", None, _at("11:50")),
        ("a1", "break", "available", _at("12:00")),
        ("a6", "work", "break", _at("12:00")),
        ("a2", "work", "break", _at("12:05")),
    ]
    assert out[0].name == "Agent 4" and out[0].team_id == "t1"
    with store.connect() as connection:
        # at 12:40 a1's break is over and she is available: in adherence again
        assert "a1" not in {o.agent_id for o in out_of_adherence(connection, _at("12:40"))[1]}
        # before the shifts nobody is on shift
        assert out_of_adherence(connection, _at("08:00")) == (0, [])
        # a team lead's teams only
        assert out_of_adherence(connection, _at("12:10"), team_ids=("t2",)) == (0, [])


def test_state_kinds_are_the_kpis() -> None:
    assert [state_kind(s) for s in ("available", "handling", "after_call_work", "break",
                                    "training", "meeting", "offline", None)] == \
        ["work", "work", "work", "break", "training", "meeting", "none", "none"]

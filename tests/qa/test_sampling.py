"""Sampling conversations for review: channel quotas worked out by hand, the draw's
determinism, and assignments stored on a real store (the web tests' small centre)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.qa.assignments import AssignmentError, assign, queue
from servicepulse.qa.sampling import Candidate, channel_quotas, sample_week
from servicepulse.store.database import open_store
from tests.conftest import FIXTURES
from tests.kpi.helpers import BACKENDS, loaded_store

CENTRE = FIXTURES / "web" / "centre.jsonl"
WEEK = date(2026, 11, 4)  # a Wednesday: the week of Monday 2 November


def test_channel_quotas_by_hand() -> None:
    # 5 among phone 10, email 5, chat 1: one each, then the 2 left in proportion to 9 : 4 : 0
    # (1.38 and 0.62): phone 1 by its whole part, email 1 by the larger remainder
    assert channel_quotas({"phone": 10, "email": 5, "chat": 1}, 5) == {
        "chat": 1, "email": 2, "phone": 2}
    # fewer than the channels: the busiest ones
    assert channel_quotas({"phone": 10, "email": 5, "chat": 1}, 2) == {"email": 1, "phone": 1}
    # everything when the agent has no more than asked
    assert channel_quotas({"phone": 2, "chat": 1}, 3) == {"chat": 1, "phone": 2}
    # a tie on the remainder goes to the channel first by name
    assert channel_quotas({"phone": 3, "email": 3}, 3) == {"email": 2, "phone": 1}
    assert sum(channel_quotas({"a": 7, "b": 13, "c": 2, "d": 40}, 10).values()) == 10


def test_sample_is_deterministic_and_per_agent() -> None:
    pool = [Candidate(f"i{n:03}", f"a{n % 3}", ("phone", "email", "chat")[n % 5 % 3])
            for n in range(90)]
    first = sample_week(pool, 4, seed=11, week=date(2026, 11, 2))
    assert first == sample_week(list(reversed(pool)), 4, seed=11, week=date(2026, 11, 2))
    assert sorted({c.agent_id for c in first}) == ["a0", "a1", "a2"]
    assert all(sum(c.agent_id == a for c in first) == 4 for a in ("a0", "a1", "a2"))
    other = sample_week(pool, 4, seed=12, week=date(2026, 11, 2))
    assert other != first  # another seed, another draw
    # each agent worked all three channels: each channel is in each agent's sample
    for agent in ("a0", "a1", "a2"):
        assert {c.channel for c in first if c.agent_id == agent} == {"phone", "email", "chat"}
    with pytest.raises(ValueError, match="per agent"):
        sample_week(pool, 0, seed=1, week=date(2026, 11, 2))


@pytest.fixture(params=BACKENDS)
def centre(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The centre on SQLite and on PostgreSQL (imported once per test process, copied)."""
    with loaded_store(request.param, tmp_path, CENTRE) as engine:
        yield engine


def _import(engine: Engine, tmp_path: Path, *records: dict[str, object]) -> None:
    path = tmp_path / "more.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = import_rows(engine, read_paths([path]))
    assert summary.quarantined == 0, summary.rejected


def test_assign_excludes_the_reviewers_team_and_is_stored(centre: Engine,
                                                           tmp_path: Path) -> None:
    store = centre
    # The week: a1 (team-a) i01, i02 phone, i09 email; a2 (team-a) i05 chat, i06 email;
    # b1 (team-b) i07, i08, i10. Without team-b, 2 each: a1 one phone and i09, a2 both.
    result = assign(store, "rita", WEEK, per_agent=2, seed=7, exclude_teams=["team-b"],
                    assigned_by="manager")
    assert result.week == date(2026, 11, 2)
    assert [(s.agent_id, s.candidates, s.assigned) for s in result.agents] == [
        ("a1", 3, 2), ("a2", 2, 2)]
    ids = [a.interaction_id for a in result.assignments]
    assert len(ids) == 4 and {"i09", "i05", "i06"} <= set(ids)
    assert len({"i01", "i02"} & set(ids)) == 1
    assert [a.id for a in queue(store, "rita")] == [a.id for a in result.assignments]
    # nothing is assigned twice: the next call finds only a1's other phone call
    again = assign(store, "rex", WEEK, per_agent=2, seed=7, exclude_teams=["team-b"])
    assert [a.interaction_id for a in again.assignments] == sorted({"i01", "i02"} - set(ids))
    # a reviewed conversation leaves the queue, and a lead's scope keeps to the team
    _import(store, tmp_path,
            {"type": "qa_form", "id": "f1", "name": "Chats",
             "categories": [{"name": "tone", "weight": 1, "scale_max": 5}]},
            {"type": "qa_review", "id": "rv1", "interaction_id": "i05", "reviewer_id": "rita",
             "form_id": "f1", "at": "2026-11-05T09:00:00Z", "scores": {"tone": 4}})
    assert [a.interaction_id for a in queue(store, "rita")] == [
        i for i in ids if i != "i05"]
    done = [a for a in queue(store, "rita", include_done=True) if a.reviewed]
    assert [a.interaction_id for a in done] == ["i05"]
    lead = assign(store, "lead", WEEK, per_agent=5, seed=1, within_teams=["team-b"])
    assert sorted(a.interaction_id for a in lead.assignments) == ["i07", "i08", "i10"]


def test_same_seed_same_sample_on_another_store(tmp_path: Path) -> None:
    samples = []
    for name in ("one", "two"):
        engine = open_store(f"sqlite:///{tmp_path / name}.db")
        import_rows(engine, read_paths([CENTRE]))
        result = assign(engine, "rita", WEEK, per_agent=1, seed=99)
        samples.append([a.interaction_id for a in result.assignments])
        engine.dispose()
    assert samples[0] == samples[1] and len(samples[0]) == 3  # one per agent


def test_assign_refuses_a_silly_number(sqlite_store: Engine) -> None:
    with pytest.raises(AssignmentError, match="outside 1 to 100"):
        assign(sqlite_store, "rita", WEEK, per_agent=0, seed=1)

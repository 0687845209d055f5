"""Simulated QA reviews: on handled contacts only, after the work, scored against their form,
a realistic share reviewed, calibration by several reviewers, and the busy-but-not-effective
agent clearly below everyone else (computed from the records alone)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from servicepulse.records.qa import review_iqs, score_problem
from servicepulse.simulate import SimulationConfig, simulate_records, special_agents

CONFIG = SimulationConfig(agents=24, days=10, seed=3)
Record = dict[str, Any]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return list(simulate_records(CONFIG))


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_reviews_fit_their_forms_and_follow_handled_contacts(records: list[Record]) -> None:
    forms = {r["id"]: r for r in records if r["type"] == "qa_form"}
    assert set(forms) == {"qa-conversation", "qa-technical"}
    interactions = {r["id"]: r for r in records if r["type"] == "interaction"}
    agents = {r["id"]: r for r in records if r["type"] == "agent"}
    reviews = [r for r in records if r["type"] == "qa_review"]
    handled = [i for i in interactions.values()
               if i.get("agent_id") and i.get("status") != "abandoned"]
    regular = [r for r in reviews if not r.get("calibration")]
    # about 5% of handled contacts (those closed late in the run are not yet reviewed)
    assert 0.03 * len(handled) < len(regular) < 0.06 * len(handled)
    for review in reviews:
        contact = interactions[review["interaction_id"]]
        assert contact.get("agent_id") and contact.get("status") != "abandoned"
        assert ts(review["at"]) > ts(contact["created_at"])
        form = forms[review["form_id"]]
        assert score_problem(form["id"], form["categories"], review["scores"]) is None
        technical = agents[contact["agent_id"]]["role"] == "technical_support"
        assert review["form_id"] == ("qa-technical" if technical else "qa-conversation")
        assert review["reviewer_id"] != contact["agent_id"]


def test_calibration_sessions_have_three_reviewers(records: list[Record]) -> None:
    sessions: dict[str, set[str]] = defaultdict(set)
    for review in records:
        if review["type"] == "qa_review" and review.get("calibration"):
            sessions[review["interaction_id"]].add(review["reviewer_id"])
    assert len(sessions) >= 5
    assert {len(reviewers) for reviewers in sessions.values()} == {3}


def test_the_busy_not_effective_agent_has_the_lowest_iqs(records: list[Record]) -> None:
    forms = {r["id"]: r["categories"] for r in records if r["type"] == "qa_form"}
    agent_of = {r["id"]: r.get("agent_id") for r in records if r["type"] == "interaction"}
    iqs: dict[str, list[float]] = defaultdict(list)
    for review in records:
        if review["type"] == "qa_review" and not review.get("calibration"):
            iqs[agent_of[review["interaction_id"]]].append(
                review_iqs(forms[review["form_id"]], review["scores"]))
    means = {agent: statistics.mean(values) for agent, values in iqs.items()
             if len(values) >= 5}
    planted = special_agents(CONFIG)["busy_not_effective"]
    others = [value for agent, value in means.items() if agent != planted]
    assert means[planted] < min(others) - 10
    assert statistics.median(others) > 80  # most agents near or above the target 85

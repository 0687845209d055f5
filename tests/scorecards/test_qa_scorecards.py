"""The internal quality score on scorecards, in the busy_not_effective flag and in coaching
reports, on the hand-computed team with QA reviews added (figures worked out by hand).

The team is tests/fixtures/scorecards/team.json with A2's customers as content as A1's
(CSAT 36/40, 4 reopened, no repeat pairs), so only QA reviews can tell A2 apart. Form
"call" scores accuracy (weight 2, 0-4) and tone (weight 1, 0-4). Every frontline agent has
12 reviews on 2026-03-03: A1, A3, A4, A5 ten with accuracy 4, tone 4 (IQS 100) and two with
3, 3 (75); A2 ten with accuracy 1, tone 4 ((2·25 + 100) / 3 = 50) and two with 2, 3
((2·50 + 75) / 3 = 58.33). The minimum sample is 10.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.attainment import SCORE_CAP
from servicepulse.scorecards.coaching import coaching_data, render_html
from servicepulse.scorecards.scorecard import Context, build_scorecards, gather
from servicepulse.store.database import open_store
from tests.scorecards.builders import FIXTURES, load, team_records

SETTINGS = Settings(minimum_sample=10)
FORM = {"type": "qa_form", "id": "call", "name": "Call quality", "categories": [
    {"name": "accuracy", "weight": 2, "scale_max": 4},
    {"name": "tone", "weight": 1, "scale_max": 4}]}


def _reviews(agent: str, good: tuple[int, int], fair: tuple[int, int]) -> list[dict[str, Any]]:
    reviews = []
    for index in range(12):
        accuracy, tone = good if index < 10 else fair
        reviews.append({
            "type": "qa_review", "id": f"R-{agent}-{index}", "interaction_id": f"I-{agent}-{index}",
            "reviewer_id": "L1", "form_id": "call", "at": f"2026-03-03T12:{index:02d}:00Z",
            "scores": {"accuracy": accuracy, "tone": tone},
            **({"comment": f"Quoted the wrong plan ({agent} #{index})"} if index == 3 else {})})
    return reviews


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Context]]:
    folder = tmp_path_factory.mktemp("qa-team")
    spec = json.loads((FIXTURES / "team.json").read_text())
    for agent in spec["agents"]:
        if agent["id"] == "A2":
            agent.update(csat_top=36, csat_low=4, reopened=4, repeat_pairs=0)
    (folder / "team.json").write_text(json.dumps(spec))
    records = [*team_records(folder / "team.json"), FORM]
    for agent in ("A1", "A3", "A4", "A5"):
        records += _reviews(agent, (4, 4), (3, 3))
    records += _reviews("A2", (1, 4), (2, 3))
    engine = open_store(f"sqlite:///{folder / 'store.db'}")
    load(engine, records)
    yield engine, gather(engine, team="T1", settings=SETTINGS)
    engine.dispose()


def _card(document: dict[str, Any], agent: str) -> dict[str, Any]:
    return next(card for card in document["agents"] if card["agent"] == agent)


def test_iqs_is_scored_against_85_in_the_balanced_score(reviewed: tuple[Engine, Context]
                                                         ) -> None:
    engine, context = reviewed
    card = _card(build_scorecards(engine, team="T1", context=context), "A1")
    iqs = card["kpis"]["iqs"]
    # (10·100 + 2·75) / 12 = 95.833; attainment 95.833 / 85
    assert (iqs["value"], iqs["n"], iqs["target"]) == (95.8333, 12, "≥ 85")
    assert (iqs["attainment"], iqs["status"], iqs["weight"]) == (1.1275, "meets", 1.0)
    assert iqs["label"] == "IQS (internal quality score)"
    others = [(entry["weight"], entry["attainment"]) for name, entry in card["kpis"].items()
              if name != "iqs" and entry["status"] in ("meets", "near", "misses")
              and entry["weight"] > 0]
    total = sum(weight for weight, _ in others) + 1.0
    credited = sum(weight * min(att, SCORE_CAP) for weight, att in others) + 1.1275
    assert card["balanced_score"] == round(100 * credited / (SCORE_CAP * total), 1)


def test_busy_agent_with_poor_reviews_is_flagged_on_iqs_alone(
        reviewed: tuple[Engine, Context]) -> None:
    engine, context = reviewed
    card = _card(build_scorecards(engine, team="T1", context=context), "A2")
    # (10·50 + 2·58.333) / 12 = 51.389 against the peers' median 95.833
    assert card["kpis"]["iqs"]["value"] == 51.3889
    assert card["kpis"]["iqs"]["status"] == "misses"  # 51.389 / 85 = 0.605
    flags = {flag["flag"]: flag["evidence"] for flag in card["flags"]}
    assert "busy_not_effective" in flags
    evidence = flags["busy_not_effective"]
    assert "IQS 51.4% against a peer median of 95.8%" in evidence
    assert "CSAT" not in evidence and "FCR" not in evidence


def test_coaching_names_the_category_that_pulls_the_agent_down(
        reviewed: tuple[Engine, Context]) -> None:
    engine, context = reviewed
    data = coaching_data(engine, "A2", context=context)
    # accuracy: A2 (10·25 + 2·50) / 12 = 29.17 against the team's (4·(10·100 + 2·75) + 350)
    # / 60 = 82.5; tone: A2 95.83, the team 95.83: not below
    assert [(q["category"], q["value"], q["team_value"], q["n"]) for q in data["quality"]] == [
        ("accuracy", 29.1667, 82.5, 12)]
    examples = data["quality"][0]["examples"]
    # the lowest accuracy (1 of 4 = 25%), the one with a comment first
    assert [(e["review"], e["score"], e["percent"]) for e in examples] == [
        ("R-A2-3", 1.0, 25.0), ("R-A2-9", 1.0, 25.0)]
    assert examples[0]["comment"] == "Quoted the wrong plan (A2 #3)"
    focus = " ".join(data["focus"])
    assert "mostly on accuracy (29.2% against the team's 82.5% over 12 reviews)" in focus
    html = render_html(data)
    assert "Quality reviews: categories below the team" in html
    assert "Quoted the wrong plan (A2 #3)" in html
    # A1 is above the team on both categories: nothing pulls them down
    assert coaching_data(engine, "A1", context=context)["quality"] == []

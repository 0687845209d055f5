"""Points, badges and the leaderboard: an agent with 12 survey answers is never ranked; ties
where a difference is not significant."""

from __future__ import annotations

from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.kpi.targets import resolve_targets
from servicepulse.scorecards.gamification import (
    build_leaderboard,
    fcr_streak,
    points,
    rank,
)
from servicepulse.scorecards.scorecard import Context


def _row(agent: str, score: float, se: float) -> dict:
    return {"agent": agent, "balanced_score": score, "balanced_score_se": se}


def test_ranks_tie_when_not_significant() -> None:
    rows = rank([_row("c", 80.0, 1.0), _row("a", 90.0, 1.0), _row("b", 88.0, 1.0),
                 _row("d", 70.0, 0.5)])
    # a − b = 2 < 1.96 × √2 = 2.77: tied at 1; a − c = 10: c starts rank 3; c − d = 10 > 2.19
    assert [(r["agent"], r["rank"], r["tied"]) for r in rows] == [
        ("a", 1, True), ("b", 1, True), ("c", 3, False), ("d", 4, False)]
    # with no error at all any difference counts
    assert [r["rank"] for r in rank([_row("a", 90.0, 0.0), _row("b", 89.9, 0.0)])] == [1, 2]


def test_points_for_targets_stretch_and_improvement() -> None:
    targets = resolve_targets(Settings())
    card = {"balanced_score": 90.0, "kpis": {
        "csat": {"status": "meets", "value": 85.0, "weight": 1.0},
        "fcr": {"status": "meets", "value": 82.0, "weight": 1.0},  # over the stretch 80
        "aht": {"status": "misses", "value": 500.0, "weight": 1.0},
        "reach": {"status": "meets", "value": 1e6, "weight": 0.0},  # volume never earns
    }}
    # 10 + 10 + 5 (stretch) + round(90 − 84.4) = 6
    total, detail = points(card, 84.4, targets)
    assert total == 31
    assert detail[-1] == "balanced score up 5.6 +6"
    assert points(card, 95.0, targets)[0] == 25  # a fall costs nothing


def test_fcr_streak_skips_idle_days() -> None:
    trend = [{"period": f"d{i}", "value": value, "n": n} for i, (value, n) in enumerate(
        [(75, 20), (71, 12), (None, 0), (72, 15), (90, 11), (80, 30), (60, 40), (99, 5)])]
    # d0, d1, (d2 idle), d3, d4, d5 = 5 in a row; d6 misses; d7 has too few (5 < 10)
    assert fcr_streak(trend, 70.0) == (5, "d0", "d5")


def test_leaderboard_ranks_only_agents_with_enough_data(team_store: Engine,
                                                        team_context: Context) -> None:
    board = build_leaderboard(team_store, contexts=[team_context])
    ranked = {row["agent"]: row for row in board["ranked"]}
    unranked = {row["agent"]: row["reason"] for row in board["unranked"]}
    # A5 has 12 CSAT answers: never ranked, whatever its score (100)
    assert "A5" not in ranked
    assert unranked["A5"] == "too few to judge: Customer satisfaction from 12 (minimum 30)"
    assert unranked["L1"] == "leads are not ranked with their agents"
    assert set(ranked) == {"A1", "A2", "A3", "A4"}
    # A1 100.0 and A3 99.2 are within noise of each other: tied at 1. A2 (74.1) is last.
    assert (ranked["A1"]["rank"], ranked["A3"]["rank"]) == (1, 1)
    assert ranked["A1"]["tied"] and ranked["A3"]["tied"]
    assert (ranked["A2"]["rank"], ranked["A2"]["tied"]) == (4, False)
    # A1 meets CSAT, FCR, AHT, first response: 4 × 10, and FCR 90 ≥ stretch 80: +5. No data
    # before the fixture's period, so no improvement points.
    assert ranked["A1"]["points"] == 45
    assert {b["badge"] for b in ranked["A1"]["badges"]} == {"quality_first", "csat_90"}
    assert ranked["A2"]["points"] == 10  # first response only
    assert ranked["A2"]["badges"] == []

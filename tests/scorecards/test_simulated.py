"""On simulated data (24 agents × 7 days) the simulator's planted agents are flagged: the
busy-but-not-effective one `busy_not_effective`, the overloaded one `burnout_risk`."""

from __future__ import annotations

from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.scorecards.scorecard import build_scorecards, load_members


def test_planted_agents_are_flagged(simulated: tuple[Engine, dict[str, str]]) -> None:
    engine, planted = simulated
    busy, overloaded = planted["busy_not_effective"], planted["overloaded"]
    members = load_members(engine)
    flags: dict[str, dict[str, str]] = {}
    for team in sorted({members[busy].team, members[overloaded].team}, key=str):
        document = build_scorecards(engine, team=team, settings=Settings())
        flags |= {card["agent"]: {f["flag"]: f["evidence"] for f in card["flags"]}
                  for card in document["agents"]}
    assert flags[busy]["busy_not_effective"].startswith("handled ")
    assert "burnout_risk" in flags[overloaded]
    assert "busy_not_effective" not in flags[overloaded]
    # nobody else in those teams is busy-but-not-effective or burning out
    assert [agent for agent, found in flags.items() if "busy_not_effective" in found] == [busy]
    assert [agent for agent, found in flags.items() if "burnout_risk" in found] == [overloaded]

"""On simulated data (24 agents × 7 days, seed 1) the simulator's planted agents are flagged:
the busy-but-not-effective one `busy_not_effective`, the overloaded one `burnout_risk`; and
flags discriminate: nobody else is busy-but-not-effective, an occupancy flag goes only to an
agent whose occupancy is out of the band over the period and on most days, and at most a
quarter of a team's agents carry a flag about how they work (`low_sample` is about the data).
"""

from __future__ import annotations

from sqlalchemy import Engine

from servicepulse.config import Settings
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.scorecards.scorecard import LEAD_ROLES, build_scorecards, load_members

BEHAVIOUR = {"busy_not_effective", "rushing", "burnout_risk", "underused"}


def test_planted_agents_are_flagged_and_few_others(
        simulated: tuple[Engine, dict[str, str]]) -> None:
    engine, planted = simulated
    busy, overloaded = planted["busy_not_effective"], planted["overloaded"]
    members = load_members(engine)
    settings = Settings()
    flags: dict[str, dict[str, str]] = {}
    teams = sorted({m.team for m in members.values() if m.team and m.active})
    for team in teams:
        document = build_scorecards(engine, team=team, settings=settings)
        cards = {card["agent"]: {f["flag"]: f["evidence"] for f in card["flags"]}
                 for card in document["agents"]}
        flags |= cards
        individuals = [a for a in cards if members[a].role not in LEAD_ROLES]
        flagged = [a for a in individuals if BEHAVIOUR & set(cards[a])]
        assert len(flagged) <= len(individuals) / 4, (team, {a: sorted(cards[a])
                                                             for a in flagged})
    assert flags[busy]["busy_not_effective"].startswith("handled ")
    assert "burnout_risk" in flags[overloaded]
    assert "busy_not_effective" not in flags[overloaded]
    assert [agent for agent, found in flags.items() if "busy_not_effective" in found] == [busy]
    # every occupancy flag is out of the band over the period, on the flag's side, checked
    # against the engine's own per-agent occupancy for the same days
    occupancy = run_kpi_query(engine, KpiQuery(by=["agent"], kpis=["occupancy"]), settings)
    period = {row["group"]["agent"]: row["kpis"]["occupancy"]["value"]
              for row in occupancy["rows"]}
    for agent, found in flags.items():
        if "burnout_risk" in found:
            assert period[agent] > 85, (agent, period[agent])
        if "underused" in found:
            assert period[agent] < 75, (agent, period[agent])
    # and an agent in the band carries no occupancy flag
    in_band = [a for a, value in period.items() if value is not None and 75 <= value <= 85
               and a in flags]
    assert in_band and not any({"burnout_risk", "underused"} & set(flags[a]) for a in in_band)

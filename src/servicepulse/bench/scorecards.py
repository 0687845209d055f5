"""`servicepulse bench scorecards`: how long a team's scorecards, a coaching report's data and
an alert check take on a simulated centre, against the baseline of the one plain KPI query
(every KPI by agent for the team) that a KPI table would run, in the same process."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from servicepulse.bench.report import machine_line, median, time_runs, write_section


def run_bench(agents: int = 24, days: int = 14, repeats: int = 3,
              write: bool = True) -> dict[str, Any]:
    from servicepulse.config import Settings
    from servicepulse.ingest.importer import import_rows
    from servicepulse.ingest.sources import SourceRow
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery
    from servicepulse.scorecards.alerts import AlertRule, check_rules
    from servicepulse.scorecards.coaching import coaching_data
    from servicepulse.scorecards.scorecard import build_scorecards, gather, load_members
    from servicepulse.simulate import SimulationConfig, simulate_records, special_agents
    from servicepulse.store import open_store

    config = SimulationConfig(agents=agents, days=days, seed=1)
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        engine = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        import_rows(engine, (SourceRow("bench", index, record, "")
                             for index, record in enumerate(simulate_records(config))))
        busy = special_agents(config)["busy_not_effective"]
        team = load_members(engine)[busy].team
        members = sorted(m.id for m in load_members(engine).values() if m.team == team)
        baseline = time_runs(lambda: run_kpi_query(engine, KpiQuery(
            by=["agent"], filters={"agent": members}), settings), repeats)
        scorecards = time_runs(lambda: build_scorecards(engine, team=team, settings=settings),
                               repeats)
        context = gather(engine, team=team, settings=settings)
        coaching = time_runs(lambda: coaching_data(engine, busy, context=context), repeats)
        rule = AlertRule("bench", "csat", scope=f"team:{team}", per_agent=True)
        alerts = time_runs(lambda: check_rules(engine, settings, [rule], deliver=False),
                           repeats)
        engine.dispose()
    figures = {"baseline": median(baseline), "scorecards": median(scorecards),
               "coaching": median(coaching), "alert_check": median(alerts)}
    base = figures["baseline"]
    lines = [
        f"Simulated centre: {agents} agents × {days} days, team {team} ({len(members)} "
        f"people); SQLite; {machine_line()}; median of {repeats} runs.",
        "",
        "| what | median s | × baseline |",
        "|---|---|---|",
        f"| baseline: every KPI by agent for the team (one engine call) | {base:.2f} | 1.00 |",
        f"| team scorecards (5 engine calls: KPIs, per channel, trend, team, org) | "
        f"{figures['scorecards']:.2f} | {figures['scorecards'] / base:.2f} |",
        f"| coaching data of one agent, team gathered (gaps by channel and category, "
        f"examples, charts) | {figures['coaching']:.2f} | {figures['coaching'] / base:.2f} |",
        f"| alert check, CSAT per agent of the team | {figures['alert_check']:.2f} | "
        f"{figures['alert_check'] / base:.2f} |",
    ]
    if write:
        write_section("scorecards", "## Scorecards\n\n" + "\n".join(lines))
    return figures

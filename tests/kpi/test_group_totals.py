"""Group totals from one pass by agent (`kpi.engine.run_with_group_totals`): each group's
figures are those of a query filtered to its agents, without `by`, made from the agents'
sums (and a rank query for the medians). Checked against that query run on its own (the
independent method), on SQLite and PostgreSQL, and by hand on the week fixture."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from servicepulse.kpi.engine import AgentGroup, run_kpi_query, run_with_group_totals
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import WEEK, load

WEEK_QUERY = {"from": "2026-03-02", "to": "2026-03-09"}
KPIS = ["contacts", "frt", "asa", "aht", "fcr", "repeat_contact_rate", "resolution_rate",
        "ttr", "transfer_rate", "abandon_rate", "service_level", "csat", "nps", "occupancy",
        "utilization", "backlog"]
AGENTS = ["(none)", "a1", "a2", "a3"]
GROUPS = {"pair": AgentGroup(["a1", "a2"], KPIS), "one": AgentGroup(["a3"], ["contacts", "aht"]),
          "unassigned": AgentGroup(["(none)", "a1"], ["contacts", "frt", "abandon_rate"])}


def _by_agent(**extra: object) -> KpiQuery:
    return KpiQuery.model_validate({**WEEK_QUERY, "by": ["agent"], "kpis": KPIS,
                                    "filters": {"agent": AGENTS}, **extra})


def test_each_group_is_its_agents_query_without_by(store: Engine) -> None:
    load(store, WEEK)
    for period in ("all", "day"):
        result, totals = run_with_group_totals(store, _by_agent(period=period), GROUPS,
                                               KpiSettings())
        assert result.to_json() == run_kpi_query(store, _by_agent(period=period),
                                                 KpiSettings()).to_json()
        for name, group in GROUPS.items():
            alone = run_kpi_query(store, KpiQuery.model_validate({
                **WEEK_QUERY, "period": period, "kpis": group.kpis,
                "filters": {"agent": group.agents}}), KpiSettings())
            assert totals[name].to_json() == alone.to_json(), (period, name)


def test_a_pairs_figures_by_hand(store: Engine) -> None:
    load(store, WEEK)
    _result, totals = run_with_group_totals(store, _by_agent(), GROUPS, KpiSettings())
    pair = totals["pair"].totals()
    # contacts: a1 i1 i4, a2 i2 i9 i11 → 5; first responses a1 15 s, 70 s, a2 3600 s,
    # 7200 s → median (70 + 3600) / 2 = 1835 (a rank query over the pair's contacts)
    assert pair.figure("contacts").value == 5
    assert (pair.figure("frt").value, pair.figure("frt").n) == (1835.0, 4)
    # csat: a1's s1 satisfied, a2's s2 not → 1 of 2
    assert (pair.figure("csat").value, pair.figure("csat").n) == (50.0, 2)


def test_groups_must_be_within_the_query(store: Engine) -> None:
    load(store, WEEK)
    with pytest.raises(ValueError, match="among the query's"):
        run_with_group_totals(store, _by_agent(filters={"agent": ["a1"]}),
                              {"pair": AgentGroup(["a1", "a2"], ["contacts"])})
    with pytest.raises(ValueError, match="among the query's"):
        run_with_group_totals(store, _by_agent(kpis=["contacts"]),
                              {"one": AgentGroup(["a1"], ["aht"])})
    with pytest.raises(ValueError, match="by agent"):
        run_with_group_totals(store, KpiQuery.model_validate(
            {**WEEK_QUERY, "filters": {"agent": ["a1"]}}), {})

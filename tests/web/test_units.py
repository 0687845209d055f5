"""Small pieces checked by hand: formatting, targets, documents merged by group, sparklines,
access filters, the result cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from servicepulse.kpi.results import KpiResult
from servicepulse.kpi.settings import KpiSettings
from servicepulse.kpi.targets import resolve_targets
from servicepulse.web.access import Access, Forbidden
from servicepulse.web.cache import ResultCache
from servicepulse.web.kpi import format_value, merge_results, target_status, target_text
from servicepulse.web.templating import sparkline


def test_formatting_and_targets() -> None:
    assert format_value("csat", 74.8123) == "74.8%"
    assert format_value("frt", 246.0) == "4.1 min"  # 246 s / 60 = 4.1 min
    assert format_value("ttr", 7260.0) == "2.0 h"  # 7,260 s / 3,600 = 2.02 h
    assert format_value("nps", 11.0) == "+11"
    assert format_value("contacts", 10102.0) == "10,102"
    assert format_value("csat", None) == "–"
    defaults = resolve_targets(KpiSettings())
    assert target_status("csat", 80.0, defaults) == "met"
    assert target_status("csat", 79.9, defaults) == "missed"
    assert target_status("abandon_rate", 5.0, defaults) == "met"
    assert target_status("abandon_rate", 5.1, defaults) == "missed"
    assert target_status("occupancy", 86.0, defaults) == "missed"  # band 75-85: burnout side
    assert target_status("occupancy", 74.0, defaults) == "missed"  # under-use side
    assert target_status("occupancy", 80.0, defaults) == "met"
    assert target_status("aht", 300.0, defaults) is None  # judged against the team median
    assert target_status("frt", 30.0, defaults) is None  # judged per channel
    assert target_status("csat", 95.0, None) is None  # no targets given: no judgement
    assert target_text("nps", defaults) == "target ≥ +50"
    assert target_text("occupancy", defaults) == "target 75–85%"
    assert target_text("ttr", defaults) == "target ≤ 1.0 d"  # 86,400 s
    assert target_text("contacts", defaults) is None  # shown, never judged


def test_configured_targets_and_profile_move_the_target_line() -> None:
    """[targets] csat = 85 and the telecom profile (FCR 80) are the dashboards' lines."""
    settings = KpiSettings(targets={"csat": 85, "occupancy": {"low": 70, "high": 90}},
                           industry_profile="telecom")
    targets = resolve_targets(settings)
    assert target_text("csat", targets) == "target ≥ 85%"
    assert target_status("csat", 84.9, targets) == "missed"  # met against the default 80
    assert target_text("fcr", targets) == "target ≥ 80%"  # telecom's, not the default 70
    assert target_status("fcr", 75.0, targets) == "missed"
    assert target_text("occupancy", targets) == "target 70–90%"
    assert target_status("occupancy", 88.0, targets) == "met"


def test_merge_results_joins_rows_by_group() -> None:
    def result(rows: list[dict[str, Any]]) -> KpiResult:
        return KpiResult.from_json({"from": "2026-11-02", "to": "2026-11-09", "by": ["agent"],
                                    "rows": rows})

    rollup = result([
        {"group": {"agent": "b"}, "kpis": {"csat": {"value": 50}}, "partial": False},
        {"group": {"agent": "a"}, "kpis": {"csat": {"value": 90}}, "partial": True}])
    exact = result([
        {"group": {"agent": "a"}, "kpis": {"occupancy": {"value": 80}}, "partial": False},
        {"group": {"agent": None}, "kpis": {"occupancy": {"value": 10}}}])
    merged = merge_results(rollup, exact)
    assert [row.to_json() for row in merged.rows] == [
        {"group": {"agent": None}, "kpis": {"occupancy": {"value": 10}}},
        {"group": {"agent": "a"}, "kpis": {"csat": {"value": 90}, "occupancy": {"value": 80}},
         "partial": True},  # partial in either
        {"group": {"agent": "b"}, "kpis": {"csat": {"value": 50}}, "partial": False}]
    assert (merged.from_, merged.by) == (rollup.from_, ["agent"])


def test_sparkline_scales_to_the_box() -> None:
    svg = str(sparkline([1.0, None, 3.0], width=24, height=10))
    # x step (24 - 4) / 2 = 10; y: low 1 -> 10 - 3 = 7, high 3 -> 10 - 3 - 4 = 3
    assert 'points="2.0,7.0 22.0,3.0"' in svg
    assert "<polyline" not in str(sparkline([None, 2.0]))  # one point draws no line


def test_access_filters() -> None:
    agent = Access(agent_ids=("a1",))
    assert agent.kpi_filters({"channel": ["chat"]}) == {"channel": ["chat"], "agent": ["a1"]}
    assert agent.kpi_filters({"agent": ["a1"]}) == {"agent": ["a1"]}
    with pytest.raises(Forbidden):
        agent.kpi_filters({"agent": ["a1", "a2"]})
    lead = Access(team_ids=("t1", "t2"))
    assert lead.kpi_filters({"team": ["t2"]}) == {"team": ["t2"]}
    with pytest.raises(Forbidden):
        lead.check_team("t3")
    assert Access().kpi_filters({}) == {}


def test_cache_computes_once_and_serves_stale_while_refreshing() -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    async def scenario() -> list[int]:
        cache = ResultCache(ttl=60)
        together = await asyncio.gather(*(cache.get("k", 1, compute) for _ in range(20)))
        assert together == [1] * 20 and len(calls) == 1  # one computation for 20 callers
        stale = await cache.get("k", 2, compute)  # data changed: old value at once ...
        await asyncio.sleep(0.2)
        fresh = await cache.get("k", 2, compute)  # ... and the refreshed one next time
        exact = ResultCache(serve_stale=False)
        first = await exact.get("k", 1, compute)
        second = await exact.get("k", 2, compute)
        return [stale, fresh, first, second]

    assert asyncio.run(scenario()) == [1, 2, 3, 4]

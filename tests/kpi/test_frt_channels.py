"""First response judged per channel: `frt_within_target` and each channel's FRT beside it.

The fixture tests/fixtures/kpi/frt_channels.jsonl is one day (2026-03-02, UTC) of first
responses on five channels; the numbers below are worked out by hand from it. Default targets
(DESIGN.md §4): phone 20 s, chat 60 s, email 24 h, social 1 h; sms none.

  a1 phone p1 10 s (in), p2 30 s (out); p3 abandoned unanswered: no first response
  a1 chat  c1 45 s (in), c2 90 s (out), c3 60 s (in: ≤), c4 50 s (in)
  a2 email e1 2 h (in), e2 30 h (out), e3 24 h (in: ≤); e4 outbound, e5 unanswered: neither
  a2 social s1 30 min (in), s2 90 min (out)
  a3 sms   m1 10 min, m2 20 min (no target: in FRT, not judged)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from servicepulse.kpi.definitions import FRT_CHANNELS, KPIS
from servicepulse.kpi.display import frt_by_channel, kpi_details
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from servicepulse.records.models import Channel
from tests.kpi.helpers import KPI_FIXTURES, kpis, load, rows_by_group
from tests.web.module_stores import BACKENDS, module_store

DAY: dict[str, Any] = {"from": "2026-03-02", "to": "2026-03-03"}


@pytest.fixture(scope="module", params=BACKENDS)
def day(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The fixture loaded once a module, on SQLite and on PostgreSQL (the tests only read)."""
    with module_store(request.param, tmp_path_factory) as engine:
        load(engine, KPI_FIXTURES / "frt_channels.jsonl")
        yield engine


def _channel(result: dict[str, Any], channel: str) -> tuple[Any, ...]:
    figures = result[channel]
    return (figures["value"], figures["mean"], figures["n"],
            result[f"{channel}_within_target"])


def test_share_within_each_channels_target(day: Engine) -> None:
    result = kpis(day, kpis=["frt_within_target", "frt"], **DAY)
    within = result["frt_within_target"]
    # judged: phone 2 + chat 4 + email 3 + social 2 = 11; within: p1 c1 c3 c4 e1 e3 s1 = 7
    assert (within["value"], within["n"]) == (63.6364, 11)
    assert within["low_sample"] is True  # 11 < 30
    # per channel: (median, mean, n, share within target)
    assert _channel(within, "phone") == (20.0, 20.0, 2, 50.0)  # 10, 30
    assert _channel(within, "chat") == (55.0, 61.25, 4, 75.0)  # 45 50 60 90: 245/4
    assert _channel(within, "email") == (86_400.0, 67_200.0, 3, 66.6667)  # 201,600/3
    assert _channel(within, "social") == (3600.0, 3600.0, 2, 50.0)  # 1800, 5400
    assert _channel(within, "sms") == (900.0, 900.0, 2, None)  # no target: no share
    assert _channel(within, "web") == (None, None, 0, None)
    # frt keeps its contract: the median of all 13 first responses (sorted, the 7th is m1's
    # 600 s: an sms reply stands for the whole centre, which is why pages do not show it)
    frt = result["frt"]
    assert (frt["value"], frt["n"], frt["within_target"]) == (600.0, 13, 63.6364)


def test_by_agent_each_agent_against_their_own_channels(day: Engine) -> None:
    document = run_kpi_query(day, KpiQuery.model_validate(
        {**DAY, "by": ["agent"], "kpis": ["frt_within_target"]}), KpiSettings())
    rows = {key: value["frt_within_target"] for key, value in rows_by_group(document).items()}
    assert sorted(rows, key=str) == [("a1",), ("a2",), ("a3",), (None,)]
    # a1: p1 c1 c3 c4 of 6; a2: e1 e3 s1 of 5; a3: only sms, which has no target
    assert (rows[("a1",)]["value"], rows[("a1",)]["n"]) == (66.6667, 6)
    assert (rows[("a2",)]["value"], rows[("a2",)]["n"]) == (60.0, 5)
    assert (rows[("a3",)]["value"], rows[("a3",)]["n"]) == (None, 0)
    figures = {agent: row.figure("frt_within_target")
               for agent, row in document.by_group("agent").items()}
    assert kpi_details("frt_within_target", figures["a1"]) == [
        "phone 20 s (50.0%)", "chat 55 s (75.0%)"]
    assert kpi_details("frt_within_target", figures["a2"]) == [
        "email 1.0 d (66.7%)", "social 1.0 h (50.0%)"]
    assert kpi_details("frt_within_target", figures["a3"]) == ["sms 15.0 min"]  # alone: median


def test_a_target_set_for_a_channel_takes_it_into_the_share(day: Engine) -> None:
    settings = KpiSettings(frt_targets={**KpiSettings().frt_targets, "sms": 900.0})
    document = run_kpi_query(day, KpiQuery.model_validate(
        {**DAY, "kpis": ["frt_within_target"]}), settings)
    within = document["rows"][0]["kpis"]["frt_within_target"]
    # m1 600 s within 900 s, m2 1,200 s not: 8 of 13
    assert (within["value"], within["n"], within["sms_within_target"]) == (61.5385, 13, 50.0)


def test_channels_read_in_order_with_their_figures(day: Engine) -> None:
    result = run_kpi_query(day, KpiQuery.model_validate(
        {**DAY, "kpis": ["frt_within_target"]}), KpiSettings()).figure("frt_within_target")
    found = frt_by_channel(result)
    assert [(c.channel, c.median_s, c.n, c.within_target) for c in found] == [
        ("phone", 20.0, 2, 50.0), ("chat", 55.0, 4, 75.0), ("email", 86_400.0, 3, 66.6667),
        ("social", 3600.0, 2, 50.0), ("sms", 900.0, 2, None)]
    assert [c.text for c in found][-2:] == ["social 1.0 h (50.0%)", "sms 15.0 min"]
    assert frt_by_channel(None) == [] and kpi_details("csat", result) == []


def test_every_channel_of_the_records_has_its_figures() -> None:
    assert set(FRT_CHANNELS) == {channel.value for channel in Channel}
    extras = KPIS["frt_within_target"].extras
    assert set(extras) == {*FRT_CHANNELS, *(f"{c}_within_target" for c in FRT_CHANNELS)}
    assert KPIS["frt_within_target"].unit == "percent"
    assert KPIS["frt_within_target"].direction == "higher"

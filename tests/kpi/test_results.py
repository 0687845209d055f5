"""The typed KPI result (servicepulse.kpi.results) and its JSON.

tests/fixtures/kpi/results/*.json are the documents the engine gave for four queries over
the hand-worked week (tests/fixtures/kpi/week.jsonl, see tests/kpi/test_engine.py) before it
returned typed results: written by the untyped engine (its commit fb060b4, by
`run_kpi_query(...)` and orjson with OPT_INDENT_2). `to_json()` must give them back byte for
byte: the same keys, in the same order, with the same values.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.results import KpiFigure, KpiResult, KpiRow, PreviousFigure
from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import KPI_FIXTURES, WEEK, load

DOCUMENTS = KPI_FIXTURES / "results"
QUERIES: dict[str, dict[str, Any]] = {
    "week_all": {"from": "2026-03-02", "to": "2026-03-09"},
    "agent_day": {"by": ["agent"], "period": "day", "from": "2026-03-02", "to": "2026-03-09",
                  "kpis": ["contacts", "frt", "csat", "nps", "aht", "occupancy"]},
    "channel_week": {"by": ["channel"], "period": "week", "from": "2026-03-02",
                     "to": "2026-03-16", "kpis": ["contacts", "frt_within_target", "ttr", "fcr"],
                     "filters": {"channel": ["phone", "email", "chat"]}},
    "segment": {"by": ["segment"], "from": "2026-03-02", "to": "2026-03-09",
                "kpis": ["occupancy", "contacts", "csat"]},
}


def _text(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KpiResult]:
    from servicepulse.store.database import open_store

    engine: Engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('results')}/store.db")
    load(engine, WEEK)
    try:
        return {name: run_kpi_query(engine, KpiQuery.model_validate(query), KpiSettings())
                for name, query in QUERIES.items()}
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", list(QUERIES))
def test_to_json_is_the_document_of_the_untyped_engine(results: dict[str, KpiResult],
                                                       name: str) -> None:
    expected = (DOCUMENTS / f"{name}.json").read_bytes()
    assert _text(results[name].to_json()) == expected


@pytest.mark.parametrize("name", list(QUERIES))
def test_from_json_reads_the_document_back_unchanged(results: dict[str, KpiResult],
                                                     name: str) -> None:
    expected = (DOCUMENTS / f"{name}.json").read_bytes()
    read = KpiResult.from_json(orjson.loads(expected))
    assert _text(read.to_json()) == expected
    assert read == results[name]  # the same typed result as the engine's


def test_the_figures_of_the_week_typed(results: dict[str, KpiResult]) -> None:
    week = results["week_all"]
    assert (week.from_, week.to, week.by, week.period, week.timezone) == (
        date(2026, 3, 2), date(2026, 3, 9), [], "all", "UTC")
    assert len(week) == 1 and week.totals() is week.rows[0]
    # the data's last record is in the week's last days: covered only in part
    assert week.rows[0].partial is True
    # contacts: 10 created in the week, 9 inbound 1 outbound (test_engine.py); i0 the week
    # before: change +9; a sum has no interval, no test and never a low sample
    contacts = week.figure("contacts")
    assert contacts is not None
    assert (contacts.value, contacts.n, contacts.interval, contacts.extra("inbound"),
            contacts.extra("outbound")) == (10, 10, None, 9, 1)
    assert (contacts.previous, contacts.change) == (PreviousFigure(1, 1), 9)
    assert contacts.significant is None and contacts.low_sample is False
    # FRT: 10 15 70 3600 7200 → median 70, mean 2179, p90 5760; its order-statistic
    # interval needs more values (None)
    frt = week.figure("frt")
    assert frt is not None
    assert (frt.value, frt.n, frt.extra("mean"), frt.extra("p90"), frt.interval) == (
        70.0, 5, 2179.0, 5760.0, None)
    assert frt.keys[:6] == ("value", "n", "mean", "p90", "ci", "p90_ci")
    # AHT: 1320 / 4 = 330 over the handled contacts with handle data
    aht = week.figure("aht")
    assert aht is not None and (aht.value, aht.n, aht.extra("without_handle_data")) == (
        330.0, 4, 2)
    # t interval of 400 300 120 600 (mean 330): 330 ± 342.2671
    assert (aht.ci_low, aht.ci_high) == (-12.2671, 672.2671)
    assert week.figures().keys() == week.rows[0].figures.keys()
    assert week.figure("not_a_kpi") is None


def test_grouped_rows_and_an_unavailable_figure(results: dict[str, KpiResult]) -> None:
    by_day = results["agent_day"]
    with pytest.raises(ValueError, match="grouped by"):
        by_day.totals()
    # one row per agent and day, the period as the day's ISO date
    first = by_day.rows[0]
    assert set(first.group) == {"agent", "period"}
    assert all(row.group["period"] in {f"2026-03-0{d}" for d in range(2, 9)}
               for row in by_day)
    # occupancy is measured from agent states, never by segment: unavailable, its JSON only
    # value, n and why
    segment = results["segment"]
    occupancy = segment.rows[0].figure("occupancy")
    assert occupancy is not None
    assert occupancy.unavailable == ("not defined by segment (its records have no such "
                                     "field)")
    assert occupancy.keys == ("value", "n", "unavailable")
    assert occupancy.to_json() == {"value": None, "n": 0, "unavailable": occupancy.unavailable}
    # by channel over two weeks: the second week (03-09) holds i3 (phone, 03-12) and i5
    # (email, 03-10) and lies partly after the data's last day
    weekly = results["channel_week"]
    rows = {(row.group["channel"], row.group["period"]): row for row in weekly}
    assert rows[("phone", "2026-03-09")].partial is True
    assert rows[("phone", "2026-03-02")].value("contacts") is not None
    assert weekly.by_group("channel").keys() <= {"phone", "email", "chat"}


def test_a_figure_made_in_code_and_its_json() -> None:
    figure = KpiFigure(75.0, 40, (60.5, 86.0), False, PreviousFigure(70.0, 38), 5.0, False,
                       extras={"mean": 4.1})
    # made in code (no keys): the standard order, its extras after low_sample
    assert list(figure.to_json().items()) == [
        ("value", 75.0), ("n", 40), ("ci", [60.5, 86.0]), ("low_sample", False),
        ("mean", 4.1), ("previous", {"value": 70.0, "n": 38}), ("change", 5.0),
        ("significant", False)]
    # extras are written only where `keys` names them (a figure read from JSON keeps its own)
    read = KpiFigure.from_json({"value": 1, "n": 2, "mean": 3.5, "previous": None})
    assert (read.value, read.n, read.extra("mean"), read.previous, read.keys) == (
        1, 2, 3.5, None, ("value", "n", "mean", "previous"))
    assert read.to_json() == {"value": 1, "n": 2, "mean": 3.5, "previous": None}
    assert PreviousFigure(70.0, 38).as_figure().to_json() == {"value": 70.0, "n": 38}
    # the period before as a figure of its own: value and n, no interval; none -> (None, 0)
    before = figure.previous_figure()
    assert (before.value, before.n, before.interval, before.previous) == (70.0, 38, None, None)
    empty = read.previous_figure()
    assert (empty.value, empty.n, empty.interval) == (None, 0, None)
    row = KpiRow({"agent": "a1"}, {"csat": figure})
    assert row.value("csat") == 75.0 and row.value("fcr") is None
    assert row.to_json() == {"group": {"agent": "a1"}, "kpis": {"csat": figure.to_json()}}
    result = KpiResult(date(2026, 3, 2), date(2026, 3, 9), ["agent"], "all", {}, "UTC", [row],
                       source="rollup", stale_days=[date(2026, 3, 4)])
    assert list(result.to_json()) == ["from", "to", "by", "period", "filters", "timezone",
                                      "source", "rows", "stale_days"]
    read_back = KpiResult.from_json(result.to_json())
    assert read_back.to_json() == result.to_json()
    assert read_back.rows[0].figures["csat"].extras == {"mean": 4.1}


def test_the_documents_are_those_of_the_fixture() -> None:
    # the stored documents answer the queries above (a fixture changed by hand would show)
    for name, query in QUERIES.items():
        document = orjson.loads((DOCUMENTS / f"{name}.json").read_bytes())
        assert (document["from"], document["to"]) == (query["from"], query["to"])
        assert document["by"] == query.get("by", [])
    assert Path(DOCUMENTS / "week_all.json").stat().st_size > 1000

"""Partial periods: which KPI rows the range, the data or the clock covers only in part.

The rule (docs/kpis.md, "Partial periods"): a row's whole period (the calendar day, the
Monday-to-Sunday week, the calendar month; for `all` the range itself) is partial when any
of its days lies outside the range asked, is not wholly within the data (the days of its
first and last record are covered only from or up to that record), or is today or later.

The store below holds contacts from Wednesday 2026-09-02 10:00 to Tuesday 2026-09-15 15:00
(UTC), so the days the data covers whole are 3 to 14 September. Flags worked out by hand.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine

from servicepulse.cli.kpi import render_csv
from servicepulse.kpi.engine import is_partial, run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.web.csv_export import kpi_result_rows
from tests.scorecards.builders import load

SPAN = (date(2026, 9, 2), date(2026, 9, 15))
TODAY = date(2026, 12, 7)


def _contacts() -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    day = date(2026, 9, 2)
    while day <= date(2026, 9, 15):
        hour = 10 if day == date(2026, 9, 2) else 9
        for index, minute in enumerate((0, 30)):
            records.append({"type": "interaction", "id": f"I-{day}-{index}",
                            "channel": "phone", "created_at": f"{day}T{hour:02d}:{minute:02d}:00Z",
                            "answered_at": f"{day}T{hour:02d}:{minute:02d}:10Z"})
        day += timedelta(days=1)
    records.append({"type": "interaction", "id": "I-last", "channel": "phone",
                    "created_at": "2026-09-15T15:00:00Z"})
    return records


def _flags(document: dict[str, object]) -> dict[str, bool]:
    rows = document["rows"]
    assert isinstance(rows, list)
    return {str(row["group"].get("period", "all")): row["partial"] for row in rows}


def test_is_partial_by_hand() -> None:
    first, end = date(2026, 8, 31), date(2026, 9, 21)
    # weeks: 31 Aug holds 2 Sep (first data day); 7 Sep is whole; 14 Sep holds 15 Sep (last)
    assert is_partial(date(2026, 8, 31), date(2026, 9, 7), first, end, SPAN, TODAY) is True
    assert is_partial(date(2026, 9, 7), date(2026, 9, 14), first, end, SPAN, TODAY) is False
    assert is_partial(date(2026, 9, 14), date(2026, 9, 21), first, end, SPAN, TODAY) is True
    # a week the range cuts (range from Wednesday 9 Sep): partial though the data covers it
    assert is_partial(date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 9), end, SPAN,
                      TODAY) is True
    # days: the first and last data days are partial, those between are not
    assert [is_partial(d, d + timedelta(days=1), first, end, SPAN, TODAY)
            for d in (date(2026, 9, 1), date(2026, 9, 2), date(2026, 9, 3), date(2026, 9, 14),
                      date(2026, 9, 15), date(2026, 9, 16))] == [
        True, True, False, False, True, True]
    # today is not over: partial even inside the data; yesterday is whole
    span_to_now = (date(2026, 11, 1), date(2026, 12, 8))
    assert is_partial(TODAY, TODAY + timedelta(days=1), date(2026, 11, 2), date(2026, 12, 8),
                      span_to_now, TODAY) is True
    assert is_partial(TODAY - timedelta(days=1), TODAY, date(2026, 11, 2), date(2026, 12, 8),
                      span_to_now, TODAY) is False
    # no data covers nothing
    assert is_partial(date(2026, 9, 7), date(2026, 9, 14), first, end, None, TODAY) is True


def test_engine_marks_partial_rows(store: Engine) -> None:
    load(store, _contacts())
    weeks = run_kpi_query(store, KpiQuery.model_validate({
        "period": "week", "from": "2026-08-31", "to": "2026-09-21", "kpis": ["contacts"]}))
    assert _flags(weeks) == {"2026-08-31": True, "2026-09-07": False, "2026-09-14": True}
    assert [row["kpis"]["contacts"]["value"] for row in weeks["rows"]] == [10, 14, 5]
    days = run_kpi_query(store, KpiQuery.model_validate({
        "period": "day", "from": "2026-09-01", "to": "2026-09-17", "kpis": ["contacts"]}))
    expected = {f"2026-09-{d:02d}": d in (1, 2, 15, 16) for d in range(1, 17)}
    assert _flags(days) == expected
    month = run_kpi_query(store, KpiQuery.model_validate({
        "period": "month", "kpis": ["contacts"]}))  # September holds the first data day
    assert _flags(month) == {"2026-09-01": True}
    # `all` over the data's own days (2 to 15 Sep): starts on the first data day
    everything = run_kpi_query(store, KpiQuery.model_validate({"kpis": ["contacts"]}))
    assert (everything["from"], everything["to"]) == ("2026-09-02", "2026-09-16")
    assert _flags(everything) == {"all": True}
    inside = run_kpi_query(store, KpiQuery.model_validate({
        "from": "2026-09-03", "to": "2026-09-15", "kpis": ["contacts"]}))
    assert _flags(inside) == {"all": False}
    assert inside["rows"][0]["kpis"]["contacts"]["value"] == 24  # 12 whole days x 2
    # by a dimension: every group of a period carries its period's flag
    by_channel = run_kpi_query(store, KpiQuery.model_validate({
        "by": ["channel"], "period": "week", "from": "2026-09-07", "to": "2026-09-21",
        "kpis": ["contacts"]}))
    assert [(row["group"]["channel"], row["group"]["period"], row["partial"])
            for row in by_channel["rows"]] == [("phone", "2026-09-07", False),
                                               ("phone", "2026-09-14", True)]
    # the CSV of the API: a partial column after the groups
    rows = kpi_result_rows(weeks)
    assert [(row["period"], row["partial"]) for row in rows] == [
        ("2026-08-31", True), ("2026-09-07", False), ("2026-09-14", True)]
    assert list(rows[0])[:3] == ["period", "partial", "contacts"]
    # and `servicepulse kpi --format csv`: a partial column after the groups
    lines = render_csv(weeks).splitlines()
    assert lines[0].startswith("period,partial,kpi,value,n,")
    assert [line.split(",")[:4] for line in lines[1:]] == [
        ["2026-08-31", "True", "contacts", "10"], ["2026-09-07", "False", "contacts", "14"],
        ["2026-09-14", "True", "contacts", "5"]]


def test_a_backlog_created_before_the_records_begin_does_not_cover_its_days(
        store: Engine) -> None:
    """A weekend's emails created before the centre's records begin (the backlog it opens
    with) do not make the days before count as covered: the data covers from its first
    contact or its first resolution, whichever is later (here 2 Sep, as without them)."""
    from servicepulse.kpi.window import data_span

    records = _contacts()
    records.append({"type": "interaction", "id": "E-backlog", "channel": "email",
                    "direction": "inbound", "created_at": "2026-08-28T18:00:00Z",
                    "first_response_at": "2026-09-02T10:05:00Z",
                    "resolved_at": "2026-09-02T10:20:00Z"})
    load(store, records)
    assert data_span(store, "UTC") == SPAN
    days = run_kpi_query(store, KpiQuery.model_validate({
        "period": "day", "from": "2026-08-28", "to": "2026-09-05", "kpis": ["contacts"]}))
    # 28 Aug to 2 Sep partial (before or on the first covered day), 3 and 4 Sep whole
    assert _flags(days) == {f"2026-{m:02d}-{d:02d}": (m, d) < (9, 3)
                            for m, d in ((8, 28), (8, 29), (8, 30), (8, 31), (9, 1),
                                         (9, 2), (9, 3), (9, 4))}

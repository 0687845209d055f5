"""Every KPI of DESIGN.md §3 on a hand-computed week, on SQLite and PostgreSQL.

The fixture tests/fixtures/kpi/week.jsonl holds one week, Mon 2026-03-02 to Mon 2026-03-09
(exclusive, organisation time zone UTC). The numbers below are worked out by hand from it;
each comment lists the records that make them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import KPI_FIXTURES, WEEK, kpis, load, rows_by_group

WEEK_QUERY = {"from": "2026-03-02", "to": "2026-03-09"}


@pytest.fixture
def week(store: Engine) -> Engine:
    load(store, WEEK)
    return store


def test_interaction_kpis_of_the_week(week: Engine) -> None:
    result = kpis(week, **WEEK_QUERY)
    # i1 i2 i4 i6 i7 i8 i10 i11 i12 inbound, i9 outbound; i11 and i12 are given with +01:00
    # offsets (22:00Z and 23:30Z on 03-08: inside); i0 (02-27), i3 (03-12), i5 (03-10) are not.
    assert (result["contacts"]["value"], result["contacts"]["inbound"],
            result["contacts"]["outbound"]) == (10, 9, 1)
    # FRT: phone/chat answered − created: i1 15, i4 70, i10 10; email first response: i2 3600,
    # i11 7200. Sorted 10 15 70 3600 7200: median 70, mean 10895/5 = 2179,
    # p90 at h = 4·0.9 + 1 = 4.6: 3600 + 0.6·3600 = 5760. Within target: i4 70 > chat 60 → 4/5.
    frt = result["frt"]
    assert (frt["value"], frt["mean"], frt["p90"], frt["n"]) == (70.0, 2179.0, 5760.0, 5)
    assert frt["within_target"] == 80.0
    assert frt["low_sample"] is True  # 5 < 30
    # ASA: answered phone/chat i1 15, i4 70, i10 10 → 95/3
    assert (result["asa"]["value"], result["asa"]["n"]) == (31.6667, 3)
    # AHT: handled i1 300+60+40, i4 200 (no hold/wrap), i10 100+0+20, i2 email handle_s 600
    # → 1320/4 = 330; i9 and i11 handled without handle data.
    assert (result["aht"]["value"], result["aht"]["n"],
            result["aht"]["without_handle_data"]) == (330.0, 4, 2)
    # FCR over resolved inbound i1 i2 i4 i10: i1 yes (its repeat i2 is another category),
    # i2 no (i3 same category exactly 7 days later: just inside the window), i4 no (transfer),
    # i10 no (escalated, reopened; no customer → repeat check skipped) → 1/4.
    assert (result["fcr"]["value"], result["fcr"]["n"], result["fcr"]["without_customer"]) \
        == (25.0, 4, 1)
    # Repeat: inbound with a customer i1 i2 i4 i7 i8 i11 i12; repeated: i1 (i2), i2 (i3 at
    # exactly 7 d), i7 (i8), i8 (i11), i11 (i12); i4 not (i5 at 7 d + 1 s), i12 not → 5/7.
    repeat = result["repeat_contact_rate"]
    assert (repeat["value"], repeat["n"], repeat["without_customer"]) == (71.4286, 7, 2)
    # Resolved of the 10 created: i1 i2 i4 i10
    assert (result["resolution_rate"]["value"], result["resolution_rate"]["n"]) == (40.0, 10)
    # TTR at resolved_at: i0 259200 (created the week before), i1 600, i2 86400, i4 1800,
    # i10 1200 → median 1800, mean 349200/5 = 69840, p90 86400 + 0.6·172800 = 190080.
    ttr = result["ttr"]
    assert (ttr["value"], ttr["mean"], ttr["p90"], ttr["n"]) == (1800.0, 69840.0, 190080.0, 5)
    assert (result["reopen_rate"]["value"], result["reopen_rate"]["n"]) == (25.0, 4)  # i10
    # Handled: i1 i2 i4 i9 i10 i11; transferred i4, escalated i10
    assert (result["transfer_rate"]["value"], result["transfer_rate"]["n"]) == (16.6667, 6)
    assert (result["escalation_rate"]["value"], result["escalation_rate"]["n"]) == (16.6667, 6)
    # Offered phone/chat: i1 i4 i7 i8 i10 (i6 abandoned after 4 s < 5 s: in neither);
    # abandoned i7 (6 s, just over) and i8 → 2/5.
    assert (result["abandon_rate"]["value"], result["abandon_rate"]["n"]) == (40.0, 5)
    # Service level: within threshold i1 (15 ≤ 20), i10 (10 ≤ 30); i4 70 > 30.
    # 2 / (3 answered + 2 abandoned after the short threshold)
    assert (result["service_level"]["value"], result["service_level"]["n"]) == (40.0, 5)
    # Backlog at 03-09 00:00Z: i9, i11, i12 open
    assert result["backlog"]["value"] == 3


def test_survey_customer_agent_and_social_kpis(week: Engine) -> None:
    result = kpis(week, **WEEK_QUERY)
    # CSAT s1 5, s2 3, s3 4 (no interaction), s8 5 (+01:00 offset: 03-08 23:30Z) → 3/4
    assert (result["csat"]["value"], result["csat"]["n"], result["csat"]["mean"]) \
        == (75.0, 4, 4.25)
    # NPS s4 10 promoter, s5 5 detractor → 50 − 50
    assert (result["nps"]["value"], result["nps"]["n"]) == (0.0, 2)
    # CES s6 6, s7 3 → mean 4.5, share 5-7 1/2
    assert (result["ces"]["value"], result["ces"]["share_5_7"]) == (4.5, 50.0)
    # a1 states clipped to the week: available 1 h (st1 from 23:00 the day before) + 1 h
    # (st5 until 01:00 the day after), handling 3 h, after-call work 0.5 h, break 0.5 h;
    # occupancy 3.5 / 5.5; utilization 3.5 h / 8 h shift.
    assert result["occupancy"]["value"] == 63.6364
    assert result["utilization"]["value"] == 43.75
    # Logged in 6 h (not offline); handled 6 → 1 an hour
    assert result["contacts_per_hour"]["value"] == 1.0
    # a1 frontline default 37,920 / 2,080 h × 6 h / 6 handled = 18.2308
    assert result["cost_per_contact"]["value"] == 18.2308
    # S = c1 c2 c4 (c4 without acquired_at), E = c1 c3 c4, N = c3: (3 − 1)/3; churned c2
    assert (result["retention_rate"]["value"], result["retention_rate"]["n"]) == (66.6667, 3)
    assert (result["churn_rate"]["value"], result["churn_rate"]["n"]) == (33.3333, 3)
    # Posts p1 (50 engagements, 1000 impressions, 400 reach) and p2 (50, 3000, 600)
    assert (result["engagement_rate"]["value"], result["engagement_rate"]["by_reach"]) \
        == (2.5, 10.0)
    assert (result["reach"]["value"], result["impressions"]["value"]) == (1000, 4000)


def test_previous_period_and_change(week: Engine) -> None:
    result = kpis(week, **WEEK_QUERY)
    # The week before holds only i0 (created 02-27, open at 03-02 00:00Z)
    assert result["contacts"]["previous"] == {"value": 1, "n": 1}
    assert result["contacts"]["change"] == 9
    assert result["backlog"]["previous"] == {"value": 1, "n": 1}
    assert result["csat"]["previous"] == {"value": None, "n": 0}
    assert result["csat"]["change"] is None


def _figures(results: dict[str, Any]) -> dict[str, Any]:
    return {name: {field: value for field, value in result.items()
                   if field not in ("previous", "change", "significant")}
            for name, result in results.items()}


@pytest.mark.parametrize("query", [{}, {"period": "day", "by": ["channel"]}])
def test_without_comparison_the_figures_are_the_same(week: Engine, query: dict[str, Any]
                                                     ) -> None:
    def run(**extra: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
        return rows_by_group(run_kpi_query(week, KpiQuery.model_validate(
            {**WEEK_QUERY, **query, **extra})))

    compared, alone = run(), run(compare=False)
    assert {key: _figures(results) for key, results in alone.items()} \
        == {key: _figures(results) for key, results in compared.items()}
    first = next(iter(alone.values()))  # the week (or its first day) has nothing before it
    assert first["contacts"]["previous"] == {"value": None, "n": 0}
    assert (first["contacts"]["change"], first["backlog"]["significant"]) == (None, None)


def test_by_agent_attribution(week: Engine) -> None:
    document = run_kpi_query(week, KpiQuery.model_validate(
        {**WEEK_QUERY, "by": ["agent"], "kpis": ["contacts", "csat", "occupancy", "nps"]}),
        KpiSettings())
    rows = rows_by_group(document)
    assert list(rows) == [("a1",), ("a2",), ("a3",), (None,)]
    # csat: s1 → i1's agent a1; s2 names a2 (wins over its interaction's a1); s3, s8 no agent
    assert (rows[("a1",)]["csat"]["value"], rows[("a1",)]["csat"]["n"]) == (100.0, 1)
    assert (rows[("a2",)]["csat"]["value"], rows[("a2",)]["csat"]["n"]) == (0.0, 1)
    assert (rows[(None,)]["csat"]["value"], rows[(None,)]["csat"]["n"]) == (100.0, 2)
    # contacts: a1 i1 i4; a2 i2 i9 i11; a3 i10; none i6 i7 i8 i12
    assert [rows[key]["contacts"]["value"] for key in rows] == [2, 3, 1, 4]
    # nobody answered nps for a3: null, never 0
    assert rows[("a3",)]["nps"] == {**rows[("a3",)]["nps"], "value": None, "n": 0}
    assert rows[("a1",)]["occupancy"]["value"] == 63.6364


def test_filters_and_unavailable_dimensions(week: Engine) -> None:
    document = run_kpi_query(week, KpiQuery.model_validate(
        {**WEEK_QUERY, "by": ["channel"], "kpis": ["contacts", "occupancy"],
         "filters": {"segment": ["gold"]}}), KpiSettings())
    rows = rows_by_group(document)
    # gold customers c1 c3 c4: i1 phone, i2 email, i7 i8 phone, i9 i11 i12 email
    assert {key: row["contacts"]["value"] for key, row in rows.items()} \
        == {("email",): 4, ("phone",): 3}
    # agent states have no channel or segment
    assert rows[("email",)]["occupancy"]["value"] is None
    assert "channel" in rows[("email",)]["occupancy"]["unavailable"]


def test_no_data_is_null_not_zero(week: Engine) -> None:
    result = kpis(week, **{"from": "2025-01-06", "to": "2025-01-13"})
    for name in ("contacts", "frt", "csat", "nps", "ces", "fcr", "aht", "service_level",
                 "occupancy", "engagement_rate", "reach", "abandon_rate"):
        assert result[name]["value"] is None, name
        assert result[name]["n"] == 0, name
        assert result[name]["low_sample"] is False, name


def test_all_contacts_abandoned(week: Engine) -> None:
    # 03-04 holds only i6 (4 s, a short abandon), i7 (6 s) and i8 (30 s)
    result = kpis(week, **{"from": "2026-03-04", "to": "2026-03-05"})
    assert result["contacts"]["value"] == 3
    assert (result["abandon_rate"]["value"], result["abandon_rate"]["n"]) == (100.0, 2)
    assert (result["service_level"]["value"], result["service_level"]["n"]) == (0.0, 2)
    assert (result["resolution_rate"]["value"], result["resolution_rate"]["n"]) == (0.0, 3)
    for name in ("frt", "asa", "aht", "fcr", "ttr"):
        assert result[name]["value"] is None, name


@pytest.mark.parametrize(("formula", "expected"), [
    # answered within i1 i10 = 2, answered 3, abandoned i6 i7 i8 = 3, abandoned within the
    # phone threshold of 20 s: i6 (4 s), i7 (6 s) = 2; abandoned after 5 s: i7 i8 = 2
    ("short_abandons_excluded", (40.0, 5)),  # 2 / (3 + 2)
    ("answered_only", (66.6667, 3)),  # 2 / 3
    ("all_abandoned", (33.3333, 6)),  # 2 / (3 + 3)
    ("abandoned_within_met", (66.6667, 6)),  # (2 + 2) / (3 + 3)
    ("abandoned_within_excluded", (50.0, 4)),  # 2 / (3 + 3 − 2)
])
def test_service_level_formulas(sqlite_store: Engine, formula: str,
                                expected: tuple[float, int]) -> None:
    load(sqlite_store, WEEK)
    result = kpis(sqlite_store, KpiSettings(service_level_formula=formula),
                  kpis=["service_level"], **WEEK_QUERY)
    assert (result["service_level"]["value"], result["service_level"]["n"]) == expected


def test_business_hours_variants_read_the_stored_durations(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    # The business-hours area fills these at import; set them here to test the reading alone.
    with sqlite_store.begin() as connection:
        for interaction, response, resolution in (("i1", 15, 600), ("i2", 0, 28_800),
                                                  ("i11", 3_600, None)):
            connection.execute(text(
                "update interactions set first_response_business_s = :response, "
                "resolution_business_s = :resolution where id = :id"),
                {"id": interaction, "response": response, "resolution": resolution})
    result = kpis(sqlite_store, kpis=["frt", "ttr"], **WEEK_QUERY)
    # frt: 0, 15, 3600 → median 15, mean 1205, p90 at h = 2.8: 15 + 0.8·3585 = 2883
    assert result["frt"]["business_hours"] == {"value": 15.0, "mean": 1205.0, "p90": 2883.0,
                                               "n": 3}
    # ttr: i1 600, i2 28800 → median 14700
    assert result["ttr"]["business_hours"]["value"] == 14700.0


def test_repeat_window_is_a_setting(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    # With a 1-day window only i7 → i8 (10 minutes) and i11 → i12 (1.5 h) repeat: 2/7
    result = kpis(sqlite_store, KpiSettings(repeat_window_days=1),
                  kpis=["repeat_contact_rate", "fcr"], **WEEK_QUERY)
    assert result["repeat_contact_rate"]["value"] == 28.5714
    # and i2 is no longer followed within the window: FCR i1, i2 → 2/4
    assert result["fcr"]["value"] == 50.0


def test_minimum_sample_setting(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    result = kpis(sqlite_store, KpiSettings(minimum_sample=5), kpis=["frt", "asa"],
                  **WEEK_QUERY)
    assert result["frt"]["low_sample"] is False  # n = 5
    assert result["asa"]["low_sample"] is True  # n = 3


def _day_rows(document: dict[str, Any]) -> dict[str, Any]:
    return {row["group"]["period"]: row["kpis"]["contacts"]["value"]
            for row in document["rows"]}


def test_periods_follow_the_organisation_time_zone_across_dst(sqlite_store: Engine) -> None:
    from tests.kpi.helpers import KPI_FIXTURES

    load(sqlite_store, KPI_FIXTURES / "dst.jsonl")
    berlin = KpiSettings(timezone="Europe/Berlin")
    query = {"from": "2026-03-28", "to": "2026-03-31", "kpis": ["contacts"]}
    by_day = run_kpi_query(sqlite_store, KpiQuery.model_validate({**query, "period": "day"}),
                           berlin)
    # Berlin is UTC+1 until 2026-03-29 01:00Z, then UTC+2:
    # d1 22:59Z = 23:59 on the 28th; d2 23:30Z = 00:30 on the 29th; d3 21:59Z on the 29th =
    # 23:59 CEST on the 29th; d4 22:30Z = 00:30 on the 30th.
    assert _day_rows(by_day) == {"2026-03-28": 1, "2026-03-29": 2, "2026-03-30": 1}
    by_week = run_kpi_query(sqlite_store, KpiQuery.model_validate({**query, "period": "week"}),
                            berlin)
    # weeks start on Monday: the 30th opens a new week
    assert _day_rows(by_week) == {"2026-03-23": 3, "2026-03-30": 1}
    in_utc = run_kpi_query(sqlite_store, KpiQuery.model_validate({**query, "period": "day"}),
                           KpiSettings())
    assert _day_rows(in_utc) == {"2026-03-28": 2, "2026-03-29": 2, "2026-03-30": None}


def test_month_and_quarter_periods(sqlite_store: Engine) -> None:
    load(sqlite_store, WEEK)
    document = run_kpi_query(sqlite_store, KpiQuery.model_validate(
        {"from": "2026-02-01", "to": "2026-04-01", "period": "month", "kpis": ["contacts"]}),
        KpiSettings())
    # February: i0; March: the other 12
    assert _day_rows(document) == {"2026-02-01": 1, "2026-03-01": 12}
    rows = {row["group"]["period"]: row["kpis"]["contacts"] for row in document["rows"]}
    assert rows["2026-03-01"]["previous"] == {"value": 1, "n": 1}
    quarter = run_kpi_query(sqlite_store, KpiQuery.model_validate(
        {"from": "2026-01-01", "to": "2026-04-01", "period": "quarter", "kpis": ["contacts"]}),
        KpiSettings())
    assert _day_rows(quarter) == {"2026-01-01": 13}


def test_fcr_repeats_of_uncategorised_contacts(store: Engine) -> None:
    """DESIGN.md §3: a later contact is a repeat for FCR if it is in the same category
    "where both have one": a contact without a category matches any category."""
    load(store, KPI_FIXTURES / "uncategorised_repeats.jsonl")
    result = kpis(store, **WEEK_QUERY, kpis=["fcr", "repeat_contact_rate"])
    # Resolved inbound r1..r6. Not first-contact resolved: r1 (billing; r2 two days later has
    # no category), r3 (no category; r4 two days later, returns). r5 (billing) is followed
    # only by r6 in another category: resolved first time, as are r2, r4 and r6 (no later
    # contact) → 4/6.
    assert (result["fcr"]["value"], result["fcr"]["n"]) == (66.6667, 6)
    # Any later contact counts for the repeat rate: r1, r3 and r5 → 3/6.
    assert (result["repeat_contact_rate"]["value"],
            result["repeat_contact_rate"]["n"]) == (50.0, 6)

"""The KPIs iqs and iqs_<category> over tests/fixtures/kpi/qa.jsonl (reviews of week.jsonl's
contacts), against figures worked out by hand.

The reviews (form-chat: greeting w1 0-2, accuracy w3 1-5 critical, tone w2 0-4; form-tech:
diagnosis w2 0-10 critical, empathy w1 1-3), in the week 2026-03-02 .. 03-09:

- q1, i1 (a1, t1, phone): greeting 100, accuracy 100, tone 100 -> IQS 100
- q2, i4 (a1, t1, chat): 50, 50, 50 -> 50
- q3, i10 (a3, t2, chat): 100, accuracy 0 (the critical category's minimum), 100 -> 0
- q4, i2 (a2, t1, email): diagnosis 80, empathy 50 -> (2·80 + 50) / 3 = 70
- q5, i9 (a2, t1, email): diagnosis 50, empathy 100 -> (2·50 + 100) / 3 = 66.667
- q6, i1, calibration: 0, 25, 0 -> 12.5, never counted
- q8, i10 (a3, t2, chat): 100, 75, 75 -> (100 + 3·75 + 2·75) / 6 = 79.167
q7 (i10, 2026-03-12) falls in the next week.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from scipy import stats
from sqlalchemy import Engine

from servicepulse.kpi.definitions import KPIS
from servicepulse.kpi.engine import run_kpi_query
from servicepulse.kpi.query import KpiQuery
from servicepulse.kpi.settings import KpiSettings
from tests.kpi.helpers import BACKENDS, KPI_FIXTURES, WEEK, kpis, load, loaded_store, rows_by_group

QA = KPI_FIXTURES / "qa.jsonl"
# the engine reports means to 4 decimals
approx = partial(pytest.approx, abs=5e-5)
WEEK_SPAN = {"from": "2026-03-02", "to": "2026-03-09"}


# Every test here starts from the week and its reviews: `store` and `sqlite_store` hold them
# (imported once per test process, copied per test).
@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with loaded_store(request.param, tmp_path, WEEK, QA) as engine:
        yield engine


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    with loaded_store("sqlite", tmp_path, WEEK, QA) as engine:
        yield engine


def _t_interval(values: list[float]) -> tuple[float, float]:
    """The 95% t interval of a mean, by scipy (independent of the engine's statistics)."""
    mean = sum(values) / len(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean,
                                 scale=stats.sem(values))
    return low, high


def test_iqs_is_the_mean_of_the_weeks_non_calibration_reviews(store: Engine) -> None:
    result = kpis(store, kpis=["iqs"], **WEEK_SPAN)["iqs"]
    values = [100, 50, 0, 70, 200 / 3, 475 / 6]
    assert result["n"] == 6
    assert result["value"] == approx(sum(values) / 6)  # 60.972
    low, high = _t_interval(values)
    assert result["ci"] == [approx(low), approx(high)]
    assert result["low_sample"] is True  # 6 reviews, below the default 30


def test_iqs_by_agent_team_and_channel_is_the_reviewed_contacts(store: Engine) -> None:
    by_agent = rows_by_group(run_kpi_query(store, KpiQuery.model_validate(
        {**WEEK_SPAN, "by": ["agent"], "kpis": ["iqs"]}), KpiSettings()))
    assert {group: (row["iqs"]["value"], row["iqs"]["n"]) for group, row in by_agent.items()
            if row["iqs"]["n"]} == {
        ("a1",): (75.0, 2), ("a2",): (approx(205 / 3), 2),
        ("a3",): (approx(475 / 12), 2)}
    by_team = rows_by_group(run_kpi_query(store, KpiQuery.model_validate(
        {**WEEK_SPAN, "by": ["team"], "kpis": ["iqs"]}), KpiSettings()))
    assert by_team[("t1",)]["iqs"]["value"] == approx((100 + 50 + 70 + 200 / 3) / 4)
    assert by_team[("t2",)]["iqs"]["value"] == approx(475 / 12)
    by_channel = rows_by_group(run_kpi_query(store, KpiQuery.model_validate(
        {**WEEK_SPAN, "by": ["channel"], "kpis": ["iqs"]}), KpiSettings()))
    assert by_channel[("phone",)]["iqs"]["value"] == 100
    assert by_channel[("chat",)]["iqs"]["value"] == approx((50 + 0 + 475 / 6) / 3)
    assert by_channel[("email",)]["iqs"]["value"] == approx(205 / 3)


def test_iqs_counts_a_review_in_the_period_of_its_at(sqlite_store: Engine) -> None:
    document = run_kpi_query(sqlite_store, KpiQuery.model_validate(
        {"from": "2026-03-02", "to": "2026-03-16", "period": "week", "by": ["agent"],
         "filters": {"agent": ["a3"]}, "kpis": ["iqs"]}), KpiSettings())
    weeks = {row["group"]["period"]: row["kpis"]["iqs"] for row in document["rows"]}
    # q3 and q8 in the first week; q7 (2026-03-12) in the second, beside it the first
    assert weeks["2026-03-02"]["value"] == approx(475 / 12)
    assert (weeks["2026-03-09"]["value"], weeks["2026-03-09"]["n"]) == \
        (approx(425 / 6), 1)
    assert weeks["2026-03-09"]["previous"]["value"] == approx(475 / 12)


def test_category_kpis_normalise_each_scale(store: Engine) -> None:
    result = kpis(store, kpis=["iqs_accuracy", "iqs_greeting", "iqs_diagnosis",
                               "iqs_empathy", "iqs_nobody_scored"], **WEEK_SPAN)
    # accuracy 1-5: 5, 3, 1, 4 -> 100, 50, 0, 75 (q6's calibration 2 is left out)
    assert (result["iqs_accuracy"]["value"], result["iqs_accuracy"]["n"]) == (56.25, 4)
    assert (result["iqs_greeting"]["value"], result["iqs_greeting"]["n"]) == (87.5, 4)
    # diagnosis 0-10: 8, 5; empathy 1-3: 2, 3
    assert (result["iqs_diagnosis"]["value"], result["iqs_diagnosis"]["n"]) == (65.0, 2)
    assert (result["iqs_empathy"]["value"], result["iqs_empathy"]["n"]) == (75.0, 2)
    assert (result["iqs_nobody_scored"]["value"], result["iqs_nobody_scored"]["n"]) == (None, 0)


def test_category_kpis_group_like_iqs(sqlite_store: Engine) -> None:
    by_agent = rows_by_group(run_kpi_query(sqlite_store, KpiQuery.model_validate(
        {**WEEK_SPAN, "by": ["agent"], "kpis": ["iqs_accuracy"]}), KpiSettings()))
    assert by_agent[("a1",)]["iqs_accuracy"]["value"] == 75.0
    assert by_agent[("a3",)]["iqs_accuracy"]["value"] == 37.5
    assert by_agent[("a2",)]["iqs_accuracy"]["n"] == 0  # the tech form has no accuracy


def test_a_changed_form_rescores_its_stored_reviews(sqlite_store: Engine, tmp_path: Path) -> None:
    # form-tech's diagnosis is no longer critical and weighs as much as empathy
    changed = tmp_path / "form.jsonl"
    changed.write_text(
        '{"type": "qa_form", "id": "form-tech", "name": "Technical quality", "categories": '
        '[{"name": "diagnosis", "weight": 1, "scale_max": 10}, '
        '{"name": "empathy", "weight": 1, "scale_min": 1, "scale_max": 5}]}\n')
    load(sqlite_store, changed)
    by_agent = rows_by_group(run_kpi_query(sqlite_store, KpiQuery.model_validate(
        {**WEEK_SPAN, "by": ["agent"], "kpis": ["iqs", "iqs_empathy"]}), KpiSettings()))
    # empathy now 1-5: 2 -> 25, 3 -> 50; q4 (80 + 25) / 2, q5 (50 + 50) / 2
    assert by_agent[("a2",)]["iqs_empathy"]["value"] == 37.5
    assert by_agent[("a2",)]["iqs"]["value"] == approx((52.5 + 50) / 2)


def test_category_kpi_names_are_known_on_demand_but_not_listed() -> None:
    assert "iqs_tone" in KPIS and KPIS["iqs_tone"].label == "IQS tone"
    assert KPIS.get("iqs_first_answer") is not None
    assert "iqs_Tone" not in KPIS and KPIS.get("iqs_") is None
    assert "iqs_tone" not in list(KPIS)  # "every KPI" is the defined ones
    with pytest.raises(ValueError, match="iqs_<category>"):
        KpiQuery.model_validate({"kpis": ["iqs-tone"]})
    assert math.isfinite(len(KPIS))

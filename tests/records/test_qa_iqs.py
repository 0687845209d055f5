"""One review's IQS, worked out by hand: weights, different scales, critical categories."""

from __future__ import annotations

import pytest

from servicepulse.records.models import QaCategory
from servicepulse.records.qa import (
    category_percents,
    review_iqs,
    score_problem,
    score_problems,
)

FORM = [
    QaCategory(name="greeting", weight=1, scale_max=2),
    QaCategory(name="accuracy", weight=3, scale_min=1, scale_max=5, critical=True),
    QaCategory(name="tone", weight=2, scale_max=4),
]


def test_weights_and_scales() -> None:
    # greeting 1/2 = 50, accuracy (4 - 1) / 4 = 75, tone 1/4 = 25:
    # (1·50 + 3·75 + 2·25) / 6 = 325 / 6
    scores = {"greeting": 1, "accuracy": 4, "tone": 1}
    assert review_iqs(FORM, scores) == pytest.approx(325 / 6)
    assert category_percents(FORM, scores) == {"greeting": 50, "accuracy": 75, "tone": 25}


def test_a_critical_category_at_its_minimum_makes_the_review_zero() -> None:
    assert review_iqs(FORM, {"greeting": 2, "accuracy": 1, "tone": 4}) == 0
    # just above the minimum it counts like any other: (100 + 3·(0.5/4·100) + 200) / 6
    assert review_iqs(FORM, {"greeting": 2, "accuracy": 1.5, "tone": 4}) == \
        pytest.approx((100 + 3 * 12.5 + 200) / 6)


def test_a_non_critical_category_at_its_minimum_only_weighs_in() -> None:
    # greeting 0 (not critical): (0 + 3·100 + 2·100) / 6
    assert review_iqs(FORM, {"greeting": 0, "accuracy": 5, "tone": 4}) == pytest.approx(500 / 6)


def test_full_marks_and_negative_scales() -> None:
    form = [QaCategory(name="policy", weight=0.5, scale_min=-2, scale_max=2),
            QaCategory(name="empathy", weight=1.5, scale_min=1, scale_max=3)]
    assert review_iqs(form, {"policy": 2, "empathy": 3}) == 100
    # policy 0 on -2..2 = 50, empathy 2 on 1..3 = 50
    assert review_iqs(form, {"policy": 0, "empathy": 2}) == 50


def test_the_stored_form_as_json_reads_the_same() -> None:
    stored = [category.model_dump() for category in FORM]
    assert review_iqs(stored, {"greeting": 1, "accuracy": 4, "tone": 1}) == \
        pytest.approx(325 / 6)


@pytest.mark.parametrize(("scores", "field", "reason"), [
    ({"greeting": 1, "accuracy": 4}, "scores.tone",
     "missing: form 'f1' scores every category (greeting, accuracy, tone)"),
    ({"greeting": 1, "accuracy": 4, "tone": 1, "empathy": 2}, "scores.empathy",
     "form 'f1' has no category 'empathy'; its categories are greeting, accuracy, tone"),
    ({"greeting": 3, "accuracy": 4, "tone": 1}, "scores.greeting",
     "3 is outside the category's scale 0–2"),
    ({"greeting": 1, "accuracy": 0, "tone": 1}, "scores.accuracy",
     "0 is outside the category's scale 1–5"),
])
def test_scores_that_do_not_fit_the_form(scores: dict[str, float], field: str,
                                         reason: str) -> None:
    problem = score_problem("f1", FORM, scores)
    assert problem is not None
    assert (problem.field, problem.reason) == (field, reason)


def test_every_problem_at_once() -> None:
    problems = score_problems("f1", FORM, {"greeting": 3, "tone": -1, "empathy": 2})
    assert [(p.field, p.reason) for p in problems] == [
        ("scores.empathy",
         "form 'f1' has no category 'empathy'; its categories are greeting, accuracy, tone"),
        ("scores.greeting", "3 is outside the category's scale 0–2"),
        ("scores.accuracy", "missing: form 'f1' scores every category (greeting, accuracy, "
                            "tone)"),
        ("scores.tone", "-1 is outside the category's scale 0–4")]
    assert score_problem("f1", FORM, {"greeting": 3, "tone": -1, "empathy": 2}) == problems[0]


def test_scores_at_the_ends_of_each_scale_fit() -> None:
    assert score_problem("f1", FORM, {"greeting": 0, "accuracy": 5, "tone": 4}) is None

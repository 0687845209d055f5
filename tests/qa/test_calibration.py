"""Calibration maths: Krippendorff's alpha (interval) against a hand computation and an
independent implementation of its definition, the consensus, spreads and reviewer deviations."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from servicepulse.qa.calibration import (
    CalibrationReview,
    Rating,
    calibrate,
    interval_alpha,
)

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _review(n: int, interaction: str, reviewer: str, iqs: float, **categories: float,
            ) -> CalibrationReview:
    return CalibrationReview(f"r{n}", interaction, reviewer, T0 + timedelta(minutes=n), iqs,
                             dict(categories))


def reference_alpha(ratings: list[Rating]) -> float:
    """Krippendorff's alpha, interval metric, straight from its definition (Krippendorff
    2011, "Computing Krippendorff's alpha-reliability", section C): 1 - D_o / D_e over the
    pairable values (those of units with at least two values)."""
    units: dict[str, list[float]] = {}
    for rating in ratings:
        units.setdefault(rating.interaction_id, []).append(rating.value)
    pairable = {unit: values for unit, values in units.items() if len(values) >= 2}
    every = [v for values in pairable.values() for v in values]
    n = len(every)
    observed = sum(sum((a - b) ** 2 for a, b in itertools.permutations(values, 2))
                   / (len(values) - 1) for values in pairable.values()) / n
    expected = sum((a - b) ** 2 for a, b in itertools.permutations(every, 2)) / (n * (n - 1))
    return 1 - observed / expected


def test_alpha_worked_out_by_hand() -> None:
    # reviewers A and B over three interactions: A 80, 60, 100; B 70, 60, 90.
    # D_o = (2*10² + 0 + 2*10²) / 6 = 66.67; the six values sum to 460, their squares to
    # 36600, so the ordered pairs' squared differences sum to 2*(6*36600 - 460²) = 16000 and
    # D_e = 16000 / 30 = 533.33; alpha = 1 - 66.67/533.33 = 0.875
    ratings = [Rating("i1", "A", 80), Rating("i2", "A", 60), Rating("i3", "A", 100),
               Rating("i1", "B", 70), Rating("i2", "B", 60), Rating("i3", "B", 90)]
    agreement = interval_alpha(ratings)
    assert agreement.alpha == pytest.approx(0.875)
    assert agreement.pairable == 6


def test_alpha_matches_an_independent_implementation_with_missing_reviews() -> None:
    rng = random.Random(18)
    ratings = []
    for unit in range(12):
        truth = rng.uniform(40, 100)
        for reviewer in ("ann", "bob", "cat", "dan"):
            if rng.random() < 0.7:  # not everyone reviews everything
                ratings.append(Rating(f"i{unit}", reviewer, round(truth + rng.gauss(0, 8), 1)))
    ratings.append(Rating("lonely", "ann", 10.0))  # one review only: not pairable
    agreement = interval_alpha(ratings)
    assert agreement.alpha == pytest.approx(reference_alpha(ratings), abs=1e-9)
    assert 0.5 < agreement.alpha < 1  # noisy reviewers who mostly agree


def test_alpha_is_undefined_without_pairs_or_variation() -> None:
    alone = interval_alpha([Rating("i1", "A", 80), Rating("i2", "B", 70)])
    assert alone.alpha is None and alone.pairable == 0
    assert "two reviewers" in (alone.note or "")
    same = interval_alpha([Rating("i1", "A", 80), Rating("i1", "B", 80)])
    assert same.alpha is None and same.pairable == 2
    assert interval_alpha([]).alpha is None


def test_report_per_interaction_reviewer_and_category() -> None:
    reviews = [
        _review(1, "i1", "A", 80, tone=100, accuracy=50),
        _review(2, "i2", "A", 60, tone=50, accuracy=50),
        _review(3, "i3", "A", 100, tone=100, accuracy=100),
        _review(4, "i1", "B", 70, tone=50, accuracy=50),
        _review(5, "i2", "B", 60, tone=50, accuracy=50),
        _review(6, "i3", "B", 90, tone=100, accuracy=100),
        # B's first look at i3, replaced by the later review above
        CalibrationReview("r0", "i3", "B", T0, 10, {"tone": 0, "accuracy": 0}),
        _review(7, "i4", "C", 55, tone=50, accuracy=50),  # nobody else reviewed i4
    ]
    report = calibrate(reviews, agents={"i1": "a1"})
    assert report.reviews == 7
    assert report.alpha == pytest.approx(0.875)  # i4 is not pairable: as the hand example
    rows = {row.interaction_id: row for row in report.interactions}
    assert rows["i1"].consensus == 75 and rows["i1"].spread == 10
    assert rows["i1"].agent_id == "a1" and rows["i2"].agent_id is None
    assert rows["i3"].iqs == {"A": 100, "B": 90}
    assert rows["i4"].reviews == 1 and rows["i4"].spread == 0
    graders = {row.reviewer_id: row for row in report.reviewers}
    # consensus 75, 60, 95: A is +5, 0, +5 from it and B -5, 0, -5
    assert graders["A"].mean_deviation == pytest.approx(10 / 3)
    assert graders["B"].mean_deviation == pytest.approx(-10 / 3)
    assert graders["B"].mean_absolute_deviation == pytest.approx(10 / 3)
    assert graders["C"].compared == 0 and graders["C"].mean_deviation is None
    by_category = {row.category: row for row in report.categories}
    assert by_category["accuracy"].alpha == pytest.approx(1.0)  # the same everywhere paired
    tone = [Rating(r.interaction_id, r.reviewer_id, r.categories["tone"])
            for r in reviews if r.review_id not in ("r0",)]
    assert by_category["tone"].alpha == pytest.approx(reference_alpha(
        [t for t in tone if t.interaction_id != "i4"]))
    document = report.model_dump(mode="json")
    assert "from" in document and "alpha" in document

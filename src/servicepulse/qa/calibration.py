"""Calibration: do the reviewers grade alike?

Several reviewers review the same interactions with `calibration: true` (those reviews never
count in the `iqs` KPI). This module says how far apart they are:

- per interaction, each reviewer's IQS, the consensus (the mean of the reviewers' IQS) and
  the spread (highest minus lowest);
- per reviewer ("grade the grader"), the mean deviation from the consensus over the
  interactions that at least one other reviewer also reviewed: signed (above 0: grades more
  generously than the others) and absolute;
- the agreement as Krippendorff's alpha with the interval metric over the matrix reviewers x
  interactions (the `krippendorff` package): 1 is perfect agreement, 0 agreement no better
  than chance, below 0 systematic disagreement. Also per category, on the category's scores
  as 0-100 of its scale.

Alpha needs at least one interaction with two reviews and some variation among the values;
otherwise it is None with a note saying why. When a reviewer reviewed an interaction twice,
their latest review counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import krippendorff
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Engine, select, true

from servicepulse.store.tables import interactions, qa_review_scores, qa_reviews


@dataclass(frozen=True)
class CalibrationReview:
    """One calibration review as calibration needs it."""

    review_id: str
    interaction_id: str
    reviewer_id: str
    at: datetime
    iqs: float
    categories: dict[str, float] = field(default_factory=dict)  # category -> 0-100


@dataclass(frozen=True)
class Rating:
    """One reviewer's value for one interaction (a review's IQS, or one category's score)."""

    interaction_id: str
    reviewer_id: str
    value: float


class Agreement(BaseModel):
    alpha: float | None
    pairable: int  # values in interactions with at least two reviews
    note: str | None = None  # why alpha is None


def interval_alpha(ratings: Iterable[Rating]) -> Agreement:
    """Krippendorff's alpha, interval metric, of the ratings (reviewers x interactions)."""
    ratings = list(ratings)
    reviewers = sorted({r.reviewer_id for r in ratings})
    units = sorted({r.interaction_id for r in ratings})
    matrix = np.full((len(reviewers), len(units)), np.nan)
    row = {reviewer: i for i, reviewer in enumerate(reviewers)}
    column = {unit: j for j, unit in enumerate(units)}
    for rating in ratings:
        matrix[row[rating.reviewer_id], column[rating.interaction_id]] = rating.value
    per_unit = (~np.isnan(matrix)).sum(axis=0) if ratings else np.zeros(0)
    pairable = int(per_unit[per_unit >= 2].sum())
    if pairable == 0:
        return Agreement(alpha=None, pairable=0,
                         note="no interaction has reviews by two reviewers")
    values = matrix[:, per_unit >= 2]
    values = values[~np.isnan(values)]
    if np.ptp(values) == 0:
        return Agreement(alpha=None, pairable=pairable,
                         note="every review gave the same value: agreement is undefined")
    alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval"))
    return Agreement(alpha=alpha, pairable=pairable)


class InteractionCalibration(BaseModel):
    interaction_id: str
    agent_id: str | None = None
    reviews: int
    iqs: dict[str, float]  # reviewer -> IQS
    consensus: float
    spread: float


class ReviewerCalibration(BaseModel):
    reviewer_id: str
    reviews: int  # calibration reviews counted (the latest per interaction)
    compared: int  # of which on interactions another reviewer also reviewed
    mean_deviation: float | None  # signed: above 0 grades more generously than the consensus
    mean_absolute_deviation: float | None


class CategoryAgreement(BaseModel):
    category: str
    alpha: float | None
    pairable: int
    note: str | None = None


class CalibrationReport(BaseModel):
    """`servicepulse qa calibration` and GET /api/v1/qa/calibration (keys "from", "to")."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    form: str | None = None
    reviews: int
    alpha: float | None
    alpha_note: str | None = None
    pairable: int
    categories: list[CategoryAgreement]
    interactions: list[InteractionCalibration]
    reviewers: list[ReviewerCalibration]


def latest_per_reviewer(reviews: Iterable[CalibrationReview]) -> list[CalibrationReview]:
    """One review per (interaction, reviewer): the latest (then the highest id)."""
    kept: dict[tuple[str, str], CalibrationReview] = {}
    for review in reviews:
        key = (review.interaction_id, review.reviewer_id)
        earlier = kept.get(key)
        if earlier is None or (review.at, review.review_id) > (earlier.at, earlier.review_id):
            kept[key] = review
    return list(kept.values())


def calibrate(reviews: Sequence[CalibrationReview],
              agents: dict[str, str | None] | None = None) -> CalibrationReport:
    """The calibration report of these (calibration) reviews; `agents` names each
    interaction's agent, for the report."""
    kept = latest_per_reviewer(reviews)
    by_interaction: dict[str, dict[str, float]] = defaultdict(dict)
    for review in kept:
        by_interaction[review.interaction_id][review.reviewer_id] = review.iqs
    interactions = []
    consensus: dict[str, float] = {}
    for interaction_id in sorted(by_interaction):
        scores = by_interaction[interaction_id]
        consensus[interaction_id] = math.fsum(scores.values()) / len(scores)
        interactions.append(InteractionCalibration(
            interaction_id=interaction_id, agent_id=(agents or {}).get(interaction_id),
            reviews=len(scores), iqs=dict(sorted(scores.items())),
            consensus=consensus[interaction_id],
            spread=max(scores.values()) - min(scores.values())))
    deviations: dict[str, list[float]] = defaultdict(list)
    counted: dict[str, int] = defaultdict(int)
    for review in kept:
        counted[review.reviewer_id] += 1
        if len(by_interaction[review.interaction_id]) >= 2:
            deviations[review.reviewer_id].append(review.iqs - consensus[review.interaction_id])
    reviewers = [ReviewerCalibration(
        reviewer_id=reviewer, reviews=counted[reviewer], compared=len(deviations[reviewer]),
        mean_deviation=(math.fsum(deviations[reviewer]) / len(deviations[reviewer])
                        if deviations[reviewer] else None),
        mean_absolute_deviation=(math.fsum(abs(d) for d in deviations[reviewer])
                                 / len(deviations[reviewer]) if deviations[reviewer] else None))
        for reviewer in sorted(counted)]
    overall = interval_alpha(Rating(r.interaction_id, r.reviewer_id, r.iqs) for r in kept)
    categories = []
    for name in sorted({name for review in kept for name in review.categories}):
        agreement = interval_alpha(Rating(r.interaction_id, r.reviewer_id, r.categories[name])
                                   for r in kept if name in r.categories)
        categories.append(CategoryAgreement(category=name, **agreement.model_dump()))
    return CalibrationReport(reviews=len(kept), alpha=overall.alpha, alpha_note=overall.note,
                             pairable=overall.pairable, categories=categories,
                             interactions=interactions, reviewers=reviewers)


def calibration_report(engine: Engine, from_: date | None = None, to: date | None = None,
                       form_id: str | None = None,
                       scope: ColumnElement[bool] | None = None) -> CalibrationReport:
    """The report over the stored calibration reviews whose `at` is in [from_, to) (UTC days;
    either open), of one form if given; `scope` (a clause on `interactions`) keeps the
    conversations the caller may see."""
    query = (select(qa_reviews.c.id, qa_reviews.c.interaction_id, qa_reviews.c.reviewer_id,
                    qa_reviews.c.at, qa_reviews.c.iqs, interactions.c.agent_id)
             .join(interactions, interactions.c.id == qa_reviews.c.interaction_id)
             .where(qa_reviews.c.calibration == true()))
    if from_ is not None:
        query = query.where(qa_reviews.c.at >= _epoch(from_))
    if to is not None:
        query = query.where(qa_reviews.c.at < _epoch(to))
    if form_id is not None:
        query = query.where(qa_reviews.c.form_id == form_id)
    if scope is not None:
        query = query.where(scope)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        percents: dict[str, dict[str, float]] = defaultdict(dict)
        ids = [str(row.id) for row in rows]
        for start in range(0, len(ids), 900):  # well under every backend's parameter limit
            for score in connection.execute(
                    select(qa_review_scores.c.review_id, qa_review_scores.c.category,
                           qa_review_scores.c.percent)
                    .where(qa_review_scores.c.review_id.in_(ids[start:start + 900]))):
                percents[str(score.review_id)][str(score.category)] = float(score.percent)
    reviews = [CalibrationReview(str(row.id), str(row.interaction_id), str(row.reviewer_id),
                                 datetime.fromtimestamp(float(row.at), UTC), float(row.iqs),
                                 percents.get(str(row.id), {})) for row in rows]
    report = calibrate(reviews, {str(row.interaction_id): row.agent_id for row in rows})
    return report.model_copy(update={"from_": None if from_ is None else from_.isoformat(),
                                     "to": None if to is None else to.isoformat(),
                                     "form": form_id})


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()

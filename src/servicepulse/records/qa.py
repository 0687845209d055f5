"""The internal quality score (IQS) of one QA review, and whether a review fits its form.

Here, in the records layer, because the importer needs both: it refuses a review that does not
fit its form (quarantined with field and reason), and stores each review's IQS and normalised
category scores beside it, so that every KPI engine reads plain numbers instead of JSON.
Feature code (`servicepulse.qa`, scorecards) uses the same functions.

One review's IQS (docs/qa.md): 0 when any critical category scores its scale minimum;
otherwise 100 × Σ weight × (score − min) / (max − min) / Σ weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from servicepulse.records.models import QaCategory


@dataclass(frozen=True, slots=True)
class ScoreProblem:
    """Why a review's scores do not fit its form: the field (`scores.<category>`) and why."""

    field: str
    reason: str


def _categories(categories: Iterable[QaCategory | Mapping[str, Any]]) -> list[QaCategory]:
    # the store keeps a form's categories as JSON: mappings, validated again here
    return [c if isinstance(c, QaCategory) else QaCategory.model_validate(c) for c in categories]


def score_problems(form_id: str, categories: Iterable[QaCategory | Mapping[str, Any]],
                   scores: Mapping[str, float]) -> list[ScoreProblem]:
    """Every way `scores` does not fit the form's categories: a score for a category the form
    does not have, a category left unscored, a score outside its category's scale."""
    form = _categories(categories)
    names = [c.name for c in form]
    problems = [ScoreProblem(f"scores.{name}", f"form {form_id!r} has no category {name!r}; "
                             f"its categories are {', '.join(names)}")
                for name in scores if name not in names]
    for category in form:
        if category.name not in scores:
            problems.append(ScoreProblem(f"scores.{category.name}",
                                         f"missing: form {form_id!r} scores every category "
                                         f"({', '.join(names)})"))
            continue
        score = scores[category.name]
        if not category.scale_min <= score <= category.scale_max:
            problems.append(ScoreProblem(f"scores.{category.name}",
                                         f"{score:g} is outside the category's scale "
                                         f"{category.scale_min:g}–{category.scale_max:g}"))
    return problems


def score_problem(form_id: str, categories: Iterable[QaCategory | Mapping[str, Any]],
                  scores: Mapping[str, float]) -> ScoreProblem | None:
    """The first of `score_problems` (what the importer quarantines a review with), or None:
    every category scored, within its scale, and no score for a category the form does not
    have."""
    problems = score_problems(form_id, categories, scores)
    return problems[0] if problems else None


def category_percent(category: QaCategory, score: float) -> float:
    """A category's score on 0–100: 0 at its scale minimum, 100 at its maximum."""
    return 100.0 * (score - category.scale_min) / (category.scale_max - category.scale_min)


def review_iqs(categories: Iterable[QaCategory | Mapping[str, Any]],
               scores: Mapping[str, float]) -> float:
    """One review's IQS, 0–100, over the form's categories the review scores (all of them,
    for a review the importer accepted). A category left unscored counts neither way (a form
    changed after its reviews were written)."""
    scored = [c for c in _categories(categories) if c.name in scores]
    if not scored:
        raise ValueError("the review scores none of the form's categories")
    if any(c.critical and scores[c.name] <= c.scale_min for c in scored):
        return 0.0
    total_weight = sum(c.weight for c in scored)
    return sum(c.weight * category_percent(c, scores[c.name]) for c in scored) / total_weight


def category_percents(categories: Iterable[QaCategory | Mapping[str, Any]],
                      scores: Mapping[str, float]) -> dict[str, float]:
    """Each scored category's score on 0–100 (what `iqs_<category>` averages)."""
    return {c.name: category_percent(c, scores[c.name])
            for c in _categories(categories) if c.name in scores}

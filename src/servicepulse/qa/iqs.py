"""The internal quality score for feature code (pages, calibration, coaching).

The arithmetic is in the records layer (`servicepulse.records.qa`) because the importer needs
it below this layer; this module names it where QA features look for it.
"""

from servicepulse.records.qa import (
    ScoreProblem,
    category_percent,
    category_percents,
    review_iqs,
    score_problem,
)

__all__ = ["ScoreProblem", "category_percent", "category_percents", "review_iqs",
           "score_problem"]

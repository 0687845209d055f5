"""QA reviews at import: each review must fit its form and name a known interaction.

A review is only meaningful against its form (which categories, which scales), so unlike other
references a review's form and interaction must be known when it is imported (in the same
batch or earlier): otherwise it is quarantined, with the field and reason, and `quarantine
retry` imports it once they are. The importer also derives, from the form, each review's IQS
(`qa_reviews.iqs`) and its category scores on 0-100 (`qa_review_scores`), and derives them
again for the stored reviews of a form that changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from servicepulse.ingest.driver import Driver
from servicepulse.ingest.sources import SourceRow
from servicepulse.records.qa import category_percents, review_iqs, score_problem
from servicepulse.records.validate import RecordError
from servicepulse.store import tables


def _json(value: Any) -> Any:
    # SQLite's driver returns JSON columns read by raw SQL as text; psycopg decodes them
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _forms(connection: Connection, form_ids: Sequence[str]) -> dict[str, list[Any]]:
    rows = Driver(connection).select_where_in(tables.qa_forms, ("id", "categories"), "id",
                                              form_ids)
    return {str(key): _json(categories) for key, categories in rows}


def fitting_reviews(connection: Connection, incoming: dict[str, dict[str, Any]],
                    sources: dict[str, SourceRow],
                    ) -> tuple[dict[str, dict[str, Any]], list[tuple[SourceRow, RecordError]]]:
    """The reviews that fit their stored form and interaction, each given its `iqs`; and the
    others, with why."""
    forms = _forms(connection, sorted({row["form_id"] for row in incoming.values()}))
    known = {str(key) for (key,) in Driver(connection).select_where_in(
        tables.interactions, ("id",), "id",
        sorted({row["interaction_id"] for row in incoming.values()}))}
    fitting: dict[str, dict[str, Any]] = {}
    misfits: list[tuple[SourceRow, RecordError]] = []
    for key, row in incoming.items():
        error: RecordError | None = None
        categories = forms.get(row["form_id"])
        if categories is None:
            error = RecordError("form_id", f"unknown qa_form {row['form_id']!r}: import the "
                                "form first (or in the same file), then `servicepulse "
                                "quarantine retry`", "qa_review", key)
        elif row["interaction_id"] not in known:
            error = RecordError("interaction_id", f"unknown interaction "
                                f"{row['interaction_id']!r}: import it first (or in the same "
                                "file), then `servicepulse quarantine retry`", "qa_review", key)
        else:
            problem = score_problem(row["form_id"], categories, row["scores"])
            if problem is not None:
                error = RecordError(problem.field, problem.reason, "qa_review", key)
        if error is None and categories is not None:
            fitting[key] = {**row, "iqs": review_iqs(categories, row["scores"])}
        elif error is not None:
            misfits.append((sources[key], error))
    return fitting, misfits


def write_review_scores(connection: Connection, reviews: Sequence[dict[str, Any]]) -> None:
    """(Re)write the category scores of reviews just written (each holds its `form_id`)."""
    if not reviews:
        return
    forms = _forms(connection, sorted({row["form_id"] for row in reviews}))
    driver = Driver(connection)
    driver.delete_where_in(tables.qa_review_scores, "review_id", [row["id"] for row in reviews])
    scores = [{"review_id": row["id"], "category": name, "percent": percent}
              for row in reviews if (categories := forms.get(row["form_id"])) is not None
              for name, percent in category_percents(categories, row["scores"]).items()]
    if scores:
        driver.insert(tables.qa_review_scores, scores)


def rescore_reviews(connection: Connection, form_ids: Sequence[str]) -> None:
    """Derive again the IQS and category scores of the stored reviews of changed forms."""
    driver = Driver(connection)
    stored = [{"id": key, "form_id": form_id, "scores": _json(scores)}
              for key, form_id, scores in driver.select_where_in(
                  tables.qa_reviews, ("id", "form_id", "scores"), "form_id", form_ids)]
    if not stored:
        return
    forms = _forms(connection, form_ids)
    updates = []
    for row in stored:
        categories = forms[row["form_id"]]
        names = {category["name"] for category in categories}
        if names.intersection(row["scores"]):  # else nothing left to score: the IQS stands
            updates.append({"id": row["id"], "iqs": review_iqs(categories, row["scores"])})
    if updates:
        driver.update(tables.qa_reviews, updates)
    write_review_scores(connection, stored)

"""QA forms and reviews through the importer on both stores: a review that does not fit its
form, or names a form or interaction not stored, is quarantined with field and reason."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine, select

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.store import tables

FORM = {"type": "qa_form", "id": "f1", "name": "Chat", "categories": [
    {"name": "greeting", "weight": 1, "scale_max": 4},
    {"name": "accuracy", "weight": 3, "scale_min": 1, "scale_max": 5, "critical": True}]}
REVIEW = {"type": "qa_review", "interaction_id": "i1", "reviewer_id": "lead", "form_id": "f1",
          "at": "2026-03-02T10:00:00Z"}
LINES = [
    {"type": "agent", "id": "a1", "name": "Sam", "role": "frontline"},
    {"type": "interaction", "id": "i1", "channel": "chat", "agent_id": "a1",
     "created_at": "2026-03-02T09:00:00Z"},
    # reviews before their form in the file: the batch writes forms first
    {**REVIEW, "id": "r1", "scores": {"greeting": 3, "accuracy": 4}},  # line 3
    FORM,
    {**REVIEW, "id": "r2", "scores": {"greeting": 3, "accuracy": 1}},
    {**REVIEW, "id": "r3", "interaction_id": "i9", "scores": {"greeting": 3, "accuracy": 1}},
    {**REVIEW, "id": "r4", "form_id": "f9", "scores": {"greeting": 3, "accuracy": 1}},
    {**REVIEW, "id": "r5", "scores": {"greeting": 3}},
    {**REVIEW, "id": "r6", "scores": {"greeting": 3, "accuracy": 1, "tone": 2}},
    {**REVIEW, "id": "r7", "scores": {"greeting": 5, "accuracy": 1}},
    {**REVIEW, "id": "r8", "scores": {"greeting": 4, "accuracy": 0.5}},
]


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return path


def test_reviews_are_checked_against_their_form_and_interaction(store: Engine,
                                                                 tmp_path: Path) -> None:
    path = _write(tmp_path / "qa.jsonl", LINES)
    summary = import_rows(store, read_paths([path]))
    assert summary.as_json()["inserted"] == {"agent": 1, "interaction": 1, "qa_form": 1,
                                             "qa_review": 2}
    with store.connect() as connection:
        quarantined = connection.execute(
            select(tables.quarantine.c.line, tables.quarantine.c.kind,
                   tables.quarantine.c.record_id, tables.quarantine.c.field,
                   tables.quarantine.c.reason).order_by(tables.quarantine.c.line)).all()
        reviews = connection.execute(
            select(tables.qa_reviews.c.id, tables.qa_reviews.c.iqs,
                   tables.qa_reviews.c.scores).order_by(tables.qa_reviews.c.id)).all()
        scores = connection.execute(
            select(tables.qa_review_scores).order_by(tables.qa_review_scores.c.review_id,
                                                     tables.qa_review_scores.c.category)).all()
    assert [tuple(row) for row in quarantined] == [
        (6, "qa_review", "r3", "interaction_id",
         "unknown interaction 'i9': import it first (or in the same file), then "
         "`servicepulse quarantine retry`"),
        (7, "qa_review", "r4", "form_id",
         "unknown qa_form 'f9': import the form first (or in the same file), then "
         "`servicepulse quarantine retry`"),
        (8, "qa_review", "r5", "scores.accuracy",
         "missing: form 'f1' scores every category (greeting, accuracy)"),
        (9, "qa_review", "r6", "scores.tone",
         "form 'f1' has no category 'tone'; its categories are greeting, accuracy"),
        (10, "qa_review", "r7", "scores.greeting", "5 is outside the category's scale 0–4"),
        (11, "qa_review", "r8", "scores.accuracy", "0.5 is outside the category's scale 1–5"),
    ]
    # r1: greeting 3/4 = 75, accuracy (4 - 1) / 4 = 75; r2: accuracy (critical) at its minimum
    assert [tuple(row) for row in reviews] == [
        ("r1", 75.0, {"greeting": 3.0, "accuracy": 4.0}),
        ("r2", 0.0, {"greeting": 3.0, "accuracy": 1.0})]
    assert [tuple(row) for row in scores] == [
        ("r1", "accuracy", 75.0), ("r1", "greeting", 75.0),
        ("r2", "accuracy", 0.0), ("r2", "greeting", 75.0)]
    # importing again changes nothing and quarantines nothing twice
    again = import_rows(store, read_paths([path]))
    assert again.as_json()["unchanged"] == {"agent": 1, "interaction": 1, "qa_form": 1,
                                            "qa_review": 2}
    with store.connect() as connection:
        assert len(connection.execute(select(tables.quarantine.c.id)).all()) == 6


def test_a_review_imports_once_its_interaction_arrives(store: Engine, tmp_path: Path) -> None:
    early = _write(tmp_path / "early.jsonl", [FORM, {**REVIEW, "id": "r1",
                                                     "scores": {"greeting": 4, "accuracy": 5}}])
    assert import_rows(store, read_paths([early])).quarantined == 1
    late = _write(tmp_path / "late.jsonl", [
        {"type": "interaction", "id": "i1", "channel": "chat",
         "created_at": "2026-03-02T09:00:00Z"},
        {**REVIEW, "id": "r1", "scores": {"greeting": 4, "accuracy": 5}}])
    summary = import_rows(store, read_paths([late]))
    assert summary.as_json()["inserted"] == {"interaction": 1, "qa_review": 1}
    with store.connect() as connection:
        # the review that now imports releases its quarantined version
        assert connection.execute(select(tables.quarantine.c.id)).all() == []
        assert connection.execute(select(tables.qa_reviews.c.iqs)).scalar_one() == 100.0


def test_a_changed_review_rewrites_its_category_scores(sqlite_store: Engine,
                                                       tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", LINES[:5])
    import_rows(sqlite_store, read_paths([first]))
    changed = _write(tmp_path / "b.jsonl", [{**REVIEW, "id": "r1",
                                             "scores": {"greeting": 1, "accuracy": 2}}])
    assert import_rows(sqlite_store, read_paths([changed])).as_json()["updated"] == \
        {"qa_review": 1}
    with sqlite_store.connect() as connection:
        scores = dict(connection.execute(
            select(tables.qa_review_scores.c.category, tables.qa_review_scores.c.percent)
            .where(tables.qa_review_scores.c.review_id == "r1")).all())
        iqs = connection.execute(select(tables.qa_reviews.c.iqs)
                                 .where(tables.qa_reviews.c.id == "r1")).scalar_one()
    assert scores == {"greeting": 25.0, "accuracy": 25.0}
    assert iqs == 25.0

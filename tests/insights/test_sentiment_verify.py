"""`verify` of the sentiment scores: every customer text has one row with its current hash
and attribution and the score `score_text` gives; no orphan rows. Corruptions made directly
in the store are reported exactly and repaired, on SQLite and PostgreSQL.

Fixture tests/fixtures/store/verify.jsonl: customer texts e1 (i1, chat, a1, 2026-03-02, "Thank
you, this is great!": VADER compound 0.6588 with the support lexicon), e3 (i2, email, a1,
2026-03-02, "This is terrible and I am angry.": -0.7506) and the comment of survey s1
(2026-03-03); e2 is an agent's message, not a customer text.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select, update

from servicepulse.insights import sentiment_verify
from servicepulse.insights.tables import text_sentiment, text_sentiment_pending
from servicepulse.store import tables
from servicepulse.store.derived import DerivedCheck, Difference, run_checks
from tests.conftest import FIXTURES
from tests.kpi.helpers import load

CHECKS: list[DerivedCheck] = [sentiment_verify.CHECK]
VERIFY = FIXTURES / "store" / "verify.jsonl"


def test_a_clean_import_verifies_clean(store: Engine) -> None:
    load(store, VERIFY)
    report = run_checks(store, CHECKS)
    assert report.consistent and report.kinds[0].found.checked == 3


def test_corruptions_are_found_exactly_and_repaired(store: Engine) -> None:
    load(store, VERIFY)
    ts = text_sentiment
    with store.connect() as connection:
        e1 = dict(connection.execute(select(ts).where(ts.c.source_id == "e1")).mappings().one())
        s1_hash: str = connection.execute(select(tables.surveys.c.content_hash).where(
            tables.surveys.c.id == "s1")).scalar_one()
    with store.begin() as connection:
        connection.execute(delete(ts).where(ts.c.source_id == "e1"))
        connection.execute(update(ts).where(ts.c.source_id == "e3").values(score=0.5))
        connection.execute(update(ts).where(ts.c.source_id == "s1").values(source_hash="x"))
        # an agent's message is no customer text: its row is an orphan
        connection.execute(insert(ts).values({**e1, "source_id": "e2", "score": 0.0,
                                              "label": "neutral"}))
        connection.execute(insert(ts).values({**e1, "source_kind": "fax", "source_id": "f1"}))
    found = run_checks(store, CHECKS).kinds[0].found.differences
    assert sorted(found, key=lambda item: (item.group, item.detail)) == [
        Difference("sentiment", "2026-03-02", "event:e1", None,
                   {"label": "positive", "score": 0.6588}, "row missing"),
        Difference("sentiment", "2026-03-02", "event:e2", {"label": "neutral", "score": 0.0},
                   None, "row the records do not give"),
        Difference("sentiment", "2026-03-02", "event:e3", 0.5, -0.7506, "score"),
        Difference("sentiment", "2026-03-02", "fax:f1", {"label": "positive", "score": 0.6588},
                   None, "row the records do not give"),
        Difference("sentiment", "2026-03-03", "survey:s1", "x", s1_hash, "source_hash"),
    ]
    report = run_checks(store, CHECKS, repair=True)
    assert report.consistent and report.kinds[0].repaired == 5
    with store.connect() as connection:
        assert sorted(tuple(row) for row in connection.execute(
            select(ts.c.source_kind, ts.c.source_id, ts.c.score))) == [
                ("event", "e1", 0.6588), ("event", "e3", -0.7506), ("survey", "s1", 0.4754)]


def test_a_text_marked_for_scoring_is_pending_and_scored(store: Engine) -> None:
    load(store, VERIFY)
    ts = text_sentiment
    with store.begin() as connection:  # as an import killed before its after-import work
        connection.execute(delete(ts).where(ts.c.source_id == "e3"))
        connection.execute(insert(text_sentiment_pending).values(kind="event", id="e3",
                                                                 version=1))
    found = run_checks(store, CHECKS).kinds[0].found.differences
    # the missing row is the mark's to do, not a difference of its own
    assert found == [Difference(
        "sentiment", None, "event:e3", None, None,
        "pending scoring (text_sentiment_pending): marked by an import", pending=True)]
    assert run_checks(store, CHECKS, repair=True).consistent
    with store.connect() as connection:
        assert connection.execute(select(text_sentiment_pending)).all() == []
        assert connection.execute(select(ts.c.score).where(ts.c.source_id == "e3")
                                  ).scalar_one() == -0.7506

"""Sentiment: VADER labels, unscored languages, the incremental store pass and the KPI."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine, select

from servicepulse.ingest.importer import import_rows
from servicepulse.ingest.readers import read_paths
from servicepulse.ingest.sources import SourceRow
from servicepulse.insights.sentiment import Label, label_for, score_text, score_texts
from servicepulse.insights.tables import text_sentiment
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "insights" / "sentiment.jsonl"


@pytest.mark.parametrize("text", [
    "Thank you so much, the agent was wonderful and solved everything!",
    "Great service, very helpful and friendly :)",
    "I love how fast you fixed this, excellent work",
])
def test_clearly_positive(text: str) -> None:
    result = score_text(text)
    assert result.language == "en"
    assert result.label is Label.positive


@pytest.mark.parametrize("text", [
    "This is terrible, I am furious and nobody helps me.",
    "Worst support ever, a total waste of my time",
    "I hate this app, it is broken and useless",
])
def test_clearly_negative(text: str) -> None:
    assert score_text(text).label is Label.negative


@pytest.mark.parametrize("text", [
    "I changed my address last week.",
    "The parcel was sent on Tuesday to the office address.",
])
def test_neutral(text: str) -> None:
    result = score_text(text)
    assert result.label is Label.neutral
    assert result.score is not None and -0.05 < result.score < 0.05


@pytest.mark.parametrize("text", [
    "Muchas gracias por la ayuda tan rápida con mi pedido",  # positive in Spanish
    "Das ist eine Katastrophe, ich bin wirklich wütend",  # negative in German
])
def test_non_english_is_unscored_not_neutral(text: str) -> None:
    result = score_text(text)
    assert result.language != "en"
    assert result.score is None
    assert result.label is Label.unscored


def test_label_thresholds() -> None:
    # VADER's published cut-offs: >= 0.05 positive, <= -0.05 negative.
    assert label_for(0.05) is Label.positive
    assert label_for(0.0499) is Label.neutral
    assert label_for(-0.05) is Label.negative
    assert label_for(None) is Label.unscored


# --- the store pass ----------------------------------------------------------------------


def stored(engine: Engine) -> dict[tuple[str, str], dict[str, object]]:
    with engine.connect() as connection:
        rows = connection.execute(select(text_sentiment)).mappings().all()
    return {(row["source_kind"], row["source_id"]): dict(row) for row in rows}


def test_import_scores_customer_texts(store: Engine) -> None:
    import_rows(store, read_paths([FIXTURE]))  # the import hook scores as it goes
    rows = stored(store)
    labels = {key: row["label"] for key, row in rows.items()}
    # Customer texts only: e2 is the agent's, e5 is blank, s3 has no comment.
    assert labels == {
        ("event", "e1"): "positive", ("event", "e3"): "negative",
        ("event", "e4"): "unscored",  # interaction i2 says language "de"
        ("event", "e6"): "neutral",  # kind customer_message without an actor
        ("survey", "s1"): "positive", ("survey", "s2"): "unscored",  # French
        ("social_mention", "m1"): "negative", ("social_mention", "m2"): "unscored",  # Spanish
    }
    assert rows[("event", "e4")]["score"] is None
    assert rows[("event", "e4")]["language"] == "de"
    assert rows[("survey", "s2")]["language"] == "fr"
    # Attribution: the interaction's channel and agent; a survey's own agent; mentions social.
    assert (rows[("event", "e1")]["channel"], rows[("event", "e1")]["agent_id"]) == ("chat", "a1")
    assert (rows[("survey", "s2")]["channel"], rows[("survey", "s2")]["agent_id"]) == (None, "a2")
    assert (rows[("social_mention", "m1")]["channel"],
            rows[("social_mention", "m1")]["agent_id"]) == ("social", "a1")
    assert rows[("social_mention", "m2")]["interaction_id"] is None


def test_the_pass_is_incremental(store: Engine) -> None:
    import_rows(store, read_paths([FIXTURE]))
    with store.begin() as connection:
        assert score_texts(connection).texts == 0  # nothing new since the import hook
    before = stored(store)
    # e3 becomes friendly, e6 turns out to be the agent's, the interaction i3 moves to a2.
    changed = [
        {"type": "event", "id": "e3", "interaction_id": "i1", "at": "2026-03-02T09:03:00Z",
         "kind": "customer_message", "actor": "customer", "body": "All good now, thanks a lot!"},
        {"type": "event", "id": "e6", "interaction_id": "i3", "at": "2026-03-03T11:02:00Z",
         "kind": "agent_message", "actor": "agent", "body": "Where is my parcel?"},
        {"type": "interaction", "id": "i3", "channel": "phone",
         "created_at": "2026-03-03T11:00:00Z", "agent_id": "a2", "customer_id": "c3"},
    ]
    import_rows(store, [SourceRow("test", n, row, json.dumps(row))
                        for n, row in enumerate(changed, 1)])
    after = stored(store)
    assert after[("event", "e3")]["label"] == "positive"
    assert ("event", "e6") not in after  # no longer a customer text
    assert after[("social_mention", "m1")]["agent_id"] == "a2"  # follows its interaction
    untouched = ("event", "e1")
    assert after[untouched]["scored_at"] == before[untouched]["scored_at"]
    with store.begin() as connection:
        assert score_texts(connection).texts == 0
        assert score_texts(connection, rescore=True).texts == 7


def test_full_pass_scores_texts_imported_without_the_hook(sqlite_store: Engine) -> None:
    import_rows(sqlite_store, read_paths([FIXTURE]))
    with sqlite_store.begin() as connection:
        connection.execute(text_sentiment.delete())
        summary = score_texts(connection)
    assert summary.scored == {"positive": 2, "negative": 2, "neutral": 1, "unscored": 3}
    with sqlite_store.begin() as connection, pytest.raises(ValueError, match="unknown text"):
        score_texts(connection, sources={"order": {"o1"}})


# --- the KPI through the engine ------------------------------------------------------------


def sentiment_rows(engine: Engine, by: list[str]) -> list[dict[str, object]]:
    from servicepulse.kpi.engine import run_kpi_query
    from servicepulse.kpi.query import KpiQuery

    document = run_kpi_query(engine, KpiQuery.model_validate(
        {"by": by, "from": date(2026, 3, 2), "to": date(2026, 3, 4), "kpis": ["sentiment"]}))
    return [{**row["group"], **row["kpis"]["sentiment"]} for row in document["rows"]]


def test_sentiment_kpi(store: Engine) -> None:
    import_rows(store, read_paths([FIXTURE]))
    (overall,) = sentiment_rows(store, [])
    # Scored texts and their VADER compound scores (vaderSentiment 3.3.2, its lexicon less the
    # support words "thank", "thanks", "lost": computed with the library directly):
    #   e1 "Thank you, this is great!"            0.6588  positive
    #   e3 "This is terrible and I am angry."    -0.7506  negative
    #   e6 "Where is my parcel?"                  0.0     neutral
    #   s1 "Very helpful agent, thanks"           0.4754  positive
    #   m1 "Worst airline ever, they lost my bag" -0.6249 negative
    # mean = (0.6588 - 0.7506 + 0 + 0.4754 - 0.6249) / 5 = -0.2413 / 5 = -0.04826;
    # positive 2/5 = 40%, neutral 1/5 = 20%, negative 2/5 = 40%; unscored e4, s2, m2 = 3.
    assert overall["value"] == pytest.approx(-0.0483, abs=1e-9)  # to 4 decimals
    assert overall["n"] == 5
    assert (overall["positive"], overall["neutral"], overall["negative"]) == (40.0, 20.0, 40.0)
    assert overall["unscored"] == 3
    assert overall["low_sample"] is True
    by_channel = {row["channel"]: row for row in sentiment_rows(store, ["channel"])}
    # chat: e1, e3, s1 -> (0.6588 - 0.7506 + 0.4754) / 3 = 0.3836 / 3 = 0.12787
    assert by_channel["chat"]["value"] == pytest.approx(0.12787, abs=1e-4)
    assert by_channel["chat"]["n"] == 3
    # social: m1 scored (-0.6249), m2 unscored: counted apart, not as neutral
    assert by_channel["social"]["value"] == pytest.approx(-0.6249)
    assert (by_channel["social"]["n"], by_channel["social"]["unscored"]) == (1, 1)
    assert by_channel["social"]["neutral"] == 0.0
    # email: only the German text -> no value (n = 0 is null, never 0)
    assert by_channel["email"]["value"] is None and by_channel["email"]["unscored"] == 1



def test_a_text_changed_while_it_is_scored_keeps_its_mark(store: Engine) -> None:
    """The marked texts are scored on a connection of their own, then written: one that a
    batch changed meanwhile is not written with its old score, and stays marked."""
    from servicepulse.ingest.hooks import Touched, run_after_import
    from servicepulse.ingest.importer import Importer
    from servicepulse.insights.sentiment import prepare_scoring
    from servicepulse.insights.tables import text_sentiment_pending
    from servicepulse.store import marks

    def rows(body: str) -> list[SourceRow]:
        records = [{"type": "interaction", "id": "i1", "channel": "chat",
                    "created_at": "2026-03-02T10:00:00Z", "language": "en"},
                   {"type": "event", "id": "e1", "interaction_id": "i1", "actor": "customer",
                    "kind": "customer_message", "at": "2026-03-02T10:01:00Z", "body": body}]
        return [SourceRow("t", n, record, json.dumps(record)) for n, record in enumerate(records)]

    Importer(store).import_rows(rows("Great service, very helpful and friendly :)"),
                                after_import=False)
    with store.connect() as connection:
        first = marks.read(connection, text_sentiment_pending)[("event", "e1")]
    write = prepare_scoring(store, Touched())  # scored: positive
    Importer(store).import_rows(rows("Worst support ever, a total waste of my time"),
                                after_import=False)
    with store.begin() as connection:
        write(connection)
        # e1 changed: not written, its mark kept; i1's texts were all seen (i1's mark cleared)
        left = marks.read(connection, text_sentiment_pending)
        assert list(left) == [("event", "e1")] and left[("event", "e1")] > first
        assert connection.execute(select(text_sentiment.c.label)).all() == []
    run_after_import(store)
    with store.connect() as connection:
        assert connection.execute(select(text_sentiment.c.source_id, text_sentiment.c.label)
                                  ).all() == [("e1", "negative")]
        assert marks.read(connection, text_sentiment_pending) == {}


def test_a_spam_contacts_texts_count_in_no_sentiment(store: Engine) -> None:
    """A deleted or spam interaction is no contact (docs/kpis.md): its customer message and
    its survey comment change neither the sentiment KPI nor the coverage; revived (another
    status), they count again."""
    from servicepulse.insights.sentiment import coverage

    import_rows(store, read_paths([FIXTURE]))
    angry = "This is terrible and I am angry."  # -0.7506, as e3 above
    spam = [
        {"type": "interaction", "id": "i9", "channel": "chat", "status": "Spam",
         "created_at": "2026-03-02T13:00:00Z", "agent_id": "a1", "customer_id": "c9"},
        {"type": "event", "id": "e9", "interaction_id": "i9", "at": "2026-03-02T13:01:00Z",
         "kind": "customer_message", "actor": "customer", "body": angry},
        {"type": "survey", "id": "s9", "kind": "csat", "score": 1, "interaction_id": "i9",
         "submitted_at": "2026-03-02T14:00:00Z", "comment": angry}]
    rows = [SourceRow("spam", n, record, json.dumps(record)) for n, record in enumerate(spam, 1)]
    import_rows(store, rows)
    with store.connect() as connection:  # both texts are scored and kept as records
        scores = connection.execute(select(text_sentiment.c.score).where(
            text_sentiment.c.interaction_id == "i9")).scalars().all()
        kept = sum(row.texts for row in coverage(connection))
    assert scores == [-0.7506, -0.7506]
    assert kept == 8  # the fixture's 5 scored and 3 unscored texts only
    (overall,) = sentiment_rows(store, [])
    # as without them: (0.6588 - 0.7506 + 0 + 0.4754 - 0.6249) / 5 = -0.04826
    assert (overall["value"], overall["n"]) == (pytest.approx(-0.0483, abs=1e-9), 5)
    assert overall["negative"] == 40.0
    by_channel = {row["channel"]: row for row in sentiment_rows(store, ["channel"])}
    assert (by_channel["chat"]["n"], by_channel["chat"]["value"]) == (
        3, pytest.approx(0.12787, abs=1e-4))
    # revived (the helpdesk says "open" now): both texts count, in chat
    revived = [dict(spam[0], status="open")]
    import_rows(store, [SourceRow("spam", 1, revived[0], json.dumps(revived[0]))])
    (overall,) = sentiment_rows(store, [])
    # (-0.2413 - 0.7506 - 0.7506) / 7 = -1.7425 / 7 = -0.24893; negative 4 of 7 = 57.1%
    assert overall["n"] == 7
    assert overall["value"] == pytest.approx(-0.2489, abs=1e-9)  # to 4 decimals
    assert overall["negative"] == pytest.approx(57.1, abs=0.05)

"""`servicepulse verify` for sentiment scores: every customer text has exactly one row in
`text_sentiment`, made from its current content and attribution, and no row is left whose
source is gone or no longer a customer text.

What a customer text is, and how it is attributed, comes from the scorer
(`servicepulse.insights.sentiment`: its sources and their qualifying conditions), so the
check cannot drift from it. For every text it compares, in SQL: that its row exists and
holds the source record's current `content_hash`, interaction, time, channel and agent;
for every row, that its source still is a customer text (else it is an orphan).

The scores themselves are recomputed with `score_text` for the rows whose content or
attribution differs and for a fixed deterministic sample of the others (per source, the
SAMPLE_PER_SOURCE texts first by content hash): scoring costs about 0.2 ms a plainly English
text and 25 ms a text langdetect must identify, so rescoring every text of a store with a
million interactions (two or three texts each) would take from ten minutes to hours. A
stored score that differs while its text did not change means the scorer's code or lexicon
changed, which the sample finds; `servicepulse sentiment --rescore` rescores everything.
A store with at most SAMPLE_PER_SOURCE texts of a source has every score recomputed.

Texts an import marked for scoring (`text_sentiment_pending`: a text, or every text of an
interaction; scored after the import) are reported as pending, one item per mark, and
their rows are not compared meanwhile. The repair scores what is marked (the after-import
work), then rescores the texts that differ with the scorer (`score_texts` restricted to
them, which also removes their orphan rows), in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from servicepulse.ingest.hooks import Touched
from servicepulse.insights import sentiment
from servicepulse.insights.tables import text_sentiment, text_sentiment_pending
from servicepulse.store import marks, tables
from servicepulse.store.database import write_transaction
from servicepulse.store.derived import CheckResult, Difference, Progress

KIND = "sentiment"
SAMPLE_PER_SOURCE = 500
ATTRIBUTION = ("source_hash", "interaction_id", "at", "channel", "agent_id")


def _day(instant: float | None) -> str | None:
    return None if instant is None else datetime.fromtimestamp(instant, UTC).date().isoformat()


def _text_query(source: Any) -> tuple[Any, Any]:
    """Every customer text of a source, its attribution now and its stored row (outer
    joined), and the condition of a row that is missing or attributed otherwise."""
    i, ts, src = tables.interactions, text_sentiment, source.table
    channel = source.channel if source.channel is not None else i.c.channel
    agent = (sa.func.coalesce(source.own_agent, i.c.agent_id) if source.own_agent is not None
             else i.c.agent_id)
    query = sa.select(
        src.c.id.label("source_id"), source.text.label("text"), source.at.label("at"),
        source.interaction_id.label("interaction_id"), channel.label("channel"),
        agent.label("agent_id"), i.c.language.label("language_hint"),
        src.c.content_hash.label("source_hash"),
        ts.c.source_id.label("stored_id"), ts.c.source_hash.label("stored_source_hash"),
        ts.c.interaction_id.label("stored_interaction_id"), ts.c.at.label("stored_at"),
        ts.c.channel.label("stored_channel"), ts.c.agent_id.label("stored_agent_id"),
        ts.c.language.label("stored_language"), ts.c.score.label("stored_score"),
        ts.c.label.label("stored_label"),
    ).select_from(src.outerjoin(i, i.c.id == source.interaction_id).outerjoin(
        ts, sa.and_(ts.c.source_kind == source.kind, ts.c.source_id == src.c.id))
    ).where(source.qualifies)
    differs = sa.or_(ts.c.source_id.is_(None), ts.c.source_hash != src.c.content_hash,
                     ts.c.interaction_id.is_distinct_from(source.interaction_id),
                     ts.c.at != source.at, ts.c.channel.is_distinct_from(channel),
                     ts.c.agent_id.is_distinct_from(agent))
    return query, differs


def _score_differences(kind: str, row: Any) -> list[Difference]:
    """The stored language, score and label against `score_text` of the text now."""
    result = sentiment.score_text(row.text, row.language_hint)
    group, day = f"{kind}:{row.source_id}", _day(row.at)
    found = []
    if row.stored_language != result.language:
        found.append(Difference(KIND, day, group, row.stored_language, result.language,
                                "language"))
    score_same = (row.stored_score is None and result.score is None) or (
        row.stored_score is not None and result.score is not None
        and math.isclose(row.stored_score, result.score, rel_tol=1e-9, abs_tol=1e-12))
    if not score_same:
        found.append(Difference(KIND, day, group, row.stored_score, result.score, "score"))
    if row.stored_label != result.label.value:
        found.append(Difference(KIND, day, group, row.stored_label, result.label.value,
                                "label"))
    return found


def check_source(connection: Connection, source: Any,
                 marked: AbstractSet[tuple[str, str]] = frozenset()
                 ) -> tuple[int, list[Difference]]:
    """One source's texts and rows: how many were compared, and what differs. Texts marked
    for scoring (`marked`: (kind, id), or ("interaction", id) for all of an interaction's)
    are left out: their pending mark stands for them."""
    query, differs = _text_query(source)
    found: list[Difference] = []

    def due(source_id: str, interaction_id: str | None) -> bool:
        return (source.kind, source_id) in marked or ("interaction", interaction_id) in marked

    texts = int(connection.execute(
        sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())
    seen: set[str] = set()
    for row in connection.execute(query.where(differs)):
        seen.add(row.source_id)
        if due(row.source_id, row.interaction_id):
            continue
        group, day = f"{source.kind}:{row.source_id}", _day(row.at)
        if row.stored_id is None:
            result = sentiment.score_text(row.text, row.language_hint)
            found.append(Difference(KIND, day, group, None,
                                    {"label": result.label.value, "score": result.score},
                                    "row missing"))
            continue
        for name in ATTRIBUTION:
            stored, now = getattr(row, f"stored_{name}"), getattr(row, name)
            if stored != now:
                found.append(Difference(KIND, day, group, stored, now, name))
        found += _score_differences(source.kind, row)
    sample = query.where(sa.not_(differs)).order_by(
        source.table.c.content_hash, source.table.c.id).limit(SAMPLE_PER_SOURCE)
    for row in connection.execute(sample):
        if row.source_id not in seen and not due(row.source_id, row.interaction_id):
            found += _score_differences(source.kind, row)
    # rows whose source is gone or no longer a customer text
    ts, src = text_sentiment, source.table
    still_a_text = sa.exists().where(src.c.id == ts.c.source_id, source.qualifies)
    for row in connection.execute(sa.select(ts).where(ts.c.source_kind == source.kind,
                                                      ~still_a_text)):
        if not due(row.source_id, row.interaction_id):
            found.append(_orphan(row))
    return texts, found


def _orphan(row: Any) -> Difference:
    return Difference(KIND, _day(row.at), f"{row.source_kind}:{row.source_id}",
                      {"label": row.label, "score": row.score}, None,
                      "row the records do not give")


class SentimentCheck:
    name = KIND

    def check(self, engine: Engine, progress: Progress,
              earlier: Mapping[str, Sequence[Difference]]) -> CheckResult:
        result = CheckResult()
        ts = text_sentiment
        with engine.connect() as connection:
            marked = {(str(kind), str(key)) for kind, key in
                      marks.read(connection, text_sentiment_pending)}
            result.differences += [
                Difference(KIND, None, f"{kind}:{key}", None, None,
                           "pending scoring (text_sentiment_pending): marked by an import",
                           pending=True) for kind, key in sorted(marked)]
            # the scorer's own definition of a customer text
            sources = sentiment.customer_text_sources()
            for index, source in enumerate(sources):
                progress(index, len(sources), f"sentiment: {source.kind} texts")
                checked, found = check_source(connection, source, marked)
                result.checked += checked
                result.differences += found
            unknown = connection.execute(sa.select(ts).where(
                ts.c.source_kind.not_in(sentiment.SOURCE_KINDS))).all()
            result.differences += [_orphan(row) for row in unknown]
            progress(len(sources), len(sources), "sentiment")
        return result

    def repair(self, engine: Engine, differences: Sequence[Difference]) -> int:
        ids: dict[str, set[str]] = {}
        pending = [item for item in differences if item.kind == KIND and item.pending]
        for item in differences:
            if item.kind == KIND and not item.pending:
                kind, _, source_id = item.group.partition(":")
                ids.setdefault(kind, set()).add(source_id)
        if not ids and not pending:
            return 0
        ts = text_sentiment
        with write_transaction(engine, "derived") as connection:
            if pending:  # the after-import work: scores what is marked, clears the marks
                sentiment.score_after_batch(connection, Touched())
            for kind in set(ids) - set(sentiment.SOURCE_KINDS):
                connection.execute(sa.delete(ts).where(ts.c.source_kind == kind))
            known = {kind: found for kind, found in ids.items()
                     if kind in sentiment.SOURCE_KINDS}
            if known:
                sentiment.score_texts(connection, sources=known)
        return sum(len(found) for found in ids.values()) + len(pending)


CHECK = SentimentCheck()

"""Sentiment of customer texts: VADER compound scores, stored in `text_sentiment`.

Customer texts are event bodies written by the customer (actor `customer`, or kind
`customer_message`), survey comments and social mentions. Each is scored with VADER (its
lexicon ships in the `vadersentiment` package: nothing downloads), with courtesy words and
the words that name a contact reason made neutral (SUPPORT_NEUTRAL_WORDS), after offline
language detection (`servicepulse.insights.language`). VADER is an English lexicon, so a text in
another language is stored as `unscored` with a null score: it is counted apart, never as
neutral. Labels use VADER's published thresholds: compound >= 0.05 positive, <= -0.05
negative, else neutral.

`score_texts(connection)` is incremental: it scores only texts that are new, whose source
record changed (its `content_hash`) or whose attribution (channel, agent) changed, and removes
rows whose source is no longer a customer text. Every import batch marks the texts it added or
changed in `text_sentiment_pending`, in its own transaction (`mark_texts`); after the import
the marked texts are scored and their marks cleared (`score_after_batch`, an after-import hook
of `servicepulse.ingest.hooks`). The marks are durable and versioned
(`servicepulse.store.marks`): a killed import leaves them for the next one, and a text changed
again while it was being scored keeps its mark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
)
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from servicepulse.ingest.hooks import Touched
from servicepulse.insights.language import NO_LINGUISTIC_CONTENT, detect_language
from servicepulse.insights.tables import text_sentiment, text_sentiment_pending
from servicepulse.store import marks, tables
from servicepulse.store.database import lock_for

# VADER's own thresholds for the compound score (Hutto & Gilbert 2014, vaderSentiment README).
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Languages VADER reads: English, and texts with no words at all (emoji, emoticons).
SCORED_LANGUAGES = frozenset({"en", NO_LINGUISTIC_CONTENT})
SOURCE_KINDS = ("event", "survey", "social_mention")
_CHUNK = 900  # ids per IN (...) list, under every backend's parameter limit


class Label(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"
    unscored = "unscored"


@dataclass(frozen=True, slots=True)
class TextScore:
    language: str | None
    score: float | None  # VADER compound, -1..1; None when unscored
    label: Label


# Words VADER's general lexicon scores but that carry no tone in a support request: formulaic
# courtesy ("Thanks.", "Can you help?", "Please let me know.") and the words that name the
# reason for contact ("my card was charged twice", "the app shows an error", "the item
# arrived damaged"): a customer stating a problem calmly is neutral, not negative. Measured on
# the simulator's labelled texts (`servicepulse bench insights --quality`): macro-F1 against
# the customers' tones 0.52 with VADER's lexicon alone, 0.71 with these words neutral, at
# VADER's own thresholds.
SUPPORT_NEUTRAL_WORDS = frozenset(
    ["thanks", "thank", "please", "help", "hope", "well", "kind", "regards", "welcome", "fine",
     "ok", "okay", "like", "want", "error", "errors", "broken", "break", "damaged", "damage",
     "crushed", "cracked", "lost", "wrong", "rejected", "declined", "decline", "charged",
     "charge", "cancel", "cancelled", "canceled", "stop", "pay", "paid", "fail", "failed",
     "failure", "missing", "problem", "problems", "issue", "issues", "fault", "faulty",
     "crash", "crashed", "crashes", "freeze", "freezes", "stuck", "locked", "delay", "delayed",
     "late", "fit", "promised", "smart"])


@cache
def vader_alone() -> SentimentIntensityAnalyzer:
    """VADER with its own lexicon: the baseline the support lexicon is measured against."""
    return SentimentIntensityAnalyzer()


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """VADER with the support lexicon: SUPPORT_NEUTRAL_WORDS carry no score."""
    analyzer = SentimentIntensityAnalyzer()
    for word in SUPPORT_NEUTRAL_WORDS:
        analyzer.lexicon.pop(word, None)
    return analyzer


def label_for(score: float | None) -> Label:
    if score is None:
        return Label.unscored
    if score >= POSITIVE_THRESHOLD:
        return Label.positive
    if score <= NEGATIVE_THRESHOLD:
        return Label.negative
    return Label.neutral


@lru_cache(maxsize=65536)  # customer texts repeat a lot ("Thanks!"); langdetect is the cost
def score_text(text: str, language_hint: str | None = None) -> TextScore:
    """Score one text; `language_hint` is the interaction's language when the source gave one."""
    language = detect_language(text, language_hint)
    if language not in SCORED_LANGUAGES:
        return TextScore(language, None, Label.unscored)
    compound = float(_analyzer().polarity_scores(text)["compound"])
    return TextScore(language, compound, label_for(compound))


# --- which records are customer texts, and how each is attributed ---------------------------


@dataclass(frozen=True)
class _Source:
    kind: str
    table: Table
    text: ColumnElement[Any]
    at: ColumnElement[Any]
    interaction_id: ColumnElement[Any]
    qualifies: ColumnElement[bool]
    own_agent: ColumnElement[Any] | None  # the source's agent field, before its interaction's
    channel: ColumnElement[Any] | None  # fixed channel (social mentions), else the interaction's


def _non_blank(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(column.is_not(None), func.trim(column) != "")


def customer_text_sources() -> tuple[_Source, ...]:
    """Which records are customer texts, and how each is attributed (one per source kind)."""
    e, s, m = tables.events, tables.surveys, tables.social_mentions
    return (
        _Source("event", e, e.c.body, e.c.at, e.c.interaction_id,
                and_(or_(e.c.actor == "customer", e.c.kind == "customer_message"),
                     _non_blank(e.c.body)),
                e.c.agent_id, None),
        _Source("survey", s, s.c.comment, s.c.submitted_at, s.c.interaction_id,
                _non_blank(s.c.comment), s.c.agent_id, None),
        # by design: social mentions count under the channel `social` whatever they link to.
        _Source("social_mention", m, m.c.text, m.c.at, m.c.interaction_id,
                _non_blank(m.c.text), None, literal("social")),
    )


def _source(kind: str) -> _Source:
    for source in customer_text_sources():
        if source.kind == kind:
            return source
    raise ValueError(f"unknown text source {kind!r}: use one of {', '.join(SOURCE_KINDS)}")


def _texts(source: _Source) -> Select[Any]:
    """Every customer text of one source with its attribution and what is stored for it."""
    i, ts = tables.interactions, text_sentiment
    src = source.table
    channel = source.channel if source.channel is not None else i.c.channel
    agent = (func.coalesce(source.own_agent, i.c.agent_id) if source.own_agent is not None
             else i.c.agent_id)
    return (
        select(
            src.c.id.label("source_id"),
            source.text.label("text"),
            source.at.label("at"),
            source.interaction_id.label("interaction_id"),
            channel.label("channel"),
            agent.label("agent_id"),
            i.c.language.label("language_hint"),
            src.c.content_hash.label("source_hash"),
        )
        .select_from(
            src.outerjoin(i, i.c.id == source.interaction_id).outerjoin(
                ts, and_(ts.c.source_kind == source.kind, ts.c.source_id == src.c.id)
            )
        )
        .where(source.qualifies)
        .add_columns(
            or_(
                ts.c.source_id.is_(None),
                ts.c.source_hash != src.c.content_hash,
                ts.c.channel.is_distinct_from(channel),
                ts.c.agent_id.is_distinct_from(agent),
            ).label("stale")
        )
    )


# --- the scoring pass -----------------------------------------------------------------------


@dataclass
class ScoringSummary:
    """What one scoring pass did, per label, plus rows removed."""

    scored: dict[str, int] = field(default_factory=dict)  # label -> texts (re)scored
    removed: int = 0  # rows whose source is no longer a customer text
    seconds: float = 0.0

    @property
    def texts(self) -> int:
        return sum(self.scored.values())


def _chunks(values: Iterable[str], size: int = _CHUNK) -> Iterator[list[str]]:
    iterator = iter(sorted(values))
    while chunk := list(islice(iterator, size)):
        yield chunk


def score_texts(
    connection: Connection,
    *,
    sources: Mapping[str, Iterable[str]] | None = None,
    interaction_ids: Iterable[str] | None = None,
    rescore: bool = False,
) -> ScoringSummary:
    """Bring `text_sentiment` up to date; returns what was (re)scored.

    Without `sources` and `interaction_ids`, every customer text is considered and only new,
    changed or re-attributed ones are scored (all of them with `rescore=True`). With either,
    only those source records (kind -> ids) and the texts of those interactions are looked
    at, and all of them are re-scored: that is the import hook's case, where every id given
    was just inserted or changed (an interaction's language or agent may have changed).
    """
    started = time.perf_counter()
    summary = ScoringSummary()
    scored = _score(connection, sources, interaction_ids, rescore, summary)
    _write_scores(connection, scored, sources, interaction_ids, summary)
    summary.seconds = time.perf_counter() - started
    return summary


_Scored = dict[str, dict[str, dict[str, Any]]]  # source kind -> source id -> row to store


def _score(connection: Connection, sources: Mapping[str, Iterable[str]] | None,
           interaction_ids: Iterable[str] | None, rescore: bool,
           summary: ScoringSummary) -> _Scored:
    """The rows to store for the texts asked for (see `score_texts`): reads and scores, the
    slow part, without writing."""
    restricted = sources is not None or interaction_ids is not None
    wanted = {kind: set(ids) for kind, ids in (sources or {}).items()}
    for kind in wanted:
        _source(kind)  # unknown kinds are a caller's mistake: say so
    touched_interactions = set(interaction_ids or ())
    now = time.time()
    scored: _Scored = {}
    for source in customer_text_sources():
        query = _texts(source)
        if restricted:
            filters = _restriction(source, wanted.get(source.kind, set()), touched_interactions)
            statements = [query.where(condition) for condition in filters]
        elif rescore:
            statements = [query]
        else:
            statements = [query.where(query.selected_columns.stale)]
        # A text can match both an id chunk and an interaction chunk: score it once.
        rows = {row.source_id: row for statement in statements
                for row in connection.execute(statement)}
        scored[source.kind] = _scored_rows(source.kind, list(rows.values()), now, summary)
    return scored


def _write_scores(connection: Connection, scored: _Scored,
                  sources: Mapping[str, Iterable[str]] | None,
                  interaction_ids: Iterable[str] | None, summary: ScoringSummary) -> None:
    restricted = sources is not None or interaction_ids is not None
    wanted = {kind: set(ids) for kind, ids in (sources or {}).items()}
    touched_interactions = set(interaction_ids or ())
    for source in customer_text_sources():
        _store(connection, source.kind, scored.get(source.kind, {}))
        summary.removed += _remove_stale(connection, source, wanted.get(source.kind, set()),
                                         touched_interactions, restricted)


def _restriction(source: _Source, ids: set[str],
                 interaction_ids: set[str]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        source.table.c.id.in_(chunk) for chunk in _chunks(ids)
    ]
    conditions += [source.interaction_id.in_(chunk) for chunk in _chunks(interaction_ids)]
    return conditions


def _scored_rows(kind: str, rows: Sequence[Any], now: float,
                 summary: ScoringSummary) -> dict[str, dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        result = score_text(row.text, row.language_hint)
        by_id[row.source_id] = {
            "source_kind": kind, "source_id": row.source_id,
            "interaction_id": row.interaction_id, "channel": row.channel,
            "agent_id": row.agent_id, "at": row.at, "language": result.language,
            "score": result.score, "label": result.label.value,
            "source_hash": row.source_hash, "scored_at": now,
        }
        summary.scored[result.label.value] = summary.scored.get(result.label.value, 0) + 1
    return by_id


def _store(connection: Connection, kind: str, by_id: Mapping[str, dict[str, Any]]) -> None:
    ts = text_sentiment
    # Delete + insert is the portable upsert (SQLite and PostgreSQL alike), in one transaction.
    for chunk in _chunks(by_id):
        connection.execute(delete(ts).where(ts.c.source_kind == kind, ts.c.source_id.in_(chunk)))
        connection.execute(ts.insert(), [by_id[key] for key in chunk])


def _remove_stale(connection: Connection, source: _Source, ids: set[str],
                  interaction_ids: set[str], restricted: bool) -> int:
    """Drop rows whose source record is gone or no longer a customer text."""
    ts, src = text_sentiment, source.table
    still_a_text = exists().where(src.c.id == ts.c.source_id, source.qualifies)
    base = delete(ts).where(ts.c.source_kind == source.kind, ~still_a_text)
    if not restricted:
        return connection.execute(base).rowcount or 0
    removed = 0
    for chunk in _chunks(ids):
        removed += connection.execute(base.where(ts.c.source_id.in_(chunk))).rowcount or 0
    for chunk in _chunks(interaction_ids):
        removed += connection.execute(base.where(ts.c.interaction_id.in_(chunk))).rowcount or 0
    return removed


# --- the import's part: durable marks, scored after the import ------------------------------

_INTERACTION = "interaction"  # a mark's kind for every customer text of one interaction


def mark_texts(connection: Connection, touched: Touched) -> None:
    """Import hook (every batch, in its transaction): mark the texts to score, durably, so a
    killed import leaves them for the next run instead of never scoring them."""
    keys = [(kind, key) for kind in SOURCE_KINDS for key in touched.ids(kind)]
    keys += [(_INTERACTION, key) for key in touched.interaction_ids]
    marks.bump(connection, text_sentiment_pending, keys)



def _pending(read: Mapping[marks.Key, int]) -> tuple[dict[str, set[str]], set[str]]:
    sources: dict[str, set[str]] = {}
    interaction_ids: set[str] = set()
    for kind, key in read:
        if kind == _INTERACTION:
            interaction_ids.add(key)
        else:
            sources.setdefault(kind, set()).add(key)
    return sources, interaction_ids


def score_after_batch(connection: Connection, touched: Touched) -> None:
    """After-import hook: score the marked texts (of this import, or left by one that was
    killed), in the caller's transaction."""
    lock_for(connection, "derived")
    read = marks.read(connection, text_sentiment_pending)
    if read:
        sources, interaction_ids = _pending(read)
        score_texts(connection, sources=sources, interaction_ids=interaction_ids)
        marks.clear(connection, text_sentiment_pending, read)


def prepare_scoring(engine: Engine, touched: Touched) -> Callable[[Connection], None]:
    """The same in two steps: the marked texts read and scored on a connection of their own
    (imports go on meanwhile), then written. A text whose mark, or whose interaction's mark,
    changed since it was read (a batch changed it again) is not written: its mark stays."""
    summary = ScoringSummary()
    with engine.connect() as connection:
        read = marks.read(connection, text_sentiment_pending)
        sources, interaction_ids = _pending(read)
        scored = _score(connection, sources, interaction_ids, False, summary) if read else {}

    def write(connection: Connection) -> None:
        if not read:
            return
        lock_for(connection, "derived")
        still = marks.unchanged(connection, text_sentiment_pending, read)
        changed = read.keys() - still
        changed_interactions = {key for kind, key in changed if kind == _INTERACTION}
        current_rows = {kind: {key: row for key, row in rows.items()
                               if (kind, key) not in changed
                               and row["interaction_id"] not in changed_interactions}
                        for kind, rows in scored.items()}
        _write_scores(connection, current_rows, sources, interaction_ids, summary)
        marks.clear(connection, text_sentiment_pending, {key: read[key] for key in still})

    return write



# --- coverage: how many texts were scored, by source and language ---------------------------


@dataclass(frozen=True)
class CoverageRow:
    source_kind: str
    language: str | None
    label: str
    texts: int


def coverage(connection: Connection, start: float | None = None,
             end: float | None = None) -> list[CoverageRow]:
    """Texts per source kind, language and label in [start, end) (epoch seconds UTC).

    This is the scorer's coverage (what share went unscored and in which languages), not the
    sentiment KPI itself, which the KPI engine computes (`servicepulse kpi --kpi sentiment`).
    Like the KPI, it leaves out the texts of deleted and spam interactions (no contacts).
    """
    from servicepulse.kpi.sources import NOT_CONTACT_STATUSES

    ts, i = text_sentiment, tables.interactions
    query = (
        select(ts.c.source_kind, ts.c.language, ts.c.label, func.count().label("texts"))
        .select_from(ts.outerjoin(i, i.c.id == ts.c.interaction_id))
        .where(or_(i.c.status.is_(None), func.lower(i.c.status).not_in(NOT_CONTACT_STATUSES)))
        .group_by(ts.c.source_kind, ts.c.language, ts.c.label)
        .order_by(ts.c.source_kind, ts.c.language, ts.c.label)
    )
    if start is not None:
        query = query.where(ts.c.at >= start)
    if end is not None:
        query = query.where(ts.c.at < end)
    return [CoverageRow(r.source_kind, r.language, r.label, int(r.texts))
            for r in connection.execute(query)]

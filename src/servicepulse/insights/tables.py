"""Tables of the insights area, on the store's shared `metadata` (migration 0004)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, String, Table

from servicepulse.store.tables import Id, Time, metadata

# One row per customer text: an event body (actor customer or kind customer_message), a survey
# comment or a social mention. `score` is VADER's compound score (-1..1), null when unscored
# (a language VADER does not handle); `label` is positive / neutral / negative / unscored.
# `source_hash` is the source record's content_hash when it was scored, so a scoring pass only
# touches new or changed texts.
text_sentiment = Table(
    "text_sentiment",
    metadata,
    Column("source_kind", String(20), primary_key=True),  # event / survey / social_mention
    Column("source_id", Id, primary_key=True),
    Column("interaction_id", Id),
    Column("channel", String(20)),  # the interaction's; social mentions: "social"
    Column("agent_id", Id),  # the source's agent, else its interaction's
    Column("at", Time, nullable=False),  # epoch seconds UTC
    Column("language", String(35)),  # ISO 639-1 as detected (or the interaction's language)
    Column("score", Float),
    Column("label", String(10), nullable=False),
    Column("source_hash", String(32), nullable=False),
    Column("scored_at", Time, nullable=False),
    Index("ix_text_sentiment_at", "at"),
    Index("ix_text_sentiment_interaction", "interaction_id"),
    Index("ix_text_sentiment_agent_at", "agent_id", "at"),
)

# Texts due for scoring, marked in the import batch's own transaction and cleared once scored
# (servicepulse.store.marks; migration 0015): `kind` is a source kind with the source record's
# id, or "interaction" for every customer text of that interaction.
text_sentiment_pending = Table(
    "text_sentiment_pending",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("id", Id, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

"""text insights: text_sentiment (one VADER score per customer text)

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "text_sentiment",
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("interaction_id", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("source_hash", sa.String(length=32), nullable=False),
        sa.Column("scored_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("source_kind", "source_id"),
    )
    op.create_index("ix_text_sentiment_at", "text_sentiment", ["at"])
    op.create_index("ix_text_sentiment_interaction", "text_sentiment", ["interaction_id"])
    op.create_index("ix_text_sentiment_agent_at", "text_sentiment", ["agent_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_text_sentiment_agent_at", table_name="text_sentiment")
    op.drop_index("ix_text_sentiment_interaction", table_name="text_sentiment")
    op.drop_index("ix_text_sentiment_at", table_name="text_sentiment")
    op.drop_table("text_sentiment")

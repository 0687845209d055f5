"""Derived data: versioned rebuild marks for the rollup's days and the texts to score

The rollup's stale days get a version that every import batch bumps (see
`servicepulse.store.marks`): a rebuild clears a day only if no batch changed it meanwhile,
so two imports at once can no longer leave a day rebuilt without the second one's records.
Versions are microseconds-based (64 bits), so a cleared mark set again never reuses one.
Texts to score for sentiment were known only to the importing process (lost when it was
killed); they are now marked in the batch's own transaction, in `text_sentiment_pending`.

Revision ID: 0015
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = "0004"  # text_sentiment's branch (the scores these marks are for)


def upgrade() -> None:
    with op.batch_alter_table("kpi_rollup_dirty") as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), nullable=False,
                                   server_default="1"))
    op.create_table(
        "text_sentiment_pending",
        # a source record (event, survey, social_mention) or an interaction whose texts
        # are all to be scored again (its channel, agent or language changed)
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("text_sentiment_pending")
    with op.batch_alter_table("kpi_rollup_dirty") as batch:
        batch.drop_column("version")

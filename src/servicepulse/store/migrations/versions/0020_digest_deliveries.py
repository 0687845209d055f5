"""Scheduled team digests: the period each team's digest was sent for

One row per team, cadence and period, claimed (inserted) before the digest is built, so that
a restarted server or two servers at once send each period's digest once.

Revision ID: 0020
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("team", sa.String(200), primary_key=True),
        sa.Column("cadence", sa.String(10), primary_key=True),
        sa.Column("period_start", sa.String(10), primary_key=True),
        sa.Column("period_end", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("email_status", sa.String(500)),
        sa.Column("webhook_status", sa.String(500)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float()),
    )


def downgrade() -> None:
    op.drop_table("digest_deliveries")

"""scorecards: alert rules, alert state, alert history, rules pending a check

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("name", sa.String(length=200), primary_key=True),
        sa.Column("kpi", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=250), nullable=False),
        sa.Column("per_agent", sa.Boolean(), nullable=False),
        sa.Column("condition", sa.String(length=10), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("minimum_sample", sa.Integer(), nullable=True),
        sa.Column("webhook", sa.String(length=2000), nullable=True),
        sa.Column("email", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "alert_state",
        sa.Column("rule", sa.String(length=200), primary_key=True),
        sa.Column("subject", sa.String(length=200), primary_key=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "alert_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kpi", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("webhook_status", sa.String(length=500), nullable=True),
        sa.Column("email_status", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_alert_history_rule", "alert_history", ["rule"])
    op.create_index("ix_alert_history_at", "alert_history", ["at"])
    op.create_table(
        "alert_pending",
        sa.Column("rule", sa.String(length=200), primary_key=True),
        sa.Column("queued_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_pending")
    op.drop_index("ix_alert_history_at", "alert_history")
    op.drop_index("ix_alert_history_rule", "alert_history")
    op.drop_table("alert_history")
    op.drop_table("alert_state")
    op.drop_table("alert_rules")

"""QA: reviewers' assignments (issue 18)

`qa_assignments`: the conversations sampled for a reviewer to review (`servicepulse qa
assign`, POST /api/v1/qa/assignments), one row per reviewer and interaction. An assignment is
open until a review of the interaction by that reviewer exists (no status column: a review
imported from a file closes it as well as one submitted on the review page).

Revision ID: 0019
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reviewer", sa.String(100), nullable=False),  # the reviewer's username
        sa.Column("interaction_id", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("week_start", sa.Float(), nullable=False),  # Monday 00:00 UTC, epoch s
        sa.Column("form_id", sa.String(200)),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(100)),
        sa.Column("assigned_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("reviewer", "interaction_id", name="uq_qa_assignments_reviewer"),
    )
    op.create_index("ix_qa_assignments_interaction", "qa_assignments", ["interaction_id"])


def downgrade() -> None:
    op.drop_index("ix_qa_assignments_interaction", table_name="qa_assignments")
    op.drop_table("qa_assignments")

"""Quality reviews: QA forms, reviews and their category scores (issue 18)

- `qa_forms`: a form's categories as JSON.
- `qa_reviews`: a reviewer's scores of one interaction (JSON) and the review's IQS, derived
  by the importer from its form.
- `qa_review_scores`: derived, each review's category scores on 0-100 (the KPIs
  iqs_<category>), one row per review and category.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_forms",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("role", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("content_hash", sa.String(32), nullable=False),
    )
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("interaction_id", sa.String(200), nullable=False),
        sa.Column("reviewer_id", sa.String(200), nullable=False),
        sa.Column("form_id", sa.String(200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("iqs", sa.Float(), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
    )
    op.create_index("ix_qa_reviews_interaction_id", "qa_reviews", ["interaction_id"])
    op.create_index("ix_qa_reviews_form_id", "qa_reviews", ["form_id"])
    op.create_index("ix_qa_reviews_at", "qa_reviews", ["at"])
    op.create_table(
        "qa_review_scores",
        sa.Column("review_id", sa.String(200), primary_key=True),
        sa.Column("category", sa.String(60), primary_key=True),
        sa.Column("percent", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("qa_review_scores")
    op.drop_index("ix_qa_reviews_at", table_name="qa_reviews")
    op.drop_index("ix_qa_reviews_form_id", table_name="qa_reviews")
    op.drop_index("ix_qa_reviews_interaction_id", table_name="qa_reviews")
    op.drop_table("qa_reviews")
    op.drop_table("qa_forms")

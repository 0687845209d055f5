"""KPI engine: a partial index on the contacts without a category

FCR counts a later contact of the same customer as a repeat when it is in the same
category, or when either contact has no category. The second case needs a window over all
of a customer's contacts, a second sort of every contact in the range; the engine runs it
only when some contact in the range has no category. This index answers that question
from the (usually few) uncategorised contacts instead of a scan of the range.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UNCATEGORISED = "category IS NULL"


def upgrade() -> None:
    op.create_index("ix_interactions_uncategorised", "interactions", ["created_at"],
                    sqlite_where=sa.text(UNCATEGORISED),
                    postgresql_where=sa.text(UNCATEGORISED))


def downgrade() -> None:
    op.drop_index("ix_interactions_uncategorised", table_name="interactions")

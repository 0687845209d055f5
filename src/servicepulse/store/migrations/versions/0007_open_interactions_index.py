"""web service: a partial index on the contacts still waiting (the wallboard's queues)

The wallboard asks for the inbound contacts not yet answered, responded to, abandoned or
resolved, every time data changes. Without this index SQLite walks the `resolved_at IS NULL`
entries (every unresolved contact of the store); with it, only the few open ones.

Revision ID: 0007
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None

# Must read exactly as the wallboard's query (servicepulse.web.runners.records) for SQLite to
# use the index; servicepulse.store.tables declares the same.
OPEN = "coalesce(answered_at, first_response_at, abandoned_at, resolved_at) IS NULL"


def upgrade() -> None:
    op.create_index("ix_interactions_open", "interactions", ["created_at"],
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index("ix_interactions_open", table_name="interactions")

"""KPI engine: days whose rollup is stale, rebuilt after the import instead of inside it

Revision ID: 0006
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("kpi_rollup_dirty", sa.Column("day", sa.String(10), primary_key=True))


def downgrade() -> None:
    op.drop_table("kpi_rollup_dirty")

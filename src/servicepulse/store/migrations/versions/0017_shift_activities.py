"""Shift activities: a shift's planned breaks, trainings and meetings (issue 19)

- `shifts.activities`: the activities as given (JSON, times as epoch seconds); null on the
  shifts stored before, which plan work for their whole length.
- `shift_activities`: derived by the importer from that column, one row an activity, so that
  the adherence KPIs read the schedule as plain rows on every engine.
- `ix_shifts_start`: who is on shift now (the wallboard's adherence list).

Revision ID: 0017
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shifts") as batch:
        batch.add_column(sa.Column("activities", sa.JSON(), nullable=True))
    op.create_table(
        "shift_activities",
        sa.Column("shift_id", sa.String(200), primary_key=True),
        sa.Column("start", sa.Float(), primary_key=True),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
    )
    op.create_index("ix_shift_activities_agent_start", "shift_activities",
                    ["agent_id", "start"])
    op.create_index("ix_shifts_start", "shifts", ["start"])


def downgrade() -> None:
    op.drop_index("ix_shifts_start", table_name="shifts")
    op.drop_index("ix_shift_activities_agent_start", table_name="shift_activities")
    op.drop_table("shift_activities")
    with op.batch_alter_table("shifts") as batch:
        batch.drop_column("activities")

"""KPI engine: the rollup without the agent (day x team x role x channel), for dashboards

A dashboard by team or channel read every agent's rows of the daily rollup; these tables hold
the same sums and bucket counts summed over agents (about agents-per-team times fewer rows).
They are filled here from the existing agent rows, so a store upgraded with a rollup in place
answers the same from either table.

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

DIMENSIONS = ("team", "role", "channel")
# Must equal servicepulse.kpi.tables.ROLLUP_MEASURES at this revision (0002's list).
MEASURES = (
    "contacts__n", "contacts__inbound__n", "contacts__outbound__n",
    "frt__n", "frt__sum", "frt__sumsq", "frt__within_target__n", "frt__within_target__s",
    "frt__business_hours__n", "frt__business_hours__sum", "frt__business_hours__sumsq",
    "asa__n", "asa__sum", "asa__sumsq",
    "aht__n", "aht__sum", "aht__sumsq", "aht__without_handle_data__n",
    "fcr__n", "fcr__s", "fcr__without_customer__n",
    "repeat_contact_rate__n", "repeat_contact_rate__s", "repeat_contact_rate__without_customer__n",
    "resolution_rate__n", "resolution_rate__s",
    "ttr__n", "ttr__sum", "ttr__sumsq",
    "ttr__business_hours__n", "ttr__business_hours__sum", "ttr__business_hours__sumsq",
    "reopen_rate__n", "reopen_rate__s", "transfer_rate__n", "transfer_rate__s",
    "escalation_rate__n", "escalation_rate__s", "abandon_rate__n", "abandon_rate__s",
    "service_level__answered_within__n", "service_level__answered__n",
    "service_level__abandoned__n", "service_level__abandoned_within__n",
    "service_level__abandoned_after_short__n",
    "csat__n", "csat__s", "csat__mean__n", "csat__mean__sum", "csat__mean__sumsq",
    "nps__n", "nps__p", "nps__d",
    "ces__n", "ces__sum", "ces__sumsq", "ces__share_5_7__n", "ces__share_5_7__s",
)


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def upgrade() -> None:
    op.create_table(
        "kpi_daily_rollup_team",
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.String(length=200), nullable=False) for name in DIMENSIONS),
        *(sa.Column(name, sa.Float(), nullable=False, server_default="0") for name in MEASURES),
    )
    op.create_index("ix_kpi_daily_rollup_team_zone_day", "kpi_daily_rollup_team",
                    ["timezone", "day"])
    op.create_table(
        "kpi_daily_histogram_team",
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.String(length=200), nullable=False) for name in DIMENSIONS),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_kpi_daily_histogram_team_zone_day", "kpi_daily_histogram_team",
                    ["timezone", "day", "measure"])
    # SQL made of the migration's constants (column names): no values
    keys = ("timezone", "day", *DIMENSIONS)
    sums = ", ".join(f'SUM("{name}")' for name in MEASURES)
    op.execute(
        f"INSERT INTO kpi_daily_rollup_team ({_quoted(keys)}, {_quoted(MEASURES)}) "
        f"SELECT {_quoted(keys)}, {sums} FROM kpi_daily_rollup GROUP BY {_quoted(keys)}")
    bucketed = (*keys, "measure", "bucket")
    op.execute(
        f"INSERT INTO kpi_daily_histogram_team ({_quoted(bucketed)}, \"count\") "
        f"SELECT {_quoted(bucketed)}, SUM(\"count\") FROM kpi_daily_histogram "
        f"GROUP BY {_quoted(bucketed)}")


def downgrade() -> None:
    op.drop_index("ix_kpi_daily_histogram_team_zone_day", table_name="kpi_daily_histogram_team")
    op.drop_table("kpi_daily_histogram_team")
    op.drop_index("ix_kpi_daily_rollup_team_zone_day", table_name="kpi_daily_rollup_team")
    op.drop_table("kpi_daily_rollup_team")

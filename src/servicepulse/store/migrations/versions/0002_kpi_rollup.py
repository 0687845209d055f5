"""KPI engine: daily additive rollup and duration histograms

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DIMENSIONS = ("agent", "team", "role", "channel")
# Must equal servicepulse.kpi.tables.ROLLUP_MEASURES at this revision (a later change of the
# measures adds its own revision).
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


def upgrade() -> None:
    op.create_table(
        "kpi_daily_rollup",
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.String(length=200), nullable=False) for name in DIMENSIONS),
        *(sa.Column(name, sa.Float(), nullable=False, server_default="0") for name in MEASURES),
    )
    op.create_index("ix_kpi_daily_rollup_zone_day", "kpi_daily_rollup", ["timezone", "day"])
    op.create_table(
        "kpi_daily_histogram",
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        *(sa.Column(name, sa.String(length=200), nullable=False) for name in DIMENSIONS),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_kpi_daily_histogram_zone_day", "kpi_daily_histogram",
                    ["timezone", "day", "measure"])


def downgrade() -> None:
    op.drop_index("ix_kpi_daily_histogram_zone_day", table_name="kpi_daily_histogram")
    op.drop_table("kpi_daily_histogram")
    op.drop_index("ix_kpi_daily_rollup_zone_day", table_name="kpi_daily_rollup")
    op.drop_table("kpi_daily_rollup")

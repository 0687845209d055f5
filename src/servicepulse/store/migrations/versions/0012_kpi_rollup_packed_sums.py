"""KPI engine: the rollup's sums packed, one row per cell

Dashboards summed every measure of every cell in SQL (SQLite adds a column of a row at a time:
at 1M interactions the larger part of a dashboard query's time after the histograms were
packed). These tables hold each cell's measures in one blob (little-endian float64, the
rollup measures in the order of MEASURES below), summed per group in numpy on read. They are
filled here from the sums rows, which the refresh keeps writing (the team and month grains are
summed from them in SQL).

Revision ID: 0012
Revises: 0011
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Must equal servicepulse.kpi.tables.SUMS_DTYPE and ROLLUP_MEASURES at this revision.
DTYPE = "<f8"
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
TABLES = (  # packed table, sums table, period column, dimensions
    ("kpi_daily_sums_packed", "kpi_daily_rollup", "day", ("agent", "team", "role", "channel")),
    ("kpi_daily_sums_team_packed", "kpi_daily_rollup_team", "day", ("team", "role", "channel")),
    ("kpi_monthly_sums_team_packed", "kpi_monthly_rollup_team", "month",
     ("team", "role", "channel")),
)
BATCH_PERIODS = 31  # periods packed at once (bounds the memory of a large rollup)


def _fill(connection: sa.Connection, packed: sa.Table, source: str, period: str,
          keys: list[str]) -> None:
    sums_rows = sa.table(source, *(sa.column(name) for name in [*keys, *MEASURES]))
    periods: list[str] = sorted(connection.execute(
        sa.select(sums_rows.c[period]).distinct()).scalars())
    for start in range(0, len(periods), BATCH_PERIODS):
        chosen = periods[start:start + BATCH_PERIODS]
        found = connection.execute(
            sa.select(*(sums_rows.c[name] for name in [*keys, *MEASURES]))
            .where(sums_rows.c[period] >= chosen[0], sums_rows.c[period] <= chosen[-1])
        ).fetchall()
        if not found:
            continue
        values = np.array([row[len(keys):] for row in found], dtype=DTYPE)
        rows = [{**dict(zip(keys, row[:len(keys)], strict=True)), "sums": values[i].tobytes()}
                for i, row in enumerate(found)]
        for first in range(0, len(rows), 1000):
            connection.execute(packed.insert(), rows[first:first + 1000])


def upgrade() -> None:
    connection = op.get_bind()
    for name, source, period, dimensions in TABLES:
        # keyed by zone and period first, as the packed histograms (no rowid on SQLite)
        packed = op.create_table(
            name,
            sa.Column("timezone", sa.String(length=64), primary_key=True),
            sa.Column(period, sa.String(length=10), primary_key=True),
            *(sa.Column(dimension, sa.String(length=200), primary_key=True)
              for dimension in dimensions),
            sa.Column("sums", sa.LargeBinary(), nullable=False),
            sqlite_with_rowid=False,
        )
        assert packed is not None
        _fill(connection, packed, source, period, ["timezone", period, *dimensions])


def downgrade() -> None:
    for name, _source, _period, _dimensions in reversed(TABLES):
        op.drop_table(name)

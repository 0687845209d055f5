"""KPI engine: the rollup's histograms packed, one row per cell and measure

Dashboards read medians and p90s from the duration histograms, stored one row per bucket:
about 40 rows per cell and measure, grouped in SQL and gathered in Python (at 1M interactions
most of a dashboard query's time). These tables hold each cell's and measure's counts in one
blob (little-endian int32, bucket b at byte 4b, up to its last non-empty bucket), summed in
numpy on read. They
are filled here from the bucket rows, which the refresh keeps writing (the team and month
grains are summed from them in SQL).

Revision ID: 0011
Revises: 0010
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Must equal servicepulse.kpi.tables.HISTOGRAM_DTYPE at this revision.
DTYPE = "<i4"
TABLES = (  # packed table, bucket-row table, period column, dimensions
    ("kpi_daily_histogram_packed", "kpi_daily_histogram", "day",
     ("agent", "team", "role", "channel")),
    ("kpi_daily_histogram_team_packed", "kpi_daily_histogram_team", "day",
     ("team", "role", "channel")),
    ("kpi_monthly_histogram_team_packed", "kpi_monthly_histogram_team", "month",
     ("team", "role", "channel")),
)
BATCH_PERIODS = 31  # periods packed at once (bounds the memory of a large rollup)


def _fill(connection: sa.Connection, packed: sa.Table, source: str, period: str,
          keys: list[str]) -> None:
    bucket_rows = sa.table(source, *(sa.column(name) for name in [*keys, "bucket", "count"]))
    periods: list[str] = sorted(connection.execute(
        sa.select(bucket_rows.c[period]).distinct()).scalars())
    for start in range(0, len(periods), BATCH_PERIODS):
        chosen = periods[start:start + BATCH_PERIODS]
        index: dict[tuple[object, ...], int] = {}
        cells: list[int] = []
        buckets: list[int] = []
        counts: list[int] = []
        for row in connection.execute(
                sa.select(*(bucket_rows.c[name] for name in [*keys, "bucket", "count"]))
                .where(bucket_rows.c[period] >= chosen[0], bucket_rows.c[period] <= chosen[-1])):
            cells.append(index.setdefault(tuple(row[:-2]), len(index)))
            buckets.append(max(int(row[-2]), 0))  # bucket_of gives 0 below one second
            counts.append(int(row[-1]))
        if not index:
            continue
        cell = np.array(cells)
        last = np.zeros(len(index), dtype="int64")
        np.maximum.at(last, cell, np.array(buckets))
        matrix = np.zeros((len(index), int(last.max()) + 1), dtype=DTYPE)
        np.add.at(matrix, (cell, np.array(buckets)), counts)
        rows = [{**dict(zip(keys, key, strict=True)),
                 "counts": matrix[i, :last[i] + 1].tobytes()} for key, i in index.items()]
        for first in range(0, len(rows), 1000):
            connection.execute(packed.insert(), rows[first:first + 1000])


def upgrade() -> None:
    connection = op.get_bind()
    for name, source, period, dimensions in TABLES:
        # the key leads with the zone and the period (a dashboard's range is one key range);
        # on SQLite the rows are stored in key order (no rowid)
        packed = op.create_table(
            name,
            sa.Column("timezone", sa.String(length=64), primary_key=True),
            sa.Column(period, sa.String(length=10), primary_key=True),
            sa.Column("measure", sa.String(length=40), primary_key=True),
            *(sa.Column(dimension, sa.String(length=200), primary_key=True)
              for dimension in dimensions),
            sa.Column("counts", sa.LargeBinary(), nullable=False),
            sqlite_with_rowid=False,
        )
        assert packed is not None
        _fill(connection, packed, source, period,
              ["timezone", period, "measure", *dimensions])


def downgrade() -> None:
    for name, _source, _period, _dimensions in reversed(TABLES):
        op.drop_table(name)

"""The KPI engine's own tables: the daily additive rollup and its duration histograms.

`kpi_daily_rollup` holds, per local day (in `timezone`) x agent x team x role x channel, the
engine's sufficient statistics of the rollup KPIs under the engine's
own measure names (counts, sums, sums of squares: additive, never averages).
`kpi_daily_histogram` holds counts of durations (frt, ttr and their business-hours variants)
in logarithmic buckets, from which dashboards read approximate medians and p90s.
Missing dimension values are stored as "(none)" so that every column is part of the key.
The grain stops at channel so that the rollup's size follows agents x days x channels, not
the number of contacts; queue, category, language and segment go to the exact path.

`kpi_daily_rollup_team` and `kpi_daily_histogram_team` hold the same sums and bucket counts
without the agent (timezone x day x team x role x channel; about agents-per-team times fewer
rows): they are summed from the agent rows in the same transaction, and answer every query
that neither groups nor filters by agent (the dashboards' team and channel views).
`kpi_monthly_rollup_team` and `kpi_monthly_histogram_team` sum those per local calendar month
(`month`: the ISO date of its first day), for month, quarter and whole-month ranges.

Each histogram table has a packed twin (`..._packed`) that dashboards read: one row per cell
and measure whose `counts` hold all its bucket counts (little-endian int32, bucket b at byte
4b, up to its last non-empty bucket), written from the bucket rows by every refresh. A read
then fetches about 30 times fewer rows and sums them in numpy; the bucket rows stay because
the team and month grains are summed from them in SQL, which cannot add blobs.

Each sums table has a packed twin too (`kpi_daily_sums_packed`, `kpi_daily_sums_team_packed`,
`kpi_monthly_sums_team_packed`): one row per cell whose `sums` hold
all of its ROLLUP_MEASURES in that order (little-endian float64), written from the sums rows by
every refresh. Dashboards read those: one blob per cell, summed per group in numpy, instead of
a SQL sum of every measure over every cell (a change to ROLLUP_MEASURES must repack them).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, String, Table

from servicepulse.store.tables import metadata

ROLLUP_DIMENSIONS = ("agent", "team", "role", "channel")
TEAM_ROLLUP_DIMENSIONS = ("team", "role", "channel")  # the coarse grain: no agent

# The measures of the rollup KPIs (servicepulse.kpi.rollup.ROLLUP_KPIS), as the engine names
# them; a test checks that this list and the definitions agree.
ROLLUP_MEASURES = (
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

def _sums_table(name: str, period: str, dimensions: tuple[str, ...]) -> Table:
    """A grain's sums: one row per time zone, period (local ISO date) and dimension values."""
    return Table(
        name,
        metadata,
        Column("timezone", String(64), nullable=False),
        Column(period, String(10), nullable=False),  # local ISO date (of the month's start)
        *(Column(dimension, String(200), nullable=False) for dimension in dimensions),
        *(Column(measure, Float, nullable=False, server_default="0")
          for measure in ROLLUP_MEASURES),
        Index(f"ix_{name}_zone_{period}", "timezone", period),
    )


def _buckets_table(name: str, period: str, dimensions: tuple[str, ...],
                   covering: bool = False) -> Table:
    """A grain's duration histograms: a count per measure and logarithmic bucket."""
    # `covering`: an index holding the dashboards' whole read (the measures asked for, a
    # range of periods), so it never visits the table
    read = [Index(f"ix_{name}_read", "timezone", "measure", period, *dimensions, "bucket",
                  "count")] if covering else []
    return Table(
        name,
        metadata,
        Column("timezone", String(64), nullable=False),
        Column(period, String(10), nullable=False),
        *(Column(dimension, String(200), nullable=False) for dimension in dimensions),
        Column("measure", String(40), nullable=False),  # frt, frt__business_hours, ttr, ...
        Column("bucket", Integer, nullable=False),
        Column("count", Integer, nullable=False),
        Index(f"ix_{name}_zone_{period}", "timezone", period, "measure"),
        *read,
    )


HISTOGRAM_DTYPE = "<i4"  # a packed bucket count: the bucket rows' `count` is an Integer too
SUMS_DTYPE = "<f8"  # a packed measure: the sums rows' measures are Float


def _packed_table(name: str, period: str, dimensions: tuple[str, ...], blob: str,
                  per_measure: bool) -> Table:
    """A grain's histograms (`per_measure`: one row per cell and measure, its counts in the
    blob) or sums (one row per cell, its ROLLUP_MEASURES in the blob) packed."""
    # the key leads with the zone and the period: a dashboard's range of days is one range
    # of the key, and on SQLite (no rowid) the rows themselves are stored in that order
    return Table(
        name,
        metadata,
        Column("timezone", String(64), primary_key=True),
        Column(period, String(10), primary_key=True),
        *([Column("measure", String(40), primary_key=True)] if per_measure else []),
        *(Column(dimension, String(200), primary_key=True) for dimension in dimensions),
        Column(blob, LargeBinary, nullable=False),  # HISTOGRAM_DTYPE or SUMS_DTYPE
        sqlite_with_rowid=False,
    )


kpi_daily_rollup = _sums_table("kpi_daily_rollup", "day", ROLLUP_DIMENSIONS)
kpi_daily_histogram = _buckets_table("kpi_daily_histogram", "day", ROLLUP_DIMENSIONS)
kpi_daily_rollup_team = _sums_table("kpi_daily_rollup_team", "day", TEAM_ROLLUP_DIMENSIONS)
kpi_daily_histogram_team = _buckets_table("kpi_daily_histogram_team", "day",
                                          TEAM_ROLLUP_DIMENSIONS, covering=True)
kpi_monthly_rollup_team = _sums_table("kpi_monthly_rollup_team", "month",
                                      TEAM_ROLLUP_DIMENSIONS)
kpi_monthly_histogram_team = _buckets_table("kpi_monthly_histogram_team", "month",
                                            TEAM_ROLLUP_DIMENSIONS, covering=True)
kpi_daily_histogram_packed = _packed_table(
    "kpi_daily_histogram_packed", "day", ROLLUP_DIMENSIONS, "counts", per_measure=True)
kpi_daily_histogram_team_packed = _packed_table(
    "kpi_daily_histogram_team_packed", "day", TEAM_ROLLUP_DIMENSIONS, "counts", per_measure=True)
kpi_monthly_histogram_team_packed = _packed_table(
    "kpi_monthly_histogram_team_packed", "month", TEAM_ROLLUP_DIMENSIONS, "counts",
    per_measure=True)
kpi_daily_sums_packed = _packed_table(
    "kpi_daily_sums_packed", "day", ROLLUP_DIMENSIONS, "sums", per_measure=False)
kpi_daily_sums_team_packed = _packed_table(
    "kpi_daily_sums_team_packed", "day", TEAM_ROLLUP_DIMENSIONS, "sums", per_measure=False)
kpi_monthly_sums_team_packed = _packed_table(
    "kpi_monthly_sums_team_packed", "month", TEAM_ROLLUP_DIMENSIONS, "sums", per_measure=False)

# UTC days whose rollup rows are stale: marked by every import batch (cheap), rebuilt by
# `refresh_dirty_rollups` (after a bulk import, and in the background by the web server).
# While a day is dirty, a rollup query over it goes to the exact path, unless it allows stale
# days (dashboards), which then lists them.
kpi_rollup_dirty = Table(
    "kpi_rollup_dirty",
    metadata,
    Column("day", String(10), primary_key=True),  # UTC ISO date
    # bumped by every batch that changes the day (servicepulse.store.marks; migration 0015)
    Column("version", BigInteger, nullable=False, server_default="1"),
)

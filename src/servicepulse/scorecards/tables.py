"""Tables of the scorecards area (alerts), on the store's shared `metadata` (migration 0005)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Integer, String, Table, Text

from servicepulse.store.tables import Id, Time, metadata

# Alert rules kept in the store (rules in the configuration are not copied here).
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("name", Id, primary_key=True),
    Column("kpi", String(40), nullable=False),
    Column("scope", String(250), nullable=False),  # organisation | team:ID | agent:ID | role:R
    Column("per_agent", Boolean, nullable=False),  # check each agent of the scope apart
    Column("condition", String(10), nullable=False),  # target | below | above
    Column("threshold", Float),
    Column("window_days", Integer, nullable=False),
    Column("minimum_sample", Integer),
    Column("webhook", String(2000)),
    Column("email", JSON, nullable=False),  # list of addresses
    Column("enabled", Boolean, nullable=False),
    Column("created_at", Time, nullable=False),
)

# The last known state of each rule and subject: alerts fire on a change to "firing" and a
# recovery notice goes out on the change back to "ok", never on every check.
alert_state = Table(
    "alert_state",
    metadata,
    Column("rule", Id, primary_key=True),
    Column("subject", Id, primary_key=True),  # the agent, team, role or "organisation"
    Column("status", String(10), nullable=False),  # firing | ok
    Column("since", Time, nullable=False),
    Column("value", Float),
    Column("n", Integer),
    Column("checked_at", Time, nullable=False),
)

# Every notice, with what was delivered where. Undelivered notices are retried by the next
# check, so a receiver that was down still hears of it once.
alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", Id, nullable=False, index=True),
    Column("subject", Id, nullable=False),
    Column("event", String(10), nullable=False),  # fired | recovered
    Column("at", Time, nullable=False, index=True),
    Column("kpi", String(40), nullable=False),
    Column("value", Float),
    Column("n", Integer),
    Column("threshold", Float),
    Column("message", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("webhook_status", String(500)),  # null: nothing to send; "pending"; "sent"; error
    Column("email_status", String(500)),
    Column("attempts", Integer, nullable=False),
)

# Rules whose scope an import batch touched, waiting for a check (`alerts run`).
alert_pending = Table(
    "alert_pending",
    metadata,
    Column("rule", Id, primary_key=True),
    Column("queued_at", Time, nullable=False),
)

# One row per team digest and period (docs/digests.md): the claim that makes each period's
# digest go out once, whichever server or command gets there first (the primary key), and
# what was delivered where. A failed delivery is retried a few times, later.
digest_deliveries = Table(
    "digest_deliveries",
    metadata,
    Column("team", Id, primary_key=True),
    Column("cadence", String(10), primary_key=True),  # daily | weekly
    Column("period_start", String(10), primary_key=True),  # local day, YYYY-MM-DD
    Column("period_end", String(10), nullable=False),  # exclusive
    Column("status", String(20), nullable=False),  # sending | sent | failed
    Column("email_status", String(500)),  # null: no recipients; "sent"; the error
    Column("webhook_status", String(500)),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", String(200), nullable=False),  # host:pid
    Column("claimed_at", Time, nullable=False),
    Column("sent_at", Time),
)

"""Tables of the store: one per record kind, plus the quarantine.

Conventions (every query in the project relies on them):
- Times are stored as epoch seconds UTC in DOUBLE columns: portable across SQLite, PostgreSQL,
  DuckDB and Spark, and a duration is one subtraction. `servicepulse.store.times` converts.
- Every record table has `id` (the record's id) as primary key and `content_hash`, a digest of
  the record as given, which makes imports idempotent (same hash: unchanged).
- `interactions` holds the *effective* interaction: the record as given (kept in `given`),
  overlaid by what its events say (see `servicepulse.ingest.projector`).
- Lists and objects (languages, hours, holidays) are JSON text.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

Time = Float  # epoch seconds UTC
Id = String(200)
# An inbound contact nobody has answered, responded to, abandoned or resolved yet; the
# wallboard's queue query states it in exactly this form, so the partial index serves it.
OPEN_INTERACTIONS = "coalesce(answered_at, first_response_at, abandoned_at, resolved_at) IS NULL"
# A contact without a category: the KPI engine asks whether a range holds any (FCR's repeat
# windows); the partial index answers from those rows alone.
UNCATEGORISED = "category IS NULL"


def _record_table(name: str, *columns: Column, indexes: tuple[Index, ...] = ()) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Id, primary_key=True),
        *columns,
        Column("content_hash", String(32), nullable=False),
        *indexes,
    )


teams = _record_table(
    "teams",
    Column("name", String(200), nullable=False),
    Column("lead_id", Id),
    Column("calendar_id", Id),
)

agents = _record_table(
    "agents",
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("email", String(320)),
    Column("team_id", Id, index=True),
    Column("hourly_cost", Float),
    Column("active", Boolean, nullable=False),
    Column("languages", JSON, nullable=False),
)

calendars = _record_table(
    "calendars",
    Column("timezone", String(64), nullable=False),
    Column("hours", JSON, nullable=False),
    Column("holidays", JSON, nullable=False),
)

customers = _record_table(
    "customers",
    Column("name", String(200)),
    Column("email", String(320)),
    Column("segment", String(100)),
    Column("acquired_at", Time),
    Column("churned_at", Time),
)

interactions = _record_table(
    "interactions",
    Column("channel", String(20), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("direction", String(10), nullable=False),
    Column("customer_id", Id),
    Column("agent_id", Id),
    Column("team_id", Id),
    Column("queue", String(100)),
    Column("category", String(100)),
    Column("subject", String(1000)),
    Column("priority", String(50)),
    Column("first_response_at", Time),
    Column("answered_at", Time),
    Column("resolved_at", Time),
    Column("abandoned_at", Time),
    Column("talk_s", Float),
    Column("hold_s", Float),
    Column("wrap_s", Float),
    Column("handle_s", Float),
    Column("reopens", Integer, nullable=False),
    Column("transfers", Integer, nullable=False),
    Column("escalated", Boolean, nullable=False),
    Column("status", String(50)),
    Column("language", String(35)),
    # Business-hours durations under the team's calendar, kept by the KPI engine's
    # business-hours refresher (null when the team has no calendar or the end is unknown).
    Column("first_response_business_s", Float),
    Column("resolution_business_s", Float),
    # The record exactly as given (canonical JSON), so re-projecting never loses its fields.
    Column("given", Text, nullable=False),
    indexes=(
        Index("ix_interactions_created_at", "created_at"),
        Index("ix_interactions_resolved_at", "resolved_at"),
        Index("ix_interactions_agent_created", "agent_id", "created_at"),
        Index("ix_interactions_customer_created", "customer_id", "created_at"),
        # contacts still waiting (the wallboard's queues; migration 0007)
        Index("ix_interactions_open", "created_at",
              sqlite_where=text(OPEN_INTERACTIONS), postgresql_where=text(OPEN_INTERACTIONS)),
        # contacts without a category (whether FCR needs its second window; migration 0013)
        Index("ix_interactions_uncategorised", "created_at",
              sqlite_where=text(UNCATEGORISED), postgresql_where=text(UNCATEGORISED)),
    ),
)

events = _record_table(
    "events",
    Column("interaction_id", Id, nullable=False),
    Column("at", Time, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("actor", String(10)),
    Column("agent_id", Id),
    Column("public", Boolean, nullable=False),
    Column("body", Text),
    indexes=(Index("ix_events_interaction_at", "interaction_id", "at"),),
)

surveys = _record_table(
    "surveys",
    Column("kind", String(10), nullable=False),
    Column("score", Float, nullable=False),
    Column("submitted_at", Time, nullable=False),
    Column("scale_min", Float, nullable=False),
    Column("scale_max", Float, nullable=False),
    Column("interaction_id", Id, index=True),
    Column("customer_id", Id),
    Column("agent_id", Id),
    Column("comment", Text),
    indexes=(Index("ix_surveys_submitted_at", "submitted_at"),),
)

agent_states = _record_table(
    "agent_states",
    Column("agent_id", Id, nullable=False),
    Column("state", String(20), nullable=False),
    Column("start", Time, nullable=False),
    Column("end", Time),
    indexes=(Index("ix_agent_states_agent_start", "agent_id", "start"),),
)

shifts = _record_table(
    "shifts",
    Column("agent_id", Id, nullable=False),
    Column("start", Time, nullable=False),
    Column("end", Time, nullable=False),
    # planned activities as given: [{"kind", "start", "end"}], times as epoch seconds
    Column("activities", JSON),
    # (start: who is on shift now, for the wallboard's adherence list)
    indexes=(Index("ix_shifts_agent_start", "agent_id", "start"),
             Index("ix_shifts_start", "start")),
)

# Derived from shifts.activities in the import batch's transaction (one row an activity that
# is not work), so that every engine reads the schedule as plain rows: SQLite and Spark have
# no portable way to unnest a JSON list.
shift_activities = Table(
    "shift_activities",
    metadata,
    Column("shift_id", Id, primary_key=True),
    Column("start", Time, primary_key=True),
    Column("end", Time, nullable=False),
    Column("agent_id", Id, nullable=False),
    Column("kind", String(20), nullable=False),
    Index("ix_shift_activities_agent_start", "agent_id", "start"),
)

orders = _record_table(
    "orders",
    Column("customer_id", Id, nullable=False, index=True),
    Column("at", Time, nullable=False),
    Column("amount", Float, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("currency", String(3)),
    Column("interaction_id", Id),
    Column("agent_id", Id),
)

social_posts = _record_table(
    "social_posts",
    Column("platform", String(50), nullable=False),
    Column("posted_at", Time, nullable=False),
    Column("agent_id", Id),
    Column("impressions", Integer),
    Column("reach", Integer),
    Column("likes", Integer),
    Column("comments", Integer),
    Column("shares", Integer),
    Column("clicks", Integer),
    Column("saves", Integer),
)

social_mentions = _record_table(
    "social_mentions",
    Column("platform", String(50), nullable=False),
    Column("at", Time, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(200)),
    Column("interaction_id", Id),
)

qa_forms = _record_table(
    "qa_forms",
    Column("name", String(200), nullable=False),
    Column("categories", JSON, nullable=False),  # [{name, weight, scale_min, scale_max, ...}]
    Column("role", String(40)),
    Column("channel", String(20)),
)

qa_reviews = _record_table(
    "qa_reviews",
    Column("interaction_id", Id, nullable=False, index=True),
    Column("reviewer_id", Id, nullable=False),
    Column("form_id", Id, nullable=False, index=True),
    Column("at", Time, nullable=False),
    Column("scores", JSON, nullable=False),  # {category: score}, as given
    Column("calibration", Boolean, nullable=False),
    Column("comment", Text),
    # Derived by the importer from the form (servicepulse.records.qa), kept up to date when
    # the form changes: the review's IQS, 0-100, so that KPIs read a number, not JSON.
    Column("iqs", Float, nullable=False),
    indexes=(Index("ix_qa_reviews_at", "at"),),
)

# Derived: each review's category scores on 0-100 (the KPIs iqs_<category>), one row per
# review and category; rewritten with the review and when its form changes.
qa_review_scores = Table(
    "qa_review_scores",
    metadata,
    Column("review_id", Id, primary_key=True),
    Column("category", String(60), primary_key=True),
    Column("percent", Float, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(1000), nullable=False),  # file path, "api", or a connector name
    Column("line", Integer),  # 1-based line (JSONL) or row (CSV, header = line 1)
    Column("kind", String(40)),
    Column("record_id", Id),
    Column("field", String(200)),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("default_kind", String(40)),  # the kind a per-kind CSV file implies
    Column("quarantined_at", Time, nullable=False),
    Index("ix_quarantine_kind_record", "kind", "record_id"),
)

# record kind -> its table
RECORD_TABLES: dict[str, Table] = {
    "team": teams,
    "agent": agents,
    "calendar": calendars,
    "customer": customers,
    "interaction": interactions,
    "event": events,
    "survey": surveys,
    "agent_state": agent_states,
    "shift": shifts,
    "order": orders,
    "social_post": social_posts,
    "social_mention": social_mentions,
    "qa_form": qa_forms,
    "qa_review": qa_reviews,
}

"""web service: users, API tokens and sessions

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

# Tables whose changes the live wallboard shows; must match servicepulse.web.live.CHANNEL.
LIVE_TABLES = ("interactions", "agent_states", "surveys")
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION servicepulse_web_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('servicepulse_live', TG_TABLE_NAME);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.String(length=200), nullable=True),
        sa.Column("team_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "web_api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("session_hash", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(),
                  sa.ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])
    if op.get_bind().dialect.name == "postgresql":
        # Live wallboard across processes: whoever writes these tables (the API, a CLI import,
        # a connector) wakes every server's listener once per statement, after commit.
        op.execute(NOTIFY_FUNCTION)
        # DDL takes identifiers, not parameters: LIVE_TABLES are the module's constants
        for table in LIVE_TABLES:
            op.execute(f"CREATE TRIGGER web_live_{table} AFTER INSERT OR UPDATE OR DELETE "
                       f"ON {table} FOR EACH STATEMENT "
                       "EXECUTE FUNCTION servicepulse_web_notify()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LIVE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS web_live_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS servicepulse_web_notify()")
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_api_tokens")
    op.drop_table("web_users")

"""Tables of the web service: users, API tokens and browser sessions (migration 0003), and
the accounts' controls (migration 0014): disabled users, token expiry and revocation, and the
failed sign-ins that login throttling counts.

Secrets are never stored: passwords as argon2 hashes, API tokens and session ids as SHA-256
digests (they are 256-bit random values, so a fast digest is enough to make a leaked table
useless, and lookups stay one indexed equality).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, false

from servicepulse.store.tables import Id, Time, metadata

users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # admin, manager, team_lead, agent
    Column("agent_id", Id),  # the agent record an `agent` user is (required for that role)
    Column("team_ids", JSON, nullable=False),  # teams a `team_lead` leads (list of ids)
    Column("created_at", Time, nullable=False),
    # a disabled user cannot log in; their sessions and tokens are refused (migration 0014)
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
)

api_tokens = Table(
    "web_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scope", String(10), nullable=False),  # read, ingest, admin
    Column("created_at", Time, nullable=False),
    Column("last_used_at", Time),  # updated at most once a minute (servicepulse.web.users)
    Column("expires_at", Time),  # NULL: never expires (migration 0014)
    Column("revoked_at", Time),  # NULL: not revoked
)

sessions = Table(
    "web_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("expires_at", Time, nullable=False),
    Index("ix_web_sessions_expires_at", "expires_at"),
)

# One row per failed sign-in, and per sign-in whose password is being checked (so parallel
# guesses count too); see servicepulse.web.users.sign_in. `username` is set to NULL
# when that user logs in, which clears their count but keeps the address's.
login_failures = Table(
    "web_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100)),
    Column("address", String(100)),
    Column("attempted_at", Time, nullable=False),
    Index("ix_web_login_failures_username", "username", "attempted_at"),
    Index("ix_web_login_failures_address", "address", "attempted_at"),
    Index("ix_web_login_failures_attempted_at", "attempted_at"),
)

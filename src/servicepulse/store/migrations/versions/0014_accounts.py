"""web service: accounts an operator can trust (issue 15)

- `web_users.disabled`: a disabled user cannot log in, and their sessions and API tokens
  stop working (the rows stay, so `user enable` gives everything back).
- `web_api_tokens.expires_at` / `revoked_at` (epoch seconds, NULL: never / not revoked): a
  token is refused once either has passed; revoked rows stay listed for the record.
- `web_login_failures`: one row per failed (or in-progress) sign-in, by username and client
  address, so that every server process counts the same failures when it throttles logins.
  Rows older than the throttling window are deleted as new ones arrive.

Revision ID: 0014
Revises: 0007 (the web service's branch: 0003 users, 0007 the wallboard's index)
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("web_api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.Float(), nullable=True))
    op.create_table(
        "web_login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("attempted_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_web_login_failures_username", "web_login_failures",
                    ["username", "attempted_at"])
    op.create_index("ix_web_login_failures_address", "web_login_failures",
                    ["address", "attempted_at"])
    op.create_index("ix_web_login_failures_attempted_at", "web_login_failures",
                    ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_web_login_failures_attempted_at", table_name="web_login_failures")
    op.drop_index("ix_web_login_failures_address", table_name="web_login_failures")
    op.drop_index("ix_web_login_failures_username", table_name="web_login_failures")
    op.drop_table("web_login_failures")
    with op.batch_alter_table("web_api_tokens") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("expires_at")
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("disabled")

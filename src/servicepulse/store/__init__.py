"""The store: SQLAlchemy tables with Alembic migrations, SQLite embedded or PostgreSQL."""

from servicepulse.store.database import database_url, open_store

__all__ = ["database_url", "open_store"]

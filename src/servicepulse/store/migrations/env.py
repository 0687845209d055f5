"""Alembic environment: run with the engine `servicepulse.store.database` hands over."""

from alembic import context

from servicepulse.store.tables import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()

"""Alembic environment: the engine comes from geogrid, never from an ini file."""

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from geogrid.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    # one migration at a time, even when several processes start together
    connection.execute(text("SELECT pg_advisory_xact_lock(727272)"))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=alembic_helpers.include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
    )
    context.run_migrations()

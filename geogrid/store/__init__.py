"""The store: PostGIS through SQLAlchemy 2 and GeoAlchemy2, migrated with Alembic."""

from geogrid.store.db import (
    connect,
    engine_for,
    ensure_database,
    migrate,
    session_scope,
)

__all__ = ["connect", "engine_for", "ensure_database", "migrate", "session_scope"]

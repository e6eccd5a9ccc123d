"""Engines, sessions and migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from geogrid.settings import Config, load_config
from geogrid.store.cluster import managed_cluster

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def ensure_database(config: Config | None = None) -> str:
    """Return the database URL, starting the managed cluster when none is set."""
    config = config or load_config()
    if config.database_url:
        return config.database_url
    cluster = managed_cluster(config.managed_db_dir)
    cluster.start()
    return cluster.url


@cache
def engine_for(url: str) -> Engine:
    """One pooled engine per database URL."""
    return create_engine(url, pool_pre_ping=True, future=True)


def connect(config: Config | None = None, *, migrate_schema: bool = True) -> Engine:
    """Engine of the configured store, started and migrated if needed."""
    url = ensure_database(config)
    engine = engine_for(url)
    if migrate_schema:
        migrate(engine)
    return engine


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

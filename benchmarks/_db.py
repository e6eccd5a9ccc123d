"""A throwaway PostGIS database for benchmark scripts."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine

from geogrid.store.cluster import Cluster
from geogrid.store.db import migrate


@contextmanager
def bench_engine() -> Iterator[Engine]:
    """A migrated, empty database; the cluster is removed afterwards."""
    url = os.environ.get("GEOGRID_BENCH_DATABASE_URL")
    if url:
        engine = create_engine(url)
        migrate(engine)
        yield engine
        engine.dispose()
        return
    folder = Path(tempfile.mkdtemp(prefix="geogrid-bench-"))
    folder.chmod(0o755)
    cluster = Cluster(folder / "pg")
    cluster.start()
    engine = create_engine(cluster.url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        cluster.destroy()
        folder.rmdir()


def machine() -> str:
    """One line describing the machine, for the figures' provenance."""
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"

"""Shared fixtures: a throwaway PostGIS cluster and one fresh database per test.

The suite starts its own cluster with the same machinery as ``geogrid db start``
(initdb and pg_ctl in a temporary folder). Set ``GEOGRID_TEST_DATABASE_URL`` to
use an existing PostGIS server instead: the suite then creates and drops its
own databases on it.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from geogrid.store.cluster import Cluster
from geogrid.store.db import migrate

DATA = Path(__file__).parent / "data"
TEMPLATE = "geogrid_template"
_counter = itertools.count()


class Server:
    """Where the test databases live, and how to clone them."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def url_for(self, name: str) -> str:
        return (
            make_url(self.admin_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """A PostGIS server for the whole run, with a migrated template database."""
    external = os.environ.get("GEOGRID_TEST_DATABASE_URL")
    cluster = None
    if external:
        admin_url = (
            make_url(external)
            .set(database="postgres")
            .render_as_string(hide_password=False)
        )
    else:
        folder = Path(tempfile.mkdtemp(prefix="geogrid-test-"))
        os.chmod(folder, 0o755)
        cluster = Cluster(folder / "pg")
        cluster.start(extra_options="-c fsync=off -c full_page_writes=off")
        admin_url = cluster.url_for("postgres")

    server = Server(admin_url)
    template_url = server.create(TEMPLATE)
    template_engine = create_engine(template_url)
    migrate(template_engine)
    template_engine.dispose()
    yield server

    server.admin.dispose()
    if cluster is not None:
        cluster.destroy()
    else:
        server.drop(TEMPLATE)


@pytest.fixture
def engine(pg_server: Server) -> Iterator[Engine]:
    """A fresh, migrated, empty database of this test's own."""
    name = f"geogrid_test_{os.getpid()}_{next(_counter)}"
    eng = create_engine(pg_server.create(name, template=TEMPLATE))
    yield eng
    eng.dispose()
    pg_server.drop(name)


@pytest.fixture
def data_dir() -> Path:
    """Folder of the small input files the tests read."""
    return DATA


DEMO_TEMPLATE = "geogrid_demo_template"
DEMO_HOUSEHOLDS = 6_000


@pytest.fixture(scope="session")
def demo_template(pg_server: Server) -> str:
    """A template database holding a small demo county, built once per run."""
    from geogrid.demo.load import build_demo

    url = pg_server.create(DEMO_TEMPLATE, template=TEMPLATE)
    eng = create_engine(url)
    build_demo(eng, households=DEMO_HOUSEHOLDS, seed=7, boundaries_dir=None)
    eng.dispose()
    return DEMO_TEMPLATE


@pytest.fixture
def demo_engine(pg_server: Server, demo_template: str) -> Iterator[Engine]:
    """A fresh database of this test's own, holding the small demo county."""
    name = f"geogrid_demo_{os.getpid()}_{next(_counter)}"
    eng = create_engine(pg_server.create(name, template=demo_template))
    yield eng
    eng.dispose()
    pg_server.drop(name)

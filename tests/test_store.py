"""The schema: migrations, spatial indexes, constraints, the managed cluster."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from geogrid.store.cluster import Cluster
from geogrid.store.db import alembic_config, migrate
from geogrid.store.models import Base

DOMAIN_TABLES = {
    "admin_unit",
    "branch",
    "grid",
    "grid_version",
    "grid_village",
    "staff",
    "grid_post",
    "liaison_officer",
    "grid_target",
    "household",
    "person",
    "visit",
    "task",
    "import_batch",
    "import_reject",
    "audit_log",
    "road",
    "gazetteer_place",
    "geocode_correction",
}


def test_migrations_create_every_domain_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert tables >= DOMAIN_TABLES
    assert set(Base.metadata.tables) <= tables


def test_migrating_twice_is_harmless(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert version == head == "0003"


def test_the_visit_accuracy_migration_goes_down_and_up(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "0002")
    assert "accuracy_m" not in {c["name"] for c in inspect(engine).get_columns("visit")}
    migrate(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("visit")}
    assert {"accuracy_m", "recorded_at"} <= columns


def test_the_household_summary_migration_goes_down_and_up(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "0001")
    assert "members" not in {
        c["name"] for c in inspect(engine).get_columns("household")
    }
    migrate(engine)
    assert "members" in {c["name"] for c in inspect(engine).get_columns("household")}


def test_every_geometry_column_has_a_gist_index(engine: Engine) -> None:
    with engine.connect() as conn:
        columns = conn.execute(
            text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")
        ).all()
        indexed = set(
            conn.execute(
                text(
                    """
                    SELECT t.relname, a.attname
                    FROM pg_index i
                    JOIN pg_class t ON t.oid = i.indrelid
                    JOIN pg_class ix ON ix.oid = i.indexrelid
                    JOIN pg_am am ON am.oid = ix.relam
                    JOIN pg_attribute a ON a.attrelid = t.oid
                         AND a.attnum = ANY(i.indkey)
                    WHERE am.amname = 'gist'
                    """
                )
            ).all()
        )
    assert len(columns) >= 9
    for table, column, srid in columns:
        assert srid == 4326, f"{table}.{column} is not EPSG:4326"
        assert (table, column) in indexed, f"{table}.{column} has no GiST index"


def test_grid_levels_and_parents_are_enforced(engine: Engine) -> None:
    square = "SRID=4326;MULTIPOLYGON(((121 28,121.1 28,121.1 28.1,121 28.1,121 28)))"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO branch (id, code, name) VALUES (1, 'B1', 'x')"))
    with (
        pytest.raises(IntegrityError, match="parent_matches_level"),
        engine.begin() as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO grid (code, name, level, branch_id, geom, locked, version)"
                " VALUES ('G', 'g', 2, 1, :g, false, 1)"
            ),
            {"g": square},
        )


def test_person_id_numbers_are_unique(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO household (id, household_no) VALUES (1, 'H1')"))
    insert = text(
        "INSERT INTO person (household_id, name, id_number, status, products, "
        "labels, deposit_own, loan_own, deposit_other, loan_other) VALUES "
        "(1, '张三', '11010519491231002X', 'customer', '{}', '{}', 0, 0, 0, 0)"
    )
    with engine.begin() as conn:
        conn.execute(insert)
    with (
        pytest.raises(IntegrityError, match="uq_person_id_number"),
        engine.begin() as conn,
    ):
        conn.execute(insert)


def test_managed_cluster_starts_stops_and_reports() -> None:
    folder = Path(tempfile.mkdtemp(prefix="geogrid-cluster-"))
    folder.chmod(0o755)
    cluster = Cluster(folder / "pg")
    assert not cluster.is_running()
    cluster.start()
    try:
        assert cluster.is_running()
        cluster.start()  # a second start is a no-op
        from sqlalchemy import create_engine

        probe = create_engine(cluster.url)
        with probe.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            assert conn.execute(text("SELECT postgis_lib_version()")).scalar()
        probe.dispose()
    finally:
        cluster.stop()
    assert not cluster.is_running()
    cluster.destroy()
    assert not (folder / "pg").exists()
    folder.rmdir()

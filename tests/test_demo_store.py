"""The demo county as loaded into PostGIS: its invariants hold in the store."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine, text

from geogrid.demo.generate import generate_county
from geogrid.demo.load import build_demo
from geogrid.validate import id_number_problems
from tests.conftest import DEMO_HOUSEHOLDS


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_demo_counts_match_what_was_asked(demo_engine: Engine) -> None:
    assert _scalar(demo_engine, "SELECT count(*) FROM household") == DEMO_HOUSEHOLDS
    assert (
        _scalar(demo_engine, "SELECT count(*) FROM admin_unit WHERE level = 'town'")
        >= 10
    )
    villages = _scalar(
        demo_engine, "SELECT count(*) FROM admin_unit WHERE level = 'village'"
    )
    assert 200 <= villages <= 300
    people = _scalar(demo_engine, "SELECT count(*) FROM person")
    assert 2.2 < people / DEMO_HOUSEHOLDS < 3.4


def test_every_household_lies_in_its_village(demo_engine: Engine) -> None:
    outside = _scalar(
        demo_engine,
        "SELECT count(*) FROM household h JOIN admin_unit v ON v.code = h.village_code "
        "WHERE NOT ST_Covers(v.geom, h.geom)",
    )
    orphans = _scalar(
        demo_engine,
        "SELECT count(*) FROM household h WHERE NOT EXISTS "
        "(SELECT 1 FROM admin_unit v WHERE v.code = h.village_code)",
    )
    assert (outside, orphans) == (0, 0)


def test_every_village_lies_in_its_town_and_codes_agree(demo_engine: Engine) -> None:
    bad = _scalar(
        demo_engine,
        """
        SELECT count(*) FROM admin_unit v
        JOIN admin_unit t ON t.code = v.parent_code AND t.level = 'town'
        WHERE v.level = 'village'
          AND (ST_Area(ST_Difference(v.geom, t.geom)::geography) > 1
               OR left(v.code, 9) <> left(t.code, 9))
        """,
    )
    unparented = _scalar(
        demo_engine,
        "SELECT count(*) FROM admin_unit v WHERE v.level <> 'county' AND NOT EXISTS "
        "(SELECT 1 FROM admin_unit p WHERE p.code = v.parent_code)",
    )
    assert (bad, unparented) == (0, 0)


def test_every_household_sits_in_exactly_one_second_level_grid(
    demo_engine: Engine,
) -> None:
    counts = _scalar(
        demo_engine,
        """
        SELECT count(*) FROM household h
        WHERE (SELECT count(*) FROM grid g
               WHERE g.level = 2 AND ST_Intersects(g.geom, h.geom)) <> 1
        """,
    )
    mismatched = _scalar(
        demo_engine,
        "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id "
        "WHERE NOT ST_Covers(g.geom, h.geom)",
    )
    assert (counts, mismatched) == (0, 0)


def test_person_id_numbers_are_valid_and_personal_data_synthetic(
    demo_engine: Engine,
) -> None:
    with demo_engine.connect() as conn:
        ids = conn.execute(text("SELECT id_number FROM person")).scalars().all()
    assert all(i.startswith("331099") for i in ids)  # a county code that does not exist
    assert (id_number_problems(pd.Series(ids)) == "").all()


def test_rebuilding_replaces_rather_than_adds(demo_engine: Engine) -> None:
    build_demo(demo_engine, households=500, seed=3, boundaries_dir=None)
    assert _scalar(demo_engine, "SELECT count(*) FROM household") == 500
    assert (
        _scalar(demo_engine, "SELECT count(*) FROM admin_unit WHERE level = 'county'")
        == 1
    )
    # the id sequences moved past the loaded ids: a new import gets fresh ids
    with demo_engine.begin() as conn:
        conn.execute(text("INSERT INTO household (household_no) VALUES ('NEW-1')"))


def test_boundary_files_are_written_in_each_format(tmp_path: Path) -> None:
    from geogrid.demo.generate import write_boundaries

    county = generate_county(households=300, seed=7)
    paths = write_boundaries(county, tmp_path)
    suffixes = {p.suffix for p in paths}
    assert {".geojson", ".shp", ".gpkg"} <= suffixes
    shp = next(p for p in paths if p.suffix == ".shp")
    assert shp.with_suffix(".cpg").read_text().strip().upper() in (
        "GBK",
        "936",
        "CP936",
    )
    towns = pyogrio.read_dataframe(shp, encoding="GBK")
    assert towns["name"].str.contains("镇|街道|乡").all()
    gpkg = next(p for p in paths if p.suffix == ".gpkg")
    assert len(gpd.read_file(gpkg)) == len(county.villages)


@pytest.mark.parametrize("level,name", [("town", "demo_towns.shp")])
def test_written_boundaries_import_back(
    engine: Engine, tmp_path: Path, level: str, name: str
) -> None:
    from geogrid.demo.generate import write_boundaries
    from geogrid.ingest import import_boundaries

    county = generate_county(households=300, seed=7)
    write_boundaries(county, tmp_path)
    report = import_boundaries(engine, tmp_path / name, level=level, crs="wgs84")
    assert report.rows_stored == len(county.towns) and report.rows_rejected == 0


def test_the_demo_does_not_replace_the_banks_own_data_unasked(engine: Engine) -> None:
    from geogrid.errors import InvalidInput
    from geogrid.ingest import import_boundaries

    outline = Path(__file__).parent / "data" / "wenling_outline_gcj02.geojson"
    import_boundaries(
        engine, outline, level="county", crs="gcj02", code="331081", name="温岭市"
    )

    with pytest.raises(InvalidInput, match="bank's own data") as refused:
        build_demo(engine, households=200, seed=3, boundaries_dir=None)
    assert "1 administrative units outside the demo county" in str(refused.value)
    assert "--replace" in str(refused.value)
    assert _scalar(
        engine, "SELECT count(*) FROM admin_unit WHERE code = '331081000000'"
    )

    build_demo(engine, households=200, seed=3, boundaries_dir=None, replace=True)
    assert _scalar(engine, "SELECT count(*) FROM household") == 200
    assert not _scalar(
        engine, "SELECT count(*) FROM admin_unit WHERE code = '331081000000'"
    )

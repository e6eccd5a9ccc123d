"""Importing county, town and village boundaries: formats, repairs, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine, text

from geogrid.crs import convert_gdf
from geogrid.errors import InvalidInput
from geogrid.ingest import import_boundaries, rejects_frame
from tests import factories


def _units(engine: Engine, level: str) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return gpd.read_postgis(
            text(
                "SELECT code, name, parent_code, kind, geom FROM admin_unit "
                "WHERE level = :level ORDER BY code"
            ),
            conn,
            params={"level": level},
            geom_col="geom",
        )


def test_featurecollection_of_villages_stores_codes_and_hierarchy(
    engine: Engine, tmp_path: Path
) -> None:
    path = factories.write_geojson(factories.villages_gdf(), tmp_path / "v.geojson")

    report = import_boundaries(engine, path, level="village", crs="wgs84")

    stored = _units(engine, "village")
    assert report.rows_stored == 64 and report.rows_rejected == 0
    assert len(stored) == 64
    assert set(stored["parent_code"]) == set(factories.TOWNS)
    assert (stored["kind"] == "村").all()
    assert "64 villages have no parent unit" in " ".join(report.lines()).replace(
        "village units", "villages"
    )


def test_bare_gcj02_geometry_is_converted_to_wgs84(
    engine: Engine, data_dir: Path
) -> None:
    path = data_dir / "wenling_outline_gcj02.geojson"
    raw = gpd.read_file(path)

    import_boundaries(
        engine, path, level="county", crs="gcj02", code="331081", name="温岭市"
    )

    stored = _units(engine, "county")
    assert list(stored["code"]) == ["331081000000"]
    # GCJ-02 is shifted about 500 m east and north of WGS84 in Zhejiang
    shift = (
        raw.to_crs(32651)
        .centroid[0]
        .distance(stored.set_crs(4326, allow_override=True).to_crs(32651).centroid[0])
    )
    assert 300 < shift < 800


def test_single_feature_file(engine: Engine, tmp_path: Path) -> None:
    path = factories.write_feature(
        factories.county_polygon(),
        {"code": factories.COUNTY_CODE, "name": "青溪县"},
        tmp_path / "county.json",
    )
    report = import_boundaries(engine, path, level="county", crs="wgs84")
    assert report.rows_stored == 1
    assert _units(engine, "county")["name"].tolist() == ["青溪县"]


@pytest.mark.parametrize("cpg", [True, False])
def test_shapefile_with_gbk_attributes(
    engine: Engine, tmp_path: Path, cpg: bool
) -> None:
    path = tmp_path / "towns.shp"
    pyogrio.write_dataframe(factories.towns_gdf(), path, encoding="GBK")
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    else:
        path.with_suffix(".cpg").write_text("GBK")

    import_boundaries(engine, path, level="town", crs="cgcs2000")

    assert _units(engine, "town")["name"].tolist() == ["东岭镇", "西溪镇"]


def test_geopackage(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "towns.gpkg"
    factories.towns_gdf().to_file(path, driver="GPKG", engine="pyogrio")
    report = import_boundaries(engine, path, level="town", crs="wgs84")
    assert report.rows_stored == 2
    assert (_units(engine, "town")["kind"] == "镇").all()


def test_projected_file_is_reprojected(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "towns_utm.gpkg"
    factories.towns_gdf().to_crs(32651).to_file(path, driver="GPKG")
    import_boundaries(engine, path, level="town", crs="EPSG:32651")
    stored = _units(engine, "town")
    expected = factories.towns_gdf()
    assert stored.geometry.iloc[0].hausdorff_distance(expected.geometry.iloc[0]) < 1e-7


def test_invalid_polygon_is_repaired_and_reported(
    engine: Engine, tmp_path: Path
) -> None:
    bowtie = shapely.Polygon(
        [(121.30, 28.60), (121.31, 28.61), (121.31, 28.60), (121.30, 28.61)]
    )
    assert not bowtie.is_valid
    gdf = gpd.GeoDataFrame(
        {"code": ["331099100201"], "name": ["蝶村"]}, geometry=[bowtie], crs=4326
    )
    path = factories.write_geojson(gdf, tmp_path / "bowtie.geojson")

    report = import_boundaries(engine, path, level="village", crs="wgs84")

    stored = _units(engine, "village").geometry.iloc[0]
    assert report.repaired == 1
    assert "1 invalid polygons were repaired" in "\n".join(report.lines())
    assert stored.is_valid
    assert stored.area == pytest.approx(0.0001 / 2, rel=1e-6)


def test_every_bad_feature_is_rejected_with_its_reason(
    engine: Engine, tmp_path: Path
) -> None:
    good = shapely.box(121.30, 28.60, 121.31, 28.61)
    gdf = gpd.GeoDataFrame(
        {
            "code": [
                "331099100201",
                "331099100202",
                "12345",
                "331099100000",
                "331099100201",
                "331099100203",
            ],
            "name": ["甲村", "乙村", "丙村", "丁镇", "甲村", ""],
        },
        geometry=[good, shapely.Point(121.3, 28.6), good, good, good, good],
        crs=4326,
    )
    path = factories.write_geojson(gdf, tmp_path / "mixed.geojson")

    report = import_boundaries(engine, path, level="village", crs="wgs84")

    assert report.rows_stored == 1 and report.rows_rejected == 5
    rejects = rejects_frame(engine, report.batch_id)
    reasons = dict(zip(rejects["行号 row"], rejects["原因 reason"], strict=True))
    assert "not a polygon" in reasons[2]
    assert "12-digit" in reasons[3]
    assert "not a village code" in reasons[4]
    assert reasons[5] == "duplicate code; first given at row 1"
    assert reasons[6] == "feature has no name"


def test_reimport_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = factories.write_geojson(factories.towns_gdf(), tmp_path / "t.geojson")
    import_boundaries(engine, path, level="town", crs="wgs84")
    with engine.connect() as conn:
        before = conn.execute(
            text("SELECT code, updated_at, batch_id FROM admin_unit ORDER BY code")
        ).all()

    again = import_boundaries(engine, path, level="town", crs="wgs84")

    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT code, updated_at, batch_id FROM admin_unit ORDER BY code")
        ).all()
    assert again.rows_stored == 0 and again.rows_unchanged == 2
    assert before == after


def test_metres_declared_as_degrees_is_refused(engine: Engine, tmp_path: Path) -> None:
    gdf = factories.towns_gdf().to_crs(32651)
    path = tmp_path / "utm_no_crs.json"
    doc = json.loads(gdf.to_json())
    doc.pop("crs", None)  # as files that lost their .prj
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"not longitude and latitude in China"):
        import_boundaries(engine, path, level="town", crs="wgs84")
    assert _units(engine, "town").empty


def test_file_without_code_column_names_what_it_found(
    engine: Engine, tmp_path: Path
) -> None:
    gdf = factories.towns_gdf().rename(columns={"code": "foo"})
    path = factories.write_geojson(gdf, tmp_path / "nocode.geojson")
    with pytest.raises(InvalidInput, match=r"no code attribute.*foo, name"):
        import_boundaries(engine, path, level="town", crs="wgs84")


def test_gcj02_villages_inside_wgs84_towns(engine: Engine, tmp_path: Path) -> None:
    towns = factories.write_geojson(factories.towns_gdf(), tmp_path / "t.geojson")
    import_boundaries(engine, towns, level="town", crs="wgs84")
    villages = convert_gdf(factories.villages_gdf(), "wgs84", "gcj02")
    path = factories.write_geojson(villages, tmp_path / "v_gcj.geojson")

    import_boundaries(engine, path, level="village", crs="gcj02")

    stored = _units(engine, "village").set_index("code")
    expected = factories.villages_gdf().set_index("code")
    offsets = shapely.hausdorff_distance(
        stored.geometry.to_numpy(), expected.loc[stored.index].geometry.to_numpy()
    )
    assert offsets.max() < 1e-6  # back on WGS84 to within 0.1 m

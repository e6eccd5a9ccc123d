"""Exporting layers: every format, coordinate conversion back, masking, audit."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, text

from geogrid.crs import convert_gdf
from geogrid.errors import InvalidInput
from geogrid.export import export_layer
from geogrid.ingest import import_boundaries, import_households
from tests import factories


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> Engine:
    villages = factories.write_geojson(factories.villages_gdf(), tmp_path / "v.json")
    import_boundaries(engine, villages, level="village", crs="wgs84")
    rows = factories.household_rows(6)
    rows.to_csv(tmp_path / "hh.csv", index=False)
    import_households(engine, tmp_path / "hh.csv")
    return engine


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_villages_round_trip_through_gis_formats(
    filled: Engine, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"villages{suffix}"
    assert export_layer(filled, "villages", path) == 64
    back = gpd.read_file(path)
    expected = factories.villages_gdf().set_index("code")
    back = back.rename(columns={"parent": "parent_code"}).set_index("code")
    assert (back["parent_code"] == back.index.str.slice(0, 9) + "000").all()
    assert set(back.index) == set(expected.index)
    assert back.loc["331099100201", "name"] == expected.loc["331099100201", "name"]
    distance = shapely.hausdorff_distance(
        back.geometry.to_numpy(), expected.loc[back.index].geometry.to_numpy()
    )
    assert distance.max() < 1e-7


def test_gcj02_export_converts_back(filled: Engine, tmp_path: Path) -> None:
    path = tmp_path / "v_gcj.geojson"
    export_layer(filled, "villages", path, crs="gcj02")
    back = gpd.read_file(path).set_index("code")
    expected = convert_gdf(factories.villages_gdf(), "wgs84", "gcj02").set_index("code")
    distance = shapely.hausdorff_distance(
        back.geometry.to_numpy(), expected.loc[back.index].geometry.to_numpy()
    )
    assert distance.max() < 1e-7


def test_people_csv_is_masked_and_audited(filled: Engine, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    export_layer(filled, "people", path, actor="tester")
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert len(table) == 12
    assert table["id_number"].str.fullmatch(r"\*{14}[0-9X]{4}").all()
    assert table["phone"].str.fullmatch(r"\*{7}\d{4}").all()
    assert {"lon", "lat"} <= set(table.columns)
    with filled.connect() as conn:
        actor, action, obj, detail = conn.execute(
            text("SELECT actor, action, object_id, detail FROM audit_log")
        ).one()
    assert (actor, action, obj) == ("tester", "export", "people")
    assert detail["rows"] == 12 and detail["unmasked"] is False


def test_unmasked_xlsx_keeps_full_numbers(filled: Engine, tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    export_layer(filled, "people", path, unmasked=True)
    table = pd.read_excel(path, dtype=str)
    expected = set(factories.household_rows(6)["身份证号"])
    assert set(table["id_number"]) == expected


def test_polygon_layer_as_csv_has_wkt(filled: Engine, tmp_path: Path) -> None:
    path = tmp_path / "villages.csv"
    export_layer(filled, "villages", path)
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    geoms = shapely.from_wkt(table["wkt"].to_numpy())
    assert shapely.area(geoms).sum() == pytest.approx(64 * factories.CELL_DEG**2)


def test_unknown_layer_and_format_are_explained(filled: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"Unknown layer 'farms'; choose one of"):
        export_layer(filled, "farms", tmp_path / "x.geojson")
    with pytest.raises(InvalidInput, match=r"must be one of .geojson.*got .kml"):
        export_layer(filled, "villages", tmp_path / "x.kml")

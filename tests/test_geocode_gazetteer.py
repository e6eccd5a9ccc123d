"""Building a gazetteer: checks on the input, name keys, label points, the store."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, text

from geogrid.errors import InvalidInput, WrongCRS
from geogrid.geocode import Gazetteer, Geocoder, inside_point

COUNTY, TOWN_A, TOWN_B = "990201000000", "990201100000", "990201200000"


def square(x: float, y: float, size: float = 0.01) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


def small_units(**changes: object) -> pd.DataFrame:
    """A county of two towns with two villages each, in WGS84."""
    rows = [
        (COUNTY, "河湾县", "county", None, None),
        (TOWN_A, "东镇", "town", COUNTY, square(120.00, 30.00, 0.02)),
        (TOWN_B, "西乡", "town", COUNTY, square(120.02, 30.00, 0.02)),
        ("990201100201", "桥头村委会", "village", TOWN_A, square(120.00, 30.00)),
        ("990201100202", "南塘一村委会", "village", TOWN_A, square(120.01, 30.00)),
        ("990201200201", "桥头村委会", "village", TOWN_B, square(120.02, 30.00)),
        ("990201200001", "西乡社区居委会", "village", TOWN_B, square(120.03, 30.00)),
    ]
    frame = pd.DataFrame(
        rows, columns=["code", "name", "level", "parent_code", "geometry"]
    )
    for column, value in changes.items():
        frame[column] = value
    return frame


# -- checks on the input ---------------------------------------------------------------


def test_missing_columns_are_named() -> None:
    units = small_units().drop(columns=["level"])
    with pytest.raises(
        InvalidInput, match=r"units: missing column\(s\) level; the frame has"
    ):
        Gazetteer.from_frames(units)


def test_codes_must_have_twelve_digits() -> None:
    units = small_units()
    units.loc[0, "code"] = "331081"
    with pytest.raises(
        InvalidInput, match=r"12-digit statistical codes; 1 row.* '331081'"
    ):
        Gazetteer.from_frames(units)


def test_codes_must_be_unique() -> None:
    units = small_units()
    units.loc[4, "code"] = units.loc[3, "code"]
    with pytest.raises(InvalidInput, match="'990201100201' appears more than once"):
        Gazetteer.from_frames(units)


def test_levels_must_be_known() -> None:
    units = small_units()
    units.loc[3, "level"] = "hamlet"
    with pytest.raises(
        InvalidInput, match="level must be one of county, town, village; got 'hamlet'"
    ):
        Gazetteer.from_frames(units)


def test_unit_geometries_must_be_polygons() -> None:
    units = small_units()
    units.loc[3, "geometry"] = shapely.Point(120.0, 30.0)
    with pytest.raises(
        InvalidInput, match="must be Polygon or MultiPolygon; got Point"
    ):
        Gazetteer.from_frames(units)


def test_projected_coordinates_are_refused() -> None:
    units = small_units()
    units["geometry"] = [
        g and shapely.affinity.scale(g, 5000, 5000, origin=(0, 0))
        for g in units["geometry"]
    ]
    with pytest.raises(
        WrongCRS, match="not longitudes and latitudes; the geometries look projected"
    ):
        Gazetteer.from_frames(units)


def test_frame_in_another_crs_is_refused() -> None:
    units = gpd.GeoDataFrame(small_units(), geometry="geometry", crs=4326).to_crs(3857)
    with pytest.raises(
        WrongCRS, match=r"units: geometries must be in WGS84 \(EPSG:4326\)"
    ):
        Gazetteer.from_frames(units)


def test_place_kinds_must_be_known() -> None:
    places = pd.DataFrame(
        {
            "kind": ["house"],
            "name": ["1号"],
            "parent_code": ["990201100201"],
            "geometry": [shapely.Point(120.005, 30.005)],
        }
    )
    with pytest.raises(
        InvalidInput, match="kind must be one of group, street, door, poi; got 'house'"
    ):
        Gazetteer.from_frames(small_units(), places)


def test_alias_must_point_to_a_loaded_unit() -> None:
    with pytest.raises(
        InvalidInput, match="alias '老镇' points to unit code '990201999000'"
    ):
        Gazetteer.from_frames(small_units(), aliases={"老镇": "990201999000"})


# -- names --------------------------------------------------------------------------


def test_every_form_of_a_name_is_registered() -> None:
    gazetteer = Gazetteer.from_frames(small_units())

    def codes(name: str) -> set[str]:
        return {e.code for e in gazetteer.lookup(name)}

    village = "990201100202"
    for name in [
        "南塘一村",
        "南塘一村委会",
        "南塘一村村委会",
        "南塘一村民委员会",
        "南塘一",
        "南塘1村",
    ]:
        assert codes(name) == {village}, name
    assert codes("桥头村") == {"990201100201", "990201200201"}
    assert codes("西乡") == {TOWN_B, "990201200001"}  # town and community share a stem
    assert codes("东镇") == {TOWN_A}
    assert codes("河湾") == {COUNTY}


def test_alias_names_an_old_town() -> None:
    gazetteer = Gazetteer.from_frames(small_units(), aliases={"老桥镇": TOWN_A})
    result = Geocoder(gazetteer).geocode("河湾县老桥镇桥头村")
    assert result.code == "990201100201"


def test_same_town_name_in_two_counties_needs_the_county() -> None:
    other = small_units()
    other["code"] = other["code"].str.replace("990201", "990202")
    other["parent_code"] = other["parent_code"].str.replace("990201", "990202")
    other.loc[0, "name"] = "山口县"
    geocoder = Geocoder(Gazetteer.from_frames(pd.concat([small_units(), other])))

    result = geocoder.geocode("东镇")
    assert result.status == "ambiguous"
    assert {c.code for c in result.candidates} == {TOWN_A, "990202100000"}
    assert geocoder.geocode("山口县东镇").code == "990202100000"
    assert geocoder.geocode("山口县东镇桥头村").code == "990202100201"


# -- points ---------------------------------------------------------------------------


def test_inside_point_of_a_concave_polygon_is_inside_and_away_from_borders() -> None:
    # a U shape: its centroid falls in the gap between the arms
    u_shape = shapely.Polygon(
        [(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)]
    )
    u_shape = shapely.affinity.translate(
        shapely.affinity.scale(u_shape, 0.01, 0.01, origin=(0, 0)), 120, 30
    )
    assert not u_shape.contains(u_shape.centroid)

    point = shapely.Point(inside_point(u_shape))
    assert u_shape.contains(point)
    assert u_shape.exterior.distance(point) > 0.004  # arms are 0.01 wide


def test_inside_point_of_a_multipolygon_lies_in_its_largest_part() -> None:
    small, large = square(120.0, 30.0, 0.001), square(120.1, 30.0, 0.05)
    point = shapely.Point(inside_point(shapely.MultiPolygon([small, large])))
    assert large.contains(point)


def test_unit_without_polygon_takes_the_union_of_its_children() -> None:
    gazetteer = Gazetteer.from_frames(small_units())
    county = gazetteer.polygon(COUNTY)

    assert county is not None
    assert county.area == pytest.approx(0.04 * 0.02)
    assert county.contains(shapely.Point(gazetteer.label_point(COUNTY)))


# -- from the store --------------------------------------------------------------------


def test_gazetteer_reads_the_store(engine: Engine) -> None:
    units = small_units()
    with engine.begin() as conn:
        for row in units.itertuples():
            conn.execute(
                text(
                    "INSERT INTO admin_unit (code, name, level, parent_code, geom) "
                    "VALUES (:code, :name, :level, :parent, "
                    "ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {
                    "code": row.code,
                    "name": row.name,
                    "level": row.level,
                    "parent": row.parent_code,
                    "wkt": row.geometry.wkt if row.geometry else None,
                },
            )
        conn.execute(
            text(
                "INSERT INTO gazetteer_place (kind, name, parent_code, geom) "
                "VALUES ('group', '第三组', '990201100201', "
                "ST_GeomFromText('POINT(120.004 30.006)', 4326))"
            )
        )

    gazetteer = Gazetteer.from_engine(engine)
    result = Geocoder(gazetteer).geocode("河湾县东镇桥头村三组")

    assert len(gazetteer) == len(units)
    assert (result.level, result.code, result.point) == (
        "group",
        "990201100201",
        (120.004, 30.006),
    )

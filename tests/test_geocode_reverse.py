"""Reverse geocoding and results of outside geocoders."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geogrid.crs import from_wgs84
from geogrid.errors import InvalidInput, WrongCRS
from geogrid.geocode import (
    Gazetteer,
    Geocoder,
    ReverseGeocoder,
    import_external_results,
    reverse_geocode,
)
from geogrid.geocode.reverse import METRES_PER_DEGREE

DATA = Path(__file__).parent / "data" / "geocode"
YINGHUI, TAIPING, WENLING = "331081001003", "331081001000", "331081000000"


@pytest.fixture(scope="module")
def wenling() -> Gazetteer:
    units = pd.read_csv(DATA / "wenling_units.csv", dtype=str, keep_default_na=False)
    units["geometry"] = [shapely.from_wkt(w) if w else None for w in units.pop("wkt")]
    units["parent_code"] = units["parent_code"].replace("", None)
    places = pd.read_csv(DATA / "wenling_places.csv", dtype=str)
    places["geometry"] = shapely.from_wkt(places.pop("wkt"))
    return Gazetteer.from_frames(units, places, upper_names=("台州市",))


@pytest.fixture(scope="module")
def reverser(wenling: Gazetteer) -> ReverseGeocoder:
    return ReverseGeocoder(wenling)


def test_point_inside_a_village_gets_village_town_and_county(
    reverser: ReverseGeocoder, wenling: Gazetteer
) -> None:
    lon, lat = wenling.label_point(YINGHUI)
    found = reverser.reverse(lon, lat)

    assert (found.village_code, found.village_name) == (YINGHUI, "迎辉社区")
    assert (found.town_code, found.town_name) == (TAIPING, "太平街道")
    assert found.county_code == WENLING
    assert found.grid_code is None


def test_nearest_place_is_reported_with_its_distance(
    reverser: ReverseGeocoder, wenling: Gazetteer
) -> None:
    group = wenling.place(YINGHUI, "group", "1组")
    assert group is not None
    north_100m = group.lat + 100 / METRES_PER_DEGREE

    found = reverser.reverse(group.lon, north_100m)

    assert found.place_kind in {"group", "door", "street"}
    assert found.place_distance_m is not None and found.place_distance_m <= 100.5
    if found.place_name == "1组":
        assert found.place_distance_m == pytest.approx(100, abs=0.5)


def test_point_outside_the_county_gets_nothing(reverser: ReverseGeocoder) -> None:
    found = reverser.reverse(116.39, 39.91)  # Beijing
    assert found.village_code is None and found.town_code is None
    assert found.place_name is None


def test_reverse_many_keeps_order_and_skips_bad_points(
    reverser: ReverseGeocoder, wenling: Gazetteer
) -> None:
    lon, lat = wenling.label_point(YINGHUI)
    frame = reverser.reverse_many([lon, np.nan, 500.0, lon], [lat, lat, lat, lat])

    assert frame["village_code"].tolist() == [YINGHUI, None, None, YINGHUI]
    assert frame["town_code"].tolist() == [TAIPING, None, None, TAIPING]


def test_point_on_a_shared_border_goes_to_the_lowest_code(
    reverser: ReverseGeocoder, wenling: Gazetteer
) -> None:
    village = wenling.polygon(YINGHUI)
    neighbours = [
        code
        for code, unit in wenling.units.items()
        if unit.level == "village"
        and code != YINGHUI
        and wenling.polygon(code).touches(village)
    ]
    shared = village.intersection(wenling.polygon(neighbours[0]))
    point = shared.interpolate(0.5, normalized=True)

    found = reverser.reverse(point.x, point.y)
    assert found.village_code == min(YINGHUI, neighbours[0])


def test_bad_coordinates_are_refused(reverser: ReverseGeocoder) -> None:
    with pytest.raises(InvalidInput, match=r"finite longitude .* got \(28.4, 521.4\)"):
        reverser.reverse(28.4, 521.4)
    with pytest.raises(
        InvalidInput, match="both must have the same length; got 2 and 1"
    ):
        reverser.reverse_many([1.0, 2.0], [3.0])


def test_grids_give_each_point_its_grid(wenling: Gazetteer) -> None:
    taiping = wenling.polygon(TAIPING)
    grids = gpd.GeoDataFrame({"code": ["G-TAIPING"]}, geometry=[taiping], crs=4326)
    lon, lat = wenling.label_point(YINGHUI)

    found = reverse_geocode(wenling, lon, lat, grids=grids)
    elsewhere = reverse_geocode(
        wenling, *wenling.label_point("331081103203"), grids=grids
    )

    assert found.grid_code == "G-TAIPING"
    assert elsewhere.grid_code is None


def test_grids_must_have_codes_and_lonlat(wenling: Gazetteer) -> None:
    grids = gpd.GeoDataFrame(
        {"name": ["x"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326
    )
    with pytest.raises(
        InvalidInput, match=r"grids: expected a GeoDataFrame .* with a 'code' column"
    ):
        ReverseGeocoder(wenling, grids)
    with pytest.raises(WrongCRS, match="grids: polygons must be in WGS84"):
        ReverseGeocoder(wenling, grids.assign(code="g").to_crs(3857))


# -- outside results -------------------------------------------------------------------


@pytest.fixture(scope="module")
def outside(wenling: Gazetteer) -> pd.DataFrame:
    """Our own group-level points, written as AMap (GCJ-02) would give them."""
    rng = np.random.default_rng(5)
    villages = sorted(c for c, u in wenling.units.items() if u.level == "village")
    rows = []
    for code in rng.choice(villages, 300, replace=False):
        unit = wenling.unit(code)
        place = wenling.place(code, "group", "1组")
        rows.append(
            (
                f"温岭市{wenling.unit(unit.parent_code).name}{unit.name}1组",
                place.lon,
                place.lat,
            )
        )
    frame = pd.DataFrame(rows, columns=["address", "wgs_lon", "wgs_lat"])
    frame["lng"], frame["lat"] = from_wgs84(frame["wgs_lon"], frame["wgs_lat"], "gcj02")
    return frame


def test_outside_results_are_converted_to_wgs84(
    outside: pd.DataFrame, wenling: Gazetteer
) -> None:
    imported = import_external_results(
        outside, "lng", "lat", "GCJ-02", geocoder=Geocoder(wenling)
    )

    assert np.allclose(imported["lon"], outside["wgs_lon"], atol=1e-6)
    assert np.allclose(imported["lat"], outside["wgs_lat"], atol=1e-6)
    assert "lat_gcj02" in imported.columns  # the input's own lat column is kept
    assert (imported["crs_source"] == "gcj02").all()
    assert imported["inside_area"].all()
    assert imported["agrees"].mean() > 0.95


def test_wrong_declared_crs_is_caught(
    outside: pd.DataFrame, wenling: Gazetteer
) -> None:
    with pytest.raises(WrongCRS, match=r"declared as wgs84.*probably in gcj02"):
        import_external_results(
            outside, "lng", "lat", "wgs84", geocoder=Geocoder(wenling)
        )


def test_missing_coordinates_stay_empty(outside: pd.DataFrame) -> None:
    broken = outside.head(3).copy()
    broken.loc[1, "lng"] = None
    broken.loc[2, "lat"] = 500.0

    imported = import_external_results(broken, "lng", "lat", "gcj02")

    assert not math.isnan(imported.loc[0, "lon"])
    assert imported.loc[[1, 2], "lon"].isna().all()


def test_outside_results_need_a_known_crs_and_columns(outside: pd.DataFrame) -> None:
    with pytest.raises(
        InvalidInput,
        match="must be one of wgs84, cgcs2000, gcj02, bd09; got 'EPSG:3857'",
    ):
        import_external_results(outside, "lng", "lat", "EPSG:3857")
    with pytest.raises(InvalidInput, match=r"df: missing column\(s\) x"):
        import_external_results(outside, "x", "lat", "gcj02")

"""Coordinate systems: GCJ-02 and BD-09 shifts, EPSG codes, UTM zones, detection."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from geogrid import crs
from geogrid.errors import InvalidInput, WrongCRS

GEOD = pyproj.Geod(ellps="WGS84")

# a point in Hangzhou, Zhejiang, where the GCJ-02 offset is about 500 m
HANGZHOU = (120.16, 30.27)


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distances on WGS84, in metres."""
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def china_grid(step_deg: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A jittered grid of points over mainland China's extent."""
    lon, lat = np.meshgrid(
        np.arange(74.0, 134.0, step_deg), np.arange(19.0, 53.0, step_deg)
    )
    jitter = np.random.default_rng(7).uniform(0.0, step_deg, (2, *lon.shape))
    return (lon + jitter[0]).ravel(), (lat + jitter[1]).ravel()


def gcj02_reference(lon: float, lat: float) -> tuple[float, float]:
    """The published GCJ-02 formula, one point at a time in plain float64."""
    x, y = lon - 105.0, lat - 35.0
    sin, pi = math.sin, math.pi
    shared = 20 * sin(6 * pi * x) + 20 * sin(2 * pi * x)
    waves_lat = shared + 20 * sin(pi * y) + 40 * sin(pi * y / 3)
    waves_lat += 160 * sin(pi * y / 12) + 320 * sin(pi * y / 30)
    waves_lon = shared + 20 * sin(pi * x) + 40 * sin(pi * x / 3)
    waves_lon += 150 * sin(pi * x / 12) + 300 * sin(pi * x / 30)
    root = math.sqrt(abs(x))
    dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    dlat += waves_lat * 2 / 3
    dlon += waves_lon * 2 / 3

    a, e2 = 6378245.0, 0.00669342162296594323
    w = 1 - e2 * sin(math.radians(lat)) ** 2
    dlat_deg = math.degrees(dlat * w * math.sqrt(w) / (a * (1 - e2)))
    dlon_deg = math.degrees(dlon * math.sqrt(w) / (a * math.cos(math.radians(lat))))
    return lon + dlon_deg, lat + dlat_deg


# --- the shifts -----------------------------------------------------------------


def test_wgs84_to_gcj02_matches_published_pair():
    # Tiananmen; the pair is quoted by several independent open-source libraries
    lon, lat = crs.wgs84_to_gcj02(116.404, 39.915)
    assert lon == pytest.approx(116.41024449916938, abs=1e-8)
    assert lat == pytest.approx(39.91640428150164, abs=1e-8)


def test_gcj02_to_bd09_matches_published_pair():
    lon, lat = crs.gcj02_to_bd09(116.404, 39.915)
    assert lon == pytest.approx(116.41036949371029, abs=1e-8)
    assert lat == pytest.approx(39.92133699351021, abs=1e-8)


def test_gcj02_agrees_with_plain_float64_formula_across_china_to_a_millimetre():
    lon, lat = china_grid(step_deg=2.0)
    got_lon, got_lat = crs.wgs84_to_gcj02(lon, lat)
    expected = np.array([gcj02_reference(x, y) for x, y in zip(lon, lat, strict=True)])
    assert distance_m(got_lon, got_lat, expected[:, 0], expected[:, 1]).max() < 0.001


def test_gcj02_offset_in_zhejiang_is_about_500_m_to_the_south_east():
    lon, lat = np.meshgrid(np.linspace(118.0, 123.0, 11), np.linspace(27.0, 31.5, 10))
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(lon, lat)
    offset_m = distance_m(lon, lat, gcj_lon, gcj_lat)
    assert offset_m.min() > 400 and offset_m.max() < 700
    assert np.all(gcj_lon > lon) and np.all(gcj_lat < lat)


def test_bd09_sits_about_0_0065_east_and_0_006_north_of_gcj02():
    lon, lat = china_grid(step_deg=2.0)
    bd_lon, bd_lat = crs.gcj02_to_bd09(lon, lat)
    assert np.abs(bd_lon - lon - 0.0065).max() < 5e-4
    assert np.abs(bd_lat - lat - 0.006).max() < 5e-4


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_inverse_returns_within_a_millimetre_across_china(system):
    # the requirement is 0.5 m; the iteration does far better
    lon, lat = china_grid()
    shifted_lon, shifted_lat = crs.from_wgs84(lon, lat, system)
    back_lon, back_lat = crs.to_wgs84(shifted_lon, shifted_lat, system)
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.001


@pytest.mark.parametrize(("src", "dst"), [("gcj02", "bd09"), ("bd09", "gcj02")])
def test_forward_of_inverse_is_identity(src, dst):
    lon, lat = china_grid(step_deg=1.0)
    there = crs.convert_points(lon, lat, src, dst)
    back_lon, back_lat = crs.convert_points(*there, dst, src)
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.001


def test_each_point_converts_the_same_alone_or_in_a_large_array():
    lon, lat = china_grid(step_deg=0.2)
    assert lon.size > 40_000  # spans several internal blocks
    all_lon, all_lat = crs.convert_points(lon, lat, "bd09", "wgs84")
    for i in np.random.default_rng(1).choice(lon.size, 20, replace=False):
        one_lon, one_lat = crs.convert_points(lon[i], lat[i], "bd09", "wgs84")
        # a block iterates until its slowest point settles, so the last
        # digits may differ
        assert one_lon == pytest.approx(all_lon[i], abs=1e-9)
        assert one_lat == pytest.approx(all_lat[i], abs=1e-9)


def test_shapes_are_kept_and_a_missing_coordinate_gives_a_missing_point():
    lon = np.array([[120.1, np.nan], [121.0, 122.0]])
    lat = np.array([[30.0, 30.0], [np.nan, 29.0]])
    got_lon, got_lat = crs.convert_points(lon, lat, "bd09", "wgs84")
    missing = np.isnan(lon) | np.isnan(lat)
    assert got_lon.shape == (2, 2)
    assert np.array_equal(np.isnan(got_lon), missing)
    assert np.array_equal(np.isnan(got_lat), missing)


def test_mismatched_lengths_are_refused():
    with pytest.raises(InvalidInput, match=r"same shape; received \(3,\) and \(2,\)"):
        crs.convert_points([1, 2, 3], [1, 2], "gcj02", "wgs84")


# --- outside China -----------------------------------------------------------------

ABROAD = {
    "London": (-0.1276, 51.5072),
    "New York": (-74.006, 40.7128),
    "Tokyo": (139.6917, 35.6895),
    "Sydney": (151.2093, -33.8688),
}


@pytest.mark.parametrize("place", ABROAD)
def test_gcj02_equals_wgs84_outside_china(place):
    lon, lat = ABROAD[place]
    assert not crs.in_china_bbox(lon, lat)
    assert crs.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert crs.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_bd09_keeps_its_own_offset_outside_china():
    lon, lat = ABROAD["London"]
    bd_lon, bd_lat = crs.from_wgs84(lon, lat, "bd09")
    assert bd_lon - lon == pytest.approx(0.0065, abs=5e-4)
    assert bd_lat - lat == pytest.approx(0.006, abs=5e-4)


# --- EPSG codes ------------------------------------------------------------------


def test_utm_central_meridian_maps_to_false_easting():
    # 123 E is the central meridian of UTM zone 51
    easting_m, northing_m = crs.convert_points(123.0, 30.0, "wgs84", "EPSG:32651")
    assert easting_m == pytest.approx(500_000.0, abs=1e-6)
    assert northing_m == pytest.approx(GEOD.inv(123, 0, 123, 30)[2] * 0.9996, abs=1e-3)


def test_epsg_round_trip_through_utm():
    lon, lat = np.array([119.5, 120.16, 121.9]), np.array([28.1, 30.27, 29.87])
    easting_m, northing_m = crs.convert_points(lon, lat, "gcj02", "EPSG:32651")
    back_lon, back_lat = crs.convert_points(
        easting_m, northing_m, "EPSG:32651", "gcj02"
    )
    assert distance_m(lon, lat, back_lon, back_lat).max() < 0.001


def test_shifted_systems_reach_epsg_through_wgs84():
    wgs_lon, wgs_lat = crs.to_wgs84(*HANGZHOU, "bd09")
    direct = crs.convert_points(*HANGZHOU, "bd09", "EPSG:32651")
    via_wgs = crs.convert_points(wgs_lon, wgs_lat, "EPSG:4326", "EPSG:32651")
    assert direct == pytest.approx(via_wgs, abs=1e-6)


def test_cgcs2000_is_treated_as_wgs84():
    assert crs.convert_points(*HANGZHOU, "cgcs2000", "wgs84") == HANGZHOU
    assert crs.convert_points(*HANGZHOU, "EPSG:4490", "gcj02") == crs.wgs84_to_gcj02(
        *HANGZHOU
    )


# --- names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("wgs84", "wgs84"),
        ("WGS84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("epsg:4326", "wgs84"),
        ("cgcs2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        (" bd09 ", "bd09"),
        ("bd-09", "bd09"),
        ("EPSG:32651", "EPSG:32651"),
        ("epsg:4549", "EPSG:4549"),
    ],
)
def test_parse_crs_normalises_names(value, expected):
    assert crs.parse_crs(value) == expected


def test_parse_crs_lists_accepted_values_for_an_unknown_name():
    with pytest.raises(
        InvalidInput,
        match=r"Coordinate system 'baidu' is not recognised\. Use wgs84, cgcs2000 "
        r"\(EPSG:4490\), gcj02, bd09 or an EPSG code",
    ):
        crs.parse_crs("baidu")


def test_parse_crs_refuses_an_epsg_code_pyproj_does_not_know():
    with pytest.raises(InvalidInput, match="'EPSG:999999' is not an EPSG code pyproj"):
        crs.parse_crs("EPSG:999999")


def test_parse_crs_refuses_a_number():
    with pytest.raises(
        InvalidInput, match="must be a string; received 4326 of type int"
    ):
        crs.parse_crs(4326)  # type: ignore[arg-type]


def test_pyproj_crs_labels_shifted_systems_as_degrees():
    assert crs.pyproj_crs("gcj02").to_epsg() == 4326
    assert crs.pyproj_crs("bd09").to_epsg() == 4326
    assert crs.pyproj_crs("cgcs2000").to_epsg() == 4490
    assert crs.pyproj_crs("EPSG:32651").to_epsg() == 32651


# --- geometries and frames ------------------------------------------------------


def sample_geometries() -> np.ndarray:
    lon, lat = HANGZHOU
    return np.array(
        [
            Point(lon, lat),
            LineString([(lon, lat), (lon + 0.01, lat + 0.02)]),
            box(lon, lat, lon + 0.02, lat + 0.01),
            MultiPolygon(
                [
                    box(lon, lat, lon + 0.01, lat + 0.01),
                    box(lon + 0.02, lat, lon + 0.03, lat + 0.01),
                ]
            ),
            None,
        ],
        dtype=object,
    )


def test_convert_geometries_keeps_types_and_moves_every_vertex():
    geoms = sample_geometries()
    converted = crs.convert_geometries(geoms, "gcj02", "wgs84")

    assert converted[-1] is None
    assert list(shapely.get_type_id(converted)) == list(shapely.get_type_id(geoms))
    coords = shapely.get_coordinates(geoms)
    expected = np.column_stack(crs.gcj02_to_wgs84(coords[:, 0], coords[:, 1]))
    assert np.array_equal(shapely.get_coordinates(converted), expected)


def test_convert_gdf_returns_a_labelled_copy():
    gdf = gpd.GeoDataFrame(
        {"village": list("abcde")}, geometry=list(sample_geometries()), crs=4326
    )
    before = gdf.geometry.copy()

    out = crs.convert_gdf(gdf, "wgs84", "bd09")
    assert out.crs.to_epsg() == 4326
    assert list(out["village"]) == list("abcde")
    assert list(out.geom_type[:4]) == list(gdf.geom_type[:4])
    assert out.geometry.iloc[0].x == pytest.approx(crs.wgs84_to_bd09(*HANGZHOU)[0])
    assert gdf.geometry.equals(before)

    metric = crs.convert_gdf(out, "bd09", "EPSG:32651")
    assert metric.crs.to_epsg() == 32651
    assert metric.geometry.iloc[0].x == pytest.approx(
        crs.convert_points(*HANGZHOU, "wgs84", "EPSG:32651")[0], abs=0.001
    )


def test_convert_gdf_refuses_a_frame_labelled_otherwise():
    gdf = gpd.GeoDataFrame(geometry=[Point(350_000, 3_350_000)], crs=32651)
    with pytest.raises(
        InvalidInput, match="labelled EPSG:32651 but was declared as gcj02"
    ):
        crs.convert_gdf(gdf, "gcj02", "wgs84")


# --- UTM zones --------------------------------------------------------------------


def test_utm_crs_for_zhejiang_bounds():
    assert crs.utm_crs_for((118.0, 27.0, 123.0, 31.5)).to_epsg() == 32651


def test_utm_crs_for_geometries_and_frames():
    guangzhou = np.array([Point(113.26, 23.13), Point(113.3, 23.2)], dtype=object)
    assert crs.utm_crs_for(guangzhou).to_epsg() == 32649
    sydney = gpd.GeoDataFrame(geometry=[Point(*ABROAD["Sydney"])], crs=4326)
    assert crs.utm_crs_for(sydney).to_epsg() == 32756
    assert crs.utm_crs_for(sydney.to_crs(3857)).to_epsg() == 32756


def test_utm_crs_for_refuses_projected_numbers():
    with pytest.raises(InvalidInput, match="not finite longitudes and latitudes"):
        crs.utm_crs_for((350_000.0, 3_300_000.0, 360_000.0, 3_310_000.0))


def test_to_metric_gives_distances_in_metres():
    lon, lat = HANGZHOU
    gdf = gpd.GeoDataFrame(
        geometry=[Point(lon, lat), Point(lon + 0.05, lat + 0.05)], crs=4326
    )
    metric = crs.to_metric(gdf)
    assert metric.crs.to_epsg() == 32651
    geodesic_m = distance_m(lon, lat, lon + 0.05, lat + 0.05)
    # UTM scale error is under 0.1% near the zone's middle
    assert metric.geometry.iloc[0].distance(metric.geometry.iloc[1]) == pytest.approx(
        geodesic_m, rel=1e-3
    )


def test_to_metric_needs_a_crs():
    with pytest.raises(InvalidInput, match="has no CRS"):
        crs.to_metric(gpd.GeoDataFrame(geometry=[Point(*HANGZHOU)]))


# --- detecting the coordinate system ------------------------------------------


@pytest.fixture
def villages() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Households inside 16 square villages, 2 km wide, near Shaoxing (WGS84)."""
    size_deg = 0.02
    corner_lon, corner_lat = np.meshgrid(
        120.5 + size_deg * np.arange(4), 29.9 + size_deg * np.arange(4)
    )
    cells = shapely.box(
        corner_lon.ravel(),
        corner_lat.ravel(),
        corner_lon.ravel() + size_deg,
        corner_lat.ravel() + size_deg,
    )
    rng = np.random.default_rng(3)
    village = rng.integers(0, len(cells), 800)
    polygons = cells[village]
    minx, miny, maxx, maxy = shapely.bounds(polygons).T
    lon = rng.uniform(minx, maxx)
    lat = rng.uniform(miny, maxy)
    return lon, lat, polygons


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_detect_crs_finds_the_system_points_were_shifted_into(villages, system):
    lon, lat, polygons = villages
    shifted_lon, shifted_lat = crs.from_wgs84(lon, lat, system)

    detection = crs.detect_crs(shifted_lon, shifted_lat, polygons)
    assert detection.best == system
    assert detection.inside_share[system] == 1.0
    assert detection.inside_share["wgs84"] < 0.9
    assert detection.n == 800


def test_detect_crs_skips_points_without_location_or_polygon(villages):
    lon, lat, polygons = villages
    lon, polygons = lon.copy(), polygons.copy()
    lon[:10] = np.nan
    polygons[10:30] = None
    detection = crs.detect_crs(lon, lat, polygons)
    assert detection.n == 770
    assert detection.inside_share["wgs84"] == 1.0


def test_detect_crs_with_nothing_to_test_reports_nan():
    detection = crs.detect_crs([np.nan], [30.0], [box(0, 0, 1, 1)])
    assert detection.n == 0
    assert all(math.isnan(share) for share in detection.inside_share.values())


def test_detect_crs_needs_one_polygon_per_point(villages):
    lon, lat, polygons = villages
    with pytest.raises(InvalidInput, match="received 800 points and 799 polygons"):
        crs.detect_crs(lon, lat, polygons[:-1])


def test_check_declared_crs_catches_gcj02_declared_as_wgs84(villages):
    lon, lat, polygons = villages
    gcj_lon, gcj_lat = crs.from_wgs84(lon, lat, "gcj02")

    with pytest.raises(WrongCRS) as caught:
        crs.check_declared_crs(gcj_lon, gcj_lat, polygons, "wgs84", source="amap.xlsx")

    message = str(caught.value)
    assert message.startswith("amap.xlsx: coordinates were declared as wgs84")
    assert "gcj02 100%" in message
    assert "probably in gcj02: re-run with --crs gcj02." in message
    assert caught.value.details["probable"] == "gcj02"


def test_check_declared_crs_catches_a_shift_that_leaves_most_points_inside(villages):
    # 500 m moves only part of a 2 km village's households out of it
    lon, lat, polygons = villages
    gcj_lon, gcj_lat = crs.from_wgs84(lon, lat, "gcj02")
    detection = crs.detect_crs(gcj_lon, gcj_lat, polygons)
    assert detection.inside_share["wgs84"] > 0.5

    with pytest.raises(
        WrongCRS, match=r"share inside: wgs84 \d+%, gcj02 100%, bd09 \d+%"
    ):
        crs.check_declared_crs(gcj_lon, gcj_lat, polygons, "wgs84", source="amap.xlsx")


def test_check_declared_crs_accepts_the_right_system(villages):
    lon, lat, polygons = villages
    bd_lon, bd_lat = crs.from_wgs84(lon, lat, "bd09")
    detection = crs.check_declared_crs(
        bd_lon, bd_lat, polygons, "BD-09", source="baidu.csv"
    )
    assert detection.best == "bd09"


def test_check_declared_crs_spares_correct_but_noisy_locations(villages):
    # a third of the households geocoded to a random village: every candidate
    # suffers alike, so the declared system stands
    lon, lat, polygons = villages
    polygons = polygons.copy()
    rng = np.random.default_rng(5)
    noisy = rng.random(lon.size) < 0.33
    polygons[noisy] = rng.permutation(polygons)[noisy]

    detection = crs.check_declared_crs(
        lon, lat, polygons, "wgs84", source="ledger.xlsx"
    )
    assert detection.inside_share["wgs84"] < 0.9
    assert detection.best == "wgs84"

"""Visit routes: road networks, day plans with VROOM, retiming, weeks and exports."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely

from geogrid.errors import InvalidInput
from geogrid.routes import (
    RoadNetwork,
    Stop,
    StraightLine,
    plan_route,
    plan_week,
    read_osm_roads,
    read_roads,
    retime,
    stops_from_frame,
    time_windows_for,
    to_gpx,
    to_kml,
    to_xlsx,
    working_days,
    write_route,
)
from geogrid.routes import solve as rs

# a local plane in metres: UTM zone 51N, the zone the network picks for it,
# so lengths here equal lengths there; (0, 0) is near 120.9 E, 30.0 N
UTM = "EPSG:32651"
X0_M, Y0_M = 300_000.0, 3_320_000.0
TO_LONLAT = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
GEOD = pyproj.Geod(ellps="WGS84")

WEDNESDAY = dt.date(2025, 3, 5)
SATURDAY = dt.date(2025, 3, 8)
KM_PER_H_30 = 120.0  # seconds per km at 30 km/h


def lonlat(x_km: float, y_km: float) -> tuple[float, float]:
    """WGS84 degrees of a point given in km on the local plane."""
    lon, lat = TO_LONLAT.transform(X0_M + x_km * 1000.0, Y0_M + y_km * 1000.0)
    return float(lon), float(lat)


def road(*points_km: tuple[float, float]) -> shapely.LineString:
    """A road through points given in km on the local plane."""
    return shapely.LineString([lonlat(x, y) for x, y in points_km])


def roads_gdf(lines: list[shapely.LineString], speed_kph: float | list[float] = 30.0):
    speeds = speed_kph if isinstance(speed_kph, list) else [speed_kph] * len(lines)
    return gpd.GeoDataFrame({"speed_kph": speeds}, geometry=lines, crs=4326)


def street_grid(n: int = 5, diagonal_kph: float | None = None) -> gpd.GeoDataFrame:
    """Streets every km on an n x n grid, one segment per block, at 30 km/h.

    With `diagonal_kph`, a county road also runs from (0, 0) to (n-1, n-1)
    through the junctions on the diagonal.
    """
    lines, speeds = [], []
    for i in range(n):
        for j in range(n - 1):
            lines += [road((j, i), (j + 1, i)), road((i, j), (i, j + 1))]
            speeds += [30.0, 30.0]
    if diagonal_kph is not None:
        lines.append(road(*[(k, k) for k in range(n)]))
        speeds.append(diagonal_kph)
    return roads_gdf(lines, speeds)


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return RoadNetwork.from_roads(street_grid(9))


@pytest.fixture(scope="module")
def line_road() -> RoadNetwork:
    """One straight road from x = -6 km to x = +6 km at 30 km/h."""
    return RoadNetwork.from_roads(roads_gdf([road((-6, 0), (6, 0))]))


def on_line(stop_id: str, x_km: float, **kwargs) -> Stop:
    return Stop(stop_id, *lonlat(x_km, 0.0), **kwargs)


def accounted(plan, stops) -> bool:
    """Every stop is either visited or unscheduled, once."""
    ids = [s.id for s in plan.stops] + [u.stop_id for u in plan.unscheduled]
    return sorted(map(str, ids)) == sorted(str(s.id) for s in stops)


# --- the road network ---------------------------------------------------------


def test_grid_has_a_node_per_junction_and_an_edge_per_block():
    network = RoadNetwork.from_roads(street_grid(5))

    assert (network.n_nodes, network.n_edges) == (25, 40)
    assert network.crs.to_epsg() == 32651
    assert np.allclose(network.edge_length_m, 1000.0, atol=1e-6)


def test_whole_streets_are_split_where_they_share_a_vertex():
    # each street one line through all its junctions, as OpenStreetMap ways
    lines = [road(*[(j, i) for j in range(5)]) for i in range(5)]
    lines += [road(*[(i, j) for j in range(5)]) for i in range(5)]

    network = RoadNetwork.from_roads(roads_gdf(lines))

    assert (network.n_nodes, network.n_edges) == (25, 40)


def test_road_ends_within_a_metre_connect():
    # a gap of 0.5 m between two ends, and an end 0.6 m beside another road
    lines = [
        road((0, 0), (1, 0)),
        road((1.0005, 0), (2, 0)),
        road((1.5, 0.0006), (1.5, 1)),
    ]
    network = RoadNetwork.from_roads(roads_gdf(lines))
    matrix = network.matrix(*zip(lonlat(0, 0), lonlat(1.5, 1), strict=True))

    # the second road is split where the third one joins it
    assert network.n_edges == 4
    assert matrix.distance_m[0, 1] == pytest.approx(2500.0, abs=2.0)


def test_crossing_roads_meet_only_when_crossings_are_split():
    lines = [road((0, 0), (2, 0)), road((1, -1), (1, 1))]
    bridge = RoadNetwork.from_roads(roads_gdf(lines))
    junction = RoadNetwork.from_roads(roads_gdf(lines), split_crossings=True)

    # without a shared vertex the crossing is a bridge: one road is left out
    assert bridge.n_edges == 1
    assert junction.n_edges == 4
    matrix = junction.matrix(*zip(lonlat(0, 0), lonlat(1, 1), strict=True))
    assert matrix.distance_m[0, 1] == pytest.approx(2000.0, abs=0.01)


def test_detached_fragments_are_left_out():
    lines = [road((0, 0), (1, 0)), road((1, 0), (2, 0)), road((5, 5), (6, 5))]

    network = RoadNetwork.from_roads(roads_gdf(lines))

    assert network.n_edges == 2


def test_travel_time_is_length_over_speed_plus_access_at_15_kph(line_road):
    # one stop on the road, one 100 m beside it
    lon, lat = zip(lonlat(-3, 0), lonlat(2, 0.1), strict=True)

    matrix = line_road.matrix(lon, lat)

    assert matrix.access_m == pytest.approx([0.0, 100.0], abs=0.01)
    assert matrix.distance_m[0, 1] == pytest.approx(5100.0, abs=0.01)
    assert matrix.time_s[0, 1] == pytest.approx(5 * KM_PER_H_30 + 100 / (15 / 3.6))
    assert matrix.time_s[1, 0] == pytest.approx(matrix.time_s[0, 1])


def test_quickest_path_takes_the_faster_county_road():
    network = RoadNetwork.from_roads(street_grid(5, diagonal_kph=60.0))
    matrix = network.matrix(*zip(lonlat(0, 0), lonlat(4, 4), strict=True))

    # the diagonal is 5.66 km at 60 km/h; the streets 8 km at 30 km/h
    assert matrix.distance_m[0, 1] == pytest.approx(4000 * math.sqrt(2), abs=0.01)
    assert matrix.time_s[0, 1] == pytest.approx(4000 * math.sqrt(2) / (60 / 3.6))


def test_missing_speeds_come_from_the_road_kind():
    lines = [road((0, 0), (1, 0)), road((1, 0), (2, 0))]
    roads = gpd.GeoDataFrame(
        {"kind": ["county", "unknown"], "speed_kph": [np.nan, None]},
        geometry=lines,
        crs=4326,
    )

    network = RoadNetwork.from_roads(roads, default_speed_kph=20.0)

    assert sorted(network.edge_speed_kph.tolist()) == [20.0, 60.0]


def test_roads_without_a_crs_are_refused():
    roads = gpd.GeoDataFrame(geometry=[road((0, 0), (1, 0))])

    with pytest.raises(InvalidInput, match=r"have no CRS.*set_crs"):
        RoadNetwork.from_roads(roads)


def test_leg_lines_follow_the_roads(grid):
    lon, lat = zip(lonlat(0, 0), lonlat(3, 2), strict=True)

    matrix = grid.matrix(lon, lat)
    (line,) = matrix.leg_geometries([(0, 1)])

    x, y = pyproj.Transformer.from_crs(4326, UTM, always_xy=True).transform(
        *shapely.get_coordinates(line).T
    )
    assert shapely.LineString(np.c_[x, y]).length == pytest.approx(5000.0, abs=0.01)
    assert matrix.distance_m[0, 1] == pytest.approx(5000.0, abs=0.01)
    # every vertex lies on a street of the grid (a whole km east or north)
    on_street = np.minimum(
        np.abs((x - X0_M) / 1000 - np.round((x - X0_M) / 1000)),
        np.abs((y - Y0_M) / 1000 - np.round((y - Y0_M) / 1000)),
    )
    assert on_street.max() < 1e-6


# --- reading roads ------------------------------------------------------------


OSM_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
{nodes}
  <way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Qingxi Road"/></way>
  <way id="2" version="1"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="primary"/><tag k="maxspeed" v="50"/></way>
  <way id="3" version="1"><nd ref="2"/><nd ref="5"/>
    <tag k="highway" v="tertiary"/><tag k="oneway" v="yes"/></way>
  <way id="4" version="1"><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="footway"/></way>
</osm>
"""
OSM_NODES_KM = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (3, 0), 5: (1, 1)}


def write_osm_xml(path: Path) -> Path:
    nodes = "\n".join(
        f'  <node id="{k}" version="1" lat="{lonlat(*xy)[1]:.8f}" '
        f'lon="{lonlat(*xy)[0]:.8f}"/>'
        for k, xy in OSM_NODES_KM.items()
    )
    path.write_text(OSM_XML.format(nodes=nodes), encoding="utf-8")
    return path


def check_osm_roads(roads: gpd.GeoDataFrame) -> None:
    # the footway is not a road; ways stay whole; maxspeed and oneway are read
    assert sorted(roads["kind"]) == ["primary", "residential", "tertiary"]
    by_kind = roads.set_index("kind")
    assert by_kind.loc["primary", "speed_kph"] == 50.0
    assert math.isnan(by_kind.loc["residential", "speed_kph"])
    assert by_kind.loc["residential", "name"] == "Qingxi Road"
    assert bool(by_kind.loc["tertiary", "oneway"])
    assert len(by_kind.loc["residential", "geometry"].coords) == 3


@pytest.mark.parametrize("engine", ["gdal", "osmium"])
def test_osm_xml_ways_become_roads(tmp_path, engine):
    if engine == "osmium":
        pytest.importorskip("osmium")

    roads = read_osm_roads(write_osm_xml(tmp_path / "county.osm"), engine=engine)

    check_osm_roads(roads)


@pytest.mark.parametrize("engine", ["gdal", "osmium"])
def test_osm_pbf_extract_is_read(tmp_path, engine):
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "county.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for item in osmium.FileProcessor(str(write_osm_xml(tmp_path / "county.osm"))):
        writer.add(item)
    writer.close()

    roads = read_osm_roads(pbf, engine=engine)

    check_osm_roads(roads)


def test_osm_ways_are_split_at_shared_nodes_and_one_way_is_kept(tmp_path):
    roads = read_roads(write_osm_xml(tmp_path / "county.osm"))
    network = RoadNetwork.from_roads(roads)
    lon, lat = zip(lonlat(0, 0), lonlat(1, 1), strict=True)

    matrix = network.matrix(lon, lat)

    # node 2 joins the residential way to the one-way tertiary way to node 5
    assert network.n_edges == 4
    assert matrix.distance_m[0, 1] == pytest.approx(2000.0, abs=1.0)
    # back against the one-way road there is no road at all
    assert math.isinf(matrix.time_s[1, 0])


def test_stop_beyond_a_one_way_road_has_no_way_back(tmp_path):
    network = RoadNetwork.from_roads(read_roads(write_osm_xml(tmp_path / "a.osm")))
    stops = [Stop("lane", *lonlat(0.5, 0)), Stop("one-way", *lonlat(1, 1))]

    plan = plan_route(stops, lonlat(0, 0), travel=network, date=WEDNESDAY)

    assert plan.stop_ids == ["lane"]
    assert [(u.stop_id, u.reason) for u in plan.unscheduled] == [
        ("one-way", "no_road_path")
    ]


def test_gis_files_are_read_with_their_columns(tmp_path):
    gdf = street_grid(3).assign(name="Lane", kind="village")
    gdf.to_file(tmp_path / "roads.gpkg", driver="GPKG")

    roads = read_roads(tmp_path / "roads.gpkg")

    assert list(roads.columns) == ["name", "kind", "speed_kph", "oneway", "geometry"]
    assert len(roads) == 12
    assert roads.crs.to_epsg() == 4326


def test_missing_roads_file_is_reported(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        read_roads(tmp_path / "nowhere.geojson")


# --- a day's route ------------------------------------------------------------


def test_stops_on_a_line_are_visited_in_order(line_road):
    xs = [3.0, -1.0, 5.0, 1.0, 4.0, 2.0]
    stops = [on_line(f"s{x:g}", x) for x in xs]

    plan = plan_route(
        stops, lonlat(-2, 0), lonlat(6, 0), travel=line_road, date=WEDNESDAY
    )

    assert plan.stop_ids == ["s-1", "s1", "s2", "s3", "s4", "s5"]
    assert plan.total_distance_m == pytest.approx(8000.0, abs=0.01)
    assert plan.total_travel_s == pytest.approx(8 * KM_PER_H_30)
    assert plan.travel_model == "road_network"


def test_optimal_round_trip_beats_nearest_neighbour_zigzag(line_road):
    # from 0 the nearest stop is always on the other side: 20 km in all,
    # while one end then the other is 2 x 2.5 + 2 x 6 = 17 km
    stops = [on_line("a", 0.5), on_line("b", -1.0), on_line("c", 2.5)]
    stops.append(on_line("d", -6.0))

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, date=WEDNESDAY)

    assert plan.total_distance_m == pytest.approx(17_000.0, abs=0.01)
    assert plan.baseline.order == ["a", "b", "c", "d"]
    assert plan.baseline.distance_m == pytest.approx(20_000.0, abs=0.01)
    assert plan.travel_ratio == pytest.approx(0.85)


def test_square_tour_on_the_street_grid_is_optimal(grid):
    # the eight junctions around a 2 x 2 km square, shuffled; from a corner
    ring = [(2, 2), (3, 2), (4, 2), (4, 3), (4, 4), (3, 4), (2, 4), (2, 3)]
    order = [5, 0, 3, 6, 1, 7, 4]
    stops = [Stop(f"j{k}", *lonlat(*ring[k]), service_s=300) for k in order]
    stops.append(Stop("j2", *lonlat(*ring[2]), service_s=300))

    plan = plan_route(stops, lonlat(2, 2), travel=grid, date=WEDNESDAY)

    assert len(plan.stops) == 8
    assert plan.total_distance_m == pytest.approx(8000.0, abs=0.01)
    assert plan.geometry is not None
    assert plan.geometry.coords[0] == pytest.approx(lonlat(2, 2))


def test_times_follow_the_legs_and_service(line_road):
    stops = [on_line("a", 1.0, service_s=600), on_line("b", 3.0, service_s=900)]

    plan = plan_route(
        stops,
        lonlat(0, 0),
        lonlat(4, 0),
        travel=line_road,
        date=WEDNESDAY,
        work_hours=("08:00", "17:00"),
    )

    first, second = plan.stops
    assert plan.departure_s == 8 * 3600
    assert first.arrival_s == pytest.approx(8 * 3600 + KM_PER_H_30)
    assert second.arrival_s == pytest.approx(first.departure_s + 2 * KM_PER_H_30)
    assert second.departure_s - second.start_s == 900
    assert plan.return_s == pytest.approx(second.departure_s + 1 * KM_PER_H_30)
    assert first.arrival == dt.datetime(2025, 3, 5, 8, 2, tzinfo=first.arrival.tzinfo)
    assert str(first.arrival.tzinfo) == "Asia/Shanghai"


def test_time_windows_decide_the_order(line_road):
    # geometry says a then b; the windows say b first
    stops = [
        on_line("a", 1.0, time_window=("10:00", "10:30")),
        on_line("b", 3.0, time_window=(9 * 3600, 9 * 3600 + 900)),
    ]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, date=WEDNESDAY)

    assert plan.stop_ids == ["b", "a"]
    b, a = plan.stops
    assert 9 * 3600 <= b.start_s <= 9 * 3600 + 900
    assert 10 * 3600 <= a.start_s <= 10.5 * 3600
    assert a.waiting_s > 0
    # no wait at the first visit: the day starts later instead
    assert b.waiting_s == 0 and b.start_s == 9 * 3600
    assert plan.violations == []


def test_evening_households_fit_extended_hours(line_road):
    stops = [on_line("day", 1.0), on_line("night", 2.0, time_window="evening")]

    office = plan_route(stops, lonlat(0, 0), travel=line_road, date=WEDNESDAY)
    late = plan_route(
        stops,
        lonlat(0, 0),
        travel=line_road,
        date=WEDNESDAY,
        work_hours=("13:00", "21:00"),
    )

    assert office.stop_ids == ["day"]
    assert office.unscheduled[0].reason == "outside_working_hours"
    assert "18:00-21:00" in office.unscheduled[0].detail
    assert sorted(late.stop_ids) == ["day", "night"]
    night = next(s for s in late.stops if s.id == "night")
    assert night.start_s >= 18 * 3600


def test_quota_keeps_the_closest_stops_and_lists_the_rest(line_road):
    stops = [on_line(f"s{x}", x) for x in (1, 2, 3, 4, 5)]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, max_visits=2)

    assert sorted(plan.stop_ids) == ["s1", "s2"]
    assert {u.stop_id: u.reason for u in plan.unscheduled} == {
        "s3": "quota_reached",
        "s4": "quota_reached",
        "s5": "quota_reached",
    }
    assert "quota of 2 visits" in plan.unscheduled[0].detail


def test_priorities_win_over_distance_under_the_quota(line_road):
    stops = [on_line(f"s{x}", x) for x in (1, 2, 3)]
    stops += [on_line("far", 5.0, priority=100), on_line("farther", 5.5, priority=90)]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, max_visits=2)

    assert sorted(plan.stop_ids) == ["far", "farther"]


def test_a_full_day_leaves_stops_out_with_the_reason(line_road):
    # 2 h visits in a 5 h day: two fit, the third does not
    stops = [on_line(f"s{x}", x, service_s=7200) for x in (1, 2, 3)]

    plan = plan_route(
        stops, lonlat(0, 0), travel=line_road, work_hours=("08:00", "13:00")
    )

    assert len(plan.stops) == 2
    (left,) = plan.unscheduled
    assert left.reason == "day_full"
    assert accounted(plan, stops)


def test_straight_line_mode_is_marked_with_its_factor():
    stops = [Stop("a", *lonlat(3, 4)), Stop("b", *lonlat(-2, 1))]
    model = StraightLine(detour_factor=1.3, speed_kph=40.0)

    plan = plan_route(stops, lonlat(0, 0), travel=model, date=WEDNESDAY)

    assert plan.travel_model == "straight_line"
    assert (plan.detour_factor, plan.speed_kph) == (1.3, 40.0)
    points = [lonlat(0, 0), *((s.stop.lon, s.stop.lat) for s in plan.stops)]
    points.append(lonlat(0, 0))
    geodesic_m = sum(GEOD.inv(*a, *b)[2] for a, b in itertools.pairwise(points))
    assert plan.total_distance_m == pytest.approx(1.3 * geodesic_m, rel=0.005)
    assert plan.total_travel_s == pytest.approx(plan.total_distance_m / (40 / 3.6))


def test_off_network_stop_is_reported_with_its_distance(line_road):
    stops = [on_line("near", 1.0), Stop("hill", *lonlat(2, 3.5))]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road)

    assert plan.stop_ids == ["near"]
    (off,) = plan.unscheduled
    assert (off.stop_id, off.reason) == ("hill", "off_network")
    assert "3,500 m from the nearest road" in off.detail


def test_snapping_limit_is_a_parameter():
    network = RoadNetwork.from_roads(roads_gdf([road((-6, 0), (6, 0))]), max_snap_m=50)
    stops = [on_line("on", 1.0), Stop("beside", *lonlat(2, 0.1))]

    plan = plan_route(stops, lonlat(0, 0), travel=network)

    assert [(u.stop_id, u.reason) for u in plan.unscheduled] == [
        ("beside", "off_network")
    ]


def test_straight_line_factor_below_one_is_refused():
    with pytest.raises(InvalidInput, match=r"detour_factor must be .* at least 1"):
        StraightLine(detour_factor=0.8)


def test_stops_without_a_location_are_reported(line_road):
    stops = [on_line("ok", 1.0), Stop("blank", math.nan, math.nan)]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road)

    assert [(u.stop_id, u.reason) for u in plan.unscheduled] == [
        ("blank", "bad_location")
    ]


def test_county_limits_stops_and_start(line_road):
    county = shapely.Polygon(
        [lonlat(-3, -1), lonlat(3, -1), lonlat(3, 1), lonlat(-3, 1)]
    )
    stops = [on_line("in", 2.0), on_line("out", 5.0)]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, county=county)

    assert plan.stop_ids == ["in"]
    assert plan.unscheduled[0].reason == "outside_county"
    with pytest.raises(InvalidInput, match=r"start .* lies outside the county"):
        plan_route(stops, lonlat(4, 0), travel=line_road, county=county)


def test_start_off_the_network_is_refused(line_road):
    with pytest.raises(
        InvalidInput, match=r"start .* is 3,000 m from the nearest road"
    ):
        plan_route([on_line("a", 1.0)], lonlat(0, 3), travel=line_road)


def test_no_stops_is_refused(line_road):
    with pytest.raises(InvalidInput, match="stops is empty"):
        plan_route([], lonlat(0, 0), travel=line_road)


def test_duplicate_ids_and_bad_priorities_are_refused(line_road):
    with pytest.raises(InvalidInput, match=r"ids must be unique.*'a'"):
        plan_route([on_line("a", 1), on_line("a", 2)], lonlat(0, 0), travel=line_road)
    with pytest.raises(InvalidInput, match=r"priority 101.*0 to 100"):
        plan_route([on_line("a", 1, priority=101)], lonlat(0, 0), travel=line_road)


def test_working_hours_must_end_after_they_start(line_road):
    with pytest.raises(InvalidInput, match="work_hours must end after"):
        plan_route(
            [on_line("a", 1)],
            lonlat(0, 0),
            travel=line_road,
            work_hours=("17:00", "9:00"),
        )


def test_impossible_time_windows_are_reported_per_stop(line_road):
    stops = [
        on_line("fine", 1.0),
        on_line("backwards", 1.5, time_window=("12:00", "11:00")),
        on_line("gibberish", 2.0, time_window="whenever"),
        on_line("weekend", 2.5, time_window="weekend"),
        on_line("long", 3.0, service_s=10 * 3600),
    ]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, date=WEDNESDAY)

    reasons = {u.stop_id: u.reason for u in plan.unscheduled}
    assert reasons == {
        "backwards": "bad_time_window",
        "gibberish": "bad_time_window",
        "weekend": "not_available",
        "long": "too_far",
    }
    details = {u.stop_id: u.detail for u in plan.unscheduled}
    assert "ends before it starts" in details["backwards"]
    assert "Wednesday 2025-03-05" in details["weekend"]
    assert plan.stop_ids == ["fine"]


def test_weekend_households_are_visited_on_saturday(line_road):
    stops = [on_line("weekend", 2.5, time_window="周末")]

    plan = plan_route(stops, lonlat(0, 0), travel=line_road, date=SATURDAY)

    assert plan.stop_ids == ["weekend"]


@pytest.mark.parametrize(
    ("spec", "day", "expected"),
    [
        (None, WEDNESDAY, [(0, 86400)]),
        ("evening", WEDNESDAY, [(18 * 3600, 21 * 3600)]),
        ("晚上", WEDNESDAY, [(18 * 3600, 21 * 3600)]),
        ("morning", SATURDAY, [(8 * 3600, 12 * 3600)]),
        ("afternoon", WEDNESDAY, [(13 * 3600, 18 * 3600)]),
        ("weekend", WEDNESDAY, []),
        ("weekend", SATURDAY, [(0, 86400)]),
        ("9:30-11:00", WEDNESDAY, [(34200, 39600)]),
        (
            [("14:00", "15:00"), (dt.time(9), dt.time(10))],
            WEDNESDAY,
            [
                (32400, 36000),
                (50400, 54000),
            ],
        ),
        ((dt.datetime(2025, 3, 6, 9), dt.datetime(2025, 3, 6, 10)), WEDNESDAY, []),
    ],
)
def test_time_window_tokens_and_pairs(spec, day, expected):
    assert time_windows_for(spec, day) == expected


def test_unknown_time_window_names_the_accepted_forms():
    with pytest.raises(InvalidInput, match=r"'lunchtime' is not understood.*evening"):
        time_windows_for("lunchtime", WEDNESDAY)


def test_stops_come_from_a_households_frame(line_road):
    households = pd.DataFrame(
        {
            "household_no": ["H1", "H2"],
            "lon": [lonlat(1, 0)[0], lonlat(2, 0)[0]],
            "lat": [lonlat(1, 0)[1], lonlat(2, 0)[1]],
            "time_window": [None, "evening"],
        }
    )

    stops = stops_from_frame(households, id_column="household_no")

    assert [s.id for s in stops] == ["H1", "H2"]
    assert stops[1].time_window == "evening"
    assert stops[0].service_s == rs.DEFAULT_SERVICE_S


# --- reordering by hand -------------------------------------------------------


def test_retime_keeps_the_order_given_and_flags_late_visits(line_road):
    stops = [
        on_line("a", 1.0),
        on_line("b", 2.0, time_window=("08:30", "08:45")),
        on_line("c", 3.0),
    ]
    plan = plan_route(stops, lonlat(0, 0), travel=line_road, date=WEDNESDAY)

    manual = retime(plan, ["c", "a", "b"])

    assert manual.stop_ids == ["c", "a", "b"]
    assert not manual.optimised
    assert manual.total_distance_m == pytest.approx(8000.0, abs=0.01)
    assert manual.total_distance_m > plan.total_distance_m
    late = [v for v in manual.violations if v.kind == "late"]
    assert [v.stop_id for v in late] == ["b"]
    assert manual.stops[2].late_s > 0


def test_retime_lists_stops_left_out_of_the_order(line_road):
    stops = [on_line("a", 1.0), on_line("b", 2.0), Stop("off", *lonlat(1, 4))]
    plan = plan_route(stops, lonlat(0, 0), travel=line_road)

    manual = retime(plan, ["b", "off"])

    assert manual.stop_ids == ["b"]
    assert {u.stop_id: u.reason for u in manual.unscheduled} == {
        "a": "not_in_order",
        "off": "off_network",
    }


def test_retime_cannot_place_a_stop_with_a_malformed_window(line_road):
    stops = [on_line("a", 1.0), on_line("b", 2.0, time_window="soon")]
    plan = plan_route(stops, lonlat(0, 0), travel=line_road)

    manual = retime(plan, ["b", "a"])

    assert manual.stop_ids == ["a"]
    assert manual.unscheduled[0].reason == "bad_time_window"


def test_retime_flags_overtime_and_the_quota(line_road):
    stops = [on_line(f"s{x}", x, service_s=3600) for x in (1, 2, 3)]
    request = rs.make_request(
        stops,
        lonlat(0, 0),
        travel=line_road,
        date=WEDNESDAY,
        work_hours=("08:00", "10:00"),
        max_visits=2,
    )

    manual = retime(request, ["s1", "s2", "s3"])

    assert {v.kind for v in manual.violations} == {"overtime", "over_quota"}


def test_retime_refuses_unknown_and_repeated_stops(line_road):
    plan = plan_route([on_line("a", 1.0)], lonlat(0, 0), travel=line_road)

    with pytest.raises(InvalidInput, match=r"does not have.*'zz'"):
        retime(plan, ["a", "zz"])
    with pytest.raises(InvalidInput, match="more than once"):
        retime(plan, ["a", "a"])


# --- a week -------------------------------------------------------------------


CORNERS_KM = [(0.5, 0.5), (7.5, 0.5), (7.5, 7.5), (0.5, 7.5)]


def corner_stops() -> tuple[list[Stop], dict[str, int]]:
    """Three households near each corner of the 8 x 8 km grid."""
    stops, cluster = [], {}
    for c, (x, y) in enumerate(CORNERS_KM):
        for k, (dx, dy) in enumerate([(0, 0), (0.4, 0), (0, 0.3)]):
            stop_id = f"c{c}-{k}"
            stops.append(Stop(stop_id, *lonlat(x + dx, y + dy), service_s=900))
            cluster[stop_id] = c
    return stops, cluster


def test_week_keeps_the_quota_and_gives_each_day_one_area(grid):
    stops, cluster = corner_stops()

    week = plan_week(
        stops, lonlat(4, 4), travel=grid, first_day=WEDNESDAY, days=4, quota_per_day=3
    )

    # Wednesday to Friday, then Monday
    assert week.dates == working_days(WEDNESDAY, 4)
    assert week.dates[-1] == dt.date(2025, 3, 10)
    assert all(len(day.stops) == 3 for day in week.days)
    assert week.unscheduled == []
    for day in week.days:
        assert len({cluster[str(s)] for s in day.stop_ids}) == 1


def test_week_is_shorter_than_a_random_split(grid):
    stops, _ = corner_stops()
    week = plan_week(
        stops, lonlat(4, 4), travel=grid, first_day=WEDNESDAY, days=4, quota_per_day=3
    )

    shuffled = np.random.default_rng(3).permutation(len(stops))
    random_m = sum(
        plan_route(
            [stops[k] for k in shuffled[d * 3 : d * 3 + 3]],
            lonlat(4, 4),
            travel=grid,
            date=WEDNESDAY,
        ).total_distance_m
        for d in range(4)
    )
    assert week.total_distance_m < 0.8 * random_m


def test_week_lists_households_left_over(grid):
    stops, _ = corner_stops()
    stops.append(Stop("weekend", *lonlat(4, 5), time_window="weekend"))

    week = plan_week(
        stops, lonlat(4, 4), travel=grid, first_day=WEDNESDAY, days=2, quota_per_day=4
    )

    reasons = {u.stop_id: u.reason for u in week.unscheduled}
    assert week.n_visits == 8
    assert reasons.pop("weekend") == "not_available"
    assert set(reasons.values()) == {"quota_reached"}
    assert len(reasons) == 4
    planned = {s for day in week.days for s in day.stop_ids}
    assert len(planned) + len(week.unscheduled) == len(stops)
    assert list(week.summary()["visits"]) == [4, 4]


def test_week_needs_a_sensible_number_of_days_and_quota(grid):
    stops = [Stop("a", *lonlat(1, 1))]
    with pytest.raises(InvalidInput, match="1 to 31 days; received 0"):
        plan_week(stops, lonlat(0, 0), travel=grid, days=0)
    with pytest.raises(InvalidInput, match=r"quota_per_day must be .* received None"):
        plan_week(stops, lonlat(0, 0), travel=grid, quota_per_day=None)  # type: ignore[arg-type]


# --- exports ------------------------------------------------------------------


@pytest.fixture(scope="module")
def day_plan(grid):
    stops = [
        Stop("h1", *lonlat(1, 1.2), label="Group 3"),
        Stop("h2", *lonlat(3, 2), time_window="afternoon"),
        Stop("h3", *lonlat(2, 4.1)),
    ]
    return plan_route(stops, lonlat(0, 0), travel=grid, date=WEDNESDAY)


GPX = "{http://www.topografix.com/GPX/1/1}"
KML = "{http://www.opengis.net/kml/2.2}"


def test_gpx_has_a_waypoint_per_visit_and_the_track(day_plan):
    root = ET.fromstring(to_gpx(day_plan))

    names = [w.findtext(f"{GPX}name") for w in root.iter(f"{GPX}wpt")]
    assert names == ["Start", *(f"{s.sequence:02d} {s.id}" for s in day_plan.stops)]
    track = [
        (float(p.attrib["lon"]), float(p.attrib["lat"]))
        for p in root.iter(f"{GPX}trkpt")
    ]
    assert np.allclose(track, day_plan.geometry.coords, atol=1e-7)
    first_time = root.findtext(f"{GPX}wpt/{GPX}time")
    assert first_time == "2025-03-05T00:30:00Z"


def test_kml_has_placemarks_and_the_route_line(day_plan):
    root = ET.fromstring(to_kml(day_plan))

    points = root.findall(f".//{KML}Placemark/{KML}Point/{KML}coordinates")
    lines = root.findall(f".//{KML}Placemark/{KML}LineString/{KML}coordinates")
    assert len(points) == 1 + len(day_plan.stops)
    (line,) = lines
    coords = [tuple(map(float, c.split(","))) for c in str(line.text).split()]
    assert np.allclose(coords, day_plan.geometry.coords, atol=1e-7)


def test_xlsx_lists_the_stops_in_order_with_a_summary(day_plan):
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(day_plan)))

    route, unscheduled, summary = book.worksheets
    rows = list(route.iter_rows(min_row=2, values_only=True))
    assert [r[2] for r in rows] == [str(s) for s in day_plan.stop_ids]
    assert rows[0][6] == day_plan.stops[0].arrival.replace(tzinfo=None)
    assert sum(r[10] for r in rows) == pytest.approx(
        sum(s.leg_distance_m for s in day_plan.stops) / 1000, abs=0.02
    )
    values = {r[0]: r[1] for r in summary.iter_rows(values_only=True)}
    assert values["Visits"] == len(day_plan.stops)
    assert values["Travel model"] == "road_network"
    assert unscheduled.max_row == 1


def test_chinese_spreadsheet_titles(day_plan):
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(day_plan, language="zh")))

    assert book.sheetnames == ["路线", "未安排", "汇总"]
    assert book.worksheets[0]["C1"].value == "编号"


def test_gcj02_export_moves_points_about_500_m_in_zhejiang(day_plan):
    wgs = ET.fromstring(to_gpx(day_plan))
    gcj = ET.fromstring(to_gpx(day_plan, crs="gcj02"))

    def points(root):
        return [
            (float(w.get("lon")), float(w.get("lat"))) for w in root.iter(f"{GPX}wpt")
        ]

    offsets = [
        GEOD.inv(*a, *b)[2] for a, b in zip(points(wgs), points(gcj), strict=True)
    ]
    assert all(300 < m < 700 for m in offsets)


def test_write_route_picks_the_format_by_suffix(day_plan, tmp_path):
    for name in ("day.gpx", "day.kml", "day.xlsx"):
        path = write_route(day_plan, tmp_path / name)
        assert path.stat().st_size > 0
    with pytest.raises(InvalidInput, match=r"\.gpx, \.kml or \.xlsx.*'day.csv'"):
        write_route(day_plan, tmp_path / "day.csv")


def test_week_exports_a_track_per_day(grid):
    stops, _ = corner_stops()
    week = plan_week(
        stops, lonlat(4, 4), travel=grid, first_day=WEDNESDAY, days=4, quota_per_day=3
    )

    gpx = ET.fromstring(to_gpx(week))
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(week)))

    assert len(gpx.findall(f"{GPX}trk")) == 4
    assert book.worksheets[0].max_row == 1 + 12

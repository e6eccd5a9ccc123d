"""Benchmark of visit routes on a county-sized road network.

Measures, on the demo county of ``geogrid.demo.generate`` (about 30 km
across) and on a denser synthetic rural network of a few thousand segments:

- building the routing graph;
- a day of 50 stops, all visited (5-minute visits in a 12-hour day): travel
  matrix plus VROOM solve, the time the issue asks to keep under 2 s;
- a day choosing 12 visits (20 minutes each, 08:30-17:30) out of 50;
- a week of 300 households, 5 days of at most 12 visits, under 30 s;
- the travel of VROOM's order against the nearest-neighbour order of the
  same stops, over several instances.

The households of one instance are the 300 (or 50) nearest a random
household: one account manager's area. Prints markdown tables.

Run from the repository root::

    .venv/bin/python benchmarks/bench_routes.py            # both networks
    .venv/bin/python benchmarks/bench_routes.py --quick    # synthetic only
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from geogrid.routes import RoadNetwork, Stop, plan_route, plan_week

UTM_51N = 32651
ORIGIN = Transformer.from_crs(4326, UTM_51N, always_xy=True).transform(121.2, 28.5)
TO_LONLAT = Transformer.from_crs(UTM_51N, 4326, always_xy=True)
DAY = dt.date(2025, 3, 5)


# --- the networks -----------------------------------------------------------------


def demo_county(households: int = 20_000) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Roads and households (lon, lat) of the demo county."""
    from geogrid.demo.generate import generate_county

    county = generate_county(households=households, seed=7)
    homes = county.households[["household_no", "lon", "lat"]]
    return county.roads, homes.rename(columns={"household_no": "id"})


def synthetic_county(seed: int = 1) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A rural network 30 km across: county, town and village roads, hamlets."""
    rng = np.random.default_rng(seed)
    radius_m = 15_000.0

    # 12 towns, 300 villages, 1,500 hamlets in a disc
    towns = _in_disc(rng, 12, radius_m * 0.8)
    villages = _in_disc(rng, 300, radius_m)
    hamlets = villages[rng.integers(0, len(villages), 1_500)]
    hamlets = hamlets + rng.normal(0, 600, hamlets.shape)

    lines, speeds = [], []
    for points, extra, speed_kph in (
        (towns, 0.5, 60.0),
        (np.r_[towns, villages], 0.25, 40.0),
        (np.r_[villages, hamlets], 0.05, 25.0),
    ):
        for a, b in _network_edges(points, extra):
            lines.append(_bent(rng, points[a], points[b]))
            speeds.append(speed_kph)

    # node every crossing, as a surveyed road layer would be
    roads = gpd.GeoDataFrame({"speed_kph": speeds}, geometry=lines, crs=UTM_51N)
    roads = roads.to_crs(4326)

    # households around the hamlets and villages
    centres = np.r_[villages, hamlets]
    owner = rng.integers(0, len(centres), 20_000)
    xy = centres[owner] + rng.normal(0, 120, (len(owner), 2))
    lon, lat = TO_LONLAT.transform(ORIGIN[0] + xy[:, 0], ORIGIN[1] + xy[:, 1])
    homes = pd.DataFrame({"id": np.arange(len(owner)), "lon": lon, "lat": lat})
    return roads, homes


def _in_disc(rng: np.random.Generator, n: int, radius_m: float) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    r = radius_m * np.sqrt(rng.uniform(0, 1, n))
    return np.c_[r * np.cos(angle), r * np.sin(angle)]


def _network_edges(points: np.ndarray, extra: float) -> list[tuple[int, int]]:
    # the minimum spanning tree of the Delaunay graph, plus its shortest
    # other edges to close some loops
    triangles = Delaunay(points).simplices
    pairs = np.unique(
        np.sort(
            np.r_[triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [0, 2]]]
        ),
        axis=0,
    )
    length = np.hypot(*(points[pairs[:, 0]] - points[pairs[:, 1]]).T)
    n = len(points)
    graph = coo_matrix((length, (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    tree = minimum_spanning_tree(graph).tocoo()
    in_tree = {(min(a, b), max(a, b)) for a, b in zip(tree.row, tree.col, strict=True)}
    others = [k for k in np.argsort(length) if tuple(pairs[k]) not in in_tree]
    loops = [tuple(pairs[k]) for k in others[: int(extra * len(in_tree))]]
    return [*in_tree, *loops]


def _bent(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> shapely.LineString:
    # four pieces with a little sideways wander, in degrees
    t = np.linspace(0, 1, 5)[:, None]
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / max(np.hypot(*(b - a)), 1.0)
    wander = np.r_[0, rng.normal(0, 0.04, 3), 0][:, None] * np.hypot(*(b - a))
    xy = a + t * (b - a) + wander * normal
    return shapely.LineString(xy + np.asarray(ORIGIN))


# --- the measurements ---------------------------------------------------------------


def area(
    homes: pd.DataFrame, n: int, seed: int
) -> tuple[list[Stop], tuple[float, float]]:
    """The n households nearest a random one, and a start 1 km off their centre."""
    rng = np.random.default_rng(seed)
    centre = homes.iloc[rng.integers(len(homes))]
    distance = np.hypot(homes["lon"] - centre["lon"], homes["lat"] - centre["lat"])
    chosen = homes.iloc[np.argsort(distance.to_numpy())[:n]]
    start = (float(chosen["lon"].mean()) + 0.01, float(chosen["lat"].mean()))
    stops = [
        Stop(stop_id, lon, lat, service_s=300)
        for stop_id, lon, lat in zip(
            chosen["id"].tolist(),
            chosen["lon"].tolist(),
            chosen["lat"].tolist(),
            strict=True,
        )
    ]
    return stops, start


def bench(name: str, roads: gpd.GeoDataFrame, homes: pd.DataFrame, seeds: int) -> list:
    rows = []
    started = time.perf_counter()
    network = RoadNetwork.from_roads(roads, split_crossings=name == "synthetic")
    build_s = time.perf_counter() - started
    rows.append((name, "build graph", f"{network.n_edges:,} edges", build_s, ""))

    # 50 stops, all visited; then 12 chosen out of 50
    for label, hours, quota, service_s in (
        ("day, 50 stops all visited", ("07:30", "19:30"), None, 300),
        ("day, 12 chosen of 50", ("08:30", "17:30"), 12, 1200),
    ):
        times, ratios, visits = [], [], []
        for seed in range(seeds):
            stops, start = area(homes, 50, seed)
            stops = [Stop(s.id, s.lon, s.lat, service_s=service_s) for s in stops]
            began = time.perf_counter()
            plan = plan_route(
                stops,
                start,
                travel=network,
                date=DAY,
                work_hours=hours,
                max_visits=quota,
            )
            times.append(time.perf_counter() - began)
            ratios.append(plan.travel_ratio)
            visits.append(len(plan.stops))
        detail = (
            f"{min(visits)}-{max(visits)} visits; travel {statistics.mean(ratios):.3f} "
            f"(best {min(ratios):.3f}) of nearest-neighbour order"
        )
        rows.append((name, label, f"{seeds} areas", statistics.median(times), detail))
        rows.append((name, label + " (slowest)", "", max(times), ""))

    # a week of 300 households
    stops, start = area(homes, 300, 0)
    stops = [Stop(s.id, s.lon, s.lat) for s in stops]
    began = time.perf_counter()
    week = plan_week(stops, start, travel=network, first_day=DAY, days=5)
    week_s = time.perf_counter() - began
    nn_s = sum(d.baseline.travel_s for d in week.days)
    detail = (
        f"{week.n_visits} visits, {week.total_distance_m / 1000:.1f} km, "
        f"travel {week.total_travel_s / nn_s:.3f} of nearest-neighbour order per day"
    )
    rows.append((name, "week, 300 households, 5 x 12", "1 area", week_s, detail))

    # the same visits dealt to the days at random, each day solved
    planned = [s.stop for day in week.days for s in day.stops]
    order = np.random.default_rng(0).permutation(len(planned))
    random_m = sum(
        plan_route(
            [planned[k] for k in order[d::5]], start, travel=network, date=DAY
        ).total_distance_m
        for d in range(5)
    )
    week_km, random_km = week.total_distance_m / 1000, random_m / 1000
    detail = (
        f"week {week_km:.1f} km against {random_km:.1f} km for a random split of "
        f"the same visits ({week_km / random_km:.2f})"
    )
    rows.append((name, "week vs random split", "", math.nan, detail))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="synthetic network only")
    parser.add_argument("--seeds", type=int, default=10, help="areas per day test")
    args = parser.parse_args()

    rows = []
    rows += bench("synthetic", *synthetic_county(), args.seeds)
    if not args.quick:
        try:
            roads, homes = demo_county()
        except ImportError as error:
            print(f"demo county not available ({error}); synthetic network only")
        else:
            rows += bench("demo county", roads, homes, args.seeds)

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )
    print("| network | test | size | time (s) | result |")
    print("|---|---|---|---:|---|")
    for network, test, size, seconds, detail in rows:
        shown = "" if math.isnan(seconds) else f"{seconds:.2f}"
        print(f"| {network} | {test} | {size} | {shown} | {detail} |")


if __name__ == "__main__":
    main()

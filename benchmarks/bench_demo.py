"""Build the demo county (default 150,000 households) into a fresh PostGIS.

Compares, in the same run, geogrid's loader (COPY of every table) with writing
the same households and people through ``GeoDataFrame.to_postgis``.

    .venv/bin/python -m benchmarks.bench_demo [HOUSEHOLDS]
"""

from __future__ import annotations

import sys
import time

import geopandas as gpd

from benchmarks._db import bench_engine, machine
from geogrid.demo.generate import generate_county
from geogrid.demo.load import build_demo


def main(households: int = 150_000) -> None:
    with bench_engine() as engine:
        started = time.perf_counter()
        summary = build_demo(
            engine, households=households, boundaries_dir=None, replace=True
        )
        build_s = time.perf_counter() - started

        county = generate_county(households=households)
        started = time.perf_counter()
        hh = county.households
        gdf = gpd.GeoDataFrame(
            hh.drop(columns=["lon", "lat"]),
            geometry=gpd.points_from_xy(hh["lon"], hh["lat"]),
            crs=4326,
        )
        gdf.to_postgis("plain_household", engine, chunksize=50_000)
        people = county.persons.assign(
            products=county.persons["products"].map(",".join),
            labels=county.persons["labels"].map(",".join),
        )
        people.to_sql("plain_person", engine, chunksize=4_000, method="multi")
        plain_s = time.perf_counter() - started

    print(f"# demo county, {households:,} households; {machine()}")
    print("| step | seconds |")
    print("|---|---|")
    print(f"| generate (in memory) | {summary['generated in'].split()[0]} |")
    print(f"| geogrid build (generate + load all tables + ANALYZE) | {build_s:.1f} |")
    print(f"| to_postgis + to_sql of households and people only | {plain_s:.1f} |")
    print(f"people: {summary['people']:,}; visits: {summary['visits']:,}")
    print(f"ratio plain (2 tables) / geogrid (all tables): {plain_s / build_s:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150_000)

"""Assign one million households to 3,000 grids; preview a grid edit on 1M households.

Compares, in the same run, geogrid's assignment (whole-village lookup, with
STRtree point-in-polygon for the rest) with ``geopandas.sjoin`` and with a
plain PostGIS ``ST_Contains`` join on GiST-indexed tables.

    .venv/bin/python -m benchmarks.bench_grid_assign [HOUSEHOLDS] [GRIDS]
"""

from __future__ import annotations

import os
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from benchmarks._db import bench_engine, machine
from geogrid.grids.assign import assign_points, point_in_grids
from geogrid.store.bulk import copy_frame, ewkb_hex

WEST, SOUTH, SIZE_DEG = 121.0, 28.3, 0.4  # about 40 km square


def synthetic_county(
    households: int, grids: int, villages_per_grid: int = 4, seed: int = 0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Voronoi villages grouped into grids, and households inside the villages."""
    rng = np.random.default_rng(seed)
    box = shapely.box(WEST, SOUTH, WEST + SIZE_DEG, SOUTH + SIZE_DEG)
    n_villages = grids * villages_per_grid
    seeds = shapely.points(
        rng.uniform(0, 1, (n_villages, 2)) * SIZE_DEG + (WEST, SOUTH)
    )
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), box)
    villages = gpd.GeoDataFrame(
        {"code": [f"V{i:06d}" for i in range(len(cells))]}, geometry=cells, crs=4326
    )
    # grids: villages grouped by a coarse Voronoi of grid seeds
    grid_seeds = rng.uniform(0, 1, (grids, 2)) * SIZE_DEG + (WEST, SOUTH)
    centroids = shapely.get_coordinates(shapely.centroid(cells))
    tree = shapely.STRtree(shapely.points(grid_seeds))
    villages["grid"] = tree.nearest(shapely.points(centroids))
    grid_gdf = villages.dissolve("grid").reset_index()
    grid_gdf["id"] = grid_gdf["grid"].astype(np.int64) + 1
    grid_gdf["code"] = grid_gdf["id"].map("G{:05d}".format)
    villages["grid_id"] = villages["grid"] + 1

    xy = rng.uniform(0, 1, (households, 2)) * SIZE_DEG + (WEST, SOUTH)
    village_idx = shapely.STRtree(cells).query(
        shapely.points(xy), predicate="intersects"
    )
    first = pd.Series(village_idx[1]).groupby(village_idx[0]).first()
    hh = pd.DataFrame({"lon": xy[:, 0], "lat": xy[:, 1]})
    hh["village_code"] = villages["code"].to_numpy()[first.reindex(hh.index).to_numpy()]
    return villages, grid_gdf[["id", "code", "geometry"]], hh


def main(households: int = 1_000_000, grids: int = 3_000) -> None:
    villages, grid_gdf, hh = synthetic_county(households, grids)
    whole = dict(zip(villages["code"], villages["grid_id"], strict=True))
    lon, lat = hh["lon"].to_numpy(), hh["lat"].to_numpy()

    started = time.perf_counter()
    ours = assign_points(lon, lat, hh["village_code"], grid_gdf, whole)
    ours_s = time.perf_counter() - started

    started = time.perf_counter()
    tree_only = point_in_grids(
        lon,
        lat,
        grid_gdf.geometry.to_numpy(),
        grid_gdf["id"].to_numpy(),
        grid_gdf["code"].to_numpy(),
    )
    tree_s = time.perf_counter() - started

    started = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, grid_gdf, predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    sjoin_s = time.perf_counter() - started

    agree = float(np.mean(ours == tree_only))
    sjoin_ids = joined["id"].fillna(-1).astype(np.int64).to_numpy()
    agree_sjoin = float(np.mean(ours == sjoin_ids))

    with bench_engine() as engine:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE b_grid (id int, geom geometry)"))
            conn.execute(text("CREATE TABLE b_hh (id int, geom geometry)"))
            copy_frame(
                conn,
                "b_grid",
                pd.DataFrame(
                    {"id": grid_gdf["id"], "geom": ewkb_hex(grid_gdf.geometry)}
                ),
            )
            copy_frame(
                conn,
                "b_hh",
                pd.DataFrame(
                    {
                        "id": np.arange(households),
                        "geom": ewkb_hex(shapely.points(lon, lat)),
                    }
                ),
            )
            conn.execute(text("CREATE INDEX ON b_grid USING gist (geom)"))
            conn.execute(text("CREATE INDEX ON b_hh USING gist (geom)"))
            conn.execute(text("ANALYZE b_grid; ANALYZE b_hh"))
        with engine.connect() as conn:
            started = time.perf_counter()
            n = conn.execute(
                text(
                    "SELECT count(*) FROM b_hh h JOIN b_grid g "
                    "ON ST_Contains(g.geom, h.geom)"
                )
            ).scalar_one()
            postgis_s = time.perf_counter() - started

    load = os.getloadavg()[0]
    print(f"# assign {households:,} households to {len(grid_gdf):,} grids; {machine()}")
    print(f"load average at end: {load:.1f}")
    print("| method | seconds | households/s | ratio to geogrid |")
    print("|---|---|---|---|")
    for label, seconds in (
        ("geogrid assign_points (village lookup + STRtree)", ours_s),
        ("geogrid point_in_grids (STRtree only)", tree_s),
        ("geopandas.sjoin(predicate='within')", sjoin_s),
        ("PostGIS ST_Contains join (GiST)", postgis_s),
    ):
        print(
            f"| {label} | {seconds:.2f} | {households / seconds:,.0f} | "
            f"{seconds / ours_s:.1f}x |"
        )
    print(
        f"agreement: STRtree {agree:.4%}, sjoin {agree_sjoin:.4%}; PostGIS pairs {n:,}"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)

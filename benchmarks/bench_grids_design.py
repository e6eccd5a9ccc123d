"""Benchmark of automatic grid design: plain spopt regionalisers against ours.

Prints balance (max |ratio to mean - 1|), compactness (Polsby-Popper) and
contiguity for a 40-village branch into 6 grids over several seeds, then for a
county of 5,000 villages into 400 grids, designed branch by branch and in one
piece. The spopt methods are run as they come, on the centroid coordinates
(compact clusters), since none of them takes a workload to balance.

Run from the repository root::

    .venv/bin/python benchmarks/bench_grids_design.py            # full
    .venv/bin/python benchmarks/bench_grids_design.py --quick    # branch only
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import spopt.region
from libpysal.graph import Graph
from pyproj import Transformer

from geogrid.grids import design
from geogrid.grids.design.bisection import initial_partition
from geogrid.grids.design.graph import adjacency
from geogrid.grids.metrics import contiguity, max_deviation, workload_balance

UTM_51N = 32651
ORIGIN = Transformer.from_crs(4326, UTM_51N, always_xy=True).transform(120.0, 29.0)


def synthetic_villages(n, seed, size_m, n_branches=0):
    """Voronoi villages with lognormal household counts, optional branches."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size_m, (n, 2))
    square = shapely.box(0, 0, size_m, size_m)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=square)
    shapes = [cell.intersection(square) for cell in cells.geoms]
    villages = gpd.GeoDataFrame(
        {
            "code": [f"3301{i:08d}" for i in range(len(shapes))],
            "households": rng.lognormal(5.5, 0.6, len(shapes)).round().astype(int),
        },
        geometry=shapes,
        crs=UTM_51N,
    )
    if n_branches:
        # each village belongs to the branch whose seat is nearest
        seats = rng.uniform(0, size_m, (n_branches, 2))
        xy = shapely.get_coordinates(villages.centroid.to_numpy())
        nearest = np.argmin(((xy[:, None, :] - seats[None]) ** 2).sum(-1), axis=1)
        villages["branch"] = [f"B{b:02d}" for b in nearest]
    villages["geometry"] = villages.translate(*ORIGIN)
    return villages.to_crs(4326)


def figures(metric, labels, workload):
    """Balance, compactness and contiguity of a labelling of villages."""
    frame = metric.assign(grid=np.asarray(labels), workload=np.asarray(workload))
    shapes = frame.dissolve(by="grid").geometry
    pp = 4 * np.pi * shapes.area / shapes.length**2
    balance = workload_balance(frame["workload"], frame["grid"])
    return {
        "max_dev": max_deviation(balance["ratio_to_mean"]),
        "mean_pp": float(pp.mean()),
        "min_pp": float(pp.min()),
        "contiguous": float(contiguity(shapes).mean()),
        "k": len(shapes),
    }


def spopt_method(name: str) -> Callable:
    """A labeller running one spopt regionaliser on centroid coordinates."""

    def run(metric, k, seed):
        data = metric.assign(x=metric.centroid.x / 1000.0, y=metric.centroid.y / 1000.0)
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = Graph.build_contiguity(metric, rook=True).to_W()
            if name == "Skater":
                model = spopt.region.Skater(data, graph, ["x", "y"], n_clusters=k)
            elif name == "WardSpatial":
                model = spopt.region.WardSpatial(data, graph, ["x", "y"], k)
            else:
                model = spopt.region.RegionKMeansHeuristic(
                    data[["x", "y"]].to_numpy(), k, graph
                )
            model.solve()
        return model.labels_

    return run


def tree_bisection_only(metric, k, seed):
    """Our initial partition without the refinement, for comparison."""
    workload = design.village_workload(metric).to_numpy()
    graph = adjacency(metric.geometry)
    xy = shapely.get_coordinates(metric.centroid.to_numpy())
    lock = np.full(len(metric), -1)
    rng = np.random.default_rng(seed)
    return initial_partition(graph, workload, xy, k, lock, rng)


def ours(villages, k, seed):
    """The full design_grids; returns labels in village order and the proposal."""
    proposal = design.design_grids(villages, k, seed=seed)
    grid_of = proposal.assignment.set_index("code")["grid"]
    return villages["code"].map(grid_of).to_numpy(), proposal


def bench_branch(n_seeds: int) -> pd.DataFrame:
    rows = []
    for seed in range(n_seeds):
        villages = synthetic_villages(40, seed, 10_000.0)
        metric = villages.to_crs(UTM_51N)
        workload = design.village_workload(metric)
        k = 6
        labellers = {
            "spopt Skater": spopt_method("Skater"),
            "spopt RegionKMeans": spopt_method("RegionKMeans"),
            "spopt WardSpatial": spopt_method("WardSpatial"),
            "tree bisection only": tree_bisection_only,
        }
        for name, labeller in labellers.items():
            started = time.perf_counter()
            labels = labeller(metric, k, seed)
            elapsed = time.perf_counter() - started
            rows.append({"method": name, **figures(metric, labels, workload)})
            rows[-1]["seconds"] = elapsed

        started = time.perf_counter()
        labels, _ = ours(villages, k, seed)
        elapsed = time.perf_counter() - started
        rows.append({"method": "design_grids", **figures(metric, labels, workload)})
        rows[-1]["seconds"] = elapsed
    return pd.DataFrame(rows)


def bench_county() -> pd.DataFrame:
    villages = synthetic_villages(5_000, 0, 80_000.0, n_branches=16)
    metric = villages.to_crs(UTM_51N)
    workload = design.village_workload(metric)
    rows = []

    started = time.perf_counter()
    partitioned = design.design_partitioned(villages, 400, by="branch", seed=0)
    elapsed = time.perf_counter() - started
    grids = partitioned.grids
    rows.append(
        {
            "method": "design_partitioned by branch",
            "max_dev": partitioned.max_deviation,
            "mean_pp": float(grids["polsby_popper"].mean()),
            "min_pp": float(grids["polsby_popper"].min()),
            "contiguous": float(grids["contiguous"].mean()),
            "k": len(grids),
            "seconds": elapsed,
        }
    )

    started = time.perf_counter()
    labels = spopt_method("WardSpatial")(metric, 400, 0)
    elapsed = time.perf_counter() - started
    rows.append(
        {"method": "spopt WardSpatial (one piece)", **figures(metric, labels, workload)}
    )
    rows[-1]["seconds"] = elapsed

    started = time.perf_counter()
    labels = tree_bisection_only(metric, 400, 0)
    elapsed = time.perf_counter() - started
    rows.append(
        {
            "method": "tree bisection only (one piece)",
            **figures(metric, labels, workload),
        }
    )
    rows[-1]["seconds"] = elapsed

    started = time.perf_counter()
    labels, _ = ours(villages, 400, 0)
    elapsed = time.perf_counter() - started
    rows.append(
        {"method": "design_grids (one piece)", **figures(metric, labels, workload)}
    )
    rows[-1]["seconds"] = elapsed
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="branch case only")
    parser.add_argument("--seeds", type=int, default=5, help="branch seeds")
    args = parser.parse_args()
    pd.set_option("display.width", 120)

    branch = bench_branch(args.seeds)
    summary = branch.groupby("method", sort=False).agg(
        max_dev_worst=("max_dev", "max"),
        max_dev_mean=("max_dev", "mean"),
        mean_pp=("mean_pp", "mean"),
        min_pp=("min_pp", "mean"),
        contiguous=("contiguous", "mean"),
        seconds=("seconds", "mean"),
    )
    print(f"Branch: 40 villages into 6 grids, {args.seeds} seeds")
    print(summary.round(3).to_string())

    if not args.quick:
        print("\nCounty: 5,000 villages, 16 branches, into 400 grids")
        print(bench_county().round(3).to_string(index=False))


if __name__ == "__main__":
    main()

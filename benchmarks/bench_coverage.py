"""Benchmark of the coverage report: a county of 1,000,000 households and 3,000 grids.

Builds the demo county with a million households in memory and cuts it into
3,000 second-level grids (Voronoi cells of 3,000 households, clipped to the
county). Then times, in one run:

- the in-memory analysis: ``coverage_report`` (every layer: placement of
  households in grids, H3 cells and nearest branches, sums per village, grid,
  town, branch and cell, Gi* cold spots on cells and villages, leakage,
  unvisited, ungridded land, the ranked blind spots);
- the same results computed by straightforward geopandas code (sjoin,
  sjoin_nearest, a loop over h3.latlng_to_cell, groupby, Queen weights from
  polygons, overlay), checked to agree with the report;
- H3 aggregation of the million households alone, both ways;
- optionally the database stage: the demo county (with its own grids) in
  PostGIS, read back by ``load_inputs``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_coverage.py                 # everything
    .venv/bin/python benchmarks/bench_coverage.py --skip-db       # memory only
    .venv/bin/python benchmarks/bench_coverage.py --households 200000 --grids 600

The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import esda
import geopandas as gpd
import h3
import libpysal
import numpy as np
import pandas as pd
import shapely

from benchmarks._db import bench_engine, machine
from geogrid.coverage import (
    CoverageInputs,
    CoverageParameters,
    coverage_report,
    hexes,
    locate,
    rank,
)
from geogrid.coverage.inputs import load_inputs
from geogrid.coverage.params import working_age_birth_bounds
from geogrid.crs import utm_crs_for
from geogrid.demo.generate import DemoCounty, generate_county

TIMEZONE = "Asia/Shanghai"


def timed(label: str, rows: list[tuple[str, float]], fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    rows.append((label, time.perf_counter() - started))
    return result


# --- the county in memory ---------------------------------------------------------


def voronoi_grids(county: DemoCounty, n_grids: int, seed: int) -> gpd.GeoDataFrame:
    """Second-level grids: Voronoi cells of households, clipped to the county."""
    rng = np.random.default_rng(seed)
    hh = county.households
    xy = np.unique(hh[["lon", "lat"]].to_numpy(), axis=0)
    picks = xy[rng.choice(len(xy), n_grids, replace=False)]
    outline = county.county.geometry.iloc[0]
    cells = shapely.voronoi_polygons(shapely.multipoints(picks), extend_to=outline)
    shapes = shapely.intersection(shapely.get_parts(cells), outline)
    shapes = shapes[~shapely.is_empty(shapes)]

    # each grid belongs to the branch of the town that holds most of it
    towns = county.towns.reset_index(drop=True)
    inside = shapely.point_on_surface(shapes)
    hit = shapely.STRtree(towns.geometry.to_numpy()).query(
        inside, predicate="intersects"
    )
    town_pos = np.zeros(len(shapes), dtype=int)
    town_pos[hit[0]] = hit[1]
    branch_code = county.branches.set_index("town_code")["code"]
    n = len(shapes)
    return gpd.GeoDataFrame(
        {
            "grid_id": np.arange(1, n + 1),
            "grid_code": [f"V{k:04d}" for k in range(1, n + 1)],
            "grid_name": [f"网格{k}" for k in range(1, n + 1)],
            "town_code": towns["code"].to_numpy()[town_pos],
        },
        geometry=shapes,
        crs=4326,
    ).assign(branch_code=lambda g: g["town_code"].map(branch_code))


def memory_inputs(county: DemoCounty, grids: gpd.GeoDataFrame) -> CoverageInputs:
    """What load_inputs would read from a store holding this county."""
    as_of = county.as_of
    hh = county.households.reset_index(drop=True)
    villages = county.villages.rename(
        columns={
            "code": "village_code",
            "name": "village_name",
            "parent_code": "town_code",
        }
    )[["village_code", "village_name", "town_code", "geometry"]]
    towns = county.towns.rename(columns={"code": "town_code", "name": "town_name"})[
        ["town_code", "town_name", "geometry"]
    ]
    branches = county.branches.reset_index(drop=True)
    branches = gpd.GeoDataFrame(
        {
            "branch_id": np.arange(1, len(branches) + 1),
            "branch_code": branches["code"],
            "branch_name": branches["name"],
        },
        geometry=branches.geometry.to_numpy(),
        crs=4326,
    )
    branch_id = branches.set_index("branch_code")["branch_id"]
    grids = grids.assign(
        grid_id=grids["grid_id"] + 1000,
        parent_id=pd.array([pd.NA] * len(grids), dtype="Int64"),
        branch_id=grids["branch_code"].map(branch_id),
        branch_name=grids["branch_code"],
        manager_username=[f"am{k}" for k in range(len(grids))],
        manager_name=[f"经理{k}" for k in range(len(grids))],
    )
    l1 = county.grids_l1.reset_index(drop=True)
    jurisdictions = gpd.GeoDataFrame(
        {
            "grid_id": np.arange(1, len(l1) + 1),
            "grid_code": l1["code"],
            "grid_name": l1["name"],
            "branch_id": l1["branch_code"].map(branch_id).to_numpy(),
        },
        geometry=l1.geometry.to_numpy(),
        crs=4326,
    )

    # members and visits summed per household, as the database query does
    people = county.persons
    pos = pd.Index(hh["household_no"]).get_indexer(people["household_no"])
    born_after, born_by = working_age_birth_bounds(as_of, (18, 60))
    birth = pd.to_datetime(people["birth_date"]).to_numpy()
    working = (birth > np.datetime64(born_after)) & (birth <= np.datetime64(born_by))
    customer = (people["status"] == "customer").to_numpy()
    n = len(hh)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(pos[mask], minlength=n).astype(np.int32)

    def total(column: str) -> np.ndarray:
        return np.bincount(pos, weights=people[column].to_numpy(), minlength=n)

    visits = county.visits
    visit_pos = pd.Index(hh["household_no"]).get_indexer(visits["household_no"])
    day = (
        visits["visited_at"].dt.tz_convert(TIMEZONE).dt.tz_localize(None).dt.normalize()
    )
    last = pd.Series(day.to_numpy()).groupby(visit_pos).max()
    last_visit = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    last_visit[last.index] = last.to_numpy()

    village_town = villages.set_index("village_code")["town_code"]
    stored = locate.grid_positions(
        hh["lon"].to_numpy(),
        hh["lat"].to_numpy(),
        np.full(n, -1),
        grids.geometry.to_numpy(),
    )
    frame = pd.DataFrame(
        {
            "household_id": np.arange(1, n + 1),
            "household_no": hh["household_no"],
            "address": hh["address"],
            "village_code": hh["village_code"],
            "town_code": hh["village_code"].map(village_town),
            "stored_grid_id": pd.array(
                np.where(stored >= 0, grids["grid_id"].to_numpy()[stored], -1),
                dtype="Int64",
            ),
            "lon": hh["lon"],
            "lat": hh["lat"],
            "people": np.bincount(pos, minlength=n).astype(np.int32),
            "working_age": count(working),
            "customers": count(customer),
            "working_age_customers": count(working & customer),
            "deposit_own": total("deposit_own"),
            "loan_own": total("loan_own"),
            "deposit_other": total("deposit_other"),
            "loan_other": total("loan_other"),
            "last_visit": last_visit.to_numpy(),
        }
    )
    frame.loc[frame["stored_grid_id"] == -1, "stored_grid_id"] = pd.NA
    households = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )
    region = gpd.GeoDataFrame(
        {"name": county.county["name"].to_numpy()},
        geometry=county.county.geometry.to_numpy(),
        crs=4326,
    )
    return CoverageInputs(
        households=households,
        villages=gpd.GeoDataFrame(villages, crs=4326),
        towns=gpd.GeoDataFrame(towns, crs=4326),
        grids=grids.drop(columns=["town_code"]).reset_index(drop=True),
        jurisdictions=jurisdictions,
        branches=branches,
        region=region,
        as_of=as_of,
    )


# --- the straightforward way ----------------------------------------------------------


def straightforward(
    inputs: CoverageInputs, params: CoverageParameters, rows: list[tuple[str, float]]
) -> dict[str, Any]:
    """The same figures with the usual geopandas idioms, step by step."""
    hh = inputs.households
    crs = utm_crs_for(inputs.region)
    out: dict[str, Any] = {}

    joined = timed(
        "  sjoin households to grids",
        rows,
        lambda: gpd.sjoin(
            hh[["household_id", "geometry"]],
            inputs.grids[["grid_id", "grid_code", "geometry"]],
            how="left",
            predicate="within",
        ).drop_duplicates("household_id"),
    )
    metric = hh[["household_id", "geometry"]].to_crs(crs)
    near = timed(
        "  sjoin_nearest to branches",
        rows,
        lambda: gpd.sjoin_nearest(
            metric,
            inputs.branches[["branch_code", "geometry"]].to_crs(crs),
            how="left",
            distance_col="branch_distance_m",
        ).drop_duplicates("household_id"),
    )
    cells = timed(
        "  h3.latlng_to_cell loop",
        rows,
        lambda: [
            h3.latlng_to_cell(y, x, params.resolution)
            for x, y in zip(hh["lon"], hh["lat"], strict=True)
        ],
    )

    def flags() -> pd.DataFrame:
        f = pd.DataFrame(
            {
                "village_code": hh["village_code"],
                "grid_code": joined["grid_code"].to_numpy(),
                "h3": cells,
                "branch_distance_m": near["branch_distance_m"].to_numpy(),
            }
        )
        f["is_customer"] = hh["customers"].to_numpy() > 0
        since = pd.Timestamp(inputs.as_of - dt.timedelta(days=params.days))
        f["unvisited"] = (
            hh["last_visit"].isna() | (hh["last_visit"] < since)
        ).to_numpy()
        dep = hh["deposit_other"] / (hh["deposit_other"] + hh["deposit_own"])
        loan = hh["loan_other"] / (hh["loan_other"] + hh["loan_own"])
        leaks = (dep.fillna(0) > params.leakage_share) | (
            loan.fillna(0) > params.leakage_share
        )
        f["leaking"] = (f["is_customer"] & leaks).to_numpy()
        f["uncovered_other_yuan"] = np.where(
            f["is_customer"], 0.0, hh["deposit_other"] + hh["loan_other"]
        )
        f["uncovered_distance_m"] = np.where(
            f["is_customer"], 0.0, f["branch_distance_m"]
        )
        return f

    table = timed("  flags with pandas", rows, flags)

    def groupby(key: str) -> pd.DataFrame:
        g = table.groupby(key).agg(
            households=("is_customer", "size"),
            customer_households=("is_customer", "sum"),
            unvisited_households=("unvisited", "sum"),
            leaking_households=("leaking", "sum"),
            uncovered_other_yuan=("uncovered_other_yuan", "sum"),
            uncovered_distance_m=("uncovered_distance_m", "sum"),
        )
        g["uncovered_households"] = g["households"] - g["customer_households"]
        g["penetration"] = g["customer_households"] / g["households"]
        g["branch_distance_m"] = g["uncovered_distance_m"] / g["uncovered_households"]
        return g

    out["villages"] = timed("  groupby village", rows, lambda: groupby("village_code"))
    out["grids"] = timed("  groupby grid", rows, lambda: groupby("grid_code"))
    out["hexes"] = timed("  groupby h3 cell", rows, lambda: groupby("h3"))
    out["grid_code"] = joined["grid_code"].to_numpy()
    out["h3"] = np.asarray(cells, dtype=object)

    hex_shapes = timed(
        "  h3 cell polygons",
        rows,
        lambda: gpd.GeoDataFrame(
            out["hexes"],
            geometry=[
                shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(c)])
                for c in out["hexes"].index
            ],
            crs=4326,
        ),
    )
    village_shapes = inputs.villages.set_index("village_code").join(
        out["villages"], how="inner"
    )
    out["hex_cold"] = timed(
        "  Queen weights + Gi* on cells",
        rows,
        lambda: _cold_spots(hex_shapes, params),
    )
    out["village_cold"] = timed(
        "  Queen weights + Gi* on villages",
        rows,
        lambda: _cold_spots(village_shapes, params),
    )

    def ranking() -> list[str]:
        v = out["villages"].copy()
        v["cold_spot"] = v.index.isin(out["village_cold"])
        v["gi_z"] = np.nan
        v["p_value"] = np.nan
        return list(
            rank.opportunity(
                v.reset_index(),
                reference=v["customer_households"].sum() / v["households"].sum(),
                blind_spot_share=params.blind_spot_share,
                distance_scale_m=params.distance_scale_m,
                balance_weight=params.balance_weight,
            )["village_code"]
        )

    out["ranking"] = timed("  ranking", rows, ranking)
    out["gaps"] = timed(
        "  overlay county - grids",
        rows,
        lambda: gpd.overlay(inputs.region, inputs.grids, how="difference"),
    )
    return out


def _cold_spots(areas: gpd.GeoDataFrame, params: CoverageParameters) -> set[Any]:
    """Gi* on areas with enough households, Queen contiguity from the polygons."""
    tested = areas[areas["households"] >= params.min_households]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = libpysal.weights.Queen.from_dataframe(tested, use_index=False)
        keep = [i for i in range(len(tested)) if w.cardinalities[i] > 0]
        tested = tested.iloc[keep]
        w = libpysal.weights.Queen.from_dataframe(tested, use_index=False)
        w = libpysal.weights.fill_diagonal(w, 1.0)
        g = esda.G_Local(
            tested["penetration"].to_numpy(),
            w,
            transform="R",
            permutations=params.permutations,
            star=None,
            keep_simulations=False,
            n_jobs=1,
            seed=params.seed,
        )
    p = np.minimum(2 * g.p_sim, 1.0)
    cutoff = esda.fdr(p, params.alpha) if params.fdr else params.alpha
    return set(tested.index[(p <= cutoff) & (g.Zs < 0)])


# --- comparisons --------------------------------------------------------------------


def agreement(report: Any, base: dict[str, Any]) -> list[tuple[str, str]]:
    h = report.households
    checks = []
    same_grid = (
        h["grid_code"].fillna("-").to_numpy()
        == pd.Series(base["grid_code"]).fillna("-").to_numpy()
    ).mean()
    checks.append(("households in the same grid", f"{same_grid:.4%}"))
    same_cell = (h["h3"].to_numpy() == base["h3"]).mean()
    checks.append(("households in the same H3 cell", f"{same_cell:.4%}"))
    mine = report.villages.set_index("village_code")
    theirs = base["villages"]
    for column in (
        "households",
        "customer_households",
        "unvisited_households",
        "leaking_households",
    ):
        equal = (
            mine.loc[theirs.index, column].to_numpy() == theirs[column].to_numpy()
        ).all()
        checks.append((f"village {column}", "equal" if equal else "DIFFERENT"))
    mine_cold = set(report.villages.loc[report.villages["cold_spot"], "village_code"])
    checks.append(
        (
            "cold villages (report / plain)",
            f"{len(mine_cold)} / {len(base['village_cold'])}, "
            f"{len(mine_cold & base['village_cold'])} in both",
        )
    )
    mine_hex = set(report.hexes.loc[report.hexes["cold_spot"], "h3"])
    checks.append(
        (
            "cold cells (report / plain)",
            f"{len(mine_hex)} / {len(base['hex_cold'])}, "
            f"{len(mine_hex & base['hex_cold'])} in both",
        )
    )
    same_rank = list(report.blind_spots["village_code"]) == base["ranking"]
    checks.append(("blind-spot ranking", "identical" if same_rank else "DIFFERENT"))
    gap_m2 = report.ungridded_areas["area_m2"].sum()
    checks.append(
        (
            "ungridded land (report)",
            f"{gap_m2:,.0f} m² in {len(report.ungridded_areas)} pieces",
        )
    )
    return checks


def h3_aggregation(inputs: CoverageInputs, resolution: int) -> list[tuple[str, float]]:
    hh = inputs.households
    lon, lat = hh["lon"].to_numpy(), hh["lat"].to_numpy()
    customer = (hh["customers"].to_numpy() > 0).astype(np.int64)
    rows: list[tuple[str, float]] = []

    def fast() -> pd.DataFrame:
        cells = hexes.cells_for_points(lon, lat, resolution).astype(np.int64)
        frame = pd.DataFrame({"cell": cells, "households": 1, "customers": customer})
        sums = frame.groupby("cell").sum()
        return hexes.hex_frame(sums.index.to_numpy().astype(np.uint64)).assign(
            households=sums["households"].to_numpy(),
            customer_households=sums["customers"].to_numpy(),
        )

    def plain() -> pd.DataFrame:
        cells = [
            h3.latlng_to_cell(y, x, resolution) for x, y in zip(lon, lat, strict=True)
        ]
        frame = pd.DataFrame({"cell": cells, "households": 1, "customers": customer})
        sums = frame.groupby("cell").sum()
        shapes = [
            shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(c)])
            for c in sums.index
        ]
        return gpd.GeoDataFrame(sums, geometry=shapes, crs=4326)

    a = timed("H3 aggregation, geogrid.coverage.hexes", rows, fast)
    b = timed("H3 aggregation, h3.latlng_to_cell loop + groupby", rows, plain)
    assert a["households"].sum() == b["households"].sum()
    assert sorted(a["h3"]) == sorted(b.index), "the two H3 aggregations disagree"
    return rows


# --- the run ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=3_000)
    parser.add_argument(
        "--skip-db", action="store_true", help="Skip the database stage."
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows: list[tuple[str, float]] = []

    county = timed(
        f"generate demo county ({args.households:,} households)",
        rows,
        lambda: generate_county(households=args.households, seed=7),
    )
    grids = timed(
        f"cut {args.grids:,} Voronoi grids",
        rows,
        lambda: voronoi_grids(county, args.grids, 7),
    )
    inputs = timed(
        "assemble inputs in memory", rows, lambda: memory_inputs(county, grids)
    )
    params = CoverageParameters()

    steps: list[tuple[str, float]] = []
    last: dict[str, Any] = {"at": time.perf_counter(), "step": None}

    def progress(name: str, done: float) -> None:
        now = time.perf_counter()
        if last["step"] is not None:
            steps.append((f"  {last['step']}", now - last["at"]))
        last.update(at=now, step=name)

    report = timed(
        "coverage_report (all layers)",
        rows,
        lambda: coverage_report(inputs, params, progress=progress),
    )
    rows.extend(steps)
    analysis_s = rows[-len(steps) - 1][1]

    base_rows: list[tuple[str, float]] = []
    base = timed(
        "straightforward geopandas (same results)",
        rows,
        lambda: straightforward(inputs, params, base_rows),
    )
    rows.extend(base_rows)
    plain_s = next(s for label, s in rows if label.startswith("straightforward"))
    rows.extend(h3_aggregation(inputs, params.resolution))

    if not args.skip_db:
        from sqlalchemy import text

        from geogrid.demo.load import load_county

        with bench_engine() as engine:

            def load() -> None:
                with engine.begin() as conn:
                    load_county(conn, county, lambda name, done: None)
                with engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                ) as conn:
                    conn.execute(text("ANALYZE"))

            timed("load county into PostGIS (not part of the report)", rows, load)
            loaded = timed(
                "load_inputs from PostGIS (demo grids)",
                rows,
                lambda: load_inputs(engine, as_of=county.as_of),
            )
            assert len(loaded.households) == args.households

    load_after = os.getloadavg()
    size = f"{args.households:,} households, {args.grids:,} grids"
    print(f"\n## Coverage benchmark: {size}\n")
    print(
        f"Machine: {machine()}; load average (1 min) before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f}; 5 min after {load_after[1]:.2f}\n"
    )
    print("| step | seconds |")
    print("|---|---:|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.2f} |")
    print(
        f"\nReport vs straightforward: {plain_s / analysis_s:.1f}x faster "
        f"({analysis_s:.1f} s vs {plain_s:.1f} s); target: report < 30 s.\n"
    )
    print("| check | result |")
    print("|---|---|")
    for label, value in agreement(report, base):
        print(f"| {label} | {value} |")
    print("\nSummary:", report.summary)


if __name__ == "__main__":
    main()

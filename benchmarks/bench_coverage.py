"""Benchmark of the coverage report: a county of 1,000,000 households and 3,000 grids.

Builds the demo county with a million households in memory and cuts it into
3,000 second-level grids (Voronoi cells of 3,000 households, clipped to the
county). Then times, in one run, end to end from PostGIS:

- the store: the county with those 3,000 grids written to a fresh PostGIS
  database, every household's stored grid set, then VACUUM ANALYZE as
  autovacuum would do (setup, not part of the report);
- geogrid: ``load_inputs`` (households with their people and visits summed
  per household in the database, villages, towns, grids, branches), then
  ``coverage_report`` (every layer: placement of households in grids, H3 cells
  and nearest branches, sums per village, grid, town, branch and cell, Gi*
  cold spots on cells and villages, leakage, unvisited, ungridded land, the
  ranked blind spots);
- the straightforward way: ``read_postgis`` and ``read_sql`` of households,
  people and visits summed with pandas ``groupby``, then the same results
  with geopandas (sjoin, sjoin_nearest, a loop over h3.latlng_to_cell,
  groupby, Queen weights from polygons, overlay);

checks that both loads give the same figures for every household (and the
same as the county in memory) and that both analyses agree, and times H3
aggregation of the million households alone, both ways.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_coverage            # everything
    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_coverage --skip-db  # no PostGIS
    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_coverage \
        --households 200000 --grids 600

The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from sqlalchemy import Connection, Engine, text

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
from geogrid.demo.load import load_county
from geogrid.store.bulk import copy_frame, ewkb_hex

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


def grid_of_households(county: DemoCounty, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Position of the grid each household lies in (-1: none), as the store keeps it."""
    hh = county.households
    return locate.grid_positions(
        hh["lon"].to_numpy(),
        hh["lat"].to_numpy(),
        np.full(len(hh), -1),
        grids.geometry.to_numpy(),
    )


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
    # ids as the store gives them: first-level grids first, then these
    grids = grids.assign(
        grid_id=grids["grid_id"] + len(county.grids_l1),
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
    stored = grid_of_households(county, grids)
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


# --- the county in PostGIS --------------------------------------------------------


def store_county(engine: Engine, county: DemoCounty, grids: gpd.GeoDataFrame) -> None:
    """Write the county with `grids` as its second-level grids, stored grids set.

    The demo's own second-level grids (with their posts, liaison officers and
    targets) give way to `grids`, each with an account manager of its branch
    on its A post, and every household's stored grid is the one it lies in.
    Then CLUSTER and VACUUM ANALYZE, as a store that autovacuum has kept
    would be.
    """
    bare = dataclasses.replace(
        county,
        grids_l2=county.grids_l2.iloc[0:0],
        posts=county.posts.iloc[0:0],
        liaison=county.liaison.iloc[0:0],
        targets=county.targets.iloc[0:0],
    )
    with engine.begin() as conn:
        load_county(conn, bare, lambda name, done: None)
        _store_grids(conn, county, grids)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CLUSTER household USING pk_household"))
        conn.execute(text("VACUUM (ANALYZE)"))


def _store_grids(conn: Connection, county: DemoCounty, grids: gpd.GeoDataFrame) -> None:
    """Second-level grids, their A posts and the households' stored grid."""
    branch_id = _ids(conn, "SELECT code, id FROM branch")
    staff_id = _ids(conn, "SELECT username, id FROM staff")
    parent_id = _ids(
        conn, "SELECT b.code, g.id FROM grid g JOIN branch b ON b.id = g.branch_id"
    )
    first_id = conn.execute(text("SELECT max(id) + 1 FROM grid")).scalar_one()
    ids = np.arange(first_id, first_id + len(grids))
    copy_frame(
        conn,
        "grid",
        pd.DataFrame(
            {
                "id": ids,
                "code": grids["grid_code"].to_numpy(),
                "name": grids["grid_name"].to_numpy(),
                "level": 2,
                "branch_id": grids["branch_code"].map(branch_id).to_numpy(),
                "parent_id": grids["branch_code"].map(parent_id).to_numpy(),
                "geom": ewkb_hex(multipolygons(grids.geometry.to_numpy())),
                "locked": False,
                "version": 1,
                "updated_by": "bench",
            }
        ),
    )

    # an account manager of the grid's branch on each A post, in turn
    managers = county.staff[county.staff["role"] == "account_manager"]
    by_branch = managers.groupby("branch_code")["username"].agg(list)
    posts = [
        (grid, staff_id[by_branch[branch][k % len(by_branch[branch])]], "A")
        for k, (grid, branch) in enumerate(zip(ids, grids["branch_code"], strict=True))
        if branch in by_branch.index
    ]
    copy_frame(
        conn, "grid_post", pd.DataFrame(posts, columns=["grid_id", "staff_id", "post"])
    )

    # the grid each household lies in, as the store keeps it
    stored = grid_of_households(county, grids)
    stored_id = pd.array(ids[np.maximum(stored, 0)], dtype="Int64")
    stored_id[stored < 0] = pd.NA
    conn.execute(text("CREATE TEMP TABLE stored_grid (id bigint, grid_id integer)"))
    copy_frame(
        conn,
        "stored_grid",
        pd.DataFrame({"id": np.arange(1, len(stored) + 1), "grid_id": stored_id}),
    )
    conn.execute(
        text(
            "UPDATE household h SET grid_id = s.grid_id FROM stored_grid s "
            "WHERE h.id = s.id"
        )
    )


def _ids(conn: Connection, sql: str) -> dict[str, int]:
    return {str(key): int(value) for key, value in conn.execute(text(sql))}


def multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Each geometry as a MultiPolygon of its polygons (as the grid table wants)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    polygon = shapely.get_type_id(parts) == 3
    return shapely.multipolygons(parts[polygon], indices=index[polygon])


def plain_load(engine: Engine, as_of: dt.date) -> CoverageInputs:
    """The inputs read the usual way: read_postgis, read_sql and pandas groupby."""
    hh = gpd.read_postgis(
        "SELECT id AS household_id, household_no, address, village_code, "
        "grid_id AS stored_grid_id, geom FROM household ORDER BY id",
        engine,
        geom_col="geom",
    )
    people = pd.read_sql(
        "SELECT household_id, birth_date, status, deposit_own, loan_own, "
        "deposit_other, loan_other FROM person",
        engine,
    )
    visits = pd.read_sql("SELECT household_id, visited_at FROM visit", engine)
    units = gpd.read_postgis(
        "SELECT code, name, level, parent_code, geom FROM admin_unit",
        engine,
        geom_col="geom",
    )
    grids = gpd.read_postgis(
        "SELECT g.id AS grid_id, g.code AS grid_code, g.name AS grid_name, "
        "g.level, g.parent_id, b.id AS branch_id, b.code AS branch_code, "
        "b.name AS branch_name, s.username AS manager_username, "
        "s.name AS manager_name, g.geom FROM grid g "
        "JOIN branch b ON b.id = g.branch_id "
        "LEFT JOIN grid_post gp ON gp.grid_id = g.id AND gp.post = 'A' "
        "LEFT JOIN staff s ON s.id = gp.staff_id ORDER BY g.id",
        engine,
        geom_col="geom",
    )
    branches = gpd.read_postgis(
        "SELECT id AS branch_id, code AS branch_code, name AS branch_name, geom "
        "FROM branch ORDER BY id",
        engine,
        geom_col="geom",
    )

    # people and visits summed per household with pandas
    born_after, born_by = working_age_birth_bounds(as_of, (18, 60))
    birth = pd.to_datetime(people["birth_date"])
    people["working"] = (birth > pd.Timestamp(born_after)) & (
        birth <= pd.Timestamp(born_by)
    )
    people["customer"] = people["status"] == "customer"
    people["working_customer"] = people["working"] & people["customer"]
    members = people.groupby("household_id").agg(
        people=("status", "size"),
        working_age=("working", "sum"),
        customers=("customer", "sum"),
        working_age_customers=("working_customer", "sum"),
        deposit_own=("deposit_own", "sum"),
        loan_own=("loan_own", "sum"),
        deposit_other=("deposit_other", "sum"),
        loan_other=("loan_other", "sum"),
    )
    local = visits["visited_at"].dt.tz_convert(TIMEZONE)
    day = local.dt.tz_localize(None).dt.normalize()
    in_time = day <= pd.Timestamp(as_of)
    last = day[in_time].groupby(visits.loc[in_time, "household_id"]).max()

    hh = hh.join(members, on="household_id").join(
        last.rename("last_visit"), on="household_id"
    )
    hh[members.columns] = hh[members.columns].fillna(0)
    villages = units[units["level"] == "village"].rename(
        columns={"code": "village_code", "name": "village_name"}
    )
    hh["town_code"] = hh["village_code"].map(
        villages.set_index("village_code")["parent_code"]
    )
    hh["lon"], hh["lat"] = hh.geometry.x, hh.geometry.y
    villages = villages.rename(columns={"parent_code": "town_code"})
    towns = units[units["level"] == "town"].rename(
        columns={"code": "town_code", "name": "town_name"}
    )
    return CoverageInputs(
        households=hh.rename_geometry("geometry"),
        villages=villages[["village_code", "village_name", "town_code", "geom"]]
        .rename_geometry("geometry")
        .reset_index(drop=True),
        towns=towns[["town_code", "town_name", "geom"]]
        .rename_geometry("geometry")
        .reset_index(drop=True),
        grids=grids[grids["level"] == 2].rename_geometry("geometry"),
        jurisdictions=grids[grids["level"] == 1].rename_geometry("geometry"),
        branches=branches.rename_geometry("geometry"),
        region=units[units["level"] == "county"][["name", "geom"]]
        .rename_geometry("geometry")
        .reset_index(drop=True),
        as_of=as_of,
    )


def same_households(
    label: str, ours: gpd.GeoDataFrame, theirs: gpd.GeoDataFrame
) -> list[tuple[str, str]]:
    """Per-household figures of two loads: equal, or how far apart."""
    a = ours.set_index("household_id").sort_index()
    b = theirs.set_index("household_id").sort_index()
    if not a.index.equals(b.index):
        return [(f"{label}: households", "DIFFERENT")]
    counts = ["people", "working_age", "customers", "working_age_customers"]
    equal_counts = all(
        (a[c].to_numpy(np.int64) == b[c].to_numpy(np.int64)).all() for c in counts
    )
    balances = ["deposit_own", "loan_own", "deposit_other", "loan_other"]
    gap = max(
        np.abs(a[c].to_numpy(float) - b[c].to_numpy(float)).max() for c in balances
    )
    visit_a = pd.to_datetime(a["last_visit"]).to_numpy("datetime64[D]")
    visit_b = pd.to_datetime(b["last_visit"]).to_numpy("datetime64[D]")
    same_visit = bool(
        ((visit_a == visit_b) | (np.isnat(visit_a) & np.isnat(visit_b))).all()
    )
    grid_a = a["stored_grid_id"].astype("Int64").fillna(-1).to_numpy(np.int64)
    grid_b = b["stored_grid_id"].astype("Int64").fillna(-1).to_numpy(np.int64)
    same_place = bool(
        (grid_a == grid_b).all()
        and (a["lon"].to_numpy() == b["lon"].to_numpy()).all()
        and (a["lat"].to_numpy() == b["lat"].to_numpy()).all()
        and (a["village_code"].to_numpy() == b["village_code"].to_numpy()).all()
        and (a["town_code"].to_numpy() == b["town_code"].to_numpy()).all()
    )
    return [
        (f"{label}: member counts", "equal" if equal_counts else "DIFFERENT"),
        (f"{label}: balances, largest gap", f"{gap:.2g} yuan"),
        (f"{label}: last visit", "equal" if same_visit else "DIFFERENT"),
        (
            f"{label}: place, village, town, stored grid",
            "equal" if same_place else "DIFFERENT",
        ),
    ]


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


def print_totals(
    load_s: float,
    analysis_s: float,
    plain_load_s: float,
    plain_s: float,
    *,
    skip_db: bool,
) -> None:
    """The headline: reading plus analysis, both ways, against the 30 s target."""

    def row(label: str, ours: float, theirs: float) -> None:
        print(f"| {label} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.1f}x |")

    title = "Analysis in memory (--skip-db: no end-to-end figure)"
    print(f"\n### {title if skip_db else 'End to end, from PostGIS to every layer'}\n")
    print("| | geogrid | straightforward | ratio |")
    print("|---|---:|---:|---:|")
    if skip_db:
        row("analysis", analysis_s, plain_s)
        print()
        return
    row("read the inputs", load_s, plain_load_s)
    row("analysis", analysis_s, plain_s)
    ours, theirs = load_s + analysis_s, plain_load_s + plain_s
    row("**end to end**", ours, theirs)
    verdict = "met" if ours < 30 else "NOT met"
    print(f"\nTarget: full report under 30 s end to end: {verdict} ({ours:.1f} s).\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=3_000)
    parser.add_argument(
        "--skip-db",
        action="store_true",
        help="Analysis only, on the county in memory (no PostGIS).",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows: list[tuple[str, float]] = []
    checks: list[tuple[str, str]] = []

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
    memory = timed(
        "assemble inputs in memory", rows, lambda: memory_inputs(county, grids)
    )
    params = CoverageParameters()

    # both ways read the same store; neither load is part of the other's time
    load_s = plain_load_s = 0.0
    inputs = plain = memory
    if not args.skip_db:
        with bench_engine() as engine:
            timed(
                "store the county and its grids in PostGIS (setup)",
                rows,
                lambda: store_county(engine, county, grids),
            )
            inputs = timed(
                "load_inputs from PostGIS",
                rows,
                lambda: load_inputs(engine, as_of=county.as_of),
            )
            load_s = rows[-1][1]
            plain = timed(
                "straightforward load (read_postgis, read_sql, pandas groupby)",
                rows,
                lambda: plain_load(engine, county.as_of),
            )
            plain_load_s = rows[-1][1]
        assert len(inputs.households) == args.households
        assert len(inputs.grids) == args.grids
        checks += same_households(
            "load_inputs vs memory", inputs.households, memory.households
        )
        checks += same_households(
            "load_inputs vs straightforward load", inputs.households, plain.households
        )

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
    analysis_s = rows[-1][1]
    rows.extend(steps)

    base_rows: list[tuple[str, float]] = []
    base = timed(
        "straightforward geopandas (same results)",
        rows,
        lambda: straightforward(plain, params, base_rows),
    )
    plain_s = rows[-1][1]
    rows.extend(base_rows)
    rows.extend(h3_aggregation(inputs, params.resolution))
    checks += agreement(report, base)

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

    print_totals(load_s, analysis_s, plain_load_s, plain_s, skip_db=args.skip_db)
    print("| check | result |")
    print("|---|---|")
    for label, value in checks:
        print(f"| {label} | {value} |")
    print("\nSummary:", report.summary)


if __name__ == "__main__":
    main()

"""Load what the coverage report needs from PostGIS, once, aggregated in the database.

One query returns a row per household with its location, village, town and
stored grid, the counts of its members (all, working age, customers) and
their balances at our bank and at others, and the date of its last visit.
The areas (villages, towns, second-level grids with their A-post manager,
first-level grids, branches and the county) come as GeoDataFrames in WGS84.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, text

from geogrid.coverage.params import check_working_age, working_age_birth_bounds
from geogrid.errors import InvalidInput

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"
WORKING_AGE = (18, 60)

_HOUSEHOLD_TYPES: dict[str, pa.DataType] = {
    "household_id": pa.int64(),
    "household_no": pa.string(),
    "address": pa.string(),
    "village_code": pa.string(),
    "town_code": pa.string(),
    "stored_grid_id": pa.int64(),
    "lon": pa.float64(),
    "lat": pa.float64(),
    "people": pa.int32(),
    "working_age": pa.int32(),
    "customers": pa.int32(),
    "working_age_customers": pa.int32(),
    "deposit_own": pa.float64(),
    "loan_own": pa.float64(),
    "deposit_other": pa.float64(),
    "loan_other": pa.float64(),
    "last_visit": pa.date32(),
}

_HOUSEHOLDS_SQL = """
WITH members AS (
    SELECT household_id,
           count(*) AS people,
           count(*) FILTER (WHERE {working}) AS working_age,
           count(*) FILTER (WHERE status = 'customer') AS customers,
           count(*) FILTER (WHERE status = 'customer' AND {working})
               AS working_age_customers,
           sum(deposit_own) AS deposit_own,
           sum(loan_own) AS loan_own,
           sum(deposit_other) AS deposit_other,
           sum(loan_other) AS loan_other
    FROM person
    GROUP BY household_id
),
visits AS (
    SELECT household_id,
           max(visited_at AT TIME ZONE '{tz}')::date AS last_visit
    FROM visit
    WHERE visited_at < %(visits_before)s
    GROUP BY household_id
)
SELECT h.id AS household_id, h.household_no, h.address, h.village_code,
       v.parent_code AS town_code, h.grid_id AS stored_grid_id,
       ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
       coalesce(m.people, 0) AS people,
       coalesce(m.working_age, 0) AS working_age,
       coalesce(m.customers, 0) AS customers,
       coalesce(m.working_age_customers, 0) AS working_age_customers,
       coalesce(m.deposit_own, 0) AS deposit_own,
       coalesce(m.loan_own, 0) AS loan_own,
       coalesce(m.deposit_other, 0) AS deposit_other,
       coalesce(m.loan_other, 0) AS loan_other,
       vi.last_visit
FROM household h
LEFT JOIN members m ON m.household_id = h.id
LEFT JOIN visits vi ON vi.household_id = h.id
LEFT JOIN admin_unit v ON v.code = h.village_code AND v.level = 'village'
{where}
ORDER BY h.id
"""

# households of the selected grids: by their stored grid, or by where they lie
_SELECTED_HOUSEHOLDS = """
WHERE h.id IN (
    SELECT id FROM household WHERE grid_id = ANY(%(l2_ids)s)
    UNION
    SELECT hh.id FROM household hh
    JOIN grid g ON ST_Intersects(g.geom, hh.geom)
    WHERE g.id = ANY(%(area_ids)s)
)
"""

_GRIDS_SQL = """
SELECT g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
       g.parent_id, b.id AS branch_id, b.code AS branch_code,
       b.name AS branch_name, s.username AS manager_username,
       s.name AS manager_name, g.geom
FROM grid g
JOIN branch b ON b.id = g.branch_id
LEFT JOIN grid_post gp ON gp.grid_id = g.id AND gp.post = 'A'
LEFT JOIN staff s ON s.id = gp.staff_id
WHERE g.level = :level
ORDER BY g.id
"""


@dataclass
class CoverageInputs:
    """Everything a coverage report reads, in WGS84 (EPSG:4326).

    Attributes
    ----------
    households
        One point per household: household_id, household_no, address,
        village_code, town_code, stored_grid_id (the grid the store assigns;
        NA when none), lon, lat (NaN when not located), people, working_age,
        customers, working_age_customers, deposit_own, loan_own,
        deposit_other, loan_other (yuan, summed over members) and last_visit
        (date of the last visit before the report date; NaT when none).
    villages, towns
        Administrative units: code, name, town_code (villages) and polygons.
    grids
        Second-level grids: grid_id, grid_code, grid_name, parent_id,
        branch_id, branch_code, branch_name, manager_username and
        manager_name (the A post; None when vacant) and polygons.
    jurisdictions
        First-level grids (branch jurisdictions) with the same columns.
    branches
        branch_id, branch_code, branch_name and points (None when unknown).
    region
        The area that second-level grids must cover: the county, or the
        selected first-level grids when the load was filtered.
    as_of
        The report date: visits and ages are counted up to it.
    working_age
        Youngest and oldest age counted as working age.
    grid_ids, branch
        The filter the inputs were loaded with (None: everything).
    """

    households: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    jurisdictions: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    region: gpd.GeoDataFrame
    as_of: dt.date
    working_age: tuple[int, int] = WORKING_AGE
    grid_ids: tuple[int, ...] | None = None
    branch: str | None = None


def load_inputs(
    engine: Engine,
    *,
    grid_ids: Sequence[int] | None = None,
    branch: str | None = None,
    as_of: dt.date | None = None,
    working_age: tuple[int, int] = WORKING_AGE,
) -> CoverageInputs:
    """Read households, areas and the bank's organisation for a coverage report.

    Parameters
    ----------
    engine
        The store.
    grid_ids
        Restrict to these grids (None: all). A first-level grid stands for
        all its second-level grids, and ungridded areas are then sought
        inside it. Households count when their stored grid is selected or
        they lie in a selected grid.
    branch
        Restrict to the grids of the branch with this code (None: all).
    as_of
        Report date (today when None): visits after it are ignored and ages
        are taken on it.
    working_age
        Youngest and oldest age, in whole years, of the working-age
        population.

    Returns
    -------
    CoverageInputs

    Raises
    ------
    InvalidInput
        When `grid_ids` holds something other than integers, or `branch` is
        not the code of a branch in the store.
    """
    started = time.perf_counter()
    as_of = dt.date.today() if as_of is None else as_of
    check_working_age(working_age)
    selected = _check_grid_ids(grid_ids)

    with engine.connect() as conn:
        branches = _branches(conn)
        branch_id = _branch_id(branches, branch)
        jurisdictions = _grids(conn, level=1)
        grids = _grids(conn, level=2)
        l2_ids, region_ids = _selection(grids, jurisdictions, selected, branch_id)
        if l2_ids is not None:
            grids = grids[grids["grid_id"].isin(l2_ids)].reset_index(drop=True)
        households = _households(conn, as_of, working_age, l2_ids, region_ids)
        villages, towns, county = _admin(conn)

    region = _region(county, jurisdictions, region_ids, filtered=l2_ids is not None)
    if l2_ids is not None:
        villages, towns = _touched(villages, towns, households, grids)
    inputs = CoverageInputs(
        households=households,
        villages=villages,
        towns=towns,
        grids=grids,
        jurisdictions=jurisdictions,
        branches=branches,
        region=region,
        as_of=as_of,
        working_age=(int(working_age[0]), int(working_age[1])),
        grid_ids=None if selected is None else tuple(selected),
        branch=branch,
    )
    log.info(
        "Loaded %d households, %d villages and %d second-level grids for coverage "
        "in %.1f s",
        len(households),
        len(villages),
        len(grids),
        time.perf_counter() - started,
    )
    return inputs


# --- checks ---------------------------------------------------------------------


def _check_grid_ids(grid_ids: Sequence[int] | None) -> list[int] | None:
    if grid_ids is None:
        return None
    values = list(grid_ids)
    bad = [
        v for v in values if isinstance(v, bool) or not isinstance(v, int | np.integer)
    ]
    if isinstance(grid_ids, str | bytes) or bad:
        raise InvalidInput(
            "Parameter 'grid_ids' must be a sequence of integer grid ids or None "
            f"for all grids; received {grid_ids!r}.",
            parameter="grid_ids",
            received=repr(grid_ids),
        )
    return [int(v) for v in values]


def _branch_id(branches: gpd.GeoDataFrame, branch: str | None) -> int | None:
    if branch is None:
        return None
    match = branches.loc[branches["branch_code"] == branch, "branch_id"]
    if match.empty:
        known = ", ".join(branches["branch_code"].head(12))
        more = ", ..." if len(branches) > 12 else ""
        raise InvalidInput(
            f"Parameter 'branch' must be the code of a branch in the store "
            f"({known or 'none stored'}{more}); received {branch!r}.",
            parameter="branch",
            allowed=branches["branch_code"].tolist(),
            received=repr(branch),
        )
    return int(match.iloc[0])


def _selection(
    grids: gpd.GeoDataFrame,
    jurisdictions: gpd.GeoDataFrame,
    selected: list[int] | None,
    branch_id: int | None,
) -> tuple[list[int] | None, list[int]]:
    """Second-level grids to load, and the first-level grids to seek gaps in."""
    if selected is None and branch_id is None:
        return None, []

    keep = np.ones(len(grids), dtype=bool)
    region = np.ones(len(jurisdictions), dtype=bool)
    if selected is not None:
        keep &= grids["grid_id"].isin(selected) | grids["parent_id"].isin(selected)
        region &= jurisdictions["grid_id"].isin(selected)
    if branch_id is not None:
        keep &= grids["branch_id"] == branch_id
        region &= jurisdictions["branch_id"] == branch_id
        if selected is None:
            region = (jurisdictions["branch_id"] == branch_id).to_numpy()
    l2 = grids.loc[keep, "grid_id"].astype(int).tolist()
    return l2, jurisdictions.loc[region, "grid_id"].astype(int).tolist()


# --- queries --------------------------------------------------------------------


def _read_postgis(conn: Connection, sql: str, **params: Any) -> gpd.GeoDataFrame:
    gdf = gpd.read_postgis(text(sql), conn, geom_col="geom", params=params)
    return gdf.rename_geometry("geometry").set_crs(4326, allow_override=True)


def _branches(conn: Connection) -> gpd.GeoDataFrame:
    return _read_postgis(
        conn,
        "SELECT id AS branch_id, code AS branch_code, name AS branch_name, geom "
        "FROM branch ORDER BY id",
    )


def _grids(conn: Connection, *, level: int) -> gpd.GeoDataFrame:
    grids = _read_postgis(conn, _GRIDS_SQL, level=level)
    grids["parent_id"] = grids["parent_id"].astype("Int64")
    return grids


def _admin(
    conn: Connection,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    sql = (
        "SELECT code, name, parent_code, geom FROM admin_unit WHERE level = :level "
        "ORDER BY code"
    )
    villages = _read_postgis(conn, sql, level="village").rename(
        columns={
            "code": "village_code",
            "name": "village_name",
            "parent_code": "town_code",
        }
    )
    towns = _read_postgis(conn, sql, level="town").rename(
        columns={"code": "town_code", "name": "town_name", "parent_code": "county_code"}
    )
    county = _read_postgis(conn, sql, level="county")
    return villages, towns, county


def _households(
    conn: Connection,
    as_of: dt.date,
    working_age: tuple[int, int],
    l2_ids: list[int] | None,
    region_ids: list[int],
) -> gpd.GeoDataFrame:
    born_after, born_by = working_age_birth_bounds(as_of, working_age)
    working = "birth_date > %(born_after)s AND birth_date <= %(born_by)s"
    where = "" if l2_ids is None else _SELECTED_HOUSEHOLDS
    sql = _HOUSEHOLDS_SQL.format(working=working, tz=TIMEZONE, where=where)
    params: dict[str, Any] = {
        "born_after": born_after,
        "born_by": born_by,
        "visits_before": dt.datetime.combine(
            as_of + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(TIMEZONE)
        ),
        "l2_ids": l2_ids or [],
        "area_ids": (l2_ids or []) + region_ids,
    }
    frame = _copy_out(conn, sql, params, _HOUSEHOLD_TYPES)

    frame["stored_grid_id"] = frame["stored_grid_id"].astype("Int64")
    frame["last_visit"] = pd.to_datetime(frame["last_visit"])
    points = gpd.points_from_xy(frame["lon"], frame["lat"], crs=4326)
    return gpd.GeoDataFrame(frame, geometry=points)


def _copy_out(
    conn: Connection, sql: str, params: dict[str, Any], types: dict[str, pa.DataType]
) -> pd.DataFrame:
    """Run a query through COPY ... TO STDOUT and parse its CSV with Arrow."""
    raw = conn.connection.driver_connection
    assert raw is not None
    buffer = io.BytesIO()
    statement = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
    with raw.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    table = pacsv.read_csv(
        buffer,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True
        ),
    )
    return table.to_pandas()


# --- areas ----------------------------------------------------------------------


def _region(
    county: gpd.GeoDataFrame,
    jurisdictions: gpd.GeoDataFrame,
    region_ids: list[int],
    *,
    filtered: bool,
) -> gpd.GeoDataFrame:
    if filtered:
        chosen = jurisdictions[jurisdictions["grid_id"].isin(region_ids)]
        return gpd.GeoDataFrame(
            {"name": chosen["grid_name"].to_numpy()},
            geometry=chosen.geometry.to_numpy(),
            crs=4326,
        )
    if len(county):
        return gpd.GeoDataFrame(
            {"name": county["name"].to_numpy()},
            geometry=county.geometry.to_numpy(),
            crs=4326,
        )
    # no county boundary stored: the branch jurisdictions stand for it
    return gpd.GeoDataFrame(
        {"name": jurisdictions["grid_name"].to_numpy()},
        geometry=jurisdictions.geometry.to_numpy(),
        crs=4326,
    )


def _touched(
    villages: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Villages and towns that hold loaded households or meet the loaded grids."""
    codes = set(households["village_code"].dropna())
    if len(grids) and len(villages):
        hits = villages.sindex.query(grids.geometry, predicate="intersects")[1]
        codes |= set(villages["village_code"].iloc[np.unique(hits)])
    villages = villages[villages["village_code"].isin(codes)].reset_index(drop=True)
    towns = towns[towns["town_code"].isin(set(villages["town_code"]))]
    return villages, towns.reset_index(drop=True)

"""Load what the coverage report needs from PostGIS, once, aggregated in the database.

The database returns a row per household with its location, village, town
and stored grid, the counts of its members (all, working age, customers) and
their balances at our bank and at others, and the date of its last visit.
The areas (villages, towns, second-level grids with their A-post manager,
first-level grids, branches and the county) come as GeoDataFrames in WGS84.

A large county is read in ranges of `HOUSEHOLDS_PER_QUERY` household ids on
`READERS` connections that share one snapshot: the database sums the people
of one range while the rows of the one before are parsed and turned into
points, and every figure comes from the same moment of the store.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import queue
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import AssertionPool, SingletonThreadPool, StaticPool

from geogrid.coverage.params import check_working_age, working_age_birth_bounds
from geogrid.errors import InvalidInput

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"
WORKING_AGE = (18, 60)

#: Household ids read by one query; a county with more is read in ranges.
HOUSEHOLDS_PER_QUERY = 100_000
#: Connections reading ranges at once (one summing, one being parsed).
READERS = 2
# pools that cannot lend a second connection at the same time
_ONE_CONNECTION = (AssertionPool, SingletonThreadPool, StaticPool)

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

# one range of household ids; the person and visit indexes keep each range cheap
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
    WHERE household_id BETWEEN %(first_id)s AND %(last_id)s
    GROUP BY household_id
),
visits AS (
    SELECT household_id,
           max(visited_at AT TIME ZONE '{tz}')::date AS last_visit
    FROM visit
    WHERE visited_at < %(visits_before)s
      AND household_id BETWEEN %(first_id)s AND %(last_id)s
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
WHERE h.id BETWEEN %(first_id)s AND %(last_id)s {selected}
ORDER BY h.id
"""

# households of the selected grids: by their stored grid, or by where they lie
_SELECTED_IDS = """
SELECT id FROM household WHERE grid_id = ANY(:l2_ids)
UNION
SELECT hh.id FROM household hh
JOIN grid g ON ST_Intersects(g.geom, hh.geom)
WHERE g.id = ANY(:area_ids)
ORDER BY id
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

    Notes
    -----
    Everything is read in one REPEATABLE READ transaction; the ranges of
    households read on other connections import its snapshot, so an import
    committed during the load is left out entirely rather than half read.
    """
    started = time.perf_counter()
    as_of = dt.date.today() if as_of is None else as_of
    check_working_age(working_age)
    selected = _check_grid_ids(grid_ids)

    with _snapshot(engine) as conn:
        branches = _branches(conn)
        branch_id = _branch_id(branches, branch)
        jurisdictions = _grids(conn, level=1)
        grids = _grids(conn, level=2)
        l2_ids, region_ids = _selection(grids, jurisdictions, selected, branch_id)
        if l2_ids is not None:
            grids = grids[grids["grid_id"].isin(l2_ids)].reset_index(drop=True)
        households = _households(engine, conn, as_of, working_age, l2_ids, region_ids)
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
    engine: Engine,
    conn: Connection,
    as_of: dt.date,
    working_age: tuple[int, int],
    l2_ids: list[int] | None,
    region_ids: list[int],
) -> gpd.GeoDataFrame:
    born_after, born_by = working_age_birth_bounds(as_of, working_age)
    working = "birth_date > %(born_after)s AND birth_date <= %(born_by)s"
    selected = "" if l2_ids is None else "AND h.id = ANY(%(ids)s)"
    sql = _HOUSEHOLDS_SQL.format(working=working, tz=TIMEZONE, selected=selected)
    params: dict[str, Any] = {
        "born_after": born_after,
        "born_by": born_by,
        "visits_before": dt.datetime.combine(
            as_of + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(TIMEZONE)
        ),
    }
    if l2_ids is None:
        ranges = _id_ranges(conn)
    else:
        ranges = _selected_ranges(conn, l2_ids, l2_ids + region_ids)

    # points are made from one range while the database works on the next
    tables: list[pa.Table] = []
    points: list[np.ndarray] = []
    for table in _read_ranges(engine, conn, sql, params, ranges):
        tables.append(table)
        points.append(shapely.points(table["lon"].to_numpy(), table["lat"].to_numpy()))
    frame = pa.concat_tables(tables).to_pandas()

    frame["stored_grid_id"] = frame["stored_grid_id"].astype("Int64")
    frame["last_visit"] = pd.to_datetime(frame["last_visit"])
    geometry = gpd.array.from_shapely(np.concatenate(points), crs=4326)
    log.debug("Read %d households in %d queries", len(frame), len(ranges))
    return gpd.GeoDataFrame(frame, geometry=geometry)


def _id_ranges(conn: Connection) -> list[dict[str, Any]]:
    """First and last id of each range of `HOUSEHOLDS_PER_QUERY` household ids."""
    first, last = conn.execute(text("SELECT min(id), max(id) FROM household")).one()
    if first is None:
        return [{"first_id": 1, "last_id": 0}]
    step = max(int(HOUSEHOLDS_PER_QUERY), 1)
    return [
        {"first_id": start, "last_id": min(start + step - 1, last)}
        for start in range(first, last + 1, step)
    ]


def _selected_ranges(
    conn: Connection, l2_ids: list[int], area_ids: list[int]
) -> list[dict[str, Any]]:
    """The selected households' ids, `HOUSEHOLDS_PER_QUERY` at a time."""
    ids = conn.execute(
        text(_SELECTED_IDS), {"l2_ids": l2_ids, "area_ids": area_ids}
    ).scalars()
    chosen = np.fromiter(ids, dtype=np.int64)
    if len(chosen) == 0:
        return [{"first_id": 1, "last_id": 0, "ids": []}]
    step = max(int(HOUSEHOLDS_PER_QUERY), 1)
    return [
        {
            "first_id": int(part[0]),
            "last_id": int(part[-1]),
            "ids": part.tolist(),
        }
        for part in (chosen[k : k + step] for k in range(0, len(chosen), step))
    ]


def _read_ranges(
    engine: Engine,
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    ranges: list[dict[str, Any]],
) -> Iterator[pa.Table]:
    """The rows of each range, in order, read on up to `READERS` connections."""

    def read(reader: Connection, bounds: dict[str, Any]) -> pa.Table:
        return _copy_out(reader, sql, params | bounds, _HOUSEHOLD_TYPES)

    if len(ranges) == 1 or READERS < 2 or isinstance(engine.pool, _ONE_CONNECTION):
        for bounds in ranges:
            yield read(conn, bounds)
        return

    with ExitStack() as stack:
        idle: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        for reader in [conn, *_share_snapshot(engine, conn, stack, READERS - 1)]:
            idle.put(reader)

        def take_turn(bounds: dict[str, Any]) -> pa.Table:
            reader = idle.get()
            try:
                return read(reader, bounds)
            finally:
                idle.put(reader)

        pool = stack.enter_context(ThreadPoolExecutor(READERS))
        futures = [pool.submit(take_turn, bounds) for bounds in ranges]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the store as it was at the first one."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def _share_snapshot(
    engine: Engine, conn: Connection, stack: ExitStack, count: int
) -> list[Connection]:
    """`count` more connections that see the same snapshot as `conn`."""
    snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    quoted = "'" + str(snapshot).replace("'", "''") + "'"
    readers = []
    for _ in range(count):
        reader = stack.enter_context(engine.connect())
        reader.execution_options(isolation_level="REPEATABLE READ")
        reader.execute(text(f"SET TRANSACTION SNAPSHOT {quoted}"))
        readers.append(reader)
    return readers


def _copy_out(
    conn: Connection, sql: str, params: dict[str, Any], types: dict[str, pa.DataType]
) -> pa.Table:
    """Run a query through COPY ... TO STDOUT and parse its CSV with Arrow."""
    raw = conn.connection.driver_connection
    assert raw is not None
    buffer = io.BytesIO()
    statement = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)"
    with raw.cursor() as cur, cur.copy(statement, params) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True
        ),
    )


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

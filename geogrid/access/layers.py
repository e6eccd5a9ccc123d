"""Map layers of the user's grids: grids, villages, density, branches, home and bounds.

Each layer filters inside its query to the grids the user sees
(``geogrid.access.rules.visible_grid_ids``).
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine, text

from geogrid.access._query import ENVELOPE, envelope_params, read_geoms
from geogrid.access.display import Bbox, points_to_display, to_display
from geogrid.access.rules import visible_branch_ids, visible_grid_ids
from geogrid.auth import ACCOUNT_MANAGER, User
from geogrid.crs import convert_points, parse_crs
from geogrid.errors import InvalidInput, NotFound

# metres in a degree of latitude
_M_PER_DEG = 111_320.0


_GRIDS_SQL = """
WITH counts AS (
    SELECT grid_id, count(*) AS households FROM household
    WHERE grid_id IS NOT NULL GROUP BY grid_id
), levelled AS (
    SELECT g.id, g.code, g.name, g.level, g.version, b.code AS branch,
           b.name AS branch_name, coalesce(c.households, 0) AS households,
           coalesce(c.households, 0)::float / nullif(
             avg(coalesce(c.households, 0)) OVER (PARTITION BY g.branch_id), 0)
             AS ratio,
           g.geom
    FROM grid g
    JOIN branch b ON b.id = g.branch_id
    LEFT JOIN counts c ON c.grid_id = g.id
    WHERE g.level = :level
)
SELECT code, name, level, version, branch, branch_name, households, ratio,
       ST_SimplifyPreserveTopology(geom, :tolerance) AS geom
FROM levelled
WHERE (:all OR id = ANY(:grids)) AND geom && {envelope}
ORDER BY code
"""


def grid_layer(
    engine: Engine,
    user: User,
    *,
    level: int = 2,
    bbox: Bbox | None = None,
    crs: str = "wgs84",
    tolerance_m: float = 0.0,
) -> gpd.GeoDataFrame:
    """Grids the user sees within ``bbox``, with households and workload ratio.

    ``ratio`` is a grid's households over the mean of its branch's grids of
    the same level (1.0: as loaded as the branch's average grid).
    """
    if level not in (1, 2):
        raise InvalidInput(
            f"level must be 1 (branch jurisdictions) or 2 (account managers' "
            f"grids); received {level!r}.",
            parameter="level",
        )
    params = {**envelope_params(bbox, crs), "level": level}
    params["tolerance"] = max(0.0, float(tolerance_m)) / _M_PER_DEG
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params.update(all=grids is None, grids=grids or [])
        gdf = read_geoms(conn, _GRIDS_SQL.format(envelope=ENVELOPE), params)
    gdf["ratio"] = gdf["ratio"].astype(float).fillna(0.0).round(3)
    return to_display(gdf, crs)


_VILLAGES_SQL = """
SELECT v.code, v.name, t.name AS town, gv.code AS grid, v.geom
FROM admin_unit v
LEFT JOIN admin_unit t ON t.code = v.parent_code AND t.level = 'town'
LEFT JOIN grid_village m ON m.village_code = v.code
LEFT JOIN grid gv ON gv.id = m.grid_id
WHERE v.level = 'village' AND v.geom && {envelope}
  AND (:all OR EXISTS (
        SELECT 1 FROM grid g WHERE g.id = ANY(:grids) AND g.level = 2
          AND ST_Intersects(g.geom, v.geom) AND NOT ST_Touches(g.geom, v.geom)))
ORDER BY v.code
"""


def village_layer(
    engine: Engine, user: User, *, bbox: Bbox | None = None, crs: str = "wgs84"
) -> gpd.GeoDataFrame:
    """Villages inside the user's grids within ``bbox``, with their town and grid.

    ``grid`` is the second-level grid holding the whole village (None when
    the village is split between grids).
    """
    params = envelope_params(bbox, crs)
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params.update(all=grids is None, grids=grids or [])
        gdf = read_geoms(conn, _VILLAGES_SQL.format(envelope=ENVELOPE), params)
    return to_display(gdf, crs)


_DENSITY_SQL = """
SELECT (floor(ST_X(geom) / :dx) + 0.5) * :dx AS lon,
       (floor(ST_Y(geom) / :dy) + 0.5) * :dy AS lat,
       count(*) AS households
FROM household
WHERE geom && {envelope} AND (:all OR grid_id = ANY(:grids))
GROUP BY 1, 2
"""


def household_density(
    engine: Engine,
    user: User,
    *,
    bbox: Bbox | None = None,
    cell_m: float = 200.0,
    crs: str = "wgs84",
) -> pd.DataFrame:
    """Households of the user's grids counted on cells of about ``cell_m`` metres.

    Returns a frame with lon, lat (cell centres, in ``crs``) and households.
    """
    if not 10 <= cell_m <= 5_000:
        raise InvalidInput(
            f"cell_m must be between 10 and 5000 metres; received {cell_m!r}.",
            parameter="cell_m",
        )
    params = envelope_params(bbox, crs)
    if bbox is None:  # square cells at the latitude of the user's grids
        _, south, _, north = visible_bounds(engine, user)
    else:
        south, north = params["s"], params["n"]
    mid_lat = (south + north) / 2
    params["dy"] = cell_m / _M_PER_DEG
    params["dx"] = cell_m / (_M_PER_DEG * max(math.cos(math.radians(mid_lat)), 0.1))
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params.update(all=grids is None, grids=grids or [])
        rows = conn.execute(text(_DENSITY_SQL.format(envelope=ENVELOPE)), params)
        frame = pd.DataFrame(rows.all(), columns=["lon", "lat", "households"])
    frame = frame.astype({"lon": float, "lat": float, "households": int})
    return points_to_display(frame, crs)


def branch_list(engine: Engine, user: User, *, crs: str = "wgs84") -> pd.DataFrame:
    """Branches whose grids the user sees: code, name, lon, lat (None: unknown)."""
    with engine.connect() as conn:
        branches = visible_branch_ids(conn, user)
        rows = conn.execute(
            text(
                "SELECT id, code, name, ST_X(geom) AS lon, ST_Y(geom) AS lat "
                "FROM branch WHERE :all OR id = ANY(:b) ORDER BY code"
            ),
            {"all": branches is None, "b": branches or []},
        ).all()
    frame = pd.DataFrame(rows, columns=["id", "code", "name", "lon", "lat"])
    located = frame.dropna(subset=["lon", "lat"])
    if not located.empty:
        moved = points_to_display(located, crs)
        frame.loc[moved.index, ["lon", "lat"]] = moved[["lon", "lat"]]
    return frame


def grid_choices(engine: Engine, user: User) -> list[dict[str, str]]:
    """Code and name of the second-level grids the user sees, by code."""
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        rows = conn.execute(
            text(
                "SELECT code, name FROM grid WHERE level = 2 "
                "AND (:all OR id = ANY(:g)) ORDER BY code"
            ),
            {"all": grids is None, "g": grids or []},
        ).all()
    return [{"code": str(r[0]), "name": str(r[1] or r[0])} for r in rows]


def home_branch(engine: Engine, user: User, *, crs: str = "wgs84") -> dict[str, Any]:
    """The user's own branch (or the first they see) with its location."""
    branches = branch_list(engine, user, crs=crs)
    if user.branch_id is not None:
        own = branches[branches["id"] == user.branch_id]
        branches = own if not own.empty else branches
    located = branches.dropna(subset=["lon", "lat"])
    if located.empty:
        raise NotFound(
            "No branch with a known location is visible to you; pick a point on "
            "the map or use the device's location instead."
        )
    first = located.iloc[0]
    return {
        "code": first["code"],
        "name": first["name"],
        "lon": float(first["lon"]),
        "lat": float(first["lat"]),
    }


_HOME_GRID_SQL = """
WITH mine AS (
    SELECT g.id, g.code, g.name, g.geom, min(p.post) AS post,
           (SELECT count(*) FROM household h WHERE h.grid_id = g.id) AS households
    FROM grid_post p JOIN grid g ON g.id = p.grid_id
    WHERE p.staff_id = :s AND g.level = 2
    GROUP BY g.id
), chosen AS (
    SELECT * FROM mine ORDER BY post, households DESC, code LIMIT 1
), middle AS (
    SELECT c.*, (SELECT ST_Centroid(ST_Collect(h.geom)) FROM household h
                 WHERE h.grid_id = c.id) AS centroid
    FROM chosen c
)
SELECT m.code, m.name, m.post, m.households,
       coalesce(
         (SELECT h.geom FROM household h
          WHERE h.grid_id = m.id AND h.geom IS NOT NULL
          ORDER BY h.geom <-> m.centroid LIMIT 1),
         ST_PointOnSurface(m.geom)) AS point
FROM middle m
"""


def home_grid(engine: Engine, user: User, *, crs: str = "wgs84") -> dict[str, Any]:
    """Where an account manager's households are: the heart of their main grid.

    The main grid is the one where they hold the A post (else the B post)
    with the most households; its heart is the household nearest the
    centroid of its households, or a point inside the grid when it has none.
    An account manager's branch can lie several kilometres from the grids
    they serve, so this, not the branch, is where their nearby map starts.

    Raises NotFound for users who hold no post (head office, planners, branch
    heads, or a manager not yet posted).
    """
    row = None
    if user.role == ACCOUNT_MANAGER:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT code, name, post, households, ST_X(point) AS lon, "
                    f"ST_Y(point) AS lat FROM ({_HOME_GRID_SQL}) x"
                ),
                {"s": user.id},
            ).first()
    if row is None:
        raise NotFound(
            f"{user.username} holds no A or B post on a second-level grid; start "
            "from the branch, a point picked on the map or the device's location."
        )
    lon, lat = float(row.lon), float(row.lat)
    if parse_crs(crs) not in ("wgs84", "cgcs2000"):
        x, y = convert_points(lon, lat, "wgs84", crs)
        lon, lat = float(x), float(y)
    return {
        "code": str(row.code),
        "name": str(row.name or row.code),
        "post": str(row.post),
        "households": int(row.households),
        "lon": lon,
        "lat": lat,
    }


def visible_bounds(engine: Engine, user: User, *, crs: str = "wgs84") -> Bbox:
    """(west, south, east, north) of the user's grids, or of the county.

    Raises NotFound when the store holds neither grids nor a county.
    """
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        row = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                "SELECT ST_Extent(geom) AS e FROM grid WHERE :all OR id = ANY(:g)) x"
            ),
            {"all": grids is None, "g": grids or []},
        ).one()
        if row[0] is None:
            row = conn.execute(
                text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                    "SELECT ST_Extent(geom) AS e FROM admin_unit "
                    "WHERE level = 'county') x"
                )
            ).one()
    if row[0] is None:
        raise NotFound(
            "No county boundary or grid is loaded. Build the demo county with "
            "'geogrid demo' or import one with 'geogrid import boundaries FILE "
            "--level county --crs ...'."
        )
    west, south, east, north = (float(v) for v in row)
    frame = pd.DataFrame({"lon": [west, east], "lat": [south, north]})
    moved = points_to_display(frame, crs)
    return (
        float(moved["lon"][0]),
        float(moved["lat"][0]),
        float(moved["lon"][1]),
        float(moved["lat"][1]),
    )

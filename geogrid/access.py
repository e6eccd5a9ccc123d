"""What each user may see and change, and the reads and edits that apply it.

The rules, by role:

- head office sees and changes everything;
- a branch head sees and changes the grids of their branch;
- an account manager sees the second-level grids where they hold the A or B
  post, and changes nothing;
- a planner sees everything, changes nothing, and sees no personal details.

Every function here takes the user: the map reads (grids, villages,
household density, branches) filter inside their query
(``grid_id = ANY(visible grids)``); grid profiles and history, grid edits
(preview and commit), grid design for a branch and the coverage report check
the user's scope before calling the core. No page or API call can forget to.
Objects outside a user's scope are reported as not found, the same as
objects that do not exist, so their existence does not leak.

Personal details: account managers see the names and full phone numbers of
their own customers (they call them); head office and branch heads see names
with phone numbers masked to the last four digits; ID numbers are masked for
everyone; planners see no names, ID or phone numbers at all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from geogrid import audit
from geogrid.auth import ACCOUNT_MANAGER, BRANCH_HEAD, HEAD_OFFICE, PLANNER, User
from geogrid.crs import convert_gdf, convert_geometries, convert_points, parse_crs
from geogrid.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from geogrid.grids.edit import (
    EditPreview,
    commit_edit,
    grid_by_code,
    history,
    preview_move_villages,
    preview_replace_polygon,
    preview_rollback,
)
from geogrid.grids.fixed import grid_profile
from geogrid.masking import mask_id_number, mask_phone

if TYPE_CHECKING:
    from geogrid.coverage import CoverageParameters, CoverageReport
    from geogrid.grids.design import Proposal

log = logging.getLogger(__name__)

Bbox = tuple[float, float, float, float]

# personal-detail views
FULL_PHONE = "full_phone"
MASKED = "masked"
NO_PEOPLE = "none"

# the GCJ-02 offset is under 0.01 degrees in China: widen converted boxes by it
_SHIFT_MARGIN_DEG = 0.01
_M_PER_DEG = 111_320.0


# --- rules ---------------------------------------------------------------------


def visible_grid_ids(conn: Connection, user: User) -> list[int] | None:
    """Ids of the grids (both levels) the user may see; None means all of them."""
    if user.role in (HEAD_OFFICE, PLANNER):
        return None
    if user.role == BRANCH_HEAD:
        rows = conn.execute(
            text("SELECT id FROM grid WHERE branch_id = :b ORDER BY id"),
            {"b": user.branch_id},
        ).all()
    elif user.role == ACCOUNT_MANAGER:
        rows = conn.execute(
            text(
                "SELECT DISTINCT grid_id FROM grid_post WHERE staff_id = :s "
                "ORDER BY grid_id"
            ),
            {"s": user.id},
        ).all()
    else:
        return []
    return [int(r[0]) for r in rows]


def visible_branch_ids(conn: Connection, user: User) -> list[int] | None:
    """Ids of the branches whose grids the user sees (some or all); None: all."""
    grids = visible_grid_ids(conn, user)
    if grids is None:
        return None
    rows = conn.execute(
        text("SELECT DISTINCT branch_id FROM grid WHERE id = ANY(:g) ORDER BY 1"),
        {"g": grids},
    ).all()
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class GridRef:
    """A grid the user may see."""

    id: int
    code: str
    branch_id: int
    level: int


def grid_in_scope(conn: Connection, user: User, code: str) -> GridRef:
    """The grid with this code, or NotFound when it does not exist or is hidden."""
    gid, branch_id, level = grid_by_code(conn, code)
    grids = visible_grid_ids(conn, user)
    if grids is not None and gid not in grids:
        raise NotFound(
            f"Grid {code!r} does not exist or is outside your grids; the map "
            "lists the grids you may open."
        )
    return GridRef(gid, code, branch_id, level)


def require_role(user: User, roles: Sequence[str], action: str) -> None:
    """Raise PermissionDenied unless the user's role is one of ``roles``."""
    if user.role not in roles:
        allowed = ", ".join(r.replace("_", " ") for r in roles)
        raise PermissionDenied(
            f"Your role ({user.role.replace('_', ' ')}) may not {action}; it is "
            f"open to {allowed}. Ask head office if you need it.",
            role=user.role,
        )


def check_can_edit(user: User, branch_id: int) -> None:
    """Raise PermissionDenied unless the user may change grids of this branch."""
    require_role(user, (HEAD_OFFICE, BRANCH_HEAD), "change grids")
    if user.role == BRANCH_HEAD and user.branch_id != branch_id:
        raise PermissionDenied(
            "A branch head changes only the grids of their own branch; this grid "
            "belongs to another branch. Ask head office or that branch's head.",
            role=user.role,
        )


def branch_in_scope(conn: Connection, user: User, code: str) -> tuple[int, str]:
    """(id, name) of the branch with this code, if the user sees its grids."""
    row = conn.execute(
        text("SELECT id, name FROM branch WHERE code = :c"), {"c": code}
    ).first()
    branches = visible_branch_ids(conn, user)
    if row is None or (branches is not None and int(row[0]) not in branches):
        raise NotFound(
            f"Branch {code!r} does not exist or is outside your grids; "
            "GET /api/branches lists the branches you may open."
        )
    return int(row[0]), str(row[1])


def personal_view(user: User) -> str:
    """How personal details appear to this user: full_phone, masked or none."""
    if user.role == PLANNER:
        return NO_PEOPLE
    if user.role == ACCOUNT_MANAGER:
        return FULL_PHONE
    return MASKED


def shape_person(record: dict[str, Any], view: str) -> dict[str, Any]:
    """A person's or contact's record as ``view`` allows: masked or stripped.

    Keys ``name``, ``phone`` and ``id_number`` are the personal ones; the
    others pass through.
    """
    out = dict(record)
    if view == NO_PEOPLE:
        for key in ("name", "phone", "id_number"):
            out.pop(key, None)
        return out
    if "id_number" in out:
        out["id_number"] = mask_id_number(out["id_number"])
    if view == MASKED and "phone" in out:
        out["phone"] = mask_phone(out["phone"])
    return out


def scope_key(engine: Engine, user: User) -> tuple[int, ...] | str:
    """What the user sees, as a cache key: ``"all"`` or the ids of their grids."""
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
    return "all" if grids is None else tuple(grids)


# --- coordinates of the caller ---------------------------------------------------


def check_bbox(bbox: Sequence[float]) -> Bbox:
    """A (west, south, east, north) box in degrees, checked."""
    values = [float(v) for v in bbox]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            "bbox must be four finite numbers west,south,east,north in degrees; "
            f"received {list(bbox)!r}.",
            parameter="bbox",
        )
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(
            "bbox must be west,south,east,north with west < east (each -180 to "
            f"180) and south < north (each -90 to 90); received {values}.",
            parameter="bbox",
        )
    return west, south, east, north


def bbox_to_wgs84(bbox: Bbox, crs: str) -> Bbox:
    """A box drawn in ``crs`` as a WGS84 box that surely covers it."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000"):
        return bbox
    lon, lat = convert_points(
        np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]), crs, "wgs84"
    )
    margin = _SHIFT_MARGIN_DEG
    return (
        float(lon[0]) - margin,
        float(lat[0]) - margin,
        float(lon[1]) + margin,
        float(lat[1]) + margin,
    )


def to_display(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """``gdf`` (WGS84) in the caller's coordinate system."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000") or gdf.empty:
        return gdf
    return convert_gdf(gdf, "wgs84", crs)


def points_to_display(
    frame: pd.DataFrame, crs: str, lon: str = "lon", lat: str = "lat"
) -> pd.DataFrame:
    """``frame`` with its WGS84 ``lon``/``lat`` columns in the caller's system."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000") or frame.empty:
        return frame
    x, y = convert_points(
        frame[lon].to_numpy(float), frame[lat].to_numpy(float), "wgs84", crs
    )
    return frame.assign(**{lon: x, lat: y})


def _envelope(bbox: Bbox | None, crs: str) -> dict[str, Any]:
    if bbox is None:
        return {"w": -180.0, "s": -90.0, "e": 180.0, "n": 90.0}
    west, south, east, north = bbox_to_wgs84(check_bbox(bbox), crs)
    return {"w": west, "s": south, "e": east, "n": north}


def in_bbox(gdf: gpd.GeoDataFrame, bbox: Bbox | None) -> gpd.GeoDataFrame:
    """The rows of ``gdf`` meeting ``bbox``, both in the same coordinate system."""
    if bbox is None or gdf.empty:
        return gdf
    west, south, east, north = check_bbox(bbox)
    return gdf[gdf.intersects(shapely.box(west, south, east, north))]


def points_in_bbox(frame: pd.DataFrame, bbox: Bbox | None) -> pd.DataFrame:
    """The rows of ``frame`` whose lon and lat lie in ``bbox``."""
    if bbox is None or frame.empty:
        return frame
    west, south, east, north = check_bbox(bbox)
    inside = frame["lon"].between(west, east) & frame["lat"].between(south, north)
    return frame[inside]


_ENVELOPE = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"


def _read(conn: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    gdf = gpd.read_postgis(text(sql), conn, geom_col="geom", params=params)
    return gdf.rename_geometry("geometry").set_crs(4326, allow_override=True)


# --- map layers ------------------------------------------------------------------

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
    params = {**_envelope(bbox, crs), "level": level}
    params["tolerance"] = max(0.0, float(tolerance_m)) / _M_PER_DEG
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params.update(all=grids is None, grids=grids or [])
        gdf = _read(conn, _GRIDS_SQL.format(envelope=_ENVELOPE), params)
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
    params = _envelope(bbox, crs)
    with engine.connect() as conn:
        grids = visible_grid_ids(conn, user)
        params.update(all=grids is None, grids=grids or [])
        gdf = _read(conn, _VILLAGES_SQL.format(envelope=_ENVELOPE), params)
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
    params = _envelope(bbox, crs)
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
        rows = conn.execute(text(_DENSITY_SQL.format(envelope=_ENVELOPE)), params)
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


def check_design_access(engine: Engine, user: User, branch_code: str) -> None:
    """Raise unless the user may design grids for this branch."""
    require_role(user, (HEAD_OFFICE, BRANCH_HEAD, PLANNER), "design grids")
    with engine.connect() as conn:
        branch_in_scope(conn, user, branch_code)


# --- one grid ----------------------------------------------------------------------


def grid_profile_for(engine: Engine, user: User, code: str) -> dict[str, Any]:
    """A grid's profile (``geogrid.grids.fixed.grid_profile``) as the user may see it.

    Posts and liaison officers lose names and phone numbers for planners;
    phone numbers are masked for head office and branch heads.
    """
    with engine.connect() as conn:
        grid = grid_in_scope(conn, user, code)
    profile = grid_profile(engine, grid.code)
    view = personal_view(user)
    profile["posts"] = [shape_person(p, view) for p in profile["posts"]]
    profile["liaison"] = [shape_person(x, view) for x in profile["liaison"]]
    profile["editable"] = _may_edit(user, grid.branch_id)
    return profile


def grid_history_for(engine: Engine, user: User, code: str) -> pd.DataFrame:
    """Versions of a grid the user sees, newest first (see ``history``)."""
    with engine.connect() as conn:
        grid = grid_in_scope(conn, user, code)
    return history(engine, grid.code)


def grid_shape(
    engine: Engine, user: User, code: str, *, crs: str = "wgs84"
) -> gpd.GeoDataFrame:
    """One grid's full-resolution shape (for editing its vertices)."""
    with engine.connect() as conn:
        grid = grid_in_scope(conn, user, code)
        gdf = _read(
            conn,
            "SELECT code, name, level, version, geom FROM grid WHERE id = :g",
            {"g": grid.id},
        )
    return to_display(gdf, crs)


def _may_edit(user: User, branch_id: int) -> bool:
    return user.role == HEAD_OFFICE or (
        user.role == BRANCH_HEAD and user.branch_id == branch_id
    )


def may_edit_branch(engine: Engine, user: User, branch_code: str) -> bool:
    """Whether the user may change the grids of the branch with this code."""
    if user.role not in (HEAD_OFFICE, BRANCH_HEAD):
        return False
    with engine.connect() as conn:
        branch_id, _ = branch_in_scope(conn, user, branch_code)
    return _may_edit(user, branch_id)


def editable_grid(engine: Engine, user: User, code: str) -> GridRef:
    """The second-level grid ``code`` if the user may change it."""
    with engine.connect() as conn:
        grid = grid_in_scope(conn, user, code)
    check_can_edit(user, grid.branch_id)
    return grid


def editable_villages(engine: Engine, user: User, codes: Sequence[str]) -> None:
    """Raise unless every village lies in a branch the user may change."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.code, array_agg(DISTINCT g.branch_id) FROM admin_unit v "
                "JOIN grid g ON g.level = 1 AND ST_Intersects(g.geom, v.geom) "
                "AND NOT ST_Touches(g.geom, v.geom) "
                "WHERE v.level = 'village' AND v.code = ANY(:c) GROUP BY v.code"
            ),
            {"c": list(codes)},
        ).all()
    for _code, branch_ids in rows:
        for branch_id in branch_ids:
            check_can_edit(user, int(branch_id))


# --- one branch, for grid design ------------------------------------------------

_BRANCH_VILLAGES_SQL = """
WITH parent AS (SELECT geom FROM grid WHERE level = 1 AND branch_id = :b),
villages AS (
    SELECT v.code, v.name, v.geom FROM admin_unit v, parent p
    WHERE v.level = 'village' AND v.geom && p.geom
      AND ST_Area(ST_Intersection(v.geom, p.geom)) > 0.5 * ST_Area(v.geom)
)
SELECT v.code, v.name, gv.code AS grid,
       (SELECT count(*) FROM household h WHERE h.village_code = v.code)
         AS households,
       v.geom
FROM villages v
LEFT JOIN grid_village m ON m.village_code = v.code
LEFT JOIN grid gv ON gv.id = m.grid_id
ORDER BY v.code
"""


def branch_villages(
    engine: Engine, user: User, branch_code: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A branch's villages (with households and current grid) and its current grids.

    The user must see the branch; account managers may not (designing grids
    is for head office, branch heads and planners).
    """
    check_design_access(engine, user, branch_code)
    with engine.connect() as conn:
        branch_id, _ = branch_in_scope(conn, user, branch_code)
        villages = _read(conn, _BRANCH_VILLAGES_SQL, {"b": branch_id})
        grids = _read(
            conn,
            "SELECT g.code, g.name, g.version, count(h.id) AS households, g.geom "
            "FROM grid g "
            "LEFT JOIN household h ON h.grid_id = g.id "
            "WHERE g.level = 2 AND g.branch_id = :b GROUP BY g.id ORDER BY g.code",
            {"b": branch_id},
        )
    if villages.empty:
        raise NotFound(
            f"Branch {branch_code} has no villages inside its jurisdiction; import "
            "village boundaries first."
        )
    grids["ratio"] = (grids["households"] / grids["households"].mean()).round(3)
    grids["geometry"] = shapely.make_valid(grids.geometry.to_numpy())
    return villages, grids


# --- grid edits as a user ----------------------------------------------------------

EDIT_OPERATIONS = ("move_villages", "replace_polygon", "rollback")


def preview_edit(
    engine: Engine,
    user: User,
    operation: str,
    *,
    grid: str | None = None,
    villages: Sequence[str] | None = None,
    polygon: BaseGeometry | None = None,
    version: int | None = None,
    gap_policy: str = "give",
) -> EditPreview:
    """Preview an edit after checking the user may change the grids it touches.

    Parameters
    ----------
    operation
        ``move_villages`` (``villages`` into ``grid``), ``replace_polygon``
        (``grid`` gets ``polygon``, WGS84) or ``rollback`` (``grid`` back to
        ``version``).
    gap_policy
        For ``replace_polygon``: ``give`` area left over to the neighbour
        sharing the longest border, or ``refuse`` the edit.
    """
    if operation not in EDIT_OPERATIONS:
        raise InvalidInput(
            f"operation must be one of {', '.join(EDIT_OPERATIONS)}; received "
            f"{operation!r}.",
            parameter="operation",
        )
    if not grid:
        raise InvalidInput(
            f"A {operation} edit needs the code of the grid it changes ('grid').",
            parameter="grid",
        )
    editable_grid(engine, user, grid)

    if operation == "move_villages":
        codes = list(villages or [])
        editable_villages(engine, user, codes)
        return preview_move_villages(engine, codes, grid)
    if operation == "replace_polygon":
        if polygon is None:
            raise InvalidInput(
                "A replace_polygon edit needs the new shape ('polygon').",
                parameter="polygon",
            )
        return preview_replace_polygon(engine, grid, polygon, gap_policy=gap_policy)
    if version is None:
        raise InvalidInput(
            "A rollback needs the version to return to ('version').",
            parameter="version",
        )
    return preview_rollback(engine, grid, int(version))


def check_seen_versions(
    engine: Engine, user: User, grid: str, seen_versions: dict[str, int]
) -> None:
    """Raise Conflict when a grid changed since the user's preview saw it.

    Checked before the edit is previewed again: a changed grid may make the
    same edit meaningless (the village already moved), and the user should
    hear that someone else saved first, and who.
    """
    editable_grid(engine, user, grid)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, version, updated_by, updated_at FROM grid "
                "WHERE code = ANY(:codes) ORDER BY code"
            ),
            {"codes": list(seen_versions)},
        ).all()
    changed = [r for r in rows if r.version != seen_versions.get(r.code)]
    if changed:
        detail = "; ".join(
            f"{r.code} is at version {r.version}, you previewed version "
            f"{seen_versions.get(r.code)} (saved by {r.updated_by or 'someone'} at "
            f"{r.updated_at:%Y-%m-%d %H:%M})"
            for r in changed
        )
        raise Conflict(
            f"The grids changed since your preview: {detail}. Preview your edit "
            "again and save that.",
            grids=[r.code for r in changed],
        )


def commit_previewed(
    engine: Engine,
    user: User,
    preview: EditPreview,
    *,
    seen_versions: dict[str, int],
    reason: str,
) -> str:
    """Commit ``preview`` if the grids are still at the versions the user saw.

    The user previewed the edit in an earlier request; ``seen_versions`` (grid
    code to version, from that preview) proves what they saw. A grid changed
    since raises Conflict naming it, before anything is written.
    """
    now = preview.to_dict()["versions"]
    changed = {
        code: (seen_versions.get(code), version)
        for code, version in now.items()
        if seen_versions.get(code) != version
    }
    if changed:
        detail = "; ".join(
            f"{code} is at version {new}, you previewed version {old}"
            for code, (old, new) in sorted(changed.items())
        )
        raise Conflict(
            f"The grids changed since your preview: {detail}. Someone else saved "
            "an edit: preview yours again and save that.",
            grids=sorted(changed),
        )
    return commit_edit(engine, preview, actor=user.username, reason=reason)


def preview_for_display(preview: EditPreview, crs: str) -> dict[str, Any]:
    """``preview.to_dict()`` with its shapes in the caller's coordinate system."""
    out = preview.to_dict()
    if parse_crs(crs) in ("wgs84", "cgcs2000") or not preview.new_shapes:
        return out
    codes = list(out["shapes"])
    shapes = [shapely.geometry.shape(out["shapes"][c]) for c in codes]
    moved = convert_geometries(np.array(shapes, dtype=object), "wgs84", crs)
    out["shapes"] = {
        c: shapely.geometry.mapping(s) for c, s in zip(codes, moved, strict=True)
    }
    return out


# --- grid design for a branch --------------------------------------------------------


@dataclass
class DesignComparison:
    """A proposal for a branch beside the branch's grids today."""

    branch: str
    branch_name: str
    current: gpd.GeoDataFrame
    proposal: Proposal
    summary: dict[str, Any]


def design_for_branch(
    engine: Engine,
    user: User,
    branch_code: str,
    *,
    k: int | None = None,
    seed: int = 0,
    starts: int | None = 4,
) -> DesignComparison:
    """Propose ``k`` grids (default: as many as today) for a branch, read-only.

    The proposal changes nothing in the store; it comes with the current
    grids and their figures so the two can be compared side by side.
    """
    from geogrid.grids.design import design_grids

    villages, current = branch_villages(engine, user, branch_code)
    k = len(current) if k is None else int(k)
    if not 1 <= k <= len(villages):
        raise InvalidInput(
            f"k must be between 1 and the branch's {len(villages)} villages; "
            f"received {k}.",
            parameter="k",
        )
    mapping = villages.dropna(subset=["grid"]).set_index("code")["grid"].to_dict()
    proposal = design_grids(
        villages[["code", "name", "households", "geometry"]],
        k,
        seed=seed,
        current=mapping or None,
        households=None,
        starts=starts,
    )
    with engine.connect() as conn:
        _, branch_name = branch_in_scope(conn, user, branch_code)
    summary = proposal.summary()
    summary["current_k"] = len(current)
    summary["current_max_deviation"] = round(
        float((current["ratio"] - 1).abs().max()), 4
    )
    return DesignComparison(branch_code, branch_name, current, proposal, summary)


def adopt_design(
    engine: Engine,
    user: User,
    design: DesignComparison,
    *,
    seen_versions: dict[str, int],
    reason: str,
) -> dict[str, Any]:
    """Adopt a proposal made for a branch, as new versions of its grids.

    The user must be able to change the branch's grids; the proposal must
    have as many grids as the branch has today (posts and targets stay with
    the grid codes); ``seen_versions`` are the grid versions the proposal was
    compared with, and a grid saved since raises Conflict.
    """
    from geogrid.grids.generate import adopt

    with engine.connect() as conn:
        branch_id, _ = branch_in_scope(conn, user, design.branch)
    check_can_edit(user, branch_id)
    proposed = set(design.proposal.grids["grid"].astype(str))
    today = set(design.current["code"].astype(str))
    if proposed != today:
        raise InvalidInput(
            f"This proposal has {len(proposed)} grids and branch {design.branch} "
            f"has {len(today)}; only a proposal with the same number of grids "
            "can be adopted (its grids keep today's codes, posts and targets). "
            "Generate one with the number of grids left empty.",
            parameter="k",
        )
    changeset = adopt(
        engine,
        design.branch,
        design.proposal,
        actor=user.username,
        reason=reason,
        expected_versions=seen_versions,
    )
    with engine.connect() as conn:
        moved = conn.execute(
            text(
                "SELECT (detail->>'households_moved')::int FROM audit_log "
                "WHERE action = 'grid_edit' AND detail->>'changeset' = :c"
            ),
            {"c": changeset},
        ).scalar_one()
    return {"changeset": changeset, "branch": design.branch, "households_moved": moved}


# --- coverage as a user ------------------------------------------------------

# what the planner's map shows, and the columns each layer carries to the browser
COVERAGE_MAP_LAYERS: dict[str, tuple[str, ...]] = {
    "hexes": (
        "h3",
        "households",
        "customer_households",
        "penetration",
        "cold_spot",
        "grid_code",
        "why",
    ),
    "cold_spots": (
        "h3",
        "households",
        "customer_households",
        "penetration",
        "gi_z",
        "p_value",
        "grid_code",
        "why",
    ),
    "unvisited_villages": (
        "village_code",
        "village_name",
        "households",
        "unvisited_households",
        "unvisited_share",
        "grid_code",
        "manager_username",
    ),
    "leakage_villages": (
        "village_code",
        "village_name",
        "households",
        "leaking_households",
        "deposit_other_share",
        "loan_other_share",
        "grid_code",
        "manager_username",
    ),
    "ungridded_areas": ("gap_id", "area_m2"),
    "ungridded_households": ("household_no", "village_name", "nearest_branch"),
    "blind_spots": (
        "rank",
        "score",
        "blind_spot_reason",
        "village_code",
        "village_name",
        "h3",
        "grid_code",
        "grid_name",
        "manager_username",
        "manager_name",
        "households",
        "uncovered_households",
        "penetration",
        "reference_penetration",
        "penetration_threshold",
        "low_penetration",
        "cold_spot",
        "gi_z",
        "p_value",
        "p_cutoff",
        "gap_households",
        "uncovered_other_yuan",
        "branch_distance_m",
        "why",
    ),
}
# the layers of the downloadable report
COVERAGE_REPORT_LAYERS = (
    "blind_spots",
    "cold_spots",
    "village_cold_spots",
    "villages",
    "grids",
    "unvisited_villages",
    "leakage_villages",
    "ungridded_areas",
    "ungridded_households",
)
# columns no planner receives (customers' addresses; staff names)
_PLANNER_HIDDEN = ("address", "manager_name")


def coverage_scope(user: User) -> dict[str, Any]:
    """``load_inputs`` filter for the user: everything, or the branch head's branch."""
    require_role(
        user, (HEAD_OFFICE, BRANCH_HEAD, PLANNER), "open the blind-spot report"
    )
    if user.role == BRANCH_HEAD:
        return {"branch_id": user.branch_id}
    return {}


def coverage_for(
    engine: Engine, user: User, params: CoverageParameters | None = None
) -> CoverageReport:
    """The coverage report over what the user may see (all, or their branch)."""
    from geogrid.coverage import coverage_report, load_inputs

    scope = coverage_scope(user)
    branch = None
    if "branch_id" in scope:
        with engine.connect() as conn:
            branch = conn.execute(
                text("SELECT code FROM branch WHERE id = :b"), {"b": scope["branch_id"]}
            ).scalar_one()
    inputs = load_inputs(engine, branch=branch)
    return coverage_report(inputs, params)


def coverage_layer(
    report: CoverageReport,
    user: User,
    name: str,
    *,
    bbox: Bbox | None = None,
    crs: str = "wgs84",
    full: bool = False,
) -> gpd.GeoDataFrame:
    """One coverage layer as the user may see it, cut to ``bbox``.

    With ``full`` False only the columns the map shows travel (see
    `COVERAGE_MAP_LAYERS`); planners never get addresses or staff names.
    """
    coverage_scope(user)
    allowed = set(COVERAGE_MAP_LAYERS) | set(COVERAGE_REPORT_LAYERS)
    if name not in allowed:
        raise InvalidInput(
            f"Unknown blind-spot layer {name!r}; choose one of "
            f"{', '.join(sorted(allowed))}.",
            parameter="layer",
        )
    gdf = report.layer(name)
    if not full and name in COVERAGE_MAP_LAYERS:
        keep = [c for c in COVERAGE_MAP_LAYERS[name] if c in gdf.columns]
        gdf = gdf[[*keep, "geometry"]]
    if user.role == PLANNER:
        gdf = gdf.drop(columns=[c for c in _PLANNER_HIDDEN if c in gdf.columns])
    if bbox is not None and len(gdf):
        west, south, east, north = bbox_to_wgs84(check_bbox(bbox), crs)
        gdf = gdf[gdf.intersects(shapely.box(west, south, east, north))]
    return to_display(gpd.GeoDataFrame(gdf, crs=4326), crs)


def record_export(
    engine: Engine, user: User, what: str, file_format: str, rows: int, **detail: Any
) -> None:
    """Write an export by the viewer to the audit log."""
    with engine.begin() as conn:
        audit.record(
            conn,
            "export",
            actor=user.username,
            object_type=what,
            object_id=file_format,
            rows=rows,
            **detail,
        )
    log.info("Exported %d rows of %s as %s", rows, what, file_format)

"""Which grid each household is in: exactly one, by a documented border rule.

The rule: a household belongs to the second-level grid that covers its point
(boundary included). A point on a border shared by several grids belongs to
the one whose code sorts first. A point covered by no grid is *ungridded*.

Two ways to compute it, with the same answer:

- in memory (``assign_points``), over a whole layer: villages lying wholly in
  one grid are resolved by a dictionary lookup on the household's village
  code; only households of split villages, or without a village code, are
  tested point in polygon with an STRtree;
- in PostGIS (``reassign_households``), for the households an edit touches,
  with the GiST index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

log = logging.getLogger(__name__)

UNGRIDDED = -1


def point_in_grids(
    lon: np.ndarray,
    lat: np.ndarray,
    geoms: Sequence[shapely.Geometry] | np.ndarray,
    ids: Sequence[int] | np.ndarray,
    codes: Sequence[str] | np.ndarray,
) -> np.ndarray:
    """Grid id of each point by the border rule (``UNGRIDDED`` when none)."""
    geoms = np.asarray(geoms, dtype=object)
    ids = np.asarray(ids)
    # rank grids by code so that the lowest rank wins on shared borders
    rank = np.argsort(np.argsort(np.asarray(codes, dtype=object)))
    tree = shapely.STRtree(geoms)
    points = np.asarray(shapely.points(lon, lat), dtype=object)
    point_idx, grid_idx = tree.query(points, predicate="intersects")

    out = np.full(len(points), UNGRIDDED, dtype=np.int64)
    if len(point_idx):
        # keep, per point, the candidate with the lowest code rank
        order = np.lexsort((rank[grid_idx], point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        out[point_idx[first]] = ids[grid_idx[first]]
    return out


def assign_points(
    lon: np.ndarray,
    lat: np.ndarray,
    village_codes: pd.Series | np.ndarray | None,
    grids: pd.DataFrame,
    whole_villages: Mapping[str, int] | None = None,
) -> np.ndarray:
    """Grid id of each household, using whole-village membership where it is known.

    Parameters
    ----------
    lon, lat
        Household coordinates (WGS84).
    village_codes
        Each household's village code (or None).
    grids
        Second-level grids: columns id, code, geometry.
    whole_villages
        Village code -> grid id, for villages lying wholly inside one grid
        (as the ``grid_village`` table records them).
    """
    started = time.perf_counter()
    out = np.full(len(lon), UNGRIDDED, dtype=np.int64)
    todo = np.ones(len(lon), dtype=bool)
    if whole_villages and village_codes is not None:
        # categorical codes index straight into an array of grid ids
        categories = pd.Index(list(whole_villages))
        grid_of = np.fromiter(whole_villages.values(), dtype=np.int64)
        position = categories.get_indexer(
            pd.Index(np.asarray(village_codes, dtype=object))
        )
        known = position >= 0
        out[known] = grid_of[position[known]]
        todo = ~known
    if todo.any():
        out[todo] = point_in_grids(
            np.asarray(lon)[todo],
            np.asarray(lat)[todo],
            grids["geometry"].to_numpy(),
            grids["id"].to_numpy(),
            grids["code"].to_numpy(),
        )
    log.info(
        "Assigned %d households to %d grids in %.2f s (%d by point in polygon)",
        len(lon),
        len(grids),
        time.perf_counter() - started,
        int(todo.sum()),
    )
    return out


# the border rule in SQL: the covering grid whose code sorts first
ASSIGN_SQL = """
    SELECT DISTINCT ON (h.id) h.id AS household_id, g.id AS grid_id
    FROM household h
    JOIN grid g ON g.level = 2 AND ST_Intersects(g.geom, h.geom)
    WHERE {where}
    ORDER BY h.id, g.code
"""


def reassign_households(
    conn: Connection, area_wkb: bytes | None = None, branch_id: int | None = None
) -> int:
    """Recompute ``household.grid_id`` by the border rule; return rows changed.

    Limited to households inside ``area_wkb`` (WGS84 WKB) and/or the grids of
    ``branch_id``; the whole store when both are None.
    """
    conditions = ["h.geom IS NOT NULL"]
    params: dict[str, object] = {}
    if area_wkb is not None:
        conditions.append("ST_Intersects(h.geom, ST_GeomFromWKB(:area, 4326))")
        params["area"] = area_wkb
    if branch_id is not None:
        conditions.append(
            "ST_Intersects(h.geom, (SELECT geom FROM grid WHERE level = 1 "
            "AND branch_id = :branch))"
        )
        params["branch"] = branch_id
    where = " AND ".join(conditions)
    sql = f"""
        WITH target AS ({ASSIGN_SQL.format(where=where)}),
        scope AS (SELECT h.id FROM household h WHERE {where})
        UPDATE household h
        SET grid_id = t.grid_id, updated_at = now()
        FROM scope s LEFT JOIN target t ON t.household_id = s.id
        WHERE h.id = s.id AND h.grid_id IS DISTINCT FROM t.grid_id
    """
    return int(conn.execute(text(sql), params).rowcount)

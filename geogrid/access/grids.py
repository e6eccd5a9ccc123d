"""One grid as a user: its profile, history and shape, and edits to it.

Every read checks that the user sees the grid; every edit checks that the
user may change the grids and villages it touches before the core runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, text

from geogrid.access._query import read_geoms
from geogrid.access.display import to_display
from geogrid.access.rules import (
    GridRef,
    branch_in_scope,
    check_can_edit,
    grid_in_scope,
    personal_view,
    shape_person,
)
from geogrid.auth import BRANCH_HEAD, HEAD_OFFICE, User
from geogrid.crs import convert_geometries, parse_crs
from geogrid.errors import Conflict, InvalidInput
from geogrid.grids.edit import (
    EditPreview,
    commit_edit,
    history,
    preview_move_villages,
    preview_replace_polygon,
    preview_rollback,
)
from geogrid.grids.fixed import grid_profile


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
        gdf = read_geoms(
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


# --- edits ---------------------------------------------------------------------

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

"""Grid design for a branch as a user: its villages, a proposal, and adopting it.

Designing is open to head office, branch heads and planners for the branches
they see; adopting a proposal needs the right to change the branch's grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely
from sqlalchemy import Engine, text

from geogrid.access._query import read_geoms
from geogrid.access.rules import branch_in_scope, check_can_edit, require_role
from geogrid.auth import BRANCH_HEAD, HEAD_OFFICE, PLANNER, User
from geogrid.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from geogrid.grids.design import Proposal


def check_design_access(engine: Engine, user: User, branch_code: str) -> None:
    """Raise unless the user may design grids for this branch."""
    require_role(user, (HEAD_OFFICE, BRANCH_HEAD, PLANNER), "design grids")
    with engine.connect() as conn:
        branch_in_scope(conn, user, branch_code)


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
        villages = read_geoms(conn, _BRANCH_VILLAGES_SQL, {"b": branch_id})
        grids = read_geoms(
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

"""Grid proposals for a branch from the store, and adopting one.

Reads the branch's villages with their workload (households, existing and
potential customers, area) and current grids, runs ``design_grids``, and can
write the proposal back as new versions of the branch's grids.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence

import geopandas as gpd
import shapely
from sqlalchemy import Connection, Engine, text

from geogrid import audit
from geogrid.errors import Conflict, InvalidInput, InvariantViolation, NotFound
from geogrid.grids.assign import reassign_households
from geogrid.grids.design import Proposal, design_grids
from geogrid.grids.edit import _refresh_grid_villages, load_branch
from geogrid.grids.shapes import as_multipolygon, tiling_problems

log = logging.getLogger(__name__)

WORKLOAD_COLUMNS = ("households", "customers", "potentials", "area_km2")


def branch_villages(engine: Engine, branch: str) -> tuple[int, gpd.GeoDataFrame]:
    """(branch id, the branch's villages with workload and current grid)."""
    with engine.connect() as conn:
        branch_id = conn.execute(
            text("SELECT id FROM branch WHERE code = :c"), {"c": branch}
        ).scalar()
        if branch_id is None:
            codes = conn.execute(
                text("SELECT code FROM branch ORDER BY code")
            ).scalars()
            raise NotFound(
                f"Branch {branch!r} does not exist; branches are {', '.join(codes)}."
            )
        villages = gpd.read_postgis(
            text(
                """
                SELECT v.code, v.name, v.geom,
                       coalesce(h.households, 0) AS households,
                       coalesce(h.customers, 0) AS customers,
                       coalesce(h.households, 0) - coalesce(h.customers, 0)
                         AS potentials,
                       ST_Area(v.geom::geography) / 1e6 AS area_km2,
                       g.code AS current_grid
                FROM admin_unit v
                JOIN grid l1 ON l1.level = 1 AND l1.branch_id = :b
                     AND ST_Intersects(l1.geom, ST_PointOnSurface(v.geom))
                LEFT JOIN grid_village gv ON gv.village_code = v.code
                LEFT JOIN grid g ON g.id = gv.grid_id
                LEFT JOIN (
                    SELECT h.village_code, count(*) AS households,
                           count(*) FILTER (WHERE EXISTS (
                               SELECT 1 FROM person p WHERE p.household_id = h.id
                               AND p.status = 'customer')) AS customers
                    FROM household h GROUP BY h.village_code
                ) h ON h.village_code = v.code
                WHERE v.level = 'village'
                ORDER BY v.code
                """
            ),
            conn,
            params={"b": branch_id},
            geom_col="geom",
        )
    return int(branch_id), villages.rename_geometry("geometry")


def propose(
    engine: Engine,
    branch: str,
    managers: int | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    lock_grids: Sequence[str] = (),
    lock_villages: Sequence[str] = (),
    seed: int = 0,
) -> Proposal:
    """Propose second-level grids for ``branch``, one per account manager.

    ``managers`` defaults to the branch's current number of grids. Villages
    of ``lock_grids`` and the villages in ``lock_villages`` keep their
    current grid.
    """
    _, villages = branch_villages(engine, branch)
    if villages.empty:
        raise InvalidInput(f"Branch {branch} has no villages inside its jurisdiction.")
    current = {
        code: grid
        for code, grid in zip(villages["code"], villages["current_grid"], strict=True)
        if grid
    }
    k = managers or len(set(current.values()))
    locked = {
        code: grid
        for code, grid in current.items()
        if grid in set(lock_grids) or code in set(lock_villages)
    }
    unknown = sorted(set(lock_villages) - set(villages["code"]))
    if unknown:
        raise InvalidInput(
            f"Locked villages {', '.join(unknown)} are not in branch {branch}."
        )
    return design_grids(
        villages,
        k,
        weights=weights,
        locked=locked or None,
        seed=seed,
        current=current or None,
    )


def adopt(
    engine: Engine,
    branch: str,
    proposal: Proposal,
    *,
    actor: str,
    reason: str,
    expected_versions: dict[str, int] | None = None,
) -> str:
    """Write a proposal as new versions of the branch's grids; return the changeset.

    The proposal must have as many grids as the branch has, named after them
    (as ``propose`` names them when the branch has grids); posts, liaison
    officers and targets stay with their grid codes. With
    ``expected_versions`` (grid code to version, as the proposal was made
    against), the grids are locked and a grid saved since by someone else
    raises Conflict and changes nothing.
    """
    if not reason.strip():
        raise InvalidInput(
            "Adopting a proposal needs a reason (it is kept with every grid's "
            "new version); give one."
        )
    branch_id, _ = branch_villages(engine, branch)
    changeset = str(uuid.uuid4())
    with engine.begin() as conn:
        if expected_versions is not None:
            _check_versions(conn, branch_id, expected_versions)
        current = load_branch(conn, branch_id)
        codes = {code: gid for gid, code in current.codes.items()}
        labels = set(proposal.grids["grid"].astype(str))
        if labels != set(codes):
            raise InvalidInput(
                f"The proposal has grids {', '.join(sorted(labels))} but branch "
                f"{branch} has {', '.join(sorted(codes))}; adopt a proposal with "
                "one grid per current grid (same count), or create the grids first."
            )
        for row in proposal.grids.itertuples():
            gid = codes[str(row.grid)]
            shape = as_multipolygon(
                shapely.make_valid(row.geometry).intersection(current.parent)
            )
            version = current.versions[gid] + 1
            params = {"g": shapely.to_wkb(shape), "v": version, "a": actor, "id": gid}
            conn.execute(
                text(
                    "UPDATE grid SET geom = ST_Multi(ST_GeomFromWKB(:g, 4326)), "
                    "version = :v, updated_by = :a, updated_at = now() WHERE id = :id"
                ),
                params,
            )
            conn.execute(
                text(
                    "INSERT INTO grid_version (grid_id, version, geom, operation, "
                    "reason, changed_by, changeset) VALUES (:id, :v, "
                    "ST_Multi(ST_GeomFromWKB(:g, 4326)), 'adopt_proposal', :r, :a, :c)"
                ),
                {**params, "r": reason, "c": changeset},
            )
        after = load_branch(conn, branch_id)
        problems = tiling_problems(after.shapes, after.parent)
        if problems:
            raise InvariantViolation(
                f"The proposal does not tile branch {branch} "
                f"({problems[0].kind} of {problems[0].area_m2:,.0f} m²); nothing "
                "was changed."
            )
        moved = reassign_households(conn, branch_id=branch_id)
        _refresh_grid_villages(conn, branch_id)
        audit.record(
            conn,
            "grid_edit",
            actor=actor,
            object_type="branch",
            object_id=branch,
            operation="adopt_proposal",
            changeset=changeset,
            reason=reason,
            households_moved=moved,
            max_deviation=round(proposal.max_deviation, 4),
        )
    log.info("Adopted a proposal for branch %s: %d households moved", branch, moved)
    return changeset


def _check_versions(conn: Connection, branch_id: int, expected: dict[str, int]) -> None:
    """Lock the branch's grids; Conflict when one is not at the expected version."""
    rows = conn.execute(
        text(
            "SELECT code, version, updated_by, updated_at FROM grid "
            "WHERE branch_id = :b AND level = 2 ORDER BY id FOR UPDATE"
        ),
        {"b": branch_id},
    ).all()
    changed = [r for r in rows if expected.get(r.code) != r.version]
    if changed:
        detail = "; ".join(
            f"{r.code} is at version {r.version}, the proposal was made against "
            f"version {expected.get(r.code)} (saved by {r.updated_by or 'someone'} "
            f"at {r.updated_at:%Y-%m-%d %H:%M})"
            for r in changed
        )
        raise Conflict(
            f"The branch's grids changed since the proposal was made: {detail}. "
            "Generate the proposal again and adopt that.",
            grids=[r.code for r in changed],
        )

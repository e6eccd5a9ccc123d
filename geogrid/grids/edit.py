"""Safe grid edits: preview what changes, commit in one versioned transaction.

Two edits, both previewed before they are committed:

- ``preview_move_villages``: whole villages move to another grid;
- ``preview_replace_polygon``: a grid gets a newly drawn shape (repaired,
  clipped to the branch, snapped to its neighbours, taken out of the
  neighbours it overlaps; area it leaves is given to the neighbour sharing the
  longest border, or refused).

Rolling a grid back to an earlier version is a polygon replacement with the
shape that version had, so it goes through the same checks.

A preview records the version of every grid it touches; ``commit_edit``
refuses with ``Conflict`` when one of them changed since.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from geogrid import audit
from geogrid.errors import Conflict, InvalidInput, InvariantViolation, NotFound
from geogrid.grids.assign import UNGRIDDED, point_in_grids
from geogrid.grids.shapes import (
    AreaChange,
    as_multipolygon,
    give_area,
    repair,
    tiling_problems,
)

log = logging.getLogger(__name__)


@dataclass
class BranchGrids:
    """A branch's first-level grid and its second-level grids, as stored."""

    branch_id: int
    parent: BaseGeometry
    ids: list[int]
    codes: dict[int, str]
    shapes: dict[int, BaseGeometry]
    versions: dict[int, int]

    def id_of(self, code: str) -> int:
        for gid, c in self.codes.items():
            if c == code:
                return gid
        raise NotFound(f"Grid {code} is not a second-level grid of this branch.")


@dataclass
class EditPreview:
    """What an edit would change; commit it with ``commit_edit``."""

    operation: str
    branch_id: int
    target: int
    codes: dict[int, str]
    versions: dict[int, int]
    old_shapes: dict[int, Any]
    new_shapes: dict[int, Any]
    moves: pd.DataFrame
    workload: pd.DataFrame
    posts: pd.DataFrame
    targets: pd.DataFrame
    gap_m2: float = 0.0
    gap_given_to: dict[int, float] = field(default_factory=dict)
    slivers_merged: int = 0
    warnings: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: float = 0.0

    @property
    def changed(self) -> list[int]:
        """Grids whose shape changes."""
        return sorted(self.new_shapes)

    def move_summary(self) -> pd.DataFrame:
        """Households and customers moving, by (from grid, to grid)."""
        if self.moves.empty:
            return pd.DataFrame(columns=["from", "to", "households", "customers"])
        table = (
            self.moves.assign(
                **{
                    "from": self.moves["from_grid"].map(self._code),
                    "to": self.moves["to_grid"].map(self._code),
                }
            )
            .groupby(["from", "to"], dropna=False)
            .agg(households=("household_id", "size"), customers=("is_customer", "sum"))
            .reset_index()
        )
        return table

    def _code(self, gid: Any) -> str:
        if gid is None or pd.isna(gid) or int(gid) == UNGRIDDED:
            return "(none)"
        return self.codes.get(int(gid), str(gid))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: shapes as GeoJSON, tables as records."""
        return {
            "operation": self.operation,
            "branch_id": self.branch_id,
            "target": self.codes[self.target],
            "versions": {self.codes[g]: v for g, v in self.versions.items()},
            "shapes": {
                self.codes[g]: shapely.geometry.mapping(s)
                for g, s in self.new_shapes.items()
            },
            "moves": self.move_summary().to_dict("records"),
            "households_moving": len(self.moves),
            "workload": self.workload.to_dict("records"),
            "posts": self.posts.to_dict("records"),
            "targets": self.targets.to_dict("records"),
            "gap_m2": round(self.gap_m2, 1),
            "gap_given_to": {
                self.codes[g]: round(a, 1) for g, a in self.gap_given_to.items()
            },
            "slivers_merged": self.slivers_merged,
            "warnings": self.warnings,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


# -- reading -----------------------------------------------------------------------


def _wkb(geom: Any) -> BaseGeometry:
    return shapely.from_wkb(bytes(geom))


def load_branch(conn: Connection, branch_id: int) -> BranchGrids:
    """The branch's grids as stored now."""
    parent_row = conn.execute(
        text("SELECT ST_AsBinary(geom) FROM grid WHERE level = 1 AND branch_id = :b"),
        {"b": branch_id},
    ).first()
    if parent_row is None:
        raise NotFound(f"Branch {branch_id} has no first-level grid.")
    rows = conn.execute(
        text(
            "SELECT id, code, version, ST_AsBinary(geom) FROM grid "
            "WHERE level = 2 AND branch_id = :b ORDER BY code"
        ),
        {"b": branch_id},
    ).all()
    return BranchGrids(
        branch_id=branch_id,
        parent=_wkb(parent_row[0]),
        ids=[r[0] for r in rows],
        codes={r[0]: r[1] for r in rows},
        shapes={r[0]: _wkb(r[3]) for r in rows},
        versions={r[0]: r[2] for r in rows},
    )


def grid_by_code(conn: Connection, code: str) -> tuple[int, int, int]:
    """(grid id, branch id, level) of a grid code."""
    row = conn.execute(
        text("SELECT id, branch_id, level FROM grid WHERE code = :c"), {"c": code}
    ).first()
    if row is None:
        raise NotFound(
            f"Grid {code!r} does not exist; list grids with 'geogrid grids list'."
        )
    return int(row[0]), int(row[1]), int(row[2])


# -- previews ----------------------------------------------------------------------


def preview_move_villages(
    engine: Engine, village_codes: list[str], to_grid: str
) -> EditPreview:
    """Preview moving whole villages into grid ``to_grid``."""
    started = time.perf_counter()
    if not village_codes:
        raise InvalidInput("No village was given to move; pass at least one code.")
    with engine.connect() as conn:
        target, branch_id, level = grid_by_code(conn, to_grid)
        if level != 2:
            raise InvalidInput(
                f"Villages move between second-level grids; {to_grid} is a "
                "first-level grid (a branch jurisdiction)."
            )
        branch = load_branch(conn, branch_id)
        rows = conn.execute(
            text(
                "SELECT code, ST_AsBinary(geom) FROM admin_unit "
                "WHERE level = 'village' AND code = ANY(:codes)"
            ),
            {"codes": village_codes},
        ).all()
        missing = sorted(set(village_codes) - {r[0] for r in rows})
        if missing:
            raise NotFound(
                f"Village codes not in the store: {', '.join(missing)}. Check the "
                "codes (12 digits) or import the village boundaries."
            )
        area = shapely.union_all([_wkb(r[1]) for r in rows])
        outside = shapely.difference(area, branch.parent)
        if outside.area > 0.05 * area.area:
            raise InvalidInput(
                f"Villages {', '.join(village_codes)} lie (partly) outside the "
                f"branch of grid {to_grid}; a grid edit stays within one branch."
            )
        change = give_area(branch.shapes, branch.parent, target, area)
        preview = _build_preview(conn, "move_villages", branch, target, change, started)
    preview.detail["villages"] = list(village_codes)
    return preview


def preview_replace_polygon(
    engine: Engine,
    grid: str,
    polygon: BaseGeometry,
    *,
    gap_policy: str = "give",
    operation: str = "replace_polygon",
) -> EditPreview:
    """Preview giving grid ``grid`` the newly drawn ``polygon`` (WGS84)."""
    started = time.perf_counter()
    if gap_policy not in ("give", "refuse"):
        raise InvalidInput(
            f"gap_policy must be 'give' or 'refuse'; got {gap_policy!r}."
        )
    drawn = repair(polygon)
    with engine.connect() as conn:
        target, branch_id, level = grid_by_code(conn, grid)
        if level != 2:
            raise InvalidInput(
                f"Only second-level grids are redrawn here; {grid} is a branch "
                "jurisdiction."
            )
        branch = load_branch(conn, branch_id)
        change = give_area(
            branch.shapes,
            branch.parent,
            target,
            drawn,
            new_target_shape=True,
            gap_policy=gap_policy,
        )
        preview = _build_preview(conn, operation, branch, target, change, started)
    if not polygon.is_valid:
        preview.warnings.append(
            "The drawn polygon was invalid (it crossed itself) and was repaired."
        )
    return preview


def preview_rollback(engine: Engine, grid: str, version: int) -> EditPreview:
    """Preview restoring grid ``grid`` to the shape it had at ``version``."""
    with engine.connect() as conn:
        gid, _, _ = grid_by_code(conn, grid)
        row = conn.execute(
            text(
                "SELECT ST_AsBinary(geom) FROM grid_version "
                "WHERE grid_id = :g AND version = :v"
            ),
            {"g": gid, "v": version},
        ).first()
    if row is None:
        raise NotFound(
            f"Grid {grid} has no version {version}; see 'geogrid grids history "
            f"{grid}' for its versions."
        )
    preview = preview_replace_polygon(engine, grid, _wkb(row[0]), operation="rollback")
    preview.detail["rollback_to"] = version
    return preview


def _unchanged_message(branch: BranchGrids, target: int, change: AreaChange) -> str:
    """Why an edit changes no grid, and what the user can do instead."""
    code = branch.codes[target]
    returned = (change.gap_given_to or {}).get(target, 0.0)
    if returned > 0:
        return (
            f"This edit changes no grid: the {returned:,.0f} m² taken out of "
            f"{code} touches no other grid, so it would go straight back to "
            f"{code} (every place must stay in one grid). To hand an area to a "
            "neighbour, reshape the neighbour to take it in, or move its villages."
        )
    return (
        f"This edit changes no grid: {code} already has this shape (or already "
        "holds this area). Draw the new shape, or pick another grid."
    )


def _build_preview(
    conn: Connection,
    operation: str,
    branch: BranchGrids,
    target: int,
    change: AreaChange,
    started: float,
) -> EditPreview:
    changed = {
        gid: shape
        for gid, shape in change.shapes.items()
        if not shapely.equals_exact(
            as_multipolygon(shape).normalize(),
            as_multipolygon(branch.shapes[gid]).normalize(),
            1e-12,
        )
    }
    if not changed:
        raise InvalidInput(_unchanged_message(branch, target, change))
    new_all = {**branch.shapes, **changed}
    problems = tiling_problems(new_all, branch.parent)
    if problems:
        worst = max(problems, key=lambda p: p.area_m2)
        raise InvariantViolation(
            f"The edit would leave a {worst.kind} of {worst.area_m2:,.0f} m² among "
            "the branch's grids; it was not applied. Draw the shape again.",
            problems=[(p.kind, round(p.area_m2, 1)) for p in problems],
        )

    moves = _moving_households(conn, branch, changed)
    workload = _workload(conn, branch, set(changed) | {target}, moves)
    affected = sorted(set(changed) | {target})
    preview = EditPreview(
        operation=operation,
        branch_id=branch.branch_id,
        target=target,
        codes=branch.codes,
        versions={g: branch.versions[g] for g in affected},
        old_shapes={g: branch.shapes[g] for g in changed},
        new_shapes=changed,
        moves=moves,
        workload=workload,
        posts=_posts(conn, affected, branch.codes),
        targets=_targets(conn, affected, branch.codes),
        gap_m2=change.gap_m2,
        gap_given_to=change.gap_given_to or {},
        slivers_merged=change.slivers_merged,
    )
    for gid, shape in changed.items():
        if len(as_multipolygon(shape).geoms) > 1:
            preview.warnings.append(
                f"Grid {branch.codes[gid]} would be in "
                f"{len(as_multipolygon(shape).geoms)} separate parts."
            )
        if shape.is_empty:
            preview.warnings.append(
                f"Grid {branch.codes[gid]} would be left with no area; its posts "
                "and targets would cover nothing."
            )
    preview.elapsed_ms = (time.perf_counter() - started) * 1000
    return preview


def _moving_households(
    conn: Connection, branch: BranchGrids, changed: Mapping[int, BaseGeometry]
) -> pd.DataFrame:
    """Households in the changed area whose grid would change."""
    area = shapely.union_all(
        [shapely.symmetric_difference(branch.shapes[g], s) for g, s in changed.items()]
    )
    rows = conn.execute(
        text(
            """
            SELECT h.id, h.household_no, h.grid_id, ST_X(h.geom), ST_Y(h.geom),
                   EXISTS (SELECT 1 FROM person p WHERE p.household_id = h.id
                           AND p.status = 'customer') AS is_customer
            FROM household h
            WHERE h.geom IS NOT NULL
              AND ST_Intersects(h.geom, ST_GeomFromWKB(:area, 4326))
            """
        ),
        {"area": shapely.to_wkb(area)},
    ).all()
    columns = ["household_id", "household_no", "from_grid", "lon", "lat", "is_customer"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame.assign(to_grid=pd.Series(dtype="Int64"))

    new_all = {**branch.shapes, **changed}
    ids = list(new_all)
    frame["to_grid"] = point_in_grids(
        frame["lon"].to_numpy(float),
        frame["lat"].to_numpy(float),
        [new_all[g] for g in ids],
        ids,
        [branch.codes[g] for g in ids],
    )
    frame["from_grid"] = frame["from_grid"].fillna(UNGRIDDED).astype(np.int64)
    return frame[frame["from_grid"] != frame["to_grid"]].reset_index(drop=True)


def _workload(
    conn: Connection, branch: BranchGrids, affected: set[int], moves: pd.DataFrame
) -> pd.DataFrame:
    """Households, customers and potentials per affected grid, before and after.

    Households are counted for every grid of the branch (for the ratio to the
    branch mean, an index-only scan); customers only for the affected grids.
    """
    counts: dict[int, int] = dict(
        conn.execute(
            text(
                "SELECT grid_id, count(*) FROM household "
                "WHERE grid_id = ANY(:ids) GROUP BY grid_id"
            ),
            {"ids": branch.ids},
        ).all()
    )
    customers: dict[int, int] = dict(
        conn.execute(
            text(
                """
                SELECT h.grid_id, count(*) FILTER (WHERE EXISTS (
                    SELECT 1 FROM person p WHERE p.household_id = h.id
                    AND p.status = 'customer'))
                FROM household h WHERE h.grid_id = ANY(:ids) GROUP BY h.grid_id
                """
            ),
            {"ids": sorted(affected)},
        ).all()
    )
    before = pd.DataFrame(
        {
            "households": [int(counts.get(g, 0)) for g in branch.ids],
            "customers": [int(customers.get(g, 0)) for g in branch.ids],
        },
        index=branch.ids,
    )
    after = before.copy()
    if not moves.empty:
        weight = moves["is_customer"].astype(int).to_numpy()
        for column, sign in (("from_grid", -1), ("to_grid", 1)):
            grids = moves[column].to_numpy()
            for gid in np.unique(grids):
                if gid in after.index:
                    hit = grids == gid
                    after.loc[gid, "households"] += sign * int(hit.sum())
                    after.loc[gid, "customers"] += sign * int(weight[hit].sum())

    mean_before = before["households"].mean() or 1.0
    mean_after = after["households"].mean() or 1.0
    table = pd.DataFrame(
        {
            "grid": [branch.codes[g] for g in branch.ids],
            "households_before": before["households"].to_numpy(),
            "households_after": after["households"].to_numpy(),
            "customers_before": before["customers"].to_numpy(),
            "customers_after": after["customers"].to_numpy(),
            "ratio_before": (before["households"] / mean_before).round(3).to_numpy(),
            "ratio_after": (after["households"] / mean_after).round(3).to_numpy(),
        },
        index=branch.ids,
    )
    table["potentials_before"] = table["households_before"] - table["customers_before"]
    table["potentials_after"] = table["households_after"] - table["customers_after"]
    return table.loc[sorted(affected)].reset_index(drop=True)


def _posts(conn: Connection, grids: list[int], codes: dict[int, str]) -> pd.DataFrame:
    rows = conn.execute(
        text(
            "SELECT p.grid_id, p.post, s.username, s.name FROM grid_post p "
            "JOIN staff s ON s.id = p.staff_id WHERE p.grid_id = ANY(:g) "
            "ORDER BY p.grid_id, p.post"
        ),
        {"g": grids},
    ).all()
    frame = pd.DataFrame(rows, columns=["grid_id", "post", "username", "name"])
    frame.insert(0, "grid", frame.pop("grid_id").map(codes))
    return frame


def _targets(conn: Connection, grids: list[int], codes: dict[int, str]) -> pd.DataFrame:
    rows = conn.execute(
        text(
            "SELECT grid_id, year, metric, target FROM grid_target "
            "WHERE grid_id = ANY(:g) AND year = extract(year FROM now())::int "
            "ORDER BY grid_id, metric"
        ),
        {"g": grids},
    ).all()
    frame = pd.DataFrame(rows, columns=["grid_id", "year", "metric", "target"])
    frame["target"] = frame["target"].astype(float)
    frame.insert(0, "grid", frame.pop("grid_id").map(codes))
    return frame


# -- commit ------------------------------------------------------------------------


def commit_edit(
    engine: Engine, preview: EditPreview, *, actor: str, reason: str
) -> str:
    """Apply a previewed edit in one transaction; return its changeset id.

    Raises ``Conflict`` when any grid the preview touched changed since, and
    ``InvariantViolation`` (rolling everything back) if the tiling or the
    one-grid-per-household rule would not hold afterwards.
    """
    if not reason or not reason.strip():
        raise InvalidInput("A grid edit needs a reason (who asked for it, and why).")
    changeset = str(uuid.uuid4())
    started = time.perf_counter()
    with engine.begin() as conn:
        _lock_and_check_versions(conn, preview)
        for gid, shape in preview.new_shapes.items():
            _save_shape(
                conn, gid, as_multipolygon(shape), preview, actor, reason, changeset
            )
        area = shapely.union_all(
            [
                shapely.symmetric_difference(preview.old_shapes[g], s)
                for g, s in preview.new_shapes.items()
            ]
        )
        from geogrid.grids.assign import reassign_households

        moved = reassign_households(conn, area_wkb=shapely.to_wkb(area))
        _refresh_grid_villages(conn, preview.branch_id)
        branch = load_branch(conn, preview.branch_id)
        problems = tiling_problems(branch.shapes, branch.parent)
        if problems:
            raise InvariantViolation(
                "After the edit the branch's grids would not tile it "
                f"({problems[0].kind} of {problems[0].area_m2:,.0f} m²); nothing "
                "was changed."
            )
        audit.record(
            conn,
            "grid_edit",
            actor=actor,
            object_type="grid",
            object_id=preview.codes[preview.target],
            operation=preview.operation,
            changeset=changeset,
            reason=reason,
            grids=[preview.codes[g] for g in preview.changed],
            households_moved=moved,
            **preview.detail,
        )
    log.info(
        "Committed %s on %d grids (%d households moved) in %.0f ms",
        preview.operation,
        len(preview.new_shapes),
        moved,
        (time.perf_counter() - started) * 1000,
    )
    return changeset


def _lock_and_check_versions(conn: Connection, preview: EditPreview) -> None:
    rows = conn.execute(
        text(
            "SELECT id, code, version, updated_by, updated_at FROM grid "
            "WHERE id = ANY(:ids) FOR UPDATE"
        ),
        {"ids": list(preview.versions)},
    ).all()
    for gid, code, version, by, at in rows:
        if version != preview.versions[gid]:
            raise Conflict(
                f"Grid {code} was changed by {by or 'someone'} at {at:%Y-%m-%d %H:%M} "
                f"(now version {version}, the preview saw {preview.versions[gid]}). "
                "Preview the edit again and commit that.",
                grid=code,
                version=version,
            )


def _save_shape(
    conn: Connection,
    gid: int,
    shape: BaseGeometry,
    preview: EditPreview,
    actor: str,
    reason: str,
    changeset: str,
) -> None:
    """New version of one grid; the version row keeps the shape it now has."""
    version = preview.versions[gid] + 1
    wkb = shapely.to_wkb(shape)
    conn.execute(
        text(
            "UPDATE grid SET geom = ST_Multi(ST_GeomFromWKB(:g, 4326)), "
            "version = :v, updated_by = :a, updated_at = now() WHERE id = :id"
        ),
        {"g": wkb, "v": version, "a": actor, "id": gid},
    )
    conn.execute(
        text(
            "INSERT INTO grid_version (grid_id, version, geom, operation, reason, "
            "changed_by, changeset) VALUES (:id, :v, "
            "ST_Multi(ST_GeomFromWKB(:g, 4326)), :op, :r, :a, :c)"
        ),
        {
            "id": gid,
            "v": version,
            "g": wkb,
            "op": preview.operation,
            "r": reason,
            "a": actor,
            "c": changeset,
        },
    )


def _refresh_grid_villages(conn: Connection, branch_id: int) -> None:
    """Record which villages lie (99.9%) inside one grid of the branch."""
    conn.execute(
        text(
            """
            DELETE FROM grid_village gv USING grid g
            WHERE g.id = gv.grid_id AND g.branch_id = :b AND NOT gv.locked
            """
        ),
        {"b": branch_id},
    )
    conn.execute(
        text(
            """
            INSERT INTO grid_village (village_code, grid_id, locked)
            SELECT v.code, g.id, false
            FROM admin_unit v JOIN grid g
              ON g.level = 2 AND g.branch_id = :b AND ST_Intersects(g.geom, v.geom)
            WHERE v.level = 'village'
              AND ST_Area(ST_Intersection(g.geom, v.geom)) >= 0.999 * ST_Area(v.geom)
            ON CONFLICT (village_code) DO NOTHING
            """
        ),
        {"b": branch_id},
    )


# -- history -----------------------------------------------------------------------


def history(engine: Engine, grid: str) -> pd.DataFrame:
    """Versions of a grid, newest first: who, when, why, and the operation."""
    with engine.connect() as conn:
        gid, _, _ = grid_by_code(conn, grid)
        rows = conn.execute(
            text(
                "SELECT version, operation, reason, changed_by, changed_at, changeset, "
                "ST_Area(geom::geography) / 1e6 AS area_km2 FROM grid_version "
                "WHERE grid_id = :g ORDER BY version DESC"
            ),
            {"g": gid},
        ).all()
    return pd.DataFrame(
        rows,
        columns=[
            "version",
            "operation",
            "reason",
            "changed_by",
            "changed_at",
            "changeset",
            "area_km2",
        ],
    )

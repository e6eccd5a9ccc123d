"""Verify the store's grid rules and list every violation.

- tiling: a branch's second-level grids tile its first-level grid, no overlap
  and no gap beyond ``TILING_TOLERANCE_M2`` (1 m²);
- assignment: every located household is in exactly one grid, the one the
  border rule names (see ``geogrid.grids.assign``);
- the "four fixed": every grid has an A post held by an account manager, two
  to five liaison officers, and targets for every metric of the current year.
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from sqlalchemy import Engine, text

from geogrid.grids.assign import ASSIGN_SQL
from geogrid.grids.edit import load_branch
from geogrid.grids.shapes import tiling_problems
from geogrid.store.models import TARGET_METRICS

log = logging.getLogger(__name__)

COLUMNS = ["rule", "branch", "grid", "count", "detail"]


def check_grids(engine: Engine, year: int | None = None) -> pd.DataFrame:
    """Every violation of the grid rules, one row each (empty when all hold)."""
    year = year or dt.date.today().year
    rows: list[dict[str, object]] = []
    rows += _tiling(engine)
    rows += _assignment(engine)
    rows += _four_fixed(engine, year)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    log.info("Checked grids: %d violations", len(frame))
    return frame


def _tiling(engine: Engine) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    with engine.connect() as conn:
        branches = conn.execute(
            text("SELECT b.id, b.code FROM branch b ORDER BY b.code")
        ).all()
        for branch_id, branch_code in branches:
            has_parent = conn.execute(
                text("SELECT 1 FROM grid WHERE level = 1 AND branch_id = :b"),
                {"b": branch_id},
            ).first()
            if not has_parent:
                out.append(_row("no first-level grid", branch_code, "", 1, ""))
                continue
            branch = load_branch(conn, branch_id)
            if not branch.shapes:
                out.append(_row("no second-level grids", branch_code, "", 1, ""))
                continue
            for problem in tiling_problems(branch.shapes, branch.parent):
                grids = ", ".join(branch.codes[g] for g in problem.grids)
                out.append(
                    _row(
                        f"tiling {problem.kind}",
                        branch_code,
                        grids,
                        1,
                        f"{problem.area_m2:,.0f} m²",
                    )
                )
    return out


def _assignment(engine: Engine) -> list[dict[str, object]]:
    sql = f"""
        WITH rule AS ({ASSIGN_SQL.format(where="h.geom IS NOT NULL")})
        SELECT
          count(*) FILTER (WHERE r.grid_id IS NULL) AS ungridded,
          count(*) FILTER (WHERE r.grid_id IS NOT NULL
                           AND h.grid_id IS DISTINCT FROM r.grid_id) AS misassigned,
          count(*) FILTER (WHERE h.geom IS NULL) AS unlocated
        FROM household h LEFT JOIN rule r ON r.household_id = h.id
    """
    with engine.connect() as conn:
        ungridded, misassigned, unlocated = conn.execute(text(sql)).one()
        overlapping = conn.execute(
            text(
                """
                SELECT count(*) FROM (
                  SELECT h.id FROM household h
                  JOIN grid g ON g.level = 2 AND ST_Intersects(g.geom, h.geom)
                  GROUP BY h.id HAVING count(*) > 1
                    AND bool_or(NOT ST_Intersects(ST_Boundary(g.geom), h.geom))
                ) x
                """
            )
        ).scalar_one()
    out = []
    if ungridded:
        out.append(
            _row(
                "household in no grid", "", "", ungridded, "located outside every grid"
            )
        )
    if misassigned:
        out.append(
            _row(
                "household grid out of date",
                "",
                "",
                misassigned,
                "stored grid differs from the grid covering it; run "
                "'geogrid grids assign'",
            )
        )
    if overlapping:
        out.append(
            _row(
                "household in two grids",
                "",
                "",
                overlapping,
                "inside (not on the border of) more than one grid",
            )
        )
    if unlocated:
        out.append(
            _row(
                "household not located", "", "", unlocated, "no coordinates; geocode it"
            )
        )
    return out


def _four_fixed(engine: Engine, year: int) -> list[dict[str, object]]:
    sql = text(
        """
        SELECT b.code AS branch, g.code AS grid,
          EXISTS (SELECT 1 FROM grid_post p JOIN staff s ON s.id = p.staff_id
                  WHERE p.grid_id = g.id AND p.post = 'A') AS has_a,
          (SELECT count(*) FROM grid_post p JOIN staff s ON s.id = p.staff_id
           WHERE p.grid_id = g.id AND s.role <> 'account_manager') AS non_managers,
          (SELECT count(*) FROM liaison_officer l WHERE l.grid_id = g.id) AS liaison,
          (SELECT count(DISTINCT metric) FROM grid_target t
           WHERE t.grid_id = g.id AND t.year = :year) AS metrics
        FROM grid g JOIN branch b ON b.id = g.branch_id
        WHERE g.level = 2 ORDER BY g.code
        """
    )
    with engine.connect() as conn:
        grids = conn.execute(sql, {"year": year}).mappings().all()
    out = []
    for g in grids:
        if not g["has_a"]:
            out.append(_row("no A post", g["branch"], g["grid"], 1, "fixed post"))
        if g["non_managers"]:
            out.append(
                _row(
                    "post held by a non account manager",
                    g["branch"],
                    g["grid"],
                    g["non_managers"],
                    "A and B posts are for account managers",
                )
            )
        if g["liaison"] < 2:
            out.append(
                _row(
                    "fewer than two liaison officers",
                    g["branch"],
                    g["grid"],
                    g["liaison"],
                    "fixed staff: two to five",
                )
            )
        elif g["liaison"] > 5:
            out.append(
                _row(
                    "more than five liaison officers",
                    g["branch"],
                    g["grid"],
                    g["liaison"],
                    "fixed staff: two to five",
                )
            )
        if g["metrics"] < len(TARGET_METRICS):
            out.append(
                _row(
                    f"no targets for {year}"
                    if g["metrics"] == 0
                    else f"targets incomplete for {year}",
                    g["branch"],
                    g["grid"],
                    len(TARGET_METRICS) - g["metrics"],
                    "fixed responsibility: " + ", ".join(TARGET_METRICS),
                )
            )
    return out


def _row(
    rule: str, branch: str, grid: str, count: int, detail: str
) -> dict[str, object]:
    return {
        "rule": rule,
        "branch": branch,
        "grid": grid,
        "count": int(count),
        "detail": detail,
    }

"""The "four fixed": posts, liaison officers, targets, and each grid's profile.

Fixed grid (the grid itself), fixed post (an A post and optionally a B post,
held by account managers; a manager may serve several grids), fixed staff
(two to five liaison officers), fixed responsibility (yearly targets per
metric, shown beside the grid's current figures).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geogrid import audit
from geogrid.errors import InvalidInput, NotFound
from geogrid.grids.edit import grid_by_code
from geogrid.store.models import LIAISON_KINDS, POSTS, TARGET_METRICS
from geogrid.validate import mobile_problems

MAX_LIAISON = 5


def _staff_id(conn: Connection, username: str) -> tuple[int, str]:
    row = conn.execute(
        text("SELECT id, role FROM staff WHERE username = :u"), {"u": username}
    ).first()
    if row is None:
        raise NotFound(f"No staff member with user name {username!r}.")
    return int(row[0]), str(row[1])


def set_post(
    engine: Engine, grid: str, post: str, username: str, *, actor: str
) -> None:
    """Give the A or B post of ``grid`` to account manager ``username``."""
    if post not in POSTS:
        raise InvalidInput(f"post must be 'A' or 'B'; got {post!r}.")
    with engine.begin() as conn:
        gid, _, level = grid_by_code(conn, grid)
        if level != 2:
            raise InvalidInput(
                f"Posts belong to second-level grids; {grid} is not one."
            )
        staff_id, role = _staff_id(conn, username)
        if role != "account_manager":
            raise InvalidInput(
                f"{username} is a {role}; A and B posts are held by account managers."
            )
        other = "B" if post == "A" else "A"
        same = conn.execute(
            text(
                "SELECT 1 FROM grid_post WHERE grid_id = :g AND post = :o "
                "AND staff_id = :s"
            ),
            {"g": gid, "o": other, "s": staff_id},
        ).first()
        if same:
            raise InvalidInput(
                f"{username} already holds the {other} post of {grid}; the A and B "
                "posts need two different managers."
            )
        conn.execute(
            text(
                "INSERT INTO grid_post (grid_id, staff_id, post) VALUES (:g, :s, :p) "
                "ON CONFLICT (grid_id, post) DO UPDATE SET staff_id = EXCLUDED.staff_id"
            ),
            {"g": gid, "s": staff_id, "p": post},
        )
        audit.record(
            conn,
            "set_post",
            actor=actor,
            object_type="grid",
            object_id=grid,
            post=post,
            username=username,
        )


def add_liaison(
    engine: Engine,
    grid: str,
    *,
    name: str,
    kind: str,
    phone: str | None,
    village_code: str | None = None,
    actor: str,
) -> int:
    """Attach a liaison officer to ``grid``; at most five per grid."""
    if kind not in LIAISON_KINDS:
        raise InvalidInput(
            f"kind must be one of {', '.join(LIAISON_KINDS)}; got {kind!r}."
        )
    if phone and mobile_problems(pd.Series([phone])).iloc[0]:
        raise InvalidInput(
            f"Phone {phone!r}: {mobile_problems(pd.Series([phone])).iloc[0]}."
        )
    if not name.strip():
        raise InvalidInput("A liaison officer needs a name.")
    with engine.begin() as conn:
        gid, _, _ = grid_by_code(conn, grid)
        count = conn.execute(
            text("SELECT count(*) FROM liaison_officer WHERE grid_id = :g"), {"g": gid}
        ).scalar_one()
        if count >= MAX_LIAISON:
            raise InvalidInput(
                f"Grid {grid} already has {count} liaison officers; the rule is two "
                "to five. Remove one first."
            )
        new_id = conn.execute(
            text(
                "INSERT INTO liaison_officer "
                "(grid_id, name, kind, phone, village_code) "
                "VALUES (:g, :n, :k, :p, :v) RETURNING id"
            ),
            {"g": gid, "n": name.strip(), "k": kind, "p": phone, "v": village_code},
        ).scalar_one()
        audit.record(
            conn,
            "add_liaison",
            actor=actor,
            object_type="grid",
            object_id=grid,
            kind=kind,
        )
    return int(new_id)


def set_target(
    engine: Engine, grid: str, year: int, metric: str, target: float, *, actor: str
) -> None:
    """Set one yearly target of ``grid``."""
    if metric not in TARGET_METRICS:
        raise InvalidInput(
            f"metric must be one of {', '.join(TARGET_METRICS)}; got {metric!r}."
        )
    if target < 0:
        raise InvalidInput(f"A target cannot be negative; got {target}.")
    if not 2000 <= year <= 2100:
        raise InvalidInput(f"year must be between 2000 and 2100; got {year}.")
    with engine.begin() as conn:
        gid, _, _ = grid_by_code(conn, grid)
        conn.execute(
            text(
                "INSERT INTO grid_target (grid_id, year, metric, target) "
                "VALUES (:g, :y, :m, :t) ON CONFLICT (grid_id, year, metric) "
                "DO UPDATE SET target = EXCLUDED.target"
            ),
            {"g": gid, "y": year, "m": metric, "t": target},
        )
        audit.record(
            conn,
            "set_target",
            actor=actor,
            object_type="grid",
            object_id=grid,
            year=year,
            metric=metric,
            target=target,
        )


CURRENT_SQL = """
    SELECT count(DISTINCT h.id) AS households,
           count(DISTINCT h.id) FILTER (WHERE p.status = 'customer')
             AS customer_households,
           count(p.id) AS people,
           count(p.id) FILTER (WHERE p.status = 'customer') AS customers,
           count(p.id) FILTER (WHERE p.status = 'potential') AS potentials,
           coalesce(sum(p.deposit_own), 0) AS deposits,
           coalesce(sum(p.loan_own), 0) AS loans,
           coalesce(sum(p.deposit_other), 0) AS deposits_other_banks,
           coalesce(sum(p.loan_other), 0) AS loans_other_banks,
           count(p.id) FILTER (WHERE 'mobile_banking' = ANY(p.products))
             AS mobile_banking,
           count(p.id) FILTER (WHERE 'pos' = ANY(p.products)) AS pos,
           count(p.id) FILTER (WHERE 'payment' = ANY(p.products)) AS payments
    FROM household h LEFT JOIN person p ON p.household_id = h.id
    WHERE h.grid_id = :g
"""


def grid_profile(engine: Engine, grid: str, year: int | None = None) -> dict[str, Any]:
    """A grid's four fixed and its current figures ("one grid, one policy")."""
    year = year or dt.date.today().year
    with engine.connect() as conn:
        gid, branch_id, level = grid_by_code(conn, grid)
        head = conn.execute(
            text(
                "SELECT g.code, g.name, g.version, b.code, b.name, "
                "ST_Area(g.geom::geography) / 1e6 FROM grid g "
                "JOIN branch b ON b.id = g.branch_id WHERE g.id = :g"
            ),
            {"g": gid},
        ).one()
        current = dict(conn.execute(text(CURRENT_SQL), {"g": gid}).mappings().one())
        posts = (
            conn.execute(
                text(
                    "SELECT p.post, s.username, s.name, s.phone FROM grid_post p "
                    "JOIN staff s ON s.id = p.staff_id WHERE p.grid_id = :g "
                    "ORDER BY p.post"
                ),
                {"g": gid},
            )
            .mappings()
            .all()
        )
        liaison = (
            conn.execute(
                text(
                    "SELECT name, kind, phone, village_code FROM liaison_officer "
                    "WHERE grid_id = :g ORDER BY id"
                ),
                {"g": gid},
            )
            .mappings()
            .all()
        )
        targets = conn.execute(
            text(
                "SELECT metric, target FROM grid_target WHERE grid_id = :g "
                "AND year = :y ORDER BY metric"
            ),
            {"g": gid, "y": year},
        ).all()
    current = {k: float(v) if v is not None else 0.0 for k, v in current.items()}
    households = current["households"] or 0.0
    current["penetration"] = (
        round(current["customer_households"] / households, 4) if households else 0.0
    )
    target_rows = [
        {
            "metric": metric,
            "target": float(value),
            "current": current.get(metric, 0.0),
            "achieved": round(current.get(metric, 0.0) / float(value), 3)
            if float(value)
            else None,
        }
        for metric, value in targets
    ]
    return {
        "code": head[0],
        "name": head[1],
        "version": head[2],
        "level": level,
        "branch": {"id": branch_id, "code": head[3], "name": head[4]},
        "area_km2": round(float(head[5]), 3),
        "year": year,
        "current": current,
        "posts": [dict(p) for p in posts],
        "liaison": [dict(x) for x in liaison],
        "targets": target_rows,
    }

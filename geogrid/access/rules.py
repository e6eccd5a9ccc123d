"""Who sees which grids and branches, which roles may act, and personal details.

The permission model these rules implement is described in
``geogrid.access`` (the package docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text

from geogrid.auth import ACCOUNT_MANAGER, BRANCH_HEAD, HEAD_OFFICE, PLANNER, User
from geogrid.errors import NotFound, PermissionDenied
from geogrid.grids.edit import grid_by_code
from geogrid.masking import mask_id_number, mask_phone

# personal-detail views
FULL_PHONE = "full_phone"
MASKED = "masked"
NO_PEOPLE = "none"


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

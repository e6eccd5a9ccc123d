"""The audit log: exports, grid edits and logins, written in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from geogrid.store.models import AuditLog


def record(
    conn: Connection,
    action: str,
    *,
    actor: str | None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    **detail: Any,
) -> None:
    """Append one entry to the audit log (never personal data in ``detail``)."""
    conn.execute(
        insert(AuditLog).values(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail,
        )
    )

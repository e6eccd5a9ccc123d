"""The audit trail of exports made by the viewer's users."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from geogrid import audit
from geogrid.auth import User

log = logging.getLogger(__name__)


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

"""Import batches: what each import stored, left unchanged and rejected, and why."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from geogrid.errors import NotFound
from geogrid.store.bulk import copy_frame
from geogrid.store.models import ImportBatch, ImportReject

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """Outcome of one import, as shown to the user."""

    batch_id: int
    kind: str
    source: str
    rows_total: int = 0
    rows_stored: int = 0
    rows_unchanged: int = 0
    rows_rejected: int = 0
    repaired: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"Import #{self.batch_id} of {Path(self.source).name}: "
            f"{self.rows_total:,} rows, "
            f"{self.rows_stored:,} stored (new or changed), "
            f"{self.rows_unchanged:,} unchanged, {self.rows_rejected:,} rejected."
        ]
        if self.repaired:
            out.append(f"{self.repaired:,} invalid polygons were repaired.")
        for reason, count in sorted(self.reasons.items(), key=lambda kv: -kv[1]):
            out.append(f"  rejected {count:,}: {reason}")
        if self.rows_rejected:
            out.append(
                f"Export the rejected rows with 'geogrid import rejects "
                f"{self.batch_id} FILE', fix them and import that file again."
            )
        out.extend(self.warnings)
        return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_batch(
    engine: Engine,
    kind: str,
    source: Path,
    crs: str | None,
    actor: str | None,
    sha256: str | None = None,
) -> int:
    """Record the start of an import in its own transaction; return its id.

    ``sha256`` is the file's digest when the caller has it already (it is
    computed from the file otherwise).
    """
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(ImportBatch)
                .values(
                    kind=kind,
                    source=str(source),
                    sha256=sha256 or file_sha256(source),
                    crs=crs,
                    actor=actor,
                    status="running",
                )
                .returning(ImportBatch.id)
            ).scalar_one()
        )


def store_rejects(
    conn: Connection, batch_id: int, rejects: pd.DataFrame, reasons: pd.Series
) -> None:
    """Keep rejected rows with their 1-based file row numbers and reasons.

    ``rejects`` holds the rows' original cells and their row numbers in a
    ``_row`` column; ``reasons`` is aligned with it.
    """
    if rejects.empty:
        return
    cells = rejects.drop(columns=["_row"]).to_json(
        orient="records", lines=True, force_ascii=False, default_handler=str
    )
    # JSON escapes line feeds inside values, so each one ends a record
    raw = cells.rstrip("\n").split("\n")
    copy_frame(
        conn,
        "import_reject",
        pd.DataFrame(
            {
                "batch_id": batch_id,
                "row_number": rejects["_row"].to_numpy(dtype="int64"),
                "reason": [str(r) for r in reasons],
                "raw": raw,
            }
        ),
    )


def close_batch(conn: Connection, report: BatchReport, status: str = "done") -> None:
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == report.batch_id)
        .values(
            status=status,
            rows_total=report.rows_total,
            rows_stored=report.rows_stored,
            rows_unchanged=report.rows_unchanged,
            rows_rejected=report.rows_rejected,
            repaired=report.repaired,
            message="\n".join(report.lines()),
            finished_at=dt.datetime.now(dt.UTC),
        )
    )


def fail_batch(engine: Engine, batch_id: int, error: BaseException) -> None:
    """Mark a batch failed after its data transaction was rolled back."""
    with engine.begin() as conn:
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(
                status="failed",
                message=f"Nothing was stored: {error}",
                finished_at=dt.datetime.now(dt.UTC),
            )
        )


def rejects_frame(engine: Engine, batch_id: int) -> pd.DataFrame:
    """The rejected rows of a batch, with their original columns, row and reason."""
    with engine.connect() as conn:
        found = conn.execute(
            select(ImportBatch.id).where(ImportBatch.id == batch_id)
        ).first()
        if found is None:
            raise NotFound(
                f"Import batch {batch_id} does not exist. List batches with "
                "'geogrid import list'."
            )
        rows = conn.execute(
            select(ImportReject.row_number, ImportReject.reason, ImportReject.raw)
            .where(ImportReject.batch_id == batch_id)
            .order_by(ImportReject.row_number)
        ).all()
    records: list[dict[str, Any]] = [
        {**raw, "行号 row": row_number, "原因 reason": reason}
        for row_number, reason, raw in rows
    ]
    return pd.DataFrame.from_records(records)

"""Import households and their members from CSV or XLSX; every row stored or kept.

One input row is one person. Household columns (number, address, village,
coordinates) repeat on each member's row. A person is identified by the
resident ID number: importing the same person again updates them, never
duplicates them, and importing the same file twice changes nothing.

The file is validated in chunks of `CHUNK_ROWS` rows, in file order, and each
validated chunk is sent to PostgreSQL by binary COPY on a second thread while
the next chunk is validated. Everything happens in one transaction, so a
failure anywhere leaves the store as it was. New households and people are
copied straight into their tables with ids reserved up front; rows already in
the store go through a staging table and one set-based UPDATE. When a table
gains at least as many rows as it holds (a first load), its secondary indexes
are dropped for the load and rebuilt before the commit, which is much faster
than updating them row by row; meanwhile the table is locked against readers.

This package's entry runs those steps; each has its own module in it:
`source` (the file's columns and what they may hold), `keys` (ID numbers and
household numbers of the whole file), `cells` and `validation` (checking a
chunk's rows), `crs_check` (the coordinate system check), `copy_rows` (rows
for binary COPY) and `loader` (COPY, staging, updates, indexes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Engine

from geogrid.crs import parse_crs
from geogrid.errors import InvalidInput
from geogrid.ingest.batch import (
    BatchReport,
    close_batch,
    fail_batch,
    file_sha256,
    open_batch,
    store_rejects,
)
from geogrid.ingest.households.cells import Reason, Reject
from geogrid.ingest.households.crs_check import CrsCheck
from geogrid.ingest.households.keys import FileKeys
from geogrid.ingest.households.loader import Loader, array_element_oids
from geogrid.ingest.households.source import (
    ALIASES,
    AMOUNTS,
    GENDER_VALUES,
    LABEL_MAX_LENGTH,
    MAX_LENGTHS,
    PRODUCT_VALUES,
    REQUIRED,
    STATUS_VALUES,
    Source,
)
from geogrid.ingest.households.validation import References, Validator
from geogrid.ingest.readers import read_table_arrow, strip_cells

__all__ = [
    "ALIASES",
    "AMOUNTS",
    "CHUNK_ROWS",
    "CRS_SAMPLE_HOUSEHOLDS",
    "GENDER_VALUES",
    "LABEL_MAX_LENGTH",
    "MAX_LENGTHS",
    "PRODUCT_VALUES",
    "REBUILD_MIN_ROWS",
    "REQUIRED",
    "STATUS_VALUES",
    "Progress",
    "Reason",
    "Reject",
    "import_households",
]

log = logging.getLogger(__name__)

# read when an import starts, so they can be changed for a run
CHUNK_ROWS = 100_000  # rows validated and copied at a time
REBUILD_MIN_ROWS = 20_000  # fewer new rows than this never rebuild indexes
CRS_SAMPLE_HOUSEHOLDS = 20_000  # households checked against their villages

Progress = Callable[[str, float], None]


def import_households(
    engine: Engine,
    path: Path,
    *,
    crs: str = "wgs84",
    sheet: str | None = None,
    actor: str | None = None,
    progress: Progress | None = None,
) -> BatchReport:
    """Import a household file; return the batch report.

    Parameters
    ----------
    engine
        The store.
    path
        CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX file, Chinese or English
        headers.
    crs
        Coordinate system of the lon/lat columns: wgs84, cgcs2000, gcj02, bd09.
    sheet
        Worksheet of an XLSX file (the first when None).
    progress
        Called with a step name and a fraction done.
    """
    source_crs = parse_crs(crs)
    if source_crs.startswith("EPSG:"):
        raise InvalidInput(
            f"--crs {source_crs}: household coordinates must be longitude and "
            "latitude in wgs84, cgcs2000, gcj02 or bd09. Convert projected "
            "coordinates first."
        )
    report_step = progress or (lambda step, done: None)
    started = time.perf_counter()

    report_step("reading", 0.0)
    with ThreadPoolExecutor(1) as background:  # hashing releases the GIL
        digest = background.submit(file_sha256, Path(path))
        raw = read_table_arrow(path, sheet, strip=False)
        source = Source.of(raw, Path(path).name)
        report_step("validating", 0.1)
        keys = FileKeys.of(source)
        sha256 = digest.result()

    batch_id = open_batch(engine, "households", path, source_crs, actor, sha256)
    try:
        with engine.begin() as conn:
            report = _validate_and_store(
                conn, source, keys, raw, batch_id, path, source_crs, report_step
            )
    except Exception as exc:
        fail_batch(engine, batch_id, exc)
        raise

    report_step("done", 1.0)
    elapsed = time.perf_counter() - started
    log.info(
        "Imported %d household rows from %s in %.1f s: %d stored, %d unchanged, "
        "%d rejected",
        report.rows_total,
        Path(path).name,
        elapsed,
        report.rows_stored,
        report.rows_unchanged,
        report.rows_rejected,
    )
    return report


def _validate_and_store(
    conn: Connection,
    source: Source,
    keys: FileKeys,
    raw: pa.Table,
    batch_id: int,
    path: Path,
    source_crs: str,
    report_step: Progress,
) -> BatchReport:
    """Validate the file a chunk at a time, store it, and keep its rejects."""
    n = source.n_rows
    report = BatchReport(batch_id, "households", str(path), rows_total=n)
    refs = References.load(conn, source)
    array_oids = array_element_oids(conn)
    validator = Validator.of(source, keys, refs, source_crs, array_oids)
    crs_check = CrsCheck(
        refs,
        source_crs,
        Path(path).name,
        report,
        sample_households=CRS_SAMPLE_HOUSEHOLDS,
    )

    loader = Loader(
        conn,
        batch_id,
        set(source.columns),
        keys,
        rebuild_min_rows=REBUILD_MIN_ROWS,
    )
    try:
        for start, stop in _chunks(n):
            chunk = validator.chunk(start, stop)
            crs_check.add(chunk, validator.lon[start:stop], validator.lat[start:stop])
            loader.send(chunk, validator.products, validator.labels)
            report_step("storing", 0.2 + 0.7 * stop / n)
        crs_check.finish()
        report_step("indexing", 0.9)
        stored, good = loader.finish()
    finally:
        loader.stop()
    report.rows_stored = stored
    report.rows_unchanged = good - stored

    rejected = np.flatnonzero(validator.reasons.code != 0)
    reasons = pd.Series(validator.reasons.texts(rejected), dtype=object)
    if len(rejected):
        taken = raw.take(pa.array(rejected))
        rows = pa.Table.from_arrays(
            [strip_cells(c) for c in taken.columns], names=taken.column_names
        ).to_pandas()
        rows["_row"] = rejected + 2  # row 1 is the header
        store_rejects(conn, batch_id, rows, reasons)
    report.rows_rejected = len(rejected)
    report.reasons = {str(k): int(v) for k, v in reasons.value_counts().items()}
    close_batch(conn, report)
    return report


def _chunks(n_rows: int) -> Iterator[tuple[int, int]]:
    """Row ranges to validate and store in turn.

    The first is a quarter of the others, so the database starts sooner.
    """
    start, size = 0, max(CHUNK_ROWS // 4, 1)
    while start < n_rows:
        yield start, min(start + size, n_rows)
        start, size = start + size, CHUNK_ROWS

"""Bulk loading: COPY a DataFrame into a table, fast, through Arrow's CSV writer."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from sqlalchemy import Connection

CHUNK_ROWS = 200_000


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY ``frame`` into ``table`` (columns matched by name).

    Missing values (None, NaN, NA) become NULL; empty strings stay empty
    strings. Array columns must already be PostgreSQL array literals.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    columns = ", ".join(frame.columns)
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy,
    ):
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            arrow = pa.Table.from_pandas(chunk, preserve_index=False)
            sink = io.BytesIO()
            pacsv.write_csv(arrow, sink, write_options=options)
            copy.write(sink.getvalue())


def ewkb_hex(geoms: Any) -> np.ndarray:
    """Hex EWKB with SRID 4326, which COPY accepts for geometry columns."""
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), 4326)
    return np.asarray(shapely.to_wkb(arr, hex=True, include_srid=True), dtype=object)


def pg_text_array(items: pd.Series) -> pd.Series:
    """Lists of strings as PostgreSQL array literals, every element quoted."""
    joined = items.map("\x1f".join).astype(object)
    escaped = joined.str.replace("\\", "\\\\", regex=False).str.replace(
        '"', '\\"', regex=False
    )
    quoted = '{"' + escaped.str.replace("\x1f", '","', regex=False) + '"}'
    return quoted.where(joined != "", "{}")

"""Bulk loading: COPY a DataFrame into a table, fast, through Arrow's CSV writer.

Also binary COPY built from numpy and Arrow columns (`BinaryRows`), run on a
thread (`CopyThread`), and the index handling of large loads.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

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


# -- binary COPY -------------------------------------------------------------------

BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no extension
BINARY_TRAILER = b"\xff\xff"
_PG_EPOCH_DAYS = 10_957  # 2000-01-01, PostgreSQL's day zero, in days since 1970
NUMERIC_MAX = 10**14  # numeric(16, 2) holds values below this


class BinaryRows:
    """Rows for ``COPY ... FROM STDIN (FORMAT binary)``, built a column at a time.

    Each column is encoded for all rows at once with numpy and Arrow, and the
    fields are interleaved into rows by one Arrow ``take``, so no Python code
    runs per row. The server then skips text parsing, which is most of the
    cost of a COPY into a table without many indexes.

    Columns whose fields all have the same width (numbers, dates, strings of
    one length, points) are kept together at the front of each row, so the
    COPY's column list is `names`, not the order the columns were added in.

    Parameters
    ----------
    n_rows
        Number of rows; every column must have this length.
    """

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self._fixed_names: list[str] = []
        # one value per row, or a single value for all rows
        self._fixed: list[tuple[np.ndarray, bool]] = []
        self._variable_names: list[str] = []
        self._parts: list[pa.Array] = []
        self._slots: list[tuple[int, np.ndarray]] = []  # (part, index per row)

    @property
    def names(self) -> list[str]:
        """Column names in the order of the encoded fields."""
        return self._fixed_names + self._variable_names

    def int8(self, name: str, values: np.ndarray) -> None:
        """A bigint column."""
        self._add_fixed(name, np.asarray(values, dtype=np.int64).astype(">i8"))

    def int2(self, name: str, values: np.ndarray) -> None:
        """A smallint column; values outside its range raise ValueError."""
        values = np.asarray(values, dtype=np.int64)
        if len(values) and (values.min() < -32768 or values.max() > 32767):
            raise ValueError(f"{name}: a value does not fit a smallint column")
        self._add_fixed(name, values.astype(">i2"))

    def int4(self, name: str, values: np.ndarray) -> None:
        """An integer column."""
        self._add_fixed(name, np.asarray(values, dtype=np.int32).astype(">i4"))

    def numeric(self, name: str, hundredths: np.ndarray) -> None:
        """A numeric column with two decimals, from integer hundredths.

        Values must lie strictly between -NUMERIC_MAX and NUMERIC_MAX.
        """
        cents = np.asarray(hundredths, dtype=np.int64)
        if len(cents) and (cents == cents[0]).all():
            self._add_fixed(name, _numeric_words(cents[:1]), constant=True)
        else:
            self._add_fixed(name, _numeric_words(cents))

    def text(self, name: str, values: pa.Array) -> None:
        """A text or varchar column from an Arrow string array (nulls are NULL)."""
        values = values.cast(pa.string())
        null = values.is_null().to_numpy(zero_copy_only=False)
        filled = values.fill_null("") if null.any() else values
        lengths = pc.binary_length(filled).to_numpy().astype(np.int64)
        if len(lengths) and lengths[0] > 0 and not null.any():
            width = int(lengths[0])
            if (lengths == width).all():
                matrix = fixed_width_bytes(filled, width)
                self._add_fixed(name, matrix.view(f"S{width}")[:, 0])
                return
        self._variable(name, filled.view(pa.binary()), lengths, null)

    def date(self, name: str, days: np.ndarray) -> None:
        """A date column from datetime64 values (NaT is NULL)."""
        days = np.asarray(days, dtype="datetime64[D]")
        null = np.isnat(days)
        pg_days = (days[~null].astype(np.int64) - _PG_EPOCH_DAYS).astype(">i4")
        self._fixed_or_null(name, pg_days, null)

    def point(self, name: str, lon: np.ndarray, lat: np.ndarray, srid: int) -> None:
        """A PostGIS point column as EWKB (NaN coordinates are NULL)."""
        null = np.isnan(lon) | np.isnan(lat)
        record = np.empty(
            int((~null).sum()),
            dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("xy", "<f8", 2)],
        )
        record["order"] = 1  # little endian
        record["type"] = 0x20000001  # point, with SRID
        record["srid"] = srid
        record["xy"][:, 0] = lon[~null]
        record["xy"][:, 1] = lat[~null]
        self._fixed_or_null(name, record.view(f"S{record.dtype.itemsize}"), null)

    def choice(self, name: str, codes: np.ndarray, fields: list[bytes | None]) -> None:
        """A column whose rows take one of a few encoded values (None is NULL).

        ``fields[codes[i]]`` is row i's value in PostgreSQL's binary format
        (for text, its UTF-8 bytes), as `binary_text_array` makes for arrays.
        """
        codes = np.asarray(codes, dtype=np.int64)
        self._check_length(name, len(codes))
        used = [int(i) for i in pd.unique(codes)]
        widths = {-1 if fields[i] is None else len(fields[i] or b"") for i in used}
        width = widths.pop() if len(widths) == 1 else -1
        if width > 0:
            table = np.zeros(len(fields), dtype=f"S{width}")
            for i in used:
                table[i] = fields[i]
            if len(used) == 1:
                self._add_fixed(name, table[used], constant=True)
            else:
                self._add_fixed(name, table[codes])
            return
        encoded = [
            b"\xff\xff\xff\xff" if f is None else len(f).to_bytes(4, "big") + f
            for f in fields
        ]
        self._variable_names.append(name)
        part = self._add_part(pa.array(encoded, type=pa.binary()))
        self._slots.append((part, codes))

    def _add_fixed(self, name: str, values: np.ndarray, constant: bool = False) -> None:
        """A column of fields of one width: each value's bytes as they are sent.

        ``values`` has one element per row, or one for every row if constant.
        """
        self._check_length(name, self.n_rows if constant else len(values))
        self._fixed_names.append(name)
        self._fixed.append((values, constant))

    def _fixed_or_null(self, name: str, values: np.ndarray, null: np.ndarray) -> None:
        """Fields of one width where not NULL (``values`` holds those rows)."""
        if not null.any():
            self._add_fixed(name, values)
            return
        width = values.dtype.itemsize
        lengths = np.where(null, 0, width).astype(np.int64)
        offsets = np.zeros(len(null) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        payload = pa.Array.from_buffers(
            pa.binary(),
            len(null),
            [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(values))],
        )
        self._variable(name, payload, lengths, null)

    def _variable(
        self, name: str, payload: pa.Array, lengths: np.ndarray, null: np.ndarray
    ) -> None:
        self._check_length(name, len(lengths))
        longest = int(lengths.max()) if len(lengths) else 0
        # length words for 0..longest, then -1 for NULL
        words = np.append(np.arange(longest + 1), -1).astype(">i4")
        prefixes = pa.Array.from_buffers(
            pa.binary(),
            len(words),
            [
                None,
                pa.py_buffer(np.arange(0, 4 * len(words) + 1, 4, dtype=np.int32)),
                pa.py_buffer(words.tobytes()),
            ],
        )
        self._variable_names.append(name)
        prefix_part = self._add_part(prefixes)
        self._slots.append((prefix_part, np.where(null, longest + 1, lengths)))
        self._slots.append((self._add_part(payload), np.arange(self.n_rows)))

    def _add_part(self, array: pa.Array) -> int:
        self._parts.append(array)
        return len(self._parts) - 1

    def _check_length(self, name: str, length: int) -> None:
        if length != self.n_rows:
            raise ValueError(
                f"Column {name} has {length} values for {self.n_rows} rows; every "
                "column of a binary COPY needs one value per row."
            )

    def payload(self) -> memoryview:
        """The COPY data: header, rows and trailer."""
        # the fixed-width fields: a row of the constant parts, copied to every
        # row, then the other values written column by column
        fields: list[tuple[str, Any]] = [("count", ">i2")]
        for i, (values, _) in enumerate(self._fixed):
            fields += [(f"length{i}", ">i4"), (f"value{i}", values.dtype)]
        template = np.zeros(1, dtype=np.dtype(fields))
        template["count"] = len(self.names)
        for i, (values, constant) in enumerate(self._fixed):
            template[f"length{i}"] = values.dtype.itemsize
            if constant:
                template[f"value{i}"] = values[0]
        width = template.dtype.itemsize
        block = np.empty((self.n_rows, width), dtype=np.uint8)
        block[:] = template.view(np.uint8)
        record = block.view(template.dtype)[:, 0]
        for i, (values, constant) in enumerate(self._fixed):
            if not constant:
                record[f"value{i}"] = values
        offsets = np.arange(0, width * (self.n_rows + 1), width, dtype=np.int64)
        fixed = pa.Array.from_buffers(
            pa.binary(),
            self.n_rows,
            [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(block)],
        )
        if not self._slots:
            return memoryview(BINARY_HEADER + block.tobytes() + BINARY_TRAILER)

        parts = [pa.array([BINARY_HEADER, BINARY_TRAILER]), fixed, *self._parts]
        bases = np.cumsum([0] + [len(p) for p in parts])
        rows = np.empty((self.n_rows, len(self._slots) + 1), dtype=np.int64)
        rows[:, 0] = bases[1] + np.arange(self.n_rows)
        for column, (part, index) in enumerate(self._slots, start=1):
            rows[:, column] = bases[part + 2] + index
        order = np.concatenate([[0], rows.ravel(), [1]])
        joined = pa.concat_arrays(parts).take(pa.array(order))
        offsets32 = np.frombuffer(joined.buffers()[1], dtype=np.int32)
        data = joined.buffers()[2]
        start = offsets32[joined.offset]
        stop = offsets32[joined.offset + len(joined)]
        return memoryview(data)[start:stop]


def fixed_width_bytes(values: pa.Array, width: int) -> np.ndarray:
    """Strings that are all ``width`` bytes long as an (n, width) byte matrix."""
    if len(values) == 0 or width == 0:
        return np.zeros((len(values), width), dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    start = int(offsets[values.offset])
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return data[start : start + width * len(values)].reshape(len(values), width)


def _numeric_words(cents: np.ndarray) -> np.ndarray:
    """Numeric values in PostgreSQL's binary format, 18 bytes each.

    Five base-10000 digits, the first of weight 3, two decimals: enough for
    every value below NUMERIC_MAX.
    """
    words = np.empty((len(cents), 9), dtype=np.int16)
    words[:, 0] = 5  # digits
    words[:, 1] = 3  # weight of the first
    words[:, 2] = np.where(cents < 0, 0x4000, 0)  # sign
    words[:, 3] = 2  # decimals
    whole, fraction = np.divmod(np.abs(cents), 100)
    words[:, 8] = fraction * 100
    for column in (7, 6, 5, 4):
        whole, words[:, column] = np.divmod(whole, 10_000)
    return words.byteswap().view("S18")[:, 0]


def binary_text_array(items: list[str], element_oid: int) -> bytes:
    """A one-dimensional array of strings in PostgreSQL's binary format.

    ``element_oid`` is the element type's OID (25 for text, 1043 for varchar),
    which must match the column's.
    """
    if not items:
        return np.array([0, 0, element_oid], dtype=">i4").tobytes()
    head = np.array([1, 0, element_oid, len(items), 1], dtype=">i4").tobytes()
    body = b"".join(
        len(b).to_bytes(4, "big") + b for b in (item.encode() for item in items)
    )
    return head + body


def query_arrow(
    conn: Connection, query: str, types: dict[str, pa.DataType]
) -> pa.Table:
    """The rows of ``query`` as an Arrow table, fetched by COPY.

    Several times faster than fetching rows for large results. ``types``
    gives the type of each column; text columns keep '' and NULL apart only
    as '' (use them for columns that are never NULL).
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    sink = io.BytesIO()
    statement = f"COPY ({query}) TO STDOUT (FORMAT csv, HEADER)"
    with raw.cursor() as cur, cur.copy(statement) as copy:
        for data in copy:
            sink.write(data)
    sink.seek(0)
    return pacsv.read_csv(
        sink,
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, null_values=[""]
        ),
    )


def copy_binary(conn: Connection, table: str, rows: BinaryRows) -> None:
    """COPY rows built with `BinaryRows` into ``table``."""
    raw = conn.connection.driver_connection
    assert raw is not None
    write_binary(raw.cursor(), table, rows.names, rows.payload())


def write_binary(cursor: Any, table: str, columns: list[str], data: Any) -> None:
    """COPY ``data`` (from `BinaryRows.payload`) into ``table`` on a psycopg cursor."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)"
    with cursor.copy(statement) as copy:
        copy.write(data)


class CopyThread:
    """Runs binary COPYs on a thread while the caller prepares the next rows.

    The connection belongs to this thread from the first `put` until `close`
    or `stop`; the caller must not use it meanwhile. psycopg releases the GIL
    while it waits on the server, so preparing rows and the server's work
    overlap.
    """

    def __init__(self, conn: Connection, depth: int = 3) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        self._cursor = raw.cursor()
        self._queue: queue.Queue[tuple[str, list[str], Any] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="geogrid-copy")
        self._thread.start()

    def put(self, table: str, rows: BinaryRows) -> None:
        """Queue rows for COPY; raise the error of an earlier COPY, if any."""
        if self._error is not None:
            raise self._error
        if rows.n_rows:
            self._queue.put((table, rows.names, rows.payload()))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain the queue; the caller gets the error
            started = time.perf_counter()
            try:
                write_binary(self._cursor, *item)
            except BaseException as exc:  # handed over to the caller's thread
                self._error = exc
            log.debug(
                "Copied %d bytes into %s in %.2f s",
                len(item[2]),
                item[0],
                time.perf_counter() - started,
            )

    def close(self) -> None:
        """Wait for the queued COPYs; raise the first error one of them met."""
        self.stop()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Wait for the thread to end (after a failure; a no-op once closed)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def reserve_ids(conn: Connection, table: str, count: int) -> int:
    """Take ``count`` ids from ``table``'s id sequence; return the first.

    The ids are consecutive only if nothing else draws from the sequence
    meanwhile: hold a lock on ``table`` that keeps other writers out (as
    SHARE ROW EXCLUSIVE does) from before this call until the rows are in.
    """
    if count <= 0:
        return 0
    last = conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
            "nextval(pg_get_serial_sequence(:t, 'id')) + :n - 1)"
        ),
        {"t": table, "n": count},
    ).scalar_one()
    return int(last) - count + 1


def drop_indexes_for_load(conn: Connection, table: str) -> list[str]:
    """Drop a table's indexes and keys in the open transaction, for a bulk load.

    Building an index once over all rows is several times cheaper than
    updating it row by row, which makes this worthwhile when a load at least
    doubles the table. The primary key, unique constraints and plain indexes
    are dropped, and so are the foreign keys of other tables that rely on
    them. Returns the statements that restore all of them, with the same
    names and definitions, in a workable order; run them before the commit,
    which then checks every key and reference again. A rollback restores
    everything by itself. Until the transaction ends, ``table`` and the tables
    whose foreign keys point at it are locked against readers too. When any
    drop fails, nothing is dropped and [] is returned.
    """
    indexes = conn.execute(
        text(
            """
            SELECT i.indexrelid::regclass::text, c.conname,
                   pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            LEFT JOIN pg_constraint c
                   ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                  AND c.contype IN ('p', 'u', 'x')
            WHERE i.indrelid = CAST(:t AS regclass)
              AND (c.contype IS NULL OR c.contype IN ('p', 'u'))
            ORDER BY i.indisprimary DESC, 1
            """
        ),
        {"t": table},
    ).all()
    references = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid = CAST(:t AS regclass) "
            "ORDER BY 1, 2"
        ),
        {"t": table},
    ).all()

    drops, restores = [], []
    for owner, name, _ in references:
        drops.append(f"ALTER TABLE {owner} DROP CONSTRAINT {_quoted(name)}")
    for index, constraint, constraint_def, index_def in indexes:
        if constraint:
            drops.append(f"ALTER TABLE {table} DROP CONSTRAINT {_quoted(constraint)}")
            restores.append(
                f"ALTER TABLE {table} ADD CONSTRAINT {_quoted(constraint)} "
                f"{constraint_def}"
            )
        else:
            drops.append(f"DROP INDEX {index}")
            restores.append(index_def)
    for owner, name, definition in references:
        restores.append(
            f"ALTER TABLE {owner} ADD CONSTRAINT {_quoted(name)} {definition}"
        )
    try:
        with conn.begin_nested():
            for statement in drops:
                conn.execute(text(statement))
    except DBAPIError as exc:
        log.warning("Kept the indexes of %s for the load: %s", table, exc.orig)
        return []
    log.info(
        "Dropped %d indexes and %d foreign keys of %s for the load",
        len(indexes),
        len(references),
        table,
    )
    return restores


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

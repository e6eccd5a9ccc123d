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
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from sqlalchemy import Connection, Engine, text

from geogrid.crs import check_declared_crs, parse_crs, to_wgs84
from geogrid.errors import InvalidInput
from geogrid.ingest.batch import (
    BatchReport,
    close_batch,
    fail_batch,
    file_sha256,
    open_batch,
    store_rejects,
)
from geogrid.ingest.columns import map_columns
from geogrid.ingest.readers import read_table_arrow, strip_cells
from geogrid.store.bulk import (
    NUMERIC_MAX,
    BinaryRows,
    CopyThread,
    binary_text_array,
    copy_binary,
    drop_indexes_for_load,
    fixed_width_bytes,
    query_arrow,
    reserve_ids,
)
from geogrid.store.summary import SUMMARY_COLUMNS, refresh_household_summary
from geogrid.validate import (
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    id_number_problems,
    mobile_problems,
)

log = logging.getLogger(__name__)

ALIASES: dict[str, tuple[str, ...]] = {
    "household_no": ("户号", "户编号", "家庭编号", "household_id", "household"),
    "address": ("地址", "住址", "家庭住址", "家庭地址", "addr"),
    "village_code": ("村代码", "村编码", "村居代码", "行政村代码", "村级代码"),
    "lon": ("经度", "lng", "longitude", "x"),
    "lat": ("纬度", "latitude", "y"),
    "name": ("姓名", "客户姓名", "名字"),
    "id_number": ("身份证号", "身份证号码", "证件号码", "公民身份号码", "id_no"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "mobile", "tel"),
    "gender": ("性别", "sex"),
    "status": ("客户状态", "客户类型", "是否我行客户", "customer_status"),
    "products": ("持有产品", "我行产品", "产品"),
    "labels": ("标签", "客户标签", "tags"),
    "deposit_own": ("我行存款", "本行存款"),
    "loan_own": ("我行贷款", "本行贷款"),
    "deposit_other": ("他行存款",),
    "loan_other": ("他行贷款",),
    "time_window": ("可访时段", "拜访时段"),
}
REQUIRED = ("household_no", "name", "id_number")
AMOUNTS = ("deposit_own", "loan_own", "deposit_other", "loan_other")

STATUS_VALUES = {
    "customer": "customer",
    "existing": "customer",
    "客户": "customer",
    "我行客户": "customer",
    "存量客户": "customer",
    "是": "customer",
    "y": "customer",
    "yes": "customer",
    "true": "customer",
    "1": "customer",
    "potential": "potential",
    "潜在客户": "potential",
    "潜在": "potential",
    "否": "potential",
    "n": "potential",
    "no": "potential",
    "false": "potential",
    "0": "potential",
}
PRODUCT_VALUES = {
    "deposit": "deposit",
    "存款": "deposit",
    "loan": "loan",
    "贷款": "loan",
    "mobile_banking": "mobile_banking",
    "手机银行": "mobile_banking",
    "pos": "pos",
    "pos机": "pos",
    "payment": "payment",
    "收单": "payment",
    "支付": "payment",
    "聚合支付": "payment",
    "扫码支付": "payment",
    "credit_card": "credit_card",
    "信用卡": "credit_card",
}
GENDER_VALUES = {"男": "M", "m": "M", "male": "M", "女": "F", "f": "F", "female": "F"}
_SPLIT = r"[,，、;；|/\s]+"

# longest text the store's columns hold, in characters
MAX_LENGTHS = {
    "household_no": ("household number (户号)", 40),
    "name": ("name (姓名)", 50),
    "address": ("address (地址)", 200),
    "time_window": ("visiting hours (可访时段)", 20),
}
LABEL_MAX_LENGTH = 30

CHUNK_ROWS = 100_000  # rows validated and copied at a time
REBUILD_MIN_ROWS = 20_000  # fewer new rows than this never rebuild indexes
CRS_SAMPLE_HOUSEHOLDS = 20_000  # households checked against their villages
_MOBILE = r"^1[3-9]\d{9}$"

Progress = Callable[[str, float], None]
Reason = str | Callable[[np.ndarray], list[str]]
Reject = Callable[[Any, Reason], None]


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
        source = _Source.of(raw, Path(path).name)
        report_step("validating", 0.1)
        keys = _FileKeys.of(source)
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


# columns whose cells are compared across the file, stripped when read
_WHOLE_COLUMNS = ("household_no", "id_number", "village_code", "address")


@dataclass
class _Source:
    """The file's recognised columns under canonical names, as Arrow text.

    Columns compared across the whole file are stripped of white space up
    front, the others a chunk at a time by `get`.
    """

    columns: dict[str, pa.Array | pa.ChunkedArray]
    n_rows: int

    @classmethod
    def of(cls, raw: pa.Table, source: str) -> _Source:
        """Map the file's headers to canonical names; check required columns."""
        mapping = map_columns(raw.column_names, ALIASES)
        missing = [c for c in REQUIRED if c not in mapping]
        if missing:
            wanted = "; ".join(f"{c} ({'/'.join(ALIASES[c][:2])})" for c in missing)
            raise InvalidInput(
                f"{source} lacks required columns: {wanted}. Its headers are "
                f"{', '.join(map(str, raw.column_names)) or 'none'}. Rename the "
                "columns (Chinese or English headers both work) and import again.",
                missing=missing,
            )
        has_location = {"lon", "lat"} <= mapping.keys() or bool(
            {"village_code", "address"} & mapping.keys()
        )
        if not has_location:
            raise InvalidInput(
                f"{source} has no location columns: give 经度/纬度 (lon/lat), "
                "村代码 (village_code) or 地址 (address) so each household can be "
                "placed."
            )
        names = raw.column_names
        columns = {
            name: raw.column(names.index(header)) for name, header in mapping.items()
        }
        for name in _WHOLE_COLUMNS:
            if name in columns:
                columns[name] = strip_cells(columns[name])
        if "village_code" in columns:
            columns["village_code"] = _village_codes(columns["village_code"])
        return cls(columns, raw.num_rows)

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def whole(self, name: str) -> pa.Array:
        """A column of every row (one of `_WHOLE_COLUMNS`)."""
        column = self.columns[name]
        assert isinstance(column, pa.Array), f"{name} is read a chunk at a time"
        return column

    def get(self, name: str, start: int, length: int) -> pa.Array:
        """Rows ``start`` to ``start + length`` of a column, stripped."""
        column = self.columns[name].slice(start, length)
        return column if name in _WHOLE_COLUMNS else strip_cells(column)


# -- the whole file at once: identities --------------------------------------------


@dataclass
class _FileKeys:
    """ID numbers and household numbers of every row, checked once up front.

    ID numbers are upper-cased without spaces; one of valid shape (17 digits
    and a digit or X) is also kept as an exact 64-bit key, which is what
    duplicates and the store are matched on.
    """

    id_number: pa.Array
    id_key: np.ndarray  # -1 where the shape is wrong
    id_invalid: np.ndarray
    id_problem: dict[int, str]  # row index -> why the ID number is invalid
    birth_date: np.ndarray  # datetime64[D], NaT where the ID number is invalid
    male: np.ndarray
    duplicate_of: np.ndarray  # first row index with the same ID number, or -1
    household_code: np.ndarray  # index into household_nos
    household_nos: pa.Array

    @classmethod
    def of(cls, source: _Source) -> _FileKeys:
        ids, shaped = _normal_id_numbers(source.whole("id_number"))
        n = len(ids)
        key, birth, male, valid = _read_id_numbers(ids.filter(pa.array(shaped)))

        id_key = np.full(n, -1, dtype=np.int64)
        id_key[shaped] = key
        birth_date = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        birth_date[shaped] = birth
        is_male = np.zeros(n, dtype=bool)
        is_male[shaped] = male
        ok = np.zeros(n, dtype=bool)
        ok[shaped] = valid
        invalid = ~ok & pc.not_equal(ids, "").to_numpy(False)
        wrong = np.flatnonzero(invalid)
        messages = id_number_problems(pd.Series(ids.take(wrong).to_pylist()))
        id_problem = dict(zip(wrong.tolist(), messages.tolist(), strict=True))

        encoded = source.whole("household_no").dictionary_encode()
        return cls(
            id_number=ids,
            id_key=id_key,
            id_invalid=invalid,
            id_problem=id_problem,
            birth_date=birth_date,
            male=is_male,
            duplicate_of=_first_occurrence(id_key),
            household_code=encoded.indices.to_numpy().astype(np.int64),
            household_nos=encoded.dictionary,
        )


def _normal_id_numbers(ids: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """ID numbers upper-cased, without spaces; and which are of valid shape.

    Only cells that are not already 17 digits and a digit or X are touched,
    and only ASCII letters upper-cased: any other letter makes the number
    invalid anyway.
    """
    plain = _id_shaped(ids)
    if plain.all():
        return ids, plain
    others = pa.array(~plain)
    fixed = pc.replace_substring(pc.ascii_upper(ids.filter(others)), " ", "")
    shaped = plain.copy()
    shaped[~plain] = _id_shaped(fixed)
    return pc.replace_with_mask(ids, others, fixed), shaped


def _id_shaped(ids: pa.Array) -> np.ndarray:
    """Which cells are 17 ASCII digits followed by a digit or X."""
    shaped = pc.equal(pc.binary_length(ids), 18).to_numpy(zero_copy_only=False)
    if not shaped.any():
        return shaped
    chars = fixed_width_bytes(ids.filter(pa.array(shaped)), 18)
    digit = (chars - np.uint8(48)) < 10
    good = digit[:, :17].all(axis=1) & (digit[:, 17] | (chars[:, 17] == ord("X")))
    shaped[shaped] = good
    return shaped


def _read_id_numbers(
    ids: pa.Array,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Key, birth date, sex and validity of ID numbers of valid shape.

    The key packs the 17 digits and the check character (X as 10) into one
    integer, distinct for distinct ID numbers. Validity is that of
    `geogrid.validate.id_number_problems`: a real birth date from 1900 to
    today and a matching GB 11643 check character.
    """
    chars = fixed_width_bytes(ids, 18)
    first8, next8 = _eight_digits(chars[:, :8]), _eight_digits(chars[:, 8:16])
    digit17 = chars[:, 16].astype(np.int64) - 48
    last = np.where(chars[:, 17] == ord("X"), 10, chars[:, 17].astype(np.int64) - 48)
    key = ((first8 * 10**8 + next8) * 10 + digit17) * 11 + last

    # digits 7-14 are the birth date, YYYYMMDD, looked up among real dates
    dates, dates_ymd = _birth_dates()
    ymd = (first8 % 100) * 10**6 + next8 // 100
    at = np.minimum(np.searchsorted(dates_ymd, ymd), len(dates) - 1)
    birth_ok = dates_ymd[at] == ymd
    birth = np.where(birth_ok, dates[at], np.datetime64("NaT"))

    weighted = np.zeros(len(chars), dtype=np.int64)
    for i, weight in enumerate(ID_WEIGHTS):
        weighted += (chars[:, i] - 48) * int(weight)
    check_chars = np.frombuffer("".join(ID_CHECK_CHARS).encode(), dtype=np.uint8)
    check_ok = check_chars[weighted % 11] == chars[:, 17]
    male = digit17 % 2 == 1
    return key, birth, male, birth_ok & check_ok


def _birth_dates() -> tuple[np.ndarray, np.ndarray]:
    """Every possible birth date (1900 to today) and each as the number YYYYMMDD."""
    dates = np.arange(
        np.datetime64("1900-01-01"), np.datetime64(dt.date.today()) + 1
    ).astype("datetime64[D]")
    index = pd.DatetimeIndex(dates)
    ymd = (index.year * 10_000 + index.month * 100 + index.day).to_numpy(np.int64)
    return dates, ymd


def _eight_digits(chars: np.ndarray) -> np.ndarray:
    """Rows of 8 ASCII digits as the numbers they spell (0 to 99,999,999).

    Works on each row as one little-endian 64-bit word, combining digit
    pairs, then pairs of pairs, then halves (the classic SWAR method).
    """
    word = np.ascontiguousarray(chars).view("<u8")[:, 0]
    word = word - np.uint64(0x3030303030303030)
    word = word * np.uint64(10) + (word >> np.uint64(8))
    mask = np.uint64(0x000000FF000000FF)
    high = (word & mask) * np.uint64(100 + (1_000_000 << 32))
    low = ((word >> np.uint64(16)) & mask) * np.uint64(1 + (10_000 << 32))
    return ((high + low) >> np.uint64(32)).astype(np.int64)


def _first_occurrence(keys: np.ndarray) -> np.ndarray:
    """For each row, the first earlier row with the same key (-1 when none)."""
    out = np.full(len(keys), -1, dtype=np.int64)
    valid = keys >= 0
    repeated = pd.Series(keys).duplicated(keep="first").to_numpy() & valid
    if not repeated.any():
        return out
    involved = np.flatnonzero(_isin(keys, keys[repeated]))
    first = pd.Series(involved).groupby(keys[involved]).transform("min").to_numpy()
    out[repeated] = first[repeated[involved]]
    return out


# -- reference data from the store ---------------------------------------------------


@dataclass
class _References:
    """What validation needs from the store, read before the load starts."""

    county: shapely.Geometry | None
    villages: pa.Array | None  # known village codes (None when there are none)
    village_shapes: dict[str, shapely.Geometry]

    @classmethod
    def load(cls, conn: Connection, source: _Source) -> _References:
        known = (
            conn.execute(text("SELECT code FROM admin_unit WHERE level = 'village'"))
            .scalars()
            .all()
        )
        shapes: dict[str, shapely.Geometry] = {}
        if {"lon", "lat", "village_code"} <= source.columns.keys():
            codes = pc.unique(source.whole("village_code"))
            rows = conn.execute(
                text(
                    "SELECT code, ST_AsBinary(geom) FROM admin_unit "
                    "WHERE level = 'village' AND geom IS NOT NULL "
                    "AND code = ANY(:codes)"
                ),
                {"codes": [c for c in codes.to_pylist() if c]},
            ).all()
            shapes = {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}
        return cls(
            county=_county_polygon(conn),
            villages=pa.array(known, type=pa.string()) if known else None,
            village_shapes=shapes,
        )


def _county_polygon(conn: Connection) -> shapely.Geometry | None:
    wkb = conn.execute(
        text(
            "SELECT ST_AsBinary(ST_Union(ST_Buffer(geom::geography, 200)::geometry)) "
            "FROM admin_unit WHERE level = 'county' AND geom IS NOT NULL"
        )
    ).scalar_one_or_none()
    if wkb is None:
        return None
    polygon = shapely.from_wkb(bytes(wkb))
    shapely.prepare(polygon)
    return polygon


# -- validation, one chunk at a time -------------------------------------------------


class _Reasons:
    """Each row's reject reason; the first rule a row breaks is the one kept."""

    def __init__(self, n_rows: int) -> None:
        self.code = np.zeros(n_rows, dtype=np.int32)
        self._texts = [""]
        self._codes: dict[str, int] = {}

    def rejecter(self, start: int, length: int) -> Reject:
        """A ``reject(mask, reason)`` for rows ``start`` to ``start + length``.

        ``reason`` is a message, or a function giving the message of each row
        (by its index in the chunk) among those newly rejected.
        """
        view = self.code[start : start + length]

        def reject(mask: Any, reason: Reason) -> None:
            fresh = np.asarray(mask, dtype=bool) & (view == 0)
            if not fresh.any():
                return
            if isinstance(reason, str):
                view[fresh] = self._code_of(reason)
            else:
                where = np.flatnonzero(fresh)
                view[where] = [self._code_of(t) for t in reason(where)]

        return reject

    def _code_of(self, reason: str) -> int:
        code = self._codes.get(reason)
        if code is None:
            code = self._codes[reason] = len(self._texts)
            self._texts.append(reason)
        return code

    def texts(self, rows: np.ndarray) -> list[str]:
        return [self._texts[c] for c in self.code[rows]]


@dataclass
class _Chunk:
    """One chunk's cleaned values, ready to store (only ``ok`` rows are)."""

    start: int
    ok: np.ndarray
    first_of_household: np.ndarray
    household_code: np.ndarray
    id_key: np.ndarray
    household_no: pa.Array
    name: pa.Array
    id_number: pa.Array
    phone: pa.Array  # null where empty
    address: pa.Array  # null where empty
    village_code: pa.Array  # null where empty
    time_window: pa.Array  # null where empty
    lon: np.ndarray  # WGS84, NaN where not given
    lat: np.ndarray
    male: np.ndarray
    birth_date: np.ndarray
    customer: np.ndarray
    products: np.ndarray  # codes into _Lists.fields
    labels: np.ndarray
    amounts: dict[str, np.ndarray] = field(default_factory=dict)  # hundredths


class _Lists:
    """List cells (products, labels) parsed once per distinct value."""

    def __init__(self, vocabulary: dict[str, str] | None, element_oid: int) -> None:
        self.vocabulary = vocabulary
        self.element_oid = element_oid  # the array column's element type
        self.fields: list[bytes] = []  # each distinct list, in binary COPY format
        self.items: list[frozenset[str]] = []  # the same lists' items
        self._parsed: dict[str, tuple[int, int, str, str]] = {}

    def parse(
        self, values: pa.Array
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Field codes, item counts, unknown items and over-long items per cell.

        The last two are '' where there is none.
        """
        encoded = values.dictionary_encode()
        parsed = [self._parse_cell(str(v)) for v in encoded.dictionary.to_pylist()]
        index = encoded.indices.to_numpy()
        columns = [
            np.array(list(part), dtype=object) for part in zip(*parsed, strict=True)
        ]
        if not columns:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty.astype(object), empty.astype(object)
        codes, counts, unknown, too_long = (c[index] for c in columns)
        return codes.astype(np.int64), counts.astype(np.int64), unknown, too_long

    def _parse_cell(self, cell: str) -> tuple[int, int, str, str]:
        found = self._parsed.get(cell)
        if found is not None:
            return found
        items = [x for x in re.split(_SPLIT, cell) if x]
        if self.vocabulary is None:
            kept, bad = sorted(set(items)), ""
        else:
            mapped = [self.vocabulary.get(x.lower()) for x in items]
            bad = next((x for x, m in zip(items, mapped, strict=True) if m is None), "")
            kept = sorted({m for m in mapped if m})
        too_long = next((x for x in kept if len(x) > LABEL_MAX_LENGTH), "")
        self.fields.append(binary_text_array(kept, self.element_oid))
        self.items.append(frozenset(kept))
        found = self._parsed[cell] = (len(self.fields) - 1, len(kept), bad, too_long)
        return found

    def empty_code(self) -> int:
        return self._parse_cell("")[0]

    def holding(self, item: str) -> np.ndarray:
        """Per field code, whether its list holds ``item``."""
        return np.array([item in items for items in self.items], dtype=bool)


@dataclass
class _Validator:
    """Checks chunks in file order, remembering each household's first row."""

    source: _Source
    keys: _FileKeys
    refs: _References
    source_crs: str
    reasons: _Reasons
    products: _Lists
    labels: _Lists
    lon: np.ndarray  # every row's longitude as read, NaN where not given
    lat: np.ndarray
    household_first: np.ndarray  # first valid row of each household, or -1
    _codes: dict[str, np.ndarray] = field(default_factory=dict)  # per distinct cell

    @classmethod
    def of(
        cls,
        source: _Source,
        keys: _FileKeys,
        refs: _References,
        source_crs: str,
        array_oids: dict[str, int],
    ) -> _Validator:
        n = source.n_rows
        return cls(
            source,
            keys,
            refs,
            source_crs,
            _Reasons(n),
            _Lists(PRODUCT_VALUES, array_oids["products"]),
            _Lists(None, array_oids["labels"]),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(len(keys.household_nos), -1, dtype=np.int64),
        )

    def chunk(self, start: int, stop: int) -> _Chunk:
        """Validate rows ``start`` to ``stop`` (0-based, header excluded)."""
        m = stop - start
        src, keys = self.source, self.keys
        reject = self.reasons.rejecter(start, m)

        household_no = src.get("household_no", start, m)
        name = src.get("name", start, m)
        id_number = keys.id_number.slice(start, m)
        reject(_is_empty(household_no), "household number (户号) is empty")
        reject(_is_empty(name), "name (姓名) is empty")
        reject(_is_empty(id_number), "ID number (身份证号) is empty")
        reject(
            keys.id_invalid[start:stop],
            lambda rows: [keys.id_problem[start + int(i)] for i in rows],
        )
        texts = {
            c: src.get(c, start, m) for c in ("address", "time_window") if c in src
        }
        for column, values in {
            "household_no": household_no,
            "name": name,
            **texts,
        }.items():
            label, limit = MAX_LENGTHS[column]
            reject(
                pc.greater(pc.utf8_length(values), limit).to_numpy(False),
                f"{label} is longer than {limit} characters",
            )

        phone = _phones(src.get("phone", start, m), reject) if "phone" in src else None
        wlon, wlat = self._coordinates(start, m, reject)
        village = self._village_codes(start, m, reject)
        chunk_lists = self._categories(start, m, reject)
        amounts = {
            c: _amounts(src.get(c, start, m), c, reject) for c in AMOUNTS if c in src
        }

        first = keys.duplicate_of[start:stop]
        reject(
            first >= 0,
            lambda rows: [f"same ID number as row {first[i] + 2}" for i in rows],
        )
        first_of_household = self._households(start, m, reject)

        return _Chunk(
            start=start,
            ok=self.reasons.code[start:stop] == 0,
            first_of_household=first_of_household,
            household_code=keys.household_code[start:stop],
            id_key=keys.id_key[start:stop],
            household_no=household_no,
            name=name,
            id_number=id_number,
            phone=_null_if_empty(phone, m),
            address=_null_if_empty(texts.get("address"), m),
            village_code=_null_if_empty(village, m),
            time_window=_null_if_empty(texts.get("time_window"), m),
            lon=wlon,
            lat=wlat,
            male=chunk_lists["male"],
            birth_date=keys.birth_date[start:stop],
            customer=chunk_lists["customer"],
            products=chunk_lists["products"],
            labels=chunk_lists["labels"],
            amounts=amounts,
        )

    def _coordinates(
        self, start: int, m: int, reject: Reject
    ) -> tuple[np.ndarray, np.ndarray]:
        """Check lon/lat; return them in WGS84 (NaN where not given)."""
        if "lon" not in self.source or "lat" not in self.source:
            return np.full(m, np.nan), np.full(m, np.nan)
        raw_lon = self.source.get("lon", start, m)
        raw_lat = self.source.get("lat", start, m)
        lon, lat = _numbers(raw_lon), _numbers(raw_lat)
        given = (~_is_empty(raw_lon)) | (~_is_empty(raw_lat))
        reject(
            given & (np.isnan(lon) | np.isnan(lat)),
            "longitude/latitude (经度/纬度) is not a number or only one of them "
            "is given",
        )
        with np.errstate(invalid="ignore"):
            out_of_range = given & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
            in_china = (lon > 73) & (lon < 136) & (lat > 3) & (lat < 54)
        reject(out_of_range, "longitude must be within ±180 and latitude within ±90")
        reject(
            given & ~out_of_range & ~in_china,
            "coordinates are not in China (longitude 73-136, latitude 3-54); "
            "longitude and latitude may be swapped",
        )
        lon[~given] = np.nan
        lat[~given] = np.nan
        self.lon[start : start + m] = lon
        self.lat[start : start + m] = lat

        wlon, wlat = np.full(m, np.nan), np.full(m, np.nan)
        has = ~np.isnan(lon)
        wlon[has], wlat[has] = to_wgs84(lon[has], lat[has], self.source_crs)
        if self.refs.county is not None:
            inside = np.ones(m, dtype=bool)
            inside[has] = shapely.contains_xy(self.refs.county, wlon[has], wlat[has])
            reject(
                ~inside,
                f"point lies outside the county boundary (after converting from "
                f"{self.source_crs}); check the coordinates and --crs",
            )
        return wlon, wlat

    def _village_codes(self, start: int, m: int, reject: Reject) -> pa.Array:
        src = self.source
        if "village_code" not in src:
            return pa.array([""] * m, type=pa.string())
        codes = src.get("village_code", start, m)
        given = ~_is_empty(codes)
        shaped = pc.match_substring_regex(codes, r"^\d{12}$").to_numpy(False)
        reject(given & ~shaped, "village code (村代码) must have 12 digits")
        if self.refs.villages is not None:
            known = pc.is_in(codes, value_set=self.refs.villages).to_numpy(False)
            reject(
                given & ~known,
                "village code (村代码) is not a village in the store; import the "
                "village boundaries first or correct the code",
            )
        if "lon" not in src and "address" not in src:
            reject(~given, "no location: village code (村代码) is empty")
        elif "lon" in src:
            no_place = ~given & np.isnan(self.lon[start : start + m])
            if "address" in src:
                no_place &= _is_empty(src.get("address", start, m))
            reject(no_place, "no location: no coordinates, village code or address")
        return codes

    def _categories(self, start: int, m: int, reject: Reject) -> dict[str, np.ndarray]:
        src = self.source
        if "products" in src:
            products, n_products, unknown, _ = self.products.parse(
                src.get("products", start, m)
            )
            reject(
                unknown != "",
                lambda rows: [
                    f"unknown product {unknown[i]} (known: 存款, 贷款, 手机银行, POS, "
                    "收单, 信用卡)"
                    for i in rows
                ],
            )
        else:
            products = np.full(m, self.products.empty_code())
            n_products = np.zeros(m, dtype=np.int64)

        if "labels" in src:
            labels, _, _, too_long = self.labels.parse(src.get("labels", start, m))
            reject(
                too_long != "",
                lambda rows: [
                    f"label (标签) {too_long[i]} is longer than {LABEL_MAX_LENGTH} "
                    "characters"
                    for i in rows
                ],
            )
        else:
            labels = np.full(m, self.labels.empty_code())

        customer = n_products > 0
        if "status" in src:
            status = src.get("status", start, m)
            mapped, known = _lookup(pc.utf8_lower(status), STATUS_VALUES)
            empty = _is_empty(status)
            reject(
                ~empty & ~known,
                "customer status (客户状态) must be 客户/customer or "
                "潜在客户/potential",
            )
            customer = np.where(empty, customer, mapped == "customer")

        male = self.keys.male[start : start + m]
        if "gender" in src:
            raw_gender = src.get("gender", start, m)
            gender, known = _lookup(pc.utf8_lower(raw_gender), GENDER_VALUES)
            reject(~_is_empty(raw_gender) & ~known, "gender (性别) must be 男 or 女")
            male = np.where(known, gender == "M", male)
        return {
            "products": products,
            "labels": labels,
            "customer": customer,
            "male": male,
        }

    def _households(self, start: int, m: int, reject: Reject) -> np.ndarray:
        """Rows of one household must agree on where it is (its first valid row wins).

        Returns which rows are the first valid row of their household.
        """
        rows = np.flatnonzero(self.reasons.code[start : start + m] == 0) + start
        codes = self.keys.household_code[rows]
        first = self.household_first[codes]
        new = first < 0
        if new.any():
            new_codes, at = np.unique(codes[new], return_index=True)
            self.household_first[new_codes] = rows[new][at]
            first = self.household_first[codes]
        is_first = np.zeros(m, dtype=bool)
        is_first[rows[first == rows] - start] = True

        later = first != rows
        if later.any():
            row, first_row = rows[later], first[later]
            differs = self._location_differs(row, first_row)
            mask = np.zeros(m, dtype=bool)
            mask[row[differs] - start] = True
            first_of = np.full(m, -1, dtype=np.int64)
            first_of[row - start] = first_row
            household_no = self.source.whole("household_no")
            reject(
                mask,
                lambda where: [
                    f"household {household_no[start + int(i)].as_py()} was given at "
                    f"row {first_of[i] + 2} with a different address or location"
                    for i in where
                ],
            )
        return is_first

    def _location_differs(self, row: np.ndarray, first: np.ndarray) -> np.ndarray:
        differs = np.zeros(len(row), dtype=bool)
        for column in ("address", "village_code"):
            if column in self.source:
                codes = self._codes.get(column)
                if codes is None:
                    encoded = self.source.whole(column).dictionary_encode()
                    codes = self._codes[column] = encoded.indices.to_numpy()
                differs |= codes[row] != codes[first]
        for values in (self.lon, self.lat):
            a, b = values[row], values[first]
            differs |= (a != b) & ~(np.isnan(a) & np.isnan(b))
        return differs


def _is_empty(values: pa.Array) -> np.ndarray:
    return pc.equal(values, "").to_numpy(False)


def _null_if_empty(values: pa.Array | None, length: int) -> pa.Array:
    """Cells with '' as NULL; all NULL for a column the file lacks."""
    if values is None:
        return pa.nulls(length, pa.string())
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _numbers(values: pa.Array) -> np.ndarray:
    """Cells as floats, NaN where empty or not a number, as ``pd.to_numeric`` reads.

    Arrow's parser accepts the same forms (1, -1.5, .5, 1e3, nan, inf); when
    some cell is not a number, pandas reads the chunk to tell which.
    """
    given = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    try:
        parsed = pc.cast(given, pa.float64())
    except pa.ArrowInvalid:
        cells = pd.Series(given.to_pylist(), dtype=object)
        parsed = pa.array(pd.to_numeric(cells, errors="coerce"), type=pa.float64())
    return parsed.to_numpy(zero_copy_only=False).copy()


def _village_codes(values: pa.Array) -> pa.Array:
    """Village codes as text; Excel's '331099100001.0' loses its '.0'."""
    if not pc.any(pc.ends_with(values, ".0")).as_py():
        return values
    return pc.replace_substring_regex(values, r"\.0$", "")


def _lookup(values: pa.Array, mapping: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Each value through ``mapping``, and whether it was a key ('' where not)."""
    encoded = values.dictionary_encode()
    looked_up = [mapping.get(v) for v in encoded.dictionary.to_pylist()]
    index = encoded.indices.to_numpy()
    known = np.array([v is not None for v in looked_up] + [False], dtype=bool)
    mapped = np.array([v or "" for v in looked_up] + [""], dtype=object)
    return mapped[index], known[index]


def _phones(values: pa.Array, reject: Reject) -> pa.Array:
    """Mobile numbers without spaces, dashes or a +86 prefix; check them."""
    fine = pc.or_(pc.equal(values, ""), pc.match_substring_regex(values, _MOBILE))
    if pc.all(fine).as_py() is not False:
        return values
    # clean only the cells that are not already plain mobile numbers
    other = pc.invert(fine)
    cleaned = pc.replace_substring_regex(values.filter(other), r"[\s\-]", "")
    cleaned = pc.replace_substring_regex(cleaned, r"^\+?86(1\d{10})$", r"\1")
    phone = pc.replace_with_mask(values, other, cleaned)
    bad = ~(_is_empty(phone) | pc.match_substring_regex(phone, _MOBILE).to_numpy(False))
    if bad.any():
        messages = mobile_problems(pd.Series(phone.filter(pa.array(bad)).to_pylist()))
        by_row = dict(zip(np.flatnonzero(bad).tolist(), messages.tolist(), strict=True))
        reject(bad, lambda rows: [by_row[int(i)] for i in rows])
    return phone


def _amounts(values: pa.Array, column: str, reject: Reject) -> np.ndarray:
    """Amounts in yuan as hundredths; '12.5万' means 125,000; commas and 元 ignored."""
    plain = pc.match_substring_regex(values, r"^(\d+(\.\d*)?)?$")
    if pc.all(plain).as_py() is not False:  # digits only, or empty: most files
        number, given = _numbers(values), ~_is_empty(values)
    else:
        text_values = pc.replace_substring_regex(values, r"[,，元\s]", "")
        wan = pc.ends_with(text_values, "万").to_numpy(False)
        number = _numbers(pc.replace_substring_regex(text_values, "万+$", ""))
        number = np.where(wan, number * 10_000, number)
        given = ~_is_empty(text_values)
    with np.errstate(invalid="ignore"):
        reject(
            given & (np.isnan(number) | (number < 0)),
            f"{column} must be a non-negative amount in yuan (e.g. 52000 or 5.2万)",
        )
        number = np.where(given & ~np.isnan(number), number, 0.0)
        hundredths = np.round(number * 100)
        too_large = np.abs(hundredths) >= NUMERIC_MAX * 100
    reject(too_large, f"{column} must be less than 100,000,000,000,000 yuan")
    return np.where(too_large, 0, hundredths).astype(np.int64)


# -- coordinate system check -----------------------------------------------------------


class _CrsCheck:
    """Stop the import when the points fit their villages better in another CRS.

    Collects the first valid row of households that have both coordinates and
    a village code, and checks them once `CRS_SAMPLE_HOUSEHOLDS` are in hand
    (usually before the first chunk is stored) or at the end of the file.
    """

    def __init__(
        self, refs: _References, source_crs: str, source: str, report: BatchReport
    ) -> None:
        self.refs = refs
        self.source_crs = source_crs
        self.source = source
        self.report = report
        self.done = not refs.village_shapes
        self._lon: list[np.ndarray] = []
        self._lat: list[np.ndarray] = []
        self._codes: list[list[str | None]] = []
        self._count = 0

    def add(self, chunk: _Chunk, raw_lon: np.ndarray, raw_lat: np.ndarray) -> None:
        if self.done:
            return
        pick = chunk.ok & chunk.first_of_household & ~np.isnan(chunk.lon)
        pick &= pc.is_valid(chunk.village_code).to_numpy(False)
        self._lon.append(raw_lon[pick])
        self._lat.append(raw_lat[pick])
        self._codes.append(chunk.village_code.filter(pa.array(pick)).to_pylist())
        self._count += int(pick.sum())
        if self._count >= CRS_SAMPLE_HOUSEHOLDS:
            self.finish()

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        codes = [c for part in self._codes for c in part][:CRS_SAMPLE_HOUSEHOLDS]
        if len(codes) < 5:
            return
        lon = np.concatenate(self._lon)[: len(codes)]
        lat = np.concatenate(self._lat)[: len(codes)]
        polygons = [self.refs.village_shapes.get(str(c)) for c in codes]
        has = np.array([p is not None for p in polygons], dtype=bool)
        if not has.any():
            return
        detection = check_declared_crs(
            lon[has],
            lat[has],
            np.array([p for p in polygons if p is not None], dtype=object),
            self.source_crs,
            source=self.source,
        )
        share = detection.inside_share.get(self.source_crs, 1.0)
        if share < 0.9:
            self.report.warnings.append(
                f"Only {share:.0%} of households with a village code lie inside "
                "that village's polygon; the village boundaries or the codes may "
                "need care."
            )


# -- the whole import ------------------------------------------------------------------


def _validate_and_store(
    conn: Connection,
    source: _Source,
    keys: _FileKeys,
    raw: pa.Table,
    batch_id: int,
    path: Path,
    source_crs: str,
    report_step: Progress,
) -> BatchReport:
    n = source.n_rows
    report = BatchReport(batch_id, "households", str(path), rows_total=n)
    refs = _References.load(conn, source)
    array_oids = _array_element_oids(conn)
    validator = _Validator.of(source, keys, refs, source_crs, array_oids)
    crs_check = _CrsCheck(refs, source_crs, Path(path).name, report)

    loader = _Loader(conn, batch_id, set(source.columns), keys)
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


# -- storing -----------------------------------------------------------------------

_HOUSEHOLD_STAGE = (
    "household_no, address, village_code, geom, geocode_level, time_window"
)
_PERSON_STAGE = (
    "household_id, name, id_number, phone, gender, birth_date, status, products, "
    "labels, deposit_own, loan_own, deposit_other, loan_other"
)


class _Loader:
    """Stores validated chunks in the open transaction.

    New households and people are copied straight into their tables, with
    ids taken from ranges reserved on their sequences; rows already stored are
    staged and updated at the end in one statement per table. Both tables are
    locked against other writers (SHARE ROW EXCLUSIVE) for the whole import,
    so what was found in the store stays true until the commit.

    A table that gains at least as many rows as it holds, and at least
    `REBUILD_MIN_ROWS`, has its indexes and keys dropped for the load and
    rebuilt by `finish` (see `geogrid.store.bulk.drop_indexes_for_load`);
    it is then locked against readers too until the commit.
    """

    def __init__(
        self, conn: Connection, batch_id: int, columns: set[str], keys: _FileKeys
    ) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.columns = columns
        self.keys = keys
        conn.execute(text("LOCK TABLE household, person IN SHARE ROW EXCLUSIVE MODE"))

        # households: stored id of each household number in the file, or -1
        hh_ids, hh_stored = _stored_households(conn, keys.household_nos)
        self.household_id = hh_ids
        self.household_new = hh_ids < 0
        n_new_households = int(self.household_new.sum())

        # people: whether each row's ID number is stored
        person_keys, p_stored = _stored_people(conn, keys)
        self.person_stored = _isin(keys.id_key, person_keys) & (keys.id_key >= 0)
        new = (keys.id_key >= 0) & ~self.person_stored & (keys.duplicate_of < 0)
        n_new_people = int(new.sum())

        self.next_household_id = reserve_ids(conn, "household", n_new_households)
        self.next_person_id = reserve_ids(conn, "person", n_new_people)
        self.rebuild: list[str] = []
        for table, n_new, stored in (
            ("household", n_new_households, hh_stored),
            ("person", n_new_people, p_stored),
        ):
            if stored is not None and n_new >= max(stored, REBUILD_MIN_ROWS):
                self.rebuild += drop_indexes_for_load(conn, table)

        self.staged = (
            bool((~self.household_new).any()),
            bool(self.person_stored.any()),
        )
        if self.staged[0]:
            conn.execute(
                text(
                    f"CREATE TEMP TABLE _hh_stage ON COMMIT DROP AS SELECT "
                    f"{_HOUSEHOLD_STAGE} FROM household WITH NO DATA"
                )
            )
        if self.staged[1]:
            conn.execute(
                text(
                    f"CREATE TEMP TABLE _person_stage ON COMMIT DROP AS SELECT "
                    f"{_PERSON_STAGE} FROM person WITH NO DATA"
                )
            )
        self.new_households = np.zeros(len(keys.household_nos), dtype=bool)
        self.new_people = 0
        # new households wait for the figures of all their people (the
        # household summary) and are copied by `finish`; person has no
        # foreign key to household, so their people can go first
        self.figures = _Figures(len(keys.household_nos))
        self.waiting: list[tuple[BinaryRows, np.ndarray]] = []  # rows, codes
        # stored households that gain new people: refreshed by `finish`
        self.gaining: list[np.ndarray] = []
        self.kept: list[tuple[np.ndarray, np.ndarray]] = []  # stored people: key, hh
        self.writer = CopyThread(conn)

    def send(self, chunk: _Chunk, products: _Lists, labels: _Lists) -> None:
        """Queue the chunk's valid rows for COPY."""
        codes = chunk.household_code
        self.figures.add(chunk, products)
        first = chunk.ok & chunk.first_of_household
        new_hh = first & self.household_new[codes]
        count = int(new_hh.sum())
        if count:
            ids = np.arange(self.next_household_id, self.next_household_id + count)
            self.next_household_id += count
            self.household_id[codes[new_hh]] = ids
            self.new_households[codes[new_hh]] = True
            self.waiting.append(
                (_household_rows(chunk, new_hh, ids, self.batch_id), codes[new_hh])
            )
        stored_hh = first & ~self.household_new[codes]
        if stored_hh.any():
            self.writer.put("_hh_stage", _household_rows(chunk, stored_hh, None, None))

        in_store = self.person_stored[chunk.start : chunk.start + len(codes)]
        new_p = chunk.ok & ~in_store
        count = int(new_p.sum())
        hh_ids = self.household_id[codes]
        if count:
            ids = np.arange(self.next_person_id, self.next_person_id + count)
            self.next_person_id += count
            self.new_people += count
            rows = _person_rows(
                chunk, new_p, hh_ids, products.fields, labels.fields, ids, self.batch_id
            )
            self.writer.put("person", rows)
            self.gaining.append(hh_ids[new_p & ~self.household_new[codes]])
        old_p = chunk.ok & in_store
        if old_p.any():
            rows = _person_rows(
                chunk, old_p, hh_ids, products.fields, labels.fields, None, None
            )
            self.writer.put("_person_stage", rows)
            self.kept.append((chunk.id_key[old_p], codes[old_p]))

    def finish(self) -> tuple[int, int]:
        """Update stored rows, rebuild dropped indexes; return (stored, valid) rows.

        The household summary (`geogrid.store.summary`) is written with new
        households and refreshed for stored households whose people changed.
        """
        for rows, codes in self.waiting:
            self.figures.write(rows, codes)
            self.writer.put("household", rows)
        self.waiting.clear()
        self.writer.close()
        changed_households = self.new_households.copy()
        changed_people: np.ndarray = np.zeros(0, dtype=np.int64)
        refresh = self.gaining
        if self.staged[0]:
            numbers = self._update_households()
            changed = pc.is_in(self.keys.household_nos, value_set=numbers)
            changed_households |= changed.to_numpy(False)
        if self.staged[1]:
            changed_people, moved = self._update_people()
            refresh.append(moved)
        for statement in self.rebuild:
            started = time.perf_counter()
            self.conn.execute(text(statement))
            log.debug("%s: %.2f s", statement, time.perf_counter() - started)
        touched = np.unique(np.concatenate([np.zeros(0, np.int64), *refresh]))
        if len(touched):
            refresh_household_summary(self.conn, touched.tolist())

        stored = self.new_people
        kept = 0
        for key, household in self.kept:
            kept += len(key)
            stored += int(
                (_isin(key, changed_people) | changed_households[household]).sum()
            )
        return stored, self.new_people + kept

    def stop(self) -> None:
        """End the COPY thread (after a failure; a no-op once finished)."""
        self.writer.stop()

    def _update_households(self) -> pa.Array:
        self.conn.execute(text("ANALYZE _hh_stage"))
        changed = self.conn.execute(
            text(
                """
                UPDATE household AS h SET
                    address = COALESCE(s.address, h.address),
                    village_code = COALESCE(s.village_code, h.village_code),
                    geom = COALESCE(s.geom, h.geom),
                    geocode_level = COALESCE(s.geocode_level, h.geocode_level),
                    time_window = COALESCE(s.time_window, h.time_window),
                    batch_id = :batch, updated_at = now()
                FROM _hh_stage s
                WHERE h.household_no = s.household_no
                  AND ((s.address IS NOT NULL AND s.address IS DISTINCT FROM h.address)
                   OR (s.village_code IS NOT NULL
                       AND s.village_code IS DISTINCT FROM h.village_code)
                   OR (s.geom IS NOT NULL AND (h.geom IS NULL
                       OR NOT ST_Equals(s.geom, h.geom)))
                   OR (s.time_window IS NOT NULL
                       AND s.time_window IS DISTINCT FROM h.time_window))
                RETURNING h.household_no
                """
            ),
            {"batch": self.batch_id},
        )
        return pa.array(changed.scalars().all(), type=pa.string())

    def _update_people(self) -> tuple[np.ndarray, np.ndarray]:
        """Update stored people from the stage.

        Returns the keys of the people changed and the households they were
        in and are in now.
        """
        # columns the file did not have keep their stored values
        optional = ["phone", "labels", *AMOUNTS]
        always = ["household_id", "name", "gender", "birth_date", "status", "products"]
        updated = always + [c for c in optional if c in self.columns]
        set_clause = ", ".join(f"{c} = s.{c}" for c in updated)
        distinct = " OR ".join(f"o.{c} IS DISTINCT FROM s.{c}" for c in updated)
        self.conn.execute(text("ANALYZE _person_stage"))
        # the people that change, found in one join, with the household they
        # were in; then updated by primary key
        changed = self.conn.execute(
            text(
                f"WITH changed AS MATERIALIZED (SELECT s.*, o.id AS person_id, "
                f"o.household_id AS before FROM _person_stage s "
                f"JOIN person o ON o.id_number = s.id_number WHERE {distinct}) "
                f"UPDATE person AS p SET {set_clause}, batch_id = :batch, "
                f"updated_at = now() FROM changed s WHERE p.id = s.person_id "
                "RETURNING p.id_number, p.household_id, s.before"
            ),
            {"batch": self.batch_id},
        ).all()
        numbers = pa.array([r[0] for r in changed], type=pa.string())
        households = np.array(
            [r[1] for r in changed] + [r[2] for r in changed], dtype=np.int64
        )
        return _id_keys(numbers), households


class _Figures:
    """The household summary of new households, summed over the file's rows.

    Indexed by household code (`_FileKeys.household_code`); only valid rows
    count. Stored people who move into a new household are counted with the
    file's values, which may lack columns the store has: `_Loader.finish`
    refreshes those households from the store.
    """

    def __init__(self, n_households: int) -> None:
        self.n = n_households
        self.counts = {
            name: np.zeros(n_households, dtype=np.int64)
            for name in SUMMARY_COLUMNS
            if name != "deposit_other_total"
        }
        self.deposit_other = np.zeros(n_households, dtype=np.int64)  # hundredths

    def add(self, chunk: _Chunk, products: _Lists) -> None:
        ok = chunk.ok
        codes = chunk.household_code[ok]
        customer = chunk.customer[ok]
        held = chunk.products[ok]
        flags = {
            "members": np.ones(len(codes), dtype=bool),
            "customers": customer,
            "potential_members": ~customer,
        }
        for product in ("mobile_banking", "pos", "payment"):
            flags[f"customers_without_{product}"] = (
                customer & ~products.holding(product)[held]
            )
        for name, flag in flags.items():
            self.counts[name] += np.bincount(codes[flag], minlength=self.n)
        amounts = chunk.amounts.get("deposit_other")
        if amounts is not None:
            self.deposit_other += np.bincount(
                codes, weights=amounts[ok], minlength=self.n
            ).astype(np.int64)

    def write(self, rows: BinaryRows, codes: np.ndarray) -> None:
        """Add the figures of these households (by code) to their rows."""
        for name, counts in self.counts.items():
            rows.int2(name, counts[codes])
        rows.numeric("deposit_other_total", self.deposit_other[codes])


def _household_rows(
    chunk: _Chunk, mask: np.ndarray, ids: np.ndarray | None, batch_id: int | None
) -> BinaryRows:
    keep = pa.array(mask)
    rows = BinaryRows(int(mask.sum()))
    if ids is not None:
        rows.int8("id", ids)
    lon, lat = chunk.lon[mask], chunk.lat[mask]
    rows.text("household_no", chunk.household_no.filter(keep))
    rows.text("address", chunk.address.filter(keep))
    rows.text("village_code", chunk.village_code.filter(keep))
    rows.point("geom", lon, lat, 4326)
    rows.choice("geocode_level", np.isnan(lon).astype(np.int64), [b"exact", None])
    rows.text("time_window", chunk.time_window.filter(keep))
    if batch_id is not None:
        rows.int4("batch_id", np.full(rows.n_rows, batch_id))
    return rows


def _person_rows(
    chunk: _Chunk,
    mask: np.ndarray,
    household_ids: np.ndarray,
    products: list[bytes],
    labels: list[bytes],
    ids: np.ndarray | None,
    batch_id: int | None,
) -> BinaryRows:
    keep = pa.array(mask)
    rows = BinaryRows(int(mask.sum()))
    if ids is not None:
        rows.int8("id", ids)
    rows.int8("household_id", household_ids[mask])
    rows.text("name", chunk.name.filter(keep))
    rows.text("id_number", chunk.id_number.filter(keep))
    rows.text("phone", chunk.phone.filter(keep))
    rows.choice("gender", np.where(chunk.male[mask], 0, 1), [b"M", b"F"])
    rows.date("birth_date", chunk.birth_date[mask])
    statuses: list[bytes | None] = [b"customer", b"potential"]
    rows.choice("status", np.where(chunk.customer[mask], 0, 1), statuses)
    rows.choice("products", chunk.products[mask], list(products))
    rows.choice("labels", chunk.labels[mask], list(labels))
    zeros = np.zeros(rows.n_rows, dtype=np.int64)
    for column in AMOUNTS:
        amounts = chunk.amounts.get(column)
        rows.numeric(column, zeros if amounts is None else amounts[mask])
    if batch_id is not None:
        rows.int4("batch_id", np.full(rows.n_rows, batch_id))
    return rows


# -- store look-ups and index handling ---------------------------------------------


def _array_element_oids(conn: Connection) -> dict[str, int]:
    """Element type of person's array columns, which binary COPY must name."""
    rows = conn.execute(
        text(
            "SELECT a.attname, t.typelem FROM pg_attribute a "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = 'person'::regclass "
            "AND a.attname IN ('products', 'labels')"
        )
    ).all()
    return {name: int(oid) for name, oid in rows}


def _count_up_to(conn: Connection, table: str, limit: int) -> int:
    return int(
        conn.execute(
            text(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT :n) s"),
            {"n": limit},
        ).scalar_one()
    )


def _stored_households(
    conn: Connection, numbers: pa.Array
) -> tuple[np.ndarray, int | None]:
    """Stored id of each household number (-1 when new), and the table's size.

    The size is given only when the table holds no more rows than ``numbers``,
    in which case all of it is read; otherwise the numbers are looked up.
    """
    limit = len(numbers) + 1
    stored = _count_up_to(conn, "household", limit)
    ids = np.full(len(numbers), -1, dtype=np.int64)
    if stored == 0:
        return ids, 0
    if stored >= limit:
        _stage_keys(conn, numbers)
    found = query_arrow(
        conn,
        "SELECT household_no, id FROM household"
        + (" JOIN _keys ON key = household_no" if stored >= limit else ""),
        {"household_no": pa.string(), "id": pa.int64()},
    )
    at = pc.index_in(numbers, value_set=found.column("household_no"))
    hit = pc.is_valid(at).to_numpy(zero_copy_only=False)
    where = at.filter(pa.array(hit)).to_numpy()
    ids[hit] = found.column("id").to_numpy()[where]
    return ids, stored if stored < limit else None


def _stored_people(conn: Connection, keys: _FileKeys) -> tuple[np.ndarray, int | None]:
    """Keys of the file's stored ID numbers, and the table's size (as above)."""
    wanted = np.flatnonzero(keys.id_key >= 0)
    limit = len(wanted) + 1
    stored = _count_up_to(conn, "person", limit)
    if stored == 0:
        return np.zeros(0, dtype=np.int64), 0
    if stored >= limit:
        first = wanted[keys.duplicate_of[wanted] < 0]
        _stage_keys(conn, keys.id_number.take(pa.array(first)))
    found = query_arrow(
        conn,
        "SELECT id_number FROM person"
        + (" JOIN _keys ON key = id_number" if stored >= limit else ""),
        {"id_number": pa.string()},
    )
    numbers = found.column("id_number").combine_chunks()
    return _id_keys(numbers), stored if stored < limit else None


def _id_keys(numbers: pa.Array) -> np.ndarray:
    """Keys (as in `_FileKeys`) of well-formed ID numbers; others are dropped."""
    return _read_id_numbers(numbers.filter(pa.array(_id_shaped(numbers))))[0]


def _isin(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.isin`` by hashing, much faster than numpy's for large arrays."""
    if len(wanted) == 0:
        return np.zeros(len(values), dtype=bool)
    return pd.Series(values).isin(wanted).to_numpy()


def _stage_keys(conn: Connection, values: pa.Array) -> None:
    conn.execute(text("DROP TABLE IF EXISTS _keys"))
    conn.execute(text("CREATE TEMP TABLE _keys (key text) ON COMMIT DROP"))
    rows = BinaryRows(len(values))
    rows.text("key", values)
    copy_binary(conn, "_keys", rows)
    conn.execute(text("ANALYZE _keys"))

"""Validation of household rows a chunk at a time, in file order.

`Validator.chunk` checks one range of rows against the rules of the file's
columns, the villages and county in the store (`References`) and the rows
before it (repeated ID numbers, households given in two places), and returns
the cleaned values as a `Chunk`, ready to store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from sqlalchemy import Connection, text

from geogrid.crs import to_wgs84
from geogrid.ingest.households.cells import (
    Lists,
    Reject,
    _amounts,
    _is_empty,
    _lookup,
    _null_if_empty,
    _numbers,
    _phones,
    _Reasons,
)
from geogrid.ingest.households.keys import FileKeys
from geogrid.ingest.households.source import (
    AMOUNTS,
    GENDER_VALUES,
    LABEL_MAX_LENGTH,
    MAX_LENGTHS,
    PRODUCT_VALUES,
    STATUS_VALUES,
    Source,
)


@dataclass
class References:
    """What validation needs from the store, read before the load starts."""

    county: shapely.Geometry | None
    villages: pa.Array | None  # known village codes (None when there are none)
    village_shapes: dict[str, shapely.Geometry]

    @classmethod
    def load(cls, conn: Connection, source: Source) -> References:
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


@dataclass
class Chunk:
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
    products: np.ndarray  # codes into Lists.fields
    labels: np.ndarray
    amounts: dict[str, np.ndarray] = field(default_factory=dict)  # hundredths


@dataclass
class Validator:
    """Checks chunks in file order, remembering each household's first row."""

    source: Source
    keys: FileKeys
    refs: References
    source_crs: str
    reasons: _Reasons
    products: Lists
    labels: Lists
    lon: np.ndarray  # every row's longitude as read, NaN where not given
    lat: np.ndarray
    household_first: np.ndarray  # first valid row of each household, or -1
    _codes: dict[str, np.ndarray] = field(default_factory=dict)  # per distinct cell

    @classmethod
    def of(
        cls,
        source: Source,
        keys: FileKeys,
        refs: References,
        source_crs: str,
        array_oids: dict[str, int],
    ) -> Validator:
        n = source.n_rows
        return cls(
            source,
            keys,
            refs,
            source_crs,
            _Reasons(n),
            Lists(PRODUCT_VALUES, array_oids["products"]),
            Lists(None, array_oids["labels"]),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(len(keys.household_nos), -1, dtype=np.int64),
        )

    def chunk(self, start: int, stop: int) -> Chunk:
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

        return Chunk(
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

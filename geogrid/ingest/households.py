"""Import households and their members from CSV or XLSX; every row stored or kept.

One input row is one person. Household columns (number, address, village,
coordinates) repeat on each member's row. A person is identified by the
resident ID number: importing the same person again updates them, never
duplicates them, and importing the same file twice changes nothing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geogrid.crs import check_declared_crs, parse_crs, to_wgs84
from geogrid.errors import InvalidInput
from geogrid.ingest.batch import (
    BatchReport,
    close_batch,
    fail_batch,
    open_batch,
    store_rejects,
)
from geogrid.ingest.columns import map_columns
from geogrid.ingest.readers import read_table
from geogrid.store.bulk import copy_frame, pg_text_array
from geogrid.validate import id_number_problems, is_admin_code, mobile_problems

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
    raw = read_table(path, sheet)
    frame, columns = _canonical(raw, Path(path).name)
    report_step("validating", 0.2)

    batch_id = open_batch(engine, "households", path, source_crs, actor)
    try:
        with engine.begin() as conn:
            report = _validate_and_store(
                conn, frame, columns, raw, batch_id, path, source_crs, report_step
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


def _canonical(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, set[str]]:
    """Rename recognised headers to canonical names; check required columns."""
    mapping = map_columns(raw.columns, ALIASES)
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        wanted = "; ".join(f"{c} ({'/'.join(ALIASES[c][:2])})" for c in missing)
        raise InvalidInput(
            f"{source} lacks required columns: {wanted}. Its headers are "
            f"{', '.join(map(str, raw.columns)) or 'none'}. Rename the columns "
            "(Chinese or English headers both work) and import again.",
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
    frame = pd.DataFrame({name: raw[col] for name, col in mapping.items()})
    frame["_row"] = np.arange(2, len(raw) + 2)  # row 1 is the header
    return frame, set(mapping)


def _validate_and_store(
    conn: Connection,
    frame: pd.DataFrame,
    columns: set[str],
    raw: pd.DataFrame,
    batch_id: int,
    path: Path,
    source_crs: str,
    report_step: Progress,
) -> BatchReport:
    frame, reasons = _row_reasons(conn, frame, columns, source_crs)
    ok = (reasons == "").to_numpy()
    report = BatchReport(batch_id, "households", str(path), rows_total=len(frame))

    if {"lon", "lat", "village_code"} <= columns:
        _check_crs(conn, frame[ok], source_crs, Path(path).name, report)
    report_step("storing", 0.5)

    good = frame[ok]
    stored = _store(conn, good, columns, batch_id, source_crs)
    report.rows_stored = stored
    report.rows_unchanged = len(good) - stored

    rejected = raw.iloc[np.flatnonzero(~ok)].copy()
    rejected["_row"] = frame["_row"].to_numpy()[~ok]
    store_rejects(conn, batch_id, rejected, reasons[~ok])
    report.rows_rejected = int((~ok).sum())
    counts = reasons[~ok].value_counts()
    report.reasons = {str(k): int(v) for k, v in counts.items()}
    close_batch(conn, report)
    return report


# -- validation --------------------------------------------------------------------


def _row_reasons(
    conn: Connection, frame: pd.DataFrame, columns: set[str], source_crs: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Clean values and give every row its reject reason ('' when fine)."""
    reasons = pd.Series("", index=frame.index, dtype=object)

    def reject(mask: pd.Series | np.ndarray | bool, reason: str | pd.Series) -> None:
        mask = pd.Series(mask, index=frame.index) & (reasons == "")
        if isinstance(reason, pd.Series):
            reasons[mask] = reason[mask]
        else:
            reasons[mask] = reason

    frame = frame.copy()
    reject(frame["household_no"] == "", "household number (户号) is empty")
    reject(frame["name"] == "", "name (姓名) is empty")

    frame["id_number"] = frame["id_number"].str.upper().str.replace(" ", "")
    reject(frame["id_number"] == "", "ID number (身份证号) is empty")
    reject(True, id_number_problems(frame["id_number"]))

    if "phone" in columns:
        phone = frame["phone"].str.replace(r"[\s\-]", "", regex=True)
        frame["phone"] = phone.str.replace(r"^(\+?86)(?=1\d{10}$)", "", regex=True)
        reject(True, mobile_problems(frame["phone"]))

    _check_coordinates(conn, frame, columns, source_crs, reject)
    _check_village_codes(conn, frame, columns, reject)
    _clean_categories(frame, columns, reject)
    for column in AMOUNTS:
        if column in columns:
            frame[column] = _parse_amounts(frame[column], column, reject)

    dup = frame["id_number"].duplicated(keep="first") & (frame["id_number"] != "")
    first_row = frame.groupby("id_number")["_row"].transform("first").astype(str)
    reject(dup, "same ID number as row " + first_row)
    _check_household_consistency(frame, reasons == "", reject)
    return frame, reasons


def _check_coordinates(
    conn: Connection,
    frame: pd.DataFrame,
    columns: set[str],
    source_crs: str,
    reject: Callable[..., None],
) -> None:
    if not {"lon", "lat"} <= columns:
        frame["lon"] = np.nan
        frame["lat"] = np.nan
        return
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    given = (frame["lon"] != "") | (frame["lat"] != "")
    reject(
        given & (lon.isna() | lat.isna()),
        "longitude/latitude (经度/纬度) is not a number or only one of them is given",
    )
    out_of_range = given & ((lon.abs() > 180) | (lat.abs() > 90))
    reject(out_of_range, "longitude must be within ±180 and latitude within ±90")
    in_china = (lon > 73) & (lon < 136) & (lat > 3) & (lat < 54)
    reject(
        given & ~out_of_range & ~in_china,
        "coordinates are not in China (longitude 73-136, latitude 3-54); "
        "longitude and latitude may be swapped",
    )
    frame["lon"] = lon.where(given)
    frame["lat"] = lat.where(given)

    county = _county_polygon(conn)
    if county is None:
        return
    has = frame["lon"].notna().to_numpy()
    wlon, wlat = to_wgs84(
        frame["lon"].to_numpy()[has], frame["lat"].to_numpy()[has], source_crs
    )
    inside = np.ones(len(frame), dtype=bool)
    inside[has] = shapely.contains_xy(county, wlon, wlat)
    reject(
        ~inside,
        f"point lies outside the county boundary (after converting from "
        f"{source_crs}); check the coordinates and --crs",
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


def _check_village_codes(
    conn: Connection,
    frame: pd.DataFrame,
    columns: set[str],
    reject: Callable[..., None],
) -> None:
    if "village_code" not in columns:
        frame["village_code"] = ""
        return
    codes = frame["village_code"].str.replace(r"\.0$", "", regex=True)
    frame["village_code"] = codes
    given = codes != ""
    reject(given & ~is_admin_code(codes), "village code (村代码) must have 12 digits")
    known = set(
        conn.execute(text("SELECT code FROM admin_unit WHERE level = 'village'"))
        .scalars()
        .all()
    )
    if known:
        reject(
            given & ~codes.isin(known),
            "village code (村代码) is not a village in the store; import the "
            "village boundaries first or correct the code",
        )
    if "lon" not in columns and "address" not in columns:
        reject(~given, "no location: village code (村代码) is empty")
    elif "lon" in columns:
        no_place = (~given) & frame["lon"].isna()
        if "address" in columns:
            no_place &= frame["address"] == ""
        reject(no_place, "no location: no coordinates, village code or address")


def _clean_categories(
    frame: pd.DataFrame, columns: set[str], reject: Callable[..., None]
) -> None:
    if "products" in columns:
        products, n_products, unknown = _parse_list(frame["products"], PRODUCT_VALUES)
        reject(
            unknown != "",
            "unknown product " + unknown + " (known: 存款, 贷款, 手机银行, POS, "
            "收单, 信用卡)",
        )
        frame["products"] = products
    else:
        frame["products"] = "{}"
        n_products = pd.Series(0, index=frame.index)

    if "labels" in columns:
        frame["labels"] = _parse_list(frame["labels"], None)[0]

    derived = np.where(n_products > 0, "customer", "potential")
    if "status" in columns:
        key = frame["status"].str.lower()
        status = key.map(STATUS_VALUES)
        empty = key == ""
        reject(
            ~empty & status.isna(),
            "customer status (客户状态) must be 客户/customer or 潜在客户/potential",
        )
        frame["status"] = np.where(empty, derived, status.astype(object))
    else:
        frame["status"] = derived

    gender_from_id = np.where(
        frame["id_number"].str.slice(16, 17).isin(list("13579")), "M", "F"
    )
    if "gender" in columns:
        gender = frame["gender"].str.lower().map(GENDER_VALUES)
        reject(
            (frame["gender"] != "") & gender.isna(), "gender (性别) must be 男 or 女"
        )
        frame["gender"] = np.where(gender.isna(), gender_from_id, gender.astype(object))
    else:
        frame["gender"] = gender_from_id
    frame["birth_date"] = pd.to_datetime(
        frame["id_number"].str.slice(6, 14), format="%Y%m%d", errors="coerce"
    ).dt.date


def _parse_list(
    values: pd.Series, vocabulary: dict[str, str] | None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Split list cells, map each item through ``vocabulary`` (None: keep words).

    Work is done once per distinct cell, as such columns repeat few values.
    Returns the PostgreSQL array literal, the item count and the first item
    not in the vocabulary ('' when all are known), aligned with ``values``.
    """
    literal: dict[str, str] = {}
    count: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for cell in values.unique():
        items = [x for x in re.split(_SPLIT, str(cell)) if x]
        if vocabulary is None:
            kept, bad = sorted(set(items)), ""
        else:
            mapped = [vocabulary.get(x.lower()) for x in items]
            bad = next((x for x, m in zip(items, mapped, strict=True) if m is None), "")
            kept = sorted({m for m in mapped if m})
        literal[cell] = pg_text_array(pd.Series([kept])).iloc[0]
        count[cell] = len(kept)
        unknown[cell] = bad
    return values.map(literal), values.map(count), values.map(unknown)


def _parse_amounts(
    values: pd.Series, column: str, reject: Callable[..., None]
) -> pd.Series:
    """Amounts in yuan; '12.5万' means 125,000; commas and 元 are ignored."""
    text_values = values.str.replace(r"[,，元\s]", "", regex=True)
    wan = text_values.str.endswith("万")
    number = pd.to_numeric(text_values.str.rstrip("万"), errors="coerce")
    number = number.where(~wan, number * 10_000)
    given = text_values != ""
    reject(
        given & (number.isna() | (number < 0)),
        f"{column} must be a non-negative amount in yuan (e.g. 52000 or 5.2万)",
    )
    return number.where(given, 0.0).fillna(0.0).round(2)


def _check_household_consistency(
    frame: pd.DataFrame, alive: pd.Series, reject: Callable[..., None]
) -> None:
    """Rows of one household must agree on where it is (its first valid row wins)."""
    keys = [c for c in ("address", "village_code", "lon", "lat") if c in frame]
    live = frame[alive]
    groups = live.groupby("household_no", sort=False)
    differs = pd.Series(False, index=live.index)
    for key in keys:
        values = live[key]
        first = groups[key].transform("first")
        both_missing = values.isna() & first.isna()
        differs |= (values != first) & ~both_missing
    if not differs.any():
        return
    first_row = groups["_row"].transform("first").astype(str)
    message = (
        "household "
        + live["household_no"]
        + " was given at row "
        + first_row
        + " with a different address or location"
    )
    reject(
        differs.reindex(frame.index, fill_value=False),
        message.reindex(frame.index, fill_value=""),
    )


def _check_crs(
    conn: Connection,
    good: pd.DataFrame,
    source_crs: str,
    source: str,
    report: BatchReport,
) -> None:
    """Stop the import when the points fit their villages better in another CRS."""
    sample = good[(good["village_code"] != "") & good["lon"].notna()]
    sample = sample.drop_duplicates("household_no")
    if len(sample) > 20_000:
        sample = sample.sample(20_000, random_state=0)
    if len(sample) < 5:
        return
    import geopandas as gpd

    villages = gpd.read_postgis(
        text(
            "SELECT code, geom FROM admin_unit WHERE level = 'village' "
            "AND geom IS NOT NULL AND code = ANY(:codes)"
        ),
        conn,
        params={"codes": list(sample["village_code"].unique())},
        geom_col="geom",
    )
    if villages.empty:
        return
    lookup = dict(zip(villages["code"], villages.geometry, strict=True))
    polygons = sample["village_code"].map(lookup)
    has = polygons.notna().to_numpy()
    detection = check_declared_crs(
        sample["lon"].to_numpy()[has],
        sample["lat"].to_numpy()[has],
        polygons[has].to_numpy(),
        source_crs,
        source=source,
    )
    share = detection.inside_share.get(source_crs, 1.0)
    if share < 0.9:
        report.warnings.append(
            f"Only {share:.0%} of households with a village code lie inside that "
            "village's polygon; the village boundaries or the codes may need care."
        )


# -- storing -----------------------------------------------------------------------


def _store(
    conn: Connection,
    good: pd.DataFrame,
    columns: set[str],
    batch_id: int,
    source_crs: str,
) -> int:
    """Upsert households then people; return how many rows changed the store."""
    if good.empty:
        return 0
    lon = good["lon"].to_numpy(dtype=float, copy=True)
    lat = good["lat"].to_numpy(dtype=float, copy=True)
    has = ~np.isnan(lon)
    lon[has], lat[has] = to_wgs84(lon[has], lat[has], source_crs)
    households = pd.DataFrame(
        {
            "household_no": good["household_no"],
            "address": good.get("address", pd.Series(None, index=good.index)),
            "village_code": good["village_code"].replace("", None),
            "lon": lon,
            "lat": lat,
            "time_window": good.get("time_window", pd.Series(None, index=good.index)),
        }
    ).drop_duplicates("household_no")
    households["address"] = households["address"].replace("", None)
    households["time_window"] = households["time_window"].replace("", None)

    conn.execute(
        text(
            "CREATE TEMP TABLE _hh (household_no text, address text, village_code "
            "text, lon float8, lat float8, time_window text) ON COMMIT DROP"
        )
    )
    copy_frame(conn, "_hh", households)
    conn.execute(
        text(
            "CREATE TEMP TABLE _changed_hh (household_no text) ON COMMIT DROP; "
            "CREATE TEMP TABLE _changed_p (id_number text) ON COMMIT DROP"
        )
    )
    conn.execute(
        text(
            """
                WITH up AS (
                INSERT INTO household AS h (household_no, address, village_code,
                    geom, geocode_level, time_window, batch_id, updated_at)
                SELECT household_no, address, village_code,
                       CASE WHEN lon IS NULL THEN NULL
                            ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END,
                       CASE WHEN lon IS NULL THEN NULL ELSE 'exact' END,
                       time_window, :batch, now()
                FROM _hh ORDER BY household_no  -- index-friendly order
                ON CONFLICT (household_no) DO UPDATE SET
                    address = COALESCE(EXCLUDED.address, h.address),
                    village_code = COALESCE(EXCLUDED.village_code, h.village_code),
                    geom = COALESCE(EXCLUDED.geom, h.geom),
                    geocode_level = COALESCE(EXCLUDED.geocode_level, h.geocode_level),
                    time_window = COALESCE(EXCLUDED.time_window, h.time_window),
                    batch_id = EXCLUDED.batch_id, updated_at = now()
                WHERE (EXCLUDED.address IS NOT NULL
                       AND EXCLUDED.address IS DISTINCT FROM h.address)
                   OR (EXCLUDED.village_code IS NOT NULL
                       AND EXCLUDED.village_code IS DISTINCT FROM h.village_code)
                   OR (EXCLUDED.geom IS NOT NULL AND (h.geom IS NULL
                       OR NOT ST_Equals(EXCLUDED.geom, h.geom)))
                   OR (EXCLUDED.time_window IS NOT NULL
                       AND EXCLUDED.time_window IS DISTINCT FROM h.time_window)
                RETURNING household_no)
                INSERT INTO _changed_hh SELECT household_no FROM up
                """
        ),
        {"batch": batch_id},
    )
    _store_people(conn, good, columns, batch_id)
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM _people s WHERE s.id_number IN "
                "(SELECT id_number FROM _changed_p) OR s.household_no IN "
                "(SELECT household_no FROM _changed_hh)"
            )
        ).scalar_one()
    )


def _store_people(
    conn: Connection, good: pd.DataFrame, columns: set[str], batch_id: int
) -> None:
    people = pd.DataFrame(
        {
            "household_no": good["household_no"],
            "name": good["name"],
            "id_number": good["id_number"],
            "phone": good["phone"].replace("", None) if "phone" in columns else None,
            "gender": good["gender"],
            "birth_date": good["birth_date"],
            "status": good["status"],
            "products": good["products"],
            "labels": good["labels"] if "labels" in columns else None,
            **{c: good[c] if c in columns else None for c in AMOUNTS},
        }
    )
    conn.execute(
        text(
            "CREATE TEMP TABLE _people (household_no text, name text, id_number "
            "text, phone text, gender text, birth_date date, status text, "
            "products text[], labels text[], deposit_own numeric, loan_own "
            "numeric, deposit_other numeric, loan_other numeric) ON COMMIT DROP"
        )
    )
    copy_frame(conn, "_people", people)

    # columns the file did not have keep their stored values
    optional = ["phone", "labels", *AMOUNTS]
    always = ["household_id", "name", "gender", "birth_date", "status", "products"]
    updated = always + [c for c in optional if c in columns]
    set_clause = ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
    distinct = " OR ".join(f"p.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in updated)
    defaults = {"labels": "'{}'", **{c: "0" for c in AMOUNTS}}
    select_cols = ", ".join(
        f"COALESCE(s.{c}, {defaults[c]})" if c in defaults else f"s.{c}"
        for c in ["phone", "labels", *AMOUNTS]
    )
    sql = f"""
        WITH up AS (
        INSERT INTO person AS p (household_id, name, id_number, gender, birth_date,
            status, products, phone, labels, deposit_own, loan_own, deposit_other,
            loan_other, batch_id, updated_at)
        SELECT h.id, s.name, s.id_number, s.gender, s.birth_date, s.status,
               s.products, {select_cols}, :batch, now()
        FROM _people s JOIN household h USING (household_no) ORDER BY s.id_number
        ON CONFLICT (id_number) DO UPDATE SET {set_clause},
            batch_id = EXCLUDED.batch_id, updated_at = now()
        WHERE {distinct}
        RETURNING id_number)
        INSERT INTO _changed_p SELECT id_number FROM up
    """
    conn.execute(text(sql), {"batch": batch_id})

"""Import administrative boundaries (county, town, village) into the store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geogrid.crs import check_declared_crs, convert_gdf, convert_points, parse_crs
from geogrid.errors import InvalidInput
from geogrid.ingest.batch import (
    BatchReport,
    close_batch,
    fail_batch,
    open_batch,
    store_rejects,
)
from geogrid.ingest.columns import pick_column
from geogrid.ingest.readers import read_gis_file
from geogrid.store.bulk import copy_frame
from geogrid.store.models import ADMIN_LEVELS
from geogrid.validate import admin_level_of, parent_code_of

log = logging.getLogger(__name__)

CODE_COLUMNS = (
    "code",
    "adcode",
    "admin_code",
    "village_code",
    "town_code",
    "county_code",
    "区划代码",
    "行政区划代码",
    "统计用区划代码",
    "代码",
    "编码",
)
NAME_COLUMNS = (
    "name",
    "village_name",
    "town_name",
    "county_name",
    "名称",
    "村名",
    "村名称",
    "镇名",
    "单位名称",
)
# a rough box around China, to tell degrees from projected metres
CHINA_BOX = (73.0, 3.0, 136.0, 54.0)


def import_boundaries(
    engine: Engine,
    path: Path,
    *,
    level: str,
    crs: str,
    code: str | None = None,
    name: str | None = None,
    actor: str | None = None,
) -> BatchReport:
    """Import county, town or village polygons; each feature stored or rejected.

    Parameters
    ----------
    engine
        The store.
    path
        GeoJSON (collection, feature or bare geometry), Shapefile or GeoPackage.
    level
        'county', 'town' or 'village'.
    crs
        Coordinate system of the file: wgs84, cgcs2000, gcj02, bd09 or EPSG:n.
    code, name
        Code and name for a file with a single unnamed geometry (as public
        county outlines often are).
    """
    if level not in ADMIN_LEVELS:
        raise InvalidInput(
            f"--level must be one of {', '.join(ADMIN_LEVELS)}; got {level!r}."
        )
    source_crs = parse_crs(crs)
    started = time.perf_counter()
    gdf = read_gis_file(path)
    frame = _normalise_columns(gdf, path, code=code, name=name)
    frame = _to_wgs84(frame, source_crs, path)

    batch_id = open_batch(engine, "boundaries", path, source_crs, actor)
    try:
        report = _store(engine, frame, level, batch_id, path, source_crs)
    except Exception as exc:
        fail_batch(engine, batch_id, exc)
        raise
    log.info(
        "Imported %s boundaries from %s: %d stored, %d unchanged, %d rejected, "
        "%d repaired in %.1f s",
        level,
        Path(path).name,
        report.rows_stored,
        report.rows_unchanged,
        report.rows_rejected,
        report.repaired,
        time.perf_counter() - started,
    )
    return report


def _normalise_columns(
    gdf: gpd.GeoDataFrame, path: Path, *, code: str | None, name: str | None
) -> gpd.GeoDataFrame:
    """Canonical columns: _row, code, name, geometry (and the raw attributes)."""
    frame = gdf.copy()
    frame["_row"] = np.arange(1, len(frame) + 1)
    code_col = pick_column(frame.columns, CODE_COLUMNS)
    name_col = pick_column(frame.columns, NAME_COLUMNS)

    if code is not None:
        if len(frame) != 1:
            raise InvalidInput(
                f"--code was given but {Path(path).name} holds {len(frame)} "
                "features; --code and --name are for single-geometry files only. "
                "Put the codes in a 'code' attribute instead."
            )
        frame["code"] = code
    elif code_col is None:
        raise InvalidInput(
            f"{Path(path).name} has no code attribute (looked for "
            f"{', '.join(CODE_COLUMNS[:4])}, 区划代码, 代码, ...); its attributes "
            f"are {', '.join(map(str, gdf.columns.drop('geometry'))) or 'none'}. "
            "Rename the code column, or pass --code and --name for a file with "
            "a single geometry."
        )
    else:
        frame["code"] = frame[code_col].astype(str).str.strip()

    if name is not None:
        frame["name"] = name
    elif name_col is not None:
        frame["name"] = frame[name_col].astype(str).str.strip()
    else:
        frame["name"] = ""

    frame["code"] = frame["code"].map(_pad_code)
    return frame


def _pad_code(value: object) -> str:
    """6- and 9-digit codes (AMap adcodes, township codes) padded to 12 digits."""
    text_value = "" if value is None else str(value).strip()
    if text_value.endswith(".0"):
        text_value = text_value[:-2]
    if text_value.isdigit() and len(text_value) in (6, 9):
        return text_value.ljust(12, "0")
    return text_value


def _to_wgs84(frame: gpd.GeoDataFrame, source_crs: str, path: Path) -> gpd.GeoDataFrame:
    declared = frame.crs
    if declared is not None and declared.is_projected:
        if source_crs in ("gcj02", "bd09"):
            raise InvalidInput(
                f"{Path(path).name} declares the projected CRS {declared.name} but "
                f"--crs {source_crs} was given; GCJ-02 and BD-09 are in degrees. "
                f"Pass --crs EPSG:{declared.to_epsg()} instead."
            )
        frame = frame.to_crs(4326)
        return frame.set_crs(4326, allow_override=True)

    bounds = frame.geometry.total_bounds
    if (
        len(frame)
        and np.isfinite(bounds).all()
        and source_crs
        in (
            "wgs84",
            "cgcs2000",
            "gcj02",
            "bd09",
        )
    ):
        west, south, east, north = CHINA_BOX
        if (
            bounds[0] < west
            or bounds[2] > east
            or bounds[1] < south
            or bounds[3] > north
        ):
            raise InvalidInput(
                f"{Path(path).name}: coordinates span {bounds[0]:.1f}..{bounds[2]:.1f}"
                f" by {bounds[1]:.1f}..{bounds[3]:.1f}, which is not longitude and "
                f"latitude in China, yet --crs {source_crs} says degrees. If the "
                "file is projected (metres), pass its EPSG code, e.g. --crs "
                "EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)."
            )
    out = convert_gdf(frame.set_crs(None, allow_override=True), source_crs, "wgs84")
    return out.set_crs(4326, allow_override=True)


def _repair(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make polygons valid; return MultiPolygons (or None) and a repaired mask."""
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    fixed = geoms.copy()
    if invalid.any():
        fixed[invalid] = shapely.make_valid(geoms[invalid])
    out = np.empty(len(fixed), dtype=object)
    for i, geom in enumerate(fixed):
        out[i] = _as_multipolygon(geom)
    return out, invalid


def _as_multipolygon(geom: shapely.Geometry | None) -> shapely.MultiPolygon | None:
    if geom is None or shapely.is_empty(geom):
        return None
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if isinstance(geom, shapely.GeometryCollection):
        parts = [
            g
            for g in geom.geoms
            if isinstance(g, shapely.Polygon | shapely.MultiPolygon)
        ]
        polys: list[shapely.Polygon] = []
        for part in parts:
            polys.extend(
                part.geoms if isinstance(part, shapely.MultiPolygon) else [part]
            )
        return shapely.MultiPolygon(polys) if polys else None
    return None


def _reasons(frame: gpd.GeoDataFrame, level: str, geoms: np.ndarray) -> pd.Series:
    """The reject reason of each feature ('' when it is fine)."""
    reasons = pd.Series("", index=frame.index, dtype=object)
    codes = frame["code"]

    original = frame.geometry.to_numpy()
    missing = shapely.is_missing(original) | shapely.is_empty(original)
    not_polygon = ~missing & pd.isna(pd.Series(geoms, index=frame.index)).to_numpy()
    reasons[not_polygon] = (
        "geometry is not a polygon (got a point or line); boundaries must be polygons"
    )
    reasons[missing] = "feature has no geometry (null or empty)"

    bad_code = ~codes.str.fullmatch(r"\d{12}")
    reasons[bad_code & (reasons == "")] = (
        "code must be a 12-digit statistical division code (or a 6-digit adcode)"
    )
    levels = codes.where(~bad_code, "").map(lambda c: admin_level_of(c) if c else "")
    wrong_level = ~bad_code & (levels != level)
    reasons[wrong_level & (reasons == "")] = (
        f"code is not a {level} code (county codes end in 000000, town codes in "
        "000, village codes in neither); check --level"
    )
    no_name = frame["name"].isin(["", "None", "nan"])
    reasons[no_name & (reasons == "")] = "feature has no name"

    dup = codes.duplicated(keep="first") & (reasons == "")
    first_row = frame.groupby("code")["_row"].transform("first")
    reasons[dup] = "duplicate code; first given at row " + first_row[dup].astype(str)
    return reasons


def _store(
    engine: Engine,
    frame: gpd.GeoDataFrame,
    level: str,
    batch_id: int,
    path: Path,
    source_crs: str,
) -> BatchReport:
    geoms, repaired = _repair(frame.geometry.to_numpy())
    reasons = _reasons(frame, level, geoms)
    ok = (reasons == "").to_numpy()

    report = BatchReport(batch_id, "boundaries", str(path), rows_total=len(frame))
    report.repaired = int((repaired & ok).sum())
    if report.repaired:
        log.warning(
            "Repaired %d invalid polygons in %s (self-intersections, bad rings)",
            report.repaired,
            Path(path).name,
        )

    good = pd.DataFrame(
        {
            "code": frame["code"][ok],
            "name": frame["name"][ok],
            "wkb": shapely.to_wkb(geoms[ok], hex=True),
        }
    )
    good["parent_code"] = good["code"].map(parent_code_of)
    good["kind"] = good["name"].map(_kind_of)

    with engine.begin() as conn:
        _check_crs_against_parents(conn, good, geoms[ok], level, path, source_crs)
        stored = _upsert_units(conn, good, level, batch_id)
        rejected = frame[~ok]
        attrs = rejected.drop(columns=["geometry"]).assign(
            geometry=shapely.to_wkt(rejected.geometry.to_numpy(), rounding_precision=6)
        )
        store_rejects(conn, batch_id, attrs, reasons[~ok])

        report.rows_stored = stored
        report.rows_unchanged = int(ok.sum()) - stored
        report.rows_rejected = int((~ok).sum())
        counts = reasons[~ok].value_counts()
        report.reasons = {str(k): int(v) for k, v in counts.items()}
        orphans = _count_orphans(conn, good, level)
        if orphans:
            report.warnings.append(
                f"{orphans:,} {level} units have no parent unit in the store yet; "
                "import the level above to complete the hierarchy."
            )
        close_batch(conn, report)
    return report


def _kind_of(name: str) -> str | None:
    for suffix, kind in (
        ("街道", "街道"),
        ("镇", "镇"),
        ("乡", "乡"),
        ("社区", "社区"),
        ("居委会", "社区"),
        ("村", "村"),
        ("村委会", "村"),
        ("村民委员会", "村"),
        ("县", "县"),
        ("市", "市"),
        ("区", "区"),
    ):
        if name.endswith(suffix):
            return kind
    return None


def _upsert_units(
    conn: Connection, good: pd.DataFrame, level: str, batch_id: int
) -> int:
    """Insert new units and update changed ones; return how many were written."""
    if good.empty:
        return 0
    conn.execute(
        text(
            "CREATE TEMP TABLE _units (code text, name text, parent_code text, "
            "kind text, wkb text) ON COMMIT DROP"
        )
    )
    copy_frame(conn, "_units", good[["code", "name", "parent_code", "kind", "wkb"]])
    result = conn.execute(
        text(
            """
            INSERT INTO admin_unit (code, name, level, parent_code, kind, geom,
                                    batch_id, updated_at)
            SELECT code, name, :level, parent_code, kind,
                   ST_SetSRID(ST_GeomFromWKB(decode(wkb, 'hex')), 4326), :batch, now()
            FROM _units
            ON CONFLICT (code) DO UPDATE SET
                name = EXCLUDED.name, level = EXCLUDED.level,
                parent_code = EXCLUDED.parent_code, kind = EXCLUDED.kind,
                geom = EXCLUDED.geom, batch_id = EXCLUDED.batch_id,
                updated_at = now()
            WHERE (admin_unit.name, admin_unit.level, admin_unit.parent_code,
                   admin_unit.kind) IS DISTINCT FROM
                  (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent_code,
                   EXCLUDED.kind)
               OR admin_unit.geom IS NULL
               OR NOT ST_Equals(admin_unit.geom, EXCLUDED.geom)
            """
        ),
        {"level": level, "batch": batch_id},
    )
    return int(result.rowcount)


def _count_orphans(conn: Connection, good: pd.DataFrame, level: str) -> int:
    if level == "county" or good.empty:
        return 0
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM _units u WHERE NOT EXISTS "
                "(SELECT 1 FROM admin_unit p WHERE p.code = u.parent_code)"
            )
        ).scalar_one()
    )


def _check_crs_against_parents(
    conn: Connection,
    good: pd.DataFrame,
    geoms: np.ndarray,
    level: str,
    path: Path,
    source_crs: str,
) -> None:
    """Stop when units fall outside their stored parents but fit another system."""
    if level == "county" or good.empty or source_crs.startswith("EPSG:"):
        return
    parents = gpd.read_postgis(
        text(
            "SELECT code, geom FROM admin_unit WHERE code = ANY(:codes) "
            "AND geom IS NOT NULL"
        ),
        conn,
        params={"codes": list(good["parent_code"].unique())},
        geom_col="geom",
    )
    if parents.empty:
        return
    lookup = dict(zip(parents["code"], parents.geometry, strict=True))
    parent_geoms = good["parent_code"].map(lookup)
    has_parent = parent_geoms.notna().to_numpy()
    if has_parent.sum() < 3:
        return
    points = shapely.point_on_surface(geoms[has_parent])
    # points are WGS84 already; undo the declared conversion to test alternatives
    lon, lat = convert_points(
        shapely.get_x(points), shapely.get_y(points), "wgs84", source_crs
    )
    check_declared_crs(
        lon,
        lat,
        parent_geoms[has_parent].to_numpy(),
        source_crs,
        source=Path(path).name,
    )

"""Export layers of the store to GeoJSON, GeoPackage, Shapefile, CSV or XLSX."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from geogrid import audit
from geogrid.crs import convert_gdf, parse_crs
from geogrid.errors import InvalidInput
from geogrid.masking import mask_tail

log = logging.getLogger(__name__)

FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".xlsx": "XLSX",
}

_LAYER_SQL = {
    "county": "SELECT code, name, level, parent_code, kind, geom FROM admin_unit "
    "WHERE level = 'county' ORDER BY code",
    "towns": "SELECT code, name, level, parent_code, kind, geom FROM admin_unit "
    "WHERE level = 'town' ORDER BY code",
    "villages": "SELECT code, name, level, parent_code, kind, geom FROM admin_unit "
    "WHERE level = 'village' ORDER BY code",
    "branches": "SELECT code, name, address, geom FROM branch ORDER BY code",
    "grids": "SELECT g.code, g.name, g.level, b.code AS branch, p.code AS parent, "
    "g.version, g.geom FROM grid g JOIN branch b ON b.id = g.branch_id "
    "LEFT JOIN grid p ON p.id = g.parent_id ORDER BY g.level, g.code",
    "roads": "SELECT name, kind, speed_kph, geom FROM road ORDER BY id",
    "households": "SELECT h.household_no, h.address, h.village_code, "
    "g.code AS grid, h.geocode_level, h.time_window, "
    "(SELECT count(*) FROM person p WHERE p.household_id = h.id) AS members, "
    "EXISTS (SELECT 1 FROM person p WHERE p.household_id = h.id "
    "AND p.status = 'customer') AS is_customer, h.geom "
    "FROM household h LEFT JOIN grid g ON g.id = h.grid_id ORDER BY h.household_no",
    "people": "SELECT h.household_no, p.name, p.id_number, p.phone, p.gender, "
    "p.birth_date, p.status, array_to_string(p.products, ',') AS products, "
    "array_to_string(p.labels, ',') AS labels, p.deposit_own, p.loan_own, "
    "p.deposit_other, p.loan_other, h.geom FROM person p "
    "JOIN household h ON h.id = p.household_id ORDER BY h.household_no, p.id",
}
LAYERS = tuple(_LAYER_SQL)
PERSONAL_COLUMNS = ("id_number", "phone")


def read_layer(engine: Engine, layer: str) -> gpd.GeoDataFrame:
    """A layer of the store as a GeoDataFrame in WGS84."""
    if layer not in _LAYER_SQL:
        raise InvalidInput(
            f"Unknown layer {layer!r}; choose one of {', '.join(LAYERS)}.",
            layer=layer,
        )
    with engine.connect() as conn:
        gdf = gpd.read_postgis(text(_LAYER_SQL[layer]), conn, geom_col="geom")
    return gdf.rename_geometry("geometry").set_crs(4326, allow_override=True)


def export_layer(
    engine: Engine,
    layer: str,
    path: Path,
    *,
    crs: str = "wgs84",
    unmasked: bool = False,
    actor: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> int:
    """Write a layer to a file whose extension picks the format; return rows written.

    ID and phone numbers are masked (last four characters shown) unless
    ``unmasked``. Every export is written to the audit log.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            f"Cannot export to {path.name}: the extension picks the format and "
            f"must be one of {', '.join(FORMATS)}; got {suffix or 'none'}."
        )
    target_crs = parse_crs(crs)
    started = time.perf_counter()
    step = progress or (lambda name, done: None)

    step("reading", 0.0)
    gdf = read_layer(engine, layer)
    if not unmasked:
        for column in PERSONAL_COLUMNS:
            if column in gdf:
                gdf[column] = mask_tail(gdf[column])
    if target_crs != "wgs84":
        gdf = convert_gdf(gdf, "wgs84", target_crs)

    step("writing", 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(gdf, path)

    with engine.begin() as conn:
        audit.record(
            conn,
            "export",
            actor=actor,
            object_type="layer",
            object_id=layer,
            file=path.name,
            rows=len(gdf),
            crs=target_crs,
            unmasked=unmasked,
        )
    step("done", 1.0)
    log.info(
        "Exported %d %s rows to %s in %.1f s",
        len(gdf),
        layer,
        path.name,
        time.perf_counter() - started,
    )
    return len(gdf)


def write_frame(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Write a GeoDataFrame in the format named by the file's extension."""
    suffix = path.suffix.lower()
    driver = FORMATS[suffix]
    if driver in ("CSV", "XLSX"):
        table = tabular(gdf)
        if driver == "CSV":
            # BOM so that Excel in China opens it as UTF-8
            table.to_csv(path, index=False, encoding="utf-8-sig")
        else:
            table.to_excel(path, index=False, engine="openpyxl")
        return
    out = gdf
    if driver == "ESRI Shapefile":
        out = gdf.rename(columns=_shapefile_name)
    if path.exists() and driver == "ESRI Shapefile":
        for sibling in path.parent.glob(path.stem + ".*"):
            sibling.unlink()
    out.to_file(path, driver=driver, encoding="UTF-8", engine="pyogrio")


SHAPEFILE_NAMES = {
    "parent_code": "parent",
    "household_no": "hh_no",
    "village_code": "village",
    "geocode_level": "geo_level",
    "time_window": "time_win",
    "is_customer": "customer",
    "deposit_own": "dep_own",
    "deposit_other": "dep_other",
    "loan_other": "loan_oth",
}


def _shapefile_name(column: str) -> str:
    """DBF field names hold at most 10 characters."""
    return SHAPEFILE_NAMES.get(column, column[:10])


_WKT_MAX_CHARS = 32_000  # an Excel cell holds 32,767 characters


def tabular(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """A layer as a plain table: lon/lat for points, centroid and WKT otherwise."""
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    geoms = gdf.geometry.to_numpy()
    kinds = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    if kinds <= {0}:
        table["lon"] = shapely.get_x(geoms).round(7)
        table["lat"] = shapely.get_y(geoms).round(7)
        return table
    centroids = shapely.centroid(geoms)
    table["centroid_lon"] = shapely.get_x(centroids).round(7)
    table["centroid_lat"] = shapely.get_y(centroids).round(7)
    wkt = shapely.to_wkt(geoms, rounding_precision=7)
    table["wkt"] = [w if w is None or len(w) < _WKT_MAX_CHARS else None for w in wkt]
    return table

"""Geocoding against the store: households, input files, and manual corrections.

The gazetteer is built from the store's administrative units and places;
manual corrections (``geocode_correction``) win over the automatic result on
every later run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from geogrid import audit
from geogrid.crs import parse_crs, to_wgs84
from geogrid.errors import InvalidInput, NotFound
from geogrid.export import write_frame
from geogrid.geocode.batch import geocode_many, review_list, summary_by_level
from geogrid.geocode.gazetteer import Gazetteer
from geogrid.geocode.match import LEVELS, Correction, Geocoder
from geogrid.geocode.normalize import normalize
from geogrid.grids.assign import reassign_households
from geogrid.ingest.columns import pick_column
from geogrid.ingest.readers import read_table
from geogrid.store.bulk import copy_frame

log = logging.getLogger(__name__)

ADDRESS_COLUMNS = ("address", "地址", "住址", "家庭住址", "家庭地址", "addr")
Progress = Callable[[int, int], None]


def load_corrections(engine: Engine) -> dict[str, Correction]:
    """Manual corrections keyed by normalised address."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT address_key, ST_X(geom), ST_Y(geom), level, village_code "
                "FROM geocode_correction"
            )
        ).all()
    return {
        key: Correction(point=(float(x), float(y)), level=level, village_code=village)
        for key, x, y, level, village in rows
    }


def load_geocoder(engine: Engine) -> Geocoder:
    """A geocoder over the store's gazetteer and corrections."""
    started = time.perf_counter()
    gazetteer = Gazetteer.from_engine(engine)
    gazetteer.prepare()
    geocoder = Geocoder(gazetteer, load_corrections(engine))
    log.info("Loaded the gazetteer in %.2f s", time.perf_counter() - started)
    return geocoder


def add_correction(
    engine: Engine,
    address: str,
    lon: float,
    lat: float,
    *,
    crs: str = "wgs84",
    level: str = "door",
    village_code: str | None = None,
    actor: str | None = None,
) -> str:
    """Store a manual answer for ``address``; return its key (the normalised form)."""
    key = normalize(address)
    if not key:
        raise InvalidInput(
            f"Address {address!r} normalises to nothing; give a real one."
        )
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}; got {level!r}.")
    wlon, wlat = to_wgs84(np.array([lon]), np.array([lat]), parse_crs(crs))
    with engine.begin() as conn:
        if village_code is None:
            village_code = conn.execute(
                text(
                    "SELECT code FROM admin_unit WHERE level = 'village' AND "
                    "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) LIMIT 1"
                ),
                {"x": float(wlon[0]), "y": float(wlat[0])},
            ).scalar()
        conn.execute(
            text(
                """
                INSERT INTO geocode_correction (address_key, geom, level, village_code,
                                                created_by)
                VALUES (:k, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :l, :v, :a)
                ON CONFLICT (address_key) DO UPDATE SET geom = EXCLUDED.geom,
                    level = EXCLUDED.level, village_code = EXCLUDED.village_code,
                    created_by = EXCLUDED.created_by, created_at = now()
                """
            ),
            {
                "k": key,
                "x": float(wlon[0]),
                "y": float(wlat[0]),
                "l": level,
                "v": village_code,
                "a": actor,
            },
        )
        audit.record(conn, "geocode_correction", actor=actor, object_type="address")
    return key


def geocode_households(
    engine: Engine, *, only_missing: bool = True, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Geocode the household table's addresses and store the points.

    Households imported with coordinates keep them (level 'exact'); with
    ``only_missing`` only households without a point are geocoded. Returns
    the summary by level and the review list (unmatched, ambiguous, unsure).
    """
    where = "address IS NOT NULL"
    if only_missing:
        where += " AND (geom IS NULL OR geocode_level NOT IN ('exact'))"
    with engine.connect() as conn:
        households = pd.read_sql(
            text(f"SELECT id, household_no, address FROM household WHERE {where}"),
            conn,
        )
    geocoder = load_geocoder(engine)
    results = geocode_many(geocoder, households["address"].tolist(), progress=progress)
    results.insert(0, "household_no", households["household_no"].to_numpy())
    matched = results["lon"].notna().to_numpy()

    updates = pd.DataFrame(
        {
            "id": households["id"].to_numpy()[matched],
            "lon": results["lon"].to_numpy()[matched],
            "lat": results["lat"].to_numpy()[matched],
            "level": results["level"].astype(str).to_numpy()[matched],
            "village_code": results["village_code"].to_numpy()[matched],
        }
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE _geo (id bigint, lon float8, lat float8, "
                "level text, village_code text) ON COMMIT DROP"
            )
        )
        copy_frame(conn, "_geo", updates)
        conn.execute(
            text(
                """
                UPDATE household h SET
                    geom = ST_SetSRID(ST_MakePoint(g.lon, g.lat), 4326),
                    geocode_level = g.level,
                    village_code = COALESCE(h.village_code, g.village_code),
                    updated_at = now()
                FROM _geo g WHERE h.id = g.id
                """
            )
        )
        if len(updates):
            box = shapely.box(
                updates["lon"].min(),
                updates["lat"].min(),
                updates["lon"].max(),
                updates["lat"].max(),
            )
            area = shapely.to_wkb(box.buffer(1e-6))
            reassign_households(conn, area_wkb=area)
    log.info(
        "Geocoded %d household addresses: %d placed, %d left for review",
        len(results),
        int(matched.sum()),
        int((~matched).sum()),
    )
    return summary_by_level(results), review_list(results)


def geocode_file(
    engine: Engine,
    path: Path,
    output: Path,
    *,
    column: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Geocode the address column of a CSV/XLSX file; write results beside it.

    The output (by extension: .csv, .xlsx, .geojson, .gpkg) holds every input
    row with lon, lat (WGS84), level, confidence, status and reason. An XLSX
    output also gets 'summary' and 'review' sheets.
    """
    table = read_table(path, sheet)
    name = column or pick_column(table.columns, ADDRESS_COLUMNS)
    if name is None or name not in table.columns:
        raise NotFound(
            f"{Path(path).name} has no address column (looked for "
            f"{', '.join(ADDRESS_COLUMNS)}); pass --column with its header. Its "
            f"columns are {', '.join(map(str, table.columns))}."
        )
    results = geocode_many(load_geocoder(engine), table[name].tolist(), progress)
    out = pd.concat(
        [table.reset_index(drop=True), results.drop(columns=["address"])], axis=1
    )
    summary, review = summary_by_level(results), review_list(results)
    suffix = output.suffix.lower()
    if suffix == ".xlsx":
        with pd.ExcelWriter(output, engine="openpyxl") as writer:
            _excel_safe(out).to_excel(writer, sheet_name="results", index=False)
            summary.to_excel(writer, sheet_name="summary")
            _excel_safe(review).to_excel(writer, sheet_name="review", index=False)
    elif suffix == ".csv":
        _excel_safe(out).to_csv(output, index=False, encoding="utf-8-sig")
    else:
        import geopandas as gpd

        gdf = gpd.GeoDataFrame(
            _excel_safe(out),
            geometry=gpd.points_from_xy(out["lon"], out["lat"]),
            crs=4326,
        )
        write_frame(gdf, output)
    return summary, review


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and categories as plain text, so every writer accepts them."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object)
        elif out[column].map(lambda v: isinstance(v, list | tuple)).any():
            out[column] = out[column].map(
                lambda v: "; ".join(map(str, v)) if isinstance(v, list | tuple) else v
            )
    return out

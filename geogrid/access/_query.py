"""Query helpers shared by the access modules: bbox envelope, GeoDataFrame reads."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from sqlalchemy import Connection, text

from geogrid.access.display import Bbox, bbox_to_wgs84, check_bbox

# the WGS84 box of ``envelope_params`` in SQL, for ``geom && {envelope}``
ENVELOPE = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"


def envelope_params(bbox: Bbox | None, crs: str) -> dict[str, Any]:
    """Query parameters w, s, e, n of the caller's box in WGS84 (the world if None)."""
    if bbox is None:
        return {"w": -180.0, "s": -90.0, "e": 180.0, "n": 90.0}
    west, south, east, north = bbox_to_wgs84(check_bbox(bbox), crs)
    return {"w": west, "s": south, "e": east, "n": north}


def read_geoms(conn: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    """Rows of ``sql`` with their ``geom`` column as a WGS84 ``geometry``."""
    gdf = gpd.read_postgis(text(sql), conn, geom_col="geom", params=params)
    return gdf.rename_geometry("geometry").set_crs(4326, allow_override=True)

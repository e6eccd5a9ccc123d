"""Bounding boxes and coordinates in the caller's coordinate system.

The store holds WGS84; callers may draw and read in another system (GCJ-02,
for instance). These helpers check a caller's box, widen it into WGS84, and
move results back into the caller's system.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geogrid.crs import convert_gdf, convert_points, parse_crs
from geogrid.errors import InvalidInput

Bbox = tuple[float, float, float, float]

# the GCJ-02 offset is under 0.01 degrees in China: widen converted boxes by it
_SHIFT_MARGIN_DEG = 0.01


def check_bbox(bbox: Sequence[float]) -> Bbox:
    """A (west, south, east, north) box in degrees, checked."""
    values = [float(v) for v in bbox]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            "bbox must be four finite numbers west,south,east,north in degrees; "
            f"received {list(bbox)!r}.",
            parameter="bbox",
        )
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(
            "bbox must be west,south,east,north with west < east (each -180 to "
            f"180) and south < north (each -90 to 90); received {values}.",
            parameter="bbox",
        )
    return west, south, east, north


def bbox_to_wgs84(bbox: Bbox, crs: str) -> Bbox:
    """A box drawn in ``crs`` as a WGS84 box that surely covers it."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000"):
        return bbox
    lon, lat = convert_points(
        np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]), crs, "wgs84"
    )
    margin = _SHIFT_MARGIN_DEG
    return (
        float(lon[0]) - margin,
        float(lat[0]) - margin,
        float(lon[1]) + margin,
        float(lat[1]) + margin,
    )


def to_display(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """``gdf`` (WGS84) in the caller's coordinate system."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000") or gdf.empty:
        return gdf
    return convert_gdf(gdf, "wgs84", crs)


def points_to_display(
    frame: pd.DataFrame, crs: str, lon: str = "lon", lat: str = "lat"
) -> pd.DataFrame:
    """``frame`` with its WGS84 ``lon``/``lat`` columns in the caller's system."""
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000") or frame.empty:
        return frame
    x, y = convert_points(
        frame[lon].to_numpy(float), frame[lat].to_numpy(float), "wgs84", crs
    )
    return frame.assign(**{lon: x, lat: y})


def in_bbox(gdf: gpd.GeoDataFrame, bbox: Bbox | None) -> gpd.GeoDataFrame:
    """The rows of ``gdf`` meeting ``bbox``, both in the same coordinate system."""
    if bbox is None or gdf.empty:
        return gdf
    west, south, east, north = check_bbox(bbox)
    return gdf[gdf.intersects(shapely.box(west, south, east, north))]


def points_in_bbox(frame: pd.DataFrame, bbox: Bbox | None) -> pd.DataFrame:
    """The rows of ``frame`` whose lon and lat lie in ``bbox``."""
    if bbox is None or frame.empty:
        return frame
    west, south, east, north = check_bbox(bbox)
    inside = frame["lon"].between(west, east) & frame["lat"].between(south, north)
    return frame[inside]

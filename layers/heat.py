"""Household density as a heatmap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from geogrid.crs import convert_points


def household_heatmap(
    points: pd.DataFrame,
    name: str = "户数热力 household density",
    *,
    weight: str | None = None,
    display_crs: str = "wgs84",
    radius_px: int = 12,
) -> HeatMap:
    """A heatmap of households; ``points`` has lon and lat (WGS84) columns.

    ``weight`` names a column to weigh each point by (e.g. other-bank deposits).
    """
    lon = points["lon"].to_numpy(dtype=float)
    lat = points["lat"].to_numpy(dtype=float)
    if display_crs != "wgs84":
        lon, lat = convert_points(lon, lat, "wgs84", display_crs)
    if weight is None:
        rows = np.column_stack([lat, lon]).round(6).tolist()
    else:
        w = points[weight].to_numpy(dtype=float)
        w = w / w.max() if len(w) and w.max() > 0 else w
        rows = np.column_stack([lat, lon, w]).round(6).tolist()
    return HeatMap(rows, name=name, radius=radius_px, blur=15, min_opacity=0.25)

"""Polygons on the map: administrative units and grids."""

from __future__ import annotations

from typing import Any

import folium
import geopandas as gpd

from geogrid.crs import convert_gdf

TOWN_STYLE = {"color": "#5b4636", "weight": 2.5, "fillOpacity": 0.0}
VILLAGE_STYLE = {
    "color": "#8c7b6b",
    "weight": 0.8,
    "fillOpacity": 0.0,
    "dashArray": "3",
}


def _display(gdf: gpd.GeoDataFrame, display_crs: str) -> gpd.GeoDataFrame:
    if display_crs == "wgs84":
        return gdf
    return convert_gdf(gdf, "wgs84", display_crs)


def _plain(gdf: gpd.GeoDataFrame, fields: list[str]) -> gpd.GeoDataFrame:
    """Only the columns the browser needs, as JSON-friendly values."""
    out = gdf[[*fields, "geometry"]].copy()
    for field in fields:
        out[field] = out[field].astype(str)
    return out


def admin_layer(
    gdf: gpd.GeoDataFrame,
    name: str,
    *,
    style: dict[str, Any] | None = None,
    display_crs: str = "wgs84",
    show: bool = True,
) -> folium.GeoJson:
    """Outline of towns or villages, with a tooltip of name and code."""
    data = _plain(_display(gdf, display_crs), ["name", "code"])
    look = style or VILLAGE_STYLE
    return folium.GeoJson(
        data,
        name=name,
        show=show,
        style_function=lambda _feature: look,
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code"], aliases=["名称", "代码"]
        ),
        smooth_factor=1.0,
    )


def workload_colour(ratio: float) -> str:
    """Colour of a grid by its workload against the branch mean (1.0 = mean)."""
    if ratio != ratio:  # NaN
        return "#bbbbbb"
    if ratio < 0.9:
        return "#4575b4"
    if ratio < 0.95:
        return "#91bfdb"
    if ratio <= 1.05:
        return "#99d594"
    if ratio <= 1.1:
        return "#fc8d59"
    return "#d73027"


def grid_layer(
    gdf: gpd.GeoDataFrame,
    name: str = "网格 grids",
    *,
    display_crs: str = "wgs84",
) -> folium.GeoJson:
    """Second-level grids coloured by workload ratio to their branch mean.

    ``gdf`` needs columns code, name, households and ratio (workload / mean).
    """
    data = _display(gdf, display_crs)[
        ["code", "name", "households", "ratio", "geometry"]
    ]
    data = data.assign(
        households=data["households"].astype(int),
        ratio=data["ratio"].astype(float).round(2),
    )
    return folium.GeoJson(
        data,
        name=name,
        style_function=lambda f: {
            "color": "#333333",
            "weight": 1.5,
            "fillColor": workload_colour(f["properties"]["ratio"]),
            "fillOpacity": 0.35,
        },
        highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.55},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code", "households", "ratio"],
            aliases=["网格", "编号", "户数", "负荷/均值"],
        ),
    )

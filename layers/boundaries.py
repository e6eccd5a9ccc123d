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


# workload ratio (grid / branch mean): upper bounds and colours, last open-ended
WORKLOAD_BREAKS = (0.9, 0.95, 1.05, 1.1)
WORKLOAD_CLOSED = (False, False, True, True)
WORKLOAD_COLOURS = ("#4575b4", "#91bfdb", "#99d594", "#fc8d59", "#d73027")
MISSING_COLOUR = "#bbbbbb"


def workload_colour(ratio: float) -> str:
    """Colour of a grid by its workload against the branch mean (1.0 = mean)."""
    if ratio != ratio:  # NaN
        return MISSING_COLOUR
    for upper, closed, colour in zip(
        WORKLOAD_BREAKS, WORKLOAD_CLOSED, WORKLOAD_COLOURS, strict=False
    ):
        if ratio <= upper if closed else ratio < upper:
            return colour
    return WORKLOAD_COLOURS[-1]


def workload_scale() -> dict[str, object]:
    """The same colours as `workload_colour`, for layers coloured in the browser."""
    return {
        "property": "ratio",
        "breaks": list(WORKLOAD_BREAKS),
        "colours": list(WORKLOAD_COLOURS),
        "missing": MISSING_COLOUR,
        "closed": list(WORKLOAD_CLOSED),
    }


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

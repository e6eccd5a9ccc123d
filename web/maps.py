"""Compose folium maps from core results and the layers package."""

from __future__ import annotations

import folium

from geogrid.overview import Overview
from geogrid.settings import Config
from layers import (
    admin_layer,
    base_map,
    grid_layer,
    household_heatmap,
    localise_assets,
)
from layers.boundaries import TOWN_STYLE


def overview_map(overview: Overview, config: Config) -> str:
    """HTML of the county map: towns, villages, grids and household density."""
    display_crs = config.tile_crs if config.tile_url else "wgs84"
    fmap = base_map(overview.center, 11, config=config)
    grid_layer(overview.grids, display_crs=display_crs).add_to(fmap)
    admin_layer(overview.villages, "村/社区 villages", display_crs=display_crs).add_to(
        fmap
    )
    admin_layer(
        overview.towns, "镇/街道 towns", style=TOWN_STYLE, display_crs=display_crs
    ).add_to(fmap)
    household_heatmap(
        overview.heat, weight="households", display_crs=display_crs
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.fit_bounds(
        [
            [overview.county.total_bounds[1], overview.county.total_bounds[0]],
            [overview.county.total_bounds[3], overview.county.total_bounds[2]],
        ]
    )
    fmap.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>青溪县 geogrid</title>"
        )
    )
    localise_assets(fmap)
    return fmap.get_root().render()

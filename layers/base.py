"""The base map: configured tiles, or a plain background when there are none."""

from __future__ import annotations

import folium

from geogrid.settings import Config


def base_map(
    center: tuple[float, float],
    zoom: int = 11,
    *,
    config: Config | None = None,
) -> folium.Map:
    """A folium map centred on ``(lat, lon)`` with the configured base tiles.

    Without a tile URL the map shows boundaries and data on a plain background,
    as an intranet without a tile server needs.
    """
    tile_url = config.tile_url if config else ""
    fmap = folium.Map(
        location=list(center),
        zoom_start=zoom,
        tiles=None,
        control_scale=True,
    )
    if tile_url:
        folium.TileLayer(
            tiles=tile_url,
            attr=(config.tile_attribution if config else "") or "tiles",
            name="底图 base map",
        ).add_to(fmap)
    return fmap

"""Folium map layers built from GeoDataFrames: no database access here."""

from layers.assets import VENDOR_FILES, localise_assets
from layers.base import base_map
from layers.boundaries import admin_layer, grid_layer
from layers.heat import household_heatmap

__all__ = [
    "VENDOR_FILES",
    "admin_layer",
    "base_map",
    "grid_layer",
    "household_heatmap",
    "localise_assets",
]

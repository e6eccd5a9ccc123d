"""Reading road layers from GIS files and normalising roads to the network's columns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geogrid.errors import InvalidInput
from geogrid.routes.network.osm_roads import OSM_SUFFIXES, read_osm_roads
from geogrid.routes.network.road_classes import is_true

logger = logging.getLogger(__name__)


def read_roads(path: str | Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read roads from a GIS file or an OpenStreetMap extract.

    Parameters
    ----------
    path
        A GeoJSON, Shapefile, GeoPackage or any file GDAL reads, with a CRS;
        or an OpenStreetMap ``.osm.pbf`` or ``.osm`` extract (see
        `read_osm_roads`).
    layer
        The layer of a multi-layer file; the first when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``kind``, ``speed_kph`` (NaN where unknown),
        ``oneway`` and a LineString ``geometry`` in EPSG:4326. A
        ``highway`` column stands in for a missing ``kind``, and a numeric
        ``maxspeed`` for a missing ``speed_kph``.

    Raises
    ------
    InvalidInput
        When the file does not exist, has no CRS, or holds no lines.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(
            f"Roads file {str(path)!r} does not exist. Pass the path of a "
            "GeoJSON, Shapefile, GeoPackage or .osm.pbf file.",
            path=str(path),
        )
    if path.name.lower().endswith(OSM_SUFFIXES):
        return read_osm_roads(path)

    gdf = pyogrio.read_dataframe(path, layer=layer)
    if gdf.crs is None:
        raise InvalidInput(
            f"Roads file {path.name!r} has no coordinate system, so its "
            "coordinates cannot be placed. Save it with a CRS (a .prj file for a "
            "Shapefile), for instance EPSG:4326.",
            path=str(path),
        )
    return roads_frame(gdf, source=path.name)


def roads_frame(gdf: gpd.GeoDataFrame, *, source: str = "roads") -> gpd.GeoDataFrame:
    """Normalise a roads GeoDataFrame to the columns the network uses.

    Parameters
    ----------
    gdf
        Lines with a CRS; multi-lines are split into their parts, other
        geometries and empty ones are left out (with a warning).
    source
        Name of the input, for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``kind``, ``speed_kph``, ``oneway`` and ``geometry`` in
        EPSG:4326.

    Raises
    ------
    InvalidInput
        When `gdf` has no CRS or holds no line.
    """
    if gdf.crs is None:
        raise InvalidInput(
            f"The {source} have no CRS, so their coordinates cannot be placed. "
            "Label them first, for instance with gdf.set_crs(4326).",
        )
    lines = gdf.to_crs(4326).explode(index_parts=False, ignore_index=True)
    usable = lines.geom_type.eq("LineString").to_numpy() & ~lines.is_empty.to_numpy()
    if not usable.any():
        raise InvalidInput(
            f"The {source} hold no LineString; received geometry types "
            f"{sorted(set(gdf.geom_type.dropna()))}. Pass road centre lines.",
        )
    if not usable.all():
        logger.warning(
            "Left out %d of %d %s geometries that are not lines",
            int((~usable).sum()),
            len(lines),
            source,
        )
    lines = lines[usable]

    columns = {
        "name": _column(lines, ("name",), None),
        "kind": _column(lines, ("kind", "highway"), "local"),
        "speed_kph": pd.to_numeric(
            _column(lines, ("speed_kph", "maxspeed"), np.nan), errors="coerce"
        ),
        "oneway": _column(lines, ("oneway",), False).map(is_true).astype(bool),
    }
    return gpd.GeoDataFrame(
        columns, geometry=lines.geometry.to_numpy(), crs=4326
    ).reset_index(drop=True)


def _column(gdf: gpd.GeoDataFrame, names: Sequence[str], default: Any) -> pd.Series:
    for name in names:
        if name in gdf.columns:
            return gdf[name].reset_index(drop=True)
    return pd.Series([default] * len(gdf), dtype=object)

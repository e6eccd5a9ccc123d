"""Where households lie: their second-level grid, nearest branch, and ungridded land.

Distances and areas are taken in metres in the UTM zone of the data
(`geogrid.crs.utm_crs_for`), never in degrees.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

# slivers of ungridded land smaller than this are rounding, not gaps
MIN_GAP_M2 = 1.0


def grid_positions(
    lon: Floats, lat: Floats, stored_pos: Ints, grid_geoms: npt.NDArray[np.object_]
) -> Ints:
    """Position (in `grid_geoms`) of the grid each point lies in; -1 for none.

    Parameters
    ----------
    lon, lat
        WGS84 degrees; NaN for households without a location.
    stored_pos
        Position of the grid the store assigns to each household (-1 when
        none): tested first, since it is nearly always right.
    grid_geoms
        Second-level grid polygons in WGS84.

    Returns
    -------
    numpy.ndarray
        A point on the border of two grids goes to the first of them.
    """
    n = len(lon)
    pos = np.full(n, -1, dtype=np.int64)
    located = np.isfinite(lon) & np.isfinite(lat)
    if len(grid_geoms) == 0 or not located.any():
        return pos
    shapely.prepare(grid_geoms)

    # most households lie in the grid the store says they do
    candidates = np.flatnonzero(located & (stored_pos >= 0))
    order = candidates[np.argsort(stored_pos[candidates], kind="stable")]
    bounds = np.searchsorted(stored_pos[order], np.arange(len(grid_geoms) + 1))
    for k in range(len(grid_geoms)):
        rows = order[bounds[k] : bounds[k + 1]]
        if len(rows):
            inside = shapely.contains_xy(grid_geoms[k], lon[rows], lat[rows])
            pos[rows[inside]] = k

    # the others are looked up in the tree of all grids
    rest = np.flatnonzero(located & (pos < 0))
    if len(rest):
        tree = shapely.STRtree(grid_geoms)
        hit_point, hit_grid = tree.query(
            shapely.points(lon[rest], lat[rest]), predicate="intersects"
        )
        first = np.unique(hit_point, return_index=True)[1]
        pos[rest[hit_point[first]]] = hit_grid[first]
    return pos


def nearest_branch(
    lon: Floats, lat: Floats, branches: gpd.GeoDataFrame, crs: pyproj.CRS
) -> tuple[Ints, Floats]:
    """Position of the nearest branch (with a location) and the distance in metres.

    Returns -1 and NaN for households without a location, or when no branch
    has one.
    """
    n = len(lon)
    pos = np.full(n, -1, dtype=np.int64)
    distance_m = np.full(n, np.nan)
    has_point = ~(branches.geometry.isna() | branches.geometry.is_empty).to_numpy()
    located = np.isfinite(lon) & np.isfinite(lat)
    if not has_point.any() or not located.any():
        return pos, distance_m

    to_metric = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    known = np.flatnonzero(has_point)
    geoms = branches.geometry.to_numpy()[known]
    bx, by = to_metric.transform(shapely.get_x(geoms), shapely.get_y(geoms))
    x, y = to_metric.transform(lon[located], lat[located])
    found_m, nearest = cKDTree(np.column_stack([bx, by])).query(np.column_stack([x, y]))
    pos[located] = known[nearest]
    distance_m[located] = found_m
    return pos, distance_m


def ungridded_areas(
    region: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    """Parts of the region that no second-level grid covers.

    Parameters
    ----------
    region
        The area that must be gridded (the county, or selected first-level
        grids), WGS84.
    grids
        Second-level grids, WGS84.
    crs
        Projected CRS in metres used for the areas.

    Returns
    -------
    geopandas.GeoDataFrame
        One polygon per separate gap with ``gap_id`` and ``area_m2``,
        largest first, in WGS84; gaps under 1 m² are dropped.
    """
    columns = {"gap_id": pd.Series(dtype=np.int64), "area_m2": pd.Series(dtype=float)}
    empty = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=4326))
    if len(region) == 0:
        return empty

    metric_region = shapely.union_all(region.to_crs(crs).geometry.to_numpy())
    metric_grids = grids.to_crs(crs).geometry.to_numpy()
    covered = shapely.union_all(metric_grids) if len(metric_grids) else None
    gaps = metric_region if covered is None else metric_region.difference(covered)
    parts = np.asarray(shapely.get_parts(gaps), dtype=object)
    parts = parts[shapely.area(parts) >= MIN_GAP_M2] if len(parts) else parts
    if len(parts) == 0:
        return empty

    order = np.argsort(-shapely.area(parts), kind="stable")
    parts = parts[order]
    gdf = gpd.GeoDataFrame(
        {"gap_id": np.arange(1, len(parts) + 1), "area_m2": shapely.area(parts)},
        geometry=gpd.GeoSeries(parts, crs=crs),
    )
    log.info(
        "Found %d ungridded areas covering %.0f m²", len(gdf), gdf["area_m2"].sum()
    )
    return gdf.to_crs(4326)

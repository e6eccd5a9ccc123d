"""Snapping locations to the nearest point of the nearest road, in metres."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from geogrid.routes.network._types import Floats, Geoms, Ints
from geogrid.routes.network.travel_matrix import lonlat_arrays


@dataclass(frozen=True)
class Snapped:
    """Where locations meet the road network (metric coordinates).

    Attributes
    ----------
    xy_m
        The locations.
    edge
        Index of the nearest edge.
    offset_m
        Distance along that edge, from its first node, of the nearest point.
    snap_xy_m
        The nearest point.
    distance_m
        Straight distance from the location to that point.
    """

    xy_m: Floats
    edge: Ints
    offset_m: Floats
    snap_xy_m: Floats
    distance_m: Floats


def snap_to_roads(
    tree: shapely.STRtree,
    edge_geom: Geoms,
    crs: pyproj.CRS,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
) -> Snapped:
    """The nearest road point of each location given in WGS84 degrees.

    Parameters
    ----------
    tree
        Spatial index of `edge_geom`.
    edge_geom
        The road edges' LineStrings in `crs`.
    crs
        The metric CRS of the edges.
    lon, lat
        The locations.
    """
    lon_arr, lat_arr = lonlat_arrays(lon, lat)
    x, y = transformer(crs).transform(lon_arr, lat_arr)
    xy = np.column_stack([x, y])
    points: Geoms = np.asarray(shapely.points(xy), dtype=object)

    # all_matches=False keeps one edge per point when several tie
    (point_idx, edge_idx), dist = tree.query_nearest(
        points, return_distance=True, all_matches=False
    )
    edge = np.empty(len(points), dtype=np.int64)
    distance_m = np.empty(len(points))
    edge[point_idx], distance_m[point_idx] = edge_idx, dist
    offset_m = shapely.line_locate_point(edge_geom[edge], points)
    snap_xy = shapely.get_coordinates(
        shapely.line_interpolate_point(edge_geom[edge], offset_m)
    )
    return Snapped(xy, edge, offset_m, snap_xy, distance_m)


def transformer(crs: pyproj.CRS, *, inverse: bool = False) -> pyproj.Transformer:
    """From WGS84 to `crs`, or back when `inverse`; cached per CRS."""
    return _cached_transformer(crs.to_string(), inverse)


@lru_cache(maxsize=16)
def _cached_transformer(crs: str, inverse: bool) -> pyproj.Transformer:
    src, dst = (crs, "EPSG:4326") if inverse else ("EPSG:4326", crs)
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)

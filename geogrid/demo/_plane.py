"""The local metric plane of the demo county and the shapes drawn in it.

The geography is built in metres east and north of the county centre
(121.2°E, 28.5°N) and turned into WGS84 degrees by one affine map, so
vertices shared in the plane stay shared in degrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from geogrid.demo._arrays import Floats, Geoms, Ints

CENTER_LON = 121.2
CENTER_LAT = 28.5
CRS = "EPSG:4326"

# a local equirectangular plane: metres east and north of the county centre
_PHI = np.radians(CENTER_LAT)
M_PER_DEG_LAT = float(
    111_132.954 - 559.822 * np.cos(2 * _PHI) + 1.175 * np.cos(4 * _PHI)
)
M_PER_DEG_LON = float(111_412.84 * np.cos(_PHI) - 93.5 * np.cos(3 * _PHI))


def lonlat(x: Floats, y: Floats) -> tuple[Floats, Floats]:
    """WGS84 longitudes and latitudes of points in the plane (metres)."""
    return CENTER_LON + x / M_PER_DEG_LON, CENTER_LAT + y / M_PER_DEG_LAT


def to_degrees(geoms: Any) -> Any:
    """Geometries in the plane (metres) moved to WGS84 degrees."""

    def affine(coords: Floats) -> Floats:
        return np.column_stack(lonlat(coords[:, 0], coords[:, 1]))

    return shapely.transform(geoms, affine)


def as_multi(geoms: Geoms) -> Geoms:
    """MultiPolygons of polygons (and of the polygons inside MultiPolygons)."""
    out = np.empty(len(geoms), dtype=object)
    for i, geom in enumerate(geoms):
        out[i] = shapely.MultiPolygon(list(shapely.get_parts(geom)))
    return out


def uniform_in(rng: np.random.Generator, polygon: Any, n: int) -> Floats:
    """`n` points drawn uniformly inside a polygon."""
    minx, miny, maxx, maxy = polygon.bounds
    batches: list[Floats] = []
    found = 0
    while found < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(2 * n, 16), 2))
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        batches.append(xy)
        found += len(xy)
    return np.concatenate(batches)[:n]


def spread_points(
    rng: np.random.Generator,
    polygon: Any,
    existing: Floats,
    n: int,
    candidates: int,
) -> Floats:
    """`n` points inside a polygon, each the farthest of a few candidates."""
    points = [np.asarray(p, dtype=float) for p in existing]
    added: list[Floats] = []
    for _ in range(n):
        options = uniform_in(rng, polygon, candidates)
        if points:
            taken = np.array(points)
            gap = np.hypot(*(options[:, None, :] - taken[None]).transpose(2, 0, 1))
            best = options[int(np.argmax(gap.min(axis=1)))]
        else:
            best = options[0]
        points.append(best)
        added.append(best)
    return np.array(added).reshape(-1, 2)


def shrunk(polygon: Any, distance_m: float) -> Any:
    """The polygon shrunk by a distance, or itself when too small for it."""
    inner = polygon.buffer(-distance_m)
    return polygon if inner.is_empty or inner.area < 0.05 * polygon.area else inner


def tile(region: shapely.Polygon, seeds: Floats) -> Geoms:
    """Voronoi cells of the seeds clipped to the region, one polygon per seed.

    Pieces cut off a cell by a concave stretch of the region's edge are given
    to the neighbour sharing the longest border with them, so each cell is one
    polygon containing its seed; cells share vertices exactly.
    """
    cells = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=region, ordered=True
    )
    cells = shapely.intersection(shapely.get_parts(cells), region)
    for i in np.flatnonzero(shapely.get_num_geometries(cells) > 1):
        parts = shapely.get_parts(cells[i])
        home = shapely.contains_xy(parts, *seeds[i])
        cells[i] = parts[home][0]
        for part in parts[~home]:
            j = _longest_border(part, cells, exclude=int(i))
            cells[j] = shapely.coverage_union(cells[j], part)
    return np.asarray(cells, dtype=object)


def _longest_border(part: Any, cells: Geoms, exclude: int) -> int:
    border = shapely.length(
        shapely.intersection(part.boundary, shapely.boundary(cells))
    )
    border[exclude] = -1.0
    return int(np.argmax(border))


def cell_neighbours(cells: Geoms, min_border_m: float = 1.0) -> list[list[int]]:
    """For each cell, the cells sharing a border of some length with it."""
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(cells[left], cells[right]))
    neighbours: list[list[int]] = [[] for _ in cells]
    touching = shared > min_border_m
    for a, b in zip(left[touching], right[touching], strict=True):
        neighbours[a].append(int(b))
        neighbours[b].append(int(a))
    return [sorted(n) for n in neighbours]


def detached(members: Ints, adjacency: list[list[int]], anchor: int) -> list[int]:
    """Members not reachable from the anchor through members."""
    inside = set(members.tolist())
    reached = {anchor}
    frontier = [anchor]
    while frontier:
        node = frontier.pop()
        for n in adjacency[node]:
            if n in inside and n not in reached:
                reached.add(n)
                frontier.append(n)
    return sorted(inside - reached)

"""Adjacency of design units: shared borders, island links and connected pieces.

Units are neighbours when they share a stretch of border (libpysal rook
contiguity, strict geometric test, with the length of the shared border
kept); borders that miss by less than `SNAP_TOLERANCE_M` count too when the
near stretch is at least `MIN_SHARED_BORDER_M` long. Island units and
detached groups are linked to their nearest unit, so every unit can join a
grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from libpysal.graph import Graph
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

logger = logging.getLogger(__name__)

# villages closer than this count as touching; a shared border must be longer
SNAP_TOLERANCE_M = 1.0
MIN_SHARED_BORDER_M = 10.0


@dataclass
class UnitGraph:
    """Unit adjacency: neighbour lists, shared border lengths and perimeters."""

    neighbours: list[list[int]]
    shared_m: list[list[float]]
    perimeter_m: list[float]
    area_m2: list[float]
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_gap_m: np.ndarray
    edge_shared_m: np.ndarray
    links_added: int


def adjacency(geoms: gpd.GeoSeries) -> UnitGraph:
    """Adjacency of units, every unit reachable from every other.

    Parameters
    ----------
    geoms
        Unit shapes in a metric CRS.

    Returns
    -------
    UnitGraph
        Neighbours with shared border lengths (0 for island links), unit
        perimeters and areas, and each border once with its centroid gap.
    """
    geoms = geoms.reset_index(drop=True)
    n = len(geoms)
    focal, other, shared = _rook_pairs(geoms)

    # link islands and detached groups to their nearest unit, border length 0
    focal, other, shared, added = _link_components(geoms, n, focal, other, shared)

    neighbours: list[list[int]] = [[] for _ in range(n)]
    shared_m: list[list[float]] = [[] for _ in range(n)]
    for u, v, s in zip(focal.tolist(), other.tolist(), shared.tolist(), strict=True):
        neighbours[u].append(v)
        shared_m[u].append(s)

    # each border once, with the gap between the two centroids
    once = focal < other
    centroids = shapely.get_coordinates(geoms.centroid.to_numpy())
    gap = np.hypot(*(centroids[focal[once]] - centroids[other[once]]).T)
    return UnitGraph(
        neighbours=neighbours,
        shared_m=shared_m,
        perimeter_m=geoms.length.tolist(),
        area_m2=geoms.area.tolist(),
        edge_u=focal[once],
        edge_v=other[once],
        edge_gap_m=gap + 1e-3,
        edge_shared_m=shared[once],
        links_added=added,
    )


def _rook_pairs(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # exact rook contiguity, with the length of each shared border
    rook = Graph.build_contiguity(geoms, rook=True, by_perimeter=True, strict=True)
    edges = rook.adjacency.reset_index().to_numpy()
    edges = edges[edges[:, 0] != edges[:, 1]]
    focal, other = edges[:, 0].astype(int), edges[:, 1].astype(int)
    shared = edges[:, 2].astype(float)

    # borders that miss by digitising noise (or by a cut's rounding) count too
    fuzzy = Graph.build_fuzzy_contiguity(geoms, buffer=SNAP_TOLERANCE_M).adjacency
    pairs = fuzzy.index.to_frame(index=False).to_numpy().astype(int)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    known = set(zip(focal.tolist(), other.tolist(), strict=True))
    extra = np.array(
        [p for p in pairs.tolist() if (p[0], p[1]) not in known], dtype=int
    ).reshape(-1, 2)
    if len(extra) == 0:
        return focal, other, shared

    shapes = geoms.to_numpy()
    near = shapely.buffer(shapes[extra[:, 1]], SNAP_TOLERANCE_M)
    length = shapely.length(
        shapely.intersection(shapely.boundary(shapes[extra[:, 0]]), near)
    )
    extra, length = (
        extra[length >= MIN_SHARED_BORDER_M],
        length[length >= MIN_SHARED_BORDER_M],
    )
    return (
        np.concatenate([focal, extra[:, 0], extra[:, 1]]),
        np.concatenate([other, extra[:, 1], extra[:, 0]]),
        np.concatenate([shared, length, length]),
    )


def _link_components(
    geoms: gpd.GeoSeries,
    n: int,
    focal: np.ndarray,
    other: np.ndarray,
    shared: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    added = 0
    tree = shapely.STRtree(geoms.to_numpy())
    while True:
        matrix = coo_matrix((np.ones(len(focal)), (focal, other)), shape=(n, n))
        n_parts, part = connected_components(matrix, directed=False)
        if n_parts <= 1:
            break
        sizes = np.bincount(part)
        new_links = []
        for group in np.argsort(sizes)[:-1]:
            members = np.flatnonzero(part == group)
            new_links.append(_nearest_outside(geoms, tree, members, part, group))
        links = np.array(sorted({tuple(sorted(link)) for link in new_links}))
        focal = np.concatenate([focal, links[:, 0], links[:, 1]])
        other = np.concatenate([other, links[:, 1], links[:, 0]])
        shared = np.concatenate([shared, np.zeros(2 * len(links))])
        added += len(links)
    if added:
        logger.warning(
            "Linked %d islands or detached groups of villages to their nearest village",
            added,
        )
    return focal, other, shared, added


def _nearest_outside(
    geoms: gpd.GeoSeries,
    tree: shapely.STRtree,
    members: np.ndarray,
    part: np.ndarray,
    group: int,
) -> tuple[int, int]:
    outside = np.flatnonzero(part != group)
    outside_tree = shapely.STRtree(geoms.to_numpy()[outside])
    pairs, gaps = outside_tree.query_nearest(
        geoms.to_numpy()[members], return_distance=True, all_matches=False
    )
    best = int(np.argmin(gaps))
    return int(members[pairs[0, best]]), int(outside[pairs[1, best]])


def grid_pieces(graph: UnitGraph, labels: np.ndarray, g: int) -> list[np.ndarray]:
    """The connected pieces of grid ``g``, as arrays of unit indices."""
    members = np.flatnonzero(labels == g)
    seen: set[int] = set()
    pieces = []
    for start in members.tolist():
        if start in seen:
            continue
        piece = [start]
        seen.add(start)
        for u in piece:
            for v in graph.neighbours[u]:
                if labels[v] == g and v not in seen:
                    seen.add(v)
                    piece.append(v)
        pieces.append(np.array(piece))
    return pieces

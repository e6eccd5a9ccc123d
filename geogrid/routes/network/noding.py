"""Noding: turning road lines into graph edges between junctions.

Lines are split where they share a vertex (within `NODE_TOLERANCE_M`) and
where an end of one line lies on another line, and optionally where two lines
cross; only the largest connected part of the resulting graph is kept.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geogrid.routes.network._types import Floats, Geoms

logger = logging.getLogger(__name__)

NODE_TOLERANCE_M = 1.0


def join_road_ends(lines: Geoms, tolerance_m: float) -> Geoms:
    """Insert a vertex where a road end lies on the inside of another road."""
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    ends: Geoms = np.asarray(shapely.points(np.r_[first, last]), dtype=object)
    end_line = np.tile(np.arange(len(lines)), 2)
    tree = shapely.STRtree(lines)
    end_idx, line_idx = tree.query(ends, predicate="dwithin", distance=tolerance_m)
    other = end_line[end_idx] != line_idx
    end_idx, line_idx = end_idx[other], line_idx[other]

    # the touched point must be inside the other road, not at its ends
    along = shapely.line_locate_point(lines[line_idx], ends[end_idx])
    length = shapely.length(lines[line_idx])
    inside = (along > tolerance_m) & (along < length - tolerance_m)
    end_idx, line_idx, along = end_idx[inside], line_idx[inside], along[inside]
    if line_idx.size == 0:
        return lines

    lines = lines.copy()
    for line in np.unique(line_idx):
        lines[line] = _with_vertices(lines[line], np.sort(along[line_idx == line]))
    logger.debug("Joined %d road ends to the inside of other roads", line_idx.size)
    return lines


def split_at_crossings(lines: Geoms) -> Geoms:
    """Insert a vertex into both roads wherever two roads cross."""
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="crosses")
    once = left < right
    left, right = left[once], right[once]
    if left.size == 0:
        return lines

    # one crossing may be several points; each goes into both roads
    crossings = shapely.intersection(lines[left], lines[right])
    points, pair = shapely.get_parts(crossings, return_index=True)
    is_point = shapely.get_type_id(points) == 0
    points, pair = points[is_point], pair[is_point]
    on_line = np.r_[left[pair], right[pair]]
    along = shapely.line_locate_point(lines[on_line], np.r_[points, points])

    lines = lines.copy()
    for line in np.unique(on_line):
        lines[line] = _with_vertices(lines[line], np.sort(along[on_line == line]))
    logger.debug("Split roads at %d crossings", len(points))
    return lines


def _with_vertices(line: shapely.LineString, along_m: Floats) -> shapely.LineString:
    coords = shapely.get_coordinates(line)
    cumulative = np.r_[0.0, np.cumsum(np.hypot(*np.diff(coords, axis=0).T))]
    points = shapely.get_coordinates(shapely.line_interpolate_point(line, along_m))
    position = np.searchsorted(cumulative, along_m)
    return shapely.LineString(np.insert(coords, position, points, axis=0))


def split_at_junctions(lines: Geoms, tolerance_m: float) -> tuple[pd.DataFrame, int]:
    """Edges between junctions: road ends and vertices shared by several roads."""
    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    n = len(coords)

    # vertices within the tolerance of each other are one point
    pairs = cKDTree(coords).query_pairs(tolerance_m, output_type="ndarray")
    links = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, point = connected_components(links, directed=False)
    _, first_of_point = np.unique(point, return_index=True)
    coords = coords[first_of_point[point]]

    # a vertex is a junction at a road end or where several roads meet
    is_end = (
        np.r_[True, line_of[1:] != line_of[:-1]]
        | np.r_[line_of[1:] != line_of[:-1], True]
    )
    point_line = np.unique(np.column_stack([point, line_of]), axis=0)
    n_lines = np.bincount(point_line[:, 0], minlength=point.max() + 1)
    junction = np.flatnonzero(is_end | (n_lines[point] > 1))

    # an edge runs from each junction to the next one on the same road
    a, b = junction[:-1], junction[1:]
    same_line = line_of[a] == line_of[b]
    a, b = a[same_line], b[same_line]
    counts = b - a + 1
    starts = np.repeat(a - np.r_[0, np.cumsum(counts)[:-1]], counts)
    vertex = np.arange(counts.sum()) + starts
    edge_of_vertex = np.repeat(np.arange(len(a)), counts)
    geoms = shapely.linestrings(coords[vertex], indices=edge_of_vertex)

    # junction points numbered 0..n_nodes-1; tiny loops are dropped
    nodes, node = np.unique(point[np.r_[a, b]], return_inverse=True)
    u, v = node[: len(a)], node[len(a) :]
    edges = pd.DataFrame({"u": u, "v": v, "line": line_of[a], "geometry": geoms})
    degenerate = (u == v) & (shapely.length(geoms) < 2.0 * tolerance_m)
    return edges[~degenerate].reset_index(drop=True), len(nodes)


def main_component(edges: pd.DataFrame, n_nodes: int) -> tuple[pd.DataFrame, int, int]:
    """The edges of the largest connected part, renumbered, and how many were cut."""
    graph = coo_matrix(
        (np.ones(len(edges)), (edges["u"], edges["v"])), shape=(n_nodes, n_nodes)
    )
    _, label = connected_components(graph, directed=False)
    main = np.argmax(np.bincount(label))
    keep = label[edges["u"].to_numpy()] == main
    kept = edges[keep].reset_index(drop=True)

    # renumber the nodes that remain
    used, inverse = np.unique(np.r_[kept["u"], kept["v"]], return_inverse=True)
    kept["u"], kept["v"] = inverse[: len(kept)], inverse[len(kept) :]
    return kept, len(used), int((~keep).sum())

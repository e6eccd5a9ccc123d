"""The road network: county roads between seats, town roads, village lanes."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from geogrid.demo._arrays import Floats, rank_in_runs, stream
from geogrid.demo._plane import CRS, to_degrees
from geogrid.demo.geography import Geography

SPEED_KPH = {"county": 60.0, "town": 40.0, "village": 25.0}


def build_roads(seed: int, geo: Geography) -> gpd.GeoDataFrame:
    """County roads between seats, town roads between villages, village lanes."""
    rng = stream(seed, "roads")
    towns, villages, clusters = geo.towns, geo.villages, geo.clusters
    lines: list[Any] = []
    kinds: list[str] = []
    names: list[str] = []

    def add(a: Floats, b: Floats, kind: str, name: str) -> None:
        lines.append(_bent_line(rng, a, b))
        kinds.append(kind)
        names.append(name)

    # county roads link the town seats
    seats = towns.seat_xy
    initial = [s[1] if s.startswith("城") else s[0] for s in towns.short]
    for k, (i, j) in enumerate(_network_edges(seats, extra=3)):
        add(seats[i], seats[j], "county", f"X{101 + k} {initial[i]}{initial[j]}线")

    # town roads link the village centres of each town to its seat
    stems = [n.removesuffix("社区").removesuffix("村") for n in villages.name]
    in_tree: set[tuple[int, int]] = set()
    for t in range(len(towns.code)):
        members = np.flatnonzero(villages.town == t)
        for i, j in _mst_edges(villages.seed_xy[members]):
            a, b = int(members[i]), int(members[j])
            in_tree.add((min(a, b), max(a, b)))
            add(
                villages.seed_xy[a],
                villages.seed_xy[b],
                "town",
                f"{stems[a]}{stems[b]}公路",
            )

    # village roads close a few loops and reach the natural villages
    for a, b in _loop_edges(rng, villages.seed_xy, in_tree):
        add(
            villages.seed_xy[a],
            villages.seed_xy[b],
            "village",
            f"{stems[a]}{stems[b]}村道",
        )
    for k in np.flatnonzero(rank_in_runs(clusters.village) > 0).tolist():
        v = int(clusters.village[k])
        add(clusters.xy[k], villages.seed_xy[v], "village", f"{clusters.name[k]}路")

    return _noded_roads(lines, kinds, names)


def _bent_line(rng: np.random.Generator, a: Floats, b: Floats) -> shapely.LineString:
    """A road from a to b with gentle bends; its ends are exactly a and b."""
    delta = b - a
    length_m = float(np.hypot(*delta))
    inner = int(np.clip(length_m // 700, 1, 8))
    t = np.linspace(0, 1, inner + 2)
    normal = np.array([-delta[1], delta[0]]) / max(length_m, 1e-9)
    offset_m = rng.normal(0, 0.05) * length_m * np.sin(np.pi * t)
    offset_m[1:-1] += rng.normal(0, 0.01 * length_m, inner)
    coords = a + np.outer(t, delta) + np.outer(offset_m, normal)
    coords[0], coords[-1] = a, b
    return shapely.LineString(coords)


def _mst_edges(xy: Floats) -> list[tuple[int, int]]:
    """Edges of the Euclidean minimum spanning tree of the points."""
    if len(xy) < 2:
        return []
    distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    tree = minimum_spanning_tree(distance).tocoo()
    return sorted(
        (int(min(i, j)), int(max(i, j)))
        for i, j in zip(tree.row, tree.col, strict=True)
    )


def _delaunay_edges(xy: Floats) -> list[tuple[int, int]]:
    triangles = Delaunay(xy).simplices
    pairs = np.sort(
        np.vstack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [0, 2]]]),
        axis=1,
    )
    return [(int(i), int(j)) for i, j in np.unique(pairs, axis=0)]


def _network_edges(xy: Floats, extra: int) -> list[tuple[int, int]]:
    """A spanning tree plus the `extra` shortest Delaunay edges outside it."""
    tree = _mst_edges(xy)
    in_tree = set(tree)
    others = [e for e in _delaunay_edges(xy) if e not in in_tree]
    length = [float(np.hypot(*(xy[i] - xy[j]))) for i, j in others]
    shortest = [others[k] for k in np.argsort(length, kind="stable")[:extra]]
    return tree + shortest


def _loop_edges(
    rng: np.random.Generator, xy: Floats, in_tree: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """About a quarter of the short Delaunay edges that no town road follows."""
    edges = [e for e in _delaunay_edges(xy) if e not in in_tree]
    length = np.array([np.hypot(*(xy[i] - xy[j])) for i, j in edges])
    keep = (length < 2500) & (rng.random(len(edges)) < 0.25)
    return [e for e, k in zip(edges, keep, strict=True) if k]


def _noded_roads(
    lines: list[Any], kinds: list[str], names: list[str]
) -> gpd.GeoDataFrame:
    """Split every road where it meets another; pieces keep their road's fields."""
    pieces = shapely.get_parts(shapely.node(shapely.GeometryCollection(lines)))
    middle = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    _, owner = shapely.STRtree(np.array(lines, dtype=object)).query_nearest(
        middle, all_matches=False
    )
    kind = np.array(kinds, dtype=object)[owner]
    frame = gpd.GeoDataFrame(
        {
            "name": np.array(names, dtype=object)[owner],
            "kind": kind,
            "speed_kph": [SPEED_KPH[k] for k in kind],
        },
        geometry=to_degrees(pieces),
        crs=CRS,
    )
    return frame

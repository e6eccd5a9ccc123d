"""Route lines: the travelled line of each leg, from a location along the roads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.ops import substring

from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Floats, Ints
from geogrid.routes.network.shortest_paths import Arcs, Graph
from geogrid.routes.network.snapping import Snapped, transformer

if TYPE_CHECKING:
    from geogrid.routes.network import RoadNetwork


@dataclass
class RouteLines:
    """Draws legs between the locations of one travel matrix."""

    network: RoadNetwork
    graph: Graph
    snapped: Snapped
    on: Ints
    loc_node: Ints

    def legs(self, pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
        """The line of each (from, to) pair of locations, in EPSG:4326."""
        node_of = np.full(len(self.snapped.edge), -1, dtype=np.int64)
        node_of[self.on] = self.loc_node
        for a, b in pairs:
            if node_of[a] < 0 or node_of[b] < 0:
                raise InvalidInput(
                    f"Location {a if node_of[a] < 0 else b} is off the road "
                    "network, so no road leg reaches it.",
                )

        paths = self.graph.paths([(int(node_of[a]), int(node_of[b])) for a, b in pairs])
        return [
            self._line(a, b, path) for (a, b), path in zip(pairs, paths, strict=True)
        ]

    def _line(self, a: int, b: int, path: Ints) -> shapely.LineString:
        s = self.snapped
        if a == b:
            coords = np.stack([s.xy_m[a], s.xy_m[a]])
        else:
            road = road_coords(
                self.network, self.graph.arcs, path, s.snap_xy_m[a], s.snap_xy_m[b]
            )
            coords = np.concatenate([s.xy_m[a][None, :], road, s.xy_m[b][None, :]])
        coords = _drop_repeats(coords)
        x, y = transformer(self.network.crs, inverse=True).transform(
            coords[:, 0], coords[:, 1]
        )
        return shapely.LineString(np.column_stack([x, y]))


def road_coords(
    network: RoadNetwork, arcs: Arcs, path: Ints, start_xy: Floats, end_xy: Floats
) -> Floats:
    """Coordinates from a road point along the arcs of a path to another road point."""
    # coordinates of the walk to the road, the road pieces and the walk off
    parts = [start_xy[None, :]]
    for k in path:
        edge, from_m, to_m = arcs.edge[k], arcs.from_m[k], arcs.to_m[k]
        if abs(to_m - from_m) < 1e-9:
            continue
        geom = network.edge_geom[edge]
        length = network.edge_length_m[edge]
        if from_m == 0.0 and to_m == length:
            piece = shapely.get_coordinates(geom)
        elif from_m == length and to_m == 0.0:
            piece = shapely.get_coordinates(geom)[::-1]
        else:
            piece = shapely.get_coordinates(substring(geom, from_m, to_m))
        parts.append(piece)
    parts.append(end_xy[None, :])
    return np.concatenate(parts)


def _drop_repeats(coords: Floats) -> Floats:
    keep = np.r_[True, np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)]
    coords = coords[keep]
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    return coords

"""Travel models for visit routes: road networks, straight lines, travel matrices.

A `RoadNetwork` is built once from a roads GeoDataFrame (LineStrings in
EPSG:4326 with optional ``speed_kph``, ``kind``, ``name`` and ``oneway``
columns). Roads are projected to the UTM zone of the data; lines are split
where they share a vertex (within `NODE_TOLERANCE_M`) and where an end of one
line lies on another line, so both pre-split networks and whole OpenStreetMap
ways connect at their junctions. Roads that cross without a shared vertex
(bridges, overpasses) stay unconnected. Only the largest connected part of
the network is kept: a stop near a detached fragment snaps to the main
network instead.

A location reaches the network at the nearest point of the nearest road and
covers that access distance at `ACCESS_SPEED_KPH`; a location farther than
``max_snap_m`` from every road is off the network. Travel times along roads
are length over speed; the matrix of a set of locations comes from scipy's
multi-source Dijkstra on a graph in which every snapped point splits its road.

`StraightLine` is the model for counties without road data: the great-circle
distance times a stated detour factor, at a stated speed.

This package's entry holds `RoadNetwork`; the work is done in its modules
`roads_io` and `osm_roads` (reading roads), `road_classes` (speeds and
one-way flags), `noding` (edges between junctions), `snapping`,
`shortest_paths`, `route_lines`, `travel_matrix` and `straight_line`.
"""

from __future__ import annotations

import logging
import time

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from geogrid.crs import convert_geometries, utm_crs_for
from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Floats, Ints
from geogrid.routes.network.noding import (
    NODE_TOLERANCE_M,
    join_road_ends,
    main_component,
    split_at_crossings,
    split_at_junctions,
)
from geogrid.routes.network.osm_roads import read_osm_roads
from geogrid.routes.network.road_classes import (
    DEFAULT_SPEED_KPH,
    KIND_SPEED_KPH,
    OSM_HIGHWAYS,
    check_speed,
    speeds_kph,
)
from geogrid.routes.network.roads_io import read_roads, roads_frame
from geogrid.routes.network.route_lines import RouteLines
from geogrid.routes.network.shortest_paths import Arcs, Graph
from geogrid.routes.network.snapping import Snapped, snap_to_roads
from geogrid.routes.network.straight_line import (
    DETOUR_FACTOR,
    EARTH_RADIUS_M,
    STRAIGHT_LINE_SPEED_KPH,
    StraightLine,
)
from geogrid.routes.network.travel_matrix import TravelMatrix

__all__ = [
    "ACCESS_SPEED_KPH",
    "DEFAULT_SPEED_KPH",
    "DETOUR_FACTOR",
    "EARTH_RADIUS_M",
    "KIND_SPEED_KPH",
    "MAX_SNAP_M",
    "NODE_TOLERANCE_M",
    "OSM_HIGHWAYS",
    "STRAIGHT_LINE_SPEED_KPH",
    "RoadNetwork",
    "Snapped",
    "StraightLine",
    "TravelMatrix",
    "read_osm_roads",
    "read_roads",
    "roads_frame",
]

logger = logging.getLogger(__name__)

ACCESS_SPEED_KPH = 15.0
MAX_SNAP_M = 2_000.0


class RoadNetwork:
    """A routing graph of roads, in metres in the UTM zone of the roads.

    Build it with `RoadNetwork.from_roads`; it is immutable and can be kept
    and reused for every route of the county.

    Attributes
    ----------
    crs
        The metric CRS of the graph.
    edge_u, edge_v
        First and last node of each edge.
    edge_length_m, edge_time_s, edge_speed_kph
        Length, travel time and speed of each edge.
    edge_oneway
        True where an edge may only be travelled from `edge_u` to `edge_v`.
    edge_geom
        Each edge's LineString in `crs`, drawn from `edge_u` to `edge_v`.
    n_nodes
        Number of nodes.
    access_speed_kph
        Speed on the way between a location and its road.
    max_snap_m
        Locations farther than this from every road are off the network.
    """

    name = "road_network"

    def __init__(
        self,
        crs: pyproj.CRS,
        edges: pd.DataFrame,
        n_nodes: int,
        *,
        access_speed_kph: float = ACCESS_SPEED_KPH,
        max_snap_m: float = MAX_SNAP_M,
    ) -> None:
        check_speed(access_speed_kph, "access_speed_kph")
        if not (isinstance(max_snap_m, int | float) and max_snap_m > 0.0):
            raise InvalidInput(
                f"max_snap_m must be a positive distance in metres; received "
                f"{max_snap_m!r}.",
                parameter="max_snap_m",
            )
        self.crs = crs
        self.edge_u = edges["u"].to_numpy(np.int64)
        self.edge_v = edges["v"].to_numpy(np.int64)
        self.edge_geom = edges["geometry"].to_numpy(object)
        self.edge_length_m = shapely.length(self.edge_geom)
        self.edge_speed_kph = edges["speed_kph"].to_numpy(np.float64)
        self.edge_time_s = self.edge_length_m / (self.edge_speed_kph / 3.6)
        self.edge_oneway = edges["oneway"].to_numpy(bool)
        self.edge_name = edges["name"].to_numpy(object)
        self.edge_kind = edges["kind"].to_numpy(object)
        self.n_nodes = int(n_nodes)
        self.access_speed_kph = float(access_speed_kph)
        self.max_snap_m = float(max_snap_m)
        self._tree = shapely.STRtree(self.edge_geom)
        self._arcs = self._edge_arcs()

    @classmethod
    def from_roads(
        cls,
        roads: gpd.GeoDataFrame,
        *,
        default_speed_kph: float = DEFAULT_SPEED_KPH,
        node_tolerance_m: float = NODE_TOLERANCE_M,
        split_crossings: bool = False,
        access_speed_kph: float = ACCESS_SPEED_KPH,
        max_snap_m: float = MAX_SNAP_M,
    ) -> RoadNetwork:
        """Build the routing graph of a roads GeoDataFrame.

        Parameters
        ----------
        roads
            LineStrings (or MultiLineStrings) with a CRS, normally EPSG:4326;
            optional columns ``speed_kph``, ``kind``, ``name``, ``oneway``.
        default_speed_kph
            Speed of a road with neither a positive ``speed_kph`` nor a
            ``kind`` listed in `KIND_SPEED_KPH`.
        node_tolerance_m
            Road vertices closer than this are one junction, and a road end
            this close to another road joins it.
        split_crossings
            Also join roads where they cross without a shared vertex. Leave it
            off for OpenStreetMap data, whose crossings without a shared node
            are bridges and tunnels; turn it on for a hand-drawn road layer
            whose junctions were never split.
        access_speed_kph
            Speed between a location and its nearest road.
        max_snap_m
            Farther than this from every road, a location is off the network.

        Returns
        -------
        RoadNetwork
            The largest connected part of the roads.

        Raises
        ------
        InvalidInput
            When `roads` has no CRS or no line, or a parameter is out of range.
        """
        started = time.perf_counter()
        check_speed(default_speed_kph, "default_speed_kph")
        frame = roads_frame(roads)
        crs = utm_crs_for(frame)
        lines_m = frame.to_crs(crs).geometry.to_numpy()
        speeds = speeds_kph(frame, default_speed_kph)

        # split lines at junctions, then keep the main connected part
        lines_m = join_road_ends(lines_m, node_tolerance_m)
        if split_crossings:
            lines_m = split_at_crossings(lines_m)
        edges, n_nodes = split_at_junctions(lines_m, node_tolerance_m)
        source = edges["line"].to_numpy()
        edges["speed_kph"] = speeds[source]
        for column in ("name", "kind", "oneway"):
            edges[column] = frame[column].to_numpy()[source]
        edges, n_nodes, n_left_out = main_component(edges, n_nodes)

        network = cls(
            crs,
            edges,
            n_nodes,
            access_speed_kph=access_speed_kph,
            max_snap_m=max_snap_m,
        )
        logger.info(
            "Built road network with %d nodes and %d edges from %d roads in %.2f s "
            "(%d edges in detached fragments left out)",
            network.n_nodes,
            len(edges),
            len(frame),
            time.perf_counter() - started,
            n_left_out,
        )
        return network

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.edge_u.size)

    def to_gdf(self) -> gpd.GeoDataFrame:
        """The edges in EPSG:4326: u, v, name, kind, speed, length, time, oneway."""
        frame = pd.DataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "name": self.edge_name,
                "kind": self.edge_kind,
                "speed_kph": self.edge_speed_kph,
                "length_m": self.edge_length_m,
                "time_s": self.edge_time_s,
                "oneway": self.edge_oneway,
            }
        )
        geoms = convert_geometries(self.edge_geom, self.crs.to_string(), "wgs84")
        return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)

    def snap(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Snapped:
        """The nearest road point of each location given in WGS84 degrees."""
        return snap_to_roads(self._tree, self.edge_geom, self.crs, lon, lat)

    def matrix(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> TravelMatrix:
        """Travel times and distances between locations given in WGS84 degrees.

        Each entry is the access to the road at `access_speed_kph`, the
        quickest road path, and the access from the road at the other end.
        Distances are those of the quickest paths.
        """
        started = time.perf_counter()
        snapped = self.snap(lon, lat)
        off = snapped.distance_m > self.max_snap_m
        on = np.flatnonzero(~off)

        # split the edges at the snapped points and run dijkstra from them
        arcs, loc_node, n_nodes = self._split_arcs(
            snapped.edge[on], snapped.offset_m[on]
        )
        graph = Graph(arcs, n_nodes)
        time_on, length_on = graph.between(loc_node)

        # add the access at both ends
        access_s = snapped.distance_m / (self.access_speed_kph / 3.6)
        n = len(off)
        time_s = np.full((n, n), np.inf)
        distance_m = np.full((n, n), np.inf)
        grid = np.ix_(on, on)
        time_s[grid] = time_on + access_s[on, None] + access_s[None, on]
        distance_m[grid] = (
            length_on + snapped.distance_m[on, None] + snapped.distance_m[None, on]
        )
        np.fill_diagonal(time_s, 0.0)
        np.fill_diagonal(distance_m, 0.0)

        route_lines = RouteLines(self, graph, snapped, on, loc_node)
        logger.debug(
            "Computed travel matrix of %d locations (%d off the network) in %.2f s",
            n,
            int(off.sum()),
            time.perf_counter() - started,
        )
        return TravelMatrix(
            model=self.name,
            time_s=time_s,
            distance_m=distance_m,
            access_m=snapped.distance_m,
            off_network=off,
            _legs=route_lines.legs,
        )

    def _edge_arcs(self) -> Arcs:
        n = self.n_edges
        return Arcs(
            tail=self.edge_u,
            head=self.edge_v,
            time_s=self.edge_time_s,
            length_m=self.edge_length_m,
            edge=np.arange(n, dtype=np.int64),
            from_m=np.zeros(n),
            to_m=self.edge_length_m.copy(),
        )

    def _split_arcs(self, edge: Ints, offset_m: Floats) -> tuple[Arcs, Ints, int]:
        # every distinct snapped point becomes a node n, n + 1, ... that
        # splits its edge into pieces, sorted along the edge
        if edge.size == 0:
            return self._arcs, np.zeros(0, dtype=np.int64), self.n_nodes
        pairs, rank = np.unique(
            np.column_stack([edge, offset_m]), axis=0, return_inverse=True
        )
        pair_edge = pairs[:, 0].astype(np.int64)
        pair_offset = pairs[:, 1]
        pair_node = self.n_nodes + np.arange(len(pairs), dtype=np.int64)
        loc_node = pair_node[rank.ravel()]

        # the piece before each point, and after the last point of each edge
        first = np.r_[True, pair_edge[1:] != pair_edge[:-1]]
        last = np.r_[pair_edge[1:] != pair_edge[:-1], True]
        before_tail = np.where(first, self.edge_u[pair_edge], np.roll(pair_node, 1))
        before_from = np.where(first, 0.0, np.roll(pair_offset, 1))
        pieces_edge = np.r_[pair_edge, pair_edge[last]]
        pieces = Arcs(
            tail=np.r_[before_tail, pair_node[last]],
            head=np.r_[pair_node, self.edge_v[pair_edge[last]]],
            time_s=np.zeros(len(pieces_edge)),
            length_m=np.zeros(len(pieces_edge)),
            edge=pieces_edge,
            from_m=np.r_[before_from, pair_offset[last]],
            to_m=np.r_[pair_offset, self.edge_length_m[pair_edge[last]]],
        )
        pieces.length_m = pieces.to_m - pieces.from_m
        share = pieces.length_m / np.maximum(self.edge_length_m[pieces_edge], 1e-9)
        pieces.time_s = share * self.edge_time_s[pieces_edge]

        # unsplit edges, the pieces, and the way back where roads are two-way
        split = np.zeros(self.n_edges, dtype=bool)
        split[pair_edge] = True
        forward = Arcs.concat([self._arcs.select(~split), pieces])
        two_way = ~self.edge_oneway[forward.edge]
        back = forward.select(two_way)
        back = Arcs(
            back.head,
            back.tail,
            back.time_s,
            back.length_m,
            back.edge,
            back.to_m,
            back.from_m,
        )
        n_nodes = self.n_nodes + len(pairs)
        return Arcs.concat([forward, back]), loc_node, n_nodes

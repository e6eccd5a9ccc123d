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
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import pyproj
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.ops import substring

from geogrid.crs import convert_geometries, utm_crs_for
from geogrid.errors import InvalidInput

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Geoms = npt.NDArray[np.object_]
LegsFn = Callable[[Sequence[tuple[int, int]]], list[shapely.LineString]]

DEFAULT_SPEED_KPH = 30.0
ACCESS_SPEED_KPH = 15.0
MAX_SNAP_M = 2_000.0
NODE_TOLERANCE_M = 1.0
DETOUR_FACTOR = 1.3
STRAIGHT_LINE_SPEED_KPH = 30.0
EARTH_RADIUS_M = 6_371_008.8

# travel speed by road kind: the demo county's classes, the store's default
# kind, and the OpenStreetMap highway values a car or e-bike may use
KIND_SPEED_KPH = {
    "county": 60.0,
    "town": 40.0,
    "village": 25.0,
    "local": 30.0,
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 15.0,
}
OSM_HIGHWAYS = frozenset(KIND_SPEED_KPH) - {"county", "town", "village", "local"}

# dijkstra returns one row of every node per source: cap a batch's entries
_BATCH_ENTRIES = 4_000_000
# the smallest travel time of an arc, so that no arc of the graph weighs zero
_MIN_ARC_S = 1e-6
_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?\s*$")
_OTHER_TAG = re.compile(r'"([^"]+)"=>"([^"]*)"')
_TRUE_WORDS = {"yes", "true", "1"}


# --- reading roads -------------------------------------------------------------


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
    if path.name.lower().endswith(_OSM_SUFFIXES):
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


def read_osm_roads(path: str | Path, *, engine: str = "auto") -> gpd.GeoDataFrame:
    """Read the drivable ways of an OpenStreetMap extract.

    Ways whose ``highway`` value is a key of `KIND_SPEED_KPH` are kept (so
    footways, cycleways, steps and paths are not); ``kind`` is that value,
    ``speed_kph`` a numeric ``maxspeed`` (mph converted) or NaN, and
    ``oneway`` follows the ``oneway`` tag (``-1`` reverses the line) and
    roundabouts. Ways stay whole: `RoadNetwork` splits them where they share
    nodes.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` (XML) file.
    engine
        ``"osmium"`` (the pip package ``osmium``), ``"gdal"`` (GDAL's OSM
        driver through pyogrio), or ``"auto"``: osmium when it is
        installed, GDAL otherwise.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns as `read_roads` returns them.

    Raises
    ------
    InvalidInput
        When the engine is unknown or not installed, or no way is drivable.
    """
    path = Path(path)
    engine = _osm_engine(engine)
    started = time.perf_counter()
    read = _osm_ways_osmium if engine == "osmium" else _osm_ways_gdal
    records = read(path)

    roads = _osm_roads(records, path.name)
    logger.info(
        "Read %d drivable ways of %d tagged highway ways from %s with %s in %.1f s",
        len(roads),
        len(records),
        path.name,
        engine,
        time.perf_counter() - started,
    )
    return roads


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
        "oneway": _column(lines, ("oneway",), False).map(_is_true).astype(bool),
    }
    return gpd.GeoDataFrame(
        columns, geometry=lines.geometry.to_numpy(), crs=4326
    ).reset_index(drop=True)


def _column(gdf: gpd.GeoDataFrame, names: Sequence[str], default: Any) -> pd.Series:
    for name in names:
        if name in gdf.columns:
            return gdf[name].reset_index(drop=True)
    return pd.Series([default] * len(gdf), dtype=object)


def _is_true(value: Any) -> bool:
    # True, 1 and "yes" / "true" / "1" in any case; missing values are False
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return isinstance(value, bool | int | np.integer | np.bool_) and bool(value)


def _osm_engine(engine: str) -> str:
    if engine not in ("auto", "osmium", "gdal"):
        raise InvalidInput(
            f"OpenStreetMap engine must be 'auto', 'osmium' or 'gdal'; received "
            f"{engine!r}.",
            parameter="engine",
        )
    if engine == "gdal":
        return engine
    try:
        import osmium  # noqa: F401
    except ImportError:
        if engine == "osmium":
            raise InvalidInput(
                "The OpenStreetMap engine 'osmium' is not installed. Install the "
                "pip package osmium, or pass engine='gdal'.",
                parameter="engine",
            ) from None
        return "gdal"
    return "osmium"


def _osm_ways_osmium(path: Path) -> list[dict[str, Any]]:
    import osmium

    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    records = []
    way: Any
    for way in processor:
        coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        tags = {t.k: t.v for t in way.tags}
        records.append({"tags": tags, "coords": coords})
    return records


def _osm_ways_gdal(path: Path) -> list[dict[str, Any]]:
    gdf = pyogrio.read_dataframe(
        path,
        layer="lines",
        columns=["name", "highway", "other_tags"],
        where="highway IS NOT NULL",
    )
    records = []
    for name, highway, other, geom in zip(
        gdf["name"], gdf["highway"], gdf["other_tags"], gdf.geometry, strict=True
    ):
        tags = dict(_OTHER_TAG.findall(other if isinstance(other, str) else ""))
        tags["highway"] = highway
        if isinstance(name, str):
            tags["name"] = name
        coords = shapely.get_coordinates(geom).tolist() if geom is not None else []
        records.append({"tags": tags, "coords": coords})
    return records


def _osm_roads(records: list[dict[str, Any]], source: str) -> gpd.GeoDataFrame:
    rows = []
    for record in records:
        tags, coords = record["tags"], record["coords"]
        kind = tags.get("highway")
        if kind not in OSM_HIGHWAYS or len(coords) < 2:
            continue

        # oneway=-1 runs against the drawing direction
        oneway_tag = tags.get("oneway", "").lower()
        if oneway_tag == "-1":
            coords = coords[::-1]
        oneway = (
            oneway_tag in _TRUE_WORDS
            or oneway_tag == "-1"
            or tags.get("junction") == "roundabout"
        )
        rows.append(
            {
                "name": tags.get("name"),
                "kind": kind,
                "speed_kph": _maxspeed_kph(tags.get("maxspeed")),
                "oneway": oneway,
                "geometry": shapely.LineString(coords),
            }
        )
    if not rows:
        raise InvalidInput(
            f"The OpenStreetMap extract {source!r} has no drivable way (highway="
            f"{', '.join(sorted(OSM_HIGHWAYS)[:4])}, ...). Check that the extract "
            "covers the county and was not filtered to other features.",
            path=source,
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def _maxspeed_kph(value: str | None) -> float:
    match = _MAXSPEED.match(value or "")
    if match is None:
        return math.nan
    speed = float(match.group(1))
    return speed * 1.609344 if match.group(2) else speed


# --- travel matrices -------------------------------------------------------------


@dataclass
class TravelMatrix:
    """Travel times and distances between locations, and the legs' lines.

    Attributes
    ----------
    model
        ``"road_network"`` or ``"straight_line"``.
    time_s, distance_m
        Square matrices, row = from, column = to; ``inf`` where no road
        path exists, and for locations off the network.
    access_m
        Distance from each location to its road (0 for straight lines).
    off_network
        True where a location is farther than the snapping limit from every
        road; its rows and columns are ``inf``.
    detour_factor, speed_kph
        The straight-line model's factor and speed; None on roads.
    """

    model: str
    time_s: Floats
    distance_m: Floats
    access_m: Floats
    off_network: Bools
    detour_factor: float | None = None
    speed_kph: float | None = None
    _legs: LegsFn = field(default=lambda pairs: [], repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    def take(self, index: Sequence[int] | Ints) -> TravelMatrix:
        """The matrix of a subset of the locations, in the order given."""
        index = np.asarray(index, dtype=np.int64)
        grid = np.ix_(index, index)
        parent = self._legs

        def legs(pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
            return parent([(int(index[a]), int(index[b])) for a, b in pairs])

        return TravelMatrix(
            model=self.model,
            time_s=self.time_s[grid],
            distance_m=self.distance_m[grid],
            access_m=self.access_m[index],
            off_network=self.off_network[index],
            detour_factor=self.detour_factor,
            speed_kph=self.speed_kph,
            _legs=legs,
        )

    def leg_geometries(
        self, pairs: Sequence[tuple[int, int]]
    ) -> list[shapely.LineString]:
        """The travelled line of each (from, to) pair, in EPSG:4326.

        On roads the line runs from the location to its road, along the
        quickest path and from the road to the other location.
        """
        return self._legs(list(pairs))


@dataclass(frozen=True)
class StraightLine:
    """Travel without road data: great-circle distance × factor at a speed.

    Attributes
    ----------
    detour_factor
        Ratio of road distance to straight distance assumed everywhere.
    speed_kph
        Average travel speed.
    """

    detour_factor: float = DETOUR_FACTOR
    speed_kph: float = STRAIGHT_LINE_SPEED_KPH

    name = "straight_line"

    def __post_init__(self) -> None:
        factor = self.detour_factor
        if not (
            isinstance(factor, int | float) and math.isfinite(factor) and factor >= 1
        ):
            raise InvalidInput(
                f"detour_factor must be a number of at least 1 (road distance over "
                f"straight distance); received {self.detour_factor!r}. A rural "
                "county is typically 1.2-1.5.",
                parameter="detour_factor",
            )
        _check_speed(self.speed_kph, "speed_kph")

    def matrix(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> TravelMatrix:
        """Travel times and distances between points given in WGS84 degrees."""
        lon_arr, lat_arr = _points(lon, lat)
        distance_m = _haversine_m(lon_arr, lat_arr) * self.detour_factor
        time_s = distance_m / (self.speed_kph / 3.6)

        def legs(pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
            return [
                shapely.LineString([(lon_arr[a], lat_arr[a]), (lon_arr[b], lat_arr[b])])
                for a, b in pairs
            ]

        n = lon_arr.size
        return TravelMatrix(
            model=self.name,
            time_s=time_s,
            distance_m=distance_m,
            access_m=np.zeros(n),
            off_network=np.zeros(n, dtype=bool),
            detour_factor=self.detour_factor,
            speed_kph=self.speed_kph,
            _legs=legs,
        )


def _haversine_m(lon: Floats, lat: Floats) -> Floats:
    lon_rad, lat_rad = np.radians(lon), np.radians(lat)
    dlon = lon_rad[:, None] - lon_rad[None, :]
    dlat = lat_rad[:, None] - lat_rad[None, :]
    cos_product = np.cos(lat_rad)[:, None] * np.cos(lat_rad)[None, :]
    h = np.sin(dlat / 2.0) ** 2 + cos_product * np.sin(dlon / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    lon_arr = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_arr = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if lon_arr.shape != lat_arr.shape:
        raise InvalidInput(
            "Travel matrices need as many longitudes as latitudes; received "
            f"{lon_arr.size} longitudes and {lat_arr.size} latitudes.",
        )
    valid = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    valid &= (np.abs(lon_arr) <= 180.0) & (np.abs(lat_arr) <= 90.0)
    if not valid.all():
        raise InvalidInput(
            "Travel matrices need finite WGS84 longitudes and latitudes; "
            f"{int((~valid).sum())} of {valid.size} locations are missing or out "
            "of range.",
        )
    return lon_arr, lat_arr


def _check_speed(speed_kph: float, name: str) -> None:
    if not (isinstance(speed_kph, int | float) and 0.0 < speed_kph < 300.0):
        raise InvalidInput(
            f"{name} must be a speed in km/h between 0 and 300; received "
            f"{speed_kph!r}.",
            parameter=name,
        )


# --- the road network ------------------------------------------------------------


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


@dataclass
class _Arcs:
    """Directed arcs of a graph, each a stretch of one edge."""

    tail: Ints
    head: Ints
    time_s: Floats
    length_m: Floats
    edge: Ints
    from_m: Floats
    to_m: Floats

    def select(self, mask: Bools | Ints) -> _Arcs:
        return _Arcs(*(getattr(self, f)[mask] for f in _ARC_FIELDS))

    @staticmethod
    def concat(parts: Sequence[_Arcs]) -> _Arcs:
        return _Arcs(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _ARC_FIELDS)
        )


_ARC_FIELDS = ("tail", "head", "time_s", "length_m", "edge", "from_m", "to_m")


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
        _check_speed(access_speed_kph, "access_speed_kph")
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
        _check_speed(default_speed_kph, "default_speed_kph")
        frame = roads_frame(roads)
        crs = utm_crs_for(frame)
        lines_m = frame.to_crs(crs).geometry.to_numpy()
        speeds = _speeds_kph(frame, default_speed_kph)

        # split lines at junctions, then keep the main connected part
        lines_m = _join_road_ends(lines_m, node_tolerance_m)
        if split_crossings:
            lines_m = _split_crossings(lines_m)
        edges, n_nodes = _split_at_junctions(lines_m, node_tolerance_m)
        source = edges["line"].to_numpy()
        edges["speed_kph"] = speeds[source]
        for column in ("name", "kind", "oneway"):
            edges[column] = frame[column].to_numpy()[source]
        edges, n_nodes, n_left_out = _main_component(edges, n_nodes)

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
        lon_arr, lat_arr = _points(lon, lat)
        x, y = _transformer(self.crs).transform(lon_arr, lat_arr)
        xy = np.column_stack([x, y])
        points: Geoms = np.asarray(shapely.points(xy), dtype=object)

        # all_matches=False keeps one edge per point when several tie
        (point_idx, edge_idx), dist = self._tree.query_nearest(
            points, return_distance=True, all_matches=False
        )
        edge = np.empty(len(points), dtype=np.int64)
        distance_m = np.empty(len(points))
        edge[point_idx], distance_m[point_idx] = edge_idx, dist
        offset_m = shapely.line_locate_point(self.edge_geom[edge], points)
        snap_xy = shapely.get_coordinates(
            shapely.line_interpolate_point(self.edge_geom[edge], offset_m)
        )
        return Snapped(xy, edge, offset_m, snap_xy, distance_m)

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
        graph = _Graph(arcs, n_nodes)
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

        route_lines = _RouteLines(self, graph, snapped, on, loc_node)
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

    def _edge_arcs(self) -> _Arcs:
        n = self.n_edges
        return _Arcs(
            tail=self.edge_u,
            head=self.edge_v,
            time_s=self.edge_time_s,
            length_m=self.edge_length_m,
            edge=np.arange(n, dtype=np.int64),
            from_m=np.zeros(n),
            to_m=self.edge_length_m.copy(),
        )

    def _split_arcs(self, edge: Ints, offset_m: Floats) -> tuple[_Arcs, Ints, int]:
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
        pieces = _Arcs(
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
        forward = _Arcs.concat([self._arcs.select(~split), pieces])
        two_way = ~self.edge_oneway[forward.edge]
        back = forward.select(two_way)
        back = _Arcs(
            back.head,
            back.tail,
            back.time_s,
            back.length_m,
            back.edge,
            back.to_m,
            back.from_m,
        )
        n_nodes = self.n_nodes + len(pairs)
        return _Arcs.concat([forward, back]), loc_node, n_nodes

    def _leg_line(
        self, arcs: _Arcs, path: Ints, start_xy: Floats, end_xy: Floats
    ) -> Floats:
        # coordinates of the walk to the road, the road pieces and the walk off
        parts = [start_xy[None, :]]
        for k in path:
            edge, from_m, to_m = arcs.edge[k], arcs.from_m[k], arcs.to_m[k]
            if abs(to_m - from_m) < 1e-9:
                continue
            geom = self.edge_geom[edge]
            length = self.edge_length_m[edge]
            if from_m == 0.0 and to_m == length:
                piece = shapely.get_coordinates(geom)
            elif from_m == length and to_m == 0.0:
                piece = shapely.get_coordinates(geom)[::-1]
            else:
                piece = shapely.get_coordinates(substring(geom, from_m, to_m))
            parts.append(piece)
        parts.append(end_xy[None, :])
        return np.concatenate(parts)


@dataclass
class _Graph:
    """A CSR graph of the quickest arc between each pair of nodes."""

    arcs: _Arcs
    n_nodes: int
    csr: csr_matrix = field(init=False)
    key: Ints = field(init=False)

    def __post_init__(self) -> None:
        # keep the quickest arc of each (tail, head) pair
        arcs = self.arcs
        key = arcs.tail * self.n_nodes + arcs.head
        order = np.lexsort((arcs.time_s, key))
        keep = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        self.arcs = arcs.select(keep)
        self.key = key[keep]
        weight = np.maximum(self.arcs.time_s, _MIN_ARC_S)
        self.csr = coo_matrix(
            (weight, (self.arcs.tail, self.arcs.head)),
            shape=(self.n_nodes, self.n_nodes),
        ).tocsr()

    def arc_of(self, tail: Ints, head: Ints) -> Ints:
        """Index into `arcs` of the arc from each tail to each head."""
        return np.searchsorted(self.key, tail * self.n_nodes + head)

    def between(self, nodes: Ints) -> tuple[Floats, Floats]:
        """Times and lengths of the quickest paths between the nodes."""
        sources, inverse = np.unique(nodes, return_inverse=True)
        time_s = np.empty((len(sources), len(sources)))
        length_m = np.empty((len(sources), len(sources)))
        batch = max(1, _BATCH_ENTRIES // max(self.n_nodes, 1))
        for start in range(0, len(sources), batch):
            rows = slice(start, start + batch)
            dist, pred = dijkstra(
                self.csr, directed=True, indices=sources[rows], return_predecessors=True
            )
            time_s[rows] = dist[:, sources]
            length_m[rows] = self._path_lengths(pred)[:, sources]
        length_m[~np.isfinite(time_s)] = np.inf
        return time_s[np.ix_(inverse, inverse)], length_m[np.ix_(inverse, inverse)]

    def _path_lengths(self, pred: npt.NDArray[np.int32]) -> Floats:
        # pointer jumping on the shortest-path trees: each step doubles the
        # number of arcs a node's pointer skips and adds up their lengths
        nodes = np.broadcast_to(np.arange(self.n_nodes), pred.shape)
        has_pred = pred >= 0
        pointer = np.where(has_pred, pred, nodes)
        length = np.zeros(pred.shape)
        length[has_pred] = self.arcs.length_m[
            self.arc_of(pred[has_pred].astype(np.int64), nodes[has_pred])
        ]
        while True:
            jumped = np.take_along_axis(pointer, pointer, axis=1)
            if np.array_equal(jumped, pointer):
                return length
            length += np.take_along_axis(length, pointer, axis=1)
            pointer = jumped

    def paths(self, legs: Sequence[tuple[int, int]]) -> list[Ints]:
        """The arcs of the quickest path of each (source, target) node pair."""
        sources = np.unique([source for source, _ in legs])
        found: list[Ints | None] = [None] * len(legs)
        batch = max(1, _BATCH_ENTRIES // max(self.n_nodes, 1))
        for start in range(0, len(sources), batch):
            chunk = sources[start : start + batch]
            _, pred = dijkstra(
                self.csr, directed=True, indices=chunk, return_predecessors=True
            )
            row_of = {int(node): row for row, node in enumerate(chunk)}
            for k, (source, target) in enumerate(legs):
                if source in row_of:
                    found[k] = self._path(pred[row_of[source]], source, target)
        return [path for path in found if path is not None]

    def _path(self, pred: npt.NDArray[np.int32], source: int, target: int) -> Ints:
        nodes = [target]
        while nodes[-1] != source and pred[nodes[-1]] >= 0:
            nodes.append(int(pred[nodes[-1]]))
        if nodes[-1] != source:
            raise InvalidInput(
                "No road path joins two locations of the route; they lie on "
                "parts of the network that one-way roads keep apart.",
            )
        nodes.reverse()
        return self.arc_of(np.asarray(nodes[:-1]), np.asarray(nodes[1:]))


@dataclass
class _RouteLines:
    """Draws legs between the locations of one travel matrix."""

    network: RoadNetwork
    graph: _Graph
    snapped: Snapped
    on: Ints
    loc_node: Ints

    def legs(self, pairs: Sequence[tuple[int, int]]) -> list[shapely.LineString]:
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
            road = self.network._leg_line(
                self.graph.arcs, path, s.snap_xy_m[a], s.snap_xy_m[b]
            )
            coords = np.concatenate([s.xy_m[a][None, :], road, s.xy_m[b][None, :]])
        coords = _drop_repeats(coords)
        x, y = _transformer(self.network.crs, inverse=True).transform(
            coords[:, 0], coords[:, 1]
        )
        return shapely.LineString(np.column_stack([x, y]))


def _drop_repeats(coords: Floats) -> Floats:
    keep = np.r_[True, np.any(np.abs(np.diff(coords, axis=0)) > 1e-9, axis=1)]
    coords = coords[keep]
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    return coords


def _transformer(crs: pyproj.CRS, *, inverse: bool = False) -> pyproj.Transformer:
    return _cached_transformer(crs.to_string(), inverse)


@lru_cache(maxsize=16)
def _cached_transformer(crs: str, inverse: bool) -> pyproj.Transformer:
    src, dst = (crs, "EPSG:4326") if inverse else ("EPSG:4326", crs)
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


# --- building the graph -------------------------------------------------------


def _speeds_kph(frame: gpd.GeoDataFrame, default_speed_kph: float) -> Floats:
    speed = frame["speed_kph"].to_numpy(np.float64)
    by_kind = frame["kind"].map(KIND_SPEED_KPH).to_numpy(np.float64)
    missing = ~(np.isfinite(speed) & (speed > 0.0))
    speed = np.where(missing, by_kind, speed)
    defaulted = ~np.isfinite(speed)
    if defaulted.any():
        logger.warning(
            "Gave %d of %d roads without a speed or a known kind the default %.0f km/h",
            int(defaulted.sum()),
            len(speed),
            default_speed_kph,
        )
    return np.where(defaulted, default_speed_kph, speed)


def _join_road_ends(lines: Geoms, tolerance_m: float) -> Geoms:
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


def _split_crossings(lines: Geoms) -> Geoms:
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


def _split_at_junctions(lines: Geoms, tolerance_m: float) -> tuple[pd.DataFrame, int]:
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


def _main_component(edges: pd.DataFrame, n_nodes: int) -> tuple[pd.DataFrame, int, int]:
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

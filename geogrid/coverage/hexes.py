"""H3 hexagonal cells: which cell holds each household, cell shapes and neighbours.

`cells_for_points` returns exactly the cells ``h3.latlng_to_cell`` returns,
for a million points in well under a second instead of two. It lists the
cells around the points once, with their local lattice coordinates (i, j),
centres and edges on a local plane in metres. Each point is mapped to
fractional lattice coordinates by an affine fit and rounded to the nearest
cell; the point is kept there when it lies inside that cell by more than a
safety margin (1 m, or 1% of an edge), tested first against the disc
inscribed in the cell, then against each edge. The few points closer to an
edge than the margin are asked of H3 one by one, so no rounding or
projection error can put a point in the wrong cell. Coarse resolutions (0-4)
and areas over 5 degrees wide are always asked of H3 one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import geopandas as gpd
import h3
import numpy as np
import numpy.typing as npt
import shapely

from geogrid.coverage.params import check_resolution

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Cells = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

NO_CELL = np.uint64(0)
_EARTH_M = 6_371_008.8

# a cell edge is a straight line on the H3 icosahedron face, not in UTM: over
# a few hundred metres the two differ by centimetres, far inside this margin
_EDGE_MARGIN_M = 1.0
_EDGE_MARGIN_SHARE = 0.01

# list the cells around the points only when there are not too many of them,
# and only where cell edges are short enough to be straight within the margin
_MAX_LISTED_CELLS = 2_000_000
_MIN_FAST_RESOLUTION = 5
_MAX_FAST_SPAN_DEG = 5.0


def cell_area_km2(resolution: int) -> float:
    """Average area of an H3 cell at a resolution, in km²."""
    return float(h3.average_hexagon_area(check_resolution(resolution), unit="km^2"))


def cells_for_points(lon: Floats, lat: Floats, resolution: int) -> Cells:
    """The H3 cell (as an unsigned 64-bit integer) of each point.

    Parameters
    ----------
    lon, lat
        WGS84 degrees; NaN where a point has no location.
    resolution
        H3 resolution, 0-15.

    Returns
    -------
    numpy.ndarray
        One cell per point, the same as ``h3.latlng_to_cell`` would return
        (in its integer form); 0 where the point has no location.

    Raises
    ------
    InvalidInput
        When `resolution` is not an integer from 0 to 15.
    """
    resolution = check_resolution(resolution)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    cells = np.full(len(lon), NO_CELL, dtype=np.uint64)
    located = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    if len(located) == 0:
        return cells

    candidates = _cells_around(lon[located], lat[located], resolution)
    if candidates is None:
        cells[located] = _one_by_one(lon[located], lat[located], resolution)
        return cells

    cells[located] = _by_lattice(lon[located], lat[located], resolution, candidates)
    return cells


def cell_polygons(cells: Iterable[int]) -> Floats:
    """Outlines of cells as shapely polygons in WGS84 (an object array)."""
    shapes = []
    for cell in cells:
        ring = h3.cell_to_boundary(h3.int_to_str(int(cell)))
        shapes.append(shapely.Polygon([(lng, lat) for lat, lng in ring]))
    return np.asarray(shapes, dtype=object)


def cell_neighbours(cells: Iterable[int]) -> dict[int, list[int]]:
    """The cells that share an edge with each cell, among the cells given."""
    present = {int(c) for c in cells}
    neighbours: dict[int, list[int]] = {}
    for cell in present:
        ring = h3.grid_ring(h3.int_to_str(cell), 1)
        neighbours[cell] = sorted(
            n for n in (h3.str_to_int(r) for r in ring) if n in present
        )
    return neighbours


def hex_frame(cells: Iterable[int]) -> gpd.GeoDataFrame:
    """A GeoDataFrame of cells: ``h3`` (the cell as text) and polygons in WGS84."""
    ints = np.asarray(list(cells), dtype=np.uint64)
    return gpd.GeoDataFrame(
        {"h3": [h3.int_to_str(int(c)) for c in ints]},
        geometry=cell_polygons(ints),
        crs=4326,
    )


# --- the fast path --------------------------------------------------------------


def _one_by_one(lon: Floats, lat: Floats, resolution: int) -> Cells:
    to_cell = h3.api.basic_int.latlng_to_cell
    return np.fromiter(
        (
            to_cell(y, x, resolution)
            for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
        ),
        dtype=np.uint64,
        count=len(lon),
    )


def _cells_around(
    lon: Floats, lat: Floats, resolution: int
) -> npt.NDArray[np.uint64] | None:
    """Every cell whose centre lies in the points' bounding box grown by two cells.

    None when they would be too many (a fine resolution over a wide area).
    """
    west, east = float(lon.min()), float(lon.max())
    south, north = float(lat.min()), float(lat.max())
    edge_deg = h3.average_hexagon_edge_length(resolution, unit="km") / 111.0
    pad_lat = 2.5 * edge_deg
    pad_lon = pad_lat / max(np.cos(np.radians(max(abs(south), abs(north)))), 0.05)
    box_km2 = (
        (east - west + 2 * pad_lon)
        * 111.0
        * np.cos(np.radians((south + north) / 2))
        * (north - south + 2 * pad_lat)
        * 111.0
    )
    expected = box_km2 / h3.average_hexagon_area(resolution, unit="km^2")
    too_wide = max(north - south, east - west) > _MAX_FAST_SPAN_DEG
    if resolution < _MIN_FAST_RESOLUTION or too_wide:
        return None
    if expected > min(_MAX_LISTED_CELLS, 4 * len(lon)):
        return None

    box = h3.LatLngPoly(
        [
            (south - pad_lat, west - pad_lon),
            (south - pad_lat, east + pad_lon),
            (north + pad_lat, east + pad_lon),
            (north + pad_lat, west - pad_lon),
        ]
    )
    listed = h3.h3shape_to_cells(box, resolution)
    return np.asarray([h3.str_to_int(c) for c in listed], dtype=np.uint64)


def _by_lattice(lon: Floats, lat: Floats, resolution: int, candidates: Cells) -> Cells:
    """Assign points by the cell lattice; ask H3 about points near an edge."""
    lattice = _Lattice.fit(candidates, lon, lat)
    if lattice is None:
        return _one_by_one(lon, lat, resolution)

    x, y = lattice.plane(lon, lat)
    chosen = lattice.nearest_cell(x, y)
    inside = lattice.surely_inside(chosen, x, y)
    cells = np.where(inside, lattice.cells[np.maximum(chosen, 0)], NO_CELL)
    unsure = np.flatnonzero(~inside)
    cells[unsure] = _one_by_one(lon[unsure], lat[unsure], resolution)
    log.debug(
        "Assigned %d points to H3 cells, %d of them near an edge one by one",
        len(lon),
        len(unsure),
    )
    return cells


class _Lattice:
    """Cells around some points as a lattice in a local plane, with their edges."""

    def __init__(
        self,
        cells: Cells,
        ij: npt.NDArray[np.int64],
        origin_deg: tuple[float, float],
        to_ij: Floats,
        edges: Floats,
    ) -> None:
        self.cells = cells
        self.origin_deg = origin_deg
        self.to_ij = to_ij
        self.edges = edges
        self.ij_min = ij.min(axis=0)
        shape = ij.max(axis=0) - self.ij_min + 2
        self.table = np.full(tuple(shape), -1, dtype=np.int64)
        self.table[tuple((ij - self.ij_min).T)] = np.arange(len(cells))
        self.centres = np.zeros((len(cells), 2))
        self.margin_m = _EDGE_MARGIN_M
        self.safe_radius_m = np.zeros(len(cells))

    @classmethod
    def fit(cls, cells: Cells, lon: Floats, lat: Floats) -> _Lattice | None:
        """Local IJ coordinates of the cells and an affine map from the plane to them.

        None when H3 cannot give local coordinates (across a pentagon).
        """
        origin = h3.int_to_str(int(cells[0]))
        try:
            ij = np.array(
                [h3.cell_to_local_ij(origin, h3.int_to_str(int(c))) for c in cells],
                dtype=np.int64,
            )
        except h3.H3BaseException:
            return None

        origin_deg = (float(np.mean(lon)), float(np.mean(lat)))
        centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells])
        lattice = cls(cells, ij, origin_deg, np.zeros((3, 2)), np.zeros((0, 0, 3)))
        cx, cy = lattice.plane(centres[:, 1], centres[:, 0])
        design = np.column_stack([cx, cy, np.ones(len(cx))])
        lattice.to_ij = np.linalg.lstsq(design, ij.astype(np.float64), rcond=None)[0]
        lattice.centres = np.column_stack([cx, cy])
        lattice.edges = lattice._edge_lines()
        return lattice

    def plane(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        """Metres east and north of the origin on a local equirectangular plane."""
        lon0, lat0 = self.origin_deg
        x = np.radians(np.asarray(lon) - lon0) * _EARTH_M * np.cos(np.radians(lat0))
        y = np.radians(np.asarray(lat) - lat0) * _EARTH_M
        return x, y

    def nearest_cell(self, x: Floats, y: Floats) -> npt.NDArray[np.int64]:
        """Index of the cell at the nearest lattice point (-1 when not listed).

        The plane is mapped to fractional lattice coordinates (i, j) whose
        six neighbours are (±1, 0), (0, ±1) and ±(1, 1); rounding to the
        nearest lattice point goes through cube coordinates (i, j - i, -j).
        """
        fij = np.column_stack([x, y, np.ones(len(x))]) @ self.to_ij
        cube = np.column_stack([fij[:, 0], fij[:, 1] - fij[:, 0], -fij[:, 1]])
        rounded = np.round(cube)
        error = np.abs(rounded - cube)
        worst = np.argmax(error, axis=1)
        rows = np.arange(len(x))
        rounded[rows, worst] = 0.0
        rounded[rows, worst] = -rounded.sum(axis=1)
        i = rounded[:, 0].astype(np.int64) - self.ij_min[0]
        j = -rounded[:, 2].astype(np.int64) - self.ij_min[1]
        listed = (
            (i >= 0) & (j >= 0) & (i < self.table.shape[0]) & (j < self.table.shape[1])
        )
        chosen = np.full(len(x), -1, dtype=np.int64)
        chosen[listed] = self.table[i[listed], j[listed]]
        return chosen

    def surely_inside(
        self, chosen: npt.NDArray[np.int64], x: Floats, y: Floats
    ) -> Bools:
        """True where a point lies inside its chosen cell by more than the margin.

        Most points lie in the disc inscribed in their cell; the rest are
        tested against each edge of the cell.
        """
        found = chosen >= 0
        k = np.maximum(chosen, 0)
        d2 = (self.centres[k, 0] - x) ** 2 + (self.centres[k, 1] - y) ** 2
        inside = found & (d2 < self.safe_radius_m[k] ** 2)

        rest = np.flatnonzero(found & ~inside)
        lines = self.edges[k[rest]]
        depth_m = (
            lines[:, :, 0] * x[rest, None]
            + lines[:, :, 1] * y[rest, None]
            - lines[:, :, 2]
        )
        inside[rest] = depth_m.min(axis=1) > self.margin_m
        return inside

    def _edge_lines(self) -> Floats:
        """Inward unit normal (nx, ny) and offset of every edge of every cell.

        A point is inside a convex cell when nx*x + ny*y - offset >= 0 for
        all its edges; the slots of cells with fewer edges never constrain.
        Also sets the margin and the radius of each cell's safe inner disc.
        """
        rings = [h3.cell_to_boundary(h3.int_to_str(int(c))) for c in self.cells]
        slots = max(len(r) for r in rings)
        vertices = np.array([list(r) + [r[0]] * (slots - len(r)) for r in rings])
        vx, vy = self.plane(vertices[:, :, 1], vertices[:, :, 0])
        nx_, ny_ = np.roll(vx, -1, axis=1), np.roll(vy, -1, axis=1)
        clockwise = np.sum(vx * ny_ - nx_ * vy, axis=1) < 0
        dx, dy = nx_ - vx, ny_ - vy
        length = np.hypot(dx, dy)
        used = length > 0
        safe_length = np.where(used, length, 1.0)
        sign = np.where(clockwise, -1.0, 1.0)[:, None]
        normal_x = np.where(used, -dy / safe_length * sign, 0.0)
        normal_y = np.where(used, dx / safe_length * sign, 0.0)
        offset = np.where(used, normal_x * vx + normal_y * vy, -np.inf)

        self.margin_m = max(
            _EDGE_MARGIN_M, _EDGE_MARGIN_SHARE * float(np.median(length[used]))
        )
        depth_of_centre = (
            normal_x * self.centres[:, :1] + normal_y * self.centres[:, 1:] - offset
        )
        self.safe_radius_m = np.maximum(
            depth_of_centre.min(axis=1) - self.margin_m, 0.0
        )
        return np.stack([normal_x, normal_y, offset], axis=2)

"""Coordinate systems: WGS84, CGCS2000, GCJ-02, BD-09 and EPSG codes, and checks.

Stored data is WGS84 (EPSG:4326). CGCS2000 (EPSG:4490) coincides with it to
well under a metre and is treated as identical. Chinese web maps publish
coordinates in two obfuscated systems that are not real pyproj CRSs:

- GCJ-02, used by AMap (高德) and Tencent, shifts WGS84 by a smooth offset of
  a few hundred metres (about 500 m in Zhejiang).
- BD-09, used by Baidu, applies a further small rotation and scaling on top
  of GCJ-02 (roughly +0.0065 degrees of longitude and +0.006 of latitude).

Outside mainland China GCJ-02 equals WGS84. "Outside" uses the customary rough
bounding box `CHINA_BBOX`, which also covers parts of Korea, Mongolia and
south-east Asia: points there are shifted as if they were in China, exactly as
the web maps themselves do. BD-09 adds its own offset everywhere.

The forward transforms are the published closed formulas (their sines are
evaluated in float32 after an exact range reduction, which changes results by
under 0.1 mm). The inverses iterate until the last correction is below
`INVERSE_TOLERANCE_DEG` (1e-7 degrees, about 1 cm); as every correction is
over 100 times smaller than the one before, the result is then within about
1e-9 degrees, 0.1 mm, of the exact inverse (``benchmarks/bench_crs.py``
measures it).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geogrid.errors import InvalidInput, WrongCRS

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
PointTransform = Callable[[Floats, Floats], tuple[Floats, Floats]]

CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")

# (min lon, min lat, max lon, max lat) outside which GCJ-02 leaves points alone
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

# the inverses stop iterating when no point moved more than this
INVERSE_TOLERANCE_DEG = 1e-7
INVERSE_MAX_ITERATIONS = 10

# points per block in the vectorised formulas
_BLOCK_POINTS = 16384

# GCJ-02 works on the Krasovsky 1940 ellipsoid
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323

# BD-09 constants; its two perturbations repeat every 3/25 of a degree
_BD_WAVES_PER_DEG = 3000.0 / 180.0
_BD_DLON_DEG = 0.0065
_BD_DLAT_DEG = 0.006

_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}
_EPSG_PATTERN = re.compile(r"^epsg:(\d+)$")
_ACCEPTED = (
    "wgs84, cgcs2000 (EPSG:4490), gcj02, bd09 or an EPSG code such as EPSG:32651"
)


@dataclass(frozen=True)
class CRSDetection:
    """How well each candidate system puts points inside their polygons.

    Attributes
    ----------
    best
        The candidate with the largest share inside (the first one on ties).
    inside_share
        Share of points inside their polygon, from 0 to 1, per candidate; NaN
        for every candidate when no point could be tested.
    n
        Number of points tested: those with finite coordinates and a
        non-empty polygon.
    """

    best: str
    inside_share: dict[str, float]
    n: int

    def describe(self) -> str:
        """The shares as text, such as ``wgs84 61%, gcj02 98%, bd09 4%``."""
        return ", ".join(f"{c} {s:.0%}" for c, s in self.inside_share.items())


# --- naming ---------------------------------------------------------------


def parse_crs(value: str) -> str:
    """Normalise a coordinate system name.

    Parameters
    ----------
    value
        ``wgs84`` or ``EPSG:4326``; ``cgcs2000`` or ``EPSG:4490``; ``gcj02``
        or ``gcj-02``; ``bd09`` or ``bd-09``; or any other ``EPSG:n`` that
        pyproj knows. Case and surrounding spaces are ignored.

    Returns
    -------
    str
        One of `CRS_NAMES`, or ``EPSG:n``.

    Raises
    ------
    InvalidInput
        When the value is none of these.
    """
    if not isinstance(value, str):
        raise InvalidInput(
            f"Coordinate system must be a string; received {value!r} of type "
            f"{type(value).__name__}. Use {_ACCEPTED}.",
            received=repr(value),
        )
    key = value.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]

    match = _EPSG_PATTERN.match(key)
    if match is None:
        raise InvalidInput(
            f"Coordinate system {value!r} is not recognised. Use {_ACCEPTED}.",
            received=value,
        )
    code = f"EPSG:{int(match.group(1))}"
    try:
        _pyproj_crs(code)
    except CRSError:
        raise InvalidInput(
            f"Coordinate system {value!r} is not an EPSG code pyproj knows. "
            f"Check the number, or use {_ACCEPTED}.",
            received=value,
        ) from None
    return code


def pyproj_crs(value: str) -> pyproj.CRS:
    """The CRS that data in this system is labelled with.

    GCJ-02 and BD-09 are not real CRSs: data in them is labelled EPSG:4326
    (degrees), and only the caller knows it is shifted.

    Parameters
    ----------
    value
        Any name `parse_crs` accepts.

    Returns
    -------
    pyproj.CRS
        EPSG:4326 for wgs84, gcj02 and bd09; EPSG:4490 for cgcs2000;
        otherwise the EPSG code itself.
    """
    name = parse_crs(value)
    if name == "cgcs2000":
        return _pyproj_crs("EPSG:4490")
    if name in CRS_NAMES:
        return _pyproj_crs("EPSG:4326")
    return _pyproj_crs(name)


@lru_cache(maxsize=64)
def _pyproj_crs(code: str) -> pyproj.CRS:
    return pyproj.CRS.from_user_input(code)


# --- GCJ-02 and BD-09 formulas ----------------------------------------------


def in_china_bbox(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a point lies in the rough box inside which GCJ-02 shifts it."""
    lon, lat = _as_floats(lon, lat)
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Shift WGS84 degrees to GCJ-02 (unchanged outside `CHINA_BBOX`)."""
    return _blockwise(_gcj02_forward, lon, lat)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Invert `wgs84_to_gcj02` by fixed-point iteration."""
    return _blockwise(_gcj02_inverse, lon, lat)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Rotate and scale GCJ-02 degrees into BD-09."""
    return _blockwise(_bd09_forward, lon, lat)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Invert `gcj02_to_bd09` by fixed-point iteration."""
    return _blockwise(_bd09_inverse, lon, lat)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """WGS84 to GCJ-02, then to BD-09."""
    return _blockwise(lambda x, y: _bd09_forward(*_gcj02_forward(x, y)), lon, lat)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """BD-09 to GCJ-02, then to WGS84, both by iteration."""
    return _blockwise(lambda x, y: _gcj02_inverse(*_bd09_inverse(x, y)), lon, lat)


def _blockwise(
    transform: PointTransform, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[Floats, Floats]:
    # blocks small enough that numpy's temporaries stay in the CPU cache run
    # about 40% faster than whole arrays of a million points
    lon_arr, lat_arr = _as_floats(lon, lat)
    flat_lon, flat_lat = lon_arr.ravel(), lat_arr.ravel()
    out_lon, out_lat = np.empty_like(flat_lon), np.empty_like(flat_lat)
    for start in range(0, flat_lon.size, _BLOCK_POINTS):
        block = slice(start, start + _BLOCK_POINTS)
        out_lon[block], out_lat[block] = transform(flat_lon[block], flat_lat[block])
    return _shaped(out_lon, lon_arr.shape), _shaped(out_lat, lat_arr.shape)


def _gcj02_forward(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    dlon_deg, dlat_deg = _gcj02_offset_deg(lon, lat)
    return lon + dlon_deg, lat + dlat_deg


def _gcj02_inverse(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    return _invert(_gcj02_forward, lon, lat)


def _gcj02_offset_deg(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    # the published offsets in metres, around (105 E, 35 N)
    x = lon - 105.0
    y = lat - 35.0
    root = np.sqrt(np.abs(x))
    shared_m = 20.0 * _sin_pi(6.0 * x) + 20.0 * _sin_pi(2.0 * x)
    dlon_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root
    dlon_m += (
        shared_m
        + 20.0 * _sin_pi(x)
        + 40.0 * _sin_pi(x / 3.0)
        + 150.0 * _sin_pi(x / 12.0)
        + 300.0 * _sin_pi(x / 30.0)
    ) * (2.0 / 3.0)
    dlat_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root
    dlat_m += (
        shared_m
        + 20.0 * _sin_pi(y)
        + 40.0 * _sin_pi(y / 3.0)
        + 160.0 * _sin_pi(y / 12.0)
        + 320.0 * _sin_pi(y / 30.0)
    ) * (2.0 / 3.0)

    # metres to degrees on the Krasovsky ellipsoid at this latitude
    sin_lat = np.sin(np.radians(lat))
    w2 = 1.0 - _KRASOVSKY_E2 * sin_lat * sin_lat
    meridian_m = _KRASOVSKY_A_M * (1.0 - _KRASOVSKY_E2) / (w2 * np.sqrt(w2))
    parallel_m = _KRASOVSKY_A_M * np.sqrt((1.0 - sin_lat * sin_lat) / w2)

    # no shift outside China
    inside = in_china_bbox(lon, lat)
    dlon_deg = np.where(inside, np.degrees(dlon_m / parallel_m), 0.0)
    dlat_deg = np.where(inside, np.degrees(dlat_m / meridian_m), 0.0)
    return dlon_deg, dlat_deg


def _sin_pi(t: Floats) -> Floats:
    # sin(pi * t): the argument is reduced to [-1, 1] exactly in float64, then
    # the sine runs in float32, several times faster; the error stays below
    # 4e-7, under 0.1 mm on the GCJ-02 offset
    reduced = (t - 2.0 * np.rint(0.5 * t)).astype(np.float32)
    return np.sin(reduced * np.float32(math.pi)).astype(np.float64)


def _bd09_forward(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    # scale the radius slightly and turn by a tiny angle about (0, 0); the
    # angle is below 3e-6 rad, so its second-order cosine and first-order
    # sine are exact in float64
    radius = np.hypot(lon, lat)
    scale = (radius + 0.00002 * _sin_pi(lat * _BD_WAVES_PER_DEG)) / radius
    turn_rad = 0.000003 * _sin_pi(lon * _BD_WAVES_PER_DEG + 0.5)
    cos_turn = 1.0 - 0.5 * turn_rad * turn_rad
    bd_lon = scale * (lon * cos_turn - lat * turn_rad) + _BD_DLON_DEG
    bd_lat = scale * (lat * cos_turn + lon * turn_rad) + _BD_DLAT_DEG
    return bd_lon, bd_lat


def _bd09_inverse(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    return _invert(_bd09_forward, lon, lat)


def _invert(forward: PointTransform, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    # x <- x - (forward(x) - target): the offsets vary slowly with position,
    # so each correction is over 100 times smaller than the one before;
    # points drop out of the loop once their correction is below tolerance
    guess_lon, guess_lat = lon.copy(), lat.copy()
    active = np.arange(lon.size)
    for _ in range(INVERSE_MAX_ITERATIONS):
        fwd_lon, fwd_lat = forward(guess_lon[active], guess_lat[active])
        step_lon, step_lat = fwd_lon - lon[active], fwd_lat - lat[active]
        guess_lon[active] -= step_lon
        guess_lat[active] -= step_lat

        # NaN compares false, so missing points leave at once
        moving = np.fmax(np.abs(step_lon), np.abs(step_lat)) > INVERSE_TOLERANCE_DEG
        active = active[moving]
        if active.size == 0:
            return guess_lon, guess_lat

    logger.warning(
        "Inverse of %s left %d of %d points moving by more than %g degrees "
        "after %d iterations",
        forward.__name__,
        active.size,
        lon.size,
        INVERSE_TOLERANCE_DEG,
        INVERSE_MAX_ITERATIONS,
    )
    return guess_lon, guess_lat


def _shaped(values: Floats, shape: tuple[int, ...]) -> Floats:
    # a scalar in gives a numpy float out, an array its own shape
    return values.reshape(shape)[()]  # type: ignore[no-any-return]


def _as_floats(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    if lon_arr.shape != lat_arr.shape:
        raise InvalidInput(
            f"Longitudes and latitudes must have the same shape; received "
            f"{lon_arr.shape} and {lat_arr.shape}. Pass one latitude per "
            "longitude.",
        )
    return lon_arr, lat_arr


# --- conversions between any two systems --------------------------------------

_SHIFTED_TO_WGS84: dict[str, PointTransform] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_SHIFTED_FROM_WGS84: dict[str, PointTransform] = {
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}
_SHIFTED_PAIRS: dict[tuple[str, str], PointTransform] = {
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
}


def convert_points(
    lon: npt.ArrayLike, lat: npt.ArrayLike, src: str, dst: str
) -> tuple[Floats, Floats]:
    """Convert coordinates between any two systems `parse_crs` accepts.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes (or eastings and northings for projected
        EPSG codes), scalars or arrays of one shape. NaN stays NaN.
    src, dst
        Source and destination systems.

    Returns
    -------
    tuple of numpy.ndarray
        New arrays of x and y in `dst` (numpy floats for scalar input).
    """
    src, dst = parse_crs(src), parse_crs(dst)
    lon, lat = _as_floats(lon, lat)

    # pairs with a direct path
    if src == dst:
        return _shaped(lon.copy(), lon.shape), _shaped(lat.copy(), lat.shape)
    if (src, dst) in _SHIFTED_PAIRS:
        return _SHIFTED_PAIRS[src, dst](lon, lat)
    if src not in _SHIFTED_TO_WGS84 and dst not in _SHIFTED_FROM_WGS84:
        return _pyproj_transform(lon, lat, src, dst)

    # otherwise through WGS84
    lon, lat = _to_wgs84(lon, lat, src)
    return _from_wgs84(lon, lat, dst)


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, src: str) -> tuple[Floats, Floats]:
    """Convert coordinates from `src` to WGS84 degrees."""
    return convert_points(lon, lat, src, "wgs84")


def from_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, dst: str
) -> tuple[Floats, Floats]:
    """Convert WGS84 degrees to `dst`."""
    return convert_points(lon, lat, "wgs84", dst)


def _to_wgs84(lon: Floats, lat: Floats, src: str) -> tuple[Floats, Floats]:
    if src in _SHIFTED_TO_WGS84:
        return _SHIFTED_TO_WGS84[src](lon, lat)
    return _pyproj_transform(lon, lat, src, "wgs84")


def _from_wgs84(lon: Floats, lat: Floats, dst: str) -> tuple[Floats, Floats]:
    if dst in _SHIFTED_FROM_WGS84:
        return _SHIFTED_FROM_WGS84[dst](lon, lat)
    return _pyproj_transform(lon, lat, "wgs84", dst)


def _pyproj_transform(
    lon: Floats, lat: Floats, src: str, dst: str
) -> tuple[Floats, Floats]:
    # wgs84 and cgcs2000 both go to pyproj as EPSG:4326
    src_code = src if src.startswith("EPSG:") else "EPSG:4326"
    dst_code = dst if dst.startswith("EPSG:") else "EPSG:4326"
    if src_code == dst_code:
        return _shaped(lon.copy(), lon.shape), _shaped(lat.copy(), lat.shape)
    x, y = _transformer(src_code, dst_code).transform(lon.ravel(), lat.ravel())
    return _shaped(np.asarray(x), lon.shape), _shaped(np.asarray(y), lat.shape)


@lru_cache(maxsize=64)
def _transformer(src_code: str, dst_code: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src_code, dst_code, always_xy=True)


# --- geometries and GeoDataFrames ---------------------------------------------


def convert_geometries(geoms: Any, src: str, dst: str) -> npt.NDArray[np.object_]:
    """Convert every vertex of shapely geometries between two systems.

    Parameters
    ----------
    geoms
        An array of shapely geometries or a GeoSeries; None stays None.
        Z coordinates are dropped.
    src, dst
        Source and destination systems.

    Returns
    -------
    numpy.ndarray
        New geometries of the same types, in an object array.
    """
    src, dst = parse_crs(src), parse_crs(dst)
    geoms = np.asarray(geoms, dtype=object)

    def convert_coords(coords: Floats) -> Floats:
        x, y = convert_points(coords[:, 0], coords[:, 1], src, dst)
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, convert_coords), dtype=object)


def convert_gdf(gdf: gpd.GeoDataFrame, src: str, dst: str) -> gpd.GeoDataFrame:
    """A copy of `gdf` with its geometry converted from `src` to `dst`.

    Parameters
    ----------
    gdf
        Data in `src`. Its ``.crs`` may be unset; when set it must agree
        with `src` (EPSG:4326 or EPSG:4490 for wgs84, cgcs2000, gcj02, bd09).
    src, dst
        Source and destination systems.

    Returns
    -------
    geopandas.GeoDataFrame
        The converted copy, labelled with ``pyproj_crs(dst)``.

    Raises
    ------
    InvalidInput
        When ``gdf.crs`` contradicts `src`.
    """
    src, dst = parse_crs(src), parse_crs(dst)
    _check_gdf_crs(gdf, src)

    converted = convert_geometries(gdf.geometry.array, src, dst)
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(converted, index=gdf.index)
    out = out.set_crs(pyproj_crs(dst), allow_override=True)
    logger.debug("Converted %d geometries from %s to %s", len(gdf), src, dst)
    return out


def _check_gdf_crs(gdf: gpd.GeoDataFrame, src: str) -> None:
    if gdf.crs is None:
        return
    # shifted systems are labelled as degrees
    allowed = {4326, 4490} if src in CRS_NAMES else {int(src[len("EPSG:") :])}
    if gdf.crs.to_epsg() not in allowed:
        raise InvalidInput(
            f"The GeoDataFrame is labelled {gdf.crs.to_string()} but was declared "
            f"as {src}; the two must agree. Pass the system the coordinates are "
            "really in, or relabel the frame with set_crs.",
            declared=src,
            received=gdf.crs.to_string(),
        )


# --- metric projections ------------------------------------------------------


def utm_crs_for(geoms_or_bounds: Any) -> pyproj.CRS:
    """The WGS84 UTM zone, north or south, of the centre of some data.

    Parameters
    ----------
    geoms_or_bounds
        A GeoDataFrame or GeoSeries (in any CRS; unlabelled means degrees),
        an array of shapely geometries in degrees, or bounds
        ``(min_lon, min_lat, max_lon, max_lat)``.

    Returns
    -------
    pyproj.CRS
        EPSG:326zz north of the equator, EPSG:327zz south of it; for
        instance EPSG:32651 for Zhejiang. The Norway and Svalbard exceptions
        to the zone grid are ignored.

    Raises
    ------
    InvalidInput
        When there is no finite bound in degrees.
    """
    min_lon, min_lat, max_lon, max_lat = _bounds_deg(geoms_or_bounds)
    lon = (min_lon + max_lon) / 2.0
    lat = (min_lat + max_lat) / 2.0

    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    base = 32600 if lat >= 0 else 32700
    return _pyproj_crs(f"EPSG:{base + zone}")


def to_metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Project a GeoDataFrame to the UTM zone of its centre, in metres.

    Parameters
    ----------
    gdf
        Data with a ``.crs`` (normally EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        A projected copy.

    Raises
    ------
    InvalidInput
        When ``gdf.crs`` is unset.
    """
    if gdf.crs is None:
        raise InvalidInput(
            "The GeoDataFrame has no CRS, so it cannot be projected to metres. "
            "Label it first, for instance with gdf.set_crs(4326).",
        )
    return gdf.to_crs(utm_crs_for(gdf))


def _bounds_deg(geoms_or_bounds: Any) -> tuple[float, float, float, float]:
    if isinstance(geoms_or_bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        data = geoms_or_bounds
        if data.crs is not None and not data.crs.is_geographic:
            data = data.to_crs(4326)
        bounds = data.total_bounds
    elif isinstance(geoms_or_bounds, Sequence | np.ndarray) and _is_bounds(
        geoms_or_bounds
    ):
        bounds = np.asarray(geoms_or_bounds, dtype=np.float64)
    else:
        bounds = shapely.total_bounds(np.asarray(geoms_or_bounds, dtype=object))

    min_lon, min_lat, max_lon, max_lat = (float(b) for b in bounds)
    if not (
        np.all(np.isfinite(bounds))
        and -180.0 <= min_lon <= max_lon <= 180.0
        and -90.0 <= min_lat <= max_lat <= 90.0
    ):
        raise InvalidInput(
            f"Cannot choose a UTM zone: the data bounds {tuple(bounds.tolist())} "
            "are not finite longitudes and latitudes in degrees. Pass geometries "
            "in EPSG:4326 or a GeoDataFrame with its CRS set.",
        )
    return min_lon, min_lat, max_lon, max_lat


def _is_bounds(value: Sequence[Any] | np.ndarray) -> bool:
    return len(value) == 4 and all(
        isinstance(v, int | float | np.integer | np.floating) for v in value
    )


# --- detecting the system of points ------------------------------------------


def detect_crs(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    polygons: Any,
    candidates: Sequence[str] = ("wgs84", "gcj02", "bd09"),
) -> CRSDetection:
    """Which system puts the most points inside the polygon they belong to.

    Parameters
    ----------
    lon, lat
        Coordinates in an unknown system.
    polygons
        One WGS84 polygon per point (for instance its village), aligned with
        the points; None for points without one. They are prepared in place
        with ``shapely.prepare`` to speed up the tests.
    candidates
        Systems to try; each point is converted from it to WGS84.

    Returns
    -------
    CRSDetection
        The share of points inside per candidate, and the best candidate.
    """
    names = list(dict.fromkeys(parse_crs(c) for c in candidates))
    point_lon, point_lat, point_polygons, n_given = _usable_points(lon, lat, polygons)
    n = int(point_lon.size)

    inside_share = {
        name: _inside_share(point_lon, point_lat, point_polygons, name)
        for name in names
    }
    best = max(names, key=lambda name: np.nan_to_num(inside_share[name], nan=-1.0))
    detection = CRSDetection(best=best, inside_share=inside_share, n=n)
    logger.info(
        "Tested %d of %d points against their polygons: %s inside",
        n,
        n_given,
        detection.describe(),
    )
    return detection


def _usable_points(
    lon: npt.ArrayLike, lat: npt.ArrayLike, polygons: Any
) -> tuple[Floats, Floats, npt.NDArray[np.object_], int]:
    # points with finite coordinates and a non-empty polygon, polygons prepared
    lon_arr, lat_arr = _as_floats(lon, lat)
    polygon_arr = np.asarray(polygons, dtype=object)
    if polygon_arr.shape != lon_arr.shape:
        raise InvalidInput(
            f"Detecting a coordinate system needs one polygon per point; received "
            f"{lon_arr.size} points and {polygon_arr.size} polygons.",
        )

    usable = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    usable &= ~shapely.is_missing(polygon_arr) & ~shapely.is_empty(polygon_arr)
    polygon_arr = polygon_arr[usable]
    shapely.prepare(polygon_arr)
    return lon_arr[usable], lat_arr[usable], polygon_arr, int(lon_arr.size)


def _inside_share(lon: Floats, lat: Floats, polygons: Any, src: str) -> float:
    if lon.size == 0:
        return math.nan
    wgs_lon, wgs_lat = to_wgs84(lon, lat, src)
    return float(np.mean(shapely.contains_xy(polygons, wgs_lon, wgs_lat)))


def check_declared_crs(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    polygons: Any,
    declared: str,
    *,
    source: str,
    min_share: float = 0.9,
    min_gain: float = 0.1,
    candidates: Sequence[str] = ("wgs84", "gcj02", "bd09"),
) -> CRSDetection:
    """Refuse points whose declared system another system explains clearly better.

    A 500 m shift moves only part of a village's households out of a village
    a few kilometres wide, so a wrong system can still leave well over half
    of them inside. The declared system is therefore rejected when fewer than
    `min_share` of the points fall inside under it *and* another candidate
    puts at least `min_gain` more of them inside. Correct data with poor
    locations is spared: noise lowers every candidate alike.

    Parameters
    ----------
    lon, lat
        Coordinates as read from the input.
    polygons
        One WGS84 polygon per point, as for `detect_crs`.
    declared
        The system the user said the input is in.
    source
        The input's name for messages, such as its file name.
    min_share
        Share inside, under the declared system, that is accepted outright.
    min_gain
        How much larger another candidate's share must be to reject.
    candidates
        Systems to compare with; the declared one is added.

    Returns
    -------
    CRSDetection
        The detection, when the declared system is plausible.

    Raises
    ------
    WrongCRS
        When another system clearly fits better. The message gives the share
        inside under each candidate and the option to re-run with.
    """
    declared = parse_crs(declared)
    detection = detect_crs(lon, lat, polygons, (declared, *candidates))
    shares = detection.inside_share
    best = detection.best
    if detection.n == 0 or best == declared:
        return detection
    if shares[declared] >= min_share or shares[best] - shares[declared] < min_gain:
        return detection

    raise WrongCRS(
        f"{source}: coordinates were declared as {declared}, but under {declared} "
        f"only {shares[declared]:.0%} of {detection.n} points fall inside their "
        f"polygon (share inside: {detection.describe()}). They are probably in "
        f"{best}: re-run with --crs {best}.",
        source=source,
        declared=declared,
        probable=best,
        inside_share=shares,
    )

"""Read a drawn polygon from GeoJSON, refusing malformed input with what is wrong.

Checked, in order: the type (a Polygon, a MultiPolygon, or a Feature holding
one), the nesting of the coordinates, each position (two or three finite
numbers, longitude -180..180, latitude -90..90), each ring (at least four
positions, closed), the total number of vertices, and finally the validity
of the shape itself (rings that cross themselves or each other). The shape
is then converted from the map's coordinate system to WGS84.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geogrid.crs import convert_geometries, parse_crs
from geogrid.errors import InvalidInput

MAX_VERTICES = 20_000
POLYGONAL = ("Polygon", "MultiPolygon")


def polygon_from_geojson(obj: Any, crs: str = "wgs84") -> BaseGeometry:
    """A valid shapely Polygon or MultiPolygon in WGS84 from a GeoJSON object.

    Parameters
    ----------
    obj
        Parsed GeoJSON: a Polygon or MultiPolygon geometry, or a Feature with
        one.
    crs
        The system the coordinates are in (gcj02 when drawn over AMap tiles).

    Raises
    ------
    InvalidInput
        Naming the first problem found and where it is.
    """
    geometry = _geometry_of(obj)
    kind = geometry["type"]
    coords = geometry.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        raise InvalidInput(
            f"A {kind} needs a non-empty 'coordinates' array; received "
            f"{_short(coords)}."
        )

    shells: list[shapely.Polygon] = []
    vertices = 0
    for p, rings in enumerate(polygons, start=1):
        where = f"polygon {p}" if kind == "MultiPolygon" else "the polygon"
        checked = _rings(rings, where)
        vertices += sum(len(r) for r in checked)
        if vertices > MAX_VERTICES:
            raise InvalidInput(
                f"The shape has more than {MAX_VERTICES:,} vertices; simplify it "
                "(a grid boundary rarely needs more than a few hundred)."
            )
        shells.append(shapely.Polygon(checked[0], checked[1:]))

    shape: BaseGeometry = (
        shells[0] if kind == "Polygon" else shapely.MultiPolygon(shells)
    )
    _check_valid(shape)
    crs = parse_crs(crs)
    if crs in ("wgs84", "cgcs2000"):
        return shape
    return convert_geometries(np.array([shape], dtype=object), crs, "wgs84")[0]


def _geometry_of(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or "type" not in obj:
        raise InvalidInput(
            "The shape must be a GeoJSON object with a 'type' (Polygon, "
            f"MultiPolygon or Feature); received {_short(obj)}."
        )
    if obj["type"] == "Feature":
        geometry = obj.get("geometry")
        if not isinstance(geometry, dict) or "type" not in geometry:
            raise InvalidInput(
                "The Feature has no geometry; send a Feature whose 'geometry' is a "
                "Polygon or MultiPolygon."
            )
        obj = geometry
    if obj["type"] not in POLYGONAL:
        raise InvalidInput(
            f"Wrong geometry type {obj['type']!r}: a grid's shape must be a Polygon "
            "or MultiPolygon (or a Feature holding one).",
            received=str(obj["type"]),
        )
    return obj


def _rings(rings: Any, where: str) -> list[list[tuple[float, float]]]:
    if not isinstance(rings, list) or not rings:
        raise InvalidInput(
            f"In {where}: a polygon is an array of rings (the outer ring first); "
            f"received {_short(rings)}."
        )
    out = []
    for r, ring in enumerate(rings, start=1):
        name = f"ring {r} of {where}"
        if not isinstance(ring, list):
            raise InvalidInput(
                f"In {name}: a ring is an array of [longitude, latitude] "
                f"positions; received {_short(ring)}."
            )
        positions = [_position(pos, name, i) for i, pos in enumerate(ring, start=1)]
        if len(positions) < 4:
            raise InvalidInput(
                f"Invalid ring: {name} has {len(positions)} positions; a ring needs "
                "at least four (three corners and the first repeated at the end)."
            )
        if positions[0] != positions[-1]:
            raise InvalidInput(
                f"Invalid ring: {name} is not closed: its first position "
                f"{positions[0]} differs from its last {positions[-1]}. Repeat the "
                "first position at the end."
            )
        out.append(positions)
    return out


def _position(pos: Any, ring: str, index: int) -> tuple[float, float]:
    where = f"position {index} of {ring}"
    if not isinstance(pos, list) or len(pos) not in (2, 3):
        raise InvalidInput(
            f"In {where}: a position is [longitude, latitude]; received {_short(pos)}."
        )
    numbers = [v for v in pos if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(pos) or not all(math.isfinite(v) for v in numbers):
        raise InvalidInput(
            f"In {where}: coordinates must be finite numbers; received {_short(pos)}."
        )
    lon, lat = float(pos[0]), float(pos[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(
            f"In {where}: ({lon}, {lat}) is out of range; longitude must be within "
            "-180..180 and latitude within -90..90. Did you swap them?"
        )
    return lon, lat


def _check_valid(shape: BaseGeometry) -> None:
    if shape.convex_hull.area == 0:
        raise InvalidInput(
            "Invalid ring: the shape encloses no area (its points lie on a line); "
            "draw a polygon with at least three distinct corners."
        )
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise InvalidInput(
            f"Invalid ring: {reason}. Redraw the shape so that its edges do not "
            "cross themselves or each other.",
            reason=reason,
        )


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

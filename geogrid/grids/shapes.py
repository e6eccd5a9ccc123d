"""Geometry of grid edits: give an area to one grid, keep the tiling whole.

Grids are stored in WGS84 degrees; every tolerance here is stated in metres
and converted with the degree length at the data's latitude. A branch's
second-level grids must tile its first-level grid: no overlap and no gap
larger than ``TILING_TOLERANCE_M2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geogrid.errors import InvalidInput, InvariantViolation

# vertices of a drawn polygon within this distance of a neighbour's snap onto it
SNAP_TOLERANCE_M = 3.0
# pieces smaller than this left behind by an edit are slivers, merged away
SLIVER_AREA_M2 = 200.0
# the tiling may be off by this much area in total (floating point residue)
TILING_TOLERANCE_M2 = 1.0
_M_PER_DEG_LAT = 111_320.0


def metres_to_degrees(distance_m: float, lat: float) -> float:
    """A conservative degree length for ``distance_m`` at latitude ``lat``."""
    return distance_m / (_M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.1))


def area_m2(geom: BaseGeometry) -> float:
    """Approximate area in m² of a small WGS84 geometry (local equirectangular)."""
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    scale = _M_PER_DEG_LAT**2 * math.cos(math.radians(lat))
    return float(geom.area * scale)


def as_multipolygon(geom: BaseGeometry | None) -> MultiPolygon:
    """The polygonal parts of ``geom`` as one MultiPolygon (possibly empty)."""
    if geom is None or geom.is_empty:
        return MultiPolygon()
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    polys: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        if isinstance(part, Polygon):
            polys.append(part)
        elif isinstance(part, MultiPolygon):
            polys.extend(part.geoms)
    return MultiPolygon(polys)


def repair(drawn: BaseGeometry, source: str = "the drawn polygon") -> MultiPolygon:
    """Make a drawn polygon valid, keeping its polygonal parts; refuse non-areas."""
    if drawn is None or drawn.is_empty:
        raise InvalidInput(f"{source} is empty; draw a polygon with at least 3 points.")
    if drawn.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise InvalidInput(
            f"{source} must be a Polygon or MultiPolygon, got a {drawn.geom_type}."
        )
    fixed = drawn if drawn.is_valid else shapely.make_valid(drawn)
    polys = as_multipolygon(fixed)
    if polys.is_empty:
        raise InvalidInput(
            f"{source} encloses no area after repair (it may cross itself "
            "everywhere); draw it again."
        )
    return polys


@dataclass
class AreaChange:
    """New shapes of the grids an edit touches, and what it did to get there."""

    shapes: dict[int, MultiPolygon]
    gap_m2: float = 0.0
    gap_given_to: dict[int, float] | None = None
    slivers_merged: int = 0


def _longest_border_owner(
    piece: BaseGeometry, shapes: Mapping[int, BaseGeometry], exclude: set[int]
) -> int | None:
    """The grid sharing the longest border with ``piece``."""
    best, best_len = None, 0.0
    boundary = piece.boundary
    for gid, shape in shapes.items():
        if gid in exclude or shape.is_empty:
            continue
        shared = boundary.intersection(shape.boundary).length
        if shared > best_len:
            best, best_len = gid, shared
    return best


def give_area(
    shapes: Mapping[int, BaseGeometry],
    parent: BaseGeometry,
    target: int,
    area: BaseGeometry,
    *,
    new_target_shape: bool = False,
    gap_policy: str = "give",
) -> AreaChange:
    """Give ``area`` to grid ``target``; every other grid loses what it overlapped.

    Parameters
    ----------
    shapes
        Current shapes of the sibling grids (all second-level grids of one
        branch), by grid id.
    parent
        The branch's first-level grid; everything is clipped to it.
    target
        The grid receiving the area.
    area
        The area given (a village, or a newly drawn polygon).
    new_target_shape
        True when ``area`` replaces the target's shape (a redrawn grid): what
        the target had outside it becomes a gap, dealt with by ``gap_policy``.
    gap_policy
        'give': each gap piece goes to the neighbour sharing the longest
        border; 'refuse': raise InvariantViolation naming the gap's area.
    """
    if target not in shapes:
        raise InvalidInput(f"Grid {target} is not a second-level grid of this branch.")
    lat = parent.centroid.y
    snap_deg = metres_to_degrees(SNAP_TOLERANCE_M, lat)

    # clip to the parent and snap onto neighbours' vertices, so no slivers appear
    area = as_multipolygon(shapely.intersection(area, parent))
    others = [s for gid, s in shapes.items() if gid != target and not s.is_empty]
    if others:
        area = as_multipolygon(
            shapely.snap(
                area, shapely.union_all([o.boundary for o in others]), snap_deg
            )
        )
        area = as_multipolygon(shapely.make_valid(area).intersection(parent))
    if area.is_empty or area_m2(area) < SLIVER_AREA_M2:
        raise InvalidInput(
            "The area given lies outside the branch's first-level grid (or is "
            f"smaller than {SLIVER_AREA_M2:.0f} m²); draw it inside the branch."
        )

    new: dict[int, BaseGeometry] = {}
    for gid, shape in shapes.items():
        if gid == target:
            base = area if new_target_shape else shapely.union(shape, area)
            new[gid] = base
        else:
            new[gid] = shapely.difference(shape, area)

    change = AreaChange(shapes={})
    if new_target_shape:
        covered = shapely.union_all(list(new.values()))
        gap = as_multipolygon(shapely.difference(parent, covered))
        gap_pieces = [g for g in gap.geoms if area_m2(g) >= SLIVER_AREA_M2 / 10]
        change.gap_m2 = sum(area_m2(g) for g in gap_pieces)
        if change.gap_m2 > TILING_TOLERANCE_M2:
            if gap_policy == "refuse":
                raise InvariantViolation(
                    f"The new shape leaves {change.gap_m2:,.0f} m² of the branch in "
                    "no grid. Draw the grid to cover it, or let geogrid give the gap "
                    "to the neighbour sharing the longest border (gap_policy='give').",
                    gap_m2=round(change.gap_m2, 1),
                )
            change.gap_given_to = {}
            for piece in gap_pieces:
                owner = _longest_border_owner(piece, new, exclude={target})
                if owner is None:
                    owner = target
                new[owner] = shapely.union(new[owner], piece)
                change.gap_given_to[owner] = change.gap_given_to.get(owner, 0.0) + (
                    area_m2(piece)
                )

    new, change.slivers_merged = _merge_slivers(new)
    change.shapes = {
        gid: as_multipolygon(shapely.make_valid(g)) for gid, g in new.items()
    }
    return change


def _merge_slivers(
    shapes: dict[int, BaseGeometry],
) -> tuple[dict[int, BaseGeometry], int]:
    """Give each tiny detached piece of a grid to its longest-border neighbour."""
    merged = 0
    out = dict(shapes)
    for gid in list(out):
        parts = as_multipolygon(out[gid]).geoms
        if len(parts) < 2:
            continue
        keep: list[Polygon] = []
        drop: list[Polygon] = []
        for part in parts:
            (drop if area_m2(part) < SLIVER_AREA_M2 else keep).append(part)
        if not keep:
            continue
        out[gid] = MultiPolygon(keep)
        for piece in drop:
            owner = _longest_border_owner(piece, out, exclude={gid})
            if owner is not None:
                out[owner] = shapely.union(out[owner], piece)
                merged += 1
            else:
                out[gid] = shapely.union(out[gid], piece)
    return out, merged


@dataclass
class TilingProblem:
    """A gap or overlap found among a branch's second-level grids."""

    kind: str  # 'gap', 'overlap', 'outside'
    area_m2: float
    grids: tuple[int, ...]
    geom: BaseGeometry


def tiling_problems(
    shapes: Mapping[int, BaseGeometry], parent: BaseGeometry
) -> list[TilingProblem]:
    """Gaps, overlaps and spill-overs beyond ``TILING_TOLERANCE_M2``."""
    problems: list[TilingProblem] = []
    items = [(gid, s) for gid, s in shapes.items() if not s.is_empty]
    geoms = [s for _, s in items]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        overlap = shapely.intersection(geoms[i], geoms[j])
        size = area_m2(overlap)
        if size > TILING_TOLERANCE_M2:
            problems.append(
                TilingProblem("overlap", size, (items[i][0], items[j][0]), overlap)
            )

    union = shapely.union_all(geoms) if geoms else MultiPolygon()
    gap = shapely.difference(parent, union)
    if area_m2(gap) > TILING_TOLERANCE_M2:
        problems.append(TilingProblem("gap", area_m2(gap), (), gap))
    outside = shapely.difference(union, parent)
    if area_m2(outside) > TILING_TOLERANCE_M2:
        problems.append(
            TilingProblem(
                "outside", area_m2(outside), tuple(g for g, _ in items), outside
            )
        )
    return problems

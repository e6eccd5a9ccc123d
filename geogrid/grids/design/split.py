"""Splitting heavy villages into parts by straight cut lines.

A village whose workload alone exceeds `SPLIT_THRESHOLD` times the mean grid
workload is cut into ``ceil(workload / mean)`` parts by straight lines
perpendicular to the long side of its minimum rotated rectangle, placed so
the parts hold equal numbers of household points (or equal areas when no
points are given). Parts are units named ``<village>#1``, ``<village>#2``...
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geogrid.grids.design.workload import mixed_workload

logger = logging.getLogger(__name__)

# a village is cut when it alone exceeds this many mean grid workloads
SPLIT_THRESHOLD = 1.1


def split_heavy_villages(
    metric: gpd.GeoDataFrame,
    weights: Mapping[str, float],
    locked: Mapping[str, str],
    points: gpd.GeoDataFrame | None,
    mean_workload: float,
    *,
    enabled: bool,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Design units: whole villages, and parts of heavy villages cut up.

    Returns
    -------
    units
        One row per unit in the metric CRS: ``code``, ``village_code``,
        ``part`` (0 for a whole village), geometry, workload and the
        workload columns shared out among parts.
    lines
        The cut lines: ``village_code``, ``cut`` and geometry.
    """
    columns = list(dict.fromkeys([*weights, "area_km2"]))
    if "households" in metric.columns:
        columns = list(dict.fromkeys([*columns, "households"]))

    units = metric[["code", "geometry", "workload", *columns]].copy()
    units.insert(1, "village_code", units["code"])
    units.insert(2, "part", 0)
    heavy = metric["workload"] > SPLIT_THRESHOLD * mean_workload
    if not enabled:
        heavy &= False
    kept_locked = heavy & metric["code"].isin(list(locked))
    if kept_locked.any():
        logger.warning(
            "Kept %d locked villages whole although each exceeds %.1f mean "
            "workloads; their grids will be overloaded",
            int(kept_locked.sum()),
            SPLIT_THRESHOLD,
        )
    heavy &= ~kept_locked
    if not heavy.any():
        return units, _empty_lines(metric.crs)
    totals = {column: float(metric[column].sum()) for column in weights}

    pieces: list[gpd.GeoDataFrame] = [units[~heavy]]
    lines: list[dict[str, Any]] = []
    for row in units[heavy].to_dict("records"):
        n_parts = math.ceil(row["workload"] / mean_workload)
        village_points = None
        if points is not None:
            mask = points["village_code"] == row["code"]
            village_points = shapely.get_coordinates(points.geometry[mask].to_numpy())
        parts, cuts, shares = cut_polygon(row["geometry"], n_parts, village_points)
        part_units = _part_units(row, parts, shares, columns, metric.crs)
        part_units["workload"] = mixed_workload(part_units, weights, totals)
        pieces.append(part_units)
        lines += [
            {"village_code": row["code"], "cut": i + 1, "geometry": line}
            for i, line in enumerate(cuts)
        ]

    split_units = pd.concat(pieces, ignore_index=True)
    logger.info(
        "Split %d heavy villages into %d parts along %d cut lines",
        int(heavy.sum()),
        int((split_units["part"] > 0).sum()),
        len(lines),
    )
    return (
        gpd.GeoDataFrame(split_units, geometry="geometry", crs=metric.crs),
        gpd.GeoDataFrame(lines, geometry="geometry", crs=metric.crs),
    )


def _part_units(
    row: dict[str, Any],
    parts: list[BaseGeometry],
    shares: np.ndarray,
    columns: list[str],
    crs: Any,
) -> gpd.GeoDataFrame:
    areas = np.array([p.area for p in parts])
    area_shares = areas / areas.sum()
    records = []
    for i, (part, share) in enumerate(zip(parts, shares, strict=True)):
        record: dict[str, Any] = {
            "code": f"{row['code']}#{i + 1}",
            "village_code": row["code"],
            "part": i + 1,
            "geometry": part,
        }
        for column in columns:
            column_share = area_shares[i] if column == "area_km2" else share
            record[column] = row[column] * column_share
        records.append(record)
    return gpd.GeoDataFrame(records, geometry="geometry", crs=crs)


def cut_polygon(
    polygon: BaseGeometry, n_parts: int, points_xy: np.ndarray | None = None
) -> tuple[list[BaseGeometry], list[BaseGeometry], np.ndarray]:
    """Cut a shape into parts by parallel straight lines across its long axis.

    The lines are perpendicular to the long side of the shape's minimum
    rotated rectangle, so a planner sees simple bands. They are placed so the
    parts hold equal numbers of ``points_xy`` when at least ``n_parts``
    points are given, else equal areas.

    Parameters
    ----------
    polygon
        The shape, in a metric CRS.
    n_parts
        Number of parts, at least 2.
    points_xy
        Optional ``(m, 2)`` coordinates of the households in the shape.

    Returns
    -------
    parts
        ``n_parts`` shapes, in order along the axis.
    lines
        ``n_parts - 1`` cut lines clipped to the shape.
    shares
        Share of the households (or of the area) of each part.
    """
    axis = _long_axis(polygon)
    normal = np.array([-axis[1], axis[0]])
    coords = shapely.get_coordinates(polygon)
    along, across = coords @ axis, coords @ normal
    low, high = float(along.min()), float(along.max())
    middle = float(across.min() + across.max()) / 2.0
    reach = high - low + float(np.ptp(across))
    frame = (axis, normal, middle, reach)

    by_points = points_xy is not None and len(points_xy) >= n_parts
    if by_points:
        assert points_xy is not None
        cuts = _point_cuts(points_xy @ axis, n_parts)
    else:
        cuts = _area_cuts(polygon, frame, low, high, n_parts)

    bounds = [low - 1.0, *cuts, high + 1.0]
    parts = [
        polygon.intersection(_band(frame, a, b)) for a, b in itertools.pairwise(bounds)
    ]
    lines = [polygon.intersection(_cut_line(frame, t)) for t in cuts]

    if by_points:
        assert points_xy is not None
        counts = np.histogram(points_xy @ axis, bins=bounds)[0]
        shares = counts / counts.sum()
    else:
        areas = np.array([p.area for p in parts])
        shares = areas / areas.sum()
    return parts, lines, shares


def _long_axis(polygon: BaseGeometry) -> np.ndarray:
    rectangle = shapely.oriented_envelope(polygon)
    corners = shapely.get_coordinates(rectangle)[:3]
    sides = np.diff(corners, axis=0)
    longest = sides[np.argmax(np.hypot(sides[:, 0], sides[:, 1]))]
    length = float(np.hypot(*longest))
    if length == 0:
        return np.array([1.0, 0.0])
    return longest / length


def _point_cuts(along: np.ndarray, n_parts: int) -> list[float]:
    ordered = np.sort(along)
    cuts = []
    for i in range(1, n_parts):
        at = round(i * len(ordered) / n_parts)
        cuts.append(float((ordered[at - 1] + ordered[at]) / 2.0))
    return cuts


def _area_cuts(
    polygon: BaseGeometry,
    frame: tuple[np.ndarray, np.ndarray, float, float],
    low: float,
    high: float,
    n_parts: int,
) -> list[float]:
    total = polygon.area
    cuts = []
    for i in range(1, n_parts):
        wanted = total * i / n_parts
        a, b = low, high
        for _ in range(40):
            middle = (a + b) / 2.0
            below = polygon.intersection(_band(frame, low - 1.0, middle))
            a, b = (middle, b) if below.area < wanted else (a, middle)
        cuts.append((a + b) / 2.0)
    return cuts


def _band(
    frame: tuple[np.ndarray, np.ndarray, float, float], start: float, stop: float
) -> BaseGeometry:
    # the strip between two cut positions along the axis, wide enough across
    axis, normal, middle, reach = frame
    corners = [
        start * axis + (middle - reach) * normal,
        stop * axis + (middle - reach) * normal,
        stop * axis + (middle + reach) * normal,
        start * axis + (middle + reach) * normal,
    ]
    return shapely.Polygon(corners)


def _cut_line(
    frame: tuple[np.ndarray, np.ndarray, float, float], at: float
) -> BaseGeometry:
    axis, normal, middle, reach = frame
    return shapely.LineString(
        [at * axis + (middle - reach) * normal, at * axis + (middle + reach) * normal]
    )


def _empty_lines(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_code": pd.Series(dtype=str), "cut": pd.Series(dtype=int)},
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )

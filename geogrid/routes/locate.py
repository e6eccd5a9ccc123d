"""Where a route's stops are: coordinates, the county, the road network, the matrix."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geogrid.errors import InvalidInput
from geogrid.routes.network import TravelMatrix
from geogrid.routes.reasons import (
    BAD_LOCATION,
    NO_ROAD_PATH,
    OFF_NETWORK,
    OUTSIDE_COUNTY,
    Unscheduled,
)
from geogrid.routes.request import RouteRequest, Stop


@dataclass
class Located:
    """A request with its travel matrix: 0 is the start, 1 the end."""

    request: RouteRequest
    matrix: TravelMatrix
    index: dict[int, int]
    unscheduled: dict[int, Unscheduled]

    def subset(self, positions: Sequence[int], date: dt.date) -> Located:
        """The same locations restricted to some stops, on another date."""
        stops = tuple(self.request.stops[p] for p in positions)
        kept = [p for p in positions if p in self.index]
        rows = [0, 1, *(self.index[p] for p in kept)]
        new_position = {p: k for k, p in enumerate(positions)}
        return Located(
            request=replace(self.request, stops=stops, date=date),
            matrix=self.matrix.take(rows),
            index={new_position[p]: 2 + k for k, p in enumerate(kept)},
            unscheduled={
                new_position[p]: u
                for p, u in self.unscheduled.items()
                if p in new_position
            },
        )


def locate(request: RouteRequest) -> Located:
    """Check every location and compute the travel matrix."""
    county = request.county
    _check_endpoint(request.start, "start", county)
    _check_endpoint(request.end, "end", county)

    # coordinates and the county
    inside = _inside(request.stops, county)
    unscheduled: dict[int, Unscheduled] = {}
    positions = []
    for p, stop in enumerate(request.stops):
        reason = _location_problem(stop, bool(inside[p]))
        if reason is None:
            positions.append(p)
        else:
            unscheduled[p] = reason

    # the matrix of the start, the end and the stops that remain
    lon = [request.start[0], request.end[0], *(request.stops[p].lon for p in positions)]
    lat = [request.start[1], request.end[1], *(request.stops[p].lat for p in positions)]
    matrix = request.travel.matrix(lon, lat)
    _check_endpoint_network(matrix, request)
    index = {p: 2 + k for k, p in enumerate(positions)}

    # off the network, or no road path to the start or from the end
    for p, row in list(index.items()):
        reason = _network_problem(request.stops[p], matrix, row)
        if reason is not None:
            unscheduled[p] = reason
    return Located(request, matrix, index, unscheduled)


def _check_endpoint(point: tuple[float, float], name: str, county: Any) -> None:
    if county is not None and not shapely.covers(county, shapely.Point(point)):
        raise InvalidInput(
            f"The route's {name} ({point[0]:.6f}, {point[1]:.6f}) lies outside "
            "the county. Check that it is in WGS84 (not GCJ-02 or BD-09) and "
            "inside the county boundary.",
            parameter=name,
        )


def _check_endpoint_network(matrix: TravelMatrix, request: RouteRequest) -> None:
    limit_m = getattr(request.travel, "max_snap_m", math.inf)
    for row, name in ((0, "start"), (1, "end")):
        if matrix.off_network[row]:
            point = request.start if row == 0 else request.end
            raise InvalidInput(
                f"The route's {name} ({point[0]:.6f}, {point[1]:.6f}) is "
                f"{matrix.access_m[row]:,.0f} m from the nearest road, beyond "
                f"the limit of {limit_m:,.0f} m. Move it to a place by a road, "
                "or load roads that reach it.",
                parameter=name,
            )
    if not math.isfinite(matrix.time_s[0, 1]):
        raise InvalidInput(
            "No road path leads from the route's start to its end. Check the "
            "one-way roads near them, or end the route at the start.",
            parameter="end",
        )


def _inside(stops: Sequence[Stop], county: Any) -> npt.NDArray[np.bool_]:
    lon = np.array([s.lon for s in stops], dtype=np.float64)
    lat = np.array([s.lat for s in stops], dtype=np.float64)
    if county is None:
        return np.ones(len(stops), dtype=bool)
    return np.asarray(shapely.covers(county, shapely.points(lon, lat)), dtype=bool)


def _location_problem(stop: Stop, inside: bool) -> Unscheduled | None:
    lon, lat = stop.lon, stop.lat
    if not (
        math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
    ):
        return Unscheduled(
            stop.id,
            BAD_LOCATION,
            f"Stop {stop.id!r} has no valid WGS84 location (received {lon!r}, "
            f"{lat!r}); geocode it first.",
        )
    if not inside:
        return Unscheduled(
            stop.id,
            OUTSIDE_COUNTY,
            f"Stop {stop.id!r} at ({lon:.6f}, {lat:.6f}) lies outside the county; "
            "check its coordinates and their coordinate system.",
        )
    return None


def _network_problem(stop: Stop, matrix: TravelMatrix, row: int) -> Unscheduled | None:
    if matrix.off_network[row]:
        return Unscheduled(
            stop.id,
            OFF_NETWORK,
            f"Stop {stop.id!r} is {matrix.access_m[row]:,.0f} m from the nearest "
            "road, beyond the snapping limit; check its location or the roads.",
        )
    if not (
        math.isfinite(matrix.time_s[0, row]) and math.isfinite(matrix.time_s[row, 1])
    ):
        return Unscheduled(
            stop.id,
            NO_ROAD_PATH,
            f"No road path joins stop {stop.id!r} to the start and the end.",
        )
    return None

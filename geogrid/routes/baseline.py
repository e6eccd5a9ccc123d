"""The nearest-neighbour order of a route's stops, the yardstick for VROOM's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geogrid.routes.locate import Located
from geogrid.routes.request import StopId


@dataclass(frozen=True)
class Baseline:
    """The same stops visited in nearest-neighbour order (by travel time)."""

    order: list[StopId]
    travel_s: float
    distance_m: float


def nearest_neighbour(located: Located, route: Sequence[int]) -> Baseline:
    """From the start, always to the quickest stop not yet visited, then the end."""
    matrix = located.matrix
    left = {located.index[p]: p for p in route}
    current, order, travel_s, distance_m = 0, [], 0.0, 0.0
    while left:
        nearest = min(left, key=lambda row: (matrix.time_s[current, row], row))
        travel_s += matrix.time_s[current, nearest]
        distance_m += matrix.distance_m[current, nearest]
        order.append(located.request.stops[left.pop(nearest)].id)
        current = nearest
    travel_s += matrix.time_s[current, 1]
    distance_m += matrix.distance_m[current, 1]
    return Baseline(order, float(travel_s), float(distance_m))

"""A planned day: the visits with their times, the totals and what was left out."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd
import shapely

from geogrid.routes.baseline import Baseline
from geogrid.routes.locate import Located
from geogrid.routes.reasons import Unscheduled, Violation
from geogrid.routes.request import RouteRequest, Stop, StopId
from geogrid.routes.time_windows import _at, _window_text


@dataclass(frozen=True)
class PlannedStop:
    """A stop in a route, with its times and the leg that leads to it.

    Attributes
    ----------
    stop
        The stop.
    sequence
        1 for the first visit.
    arrival_s, start_s, departure_s
        Arrival, start of the visit (after any wait) and departure, in
        seconds since midnight.
    arrival, service_start, departure
        The same as datetimes in the plan's time zone.
    waiting_s
        Wait before the time window opens.
    late_s
        How long after its time window the visit starts (only in an order
        chosen by hand).
    leg_time_s, leg_distance_m
        Travel from the previous location.
    access_m
        Distance between the stop and its road.
    """

    stop: Stop
    sequence: int
    arrival_s: float
    start_s: float
    departure_s: float
    arrival: dt.datetime
    service_start: dt.datetime
    departure: dt.datetime
    waiting_s: float
    late_s: float
    leg_time_s: float
    leg_distance_m: float
    access_m: float

    @property
    def id(self) -> StopId:
        """The stop's id."""
        return self.stop.id


@dataclass
class RoutePlan:
    """A day's route: ordered stops with times, totals, line and what was left out.

    Attributes
    ----------
    date, timezone
        Day of the route and the time zone of its times.
    travel_model
        ``"road_network"`` or ``"straight_line"``.
    detour_factor, speed_kph
        The straight-line model's factor and speed; None on roads.
    start, end
        (lon, lat) of the start and end.
    stops
        The visits in order.
    unscheduled
        Every stop not visited, with the reason.
    violations
        Rules the order breaks (only when it was chosen by hand).
    departure_s, return_s
        Leaving the start and arriving at the end, seconds since midnight.
    return_time_s, return_distance_m
        The last leg, from the last visit to the end.
    total_travel_s, total_distance_m
        Travel of all legs including the last one (visits and waits
        excluded).
    geometry
        The travelled line in EPSG:4326, along the roads on a road network;
        None for a route without movement.
    leg_geometries
        One line per leg, the last one ending at the end.
    baseline
        The nearest-neighbour order of the same stops, for comparison.
    optimised
        True when VROOM chose the order, False when it was given by hand.
    request
        The inputs, for `retime`.
    """

    date: dt.date
    timezone: str
    travel_model: str
    detour_factor: float | None
    speed_kph: float | None
    start: tuple[float, float]
    end: tuple[float, float]
    stops: list[PlannedStop]
    unscheduled: list[Unscheduled]
    violations: list[Violation]
    departure_s: float
    return_s: float
    return_time_s: float
    return_distance_m: float
    total_travel_s: float
    total_distance_m: float
    geometry: shapely.LineString | None
    leg_geometries: list[shapely.LineString]
    baseline: Baseline
    optimised: bool
    request: RouteRequest = field(repr=False, compare=False)
    _located: Located = field(repr=False, compare=False)

    @property
    def stop_ids(self) -> list[StopId]:
        """Ids of the visits in order."""
        return [s.id for s in self.stops]

    @property
    def total_duration_s(self) -> float:
        """From leaving the start to arriving at the end."""
        return self.return_s - self.departure_s

    @property
    def travel_ratio(self) -> float:
        """Travel time over that of the nearest-neighbour order (below 1 is better)."""
        return _ratio(self.total_travel_s, self.baseline.travel_s)

    @property
    def distance_ratio(self) -> float:
        """Distance over that of the nearest-neighbour order."""
        return _ratio(self.total_distance_m, self.baseline.distance_m)

    def at(self, seconds: float) -> dt.datetime:
        """Seconds since midnight of the plan date as a datetime."""
        return _at(self.date, self.timezone, seconds)

    def to_frame(self) -> pd.DataFrame:
        """The visits as a table: sequence, id, label, lon, lat, times, legs."""
        return pd.DataFrame(
            {
                "sequence": [s.sequence for s in self.stops],
                "stop_id": [s.id for s in self.stops],
                "label": [s.stop.label for s in self.stops],
                "lon": [s.stop.lon for s in self.stops],
                "lat": [s.stop.lat for s in self.stops],
                "arrival": [s.arrival for s in self.stops],
                "service_start": [s.service_start for s in self.stops],
                "departure": [s.departure for s in self.stops],
                "waiting_s": [s.waiting_s for s in self.stops],
                "late_s": [s.late_s for s in self.stops],
                "leg_time_s": [s.leg_time_s for s in self.stops],
                "leg_distance_m": [s.leg_distance_m for s in self.stops],
                "access_m": [s.access_m for s in self.stops],
                "time_window": [_window_text(s.stop.time_window) for s in self.stops],
            }
        )


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference > 0.0 else math.nan

"""A day's visit route: stops, time windows, the VROOM solve and retiming by hand.

`plan_route` orders the stops of one working day with VROOM (through
pyvroom) on a travel matrix from a `RoadNetwork` or the `StraightLine`
model: it starts at the start location when the working day begins, keeps
each household's time window and the daily quota (the most important stops
first, by priority), and ends at the end location before the working day
ends. Every stop that is not in the route is listed in
``RoutePlan.unscheduled`` with the reason. `retime` recomputes the times of
an order chosen by hand and flags what it breaks.

Times are seconds since midnight of the plan date (``RoutePlan`` also gives
them as datetimes in its time zone). A visit's time window bounds the time
its service starts, as in VROOM.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
import vroom

from geogrid.errors import InvalidInput
from geogrid.routes.network import TravelMatrix

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Window = tuple[int, int]
StopId = int | str
TimeWindowSpec = str | tuple[Any, Any] | Sequence[tuple[Any, Any]] | None

DEFAULT_SERVICE_S = 1_200
DEFAULT_MAX_VISITS = 12
DEFAULT_WORK_HOURS = ("08:30", "17:30")
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_EXPLORATION = 5
MAX_PRIORITY = 100
DAY_S = 86_400
ALL_WEEKDAYS = frozenset(range(7))

# named time windows: start and end in seconds since midnight, and the
# weekdays (Monday = 0) on which they apply
TIME_WINDOW_TOKENS: dict[str, tuple[int, int, frozenset[int]]] = {
    "morning": (8 * 3600, 12 * 3600, ALL_WEEKDAYS),
    "afternoon": (13 * 3600, 18 * 3600, ALL_WEEKDAYS),
    "evening": (18 * 3600, 21 * 3600, ALL_WEEKDAYS),
    "weekend": (0, DAY_S, frozenset({5, 6})),
}
TIME_WINDOW_ALIASES = {
    "上午": "morning",
    "下午": "afternoon",
    "晚上": "evening",
    "傍晚": "evening",
    "周末": "weekend",
    "双休日": "weekend",
}

# why a stop is not in a route
BAD_LOCATION = "bad_location"
OUTSIDE_COUNTY = "outside_county"
OFF_NETWORK = "off_network"
NO_ROAD_PATH = "no_road_path"
BAD_TIME_WINDOW = "bad_time_window"
NOT_AVAILABLE = "not_available"
OUTSIDE_WORKING_HOURS = "outside_working_hours"
TOO_FAR = "too_far"
QUOTA_REACHED = "quota_reached"
DAY_FULL = "day_full"
NOT_IN_ORDER = "not_in_order"
REASONS = (
    BAD_LOCATION,
    OUTSIDE_COUNTY,
    OFF_NETWORK,
    NO_ROAD_PATH,
    BAD_TIME_WINDOW,
    NOT_AVAILABLE,
    OUTSIDE_WORKING_HOURS,
    TOO_FAR,
    QUOTA_REACHED,
    DAY_FULL,
    NOT_IN_ORDER,
)
# reasons that keep a stop out of any route, whatever the day or the order
LOCATION_REASONS = frozenset(
    {BAD_LOCATION, OUTSIDE_COUNTY, OFF_NETWORK, NO_ROAD_PATH, BAD_TIME_WINDOW}
)

# what a route breaks when its order was chosen by hand
LATE = "late"
OVERTIME = "overtime"
OVER_QUOTA = "over_quota"

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~至到]\s*(\d{1,2}:\d{2})\s*$")
# a travel time standing in for "no path", longer than any working day
_NO_PATH_S = 10 * DAY_S


class TravelModel(Protocol):
    """What `plan_route` needs of a `RoadNetwork` or `StraightLine`."""

    name: str

    def matrix(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> TravelMatrix:
        """Travel times and distances between points in WGS84 degrees."""
        ...


# --- inputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """A household to visit.

    Attributes
    ----------
    id
        Unique key of the stop (for instance the household number).
    lon, lat
        WGS84 degrees.
    service_s
        Length of the visit in seconds.
    time_window
        When the household can be visited: None for any time; a token of
        `TIME_WINDOW_TOKENS` or its Chinese alias (``"evening"``,
        ``"周末"``); a range ``"18:00-21:00"``; a ``(start, end)`` pair or a
        list of pairs, each bound in seconds since midnight, ``"HH:MM"``, a
        `datetime.time`, or a `datetime.datetime` (which only applies on its
        own date, at its wall-clock time).
    priority
        0 to 100; when the quota or the day is too small, VROOM keeps the
        stops of highest total priority.
    label
        Text shown in exports next to the id. Keep personal data out of it.
    """

    id: StopId
    lon: float
    lat: float
    service_s: float = DEFAULT_SERVICE_S
    time_window: TimeWindowSpec = None
    priority: int = 0
    label: str | None = None


@dataclass(frozen=True)
class RouteRequest:
    """Everything a route depends on, checked; `make_request` builds it.

    Attributes
    ----------
    stops
        The stops, with unique ids.
    start, end
        (lon, lat) in WGS84 degrees.
    travel
        The travel model.
    date
        The day of the route.
    work_start_s, work_end_s
        Working hours in seconds since midnight.
    max_visits
        Daily quota, or None for none.
    county
        A polygon in EPSG:4326 that every location must lie in, or None.
    timezone
        IANA name of the time zone the times are in.
    exploration_level
        VROOM's search effort, 1 to 5.
    """

    stops: tuple[Stop, ...]
    start: tuple[float, float]
    end: tuple[float, float]
    travel: TravelModel
    date: dt.date
    work_start_s: int
    work_end_s: int
    max_visits: int | None
    county: Any
    timezone: str
    exploration_level: int


def make_request(
    stops: Sequence[Stop] | pd.DataFrame,
    start: tuple[float, float],
    end: tuple[float, float] | None = None,
    *,
    travel: TravelModel,
    date: dt.date | None = None,
    work_hours: tuple[Any, Any] = DEFAULT_WORK_HOURS,
    max_visits: int | None = DEFAULT_MAX_VISITS,
    county: Any = None,
    timezone: str = DEFAULT_TIMEZONE,
    exploration_level: int = DEFAULT_EXPLORATION,
) -> RouteRequest:
    """Check the inputs of a route; see `plan_route` for the parameters.

    Raises
    ------
    InvalidInput
        When the stops are empty, have duplicate ids,
        a negative service time or a priority outside 0-100; when the start
        or end is not a WGS84 point; when the working hours, quota, time
        zone or exploration level are out of range.
    """
    stop_list = _stop_list(stops)
    work_start_s = _clock_s(work_hours[0], "work_hours start")
    work_end_s = _clock_s(work_hours[1], "work_hours end")
    if work_end_s <= work_start_s:
        raise InvalidInput(
            f"work_hours must end after they start; received {work_hours!r}. "
            "Pass for example ('08:30', '17:30').",
            parameter="work_hours",
        )
    if max_visits is not None and not (_is_int(max_visits) and max_visits >= 1):
        raise InvalidInput(
            f"max_visits must be a whole number of at least 1, or None for no "
            f"quota; received {max_visits!r}.",
            parameter="max_visits",
        )
    if not (_is_int(exploration_level) and 1 <= exploration_level <= 5):
        raise InvalidInput(
            f"exploration_level must be a whole number from 1 to 5; received "
            f"{exploration_level!r}.",
            parameter="exploration_level",
        )
    return RouteRequest(
        stops=tuple(stop_list),
        start=_lonlat(start, "start"),
        end=_lonlat(start if end is None else end, "end"),
        travel=travel,
        date=dt.date.today() if date is None else date,
        work_start_s=work_start_s,
        work_end_s=work_end_s,
        max_visits=max_visits,
        county=county,
        timezone=_timezone(timezone),
        exploration_level=int(exploration_level),
    )


def stops_from_frame(
    frame: pd.DataFrame,
    *,
    id_column: str = "id",
    lon_column: str = "lon",
    lat_column: str = "lat",
    service_column: str = "service_s",
    time_window_column: str = "time_window",
    priority_column: str = "priority",
    label_column: str | None = None,
    default_service_s: float = DEFAULT_SERVICE_S,
) -> list[Stop]:
    """Stops from the rows of a DataFrame, such as households.

    Parameters
    ----------
    frame
        One row per stop. The id, lon and lat columns are required; the
        others are optional and default to `default_service_s`, no time
        window and priority 0. Missing values count as absent.
    id_column, lon_column, lat_column, service_column, time_window_column,
    priority_column, label_column
        Column names.
    default_service_s
        Visit length where the frame gives none.

    Returns
    -------
    list of Stop

    Raises
    ------
    InvalidInput
        When a required column is missing.
    """
    missing = [c for c in (id_column, lon_column, lat_column) if c not in frame]
    if missing:
        raise InvalidInput(
            f"The stops frame lacks the column(s) {missing}; it has "
            f"{list(frame.columns)}. Name them with id_column, lon_column and "
            "lat_column.",
            missing=missing,
        )

    def column(name: str | None, default: Any) -> list[Any]:
        if name is None or name not in frame:
            return [default] * len(frame)
        return [default if _is_missing(v) else v for v in frame[name]]

    return [
        Stop(
            id=_plain(stop_id),
            lon=float(lon),
            lat=float(lat),
            service_s=float(service),
            time_window=window,
            priority=int(priority),
            label=None if label is None else str(label),
        )
        for stop_id, lon, lat, service, window, priority, label in zip(
            frame[id_column],
            column(lon_column, math.nan),
            column(lat_column, math.nan),
            column(service_column, default_service_s),
            column(time_window_column, None),
            column(priority_column, 0),
            column(label_column, None),
            strict=True,
        )
    ]


def time_windows_for(spec: TimeWindowSpec, day: dt.date) -> list[Window]:
    """The time windows of a stop on a day, in seconds since midnight.

    Parameters
    ----------
    spec
        A stop's ``time_window`` (see `Stop`).
    day
        The day of the route.

    Returns
    -------
    list of (int, int)
        Sorted windows; ``[(0, 86400)]`` when `spec` is None or empty, and
        an empty list when the stop is not available on `day` (a
        ``"weekend"`` stop on a weekday, a datetime window on another date).

    Raises
    ------
    InvalidInput
        When `spec` is not understood or a window ends before it starts.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return [(0, DAY_S)]
    if isinstance(spec, str):
        return _token_windows(spec, day)
    pairs: list[Any] = [spec] if _is_pair(spec) else list(spec)
    windows = []
    for pair in pairs:
        if not _is_pair(pair):
            raise InvalidInput(
                f"A time window must be a (start, end) pair or a list of pairs; "
                f"received {pair!r}.",
                received=repr(pair),
            )
        window = _pair_window(pair, day)
        if window is not None:
            windows.append(window)
    return sorted(windows)


def _token_windows(spec: str, day: dt.date) -> list[Window]:
    token = spec.strip().lower()
    token = TIME_WINDOW_ALIASES.get(token, token)
    if token in TIME_WINDOW_TOKENS:
        start_s, end_s, weekdays = TIME_WINDOW_TOKENS[token]
        return [(start_s, end_s)] if day.weekday() in weekdays else []
    match = _RANGE.match(spec)
    if match is None:
        known = ", ".join([*TIME_WINDOW_TOKENS, *TIME_WINDOW_ALIASES])
        raise InvalidInput(
            f"Time window {spec!r} is not understood. Use one of {known}, a "
            "range such as '18:00-21:00', or (start, end) seconds since midnight.",
            received=spec,
        )
    start_s = _clock_s(match.group(1), "time window")
    end_s = _clock_s(match.group(2), "time window")
    return [_checked_window(start_s, end_s, spec)]


def _pair_window(pair: tuple[Any, Any], day: dt.date) -> Window | None:
    # datetimes only count on their own date
    dates = {v.date() for v in pair if isinstance(v, dt.datetime)}
    if dates and dates != {day}:
        return None
    start_s, end_s = (_clock_s(v, "time window") for v in pair)
    return _checked_window(start_s, end_s, pair)


def _checked_window(start_s: int, end_s: int, spec: Any) -> Window:
    if end_s <= start_s:
        raise InvalidInput(
            f"Time window {spec!r} ends before it starts. Give the earlier time "
            "first, for instance ('18:00', '21:00').",
            received=repr(spec),
        )
    return (start_s, end_s)


# --- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Unscheduled:
    """A stop left out of a route, with the reason (one of `REASONS`)."""

    stop_id: StopId
    reason: str
    detail: str


@dataclass(frozen=True)
class Violation:
    """A rule a route breaks: late, not_available, overtime or over_quota."""

    stop_id: StopId | None
    kind: str
    detail: str


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


@dataclass(frozen=True)
class Baseline:
    """The same stops visited in nearest-neighbour order (by travel time)."""

    order: list[StopId]
    travel_s: float
    distance_m: float


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
    _located: _Located = field(repr=False, compare=False)

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


def _at(day: dt.date, timezone: str, seconds: float) -> dt.datetime:
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return midnight + dt.timedelta(seconds=round(float(seconds)))


def _window_text(spec: TimeWindowSpec) -> str:
    return "" if spec is None else str(spec)


# --- the public functions -----------------------------------------------------


def plan_route(
    stops: Sequence[Stop] | pd.DataFrame,
    start: tuple[float, float],
    end: tuple[float, float] | None = None,
    *,
    travel: TravelModel,
    date: dt.date | None = None,
    work_hours: tuple[Any, Any] = DEFAULT_WORK_HOURS,
    max_visits: int | None = DEFAULT_MAX_VISITS,
    county: Any = None,
    timezone: str = DEFAULT_TIMEZONE,
    exploration_level: int = DEFAULT_EXPLORATION,
) -> RoutePlan:
    """Plan a day's visits with VROOM.

    Parameters
    ----------
    stops
        The households to visit: `Stop` objects, or a DataFrame read by
        `stops_from_frame` with its default column names.
    start
        (lon, lat) in WGS84 where the day starts, such as the branch.
    end
        (lon, lat) where it ends; the start when omitted.
    travel
        A `RoadNetwork`, or `StraightLine` when there are no roads.
    date
        The day (for weekend windows and the datetimes); today when omitted.
    work_hours
        Start and end of the working day: ``"HH:MM"``, `datetime.time` or
        seconds since midnight.
    max_visits
        Daily quota; None for none.
    county
        A polygon in EPSG:4326: the start and end must lie in it, and stops
        outside it are not visited.
    timezone
        Time zone of the datetimes.
    exploration_level
        VROOM's search effort, 1 (fast) to 5 (thorough).

    Returns
    -------
    RoutePlan
        The route, and every stop left out with the reason: bad location,
        outside the county, off the road network, no road path, a time window
        that is malformed, not on this day or outside working hours, too far
        to visit within the day, the quota reached, or no room left in the
        day.

    Raises
    ------
    InvalidInput
        For inputs `make_request` rejects, and when the start or end lies
        outside the county or off the road network.
    """
    started = time.perf_counter()
    request = make_request(
        stops,
        start,
        end,
        travel=travel,
        date=date,
        work_hours=work_hours,
        max_visits=max_visits,
        county=county,
        timezone=timezone,
        exploration_level=exploration_level,
    )
    plan = _solve(_locate(request))
    logger.info(
        "Planned route of %d visits (%d unscheduled) on %s: %.1f km, %.0f min of "
        "travel, %.2f of the nearest-neighbour order's travel time, in %.2f s",
        len(plan.stops),
        len(plan.unscheduled),
        plan.date.isoformat(),
        plan.total_distance_m / 1000.0,
        plan.total_travel_s / 60.0,
        plan.travel_ratio,
        time.perf_counter() - started,
    )
    return plan


def retime(
    plan_or_request: RoutePlan | RouteRequest, order: Sequence[StopId]
) -> RoutePlan:
    """Recompute a route's times for an order chosen by hand.

    The order is kept as given: nothing is optimised. Visits start as early
    as their time windows allow; what the order breaks is listed in
    ``violations``: visits after their window (``late``) or on a day they
    are not available (``not_available``), a return after working hours
    (``overtime``) and more visits than the quota (``over_quota``).

    Parameters
    ----------
    plan_or_request
        A plan (its travel matrix is reused) or a request from
        `make_request`.
    order
        Stop ids in visiting order. Stops left out are unscheduled with
        reason ``not_in_order``; stops that cannot be reached at all stay
        unscheduled with their own reason.

    Returns
    -------
    RoutePlan
        With ``optimised`` False.

    Raises
    ------
    InvalidInput
        When `order` names an unknown stop or a stop twice.
    """
    if isinstance(plan_or_request, RoutePlan):
        located = plan_or_request._located
    else:
        located = _locate(plan_or_request)
    positions = _order_positions(located.request, order)
    day = _day(located, located.request.date)

    # stops that cannot be placed keep their reason; the rest left out by hand
    unscheduled = dict(located.unscheduled)
    for p, reason in day.unscheduled.items():
        if reason.reason == BAD_TIME_WINDOW:
            unscheduled[p] = reason
    placed = [p for p in positions if p not in unscheduled]
    chosen = set(positions)
    for p, stop in enumerate(located.request.stops):
        if p not in unscheduled and p not in chosen:
            unscheduled[p] = Unscheduled(
                stop.id, NOT_IN_ORDER, f"Stop {stop.id!r} is not in the order given."
            )
    return _build_plan(located, day, placed, unscheduled, optimised=False)


# --- locations and days ---------------------------------------------------------


@dataclass
class _Located:
    """A request with its travel matrix: 0 is the start, 1 the end."""

    request: RouteRequest
    matrix: TravelMatrix
    index: dict[int, int]
    unscheduled: dict[int, Unscheduled]

    def subset(self, positions: Sequence[int], date: dt.date) -> _Located:
        """The same locations restricted to some stops, on another date."""
        stops = tuple(self.request.stops[p] for p in positions)
        kept = [p for p in positions if p in self.index]
        rows = [0, 1, *(self.index[p] for p in kept)]
        new_position = {p: k for k, p in enumerate(positions)}
        return _Located(
            request=replace(self.request, stops=stops, date=date),
            matrix=self.matrix.take(rows),
            index={new_position[p]: 2 + k for k, p in enumerate(kept)},
            unscheduled={
                new_position[p]: u
                for p, u in self.unscheduled.items()
                if p in new_position
            },
        )


@dataclass
class _Day:
    """Each located stop's windows on one day, and why others cannot go."""

    date: dt.date
    windows: dict[int, list[Window]]
    unscheduled: dict[int, Unscheduled]


def _locate(request: RouteRequest) -> _Located:
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
    return _Located(request, matrix, index, unscheduled)


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


def _day(located: _Located, date: dt.date) -> _Day:
    """Time windows on `date` within working hours, and the stops they exclude."""
    request = located.request
    work = (request.work_start_s, request.work_end_s)
    windows: dict[int, list[Window]] = {}
    unscheduled: dict[int, Unscheduled] = {}
    for p, row in located.index.items():
        if p in located.unscheduled:
            continue
        stop = request.stops[p]
        try:
            raw = time_windows_for(stop.time_window, date)
        except InvalidInput as error:
            unscheduled[p] = Unscheduled(stop.id, BAD_TIME_WINDOW, error.message)
            continue
        windows[p] = raw
        reason = _day_problem(stop, raw, work, date, located.matrix, row)
        if reason is not None:
            unscheduled[p] = reason
    return _Day(date, windows, unscheduled)


def _day_problem(
    stop: Stop,
    raw: list[Window],
    work: Window,
    date: dt.date,
    matrix: TravelMatrix,
    row: int,
) -> Unscheduled | None:
    hours = f"{_clock_text(work[0])}-{_clock_text(work[1])}"
    if not raw:
        return Unscheduled(
            stop.id,
            NOT_AVAILABLE,
            f"Stop {stop.id!r} is not available on {date:%A %Y-%m-%d} (time "
            f"window {_window_text(stop.time_window)!r}).",
        )
    clipped = _clip(raw, work)
    if not clipped:
        return Unscheduled(
            stop.id,
            OUTSIDE_WORKING_HOURS,
            f"Stop {stop.id!r} can only be visited {_windows_text(raw)}, outside "
            f"the working hours {hours}.",
        )

    # alone in the day: leave at the start of work, visit, go to the end
    arrival_s = work[0] + matrix.time_s[0, row]
    begin_s = _service_start(arrival_s, clipped)
    if begin_s is None or begin_s + stop.service_s + matrix.time_s[row, 1] > work[1]:
        return Unscheduled(
            stop.id,
            TOO_FAR,
            f"Stop {stop.id!r} cannot be reached ({matrix.time_s[0, row] / 60:.0f} "
            f"min from the start), visited within {_windows_text(clipped)} and "
            f"left in time to reach the end within the working hours {hours}.",
        )
    return None


def _clip(windows: list[Window], work: Window) -> list[Window]:
    clipped = [(max(s, work[0]), min(e, work[1])) for s, e in windows]
    return [(s, e) for s, e in clipped if s <= e]


def _service_start(arrival_s: float, windows: list[Window]) -> float | None:
    for start_s, end_s in windows:
        if arrival_s <= end_s:
            return max(arrival_s, float(start_s))
    return None


# --- solving -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    position: int
    row: int
    service_s: float
    windows: list[Window]
    priority: int


@dataclass(frozen=True)
class _Vehicle:
    window: Window
    max_tasks: int | None


def _solve(located: _Located) -> RoutePlan:
    """Order a located request's stops with VROOM and build the plan."""
    request = located.request
    day = _day(located, request.date)
    unscheduled = {**located.unscheduled, **day.unscheduled}
    jobs = [
        _Job(
            p,
            row,
            request.stops[p].service_s,
            _clip(day.windows[p], (request.work_start_s, request.work_end_s)),
            request.stops[p].priority,
        )
        for p, row in located.index.items()
        if p not in unscheduled
    ]
    vehicle = _Vehicle((request.work_start_s, request.work_end_s), request.max_visits)
    (route,) = _vroom_routes(located.matrix, jobs, [vehicle], request.exploration_level)

    # stops VROOM left out: the quota, or no room in the day
    in_route = set(route)
    for job in jobs:
        if job.position not in in_route:
            unscheduled[job.position] = _left_out(request, job.position, len(route))
    return _build_plan(located, day, route, unscheduled, optimised=True)


def _vroom_routes(
    matrix: TravelMatrix,
    jobs: Sequence[_Job],
    vehicles: Sequence[_Vehicle],
    exploration_level: int,
    time_limit_s: float | None = None,
) -> list[list[int]]:
    """The positions of the stops each vehicle visits, in order."""
    if not jobs:
        return [[] for _ in vehicles]

    # VROOM works in whole seconds; rounding up keeps its routes feasible
    rows = [0, 1, *(job.row for job in jobs)]
    durations = matrix.time_s[np.ix_(rows, rows)]
    durations = np.where(np.isfinite(durations), np.ceil(durations), _NO_PATH_S)
    problem = vroom.Input()
    problem.set_durations_matrix("car", durations.astype(np.int64))
    for k, vehicle in enumerate(vehicles):
        max_tasks = vehicle.max_tasks if vehicle.max_tasks is not None else len(jobs)
        problem.add_vehicle(
            vroom.Vehicle(
                k,
                start=0,
                end=1,
                time_window=vroom.TimeWindow(*vehicle.window),
                max_tasks=max_tasks,
            )
        )
    problem.add_job(
        [
            vroom.Job(
                k,
                location=2 + k,
                default_service=math.ceil(job.service_s),
                priority=job.priority,
                time_windows=[vroom.TimeWindow(s, e) for s, e in job.windows],
            )
            for k, job in enumerate(jobs)
        ]
    )
    solution = problem.solve(
        exploration_level=exploration_level,
        nb_threads=min(2, os.cpu_count() or 1),
        timeout=None if time_limit_s is None else dt.timedelta(seconds=time_limit_s),
    )

    routes = solution.routes
    visits = routes[routes["type"] == "job"]
    return [
        [jobs[int(k)].position for k in visits.loc[visits["vehicle_id"] == v, "id"]]
        for v in range(len(vehicles))
    ]


def _left_out(request: RouteRequest, position: int, n_visits: int) -> Unscheduled:
    stop_id = request.stops[position].id
    if request.max_visits is not None and n_visits >= request.max_visits:
        return Unscheduled(
            stop_id,
            QUOTA_REACHED,
            f"The daily quota of {request.max_visits} visits is reached; stop "
            f"{stop_id!r} waits for another day.",
        )
    hours = f"{_clock_text(request.work_start_s)}-{_clock_text(request.work_end_s)}"
    return Unscheduled(
        stop_id,
        DAY_FULL,
        f"The working day {hours} has no room for stop {stop_id!r} alongside the "
        f"{n_visits} visits planned (travel, visits and time windows).",
    )


# --- the plan -----------------------------------------------------------------------


def _build_plan(
    located: _Located,
    day: _Day,
    route: Sequence[int],
    unscheduled: dict[int, Unscheduled],
    *,
    optimised: bool,
) -> RoutePlan:
    """Times, legs, line, baseline and violations of stops in a given order."""
    request, matrix = located.request, located.matrix
    rows = [located.index[p] for p in route]
    stops, departure_s, violations = _schedule(located, day, route)

    # the last leg, the totals and the line
    last = rows[-1] if rows else 0
    return_time_s = float(matrix.time_s[last, 1])
    return_distance_m = float(matrix.distance_m[last, 1])
    end_s = (stops[-1].departure_s if stops else departure_s) + return_time_s
    legs = list(zip([0, *rows], [*rows, 1], strict=True))
    moving = [(a, b) for a, b in legs if matrix.distance_m[a, b] > 0.0]
    leg_geometries = matrix.leg_geometries(moving)

    violations += _end_violations(request, end_s, len(route))
    plan = RoutePlan(
        date=day.date,
        timezone=request.timezone,
        travel_model=matrix.model,
        detour_factor=matrix.detour_factor,
        speed_kph=matrix.speed_kph,
        start=request.start,
        end=request.end,
        stops=stops,
        unscheduled=[unscheduled[p] for p in sorted(unscheduled)],
        violations=violations,
        departure_s=departure_s,
        return_s=end_s,
        return_time_s=return_time_s,
        return_distance_m=return_distance_m,
        total_travel_s=float(sum(matrix.time_s[a, b] for a, b in legs)),
        total_distance_m=float(sum(matrix.distance_m[a, b] for a, b in legs)),
        geometry=_joined(leg_geometries),
        leg_geometries=leg_geometries,
        baseline=_nearest_neighbour(located, route),
        optimised=optimised,
        request=request,
        _located=located,
    )
    return plan


def _schedule(
    located: _Located, day: _Day, route: Sequence[int]
) -> tuple[list[PlannedStop], float, list[Violation]]:
    """Earliest times along the route; the start is left as late as waits allow."""
    request, matrix = located.request, located.matrix
    clock_s = float(request.work_start_s)
    previous = 0
    timed = []
    violations = []
    for p in route:
        row = located.index[p]
        stop = request.stops[p]
        arrival_s = clock_s + matrix.time_s[previous, row]
        windows = day.windows.get(p, [])
        begin_s = _service_start(arrival_s, windows)
        late_s = 0.0
        if windows == [(0, DAY_S)]:
            # available all day: a route past midnight is overtime, not late
            begin_s = arrival_s
        elif begin_s is None:
            begin_s = arrival_s
            late_s = arrival_s - windows[-1][1] if windows else 0.0
            violations.append(_window_violation(stop, windows, late_s, day.date))
        timed.append((p, row, previous, arrival_s, begin_s, late_s))
        clock_s = begin_s + stop.service_s
        previous = row

    # leave later instead of waiting at the first visit
    shift_s = timed[0][4] - timed[0][3] if timed else 0.0
    departure_s = request.work_start_s + shift_s
    stops = []
    for k, (p, row, prev, arrival_s, begin_s, late_s) in enumerate(timed):
        if k == 0:
            arrival_s += shift_s
        stop = request.stops[p]
        end_s = begin_s + stop.service_s
        stops.append(
            PlannedStop(
                stop=stop,
                sequence=k + 1,
                arrival_s=float(arrival_s),
                start_s=float(begin_s),
                departure_s=float(end_s),
                arrival=_at(day.date, request.timezone, arrival_s),
                service_start=_at(day.date, request.timezone, begin_s),
                departure=_at(day.date, request.timezone, end_s),
                waiting_s=float(begin_s - arrival_s),
                late_s=float(late_s),
                leg_time_s=float(matrix.time_s[prev, row]),
                leg_distance_m=float(matrix.distance_m[prev, row]),
                access_m=float(matrix.access_m[row]),
            )
        )
    return stops, float(departure_s), violations


def _window_violation(
    stop: Stop, windows: list[Window], late_s: float, date: dt.date
) -> Violation:
    if not windows:
        return Violation(
            stop.id,
            NOT_AVAILABLE,
            f"Stop {stop.id!r} is not available on {date:%A %Y-%m-%d} (time window "
            f"{_window_text(stop.time_window)!r}).",
        )
    return Violation(
        stop.id,
        LATE,
        f"The visit to stop {stop.id!r} starts {late_s / 60:.0f} min after its "
        f"time window {_windows_text(windows)} closes.",
    )


def _end_violations(
    request: RouteRequest, end_s: float, n_visits: int
) -> list[Violation]:
    violations = []
    if end_s > request.work_end_s:
        violations.append(
            Violation(
                None,
                OVERTIME,
                f"The route ends at {_clock_text(end_s)}, "
                f"{(end_s - request.work_end_s) / 60:.0f} min after the working day "
                f"ends at {_clock_text(request.work_end_s)}.",
            )
        )
    if request.max_visits is not None and n_visits > request.max_visits:
        violations.append(
            Violation(
                None,
                OVER_QUOTA,
                f"The route has {n_visits} visits, more than the daily quota of "
                f"{request.max_visits}.",
            )
        )
    return violations


def _nearest_neighbour(located: _Located, route: Sequence[int]) -> Baseline:
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


def _joined(lines: Sequence[shapely.LineString]) -> shapely.LineString | None:
    if not lines:
        return None
    coords = np.concatenate([shapely.get_coordinates(line) for line in lines])
    keep = np.r_[True, np.any(np.diff(coords, axis=0) != 0.0, axis=1)]
    coords = coords[keep]
    return shapely.LineString(coords if len(coords) > 1 else np.vstack([coords] * 2))


# --- small parsers -----------------------------------------------------------------


def _stop_list(stops: Sequence[Stop] | pd.DataFrame) -> list[Stop]:
    stop_list = (
        stops_from_frame(stops) if isinstance(stops, pd.DataFrame) else list(stops)
    )
    if not stop_list:
        raise InvalidInput(
            "stops is empty: there is nothing to visit. Pass at least one stop.",
            parameter="stops",
        )
    for stop in stop_list:
        _check_stop(stop)

    seen: set[StopId] = set()
    duplicates = []
    for stop in stop_list:
        if stop.id in seen:
            duplicates.append(stop.id)
        seen.add(stop.id)
    if duplicates:
        raise InvalidInput(
            f"Stop ids must be unique; {len(duplicates)} repeat, such as "
            f"{duplicates[:5]!r}. Merge the repeated stops or give them their own ids.",
            parameter="stops",
        )
    return stop_list


def _check_stop(stop: Any) -> None:
    if not isinstance(stop, Stop):
        raise InvalidInput(
            f"stops must hold Stop objects (or be a DataFrame); received "
            f"{type(stop).__name__}.",
            parameter="stops",
        )
    if stop.id is None:
        raise InvalidInput("Every stop needs an id; received a stop with id None.")
    if not (math.isfinite(stop.service_s) and stop.service_s >= 0):
        raise InvalidInput(
            f"Stop {stop.id!r} has service_s {stop.service_s!r}; a visit lasts zero "
            "or more seconds.",
            parameter="service_s",
        )
    if not (_is_int(stop.priority) and 0 <= stop.priority <= MAX_PRIORITY):
        raise InvalidInput(
            f"Stop {stop.id!r} has priority {stop.priority!r}; priorities are whole "
            f"numbers from 0 to {MAX_PRIORITY}.",
            parameter="priority",
        )


def _order_positions(request: RouteRequest, order: Sequence[StopId]) -> list[int]:
    position_of = {stop.id: p for p, stop in enumerate(request.stops)}
    unknown = [stop_id for stop_id in order if stop_id not in position_of]
    if unknown:
        raise InvalidInput(
            f"The order names {len(unknown)} stop(s) the route does not have, such "
            f"as {unknown[:5]!r}. Use ids of the route's stops.",
            parameter="order",
        )
    if len(set(order)) != len(order):
        repeated = sorted({str(s) for s in order if list(order).count(s) > 1})
        raise InvalidInput(
            f"The order names stops more than once: {repeated[:5]}. Give each stop "
            "once.",
            parameter="order",
        )
    return [position_of[stop_id] for stop_id in order]


def _lonlat(point: Any, name: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in point)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"The route's {name} must be a (lon, lat) pair in WGS84 degrees; "
            f"received {point!r}.",
            parameter=name,
        ) from None
    if not (
        math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90
    ):
        raise InvalidInput(
            f"The route's {name} must be a (lon, lat) pair in WGS84 degrees; "
            f"received {point!r}, which is out of range.",
            parameter=name,
        )
    return lon, lat


def _clock_s(value: Any, name: str = "time") -> int:
    """Seconds since midnight of ``"HH:MM[:SS]"``, a time, a datetime or a number."""
    if isinstance(value, dt.datetime):
        value = value.time()
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        match = _CLOCK.match(value)
        if match is not None:
            hours, minutes, seconds = (int(g or 0) for g in match.groups())
            if hours <= 24 and minutes < 60 and seconds < 60:
                total = hours * 3600 + minutes * 60 + seconds
                if total <= DAY_S:
                    return total
    elif (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= DAY_S
    ):
        return round(value)
    raise InvalidInput(
        f"The {name} {value!r} is not a time of day. Use 'HH:MM', a datetime.time "
        "or seconds since midnight (0 to 86400).",
        parameter=name,
        received=repr(value),
    )


def _clock_text(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _windows_text(windows: Sequence[Window]) -> str:
    return ", ".join(f"{_clock_text(s)}-{_clock_text(e)}" for s, e in windows)


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            f"Time zone {name!r} is unknown. Use an IANA name such as 'Asia/Shanghai'.",
            parameter="timezone",
        ) from None
    return name


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and not any(isinstance(v, tuple | list) for v in value)
    )


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
    )


def _plain(value: Any) -> Any:
    # numpy scalars become Python ones, so ids print and compare simply
    return value.item() if isinstance(value, np.generic) else value

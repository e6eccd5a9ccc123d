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
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from geogrid.routes.availability import DayWindows as DayWindows
from geogrid.routes.availability import day_windows
from geogrid.routes.baseline import Baseline
from geogrid.routes.locate import Located, locate
from geogrid.routes.plan import PlannedStop, RoutePlan
from geogrid.routes.reasons import (
    BAD_LOCATION,
    BAD_TIME_WINDOW,
    DAY_FULL,
    LATE,
    LOCATION_REASONS,
    NO_ROAD_PATH,
    NOT_AVAILABLE,
    NOT_IN_ORDER,
    OFF_NETWORK,
    OUTSIDE_COUNTY,
    OUTSIDE_WORKING_HOURS,
    OVER_QUOTA,
    OVERTIME,
    QUOTA_REACHED,
    REASONS,
    TOO_FAR,
    Unscheduled,
    Violation,
)
from geogrid.routes.request import (
    DEFAULT_EXPLORATION,
    DEFAULT_MAX_VISITS,
    DEFAULT_SERVICE_S,
    DEFAULT_TIMEZONE,
    DEFAULT_WORK_HOURS,
    MAX_PRIORITY,
    RouteRequest,
    Stop,
    StopId,
    TravelModel,
    _order_positions,
    make_request,
    stops_from_frame,
)
from geogrid.routes.schedule import build_plan
from geogrid.routes.time_windows import (
    ALL_WEEKDAYS,
    DAY_S,
    TIME_WINDOW_ALIASES,
    TIME_WINDOW_TOKENS,
    TimeWindowSpec,
    Window,
    _clip,
    _clock_text,
    time_windows_for,
)
from geogrid.routes.time_windows import _window_text as _window_text
from geogrid.routes.vroom_problem import Job, Vehicle, vroom_routes

# these names were defined here before the module was split by job (request,
# time_windows, reasons, plan ...); they stay importable from here
__all__ = [
    "ALL_WEEKDAYS",
    "BAD_LOCATION",
    "BAD_TIME_WINDOW",
    "DAY_FULL",
    "DAY_S",
    "DEFAULT_EXPLORATION",
    "DEFAULT_MAX_VISITS",
    "DEFAULT_SERVICE_S",
    "DEFAULT_TIMEZONE",
    "DEFAULT_WORK_HOURS",
    "LATE",
    "LOCATION_REASONS",
    "MAX_PRIORITY",
    "NOT_AVAILABLE",
    "NOT_IN_ORDER",
    "NO_ROAD_PATH",
    "OFF_NETWORK",
    "OUTSIDE_COUNTY",
    "OUTSIDE_WORKING_HOURS",
    "OVERTIME",
    "OVER_QUOTA",
    "QUOTA_REACHED",
    "REASONS",
    "TIME_WINDOW_ALIASES",
    "TIME_WINDOW_TOKENS",
    "TOO_FAR",
    "Baseline",
    "PlannedStop",
    "RoutePlan",
    "RouteRequest",
    "Stop",
    "StopId",
    "TimeWindowSpec",
    "TravelModel",
    "Unscheduled",
    "Violation",
    "Window",
    "make_request",
    "plan_route",
    "retime",
    "stops_from_frame",
    "time_windows_for",
]

logger = logging.getLogger(__name__)


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
    plan = _solve(locate(request))
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
        located = locate(plan_or_request)
    positions = _order_positions(located.request, order)
    day = day_windows(located, located.request.date)

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
    return build_plan(located, day, placed, unscheduled, optimised=False)


# --- solving -----------------------------------------------------------------------


def _solve(located: Located) -> RoutePlan:
    """Order a located request's stops with VROOM and build the plan."""
    request = located.request
    day = day_windows(located, request.date)
    unscheduled = {**located.unscheduled, **day.unscheduled}
    jobs = [
        Job(
            p,
            row,
            request.stops[p].service_s,
            _clip(day.windows[p], (request.work_start_s, request.work_end_s)),
            request.stops[p].priority,
        )
        for p, row in located.index.items()
        if p not in unscheduled
    ]
    vehicle = Vehicle((request.work_start_s, request.work_end_s), request.max_visits)
    (route,) = vroom_routes(located.matrix, jobs, [vehicle], request.exploration_level)

    # stops VROOM left out: the quota, or no room in the day
    in_route = set(route)
    for job in jobs:
        if job.position not in in_route:
            unscheduled[job.position] = _left_out(request, job.position, len(route))
    return build_plan(located, day, route, unscheduled, optimised=True)


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

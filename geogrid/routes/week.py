"""A week of visits: a grid's households spread over working days under a quota.

`plan_week` gives VROOM one vehicle per working day, each limited to the
daily quota and to that day's working hours, on one travel matrix of all the
households. VROOM then chooses which households go on which day and in what
order, minimising the week's total travel, which groups each day's visits
into a compact area. Each day is then solved again on its own, and the
shorter of the two orders is kept. Households that fit on no day are listed
with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from geogrid.errors import InvalidInput
from geogrid.routes.solve import (
    DAY_FULL,
    DAY_S,
    DEFAULT_EXPLORATION,
    DEFAULT_MAX_VISITS,
    DEFAULT_TIMEZONE,
    DEFAULT_WORK_HOURS,
    NOT_AVAILABLE,
    OUTSIDE_WORKING_HOURS,
    QUOTA_REACHED,
    TOO_FAR,
    DayWindows,
    Job,
    Located,
    RoutePlan,
    Stop,
    StopId,
    TravelModel,
    Unscheduled,
    Vehicle,
    _clip,
    _solve,
    _window_text,
    build_plan,
    day_windows,
    locate,
    make_request,
    vroom_routes,
)

logger = logging.getLogger(__name__)

MAX_DAYS = 31
# spreading stops over days is a larger search than ordering one day; a
# lighter effort finds as short a week in a fraction of the time
WEEK_EXPLORATION = 2
WEEK_TIME_LIMIT_S = 20.0
# when a stop fits on no day, the reason of the day it came closest on
_REASON_RANK = {NOT_AVAILABLE: 0, OUTSIDE_WORKING_HOURS: 1, TOO_FAR: 2}


@dataclass
class WeekPlan:
    """Routes of several working days and the households left over.

    Attributes
    ----------
    days
        One `RoutePlan` per working day, in date order (a day may be empty).
    unscheduled
        Households on no day, with the reason.
    quota_per_day
        The daily quota.
    travel_model
        ``"road_network"`` or ``"straight_line"``.
    """

    days: list[RoutePlan]
    unscheduled: list[Unscheduled]
    quota_per_day: int
    travel_model: str

    @property
    def dates(self) -> list[dt.date]:
        """The working days."""
        return [day.date for day in self.days]

    @property
    def n_visits(self) -> int:
        """Visits over all days."""
        return sum(len(day.stops) for day in self.days)

    @property
    def total_distance_m(self) -> float:
        """Travel distance over all days."""
        return sum(day.total_distance_m for day in self.days)

    @property
    def total_travel_s(self) -> float:
        """Travel time over all days."""
        return sum(day.total_travel_s for day in self.days)

    def day_of(self, stop_id: StopId) -> dt.date | None:
        """The day a stop is visited, or None."""
        for day in self.days:
            if stop_id in day.stop_ids:
                return day.date
        return None

    def summary(self) -> pd.DataFrame:
        """One row per day: date, visits, distance, travel, departure, return."""
        return pd.DataFrame(
            {
                "date": [day.date for day in self.days],
                "visits": [len(day.stops) for day in self.days],
                "distance_km": [day.total_distance_m / 1000.0 for day in self.days],
                "travel_min": [day.total_travel_s / 60.0 for day in self.days],
                "departure": [day.at(day.departure_s) for day in self.days],
                "return": [day.at(day.return_s) for day in self.days],
                "nearest_neighbour_travel_min": [
                    day.baseline.travel_s / 60.0 for day in self.days
                ],
            }
        )


def working_days(
    first_day: dt.date, days: int, *, weekends: bool = False
) -> list[dt.date]:
    """The first `days` working days from `first_day` on (itself included).

    Parameters
    ----------
    first_day
        The first candidate day.
    days
        How many days, 1 to `MAX_DAYS`.
    weekends
        Count Saturdays and Sundays as working days.

    Returns
    -------
    list of datetime.date
    """
    _check_days(days)
    dates: list[dt.date] = []
    day = first_day
    while len(dates) < days:
        if weekends or day.weekday() < 5:
            dates.append(day)
        day += dt.timedelta(days=1)
    return dates


def plan_week(
    stops: Sequence[Stop] | pd.DataFrame,
    start: tuple[float, float],
    end: tuple[float, float] | None = None,
    *,
    travel: TravelModel,
    first_day: dt.date | None = None,
    days: int = 5,
    quota_per_day: int = DEFAULT_MAX_VISITS,
    dates: Sequence[dt.date] | None = None,
    work_hours: tuple[Any, Any] = DEFAULT_WORK_HOURS,
    county: Any = None,
    timezone: str = DEFAULT_TIMEZONE,
    exploration_level: int = WEEK_EXPLORATION,
    time_limit_s: float | None = WEEK_TIME_LIMIT_S,
) -> WeekPlan:
    """Spread households over working days and plan each day's route.

    Parameters
    ----------
    stops
        The households to visit, as for `plan_route`.
    start, end
        (lon, lat) where every day starts and ends (the end defaults to the
        start).
    travel
        A `RoadNetwork`, or `StraightLine` when there are no roads.
    first_day
        The first day to plan (today when omitted); the plan covers the
        `days` working days (Monday to Friday) from it.
    days
        Number of working days.
    quota_per_day
        Most visits in one day.
    dates
        The exact days to plan, instead of `first_day` and `days`.
    work_hours, county, timezone
        As for `plan_route`.
    exploration_level
        VROOM's effort, 1 to 5, when it spreads the stops over the days;
        each day is then ordered again at the full effort of 5.
    time_limit_s
        Stop spreading the stops after this many seconds, keeping the best
        week found; None for no limit.

    Returns
    -------
    WeekPlan
        A route per day, and households on no day with the reason: those of
        `plan_route`, with ``quota_reached`` when every day is full and
        ``day_full`` when the days that have visits to spare lack the time.

    Raises
    ------
    InvalidInput
        For inputs `plan_route` rejects, and for a number of days or dates
        out of range.
    """
    started = time.perf_counter()
    dates = _dates(first_day, days, dates)
    if not (
        isinstance(quota_per_day, int)
        and not isinstance(quota_per_day, bool)
        and quota_per_day >= 1
    ):
        raise InvalidInput(
            f"quota_per_day must be a whole number of at least 1; received "
            f"{quota_per_day!r}.",
            parameter="quota_per_day",
        )
    if time_limit_s is not None and not (
        isinstance(time_limit_s, int | float) and time_limit_s > 0
    ):
        raise InvalidInput(
            f"time_limit_s must be a positive number of seconds or None; received "
            f"{time_limit_s!r}.",
            parameter="time_limit_s",
        )
    request = make_request(
        stops,
        start,
        end,
        travel=travel,
        date=dates[0],
        work_hours=work_hours,
        max_visits=quota_per_day,
        county=county,
        timezone=timezone,
        exploration_level=exploration_level,
    )
    located = locate(request)
    day_infos = [day_windows(located, day) for day in dates]

    # one vehicle per day on a horizon of consecutive days
    unscheduled = dict(located.unscheduled)
    jobs = _week_jobs(located, day_infos, unscheduled)
    vehicles = [
        Vehicle(
            (k * DAY_S + request.work_start_s, k * DAY_S + request.work_end_s),
            quota_per_day,
        )
        for k in range(len(dates))
    ]
    routes = vroom_routes(
        located.matrix, jobs, vehicles, exploration_level, time_limit_s
    )
    _left_over(request.stops, jobs, routes, quota_per_day, unscheduled)

    # each day solved again on its own; the shorter order wins
    plans = [
        _day_plan(located, route, day) for route, day in zip(routes, dates, strict=True)
    ]
    week = WeekPlan(
        days=plans,
        unscheduled=[unscheduled[p] for p in sorted(unscheduled)],
        quota_per_day=quota_per_day,
        travel_model=located.matrix.model,
    )
    logger.info(
        "Planned %d visits over %d days (%d households left over): %.1f km, "
        "%.0f min of travel, in %.1f s",
        week.n_visits,
        len(dates),
        len(week.unscheduled),
        week.total_distance_m / 1000.0,
        week.total_travel_s / 60.0,
        time.perf_counter() - started,
    )
    return week


def _week_jobs(
    located: Located, day_infos: list[DayWindows], unscheduled: dict[int, Unscheduled]
) -> list[Job]:
    """A VROOM job per household that fits some day, with a window per such day."""
    request = located.request
    work = (request.work_start_s, request.work_end_s)
    jobs = []
    for p, row in located.index.items():
        if p in unscheduled:
            continue
        windows = []
        for k, info in enumerate(day_infos):
            if p in info.unscheduled:
                continue
            clipped = _clip(info.windows[p], work)
            windows += [(k * DAY_S + s, k * DAY_S + e) for s, e in clipped]
        if windows:
            stop = request.stops[p]
            jobs.append(Job(p, row, stop.service_s, windows, stop.priority))
        else:
            unscheduled[p] = _no_day(request.stops[p], day_infos, p)
    return jobs


def _no_day(stop: Stop, day_infos: list[DayWindows], position: int) -> Unscheduled:
    reasons = [info.unscheduled[position] for info in day_infos]
    closest = max(reasons, key=lambda u: _REASON_RANK.get(u.reason, 3))
    if closest.reason == NOT_AVAILABLE:
        first, last = day_infos[0].date, day_infos[-1].date
        return Unscheduled(
            stop.id,
            NOT_AVAILABLE,
            f"Stop {stop.id!r} is available on none of the days {first} to {last} "
            f"(time window {_window_text(stop.time_window)!r}).",
        )
    return closest


def _left_over(
    stops: Sequence[Stop],
    jobs: list[Job],
    routes: list[list[int]],
    quota_per_day: int,
    unscheduled: dict[int, Unscheduled],
) -> None:
    planned = {p for route in routes for p in route}
    all_full = all(len(route) >= quota_per_day for route in routes)
    for job in jobs:
        if job.position in planned:
            continue
        stop_id = stops[job.position].id
        if all_full:
            unscheduled[job.position] = Unscheduled(
                stop_id,
                QUOTA_REACHED,
                f"All {len(routes)} days are planned to their quota of "
                f"{quota_per_day} visits; stop {stop_id!r} waits for a later week.",
            )
        else:
            unscheduled[job.position] = Unscheduled(
                stop_id,
                DAY_FULL,
                f"No day with visits to spare has the time for stop {stop_id!r} "
                "(travel, visits and its time window).",
            )


def _day_plan(
    located: Located,
    route: list[int],
    day: dt.date,
) -> RoutePlan:
    """The better of the week solve's order and a fresh solve of the day."""
    subset = located.subset(route, day)
    subset.request = replace(subset.request, exploration_level=DEFAULT_EXPLORATION)
    resolved = _solve(subset)
    as_planned = build_plan(
        subset, day_windows(subset, day), list(range(len(route))), {}, optimised=True
    )
    if len(resolved.stops) == len(route) and (
        resolved.total_travel_s <= as_planned.total_travel_s
    ):
        return resolved
    return as_planned


def _dates(
    first_day: dt.date | None, days: int, dates: Sequence[dt.date] | None
) -> list[dt.date]:
    if dates is None:
        return working_days(dt.date.today() if first_day is None else first_day, days)
    dates = list(dates)
    _check_days(len(dates))
    if any(not isinstance(d, dt.date) for d in dates) or len(set(dates)) != len(dates):
        raise InvalidInput(
            f"dates must be distinct datetime.date values; received {dates!r}.",
            parameter="dates",
        )
    return sorted(dates)


def _check_days(days: Any) -> None:
    if not (
        isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_DAYS
    ):
        raise InvalidInput(
            f"A plan covers 1 to {MAX_DAYS} days; received {days!r}.",
            parameter="days",
        )

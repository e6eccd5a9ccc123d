"""Times along stops in a given order, the rules the order breaks, and its plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import shapely

from geogrid.routes.availability import DayWindows
from geogrid.routes.baseline import nearest_neighbour
from geogrid.routes.locate import Located
from geogrid.routes.plan import PlannedStop, RoutePlan
from geogrid.routes.reasons import (
    LATE,
    NOT_AVAILABLE,
    OVER_QUOTA,
    OVERTIME,
    Unscheduled,
    Violation,
)
from geogrid.routes.request import RouteRequest, Stop
from geogrid.routes.time_windows import (
    DAY_S,
    Window,
    _at,
    _clock_text,
    _service_start,
    _window_text,
    _windows_text,
)


def build_plan(
    located: Located,
    day: DayWindows,
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
        baseline=nearest_neighbour(located, route),
        optimised=optimised,
        request=request,
        _located=located,
    )
    return plan


def _schedule(
    located: Located, day: DayWindows, route: Sequence[int]
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


def _joined(lines: Sequence[shapely.LineString]) -> shapely.LineString | None:
    if not lines:
        return None
    coords = np.concatenate([shapely.get_coordinates(line) for line in lines])
    keep = np.r_[True, np.any(np.diff(coords, axis=0) != 0.0, axis=1)]
    coords = coords[keep]
    return shapely.LineString(coords if len(coords) > 1 else np.vstack([coords] * 2))

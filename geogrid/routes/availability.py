"""When located stops can be visited on a day: time windows within working hours."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from geogrid.errors import InvalidInput
from geogrid.routes.locate import Located
from geogrid.routes.network import TravelMatrix
from geogrid.routes.reasons import (
    BAD_TIME_WINDOW,
    NOT_AVAILABLE,
    OUTSIDE_WORKING_HOURS,
    TOO_FAR,
    Unscheduled,
)
from geogrid.routes.request import Stop
from geogrid.routes.time_windows import (
    Window,
    _clip,
    _clock_text,
    _service_start,
    _window_text,
    _windows_text,
    time_windows_for,
)


@dataclass
class DayWindows:
    """Each located stop's windows on one day, and why others cannot go."""

    date: dt.date
    windows: dict[int, list[Window]]
    unscheduled: dict[int, Unscheduled]


def day_windows(located: Located, date: dt.date) -> DayWindows:
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
    return DayWindows(date, windows, unscheduled)


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

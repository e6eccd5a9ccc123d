"""What a day's route is asked to do: stops, endpoints, hours and quota, checked."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from geogrid.errors import InvalidInput
from geogrid.routes.network import TravelMatrix
from geogrid.routes.time_windows import TimeWindowSpec, clock_s

StopId = int | str

DEFAULT_SERVICE_S = 1_200
DEFAULT_MAX_VISITS = 12
DEFAULT_WORK_HOURS = ("08:30", "17:30")
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_EXPLORATION = 5
MAX_PRIORITY = 100


class TravelModel(Protocol):
    """What `plan_route` needs of a `RoadNetwork` or `StraightLine`."""

    name: str

    def matrix(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> TravelMatrix:
        """Travel times and distances between points in WGS84 degrees."""
        ...


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
    work_start_s = clock_s(work_hours[0], "work_hours start")
    work_end_s = clock_s(work_hours[1], "work_hours end")
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


def _is_missing(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pd.NA
    )


def _plain(value: Any) -> Any:
    # numpy scalars become Python ones, so ids print and compare simply
    return value.item() if isinstance(value, np.generic) else value

"""Times of day and time windows, in seconds since midnight of a route's date."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from geogrid.errors import InvalidInput

Window = tuple[int, int]
TimeWindowSpec = str | tuple[Any, Any] | Sequence[tuple[Any, Any]] | None

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

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~至到]\s*(\d{1,2}:\d{2})\s*$")


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
    start_s = clock_s(match.group(1), "time window")
    end_s = clock_s(match.group(2), "time window")
    return [_checked_window(start_s, end_s, spec)]


def _pair_window(pair: tuple[Any, Any], day: dt.date) -> Window | None:
    # datetimes only count on their own date
    dates = {v.date() for v in pair if isinstance(v, dt.datetime)}
    if dates and dates != {day}:
        return None
    start_s, end_s = (clock_s(v, "time window") for v in pair)
    return _checked_window(start_s, end_s, pair)


def _checked_window(start_s: int, end_s: int, spec: Any) -> Window:
    if end_s <= start_s:
        raise InvalidInput(
            f"Time window {spec!r} ends before it starts. Give the earlier time "
            "first, for instance ('18:00', '21:00').",
            received=repr(spec),
        )
    return (start_s, end_s)


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and not any(isinstance(v, tuple | list) for v in value)
    )


def _clip(windows: list[Window], work: Window) -> list[Window]:
    clipped = [(max(s, work[0]), min(e, work[1])) for s, e in windows]
    return [(s, e) for s, e in clipped if s <= e]


def _service_start(arrival_s: float, windows: list[Window]) -> float | None:
    for start_s, end_s in windows:
        if arrival_s <= end_s:
            return max(arrival_s, float(start_s))
    return None


def clock_s(value: Any, name: str = "time") -> int:
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


def _window_text(spec: TimeWindowSpec) -> str:
    return "" if spec is None else str(spec)


def _at(day: dt.date, timezone: str, seconds: float) -> dt.datetime:
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone))
    return midnight + dt.timedelta(seconds=round(float(seconds)))

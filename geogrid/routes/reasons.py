"""Why a stop is left out of a route, and what a route ordered by hand breaks."""

from __future__ import annotations

from dataclasses import dataclass

from geogrid.routes.request import StopId

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

"""Visit routes for account managers: road networks, day and week plans, exports.

The routing core does not touch the database: it takes roads as a
GeoDataFrame and stops as `Stop` objects or a DataFrame.
"""

from geogrid.routes.export import to_gpx, to_kml, to_xlsx, write_route
from geogrid.routes.network import (
    KIND_SPEED_KPH,
    RoadNetwork,
    StraightLine,
    TravelMatrix,
    read_osm_roads,
    read_roads,
    roads_frame,
)
from geogrid.routes.solve import (
    REASONS,
    TIME_WINDOW_ALIASES,
    TIME_WINDOW_TOKENS,
    Baseline,
    PlannedStop,
    RoutePlan,
    RouteRequest,
    Stop,
    Unscheduled,
    Violation,
    make_request,
    plan_route,
    retime,
    stops_from_frame,
    time_windows_for,
)
from geogrid.routes.week import WeekPlan, plan_week, working_days

__all__ = [
    "KIND_SPEED_KPH",
    "REASONS",
    "TIME_WINDOW_ALIASES",
    "TIME_WINDOW_TOKENS",
    "Baseline",
    "PlannedStop",
    "RoadNetwork",
    "RoutePlan",
    "RouteRequest",
    "Stop",
    "StraightLine",
    "TravelMatrix",
    "Unscheduled",
    "Violation",
    "WeekPlan",
    "make_request",
    "plan_route",
    "plan_week",
    "read_osm_roads",
    "read_roads",
    "retime",
    "roads_frame",
    "stops_from_frame",
    "time_windows_for",
    "to_gpx",
    "to_kml",
    "to_xlsx",
    "working_days",
    "write_route",
]

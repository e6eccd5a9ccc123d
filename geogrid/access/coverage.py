"""The coverage (blind-spot) report as a user: scope, report and map layers.

Head office sees every branch, a branch head their own branch, a planner
every branch without addresses or staff names; account managers see none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely
from sqlalchemy import Engine, text

from geogrid.access.display import Bbox, bbox_to_wgs84, check_bbox, to_display
from geogrid.access.rules import require_role
from geogrid.auth import BRANCH_HEAD, HEAD_OFFICE, PLANNER, User
from geogrid.errors import InvalidInput

if TYPE_CHECKING:
    from geogrid.coverage import CoverageParameters, CoverageReport

# what the planner's map shows, and the columns each layer carries to the browser
COVERAGE_MAP_LAYERS: dict[str, tuple[str, ...]] = {
    "hexes": (
        "h3",
        "households",
        "customer_households",
        "penetration",
        "cold_spot",
        "grid_code",
        "why",
    ),
    "cold_spots": (
        "h3",
        "households",
        "customer_households",
        "penetration",
        "gi_z",
        "p_value",
        "grid_code",
        "why",
    ),
    "unvisited_villages": (
        "village_code",
        "village_name",
        "households",
        "unvisited_households",
        "unvisited_share",
        "grid_code",
        "manager_username",
    ),
    "leakage_villages": (
        "village_code",
        "village_name",
        "households",
        "leaking_households",
        "deposit_other_share",
        "loan_other_share",
        "grid_code",
        "manager_username",
    ),
    "ungridded_areas": ("gap_id", "area_m2"),
    "ungridded_households": ("household_no", "village_name", "nearest_branch"),
    "blind_spots": (
        "rank",
        "score",
        "blind_spot_reason",
        "village_code",
        "village_name",
        "h3",
        "grid_code",
        "grid_name",
        "manager_username",
        "manager_name",
        "households",
        "uncovered_households",
        "penetration",
        "reference_penetration",
        "penetration_threshold",
        "low_penetration",
        "cold_spot",
        "gi_z",
        "p_value",
        "p_cutoff",
        "gap_households",
        "uncovered_other_yuan",
        "branch_distance_m",
        "why",
    ),
}
# the layers of the downloadable report
COVERAGE_REPORT_LAYERS = (
    "blind_spots",
    "cold_spots",
    "village_cold_spots",
    "villages",
    "grids",
    "unvisited_villages",
    "leakage_villages",
    "ungridded_areas",
    "ungridded_households",
)
# columns no planner receives (customers' addresses; staff names)
_PLANNER_HIDDEN = ("address", "manager_name")


def coverage_scope(user: User) -> dict[str, Any]:
    """``load_inputs`` filter for the user: everything, or the branch head's branch."""
    require_role(
        user, (HEAD_OFFICE, BRANCH_HEAD, PLANNER), "open the blind-spot report"
    )
    if user.role == BRANCH_HEAD:
        return {"branch_id": user.branch_id}
    return {}


def coverage_for(
    engine: Engine, user: User, params: CoverageParameters | None = None
) -> CoverageReport:
    """The coverage report over what the user may see (all, or their branch)."""
    from geogrid.coverage import coverage_report, load_inputs

    scope = coverage_scope(user)
    branch = None
    if "branch_id" in scope:
        with engine.connect() as conn:
            branch = conn.execute(
                text("SELECT code FROM branch WHERE id = :b"), {"b": scope["branch_id"]}
            ).scalar_one()
    inputs = load_inputs(engine, branch=branch)
    return coverage_report(inputs, params)


def coverage_layer(
    report: CoverageReport,
    user: User,
    name: str,
    *,
    bbox: Bbox | None = None,
    crs: str = "wgs84",
    full: bool = False,
) -> gpd.GeoDataFrame:
    """One coverage layer as the user may see it, cut to ``bbox``.

    With ``full`` False only the columns the map shows travel (see
    `COVERAGE_MAP_LAYERS`); planners never get addresses or staff names.
    """
    coverage_scope(user)
    allowed = set(COVERAGE_MAP_LAYERS) | set(COVERAGE_REPORT_LAYERS)
    if name not in allowed:
        raise InvalidInput(
            f"Unknown blind-spot layer {name!r}; choose one of "
            f"{', '.join(sorted(allowed))}.",
            parameter="layer",
        )
    gdf = report.layer(name)
    if not full and name in COVERAGE_MAP_LAYERS:
        keep = [c for c in COVERAGE_MAP_LAYERS[name] if c in gdf.columns]
        gdf = gdf[[*keep, "geometry"]]
    if user.role == PLANNER:
        gdf = gdf.drop(columns=[c for c in _PLANNER_HIDDEN if c in gdf.columns])
    if bbox is not None and len(gdf):
        west, south, east, north = bbox_to_wgs84(check_bbox(bbox), crs)
        gdf = gdf[gdf.intersects(shapely.box(west, south, east, north))]
    return to_display(gpd.GeoDataFrame(gdf, crs=4326), crs)

"""What each user may see and change, and the reads and edits that apply it.

The rules, by role:

- head office sees and changes everything;
- a branch head sees and changes the grids of their branch;
- an account manager sees the second-level grids where they hold the A or B
  post, and changes nothing;
- a planner sees everything, changes nothing, and sees no personal details.

Every function here takes the user: the map reads (grids, villages,
household density, branches) filter inside their query
(``grid_id = ANY(visible grids)``); grid profiles and history, grid edits
(preview and commit), grid design for a branch and the coverage report check
the user's scope before calling the core. No page or API call can forget to.
Objects outside a user's scope are reported as not found, the same as
objects that do not exist, so their existence does not leak.

Personal details: account managers see the names and full phone numbers of
their own customers (they call them); head office and branch heads see names
with phone numbers masked to the last four digits; ID numbers are masked for
everyone; planners see no names, ID or phone numbers at all.

The package, one module per job (all public names are re-exported here):

- ``rules``: which grids and branches a user sees, roles, personal details;
- ``display``: the caller's bounding boxes and coordinate system;
- ``layers``: map layers of the user's grids, home branch and grid, bounds;
- ``grids``: one grid's profile, history and shape, and edits to it;
- ``design``: grid design for a branch, and adopting a proposal;
- ``coverage``: the coverage (blind-spot) report and its layers;
- ``exports``: the audit trail of exports.
"""

from __future__ import annotations

from geogrid.access.coverage import (
    COVERAGE_MAP_LAYERS,
    COVERAGE_REPORT_LAYERS,
    coverage_for,
    coverage_layer,
    coverage_scope,
)
from geogrid.access.design import (
    DesignComparison,
    adopt_design,
    branch_villages,
    check_design_access,
    design_for_branch,
)
from geogrid.access.display import (
    Bbox,
    bbox_to_wgs84,
    check_bbox,
    in_bbox,
    points_in_bbox,
    points_to_display,
    to_display,
)
from geogrid.access.exports import record_export
from geogrid.access.grids import (
    EDIT_OPERATIONS,
    check_seen_versions,
    commit_previewed,
    editable_grid,
    editable_villages,
    grid_history_for,
    grid_profile_for,
    grid_shape,
    may_edit_branch,
    preview_edit,
    preview_for_display,
)
from geogrid.access.layers import (
    branch_list,
    grid_choices,
    grid_layer,
    home_branch,
    home_grid,
    household_density,
    village_layer,
    visible_bounds,
)
from geogrid.access.rules import (
    FULL_PHONE,
    MASKED,
    NO_PEOPLE,
    GridRef,
    branch_in_scope,
    check_can_edit,
    grid_in_scope,
    personal_view,
    require_role,
    scope_key,
    shape_person,
    visible_branch_ids,
    visible_grid_ids,
)

__all__ = [
    "COVERAGE_MAP_LAYERS",
    "COVERAGE_REPORT_LAYERS",
    "EDIT_OPERATIONS",
    "FULL_PHONE",
    "MASKED",
    "NO_PEOPLE",
    "Bbox",
    "DesignComparison",
    "GridRef",
    "adopt_design",
    "bbox_to_wgs84",
    "branch_in_scope",
    "branch_list",
    "branch_villages",
    "check_bbox",
    "check_can_edit",
    "check_design_access",
    "check_seen_versions",
    "commit_previewed",
    "coverage_for",
    "coverage_layer",
    "coverage_scope",
    "design_for_branch",
    "editable_grid",
    "editable_villages",
    "grid_choices",
    "grid_history_for",
    "grid_in_scope",
    "grid_layer",
    "grid_profile_for",
    "grid_shape",
    "home_branch",
    "home_grid",
    "household_density",
    "in_bbox",
    "may_edit_branch",
    "personal_view",
    "points_in_bbox",
    "points_to_display",
    "preview_edit",
    "preview_for_display",
    "record_export",
    "require_role",
    "scope_key",
    "shape_person",
    "to_display",
    "village_layer",
    "visible_bounds",
    "visible_branch_ids",
    "visible_grid_ids",
]

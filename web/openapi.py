"""The OpenAPI 3.1 description of the JSON API, written by hand beside the views.

``tests/test_web_api.py`` checks that every ``/api`` route of the app is
described here with its methods, and nothing else is.
"""

from __future__ import annotations

from typing import Any

from geogrid.nearby import (
    DEFAULT_RADIUS_M,
    MAX_LIMIT,
    MAX_RADIUS_M,
    PRODUCT_CHOICES,
    WEIGHTS,
)
from geogrid.store.models import VISIT_OUTCOMES, VISIT_PURPOSES
from web.params import DISPLAY_CRS

ALL_ROLES = "head office, branch head, account manager, planner"

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_input"]},
                "message": {
                    "type": "string",
                    "description": "A full sentence: the input, the rule it broke, "
                    "what was received and how to fix it.",
                },
            },
            "additionalProperties": True,
        }
    },
}
_GEOJSON = {"type": "object", "description": "A GeoJSON FeatureCollection."}
_BBOX = {
    "name": "bbox",
    "in": "query",
    "description": "west,south,east,north in degrees of `crs`; omitted: everything.",
    "schema": {"type": "string", "examples": ["121.1,28.4,121.3,28.6"]},
}
_CRS = {
    "name": "crs",
    "in": "query",
    "description": "Coordinate system of coordinates sent and returned (GCJ-02 "
    "when drawing over AMap or Tencent tiles).",
    "schema": {"type": "string", "enum": list(DISPLAY_CRS), "default": "wgs84"},
}


def _param(
    name: str,
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = False,
    where: str = "query",
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


def _op(
    summary: str,
    roles: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: dict[str, Any] | None = None,
    ok_type: str = "application/json",
    errors: tuple[int, ...] = (400, 401),
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {ok_type: {"schema": ok or {"type": "object"}}},
        }
    }
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "parameters": params or [],
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_GRID = _param("code", {"type": "string"}, "Grid code, e.g. G01-01.", where="path")
_BRANCH = _param("code", {"type": "string"}, "Branch code, e.g. B01.", where="path")
_K = _param(
    "k", {"type": "integer", "minimum": 1}, "Number of grids (default: as today)."
)
_SEED = _param(
    "seed", {"type": "integer", "minimum": 0, "default": 0}, "Seed of the design."
)
_DAYS = _param(
    "days", {"type": "integer", "default": 180}, "Unvisited after this many days."
)
_RES = _param("resolution", {"type": "integer", "default": 8}, "H3 resolution (5-10).")

_RECORDERS = "head office, branch head (own branch), account manager (own grids)"
_VISIT = {
    "type": "object",
    "required": ["household_id", "purpose", "outcome"],
    "properties": {
        "household_id": {"type": "integer"},
        "purpose": {"enum": list(VISIT_PURPOSES)},
        "outcome": {"enum": list(VISIT_OUTCOMES)},
        "lon": {"type": "number", "description": "The device's longitude."},
        "lat": {"type": "number", "description": "The device's latitude."},
        "accuracy_m": {"type": "number", "minimum": 0, "maximum": 5000},
        "note": {"type": "string", "maxLength": 500},
        "crs": {"enum": list(DISPLAY_CRS), "default": "wgs84"},
    },
}


def _created(operation: dict[str, Any]) -> dict[str, Any]:
    """The operation answering 201 Created instead of 200."""
    operation["responses"]["201"] = operation["responses"].pop("200")
    operation["responses"]["201"]["description"] = "Created"
    return operation


_EDIT = {
    "type": "object",
    "required": ["operation", "grid"],
    "properties": {
        "operation": {"enum": ["move_villages", "replace_polygon", "rollback"]},
        "grid": {"type": "string", "description": "The grid the edit changes."},
        "villages": {"type": "array", "items": {"type": "string"}},
        "polygon": {"description": "GeoJSON Polygon, MultiPolygon or Feature."},
        "version": {"type": "integer", "description": "For rollback."},
        "gap_policy": {"enum": ["give", "refuse"], "default": "give"},
        "crs": {"enum": list(DISPLAY_CRS), "default": "wgs84"},
    },
}
_COMMIT = {
    "allOf": [
        _EDIT,
        {
            "type": "object",
            "required": ["reason", "versions"],
            "properties": {
                "reason": {"type": "string"},
                "versions": {
                    "type": "object",
                    "description": "The preview's `versions`: grid code to version.",
                    "additionalProperties": {"type": "integer"},
                },
            },
        },
    ]
}

_ROUTE_PLAN = {
    "type": "object",
    "properties": {
        "filters": {
            "type": "object",
            "description": "Every field narrows the visit list.",
            "properties": {
                "grids": {"type": "array", "items": {"type": "string"}},
                "status": {"enum": ["customer", "potential", None]},
                "not_visited_days": {"type": "integer", "minimum": 1},
                "lacking_product": {"type": "string"},
                "other_bank": {"type": "boolean"},
                "labels": {"type": "array", "items": {"type": "string"}},
                "campaign": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Household numbers of a campaign list.",
                },
            },
        },
        "start": {
            "description": '"branch" (default) or {"lon", "lat"} in `crs`.',
        },
        "end": {
            "description": 'As `start`: "branch" or {lon, lat}; back to the '
            "start when omitted."
        },
        "date": {"type": "string", "format": "date"},
        "max_visits": {"type": "integer", "default": 12, "maximum": 60},
        "service_min": {"type": "integer", "default": 20},
        "work_hours": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["08:30", "17:30"],
        },
        "candidates": {
            "type": "integer",
            "default": 50,
            "maximum": 200,
            "description": "How many of the list, by priority, the day chooses from.",
        },
        "crs": {"enum": list(DISPLAY_CRS), "default": "wgs84"},
    },
}
_ROUTE_ID = _param("plan_id", {"type": "string"}, "Id of a plan.", where="path")
_PLANNERS_OF_VISITS = (
    "head office, branch head, account manager (within their grids; a plan only "
    "for the user who made it)"
)

_EDITORS = "head office (any branch), branch head (own branch)"
_DESIGNERS = "head office, branch head (own branch), planner"
_COVERAGE = "head office, planner (everything), branch head (own branch)"

PATHS: dict[str, dict[str, Any]] = {
    "/api/health": {"get": _op("Liveness.", "anyone, no log-in", errors=())},
    "/api/openapi.json": {"get": _op("This document.", "anyone, no log-in", errors=())},
    "/api/csrf": {
        "get": _op("A CSRF token for the X-CSRFToken header.", "anyone", errors=())
    },
    "/api/login": {
        "post": _op(
            "Log in; failures are rate-limited (429 with Retry-After).",
            "anyone",
            body={
                "type": "object",
                "required": ["username", "password"],
                "properties": {
                    "username": {"type": "string"},
                    "password": {"type": "string"},
                },
            },
            errors=(400, 401, 429),
        )
    },
    "/api/logout": {"post": _op("End the session.", ALL_ROLES)},
    "/api/me": {
        "get": _op(
            "The logged-in user, their home branch and, for an account manager, "
            "the heart of their main grid (home_grid), where the nearby map "
            "starts.",
            ALL_ROLES,
            params=[_CRS],
        )
    },
    "/api/convert": {
        "get": _op(
            "Convert one point between coordinate systems.",
            ALL_ROLES,
            params=[
                _param("lon", {"type": "number"}, "Longitude.", required=True),
                _param("lat", {"type": "number"}, "Latitude.", required=True),
                _param("from", {"enum": list(DISPLAY_CRS)}, "Source system."),
                _param("to", {"enum": list(DISPLAY_CRS)}, "Target system."),
            ],
        )
    },
    "/api/branches": {
        "get": _op("Branches whose grids the user sees.", ALL_ROLES, params=[_CRS])
    },
    "/api/grids": {
        "get": _op(
            "Grids in view with households and workload ratio to the branch mean.",
            ALL_ROLES + " (account managers: their grids; branch heads: their branch)",
            params=[
                _param(
                    "level", {"enum": [1, 2], "default": 2}, "1: branch jurisdictions."
                ),
                _param(
                    "simplify_m",
                    {"type": "number", "default": 0},
                    "Simplify by metres.",
                ),
                _BBOX,
                _CRS,
            ],
            ok=_GEOJSON,
            ok_type="application/geo+json",
        )
    },
    "/api/grids/{code}": {
        "get": _op(
            "A grid's profile: posts, liaison officers, targets, current figures.",
            ALL_ROLES + "; planners get no names or phone numbers",
            params=[_GRID],
            errors=(401, 404),
        )
    },
    "/api/grids/{code}/shape": {
        "get": _op(
            "A grid's full-resolution shape.",
            ALL_ROLES,
            params=[_GRID, _CRS],
            ok=_GEOJSON,
            ok_type="application/geo+json",
            errors=(401, 404),
        )
    },
    "/api/grids/{code}/history": {
        "get": _op(
            "A grid's versions, newest first.",
            ALL_ROLES,
            params=[_GRID],
            errors=(401, 404),
        )
    },
    "/api/villages": {
        "get": _op(
            "Villages in view inside the user's grids.",
            ALL_ROLES,
            params=[_BBOX, _CRS],
            ok=_GEOJSON,
            ok_type="application/geo+json",
        )
    },
    "/api/density": {
        "get": _op(
            "Households counted on cells, for a heatmap: points [lat, lon, n].",
            ALL_ROLES,
            params=[
                _BBOX,
                _CRS,
                _param(
                    "cell_m",
                    {"type": "number", "default": 200},
                    "Cell size, 10-5000 m.",
                ),
            ],
        )
    },
    "/api/nearby": {
        "get": _op(
            "Weighted heatmap and the nearest households around a point.",
            ALL_ROLES + "; phones in full only for account managers, no personal "
            "details for planners",
            params=[
                _param(
                    "lon", {"type": "number"}, "Longitude of the centre.", required=True
                ),
                _param(
                    "lat", {"type": "number"}, "Latitude of the centre.", required=True
                ),
                _param(
                    "radius_m",
                    {
                        "type": "number",
                        "default": DEFAULT_RADIUS_M,
                        "maximum": MAX_RADIUS_M,
                    },
                    "Radius in metres.",
                ),
                _param(
                    "weight",
                    {"enum": list(WEIGHTS), "default": "households"},
                    "What the heatmap counts.",
                ),
                _param(
                    "product",
                    {"enum": list(PRODUCT_CHOICES)},
                    "For weight=without_product.",
                ),
                _param(
                    "limit",
                    {"type": "integer", "default": 50, "maximum": MAX_LIMIT},
                    "How many nearest.",
                ),
                _CRS,
            ],
        )
    },
    "/api/visits": {
        "post": _created(
            _op(
                "Record a visit made now at a household of the user's grids, with "
                "the device's location; the answer says whether it was on site "
                "(verdict on_site, away, no_location or household_unlocated).",
                _RECORDERS,
                body=_VISIT,
                errors=(400, 401, 403, 404),
            )
        ),
        "get": _op(
            "Visits of the last days in the user's grids, each checked against "
            "the household's location, and a summary per member of staff.",
            ALL_ROLES,
            params=[
                _param(
                    "days",
                    {"type": "integer", "default": 30, "minimum": 1, "maximum": 366},
                    "How many days back.",
                ),
                _param("staff", {"type": "string"}, "Only this user name."),
                _param(
                    "verdict",
                    {"type": "string"},
                    "Only these verdicts, comma-separated (on_site, away, "
                    "no_location, household_unlocated); the summary counts all.",
                ),
                _param(
                    "limit",
                    {"type": "integer", "default": 500, "maximum": 10000},
                    "At most this many visits, newest first.",
                ),
                _CRS,
            ],
        ),
    },
    "/api/households/{household_id}": {
        "get": _op(
            "One household's file; 404 outside the user's grids.",
            ALL_ROLES,
            params=[
                _param(
                    "household_id", {"type": "integer"}, "Household id.", where="path"
                ),
                _CRS,
            ],
            errors=(401, 404),
        )
    },
    "/api/edits/preview": {
        "post": _op(
            "Preview a grid edit: households moving, workloads before and after, gaps.",
            _EDITORS,
            body=_EDIT,
            errors=(400, 401, 403, 404, 422),
        )
    },
    "/api/edits/commit": {
        "post": _op(
            "Save a previewed edit with a reason; 409 when the grids changed since.",
            _EDITORS,
            body=_COMMIT,
            errors=(400, 401, 403, 404, 409, 422),
        )
    },
    "/api/branches/{code}/proposal": {
        "get": _op(
            "A proposal of grids beside today's grids, with figures (read-only).",
            _DESIGNERS,
            params=[_BRANCH, _K, _SEED, _CRS],
            errors=(400, 401, 403, 404),
        )
    },
    "/api/branches/{code}/proposal.geojson": {
        "get": _op(
            "The proposal as a GeoJSON file (audited export).",
            _DESIGNERS,
            params=[_BRANCH, _K, _SEED],
            ok=_GEOJSON,
            ok_type="application/geo+json",
            errors=(400, 401, 403, 404),
        )
    },
    "/api/coverage/summary": {
        "get": _op(
            "Headline counts of the blind-spot report.",
            _COVERAGE,
            params=[_DAYS, _RES],
            errors=(400, 401, 403),
        )
    },
    "/api/coverage/layers/{name}": {
        "get": _op(
            "One blind-spot layer in view.",
            _COVERAGE,
            params=[
                _param(
                    "name",
                    {"type": "string"},
                    "A layer: hexes, cold_spots, unvisited_villages, "
                    "leakage_villages, ungridded_areas, ungridded_households or "
                    "blind_spots.",
                    where="path",
                ),
                _BBOX,
                _CRS,
                _DAYS,
                _RES,
            ],
            ok=_GEOJSON,
            ok_type="application/geo+json",
            errors=(400, 401, 403),
        )
    },
    "/api/coverage/blind-spots": {
        "get": _op(
            "Ranked blind spots with their bounds.",
            _COVERAGE,
            params=[
                _param("limit", {"type": "integer", "default": 50}, "How many."),
                _CRS,
                _DAYS,
                _RES,
            ],
            errors=(400, 401, 403),
        )
    },
    "/api/coverage/report.xlsx": {
        "get": _op(
            "The report as XLSX (audited export).",
            _COVERAGE,
            params=[_DAYS, _RES],
            ok={"type": "string", "format": "binary"},
            ok_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            errors=(400, 401, 403),
        )
    },
    "/api/coverage/report.geojson": {
        "get": _op(
            "One report layer as GeoJSON (audited export).",
            _COVERAGE,
            params=[
                _param(
                    "layer", {"type": "string", "default": "blind_spots"}, "Layer name."
                ),
                _DAYS,
                _RES,
            ],
            ok=_GEOJSON,
            ok_type="application/geo+json",
            errors=(400, 401, 403),
        )
    },
    "/api/branches/{code}/proposal/adopt": {
        "post": _op(
            "Adopt the proposal made with the same k and seed: new versions of "
            "the branch's grids, households reassigned, posts and targets kept "
            "with the grid codes (audited grid edit).",
            _EDITORS,
            params=[_BRANCH],
            body={
                "type": "object",
                "required": ["reason", "versions"],
                "properties": {
                    "k": {"type": ["integer", "null"]},
                    "seed": {"type": "integer", "default": 0},
                    "reason": {"type": "string"},
                    "versions": {
                        "type": "object",
                        "description": "The proposal's `versions`.",
                        "additionalProperties": {"type": "integer"},
                    },
                },
            },
            errors=(400, 401, 403, 404, 409, 422),
        )
    },
    "/api/routes/plan": {
        "post": _op(
            "Plan a day's route through the visit list the filters give: stops "
            "in order with times, the unscheduled with reasons, totals against "
            "nearest-neighbour order, the line along the roads.",
            _PLANNERS_OF_VISITS,
            body=_ROUTE_PLAN,
            errors=(400, 401, 403, 404),
        )
    },
    "/api/routes/week": {
        "post": _op(
            "Spread the visit list over `days` working days (1-6) from `date` "
            "under the daily quota (`max_visits`), each day a compact route; "
            "the households no day takes are listed with the reason.",
            _PLANNERS_OF_VISITS,
            body={
                "allOf": [
                    _ROUTE_PLAN,
                    {
                        "type": "object",
                        "properties": {
                            "days": {"type": "integer", "default": 5, "maximum": 6}
                        },
                    },
                ]
            },
            errors=(400, 401, 403, 404),
        )
    },
    "/api/routes/{plan_id}": {
        "get": _op(
            "A plan made before (kept two hours).",
            _PLANNERS_OF_VISITS,
            params=[_ROUTE_ID, _CRS],
            errors=(400, 401, 404),
        )
    },
    "/api/routes/{plan_id}/order": {
        "post": _op(
            "The plan's visits in an order chosen by hand; times and broken "
            "rules (late, overtime, over quota) recomputed.",
            _PLANNERS_OF_VISITS,
            params=[_ROUTE_ID],
            body={
                "type": "object",
                "required": ["order"],
                "properties": {
                    "order": {"type": "array", "items": {"type": "string"}},
                    "day": {
                        "type": "string",
                        "format": "date",
                        "description": "Which day, for a week's plan.",
                    },
                    "crs": {"enum": list(DISPLAY_CRS), "default": "wgs84"},
                },
            },
            errors=(400, 401, 404),
        )
    },
    "/api/routes/{plan_id}/route.{fmt}": {
        "get": _op(
            "The plan as GPX or KML (navigation apps) or XLSX (audited export).",
            _PLANNERS_OF_VISITS,
            params=[
                _ROUTE_ID,
                _param(
                    "fmt", {"enum": ["gpx", "kml", "xlsx"]}, "File type.", where="path"
                ),
                _param(
                    "crs",
                    {"enum": ["wgs84", "gcj02", "bd09"], "default": "wgs84"},
                    "GCJ-02 for AMap or Tencent, BD-09 for Baidu, WGS84 for GPS.",
                ),
            ],
            ok={"type": "string", "format": "binary"},
            ok_type="application/octet-stream",
            errors=(400, 401, 404),
        )
    },
}

_RESPONSES = {
    f"E{status}": {
        "description": text,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }
    for status, text in {
        400: "Invalid input: the message names the parameter and the rule.",
        401: "Not logged in, or the session expired.",
        403: "The role may not do this.",
        404: "Not found, or outside the user's grids.",
        409: "Someone changed the grids since the preview.",
        422: "The edit would break a grid rule (gap, overlap).",
        429: "Too many failed log-ins; see Retry-After.",
    }.items()
}


def document() -> dict[str, Any]:
    """The OpenAPI document served at /api/openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "geogrid viewer API",
            "version": "1",
            "description": "Grids, households and blind spots of a county bank. "
            "Log in with POST /api/login (or the /login page); the session cookie "
            "carries the user. POST requests need the X-CSRFToken header. Every "
            "error has the shape of the Error schema.",
        },
        "paths": PATHS,
        "components": {"schemas": {"Error": _ERROR}, "responses": _RESPONSES},
    }
